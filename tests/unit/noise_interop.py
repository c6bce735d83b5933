#!/usr/bin/python3
"""Interoperability of Aequa's P2P handshake with an independent Noise implementation.

The peer here is python3-dissononce (Debian's; importable only by /usr/bin/python3) for
Noise_XX_25519_ChaChaPoly_SHA256, plus the Aequa identity binding written from the format in
workers/p2p/handshake.h and identity.h (secp256k1 ECDSA via python3-cryptography) and the frame
format of workers/p2p/frame.h. The C side is p2p_interop_peer, which uses the node's own code.

    noise_interop.py AEQUACTL P2P_INTEROP_PEER

Checks, over a socketpair, with C as initiator and as responder: both handshakes complete, the
C side identifies this peer as operator 1, transport frames decrypt both ways, and both sides
derive the same handshake hash. Then a forged identity (a signature over another static key)
is denied by the C responder, and a tampered handshake message makes it fail.
"""
import hashlib
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from dissononce.cipher.chachapoly import ChaChaPolyCipher
from dissononce.dh.x25519.x25519 import X25519DH
from dissononce.hash.sha256 import SHA256Hash
from dissononce.processing.handshakepatterns.interactive.XX import XXHandshakePattern
from dissononce.processing.impl.cipherstate import CipherState
from dissononce.processing.impl.handshakestate import HandshakeState
from dissononce.processing.impl.symmetricstate import SymmetricState

PROLOGUE = b"aequa/p2p/v1"
DOMAIN = b"aequa-noise-static-key:"
TOPIC_QBFT, TOPIC_TX = 1, 2
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def sign_compact_low_s(key, digest):
    der = key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    r, s = utils.decode_dss_signature(der)
    if s > SECP256K1_N // 2:
        s = SECP256K1_N - s
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def payload(node_key, static_pub, lock_hash, certify=None):
    """The handshake payload: msgpack [1, bin33 node_pub, bin64 sig, bin32 lock_hash]."""
    pub = node_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    digest = hashlib.sha256(DOMAIN + (certify or static_pub)).digest()
    sig = sign_compact_low_s(node_key, digest)
    return (bytes([0x94, 0x01, 0xC4, 33]) + pub + bytes([0xC4, 64]) + sig
            + bytes([0xC4, 32]) + lock_hash)


def send_frame(sock, body):
    sock.sendall(struct.pack(">I", len(body)) + body)


def recv_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError("C side closed the link")
        out += chunk
    return out


def recv_frame(sock):
    (n,) = struct.unpack(">I", recv_exact(sock, 4))
    return recv_exact(sock, n)


def new_handshake(initiator, static):
    hs = HandshakeState(SymmetricState(CipherState(ChaChaPolyCipher()), SHA256Hash()), X25519DH())
    hs.initialize(XXHandshakePattern(), initiator, PROLOGUE, s=static)
    return hs


def python_side(sock, initiator, node_key, lock_hash, forge=False, tamper=False):
    dh = X25519DH()
    static = dh.generate_keypair()
    certify = dh.generate_keypair().public.data if forge else None
    mine = payload(node_key, static.public.data, lock_hash, certify)
    hs = new_handshake(initiator, static)
    if initiator:
        buf = bytearray()
        hs.write_message(b"", buf)
        send_frame(sock, bytes(buf))
        got = bytearray()
        hs.read_message(recv_frame(sock), got)
        buf = bytearray()
        ciphers = hs.write_message(mine, buf)
        if tamper:
            buf[-1] ^= 1
        send_frame(sock, bytes(buf))
        send_c, recv_c = ciphers
    else:
        got = bytearray()
        hs.read_message(recv_frame(sock), got)
        assert got == b"", "message 1 must carry no payload"
        buf = bytearray()
        hs.write_message(mine, buf)
        if tamper:
            buf[-1] ^= 1
        send_frame(sock, bytes(buf))
        got = bytearray()
        ciphers = hs.read_message(recv_frame(sock), got)
        recv_c, send_c = ciphers
    # The C side's identity payload: version 1, its key, a signature over its Noise static key.
    assert got[:4] == bytes([0x94, 0x01, 0xC4, 33]), got[:4].hex()
    c_pub, c_sig = bytes(got[4:37]), bytes(got[39:103])
    assert bytes(got[105:137]) == lock_hash
    c_static = hs.rs.data
    r, s = int.from_bytes(c_sig[:32], "big"), int.from_bytes(c_sig[32:], "big")
    assert s <= SECP256K1_N // 2, "signature is not low-S"
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), c_pub).verify(
        utils.encode_dss_signature(r, s), hashlib.sha256(DOMAIN + c_static).digest(),
        ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    if forge or tamper:
        return None
    body = recv_frame(sock)
    plain = recv_c.decrypt_with_ad(b"", body)
    assert plain == bytes([TOPIC_QBFT]) + b"hello from C", plain
    send_frame(sock, send_c.encrypt_with_ad(b"", bytes([TOPIC_TX]) + b"hello from python"))
    plain = recv_c.decrypt_with_ad(b"", recv_frame(sock))
    assert plain[0] == TOPIC_QBFT
    return plain[1:] == hs.symmetricstate.get_handshake_hash()


def run(peer, lock, c_key, py_key, lock_hash, c_initiator, forge=False, tamper=False):
    a, b = socket.socketpair()
    role = "initiator" if c_initiator else "responder"
    proc = subprocess.Popen([peer, lock, c_key, "0", role, "1", str(b.fileno())],
                            pass_fds=[b.fileno()])
    b.close()
    a.settimeout(20)
    try:
        same_hash = python_side(a, not c_initiator, py_key, lock_hash, forge, tamper)
    except EOFError:
        same_hash = None
    a.close()
    return proc.wait(timeout=20), same_hash


def main():
    aequactl, peer = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="aequa-interop-") as tmp:
        subprocess.run([aequactl, "cluster", "create", "--nodes", "2", "--out", tmp],
                       check=True, stdout=subprocess.DEVNULL)
        lock = os.path.join(tmp, "cluster-lock.json")
        with open(lock) as f:
            lock_hash = bytes.fromhex(json.load(f)["lock_hash"])
        with open(os.path.join(tmp, "node1", "node.key")) as f:
            py_key = ec.derive_private_key(int(f.read().strip(), 16), ec.SECP256K1())
        c_key = os.path.join(tmp, "node0", "node.key")

        for c_initiator in (True, False):
            rc, same = run(peer, lock, c_key, py_key, lock_hash, c_initiator)
            assert rc == 0, f"C side ({c_initiator=}) exited {rc}"
            assert same, "handshake hashes differ"
        # A forged identity: the C responder denies it (exit 3); so does the C initiator.
        rc, _ = run(peer, lock, c_key, py_key, lock_hash, False, forge=True)
        assert rc == 3, f"forged identity: C responder exited {rc}, want 3 (denied)"
        rc, _ = run(peer, lock, c_key, py_key, lock_hash, True, forge=True)
        assert rc == 3, f"forged identity: C initiator exited {rc}, want 3 (denied)"
        # A flipped bit in the last handshake message: the C side fails the handshake (exit 2).
        rc, _ = run(peer, lock, c_key, py_key, lock_hash, False, tamper=True)
        assert rc == 2, f"tampered message 3: C responder exited {rc}, want 2"
        rc, _ = run(peer, lock, c_key, py_key, lock_hash, True, tamper=True)
        assert rc == 2, f"tampered message 2: C initiator exited {rc}, want 2"
    print("noise interop with dissononce: ok")


if __name__ == "__main__":
    main()
