#!/usr/bin/python3
"""Threshold-signing keys (issue 12, SPEC §5 and §10): `aequactl cluster create --tss` deals the
keys; with TSS on (--enable-tss or [tss] enabled) the supervisor's precheck refuses, with exit 78
naming the field and the file before any worker starts, a lock without a tss object and a
tss.key that is not this node's share; `aequactl cluster verify --tss-key` says the same. With
TSS off the tss.key is not read."""
import itertools
import re
import subprocess

from harness import *

# Point arithmetic with the standard library's integers, independent of lib/frost.c.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit"))
import frost_verify as ec  # noqa: E402


def point_hex(k):
    x, y = ec.mul(k, ec.G)
    return (bytes([2 + (y & 1)]) + x.to_bytes(32, "big")).hex()


def interpolate_at_0(points):
    """Shamir: the polynomial's value at 0 from {identifier: share} (scalars mod N)."""
    s = 0
    for i, y in points.items():
        lam = 1
        for j in points:
            if j != i:
                lam = lam * j * pow(j - i, -1, ec.N) % ec.N
        s = (s + y * lam) % ec.N
    return s


def run(args, **kw):
    r = subprocess.run(args, capture_output=True, timeout=60, **kw)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def supervisor(conf, *flags):
    return run([SUPERVISOR, "--config", conf] + list(flags), cwd=os.path.dirname(conf))


