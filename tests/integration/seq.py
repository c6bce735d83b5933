"""Sequencer helpers for tests (SPEC §9, §11.1), written from the spec, independent of the node:

 - Sender: a secp256k1 key (python3-ecdsa's curve arithmetic; Debian's /usr/bin/python3) that
   signs plaintext_v1 transactions: signing bytes, recoverable low-S signature, tx hash;
 - msgpack encoding of a transaction and of a block, so a block's hash is recomputed from the
   JSON a node serves (block_hash = SHA-256 of the canonical encoding, proto/block.h);
 - the canonical selection order of a set of transactions (highest-fee head first, ties: lower
   address), to check that a decided block is exactly its set's order;
 - submitting a transaction to random nodes until one admits it, and reading a node's whole
   chain by walking down from /v1/block/latest along parent_hash.
"""
import hashlib
import json
import secrets
import threading

from ecdsa import SECP256k1

from harness import *

N = SECP256k1.order
G = SECP256k1.generator
DOMAIN = b"aequa/tx/plaintext_v1"
ZERO_HASH = "00" * 32


def sha256(b):
    return hashlib.sha256(b).digest()


def lock_hash_of(lock_path):
    with open(lock_path) as f:
        return bytes.fromhex(json.load(f)["lock_hash"])


# ---------------------------------------------------------------- msgpack (what the node writes)

def mp_uint(v):
    if v < 0x80:
        return bytes([v])
    if v <= 0xff:
        return b"\xcc" + v.to_bytes(1, "big")
    if v <= 0xffff:
        return b"\xcd" + v.to_bytes(2, "big")
    if v <= 0xffffffff:
        return b"\xce" + v.to_bytes(4, "big")
    return b"\xcf" + v.to_bytes(8, "big")


def mp_bin(b):
    if len(b) <= 0xff:
        return b"\xc4" + bytes([len(b)]) + b
    if len(b) <= 0xffff:
        return b"\xc5" + len(b).to_bytes(2, "big") + b
    return b"\xc6" + len(b).to_bytes(4, "big") + b


def mp_array(items):
    n = len(items)
    if n < 16:
        head = bytes([0x90 | n])
    elif n <= 0xffff:
        head = b"\xdc" + n.to_bytes(2, "big")
    else:
        head = b"\xdd" + n.to_bytes(4, "big")
    return head + b"".join(items)


# ---------------------------------------------------------------- transactions

def signing_bytes(lock_hash, frm, nonce, gas, fee, data):
    return (DOMAIN + lock_hash + frm + nonce.to_bytes(8, "big") + gas.to_bytes(8, "big") +
            fee.to_bytes(8, "big") + len(data).to_bytes(4, "big") + data)


def tx_wire(frm, nonce, gas, fee, data, sig):
    """The canonical binary encoding: [1, from, nonce, gas, fee, data, sig]."""
    return mp_array([mp_uint(1), mp_bin(frm), mp_uint(nonce), mp_uint(gas), mp_uint(fee),
                     mp_bin(data), mp_bin(sig)])


class Tx:
    def __init__(self, lock_hash, frm, nonce, gas, fee, data, sig):
        self.frm, self.nonce, self.gas, self.fee, self.data, self.sig = \
            frm, nonce, gas, fee, data, sig
        self.hash = sha256(signing_bytes(lock_hash, frm, nonce, gas, fee, data) + sig).hex()

    def json(self):
        return {"type": "plaintext_v1", "from": self.frm.hex(), "nonce": self.nonce,
                "gas": self.gas, "fee": self.fee, "data": self.data.hex(), "sig": self.sig.hex()}

    def body(self):
        return json.dumps(self.json()).encode()


def tx_from_json(lock_hash, j):
    return Tx(lock_hash, bytes.fromhex(j["from"]), j["nonce"], j["gas"], j["fee"],
              bytes.fromhex(j["data"]), bytes.fromhex(j["sig"]))


