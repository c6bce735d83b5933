#!/usr/bin/python3
"""Threshold signatures on 4-node devnets (SPEC §10, issue 12).

    test_tss_devnet.py [byzantine]

Devnet A: `aequactl cluster create --tss` (t = 3 of 4), every node with --enable-tss; with the
argument `byzantine` (a test build, meson -Dtest_tools=true) node 3 runs with
AEQUA_TEST_TSS_BYZANTINE=bad_share and sends every signature share with one bit flipped.
 - duties of every type and a block (a transaction's) decide, and every one gets a
   tss_signature on all four nodes, in GET /v1/duty and GET /v1/block, that verifies under the
   lock's group_pubkey with tests/unit/frost_verify.py (stdlib integers, no code shared with the
   node) over SHA-256("aequa/tss/v1" || lock_hash || value_hash), and with aequactl duty verify;
   a tampered one fails both;
 - byzantine: a coordinator names node 3 (tss_sessions_total{result="invalid"}, a tss_session
   line with signer 3) and the signatures are still made, by the other three;
 - node 3 stopped (3 of 4 live): new duties still get signatures.
Devnet B: the same keys but threshold 4 of 4.
 - the nodes started without --enable-tss: duties decide, no tss_* series in /metrics, no
   aequa/tss/v1 frames (p2p counters), tss_signature null;
 - nodes 0-2 restarted with --enable-tss, node 3 down (fewer than t live): duties still decide,
   no signature appears, and tss_sessions_total{result="timeout"} grows.
"""
import hashlib

from devnet import *
from seq import Sender, get_json, lock_hash_of, log_events, post_tx

BYZ = 3
byzantine = sys.argv[1:] == ["byzantine"]
VERIFY_PY = os.path.join(ROOT, "tests", "unit", "frost_verify.py")
TYPES = ["attester", "sync"]


def group_pubkey(lock):
    with open(lock) as f:
        return json.load(f)["tss"]["group_pubkey"]


def tss_message(lh, value_hash_hex):
    return hashlib.sha256(b"aequa/tss/v1" + lh + bytes.fromhex(value_hash_hex)).hexdigest()


def frost_verify(group, msg_hex, sig_hex):
    return subprocess.run(["/usr/bin/python3", VERIFY_PY, group, msg_hex, sig_hex]).returncode == 0


def sessions(m, result):
    return metric(m, "tss_sessions_total", result=result) or 0


def signed_view(net, i, typ, h):
    d = net.decided(i, typ, h)
    return d if d and d["tss_signature"] else None


def check_signature(net, group, lh, d, where, nodes):
    ts = d["tss_signature"]
    check(ts["scheme"] == "FROST(secp256k1, SHA-256)" and len(ts["sig"]) == 130 and
          len(ts["signers"]) >= 3 and set(ts["signers"]) <= set(nodes) and
          ts["signers"] == sorted(set(ts["signers"])),
          "%s: tss_signature names %s, operators that are live" % (where, ts["signers"]))
    check(frost_verify(group, tss_message(lh, d["value_hash"]), ts["sig"]),
          "%s: the signature verifies with frost_verify.py" % where)


def sign_round(net, group, lh, heights, nodes, label):
    """Post attester and sync duties at these heights to these nodes; every one decides and gets
    a verified signature on every one of them."""
    for typ in TYPES:
        codes = net.post_all(typ, heights, nodes=nodes)
        check(all(c == 202 for c in codes.values()), "%s: %d %s duties posted" %
              (label, len(codes), typ))
    wait_for(lambda: all(signed_view(net, i, typ, h) for i in nodes for typ in TYPES
                         for h in heights),
             "%s: every duty decided with a tss_signature on nodes %s" % (label, nodes),
             timeout=120, interval=0.3)
    docs = []
    for typ in TYPES:
        for h in heights:
            views = [signed_view(net, i, typ, h) for i in nodes]
            for i, d in zip(nodes, views):
                check_signature(net, group, lh, d, "%s/%d on node %d" % (typ, h, i), nodes)
                docs.append(d)
    r = subprocess.run([AEQUACTL, "duty", "verify", "--lock", net.lock], capture_output=True,
                       input="".join(json.dumps(d) + "\n" for d in docs).encode())
    lines = r.stdout.decode().splitlines()
    bad = [l for l in lines if not (l.startswith("ok ") and l.endswith(" tss=yes"))]
    check(r.returncode == 0 and len(lines) == len(docs) and not bad,
          "%s: aequactl duty verify accepts all %d answers, signatures checked (%s)" %
          (label, len(docs), bad[:2]))