d = tempdir()
try:
    # A 4-node cluster with threshold keys.
    c = os.path.join(d, "c")
    rc, out, err = run([AEQUACTL, "cluster", "create", "--nodes", "4", "--out", c, "--tss",
                        "--base-port", str(free_port())])
    check(rc == 0 and "tss: FROST(secp256k1, SHA-256), 3 of 4, group_pubkey " in out,
          "cluster create --tss deals 3-of-4 keys: " + out + err)
    lock_path = os.path.join(c, "cluster-lock.json")
    lock = json.load(open(lock_path))
    check(sorted(lock["tss"]) == ["group_pubkey", "scheme", "verification_shares"] and
          len(lock["tss"]["verification_shares"]) == 4, "the lock has a tss object, 4 shares")
    node = [os.path.join(c, "node%d" % i) for i in range(4)]
    for i in range(4):
        st = os.stat(os.path.join(node[i], "tss.key"))
        check(st.st_mode & 0o777 == 0o600, "node%d/tss.key is 0600" % i)
        conf = open(os.path.join(node[i], "aequa.conf")).read()
        check("\n[tss]\n" in conf and "\nkey = %s/tss.key\n" % node[i] in conf and
              not re.search(r"^\s*enabled", conf, re.M),
              "node%d's aequa.conf names its tss.key and leaves TSS off" % i)

    # Checked independently: share i times G is verification_shares[i] (FROST identifier i + 1),
    # any 3 shares interpolate to the group secret, 2 do not.
    tss = lock["tss"]
    shares = {i + 1: int(open(node[i] + "/tss.key").read().strip(), 16) for i in range(4)}
    check(all(point_hex(shares[i + 1]) == tss["verification_shares"][i] for i in range(4)),
          "every tss.key's public point is its verification share")
    check(all(point_hex(interpolate_at_0({i: shares[i] for i in ids})) == tss["group_pubkey"]
              for ids in itertools.combinations(range(1, 5), 3)),
          "any 3 of the 4 shares make the group secret of group_pubkey")
    check(point_hex(interpolate_at_0({1: shares[1], 2: shares[2]})) != tss["group_pubkey"],
          "2 shares do not")

    rc, out, err = run([AEQUACTL, "cluster", "verify", lock_path, "--key",
                        node[1] + "/node.key", "--tss-key", node[1] + "/tss.key"])
    check(rc == 0 and "tss.verification_shares[1]" in out, "verify --tss-key: node 1's share")

    conf1 = os.path.join(node[1], "aequa.conf")
    rc, out, err = supervisor(conf1, "-n", "--enable-tss")
    check(rc == 0 and "enabled = true\nkey = %s/tss.key" % node[1] in out,
          "-n --enable-tss: the precheck passes and [tss] is printed: " + err)

    # Swapped keys: node 1 holds node 2's share.
    good_share = open(node[1] + "/tss.key").read()
    shutil.copy(node[2] + "/tss.key", node[1] + "/tss.key")
    tss1 = node[1] + "/tss.key"
    rc, out, err = supervisor(conf1, "--enable-tss")
    check(rc == 78 and "tss.verification_shares[1]: does not match this node's tss key (which "
          "is tss.verification_shares[2]" in err and tss1 in err and "worker_spawn" not in err,
          "--enable-tss with a swapped tss.key: exit 78 naming the field and the file, no "
          "worker started: " + err)
    with open(conf1, "a") as f:
        f.write("enabled = true\n")  # the [tss] section is the file's last
    rc, out, err = supervisor(conf1)
    check(rc == 78 and "tss.verification_shares[1]" in err and tss1 in err,
          "[tss] enabled = true does the same")
    rc, out, err = run([AEQUACTL, "cluster", "verify", lock_path, "--key",
                        node[1] + "/node.key", "--tss-key", tss1])
    check(rc == 78 and "tss.verification_shares[1]: does not match" in err and tss1 in err,
          "cluster verify --tss-key with the swapped key: exit 78 naming the field and file: " +
          err)

    # A corrupted tss.key.
    with open(tss1, "w") as f:
        f.write("zz" + good_share[2:])
    rc, out, err = supervisor(conf1)
    check(rc == 78 and ("tss key %s: expected 64 hex characters" % tss1) in err and
          "worker_spawn" not in err, "a corrupted tss.key: exit 78 naming the file: " + err)
    rc, out, err = run([AEQUACTL, "cluster", "verify", lock_path, "--tss-key", tss1])
    check(rc == 78 and tss1 in err, "cluster verify --tss-key with it: exit 78: " + err)

    # TSS off: the key is not read.
    with open(conf1) as f:
        text = f.read()
    with open(conf1, "w") as f:
        f.write(text.replace("enabled = true\n", ""))
    rc, out, err = supervisor(conf1, "-n")
    check(rc == 0 and "enabled = false" in out, "TSS off: a corrupted tss.key is not read")

    # A lock without a tss object cannot run TSS.
    p = os.path.join(d, "plain")
    run([AEQUACTL, "cluster", "create", "--nodes", "1", "--out", p, "--base-port",
         str(free_port())])
    rc, out, err = supervisor(os.path.join(p, "node0", "aequa.conf"), "--enable-tss")
    check(rc == 78 and "tss: --enable-tss needs a lock with a tss object (aequactl cluster "
          "create --tss)" in err and "worker_spawn" not in err,
          "--enable-tss on a lock without tss: exit 78: " + err)
    rc, out, err = run([AEQUACTL, "cluster", "verify", os.path.join(p, "cluster-lock.json"),
                        "--tss-key", node[0] + "/tss.key"])
    check(rc == 78 and "tss: --tss-key needs a lock with a tss object" in err,
          "cluster verify --tss-key on a lock without tss: exit 78")

    # A one-node cluster with keys starts with --enable-tss and becomes ready; a reload whose
    # tss.key fails the precheck is refused (the node keeps running), a good one is applied.
    one = os.path.join(d, "one")
    rc, out, err = run([AEQUACTL, "cluster", "create", "--nodes", "1", "--out", one, "--tss",
                        "--base-port", str(free_port())])
    check(rc == 0, "cluster create --nodes 1 --tss: " + err)
    tss0 = os.path.join(one, "node0", "tss.key")
    share = open(tss0).read()
    n = Node(config_path=os.path.join(one, "node0", "aequa.conf"), extra_args=["--enable-tss"],
             workdir=tempdir())
    with n:
        n.start()
        n.wait_ready()
        check("config_error" not in n.log_text(), "a node with its own share starts with TSS on")
        with open(tss0, "w") as f:
            f.write("0" * 64 + "\n")
        n.proc.send_signal(signal.SIGHUP)
        line = wait_for(lambda: [l for l in n.log_text().splitlines() if '"reload_failed"' in l],
                        "the reload refused")[0]
        check(("tss key %s: not a valid secp256k1 scalar" % tss0) in line,
              "a reload with a zero tss.key is refused, naming the file: " + line)
        check(n.ready() and '"msg":"reloaded"' not in n.log_text(),
              "the node runs on, not reloaded")
        with open(tss0, "w") as f:
            f.write(share)
        n.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: '"msg":"reloaded"' in n.log_text(),
                 "the reload with the share restored")

    # The single-node default deals itself 1-of-1 keys with its lock, so TSS works there too.
    single = os.path.join(d, "single")
    os.mkdir(single)
    conf = os.path.join(single, "aequa.conf")
    with open(conf, "w") as f:
        f.write("[supervisor]\nheartbeat_ms = 500\n")
    data = os.path.join(single, "data")
    with Node(config_path=conf, extra_args=["--data-dir", data, "--runtime-dir",
                                            os.path.join(single, "run"), "--enable-tss"],
              workdir=tempdir()) as n:
        n.start()
        n.wait_ready()
        lock = json.load(open(os.path.join(data, "cluster-lock.json")))
        check(lock["tss"]["verification_shares"] == [lock["tss"]["group_pubkey"]] and
              os.stat(os.path.join(data, "tss.key")).st_mode & 0o777 == 0o600,
              "a single-node lock with a 1-of-1 tss object and a 0600 tss.key")
    rc, out, err = run([AEQUACTL, "cluster", "verify", os.path.join(data, "cluster-lock.json"),
                        "--key", os.path.join(data, "node.key"), "--tss-key",
                        os.path.join(data, "tss.key")])
    check(rc == 0, "cluster verify accepts its keys: " + err)
finally:
    shutil.rmtree(d, ignore_errors=True)
