#!/usr/bin/env python3
"""Independent Kith transport client: Noise XX from the `noiseprotocol` package, Ed25519 and
CBOR from `cryptography` and `cbor2`. Written from Protocol/transport.md and
Protocol/disclosure.md alone.

usage: noise_interop.py HOST PORT EXPECTED_DID

Dials a running `kith run`, performs the handshake as initiator, proves a fresh identity,
verifies the node's identity proof and its hello (the network and nothing else), asks for the
node's manifest as a stranger (no answer), sends a friend request with its own manifest, and
prints a JSON summary of what it saw.
"""
import hashlib
import json
import os
import socket
import struct
import sys
import time

import cbor2
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from noise.connection import Keypair, NoiseConnection
from kithspec import did_of




def raw_public(key):
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def canonical(obj):
    return cbor2.dumps(obj, canonical=True)


def decode_canonical(data):
    obj = cbor2.loads(data)
    if canonical(obj) != bytes(data):
        raise ValueError("not deterministic CBOR")
    return obj


def signed_object(typ, payload, key):
    data = canonical(payload)
    return {"type": typ, "bytes": data, "sig": key.sign(b"kith/v1/" + typ.encode() + b"\x00" + data)}


class Framed:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, body):
        self.sock.sendall(struct.pack(">H", len(body)) + body)

    def recv(self):
        while True:
            if len(self.buf) >= 2:
                (n,) = struct.unpack(">H", self.buf[:2])
                if len(self.buf) >= 2 + n:
                    body, self.buf = self.buf[2:2 + n], self.buf[2 + n:]
                    return body
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by the node")
            self.buf += chunk


def main(host, port, expected_did):
    net = hashlib.blake2b(b"kith/v1/network/main", digest_size=32).digest()
    identity = Ed25519PrivateKey.generate()
    my_pk = raw_public(identity)
    static_private = os.urandom(32)

    noise = NoiseConnection.from_name(b"Noise_XX_25519_ChaChaPoly_BLAKE2b")
    noise.set_as_initiator()
    noise.set_keypair_from_private_bytes(Keypair.STATIC, static_private)
    noise.set_prologue(b"kith/1" + net)
    noise.start_handshake()

    sock = socket.create_connection((host, port), timeout=10)
    wire = Framed(sock)
    wire.send(noise.write_message(b""))                     # message 1: empty payload
    proof = decode_canonical(noise.read_message(wire.recv()))  # message 2: responder's proof
    responder_static = noise.noise_protocol.handshake_state.rs.public_bytes
    if set(proof) != {"id", "sig"} or len(proof["id"]) != 32:
        raise ValueError("bad proof shape")
    Ed25519PublicKey.from_public_bytes(proof["id"]).verify(proof["sig"], b"kith-noise-static:" + responder_static)
    if did_of(proof["id"]) != expected_did:
        raise ValueError("responder proved %s, expected %s" % (did_of(proof["id"]), expected_did))

    my_static = noise.noise_protocol.handshake_state.s.public_bytes
    my_proof = canonical({"id": my_pk, "sig": identity.sign(b"kith-noise-static:" + my_static)})
    wire.send(noise.write_message(my_proof))                 # message 3: initiator's proof
    assert noise.handshake_finished

    now = int(time.time() * 1000)
    wire.send(noise.encrypt(canonical({"type": "hello", "net": net})))
    hello = decode_canonical(noise.decrypt(wire.recv()))
    if hello != {"type": "hello", "net": net}:
        raise ValueError("the hello must carry exactly the network: %r" % hello)

    # A stranger asks for the profile: the node says nothing (Protocol/disclosure.md). The
    # friend request that follows is answered first, proving nothing came before it.
    wire.send(noise.encrypt(canonical({"type": "manifest-request"})))
    manifest = signed_object("manifest", {
        "v": 1, "id": my_pk, "seq": 1, "ts": now, "exp": now + 3600_000, "name": "Pyra",
        "bio": "An independent implementation.", "interests": ["interop"],
        "model": hashlib.blake2b(b"pyra", digest_size=32).digest(), "endpoints": [], "caps": [], "net": net,
    }, identity)
    a, b = sorted([my_pk, proof["id"]])
    record = signed_object("connection", {"v": 1, "a": a, "b": b, "ts": now, "by": my_pk}, identity)
    wire.send(noise.encrypt(canonical({"type": "friend-request", "record": record, "manifest": manifest})))
    reply = decode_canonical(noise.decrypt(wire.recv()))
    sock.close()
    print(json.dumps({
        "responder": did_of(proof["id"]), "me": did_of(my_pk), "reply": reply.get("type"),
        "handshake_hash": noise.get_handshake_hash().hex(),
    }))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
