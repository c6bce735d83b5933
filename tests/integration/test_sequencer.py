#!/usr/bin/python3
"""The sequencer on one node (issue 11; SPEC §9, §11.1, §12.2), against the real server.

Part 1, slots off ([builder] slot_ms = 0, small pool caps), so a block is made only when a
proposer duty is POSTed and every pool state can be looked at:
 - every answer of POST /v1/tx/plain: 202 pending / queued / replaced; 400 invalid json /
   invalid tx / bad signature (wrong key, high S); 409 old / dup / underpriced; 413; 503 pool
   full with Retry-After;
 - GET /v1/tx/{hash}: pending, queued, included (with its height), unknown (404);
 - GET /v1/block/{h} and /v1/block/latest: the shape, block_hash and every tx hash recomputed
   here from the JSON (SPEC §9, proto/block.h), parent links, canonical order; 404 elsewhere;
 - the proposer duty's GET verifies with aequactl duty verify, its value is the block;
 - the sequencer's metric families of §12.2 with their label names and values;
 - SIGKILL of the builder, StateDB and QBFT workers with txs pending and queued: every tx is
   still in its state afterwards, and the pending ones are included by the next block (the
   restarted QBFT worker learns the chain's head from the builder and votes again).
Part 2, slots off, 320 txs of 60 kB (a pool of many load pages) and one with the largest data
the configuration allows (65413 bytes, lib/config.h): StateDB and the builder SIGKILLed
together three times; each time the pool comes back whole, loaded once.
Part 3, the embedded default (slots of 1 s):
 - an idle node makes no block and starts no proposer instance while slots pass;
 - aequactl tx key / sign / submit --wait / status end to end;
 - txs posted while the QBFT, StateDB and builder workers are SIGKILLed one after another are
   all included."""
import subprocess
import threading

from seq import *

rng = random.Random()


def post_raw(api, body):
    code, out, hdr = request(api, "POST", "/v1/tx/plain", body=body,
                             headers={"Content-Type": "application/json"})
    return code, out.decode(errors="replace"), hdr


def post(api, tx):
    return post_raw(api, tx.body())


def tx_state(api, h):
    code, j = get_json(api, "/v1/tx/" + h)
    return j["status"] if code == 200 else code


def kill_worker(node, name):
    """SIGKILL a worker (pid from /status) and wait until its new incarnation is READY and the
    node answers /ready again."""
    old = node.workers()[name]["pid"]
    os.kill(old, signal.SIGKILL)

    def back():
        w = node.workers()[name]
        return w["pid"] not in (0, old) and w["state"] == "ready" and node.ready()
    wait_for(back, "%s restarted and ready" % name, timeout=60)


def check_block(lock_hash, b, height=None):
    keys = ["height", "block_hash", "parent_hash", "proposer", "txs", "certificate", "seals",
            "tss_signature"]
    check(list(b) == keys, "block %d has the members of SPEC §11.1: %s" % (b["height"], list(b)))
    check(height is None or b["height"] == height, "block at height %d" % b["height"])
    check(block_hash(lock_hash, b) == b["block_hash"],
          "block %d: block_hash is SHA-256 of its canonical encoding, every tx hash recomputes"
          % b["height"])
    check(b["txs"] == canonical_order(b["txs"]), "block %d is in canonical order" % b["height"])
    check(b["proposer"] == 0 and len(b["certificate"]) == 1 and len(b["seals"]) == 1 and
          b["certificate"][0]["index"] == 0 and b["tss_signature"] is None,
          "block %d: proposer, certificate, seals of the one operator" % b["height"])


def propose(api, height):
    body = json.dumps({"type": "proposer", "height": height}).encode()
    code, _, _ = request(api, "POST", "/v1/duty", body=body)
    check(code == 202, "proposer duty %d accepted" % height)
    duty = wait_for(lambda: (lambda r: r[1] if r[0] == 200 and r[1]["status"] == "decided"
                             else None)(get_json(api, "/v1/duty/proposer/%d" % height)),
                    "proposer/%d decided" % height, timeout=30)
    # decided, then applied by the builder: the block is served once it is in the chain
    wait_for(lambda: get_json(api, "/v1/block/%d" % height)[0] == 200,
             "block %d applied" % height, timeout=30)
    return duty