class Sender:
    """A secp256k1 key; its address is the first 20 bytes of SHA-256 of the compressed key."""

    def __init__(self, lock_hash):
        self.lock_hash = lock_hash
        self.d = secrets.randbelow(N - 1) + 1
        p = G * self.d
        self.pub = (b"\x03" if p.y() & 1 else b"\x02") + p.x().to_bytes(32, "big")
        self.address = sha256(self.pub)[:20]
        self.nonce = 0  # the next nonce to sign

    def sign(self, nonce, gas=21000, fee=1, data=b""):
        """ECDSA over SHA-256 of the signing bytes: r || s (low S) || recovery id."""
        e = int.from_bytes(sha256(signing_bytes(self.lock_hash, self.address, nonce, gas, fee,
                                                data)), "big") % N
        while True:
            k = secrets.randbelow(N - 1) + 1
            R = G * k
            r = R.x() % N
            s = pow(k, -1, N) * (e + r * self.d) % N
            if r and s:
                break
        recid = (R.y() & 1) | (2 if R.x() >= N else 0)
        if s > N // 2:
            s, recid = N - s, recid ^ 1
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([recid])
        return Tx(self.lock_hash, self.address, nonce, gas, fee, data, sig)

    def next(self, gas=21000, fee=1, data=b""):
        tx = self.sign(self.nonce, gas, fee, data)
        self.nonce += 1
        return tx


# ---------------------------------------------------------------- blocks

def block_encoding(lock_hash, b):
    """The canonical bytes of a block served as JSON (and a check of each tx's hash)."""
    txs = []
    for j in b["txs"]:
        t = tx_from_json(lock_hash, j)
        if t.hash != j["hash"]:
            raise ValueError("block %d: tx hash %s, recomputed %s" % (b["height"], j["hash"],
                                                                       t.hash))
        txs.append(mp_bin(tx_wire(t.frm, t.nonce, t.gas, t.fee, t.data, t.sig)))
    return mp_array([mp_uint(b["height"]), mp_bin(bytes.fromhex(b["parent_hash"])),
                     mp_uint(b["proposer"]), mp_array(txs)])


def block_hash(lock_hash, b):
    return sha256(block_encoding(lock_hash, b)).hex()


def canonical_order(txs):
    """The selection order of a set of txs (dicts of a block's JSON): repeatedly the head with
    the highest fee among the senders' lowest nonces, ties: lower address."""
    by_sender = {}
    for t in txs:
        by_sender.setdefault(t["from"], []).append(t)
    for q in by_sender.values():
        q.sort(key=lambda t: t["nonce"])
    out = []
    while by_sender:
        frm = min(by_sender, key=lambda a: (-by_sender[a][0]["fee"], bytes.fromhex(a)))
        out.append(by_sender[frm].pop(0))
        if not by_sender[frm]:
            del by_sender[frm]
    return out


# ---------------------------------------------------------------- the API

def post_tx(api, tx, timeout=10):
    code, body, hdr = request(api, "POST", "/v1/tx/plain", body=tx.body(),
                              headers={"Content-Type": "application/json"}, timeout=timeout)
    return code, body, hdr


def get_json(api, path, timeout=10):
    code, body, _ = request(api, "GET", path, timeout=timeout)
    return code, (json.loads(body) if code == 200 else body)


class Submitter:
    """Submits transactions to random nodes until one admits each: 202 anywhere, or 409 dup/old
    (some node holds or included it already). 503 and connection errors try another node; any
    other answer is recorded in unexpected and the tx counts as not admitted. Remembers every
    tx that got a 202 from any node (accepted) and every tx offered. Thread-safe."""

    def __init__(self, apis, rng, deadline_s=120):
        self.apis = list(apis)
        self.rng = rng
        self.deadline_s = deadline_s
        self.lock = threading.Lock()
        self.accepted = {}  # hash -> tx (202 from some node)
        self.offered = {}   # hash -> tx (every tx submit() was given)
        self.answers = {}   # "202 pending", "409 dup", "503 unavailable", "error" ... -> count
        self.unexpected = []  # "tx HASH: CODE BODY from API"

    def _count(self, what):
        with self.lock:
            self.answers[what] = self.answers.get(what, 0) + 1

    def submit(self, tx, apis=None):
        """True once some node admitted the tx; False if none did before the deadline."""
        with self.lock:
            self.offered[tx.hash] = tx
        deadline = time.monotonic() + self.deadline_s
        while time.monotonic() < deadline:
            api = self.rng.choice(apis or self.apis)
            try:
                code, body, _ = post_tx(api, tx)
            except OSError:
                self._count("error")
                time.sleep(0.05)
                continue
            text = body.decode(errors="replace").strip()
            if code == 202:
                self._count("202 " + json.loads(body)["status"])
                with self.lock:
                    self.accepted[tx.hash] = tx
                return True
            self._count("%d %s" % (code, text))
            if code == 409 and text in ("dup", "old"):
                return True
            if code != 503:
                with self.lock:
                    self.unexpected.append("tx %s (nonce %d): %d %r from %s" %
                                           (tx.hash, tx.nonce, code, text, api))
                return False
            time.sleep(0.05)
        return False


