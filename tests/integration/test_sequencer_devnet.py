#!/usr/bin/python3
"""The sequencer on a 4-node devnet (issue 11; SPEC §9), slots of 1 s:

 1. 50 senders each submit txs in nonce order to random nodes (a tx goes to another node until
    one admits it) while the builder, StateDB and QBFT workers of random nodes are SIGKILLed
    one after another, 6 kills (the supervisor restarts them). Then every node holds the same chain
    (walked down from /v1/block/latest along parent_hash, every block hash and tx hash
    recomputed here), every tx that got a 202 anywhere is in it exactly once, every sender's
    nonces are consecutive from 0, every block is in canonical order; no equivocation, and
    every builder incarnation loaded the chain and pool once.
 2. One node is stopped while txs keep coming to the other three for 20 slots, then started:
    it catches up over aequa/sync/v1 (sync_blocks_total{result="ok"}) and then answers
    GET /v1/block/{h} for every height exactly as the others do.

    test_sequencer_devnet.py [--long] [--seed N]
--long: 30 kills in part 1, 60 slots down in part 2."""
import argparse

from devnet import *
from seq import *

p = argparse.ArgumentParser()
p.add_argument("--long", action="store_true")
p.add_argument("--seed", type=int, default=random.randrange(1 << 30))
a = p.parse_args()
KILLS = 30 if a.long else 6     # workers SIGKILLed in part 1, while txs stream
DOWN_SLOTS = 60 if a.long else 20
rng = random.Random(a.seed)
print("seed %d" % a.seed, flush=True)
T0 = time.monotonic()


def log(msg):
    print("[%6.1fs] %s" % (time.monotonic() - T0, msg), flush=True)


def latest(api):
    code, b = get_json(api, "/v1/block/latest")
    return (b["height"], b["block_hash"]) if code == 200 else None


def killer(net, count, kills, done):
    """SIGKILL count workers, builder, StateDB and QBFT in turn (shuffled), each of a random
    node, waiting each time until it is back and the node ready; then set done."""
    try:
        kinds = []
        for _ in range(count):
            if not kinds:
                kinds = ["builder", "statedb", "qbft"]
                rng.shuffle(kinds)
            i, w = rng.randrange(net.n), kinds.pop()
            pid = net.workers(i)[w]["pid"]
            os.kill(pid, signal.SIGKILL)
            kills.append("%s@%d" % (w, i))

            def back():
                x = net.workers(i)[w]
                return x["pid"] not in (0, pid) and x["state"] == "ready" and \
                    request(net.api(i), "GET", "/ready")[0] == 200
            wait_for(back, "%s of node %d back" % (w, i), timeout=60)
            time.sleep(rng.uniform(0.3, 1.0))  # txs flow between two kills
    finally:
        done.set()


def same_chains(net, lh, nodes):
    """Every node's chain, read whole; fails unless they are identical."""
    chains = [read_chain(net.api(i), lh) for i in nodes]
    sums = [chain_summary(c) for c in chains]
    for i, s in zip(nodes, sums):
        if s != sums[0]:
            diff = sorted(set(s) ^ set(sums[0]))[:4]
            fail("node %d's chain differs from node %d's (%d and %d blocks; e.g. %s)" %
                 (i, nodes[0], len(s), len(sums[0]), diff))
    return chains[0]


def all_included(net, nodes, senders, accepted):
    """Each sender's last admitted tx is included on every node (its earlier ones then are:
    nonces are consecutive in the chain, which is checked after). Admitted: every tx offered,
    once no node refused one for good; a tx whose only 202 was lost (a 503 from a node whose
    worker was killed after it was persisted, then 409 dup elsewhere) counts too."""
    last = {}
    for h, tx in accepted.items():
        if tx.frm not in last or tx.nonce > last[tx.frm].nonce:
            last[tx.frm] = tx
    return all(included_all(net.api(i), [t.hash for t in last.values()]) for i in nodes)


