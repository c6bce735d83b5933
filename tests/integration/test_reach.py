#!/usr/bin/python3
"""Run as root, the supervisor checks before it spawns anything that every worker's user can
reach the directories it uses after dropping privileges (issue 10). A data dir under a directory
the workers' user cannot traverse, or a per-worker user outside the runtime dir's group, stops the
node with exit 78 and one line naming the directory and the user; before, every worker exited on
"mailbox_open: Permission denied" and was restarted forever."""
from harness import *

if not is_root():
    print("SKIP: the workers drop privileges only when the supervisor runs as root")
    sys.exit(SKIP)


def config_errors(log):
    return [l for l in log.splitlines() if '"msg":"config_error"' in l]


# A 0700 directory of root's, as mktemp -d makes it: user 'aequa' cannot traverse it.
outer = tempfile.mkdtemp(prefix="aequa-reach-")
try:
    check(os.stat(outer).st_mode & 0o777 == 0o700, "mkdtemp made a 0700 directory")
    data = os.path.join(outer, "data")
    with Node(extra_args=["--data-dir", data]) as n:
        n.start()
        code = n.wait_exit(60)
        log = n.log_text()
        errs = config_errors(log)
        check(code == 78, "unreachable data dir: exit 78 (got %s)" % code)
        check(len(errs) == 1 and outer + " " in errs[0] and "user 'aequa'" in errs[0] and
              "no search permission" in errs[0],
              "one line names the directory and the user: %s" % errs)
        check("worker_spawn" not in log, "no worker was spawned")

    r = subprocess.run([SUPERVISOR, "-n", "--data-dir", os.path.join(outer, "other")],
                       capture_output=True, timeout=30)
    err = r.stderr.decode()
    check(r.returncode == 78 and outer + " " in err and "user 'aequa'" in err,
          "-n finds it too: " + err)

    # Traversable (search only, as for /root-like homes opened up with o+x): the node starts.
    os.chmod(outer, 0o711)
    with Node(extra_args=["--data-dir", data]) as n:
        n.start()
        n.wait_ready()
        check(True, "the same data dir works once its parent is traversable")
finally:
    shutil.rmtree(outer, ignore_errors=True)

# A per-worker user that is not in the workers' group cannot use the runtime dir (0770,
# root:aequa).
with Node(config_text="[supervisor]\nuser_api = nobody\n") as n:
    n.start()
    code = n.wait_exit(60)
    log = n.log_text()
    errs = config_errors(log)
    rundir = os.path.join(n.dir, "cluster", "node0", "run")
    check(code == 78, "api as 'nobody': exit 78 (got %s)" % code)
    check(len(errs) == 1 and "user 'nobody' of the api worker" in errs[0] and
          "no write and search permission on " + rundir in errs[0],
          "one line names the runtime dir, the worker and the user: %s" % errs)
    check("worker_spawn" not in log, "no worker was spawned")

# A user that does not exist is named too (it made privdrop fail at every restart).
with Node(config_text="[supervisor]\nuser_builder = no-such-user-aequa\n") as n:
    n.start()
    code = n.wait_exit(60)
    errs = config_errors(n.log_text())
    check(code == 78 and len(errs) == 1 and "no-such-user-aequa" in errs[0] and
          "builder" in errs[0], "a missing user: exit 78 naming it: %s" % errs)

# The same check guards a reload: a new configuration whose users cannot reach the directories
# is refused as a whole, and the running workers stay.
with Node(config_text="[qbft]\nround_timeout_ms = 1000\n") as n:
    n.start()
    n.wait_ready()
    pid = n.workers()["api"]["pid"]
    with open(n.config_path, "a") as f:
        f.write("[supervisor]\nuser_api = nobody\n")
    n.proc.send_signal(signal.SIGHUP)
    line = wait_for(lambda: [l for l in n.log_text().splitlines() if '"reload_failed"' in l],
                    "the reload refused")
    check("user 'nobody' of the api worker" in line[0], "it names the user: %s" % line[0])
    check(n.workers()["api"]["pid"] == pid and n.ready(), "the api worker was not restarted")
