#!/usr/bin/python3
"""A configuration file that names no cluster lock and no node key runs the node like the
embedded default (issue 10): the key and a one-operator lock are created under the data dir at the
first start and reused afterwards; -n says so and creates nothing. Before, a file with only
[supervisor] keys made the node exit 78 on a missing lock."""
from harness import *

d = tempdir()
try:
    conf = os.path.join(d, "aequa.conf")
    with open(conf, "w") as f:
        f.write("[supervisor]\nheartbeat_ms = 500\n")
    data = os.path.join(d, "data")
    lock = os.path.join(data, "cluster-lock.json")
    key = os.path.join(data, "node.key")
    flags = ["--config", conf, "--data-dir", data, "--runtime-dir", os.path.join(d, "run")]

    r = subprocess.run([SUPERVISOR, "-n"] + flags, capture_output=True, timeout=30)
    out = r.stdout.decode()
    check(r.returncode == 0, "-n accepts the file (exit %d: %s)" % (r.returncode, r.stderr))
    check("# single-node default" in out and lock in out and key in out and
          "not there yet: created at the first start" in out, "-n says where the key and lock will be:\n" + out)
    check("heartbeat_ms = 500" in out, "-n prints the file's key")
    check(not os.path.exists(lock) and not os.path.exists(key), "-n creates nothing")

    with Node(config_path=conf, extra_args=flags[2:]) as n:
        n.start()
        n.wait_ready()
        check(os.path.exists(lock) and os.stat(key).st_mode & 0o777 == 0o600,
              "the first start created the lock and a 0600 key in the data dir")
        doc = json.load(open(lock))
        check(len(doc["operators"]) == 1 and doc["threshold"] == 1, "a one-operator lock")
        check(n.status()["node"]["peer_id"] == doc["operators"][0]["peer_id"],
              "the node runs as that lock's operator")
        body = json.dumps({"type": "attester", "height": 7, "payload": {"slot": 7}})
        code, _, _ = request(n.api, "POST", "/v1/duty", body)
        check(code == 202, "a duty is accepted (%d)" % code)
        def decided():
            code, body, _ = request(n.api, "GET", "/v1/duty/attester/7")
            doc = json.loads(body) if code == 200 else {}
            return doc if doc.get("status") == "decided" else None

        got = wait_for(decided, "the duty decided")
        check(len(got["seals"]) == 1, "and decided and sealed by the single node")
        first = open(lock, "rb").read()

    r = subprocess.run([SUPERVISOR, "-n"] + flags, capture_output=True, timeout=30)
    check(r.returncode == 0 and "there: reused" in r.stdout.decode(),
          "-n checks the existing lock and key")
    with Node(config_path=conf, extra_args=flags[2:]) as n:
        n.start()
        n.wait_ready()
        check(open(lock, "rb").read() == first, "a second start reuses the same lock")
        check('"lock_file":"reused"' in n.log_text(), "and says so in its log")
finally:
    shutil.rmtree(d, ignore_errors=True)