# ================================================================ part 1: slots off
CONF = ("[builder]\nslot_ms = 0\naccount_slots = 4\naccount_queue = 2\nglobal_slots = 8\n"
        "global_queue = 4\n")

with Node(config_text=CONF) as n:
    n.start()
    n.wait_ready()
    lock_path = os.path.join(n.dir, "cluster", "cluster-lock.json")
    lh = lock_hash_of(lock_path)
    api = n.api
    a, b, c = Sender(lh), Sender(lh), Sender(lh)

    # ---- 202: pending, queued, replaced; 409 dup, underpriced
    a0 = a.sign(0, fee=100)
    code, out, _ = post(api, a0)
    check(code == 202 and json.loads(out) == {"hash": a0.hash, "status": "pending"},
          "202 pending, the hash computed here: %d %s" % (code, out.strip()))
    code, out, _ = post(api, a0)
    check((code, out) == (409, "dup\n"), "the same tx again: 409 dup (%d %r)" % (code, out))
    code, out, _ = post(api, a.sign(0, fee=100))
    check((code, out) == (409, "dup\n"), "same nonce, same fee, other signature: 409 dup")
    code, out, _ = post(api, a.sign(0, fee=109))
    check((code, out) == (409, "underpriced\n"), "fee 9%% higher: 409 underpriced (%d %r)" %
          (code, out))
    a0r = a.sign(0, fee=110)
    code, out, _ = post(api, a0r)
    check(code == 202 and json.loads(out) == {"hash": a0r.hash, "status": "replaced"},
          "fee 10%% higher: 202 replaced (%d %s)" % (code, out.strip()))
    check(tx_state(api, a0.hash) == 404, "the replaced tx is unknown now")
    a2 = a.sign(2, fee=50)
    code, out, _ = post(api, a2)
    check(code == 202 and json.loads(out)["status"] == "queued", "a nonce gap: 202 queued")

    code, j = get_json(api, "/v1/tx/" + a0r.hash)
    check(code == 200 and j == {"hash": a0r.hash, "status": "pending", "tx": a0r.json()},
          "GET pending: %s" % j)
    code, j = get_json(api, "/v1/tx/" + a2.hash)
    check(code == 200 and j["status"] == "queued" and j["tx"] == a2.json() and "height" not in j,
          "GET queued")
    check(tx_state(api, sha256(b"nothing").hex()) == 404, "GET of an unknown hash: 404")
    check(tx_state(api, "xyz") == 404 and tx_state(api, "ab" * 31) == 404,
          "GET of something that is not a hash: 404")

    # ---- 400 invalid json / invalid tx / bad signature, 413
    good = a.sign(1, fee=60)
    j = good.json()
    rows = [
        ("empty body", b"", 400, "invalid json\n"),
        ("not JSON", b"hello", 400, "invalid json\n"),
        ("an array", b"[1]", 400, "invalid json\n"),
        ("duplicate key", good.body()[:-1] + b',"fee":61}', 400, "invalid json\n"),
        ("unknown key", good.body()[:-1] + b',"memo":"x"}', 400, "invalid json\n"),
        ("nonce as a string", json.dumps(dict(j, nonce="1")).encode(), 400, "invalid json\n"),
        ("fee 1.5", json.dumps(j).replace('"fee": 60', '"fee": 1.5').encode(), 400,
         "invalid json\n"),
        ("trailing data", good.body() + b"{}", 400, "invalid json\n"),
        ("no fields", b"{}", 400, "invalid tx\n"),
        ("unknown type", json.dumps(dict(j, type="plaintext_v2")).encode(), 400, "invalid tx\n"),
        ("sig missing", json.dumps({k: v for k, v in j.items() if k != "sig"}).encode(), 400,
         "invalid tx\n"),
        ("from not hex", json.dumps(dict(j, **{"from": "zz" * 20})).encode(), 400,
         "invalid tx\n"),
        ("from too short", json.dumps(dict(j, **{"from": "ab" * 19})).encode(), 400,
         "invalid tx\n"),
        ("nonce 2^64", json.dumps(j).replace('"nonce": 1', '"nonce": %d' % 2**64).encode(), 400,
         "invalid tx\n"),
        ("odd data hex", json.dumps(dict(j, data="abc")).encode(), 400, "invalid tx\n"),
        ("signed by another key", json.dumps(dict(j, **{"from": b.address.hex()})).encode(),
         400, "bad signature\n"),
        ("fee changed after signing", json.dumps(dict(j, fee=61)).encode(), 400,
         "bad signature\n"),
        ("data 4097 bytes (max_tx_data 4096)", a.sign(1, data=b"\x01" * 4097).body(), 413,
         "tx too large\n"),
        ("body above the largest tx", b'{"data":"' + b"00" * 8192 + b'"}', 413,
         "tx too large\n"),
    ]
    # high S: (r, n - s) with the other recovery id is the same point, refused as malleable
    r_, s_ = good.sig[:32], int.from_bytes(good.sig[32:64], "big")
    high = r_ + (N - s_).to_bytes(32, "big") + bytes([good.sig[64] ^ 1])
    rows.append(("high S", json.dumps(dict(j, sig=high.hex())).encode(), 400, "bad signature\n"))
    for what, body, status, text in rows:
        code, out, _ = post_raw(api, body)
        check((code, out) == (status, text), "%s: %d %r" % (what, code, out))
    a1 = a.sign(1, data=b"\x02" * 4096)
    code, out, _ = post(api, a1)
    check(code == 202 and json.loads(out)["status"] == "pending",
          "data of exactly max_tx_data bytes is admitted: %d %r" % (code, out))
    check(tx_state(api, a2.hash) == "pending", "a2 was promoted from queued to pending by a1")

    # ---- 503 pool full (account_slots = 4), with Retry-After
    b_txs = [b.sign(k, fee=10 + k) for k in range(4)]
    for t in b_txs:
        code, out, _ = post(api, t)
        check(code == 202 and json.loads(out)["status"] == "pending", "b%d pending" % t.nonce)
    code, out, hdr = post(api, b.sign(4, fee=20))
    check((code, out) == (503, "pool full\n") and hdr.get("Retry-After") == "1",
          "a sender's 5th pending tx (account_slots 4): 503 pool full, Retry-After: %d %r %s" %
          (code, out, hdr.get("Retry-After")))

    # ---- a block, by a proposer duty
    H1 = 1000
    duty = propose(api, H1)
    code, blk = get_json(api, "/v1/block/%d" % H1)
    check(code == 200, "GET /v1/block/%d" % H1)
    check_block(lh, blk, H1)
    check(blk["parent_hash"] == ZERO_HASH, "the first block's parent is the zero hash")
    check(sorted(t["hash"] for t in blk["txs"]) ==
          sorted(t.hash for t in [a0r, a1, a2] + b_txs), "the block holds the seven pending txs")
    check(get_json(api, "/v1/block/latest") == (200, blk), "/v1/block/latest is that block")
    check(duty["value_hash"] == blk["block_hash"] and duty["value"]["block_hash"] ==
          blk["block_hash"] and duty["value"]["txs"] == blk["txs"],
          "the proposer duty's value is the block, value_hash its block_hash")
    r = subprocess.run([AEQUACTL, "duty", "verify", "--lock", lock_path],
                       input=json.dumps(duty).encode(), capture_output=True)
    check(r.returncode == 0 and r.stdout.decode().startswith("ok "),
          "aequactl duty verify accepts the proposer duty: %r" % r.stdout)
    for h in (H1 - 1, H1 + 1):
        check(request(api, "GET", "/v1/block/%d" % h)[0] == 404, "GET /v1/block/%d: 404" % h)
    check(request(api, "GET", "/v1/block/x1")[0] == 404, "GET /v1/block/x1: 404")
    code, j = get_json(api, "/v1/tx/" + a0r.hash)
    check(code == 200 and j == {"hash": a0r.hash, "status": "included", "height": H1,
                                "tx": a0r.json()}, "GET included, with its height: %s" % j)
    code, out, _ = post(api, a.sign(0, fee=500))
    check((code, out) == (409, "old\n"), "a nonce below the chain's: 409 old (%d %r)" % (code, out))
    a4 = a.sign(4, fee=5)
    check(post(api, a4)[0] == 202 and tx_state(api, a4.hash) == "queued", "a4 queued (a gap)")

    # ---- the metric families of the sequencer (SPEC §12.2)
    text = n.metrics_text()
    m = parse_metrics(text)
    for fam, typ in (("mempool_in_total", "counter"), ("mempool_size", "gauge"),
                     ("chain_height", "gauge"), ("block_build_seconds", "histogram"),
                     ("builder_selected_total", "counter"), ("block_sign_total", "counter")):
        check("# TYPE %s %s" % (fam, typ) in text and "# HELP %s " % fam in text,
              "%s has HELP and TYPE %s" % (fam, typ))
    for res in ("ok", "future", "dup", "replaced", "underpriced", "old", "invalid", "full"):
        check((metric(m, "mempool_in_total", result=res, source="api") or 0) >= 1,
              "mempool_in_total{result=%r,source=\"api\"} counted" % res)
    r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       capture_output=True)
    check(r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(),
          "promtool check metrics reports nothing (%r %r)" % (r.stdout, r.stderr))
    labels = {frozenset(dict(k[1])) for k in m if k[0] == "mempool_in_total"}
    check(labels == {frozenset({"result", "source"})}, "mempool_in_total labels: result, source")
    check(metric(m, "mempool_size", state="pending") == 0 and
          metric(m, "mempool_size", state="queued") == 1, "mempool_size{state}: 0 pending, 1 queued")
    check(metric(m, "chain_height") == H1, "chain_height is the last block's height")
    check(metric(m, "block_build_seconds_count") >= 1, "block_build_seconds observed")
    check(metric(m, "builder_selected_total", type="plaintext_v1") == 7,
          "builder_selected_total{type=\"plaintext_v1\"}: the block's 7 txs")
    check(metric(m, "block_sign_total", result="ok") >= 1, "block_sign_total{result=\"ok\"}")
    check(metric(m, "api_requests_total", route="/v1/tx/plain", code="202") >= 1 and
          metric(m, "api_requests_total", route="/v1/tx/{hash}", code="200") >= 1 and
          metric(m, "api_requests_total", route="/v1/block/{height}", code="200") >= 1 and
          metric(m, "api_requests_total", route="/v1/block/latest", code="200") >= 1,
          "api_requests_total names the sequencer's routes")

    # ---- workers killed with txs pending and queued: nothing lost
    c_txs = [c.sign(k, fee=30 - k) for k in range(3)]
    for t in c_txs:
        check(post(api, t)[0] == 202, "c%d pending" % t.nonce)
    c5 = c.sign(5, fee=1)
    check(post(api, c5)[0] == 202, "c5 queued")
    want = {t.hash: "pending" for t in c_txs}
    want.update({c5.hash: "queued", a4.hash: "queued"})
    for w in ("builder", "statedb", "qbft"):
        kill_worker(n, w)
        states = {h: tx_state(api, h) for h in want}
        check(states == want, "after SIGKILL of %s every tx is in its state: %s" %
              (w, sorted(states.values())))
    H2 = H1 + 7
    propose(api, H2)
    code, blk2 = get_json(api, "/v1/block/latest")
    check_block(lh, blk2, H2)
    check(blk2["parent_hash"] == blk["block_hash"], "the second block's parent is the first")
    check(sorted(t["hash"] for t in blk2["txs"]) == sorted(t.hash for t in c_txs),
          "the second block holds exactly the pending txs")
    check(tx_state(api, c5.hash) == "queued" and tx_state(api, a4.hash) == "queued",
          "the queued txs stay queued")
    check(all(tx_state(api, t.hash) == "included" for t in c_txs), "c0..c2 included")
    chain = read_chain(api, lh)
    check(chain_summary(chain) == [(H1, blk["block_hash"]), (H2, blk2["block_hash"])],
          "the chain, walked down from latest along parent_hash: the two blocks")
    check_loaded_once(n.log_text())

