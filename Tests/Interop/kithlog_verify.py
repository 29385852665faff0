#!/usr/bin/env python3
"""Independent auditor for kithlog/1 exports, written from Protocol/conversation.md and
Protocol/kithlog.md alone, with cbor2 and cryptography (OpenSSL).

usage: kithlog_verify.py FILE   → prints a JSON summary; exit 0 only for a complete, valid log
"""
import base64
import hashlib
import json
import sys

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from kithspec import did_of, b64d





def h(data):
    return hashlib.blake2b(data, digest_size=32).digest()


def open_record(line, expected_type, signer_field, fields):
    env = json.loads(line)
    if env["type"] != expected_type:
        raise ValueError("expected %s, got %s" % (expected_type, env["type"]))
    data, sig = b64d(env["bytes"]), b64d(env["sig"])
    obj = cbor2.loads(data)
    if cbor2.dumps(obj, canonical=True) != data:
        raise ValueError("%s is not deterministic CBOR" % expected_type)
    if set(obj) != fields:
        raise ValueError("%s fields differ: %r" % (expected_type, sorted(obj)))
    Ed25519PublicKey.from_public_bytes(obj[signer_field]).verify(sig, b"kith/v1/" + expected_type.encode() + b"\x00" + data)
    return obj, h(data + sig)


def main(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    meta = json.loads(lines[0])
    assert meta["format"] == "kithlog/1", "not kithlog/1"
    header, conv = open_record(lines[1], "header", "from", {"v", "from", "to", "topic", "ts", "net", "max_turns"})
    assert meta["conv"] == conv.hex(), "conv does not match the header hash"
    participants = {header["from"], header["to"]}
    assert sorted(meta["participants"]) == sorted(did_of(p) for p in participants), "participants differ"
    prev, seq, last_author, ended, entries = conv, 0, None, False, 0
    i = 2
    fields = {"v", "conv", "seq", "prev", "author", "ts", "kind", "text", "model", "disclosed"}
    while i < len(lines) and json.loads(lines[i])["type"] == "entry":
        e, eh = open_record(lines[i], "entry", "author", fields)
        seq += 1
        assert not ended, "entry after the end"
        assert e["conv"] == conv, "entry %d from another conversation" % seq
        assert e["seq"] == seq, "entry %d has seq %d" % (seq, e["seq"])
        assert e["prev"] == prev, "entry %d breaks the chain" % seq
        assert e["author"] in participants, "entry %d by a non-participant" % seq
        if seq == 1:
            assert e["author"] == header["from"], "the initiator writes entry 1"
        elif e["kind"] != "close":
            assert e["author"] != last_author, "entry %d: turns must alternate" % seq
        assert len(e["text"].encode()) <= 4096
        ended = e["kind"] == "close" or (e["kind"] == "decline" and seq == 2)
        prev, last_author, entries = eh, e["author"], entries + 1
        i += 1
    assert ended, "not closed"
    sealed = set()
    while i < len(lines):
        s, _ = open_record(lines[i], "seal", "by", {"v", "conv", "head", "count", "by"})
        assert s["conv"] == conv and s["head"] == prev and s["count"] == entries, "seal does not cover the log"
        assert s["by"] in participants
        sealed.add(s["by"])
        i += 1
    assert sealed == participants, "missing a seal"
    print(json.dumps({"conv": conv.hex(), "entries": entries, "topic": header["topic"], "complete": True}))


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except Exception as error:  # report and fail
        print(json.dumps({"complete": False, "error": str(error)}))
        sys.exit(1)
