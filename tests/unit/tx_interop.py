#!/usr/bin/python3
"""An independent check of aequactl tx key / tx sign with Debian's python3-ecdsa (pure Python
secp256k1; importable only by /usr/bin/python3), written from SPEC §9 alone:

    tx_interop.py AEQUACTL

For a one-node cluster lock made by aequactl cluster create and a key made by aequactl tx key:
the key file is 64 hex characters and a newline, mode 0600, and its key's address (the first
20 bytes of SHA-256 of the compressed public key) is what tx key printed. For several signed
transactions (empty and non-empty data, the largest integers): this file recomputes the signing
bytes "aequa/tx/plaintext_v1" || lock_hash || from || nonce || gas || fee (8-byte big-endian)
|| u32 data length || data, recovers the public key from r, s and the recovery id by the curve
arithmetic itself (not through a library call), and checks that it is the key's, that its
address is "from", that S is low, that the recovery id is 0 or 1, and that python3-ecdsa
verifies the signature.
"""
import hashlib
import json
import os
import stat
import subprocess
import sys
import tempfile

from ecdsa import SECP256k1, SigningKey, VerifyingKey
from ecdsa.ellipticcurve import Point
from ecdsa.util import sigdecode_string

N = SECP256k1.order
P = SECP256k1.curve.p()
G = SECP256k1.generator


def run(*args):
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r.stdout


def compressed(point):
    return (b"\x03" if point.y() & 1 else b"\x02") + point.x().to_bytes(32, "big")


def recover(digest, r, s, recid):
    """Q = r^-1 (s R - e G), R the point with x = r (+ n if recid & 2), y parity recid & 1."""
    x = r + (recid >> 1) * N
    if x >= P:
        return None
    y = pow((x * x * x + 7) % P, (P + 1) // 4, P)
    if y & 1 != recid & 1:
        y = P - y
    R = Point(SECP256k1.curve, x, y)
    e = int.from_bytes(digest, "big") % N
    return (R * s + G * ((-e) % N)) * pow(r, -1, N)


def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)


def main():
    aequactl = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        run(aequactl, "cluster", "create", "--nodes", "1", "--out", os.path.join(d, "c"))
        lock_path = os.path.join(d, "c", "cluster-lock.json")
        with open(lock_path) as f:
            lock_hash = bytes.fromhex(json.load(f)["lock_hash"])
        key_path = os.path.join(d, "sender.key")
        printed = run(aequactl, "tx", "key", "--out", key_path).strip()
        check(stat.S_IMODE(os.stat(key_path).st_mode) == 0o600, "key file mode is not 0600")
        with open(key_path) as f:
            text = f.read()
        check(len(text) == 65 and text.endswith("\n"), "key file is not 64 hex and a newline")
        sk = SigningKey.from_string(bytes.fromhex(text.strip()), curve=SECP256k1)
        pub = sk.get_verifying_key().to_string("compressed")
        address = hashlib.sha256(pub).digest()[:20]
        check(printed == address.hex(), f"tx key printed {printed}, address is {address.hex()}")

        cases = [(0, 21000, 1, ""), (7, 1, 2, "00ff10"), (2**64 - 2, 2**64 - 1, 2**64 - 1,
                                                            "ab" * 300)]
        for nonce, gas, fee, data in cases:
            args = [aequactl, "tx", "sign", "--key", key_path, "--lock", lock_path, "--nonce",
                    str(nonce), "--gas", str(gas), "--fee", str(fee)]
            if data:
                args += ["--data", data]
            tx = json.loads(run(*args))
            check(set(tx) == {"type", "from", "nonce", "gas", "fee", "data", "sig"},
                  f"unexpected keys {sorted(tx)}")
            check(tx["type"] == "plaintext_v1", "type")
            check((tx["nonce"], tx["gas"], tx["fee"], tx["data"]) == (nonce, gas, fee, data),
                  "fields changed")
            frm = bytes.fromhex(tx["from"])
            check(frm == address, "from is not the key's address")
            raw = bytes.fromhex(data)
            signing = (b"aequa/tx/plaintext_v1" + lock_hash + frm + nonce.to_bytes(8, "big") +
                       gas.to_bytes(8, "big") + fee.to_bytes(8, "big") +
                       len(raw).to_bytes(4, "big") + raw)
            digest = hashlib.sha256(signing).digest()
            sig = bytes.fromhex(tx["sig"])
            check(len(sig) == 65, "sig is not 65 bytes")
            r, s, recid = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
            check(recid in (0, 1), f"recovery id {recid}")
            check(0 < s <= N // 2, "S is not low")
            q = recover(digest, r, s, recid)
            check(q is not None and compressed(q) == pub, "the recovered key is not the signer's")
            check(hashlib.sha256(compressed(q)).digest()[:20] == frm,
                  "the recovered key's address is not from")
            vk = VerifyingKey.from_string(pub, curve=SECP256k1)
            check(vk.verify_digest(sig[:64], digest, sigdecode=sigdecode_string),
                  "python3-ecdsa does not verify the signature")
            print(f"ok nonce={nonce} data={len(raw)} bytes recid={recid}")


if __name__ == "__main__":
    main()
