#!/usr/bin/python3
"""A Byzantine leader on a 4-node devnet (issue 11; a test build, meson -Dtest_tools=true).

Node 3 runs with AEQUA_TEST_BYZANTINE=bad_signature,nonce_gap,wrong_order
(workers/builder/byzantine.h): every block its builder builds is made wrong — in turn a tx
with a bad signature, a nonce gap, two senders' txs in the wrong order — so each slot it leads
is a bad proposal. Txs from 12 senders stream to the three honest nodes until each honest node
has refused node 3's proposals for all three reasons (builder_reject_total{type="block",
reason="signature"|"nonce"|"order"}). Then every tx that got a 202 is included exactly once,
the chain goes on with the honest leaders' blocks (nonces consecutive, canonical order, no tx
in it that a sender did not sign), and all four nodes hold the same chain."""
from devnet import *
from seq import *

BYZ = 3
HONEST = [0, 1, 2]
REASONS = {"bad_signature": "signature", "nonce_gap": "nonce", "wrong_order": "order"}
seed = random.randrange(1 << 30)
rng = random.Random(seed)
print("seed %d" % seed, flush=True)


def refusals(i):
    m = net.metrics(i)
    return {r: metric(m, "builder_reject_total", type="block", reason=r) or 0
            for r in REASONS.values()}


with Devnet(4, node_env={BYZ: {"AEQUA_TEST_BYZANTINE": ",".join(REASONS)}}) as net:
    check(log_events(net.log(BYZ), "consensus_builder", event="byzantine"),
          "node %d's builder runs as a Byzantine leader (a test build)" % BYZ)
    lh = lock_hash_of(net.lock)
    senders = [Sender(lh) for _ in range(12)]
    sub = Submitter([net.api(i) for i in HONEST], rng)
    stop = threading.Event()
    lost = []
    st = threading.Thread(target=lambda: lost.extend(
        stream(sub, senders, 1 << 30, threads=4, stop=stop, pause=0.3)))
    st.start()
    try:
        seen = wait_for(lambda: (lambda r: r if all(all(v >= 1 for v in x.values())
                                                    for x in r.values()) else None)(
            {i: refusals(i) for i in HONEST}),
            "every honest node refusing node %d's proposals for every reason" % BYZ,
            timeout=180, interval=0.5)
    finally:
        stop.set()
        st.join()
    check(True, "the honest nodes refused node %d's blocks: %s" % (BYZ, seen))
    made = log_events(net.log(BYZ), "consensus_builder", event="byzantine_block")
    check({e["mode"] for e in made} == set(REASONS),
          "node %d proposed blocks of all three kinds (%d wrong blocks built)" % (BYZ, len(made)))
    check(not lost, "every tx was admitted by an honest node (%d offered, answers %s; %s)" %
          (len(sub.offered), sub.answers, sub.unexpected[:3]))

    def included_everywhere():
        last = {}
        for tx in sub.accepted.values():
            if tx.frm not in last or tx.nonce > last[tx.frm].nonce:
                last[tx.frm] = tx
        return all(included_all(net.api(i), [t.hash for t in last.values()]) for i in range(4))
    wait_for(included_everywhere, "every accepted tx included on all four nodes", timeout=120,
             interval=0.5)
    chains = [read_chain(net.api(i), lh) for i in range(4)]
    check(all(chain_summary(c) == chain_summary(chains[0]) for c in chains),
          "the four nodes hold one chain (%d blocks), hashes recomputed, linked by parent_hash" %
          len(chains[0]))
    problems = check_chain_txs(chains[0], sub.accepted, sub.offered)
    check(not problems, "every accepted tx included once, nonces consecutive, canonical order, "
          "no tx that was not signed by its sender (%s)" % problems[:3])
    by = {}
    for b in chains[0]:
        by[b["proposer"]] = by.get(b["proposer"], 0) + 1
    check(all(by.get(i, 0) >= 1 for i in HONEST),
          "the chain went on with the honest leaders' blocks (blocks by proposer: %s)" % by)
    for i in range(4):
        check((metric(net.metrics(i), "qbft_equivocations_total") or 0) == 0,
              "node %d saw no equivocation" % i)