def stream(submitter, senders, count, threads=8, apis=None, stop=None, pause=0.0):
    """Each sender submits count txs in nonce order (a sender's next tx once its previous one
    was admitted); senders are spread over threads, each pausing pause seconds after a tx (a
    rate, not a wait). Stops early when stop (an Event) is set. Returns the txs no node
    admitted."""
    errors = []
    stop = stop or threading.Event()

    def run(group):
        for _ in range(count):
            for s in group:
                if stop.is_set():
                    return
                tx = s.next(fee=1 + submitter.rng.randrange(20))
                if not submitter.submit(tx, apis):
                    errors.append(tx.hash)
                    return
                if pause:
                    stop.wait(pause)
    groups = [senders[i::threads] for i in range(threads)]
    ts = [threading.Thread(target=run, args=(g,)) for g in groups if g]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return errors


# ---------------------------------------------------------------- chains

def read_chain(api, lock_hash):
    """The node's chain from its latest block down to the first (parent = zero hash), walking
    every height in between: [block JSON ascending]. Checks each block's recomputed hash and
    its link to the block below it."""
    code, latest = get_json(api, "/v1/block/latest")
    if code == 404:
        return []
    if code != 200:
        raise ValueError("%s /v1/block/latest: %d" % (api, code))
    blocks = [latest]
    want = latest["parent_hash"]
    h = latest["height"] - 1
    while want != ZERO_HASH:
        if h <= 0:
            raise ValueError("%s: parent %s not found below height %d" % (api, want,
                                                                         blocks[-1]["height"]))
        code, b = get_json(api, "/v1/block/%d" % h)
        if code == 200:
            if b["block_hash"] != want:
                raise ValueError("%s: block %d is %s, its child names %s" %
                                 (api, h, b["block_hash"], want))
            blocks.append(b)
            want = b["parent_hash"]
        elif code != 404:
            raise ValueError("%s /v1/block/%d: %d" % (api, h, code))
        h -= 1
    blocks.reverse()
    for b in blocks:
        if block_hash(lock_hash, b) != b["block_hash"]:
            raise ValueError("%s: block %d's hash does not recompute" % (api, b["height"]))
    return blocks


def chain_summary(blocks):
    return [(b["height"], b["block_hash"]) for b in blocks]


def check_chain_txs(blocks, accepted, offered):
    """Every accepted tx included exactly once, nothing that was never offered, every sender's
    nonces consecutive from 0 in chain order, every block in canonical order. Returns a list of
    problems (empty when all hold)."""
    problems = []
    seen = {}
    nonces = {}
    for b in blocks:
        if b["txs"] != canonical_order(b["txs"]):
            problems.append("block %d is not in canonical order" % b["height"])
        for t in b["txs"]:
            if t["hash"] in seen:
                problems.append("tx %s in blocks %d and %d" % (t["hash"], seen[t["hash"]],
                                                              b["height"]))
            seen[t["hash"]] = b["height"]
            if t["hash"] not in offered:
                problems.append("block %d holds tx %s that no one offered" % (b["height"],
                                                                              t["hash"]))
            n = nonces.get(t["from"], 0)
            if t["nonce"] != n:
                problems.append("sender %s: nonce %d after %d" % (t["from"], t["nonce"], n - 1))
            nonces[t["from"]] = t["nonce"] + 1
    missing = [h for h in accepted if h not in seen]
    if missing:
        problems.append("%d accepted txs not included, e.g. %s" % (len(missing), missing[0]))
    return problems


def included_all(api, hashes):
    """True when GET /v1/tx/{hash} says included for every hash."""
    for h in hashes:
        code, j = get_json(api, "/v1/tx/" + h)
        if code != 200 or j["status"] != "included":
            return False
    return True


# ---------------------------------------------------------------- logs

def log_events(text, msg, **fields):
    """The log lines (JSON objects) of one event whose fields have these values."""
    out = []
    for line in text.splitlines():
        if '"msg":"%s"' % msg not in line:
            continue
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if all(e.get(k) == v for k, v in fields.items()):
            out.append(e)
    return out


def check_loaded_once(text, who="the node"):
    loads = log_events(text, "consensus_builder", worker="builder", event="loaded")
    per_pid = {}
    for e in loads:
        per_pid[e["pid"]] = per_pid.get(e["pid"], 0) + 1
    check(per_pid and set(per_pid.values()) == {1},
          "%s: every builder incarnation loaded the chain and the pool once: %s" % (who, per_pid))
