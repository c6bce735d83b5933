#!/usr/bin/python3
"""Issue 6 on a 4-node devnet (real supervisors and workers on loopback):
 - every node ready with P2P links to all peers;
 - 100 duties posted to all four nodes, each node with its own payload: decided on all four with
   one value_hash per duty, certificates and seals verified against the lock;
 - the round-1 leader's node stopped: duties still decide (round change); restarted (after the
   others restarted their QBFT workers, so the decision is only in their StateDB), it catches up;
 - the QBFT worker SIGKILLed mid-instance resumes from its WAL without a new vote for any
   (instance, round, type) it had already voted on."""
import subprocess

from devnet import *


def restarted(net, i, name, old_pid):
    """The worker's new incarnation is READY (one /status snapshot, so state and pid agree)."""
    w = net.workers(i)[name]
    return w["state"] == "ready" and w["pid"] not in (0, old_pid)


def wal_intents(dump):
    """{"attester/300 round=2 type=prepare": sha256} from aequactl wal dump."""
    out = {}
    for line in dump.splitlines():
        if line.startswith("intent "):
            f = line.split()
            out[" ".join(f[1:4])] = [x for x in f if x.startswith("sha256=")][0]
    return out

with Devnet(4) as net:
    for i in range(4):
        m = net.metrics(i)
        check(metric(m, "p2p_conns_open") == 3, "node %d: links to its 3 peers" % i)

    # ---- 100 duties, each node posting its own payload
    codes = net.post_all("attester", range(1, 101))
    check(all(c == 202 for c in codes.values()), "400 posts answered 202")

    def all_decided():
        return all(net.decided(i, "attester", h) for i in range(4) for h in range(1, 101))
    wait_for(all_decided, "100 duties decided on all four nodes", timeout=120, interval=0.2)
    split = []
    verified = 0
    for h in range(1, 101):
        views = [net.decided(i, "attester", h) for i in range(4)]
        if len({v["value_hash"] for v in views}) != 1:
            split.append(h)
        for v in views:
            ok, why = net.verify(v)
            if not ok:
                fail("attester/%d: %s" % (h, why))
            verified += 1
        # validity: the value is one node's input
        if views[0]["value"]["h"] != h or not 0 <= views[0]["value"]["node"] < 4:
            fail("attester/%d decided a value no node proposed" % h)
    check(not split, "identical value_hash on all four nodes for every duty (splits: %s)" % split)
    check(verified == 400, "400 certificates and seal sets verify against the lock")
    for i in range(4):
        check(metric(net.metrics(i), "qbft_equivocations_total") == 0,
              "node %d saw no equivocation" % i)

    # ---- round-1 leader down: height h with leader (h + type 0 + 1) % 4 == 3
    h = 203
    assert (h + 0 + 1) % 4 == 0
    leader = (h + 1) % 4
    net.stop_node(leader)
    others = [i for i in range(4) if i != leader]
    for i in others:
        check(net.post(i, "attester", h, {"node": i, "h": h}) == 202,
              "node %d accepts attester/%d with the leader down" % (i, h))
    d = wait_for(lambda: net.decided(others[0], "attester", h), "decided without the leader",
                 timeout=60)
    check(d["round"] >= 2, "decided after a round change (round %d)" % d["round"])
    check(all(net.decided(i, "attester", h)["value_hash"] == d["value_hash"] for i in others),
          "the three live nodes agree")
    # The three restart their QBFT workers: the decision now lives only in their StateDB, and
    # must still reach the laggard (restored on demand when it asks with ROUND-CHANGEs).
    for i in others:
        q = net.workers(i)["qbft"]
        os.kill(q["pid"], signal.SIGKILL)
        wait_for(lambda: restarted(net, i, "qbft", q["pid"]), "qbft of node %d back" % i)
    net.start_node(leader)
    check(net.post(leader, "attester", h, {"node": leader, "h": h}) == 202,
          "the restarted leader accepts the duty its validator re-posts")
    back = wait_for(lambda: net.decided(leader, "attester", h), "restarted node catches up",
                    timeout=60)
    check(back["value_hash"] == d["value_hash"] and net.verify(back)[0],
          "the restarted node learned the same decision, verified")

    # ---- QBFT worker SIGKILLed mid-instance
    # Only node 1 gets attester/300 (round-1 leader is node 1: (300+1)%4 = 1): it proposes,
    # nobody else has the duty, so the instance stays open and round changes happen.
    h = 300
    victim = (h + 1) % 4
    check(net.post(victim, "attester", h, {"node": victim, "h": h}) == 202, "victim has the duty")
    vm = lambda: net.metrics(victim)
    wait_for(lambda: (metric(vm(), "qbft_view_changes_total") or 0) >= 1,
             "the lone instance changes rounds", timeout=30)
    before = subprocess.run([AEQUACTL, "wal", "dump", "--data-dir",
                             net.nodes[victim]["data_dir"], "--hex"],
                            capture_output=True).stdout.decode()
    old = {k: v for k, v in wal_intents(before).items() if k.startswith("attester/%d " % h)}
    q = net.workers(victim)["qbft"]
    os.kill(q["pid"], signal.SIGKILL)
    wait_for(lambda: restarted(net, victim, "qbft", q["pid"]), "qbft restarted")
    check(metric(vm(), "qbft_wal_recover_total", result="ok") >= 1,
          "the instance was rebuilt from the WAL")
    for i in range(4):
        if i != victim:
            net.post(i, "attester", h, {"node": i, "h": h})
    d = wait_for(lambda: net.decided(victim, "attester", h), "the resumed instance decides",
                 timeout=60)
    check(all(net.decided(i, "attester", h)["value_hash"] == d["value_hash"] for i in range(4)),
          "all four agree on the resumed instance")
    after = subprocess.run([AEQUACTL, "wal", "dump", "--data-dir", net.nodes[victim]["data_dir"],
                            "--hex"], capture_output=True).stdout.decode()
    new = wal_intents(after)
    changed = [k for k in old if k in new and new[k] != old[k]]
    check(old and not changed, "no (instance, round, type) got a new vote after the restart "
          "(%d intents before the kill, all unchanged)" % len(old))
    check('"event":"refused"' not in net.log(victim), "StateDB never had to refuse an intent")
    for i in range(4):
        check(metric(net.metrics(i), "qbft_equivocations_total") == 0,
              "node %d: still no equivocation" % i)
