#!/usr/bin/python3
"""Pessimistic recovery on a real node (issues 3 and 6, SPEC §7.5, §8): a damaged database is
moved aside, the newest checkpoint restored, state_recovery_total{result="fallback"} counted, and
QBFT abstains from instances that may predate the loss; with no usable checkpoint the node refuses
to start (exit 78) with a message naming what is damaged."""
import glob
import subprocess

from harness import *

conf = "[statedb]\ncheckpoint_interval_s = 0\ncheckpoints_keep = 2\n"


def post(n, h, payload):
    body = json.dumps({"type": "attester", "height": h, "payload": payload}).encode()
    return request(n.api, "POST", "/v1/duty", body=body)[0]


def state(n, h):
    code, body, _ = request(n.api, "GET", "/v1/duty/attester/%d" % h)
    return json.loads(body)["status"] if code == 200 else code


with Node(config_text=conf) as n:
    db = os.path.join(n.dir, "cluster", "node0", "data", "db")
    n.start()
    n.wait_ready()
    for h in range(1, 6):
        check(post(n, h, {"h": h}) == 202, "duty %d accepted" % h)
    wait_for(lambda: all(state(n, h) == "decided" for h in range(1, 6)), "decided")
    n.proc.send_signal(signal.SIGTERM)
    check(n.wait_exit() == 0, "clean stop (takes a checkpoint)")
    check(len(glob.glob(db + "/rocksdb.checkpoints/*")) >= 1, "a checkpoint exists")

    # More work after the checkpoint, then a crash and damage: the MANIFEST cut in half.
    n.start()
    n.wait_ready()
    for h in range(6, 9):
        check(post(n, h, {"h": h}) == 202, "duty %d accepted after the checkpoint" % h)
    wait_for(lambda: all(state(n, h) == "decided" for h in range(6, 9)), "decided")
    n.proc.kill()
    n.proc.wait()
    wait_for(lambda: not subprocess.run(["pgrep", "-f", n.dir + "/"], capture_output=True)
             .stdout, "every worker of the killed node gone")
    manifest = sorted(glob.glob(db + "/rocksdb/MANIFEST-*"))[-1]
    size = os.path.getsize(manifest)
    with open(manifest, "r+b") as f:
        f.truncate(size // 2)

    n.start()
    n.wait_ready()
    m = n.metrics()
    check(metric(m, "state_recovery_total", result="fallback") == 1,
          "state_recovery_total{result=\"fallback\"} counted")
    check(glob.glob(db + "/rocksdb.corrupt-*"), "the damaged database was moved aside, not deleted")
    check(state(n, 3) == "decided", "what the checkpoint held is back (attester/3 decided)")
    # QBFT abstains from instances at heights the node may have reached before the loss: in a
    # one-operator cluster nothing can decide without this node's vote.
    check(post(n, 20, {"h": 20}) == 202, "a new duty is still accepted and persisted")
    wait_for(lambda: (metric(n.metrics(), "qbft_abstain_total", reason="recovery") or 0) > 0,
             "qbft_abstain_total{reason=\"recovery\"} counted")
    check(state(n, 20) == "pending", "the node abstains instead of voting (attester/20 pending)")
    check('"event":"statedb_fallback"' in n.log_text(), "QBFT logged the fallback it was told of")
    n.proc.send_signal(signal.SIGTERM)
    check(n.wait_exit() == 0, "clean stop")

    # No usable checkpoint: refuse to start, name the damage, exit 78.
    for cp in glob.glob(db + "/rocksdb.checkpoints/*"):
        shutil.rmtree(cp)
    manifest = sorted(glob.glob(db + "/rocksdb/MANIFEST-*"))[-1]
    with open(manifest, "r+b") as f:
        f.truncate(os.path.getsize(manifest) // 2)
    n.start()
    check(n.wait_exit(timeout=60) == 78, "no usable checkpoint: the node exits 78")
    log = n.log_text()
    err = [l for l in log.splitlines() if '"msg":"statedb_open"' in l and '"result":"fail"' in l]
    check(err and "MANIFEST" in err[-1], "the error names what is damaged: " +
          (err[-1][:200] if err else "none"))
