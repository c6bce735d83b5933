#!/usr/bin/python3
"""Issue 16 on a 4-node devnet: StateDB's retention ([statedb] retention = 20 heights, a prune
pass every second) deletes the decided instances below the window — decided record, duty and
intents — and never an intent of an instance that is not decided: attester/5 goes to one node
only (the leader of its round 1), which proposes and then changes rounds alone; 60 heights
later its duty and every intent it signed are still in that node's WAL, unchanged, while every
decided instance below height 40 is gone from it."""
import subprocess

from devnet import *

RETENTION = 20
TOP = 60
LONE = 5
LEADER = (LONE + 0 + 1) % 4  # attester is duty type 0; round 1


def dump(net, i):
    """{kind: {height: [line...]}} of attester records in node i's database (aequactl wal dump,
    read-only beside the running StateDB)."""
    r = subprocess.run([AEQUACTL, "wal", "dump", "--data-dir", net.nodes[i]["data_dir"]],
                       capture_output=True)
    if r.returncode != 0:
        fail("wal dump of node %d: %s" % (i, r.stderr.decode().strip()))
    out = {"intent": {}, "decided": {}, "duty": {}}
    for line in r.stdout.decode().splitlines():
        f = line.split()
        if len(f) > 1 and f[0] in out and f[1].startswith("attester/"):
            out[f[0]].setdefault(int(f[1].split("/")[1]), []).append(line)
    return out


config = "[statedb]\nretention = %d\nprune_interval_s = 1\n" % RETENTION
with Devnet(4, config=config) as net:
    check(net.post(LEADER, "attester", LONE, {"node": LEADER, "h": LONE}) == 202,
          "attester/%d posted to node %d only" % (LONE, LEADER))
    wait_for(lambda: (metric(net.metrics(LEADER), "qbft_view_changes_total") or 0) >= 1,
             "the lone instance changes rounds", timeout=30)
    lone = wait_for(lambda: dump(net, LEADER)["intent"].get(LONE), "its intents in the WAL")

    heights = [h for h in range(1, TOP + 1) if h != LONE]
    codes = net.post_all("attester", heights)
    check(all(c == 202 for c in codes.values()), "%d posts answered 202" % len(codes))
    wait_for(lambda: all(net.decided(i, "attester", TOP) for i in range(4)),
             "attester/%d decided on all four nodes" % TOP, timeout=120, interval=0.2)

    below = TOP - RETENTION

    def pruned():
        d = dump(net, LEADER)
        left = [h for kind in ("decided", "duty", "intent") for h in d[kind]
                if h < below and h != LONE]
        return d if not left else None
    d = wait_for(pruned, "every decided instance below %d pruned on node %d" % (below, LEADER),
                 timeout=60, interval=0.5)
    check('"msg":"statedb_prune"' in net.log(LEADER), "the prune pass is logged")
    kept = [h for h in range(below, TOP + 1) if h != LONE and h not in d["decided"]]
    check(not kept, "the decided instances within the window are kept (missing: %s)" % kept)
    check(d["intent"].get(LONE) is not None and set(lone) <= set(d["intent"][LONE]),
          "every intent of the undecided attester/%d is still there, unchanged (%d before, %d now)"
          % (LONE, len(lone), len(d["intent"].get(LONE, []))))
    check(LONE in d["duty"] and LONE not in d["decided"],
          "its duty is kept and it is still undecided")
    v = net.get(LEADER, "attester", LONE)
    check(v is not None and v["status"] == "pending", "GET shows it pending: %s" % v)
print("PASS")