# ---------------------------------------------------------------- devnet A: t = 3 of 4
node_env = {BYZ: {"AEQUA_TEST_TSS_BYZANTINE": "bad_share"}} if byzantine else None
with Devnet(4, tss=True, node_env=node_env) as net:
    group = group_pubkey(net.lock)
    lh = lock_hash_of(net.lock)
    if byzantine:
        check(log_events(net.log(BYZ), "tss_session", event="byzantine"),
              "node %d's QBFT worker sends bad signature shares (a test build)" % BYZ)

    sign_round(net, group, lh, range(1, 9), list(range(4)), "all four")

    # a tampered signature fails both verifiers
    d = signed_view(net, 0, "attester", 1)
    sig = d["tss_signature"]["sig"]
    d["tss_signature"]["sig"] = sig[:-2] + ("00" if sig[-2:] != "00" else "01")
    check(not frost_verify(group, tss_message(lh, d["value_hash"]), d["tss_signature"]["sig"]),
          "a tampered signature fails frost_verify.py")
    ok, why = net.verify(d)
    check(not ok and "tss_signature" in why, "a tampered signature fails aequactl (%s)" % why)

    # a block: a transaction makes one; its GET /v1/block and its proposer duty carry the signature
    s = Sender(lh)
    tx = s.next()
    code, body, _ = post_tx(net.api(0), tx)
    check(code == 202, "a transaction admitted (%d %s)" % (code, body))
    height = wait_for(lambda: (lambda j: j[1]["height"] if j[0] == 200 and
                               j[1]["status"] == "included" else None)(
        get_json(net.api(0), "/v1/tx/" + tx.hash)), "the transaction included", timeout=60)

    def block_signed(i):
        code, b = get_json(net.api(i), "/v1/block/%d" % height)
        return b if code == 200 and b["tss_signature"] else None
    wait_for(lambda: all(block_signed(i) for i in range(4)),
             "block %d has a tss_signature on all four nodes" % height, timeout=60, interval=0.3)
    for i in range(4):
        b = block_signed(i)
        check(frost_verify(group, tss_message(lh, b["block_hash"]), b["tss_signature"]["sig"]),
              "block %d on node %d: the signature verifies over its block_hash" % (height, i))
        d = wait_for(lambda: signed_view(net, i, "proposer", height),
                     "proposer/%d signed on node %d" % (height, i))
        check(d["tss_signature"] == b["tss_signature"],
              "proposer/%d on node %d shows the same signature" % (height, i))
        check(net.verify(d)[0], "aequactl duty verify accepts proposer/%d" % height)

    if byzantine:
        # node 3 is chosen when its commitment is among the first t: until then, more duties
        base = 100

        def named():
            return [i for i in range(3) if sessions(net.metrics(i), "invalid") >= 1]
        while not named() and base < 400:
            sign_round(net, group, lh, range(base, base + 4), list(range(4)), "byzantine")
            base += 100
        who = named()
        check(who, "a coordinator found node %d's bad share (tss_sessions_total invalid on %s)" %
              (BYZ, who))
        lines = [e for i in who for e in log_events(net.log(i), "tss_session", result="invalid")]
        check(lines and all(e["signer"] == BYZ for e in lines),
              "the tss_session lines name signer %d (%d lines)" % (BYZ, len(lines)))
        check(sessions(net.metrics(BYZ), "invalid") == 0, "node %d blamed nobody" % BYZ)

    # ---- 3 of 4: node 3 stopped
    check(net.stop_node(BYZ), "node %d stopped" % BYZ)
    sign_round(net, group, lh, range(500, 505), [0, 1, 2], "three of four")
    for i in range(3):
        m = net.metrics(i)
        check(sessions(m, "ok") >= 20 and metric(m, "tss_sessions_open") is not None,
              "node %d: %d sessions ok, tss_sessions_open exported" % (i, sessions(m, "ok")))
        check((metric(m, "tss_round_seconds_count", round="sign") or 0) >= 1,
              "node %d coordinated signing rounds (tss_round_seconds)" % i)

# ---------------------------------------------------------------- devnet B: t = 4 of 4
with Devnet(4, create_args=["--tss", "--threshold", "4"]) as net:
    lh = lock_hash_of(net.lock)
    codes = net.post_all("attester", range(1, 6))
    check(all(c == 202 for c in codes.values()), "flag off: duties posted")
    wait_for(lambda: all(net.decided(i, "attester", h) for i in range(4) for h in range(1, 6)),
             "flag off: duties decided", timeout=120, interval=0.3)
    for i in range(4):
        text = request(net.nodes[i]["monitoring"], "GET", "/metrics")[1].decode()
        tss = [l for l in text.splitlines() if l.startswith("tss_") or l.startswith("# HELP tss_")]
        check(not tss, "flag off: node %d exports no tss_* series (%s)" % (i, tss[:2]))
        m = parse_metrics(text)
        frames = [v for (name, labels), v in m.items()
                  if name in ("p2p_msgs_total", "p2p_bytes_total") and
                  ("topic", "aequa/tss/v1") in labels and v != 0]
        check(not frames, "flag off: node %d sent and received no aequa/tss/v1 frame" % i)
        check(net.decided(i, "attester", 3)["tss_signature"] is None,
              "flag off: tss_signature is null on node %d" % i)

    # fewer than t live: nodes 0-2 with --enable-tss, node 3 down
    for i in range(4):
        check(net.stop_node(i), "node %d stopped" % i)
    for i in range(3):  # all three before any is ready: readiness needs a P2P quorum
        net.nodes[i]["pid"] = script.start_node(net.nodes[i], args=["--enable-tss"])
    script.write_nodes(net.dir, net.nodes)
    wait_for(lambda: all(script.ready(net.api(i)) for i in range(3)),
             "nodes 0-2 ready with --enable-tss", timeout=90, interval=0.2)
    codes = net.post_all("attester", range(10, 14), nodes=[0, 1, 2])
    check(all(c == 202 for c in codes.values()), "3 of 4 (t = 4): duties posted")
    wait_for(lambda: all(net.decided(i, "attester", h) for i in range(3) for h in range(10, 14)),
             "3 of 4 (t = 4): duties still decide", timeout=120, interval=0.3)
    wait_for(lambda: all(sessions(net.metrics(i), "timeout") >= 4 for i in range(3)),
             "every node's sessions time out (tss_sessions_total{result=\"timeout\"})",
             timeout=120, interval=0.5)
    for i in range(3):
        m = net.metrics(i)
        check(sessions(m, "ok") == 0, "node %d made no signature with 3 of 4 signers" % i)
        check(all(net.decided(i, "attester", h)["tss_signature"] is None for h in range(10, 14)),
              "node %d: tss_signature stays null" % i)
        check(log_events(net.log(i), "tss_session", result="timeout"),
              "node %d logged the timed-out sessions" % i)
print("ok")