# ================================================================ part 2: a pool of many pages
# 320 txs of 60 kB: the pool is loaded from StateDB in 1 MiB pages, more slowly than the
# builder's retry period (0.25 s). Restarted together with StateDB, the builder loads it once
# and whole (it used to start a second load every 0.25 s beside the first, each freeing what
# the other had restored: the pool came back with a fraction of its transactions).
CONF = "[builder]\nslot_ms = 0\nmax_tx_data = 65413\n"  # the largest (lib/config.h)
with Node(config_text=CONF) as n:
    n.start()
    n.wait_ready()
    lh = lock_hash_of(os.path.join(n.dir, "cluster", "cluster-lock.json"))
    big = [s.next(fee=1 + k, data=os.urandom(60000)) for s in [Sender(lh) for _ in range(20)]
           for k in range(16)]
    sub = Submitter([n.api], rng)
    threads = [threading.Thread(target=lambda part: [sub.submit(t) for t in part],
                                args=(big[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(len(sub.accepted) == 320, "320 txs of 60 kB admitted (%s %s)" % (sub.answers,
                                                                         sub.unexpected[:2]))
    # the largest transaction the configuration allows fits every message that carries it (one
    # a little larger used to stop the builder: an IPC protocol violation)
    huge = Sender(lh).next(data=os.urandom(65413))
    code, out, _ = post(n.api, huge)
    check(code == 202 and not log_events(n.log_text(), "ipc_violation"),
          "a tx with max_tx_data = 65413 bytes of data is admitted: %d %r" % (code, out))
    big.append(huge)
    for rnd in range(3):
        w = n.workers()
        for name in ("statedb", "builder"):
            os.kill(w[name]["pid"], signal.SIGKILL)
        wait_for(lambda: all(n.workers()[x]["pid"] not in (0, w[x]["pid"]) and
                             n.workers()[x]["state"] == "ready" for x in ("statedb", "builder"))
                 and n.ready(), "builder and StateDB back", timeout=60)
        m = n.metrics()
        check(metric(m, "mempool_size", state="pending") == 321 and
              metric(m, "mempool_size", state="queued") == 0,
              "restart %d of StateDB and the builder: the 321 txs are pending again" % (rnd + 1))
    check_loaded_once(n.log_text())
    states = {tx_state(n.api, t.hash) for t in big}
    check(states == {"pending"}, "GET of each of them: pending (%s)" % states)

# ================================================================ part 3: the embedded default
with Node() as n:
    n.start()
    n.wait_ready()
    api = n.api
    lock_path = os.path.join(n.dir, "aequa-data", "cluster-lock.json")
    lh = lock_hash_of(lock_path)

    # ---- idle: slots pass, nothing happens
    first = int(time.time())
    wait_for(lambda: int(time.time()) >= first + 3, "three slots passed", timeout=10)
    m = n.metrics()
    check(metric(m, "chain_height") == 0 and request(api, "GET", "/v1/block/latest")[0] == 404,
          "an idle node makes no block")
    check(all(request(api, "GET", "/v1/duty/proposer/%d" % s)[0] == 404
              for s in range(first, first + 3)) and
          not metric(m, "qbft_decided_total", duty="proposer"),
          "and starts no proposer instance for the slots that passed")

    # ---- aequactl tx key / submit --wait / status / sign
    def ctl(*args, check_rc=True):
        r = subprocess.run([AEQUACTL, "tx"] + list(args), cwd=n.dir, capture_output=True,
                           text=True, timeout=120)
        if check_rc and r.returncode != 0:
            fail("aequactl tx %s exited %d: %s" % (" ".join(args), r.returncode, r.stderr))
        return r.stdout
    addr = ctl("key", "--out", "sender.key").strip()
    check(len(addr) == 40 and int(addr, 16) >= 0, "aequactl tx key prints an address: %s" % addr)
    out = ctl("submit", "--api", api, "--key", "sender.key", "--nonce", "0", "--gas", "21000",
              "--fee", "7", "--wait", "--timeout", "60").splitlines()
    ans = json.loads(out[0])
    check(ans["status"] == "pending" and out[1].startswith("included "),
          "aequactl tx submit --wait: a pending tx, included: %s" % out)
    height = int(out[1].split()[1])
    st = json.loads(ctl("status", "--api", api, ans["hash"]))
    check(st["status"] == "included" and st["height"] == height and st["tx"]["from"] == addr and
          st["tx"]["nonce"] == 0 and st["tx"]["fee"] == 7,
          "aequactl tx status: included at %d" % height)
    code, blk = get_json(api, "/v1/block/%d" % height)
    check(code == 200 and block_hash(lh, blk) == blk["block_hash"] and
          [t["hash"] for t in blk["txs"]] == [ans["hash"]],
          "the block at that height holds the tx, its hash recomputes")
    with open(os.path.join(n.dir, "tx1.json"), "w") as f:
        f.write(ctl("sign", "--key", "sender.key", "--nonce", "1", "--gas", "21000", "--fee",
                    "3", "--data", "c0ffee"))
    with open(os.path.join(n.dir, "tx1.json")) as f:
        signed = json.load(f)
    ans = json.loads(ctl("submit", "--api", api, "tx1.json"))
    check(ans == {"hash": tx_from_json(lh, signed).hash, "status": "pending"},
          "aequactl tx submit FILE: the hash computed here from the signed JSON")
    st = wait_for(lambda: (lambda j: j if j["status"] == "included" else None)(
        json.loads(ctl("status", "--api", api, ans["hash"]))), "tx1 included", timeout=60)
    check(st["height"] > height and st["tx"]["data"] == "c0ffee", "tx1 included after tx0")
    code, out, _ = post_raw(api, json.dumps(signed).encode())
    check((code, out) == (409, "old\n"), "posted again once included: 409 old")
    r = subprocess.run([AEQUACTL, "tx", "status", "--api", api, "00" * 32], capture_output=True,
                       text=True)
    check(r.returncode == 1 and "404" in r.stderr, "aequactl tx status of an unknown hash: "
          "exit 1, the 404 printed")

    # ---- slots on, workers SIGKILLed while txs wait
    s = Sender(lh)
    txs = []
    for w in ("qbft", "statedb", "builder"):
        batch = [s.next(fee=rng.randrange(1, 50)) for _ in range(4)]
        for t in batch:
            code, out, _ = post(api, t)
            check(code == 202, "tx %d admitted before the %s is killed" % (t.nonce, w))
        txs += batch
        kill_worker(n, w)
    wait_for(lambda: included_all(api, [txs[-1].hash]), "the last tx included", timeout=60,
             interval=0.2)
    chain = read_chain(api, lh)
    offered = {t.hash: t for t in txs}
    offered.update({x["hash"]: None for bb in chain for x in bb["txs"] if x["from"] == addr})
    problems = check_chain_txs(chain, {t.hash: t for t in txs}, offered)
    check(not problems, "every tx admitted before a kill is included once, nonces consecutive "
          "(%s)" % problems[:3])
