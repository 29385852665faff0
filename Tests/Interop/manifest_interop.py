#!/usr/bin/env python3
"""Independent check of Kith manifests with cbor2 and cryptography (OpenSSL), no libsodium.

usage:
  manifest_interop.py verify ENVELOPE_FILE      verify a Kith-exported envelope; print its fields as JSON
  manifest_interop.py vectors VECTORS_JSON      check Protocol/vectors/manifests.json
  manifest_interop.py make OUT_FILE             write a manifest envelope signed here, for `kith verify`

Written from Protocol/encoding.md, identity.md and manifest.md only.
"""
import base64
import hashlib
import json
import sys

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives import serialization
from kithspec import b64d, b64e, b58encode, did_of

FIELDS = {"v", "id", "seq", "ts", "exp", "name", "bio", "interests", "model", "endpoints", "caps", "net"}






def parse_envelope(text):
    body = text[:-1] if text.endswith("\n") else text
    env = json.loads(body)
    if not isinstance(env, dict) or set(env) != {"type", "bytes", "sig"}:
        raise ValueError("envelope must have exactly type, bytes, sig")
    canonical = json.dumps({"type": env["type"], "bytes": env["bytes"], "sig": env["sig"]}, separators=(",", ":"))
    if canonical != body:
        raise ValueError("envelope is not in canonical text form")
    return env["type"], b64d(env["bytes"]), b64d(env["sig"])


def verify_manifest(typ, payload, sig):
    if typ != "manifest":
        raise ValueError("not a manifest")
    if len(payload) > 8192:
        raise ValueError("manifest over 8192 bytes")
    obj = cbor2.loads(payload)  # raises on trailing bytes? check below
    if cbor2.dumps(obj, canonical=True) != payload:
        raise ValueError("payload is not deterministic CBOR")
    if not isinstance(obj, dict) or set(obj) != FIELDS:
        raise ValueError("manifest fields differ from v1: %r" % sorted(obj) if isinstance(obj, dict) else "not a map")
    for key in ("v", "seq", "ts", "exp"):
        if type(obj[key]) is not int or obj[key] < 0:
            raise ValueError(key + " must be an unsigned integer")
    if obj["v"] != 1 or obj["seq"] < 1 or obj["exp"] <= obj["ts"]:
        raise ValueError("bad v, seq or exp")
    for key in ("id", "model", "net"):
        if not isinstance(obj[key], bytes) or len(obj[key]) != 32:
            raise ValueError(key + " must be 32 bytes")
    for key in ("name", "bio"):
        if not isinstance(obj[key], str):
            raise ValueError(key + " must be text")
    if not 1 <= len(obj["name"].encode()) <= 64 or len(obj["bio"].encode()) > 1024:
        raise ValueError("name or bio length")
    for key in ("interests", "endpoints", "caps"):
        if not isinstance(obj[key], list) or not all(isinstance(x, str) for x in obj[key]):
            raise ValueError(key + " must be an array of text")
    message = b"kith/v1/manifest\x00" + payload
    Ed25519PublicKey.from_public_bytes(obj["id"]).verify(sig, message)  # raises InvalidSignature
    return obj


def describe(obj, payload, sig):
    return {
        "did": did_of(obj["id"]), "seq": obj["seq"], "name": obj["name"], "interests": obj["interests"],
        "hash": hashlib.blake2b(payload + sig, digest_size=32).hexdigest(),
        "net": obj["net"].hex(),
    }


def cmd_verify(path):
    with open(path, encoding="utf-8") as f:
        typ, payload, sig = parse_envelope(f.read())
    obj = verify_manifest(typ, payload, sig)
    print(json.dumps(describe(obj, payload, sig)))


def cmd_vectors(path):
    with open(path, encoding="utf-8") as f:
        vectors = json.load(f)
    for v in vectors["valid"]:
        typ, payload, sig = parse_envelope(v["envelope"])
        obj = verify_manifest(typ, payload, sig)
        key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(v["seed"]))
        pk = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        assert pk == obj["id"], v["name"]
        assert did_of(pk) == v["did"], v["name"]
        assert payload.hex() == v["bytes"] and sig.hex() == v["sig"], v["name"]
        # Ed25519 is deterministic: OpenSSL must produce the very same signature.
        assert key.sign(bytes.fromhex(v["signing_input"])) == sig, v["name"]
        assert hashlib.blake2b(payload + sig, digest_size=32).hexdigest() == v["hash"], v["name"]
        f = v["fields"]
        assert obj["name"] == f["name"] and obj["seq"] == f["seq"] and obj["net"].hex() == f["net"], v["name"]
    rejected = 0
    for v in vectors["invalid"]:
        try:
            typ, payload, sig = parse_envelope(v["envelope"])
            verify_manifest(typ, payload, sig)
        except (ValueError, InvalidSignature, cbor2.CBORDecodeError, TypeError):
            rejected += 1
            continue
        raise AssertionError("invalid vector accepted: " + v["name"])
    print(json.dumps({"valid": len(vectors["valid"]), "rejected": rejected}))


def cmd_make(path):
    key = Ed25519PrivateKey.generate()
    pk = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    manifest = {
        "v": 1, "id": pk, "seq": 3, "ts": 1764547200000, "exp": 4102444800000, "name": "Pyra",
        "bio": "Made by an independent implementation.", "interests": ["interop", "poetry"],
        "model": hashlib.blake2b(b"python model", digest_size=32).digest(),
        "endpoints": ["tcp://127.0.0.1:7401"], "caps": [],
        "net": hashlib.blake2b(b"kith/v1/network/main", digest_size=32).digest(),
    }
    payload = cbor2.dumps(manifest, canonical=True)
    sig = key.sign(b"kith/v1/manifest\x00" + payload)
    envelope = json.dumps({"type": "manifest", "bytes": b64e(payload), "sig": b64e(sig)}, separators=(",", ":"))
    with open(path, "w", encoding="utf-8") as f:
        f.write(envelope + "\n")
    print(json.dumps({"did": did_of(pk), "hash": hashlib.blake2b(payload + sig, digest_size=32).hexdigest()}))


if __name__ == "__main__":
    commands = {"verify": cmd_verify, "vectors": cmd_vectors, "make": cmd_make}
    if len(sys.argv) != 3 or sys.argv[1] not in commands:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    commands[sys.argv[1]](sys.argv[2])
