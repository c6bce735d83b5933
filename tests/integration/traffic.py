"""Traffic and faults for a 4-node devnet, so that every metric family an operator graphs has
samples: used by tests/check_deploy.py (the families /metrics exports) and test_prometheus.py
(what a real Prometheus scraping the devnet answers).

drive(net) gives the devnet:
 - duties of every type posted to every node and decided everywhere;
 - a transaction, included in a block (chain height, block building, seals);
 - every API and monitoring route called, answered or refused (2xx, 4xx series);
 - a worker killed (restart counters);
 - a leader down: round timeouts and a round change;
 - QBFT killed with an undecided instance in its WAL (rebuilt from the WAL);
 - a damaged database that falls back to its checkpoint (StateDB recovery, QBFT abstains).
Every step waits for its effect and fails the test, naming the step, when it does not come."""
import os
import signal

from harness import check, request, wait_for
from seq import Sender, get_json, lock_hash_of, post_tx

DUTY_TYPES = ("attester", "proposer", "sync")


def decided_everywhere(net, typ, heights):
    return all(net.decided(i, typ, h) for i in range(net.n) for h in heights)


def metric_sum(net, i, name):
    return sum(v for (n, _), v in net.metrics(i).items() if n == name)


def included(net, i, tx_hash):
    code, j = get_json(net.api(i), "/v1/tx/" + tx_hash)
    return code == 200 and j["status"] == "included"


def drive(net):
    # Duties of every type on every node.
    heights = range(1, 11)
    for typ in DUTY_TYPES:
        codes = net.post_all(typ, heights)
        check(all(c == 202 for c in codes.values()), "%s duties accepted by every node" % typ)
    for typ in DUTY_TYPES:
        wait_for(lambda: decided_everywhere(net, typ, heights), "%s duties decided" % typ,
                 timeout=120, interval=0.2)
    check(True, "%d duties decided on all %d nodes" % (len(heights) * len(DUTY_TYPES), net.n))
    # A transaction: a block is built, decided, sealed and applied.
    tx = Sender(lock_hash_of(net.lock)).next()
    code, body, _ = post_tx(net.api(0), tx)
    check(code == 202, "a transaction admitted by node 0 (%d %s)" % (code, body))
    wait_for(lambda: all(included(net, i, tx.hash) for i in range(net.n)),
             "the transaction included on every node", timeout=120, interval=0.2)
    # Every route, answered or refused.
    calls = [("api", "GET", "/health", None), ("api", "GET", "/ready", None),
             ("api", "GET", "/v1/duty/attester/1", None), ("api", "GET", "/v1/duty/sync/999", None),
             ("api", "POST", "/v1/duty", b"{"), ("api", "POST", "/v1/tx/plain", b"{}"),
             ("api", "GET", "/v1/tx/" + tx.hash, None), ("api", "GET", "/v1/block/1", None),
             ("api", "GET", "/v1/block/latest", None), ("api", "GET", "/nowhere", None),
             ("monitoring", "GET", "/status", None), ("monitoring", "GET", "/metrics", None)]
    for i in range(net.n):
        for where, method, path, body in calls:
            request(net.nodes[i][where], method, path, body=body)
    # A worker killed: restart counters.
    old = net.workers(0)["builder"]["pid"]
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: net.workers(0)["builder"]["state"] == "ready" and
             net.workers(0)["builder"]["pid"] != old, "node 0's builder restarted")
    # A leader down: round timeouts and a round change. Round 1 of attester/102 is node 3's
    # ((102 + 0 + 1) % 4); nodes 0-2 decide it in round 2.
    check(net.stop_node(3), "node 3 stopped (its clean stop takes a checkpoint)")
    check(all(net.post(i, "attester", 102, {"h": 102}) == 202 for i in range(3)),
          "attester/102 accepted by nodes 0-2")
    wait_for(lambda: all(net.decided(i, "attester", 102) for i in range(3)),
             "attester/102 decided without its round-1 leader", timeout=120, interval=0.2)
    # QBFT killed with an undecided instance in its WAL: rebuilt from the WAL. Node 0 leads
    # round 1 of attester/199 and proposes it, but no other node was given the duty.
    appends = metric_sum(net, 0, "qbft_wal_appends_total")
    check(net.post(0, "attester", 199, {"h": 199}) == 202, "attester/199 accepted by node 0")
    wait_for(lambda: metric_sum(net, 0, "qbft_wal_appends_total") > appends,
             "node 0's proposal in its WAL")
    old = net.workers(0)["qbft"]["pid"]
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: net.workers(0)["qbft"]["state"] == "ready" and
             net.workers(0)["qbft"]["pid"] != old, "node 0's qbft restarted")
    # A damaged database: StateDB falls back to its checkpoint, QBFT abstains (SPEC §7.5).
    db = os.path.join(net.nodes[3]["data_dir"], "db", "rocksdb")
    manifest = sorted(f for f in os.listdir(db) if f.startswith("MANIFEST-"))[-1]
    with open(os.path.join(db, manifest), "r+b") as f:
        f.truncate(os.path.getsize(os.path.join(db, manifest)) // 2)
    net.start_node(3)
    check(net.post(3, "attester", 300, {"h": 300}) == 202, "attester/300 accepted by node 3")
    wait_for(lambda: metric_sum(net, 3, "qbft_abstain_total") > 0,
             "node 3 abstains after its fallback", timeout=60)