with Devnet(4) as net:
    lh = lock_hash_of(net.lock)
    apis = [net.api(i) for i in range(4)]
    senders = [Sender(lh) for _ in range(50)]
    sub = Submitter(apis, rng)
    log("devnet up")

    # ---- 1: 50 senders, random nodes, workers SIGKILLed meanwhile
    stop, kills = threading.Event(), []
    kt = threading.Thread(target=killer, args=(net, KILLS, kills, stop))
    kt.start()
    lost = stream(sub, senders, 1 << 30, threads=10, stop=stop, pause=0.25)
    kt.join()
    log("part 1: %d txs offered, answers %s; kills: %s" % (len(sub.offered), sub.answers,
                                                          " ".join(kills)))
    check(not lost, "every tx was admitted by some node (%d not: %s)" % (len(lost),
                                                                      sub.unexpected[:3]))
    check(len(kills) == KILLS and {k.split("@")[0] for k in kills} == {"builder", "statedb",
                                                                        "qbft"},
          "the builder, StateDB and QBFT workers were SIGKILLed (%d kills)" % len(kills))
    wait_for(lambda: all_included(net, range(4), senders, sub.offered),
             "every accepted tx included on every node", timeout=120, interval=0.5)
    chain = same_chains(net, lh, range(4))
    check(chain, "the four nodes hold one chain of %d blocks, hashes recomputed, linked by "
          "parent_hash" % len(chain))
    problems = check_chain_txs(chain, sub.accepted, sub.offered)
    check(not problems, "every tx that got a 202 is included exactly once, nonces consecutive "
          "from 0, canonical order (%s)" % problems[:3])
    check(sum(len(b["txs"]) for b in chain) == len(sub.offered),
          "all %d txs offered are in the chain (%d)" % (len(sub.offered),
                                                       sum(len(b["txs"]) for b in chain)))
    for i in range(4):
        check((metric(net.metrics(i), "qbft_equivocations_total") or 0) == 0,
              "node %d saw no equivocation" % i)
        check_loaded_once(net.log(i), "node %d" % i)
    log("part 1 done")

    # ---- 2: a node down for DOWN_SLOTS slots
    k = rng.randrange(4)
    others = [i for i in range(4) if i != k]
    net.stop_node(k)
    first = int(time.time())
    log("node %d stopped" % k)
    stop = threading.Event()
    down_sub = Submitter([apis[i] for i in others], rng)
    st = threading.Thread(target=lambda: lost.extend(
        stream(down_sub, senders, 1 << 30, threads=5, stop=stop, pause=0.5)))
    st.start()
    try:
        wait_for(lambda: int(time.time()) >= first + DOWN_SLOTS, "%d slots" % DOWN_SLOTS,
                 timeout=DOWN_SLOTS + 30, interval=0.2)
    finally:
        stop.set()
        st.join()
    check(not lost, "the three others admitted every tx (%d offered; %s)" %
          (len(down_sub.offered), down_sub.unexpected[:3]))
    wait_for(lambda: all_included(net, others, senders, down_sub.offered),
             "the three include them", timeout=120, interval=0.5)
    top = latest(apis[others[0]])
    blocks_missed = [b for b in read_chain(apis[others[0]], lh) if b["height"] >= first]
    log("node %d missed %d blocks; starting it" % (k, len(blocks_missed)))
    check(len(blocks_missed) >= 2, "blocks were made while node %d was down" % k)
    net.start_node(k)
    wait_for(lambda: latest(apis[k]) == top, "node %d caught up to %s" % (k, top), timeout=120,
             interval=0.5)
    log("node %d caught up" % k)
    chain = same_chains(net, lh, list(range(4)))
    accepted = dict(sub.accepted)
    accepted.update(down_sub.accepted)
    offered = dict(sub.offered)
    offered.update(down_sub.offered)
    problems = check_chain_txs(chain, accepted, offered)
    check(not problems, "after the catch-up: one chain on all four, every accepted tx once, "
          "nonces consecutive (%s)" % problems[:3])
    block_keys = ("height", "block_hash", "parent_hash", "proposer", "txs")
    duties = []
    for h in (b["height"] for b in blocks_missed):
        views = [get_json(apis[i], "/v1/block/%d" % h) for i in range(4)]
        if any(v[0] != 200 or {x: v[1][x] for x in block_keys} !=
               {x: views[0][1][x] for x in block_keys} for v in views):
            fail("GET /v1/block/%d differs between nodes" % h)
        code, d = get_json(apis[k], "/v1/duty/proposer/%d" % h)
        duties.append(d if code == 200 else {"height": h, "status": code})
    check(True, "GET /v1/block/{h} of each of the %d blocks it missed: the same block on all "
          "four" % len(blocks_missed))
    bad = net.verify_many(duties)
    check(not bad, "node %d's proposer duties of those heights verify against the lock "
          "(certificate, seals): %s" % (k, bad[:3]))
    m = net.metrics(k)
    check((metric(m, "sync_blocks_total", result="ok") or 0) >= 1 and
          not metric(m, "sync_blocks_total", result="invalid"),
          "node %d fetched blocks over aequa/sync/v1 (sync_blocks_total ok %s)" %
          (k, metric(m, "sync_blocks_total", result="ok")))
    check(metric(m, "chain_height") == top[0], "node %d: chain_height is the head" % k)
    for i in range(4):
        check((metric(net.metrics(i), "qbft_equivocations_total") or 0) == 0,
              "node %d saw no equivocation" % i)
    log("done")
