#!/usr/bin/python3
"""Configuration errors are permanent: an unknown key exits 78 naming file, line and key before
any worker starts; a worker exiting 78 makes the supervisor stop everything and exit 78."""
import subprocess

from harness import *

d = tempdir()
try:
    conf = os.path.join(d, "bad.conf")
    with open(conf, "w") as f:
        f.write("[api]\nlisten = 127.0.0.1:1\n[qbft]\nround_timeout_ms = 100\nbogus_key = 1\n")
    r = subprocess.run([SUPERVISOR, "--config", conf], capture_output=True, cwd=d, timeout=30)
    err = r.stderr.decode()
    check(r.returncode == 78, "unknown key: exit 78 (got %d)" % r.returncode)
    check("bogus_key" in err and conf + ":5" in err, "the error names file, line and key: " + err)
    check("worker_spawn" not in err, "no worker was started")

    # An unknown section is refused even with no key in it (issue 10), naming its line.
    empty = os.path.join(d, "empty-section.conf")
    with open(empty, "w") as f:
        f.write("[api]\nlisten = 127.0.0.1:1\n\n[bogus]\n")
    r = subprocess.run([SUPERVISOR, "--config", empty], capture_output=True, cwd=d, timeout=30)
    err = r.stderr.decode()
    check(r.returncode == 78 and empty + ":4: unknown section [bogus]" in err,
          "an empty unknown section: exit 78 naming file, line and section: " + err)
    check("worker_spawn" not in err, "no worker was started")

    r = subprocess.run([SUPERVISOR, "--bogus-flag"], capture_output=True, cwd=d, timeout=30)
    check(r.returncode == 78 and b"--bogus-flag" in r.stderr, "unknown flag: exit 78, named")

    r = subprocess.run([SUPERVISOR, "-n", "--config", conf.replace("bad", "missing")],
                       capture_output=True, cwd=d, timeout=30)
    check(r.returncode == 78 and b"missing.conf" in r.stderr, "missing config file: exit 78")

    nolock = os.path.join(d, "nolock.conf")
    with open(nolock, "w") as f:
        f.write("[node]\nlock = %s/none.json\nkey = %s/none.key\n" % (d, d))
    r = subprocess.run([SUPERVISOR, "-n", "--config", nolock], capture_output=True, cwd=d,
                       timeout=30)
    check(r.returncode == 78 and b"none.json" in r.stderr, "-n with a missing lock: exit 78")

    subprocess.run([AEQUACTL, "cluster", "create", "--nodes", "1", "--out", d + "/c"],
                   check=True, stdout=subprocess.DEVNULL)
    good = os.path.join(d, "good.conf")
    with open(d + "/c/node0/aequa.conf") as src, open(good, "w") as f:
        f.write(src.read() + "[qbft]\nround_timeout_ms = 250\n")
    r = subprocess.run([SUPERVISOR, "-n", "--config", good], capture_output=True, cwd=d,
                       timeout=30)
    out = r.stdout.decode()
    check(r.returncode == 0 and "round_timeout_ms = 250" in out and "[statedb]" in out,
          "-n checks the lock, prints the effective configuration and exits 0")

    # Precheck (SPEC §5): a lock that no longer matches its hash, or a key outside the lock,
    # stops the node before any worker starts.
    lock = json.load(open(d + "/c/cluster-lock.json"))
    lock["name"] = "tampered"
    with open(d + "/c/cluster-lock.json", "w") as f:
        json.dump(lock, f)
    r = subprocess.run([SUPERVISOR, "--config", good], capture_output=True, cwd=d, timeout=30)
    err = r.stderr.decode()
    check(r.returncode == 78 and "lock_hash" in err and "worker_spawn" not in err,
          "a tampered lock: exit 78 naming lock_hash, no worker started")
    subprocess.run([AEQUACTL, "cluster", "create", "--nodes", "1", "--out", d + "/c2"],
                   check=True, stdout=subprocess.DEVNULL)
    shutil.copy(d + "/c2/cluster-lock.json", d + "/c/cluster-lock.json")
    r = subprocess.run([SUPERVISOR, "--config", good], capture_output=True, cwd=d, timeout=30)
    err = r.stderr.decode()
    check(r.returncode == 78 and "pubkey" in err and "worker_spawn" not in err,
          "a node key outside the lock: exit 78 naming the pubkey")
finally:
    shutil.rmtree(d, ignore_errors=True)

# A worker that exits 78: the config becomes invalid after start, then the worker restarts.
with Node(config_text="[qbft]\nround_timeout_ms = 1000\n") as n:
    n.start()
    n.wait_ready()
    with open(n.config_path, "a") as f:
        f.write("not_a_key = 1\n")
    os.kill(n.workers()["qbft"]["pid"], signal.SIGKILL)
    check(n.wait_exit() == 78, "a worker exiting 78 makes the supervisor exit 78")
    log = n.log_text()
    check('"action":"permanent"' in log and "not_a_key" in log,
          "the death is logged as permanent with the config error")
    check(log.count('"child":"qbft","child_pid"') >= 1 and
          log.count('"msg":"worker_spawn","worker":"supervisor","pid":%d,"child":"qbft"'
                    % n.proc.pid) == 2, "qbft was not restarted after exit 78")
