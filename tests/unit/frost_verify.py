#!/usr/bin/python3
"""Verify a FROST(secp256k1, SHA-256) signature (RFC 9591) without lib/frost.c.

    frost_verify.py GROUP_PUB_HEX MSG_HEX SIG_HEX

GROUP_PUB_HEX is the 33-byte compressed group public key, MSG_HEX the signed message, SIG_HEX the
65-byte signature R (33, compressed) || z (32, big-endian). Exit status 0 if the signature is
valid, 1 if it is not (malformed input included), 2 on a usage error.

Written from the verification equation alone, with the standard library's integers and hashlib:
z*G == R + c*PK with c = H2(R || PK || msg), H2 being hash_to_field with expand_message_xmd
(SHA-256), DST "FROST-secp256k1-SHA256-v1chal", L = 48, reduced mod the group order
(RFC 9591 section 6.5, RFC 9380 section 5). Shares no code with the C implementation, so a
signature both accept is checked twice, independently.
"""
import hashlib
import sys

P = 2**256 - 2**32 - 977
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
     0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)
CONTEXT = b"FROST-secp256k1-SHA256-v1"


def decode_point(b):
    """SEC1 compressed point, validated (on the curve, not the identity); None if invalid."""
    if len(b) != 33 or b[0] not in (2, 3):
        return None
    x = int.from_bytes(b[1:], "big")
    if x >= P:
        return None
    a = (pow(x, 3, P) + 7) % P
    y = pow(a, (P + 1) // 4, P)  # P = 3 mod 4
    if y * y % P != a:
        return None
    if y % 2 != b[0] % 2:
        y = P - y
    return (x, y)


def add(p, q):
    """Affine point addition; None is the identity."""
    if p is None:
        return q
    if q is None:
        return p
    if p[0] == q[0]:
        if (p[1] + q[1]) % P == 0:
            return None
        lam = 3 * p[0] * p[0] * pow(2 * p[1], -1, P) % P
    else:
        lam = (q[1] - p[1]) * pow(q[0] - p[0], -1, P) % P
    x = (lam * lam - p[0] - q[0]) % P
    return (x, (lam * (p[0] - x) - p[1]) % P)


def mul(k, p):
    r = None
    while k:
        if k & 1:
            r = add(r, p)
        p = add(p, p)
        k >>= 1
    return r


def expand_message_xmd(msg, dst, length):
    ell = (length + 31) // 32
    dst_prime = dst + bytes([len(dst)])
    b0 = hashlib.sha256(bytes(64) + msg + length.to_bytes(2, "big") + b"\0" + dst_prime).digest()
    b = [hashlib.sha256(b0 + b"\x01" + dst_prime).digest()]
    for i in range(2, ell + 1):
        x = bytes(u ^ v for u, v in zip(b0, b[-1]))
        b.append(hashlib.sha256(x + bytes([i]) + dst_prime).digest())
    return b"".join(b)[:length]


def h2(m):
    return int.from_bytes(expand_message_xmd(m, CONTEXT + b"chal", 48), "big") % N


def verify(pub, msg, sig):
    if len(sig) != 65:
        return False
    pk, r = decode_point(pub), decode_point(sig[:33])
    z = int.from_bytes(sig[33:], "big")
    if pk is None or r is None or z >= N:
        return False
    c = h2(sig[:33] + pub + msg)
    return mul(z, G) == add(r, mul(c, pk))


def main(argv):
    if len(argv) != 4:
        print("usage: frost_verify.py GROUP_PUB_HEX MSG_HEX SIG_HEX", file=sys.stderr)
        return 2
    try:
        pub, msg, sig = (bytes.fromhex(a) for a in argv[1:])
    except ValueError:
        print("frost_verify: not hex", file=sys.stderr)
        return 1
    ok = verify(pub, msg, sig)
    print("valid" if ok else "invalid")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
