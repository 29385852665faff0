#!/usr/bin/env python3
"""Independent auditor for kithlog/1 and kithlog/2 exports, written from Protocol/conversation.md,
Protocol/manifest.md and Protocol/kithlog.md alone, with cbor2 and cryptography (OpenSSL).

usage: kithlog_verify.py FILE [NOW_MS]  → prints a JSON summary; exit 0 only for a complete, valid log
"""
import hashlib
import json
import sys
import time

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from kithspec import did_of, b64d

SKEW = 600_000                 # 10 minutes, ms
LIFETIME = 30 * 86_400_000     # 30 days, ms
EPOCH = 1_735_689_600_000      # 2025-01-01
HEADER = {"v", "from", "to", "topic", "ts", "net", "max_turns"}
MANIFEST = {"v", "id", "seq", "ts", "exp", "name", "bio", "interests", "model", "endpoints", "caps", "net"}
ENTRY_V1 = {"v", "conv", "seq", "prev", "author", "ts", "kind", "text", "model", "disclosed"}
ENTRY_V2 = ENTRY_V1 | {"by", "engine"}
SEAL = {"v", "conv", "head", "count", "by"}


def no_duplicates(pairs):
    """A JSON object may not repeat a key (a reader and an auditor could see different values)."""
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("a JSON object repeats a key")
    return dict(pairs)


def h(data):
    return hashlib.blake2b(data, digest_size=32).digest()


def open_record(env, expected_type, signer_field, field_sets):
    if env["type"] != expected_type:
        raise ValueError("expected %s, got %s" % (expected_type, env["type"]))
    data, sig = b64d(env["bytes"]), b64d(env["sig"])
    obj = cbor2.loads(data)
    if cbor2.dumps(obj, canonical=True) != data:
        raise ValueError("%s is not deterministic CBOR" % expected_type)
    if set(obj) not in field_sets:
        raise ValueError("%s fields differ: %r" % (expected_type, sorted(obj)))
    Ed25519PublicKey.from_public_bytes(obj[signer_field]).verify(sig, b"kith/v1/" + expected_type.encode() + b"\x00" + data)
    return obj, h(data + sig)


def check_view(env, expected, what):
    """The readable view, when present, must say exactly what the signed bytes say."""
    if "view" in env and env["view"] != expected:
        raise ValueError("the view of %s does not match its signed bytes" % what)


def producer_ok(e):
    by, engine = e["by"], e["engine"]
    if by in ("person", "node"):
        return engine == ""
    if by != "ai" or len(engine.encode()) > 128:
        return False
    kind = engine.split("/", 1)[0]
    return 1 <= len(kind) <= 32 and all(c in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in kind) \
        and all(0x21 <= ord(c) <= 0x7e for c in engine)


def main(path, now):
    with open(path, encoding="utf-8") as f:
        envs = [json.loads(line, object_pairs_hook=no_duplicates) for line in f.read().splitlines()]
    meta = envs[0]
    assert meta["format"] in ("kithlog/1", "kithlog/2"), "not a kithlog"
    header, conv = open_record(envs[1], "header", "from", [HEADER])
    check_view(envs[1], {"from": did_of(header["from"]), "to": did_of(header["to"]), "topic": header["topic"],
                         "ts": header["ts"], "max_turns": header["max_turns"]}, "the header")
    assert meta["conv"] == conv.hex(), "conv does not match the header hash"
    participants = {header["from"], header["to"]}
    assert sorted(meta["participants"]) == sorted(did_of(p) for p in participants), "participants differ"
    assert EPOCH <= header["ts"] <= now + SKEW, "the header's time is impossible"
    i = 2
    models = []  # (author, model, manifest ts)
    while i < len(envs) and envs[i]["type"] == "manifest":
        assert meta["format"] == "kithlog/2", "kithlog/1 carries no manifests"
        m, _ = open_record(envs[i], "manifest", "id", [MANIFEST])
        check_view(envs[i], {"id": did_of(m["id"]), "seq": m["seq"], "ts": m["ts"], "name": m["name"], "model": m["model"].hex()},
                   "a manifest")
        assert m["id"] in participants and m["net"] == header["net"], "a manifest by a stranger or for another network"
        models.append((m["id"], m["model"], m["ts"]))
        i += 1
    prev, seq, last, ended, entries, producers = conv, 0, None, False, 0, {}
    while i < len(envs) and envs[i]["type"] == "entry":
        e, eh = open_record(envs[i], "entry", "author", [ENTRY_V1, ENTRY_V2])
        seq += 1
        view = {"seq": e["seq"], "author": did_of(e["author"]), "kind": e["kind"], "text": e["text"], "ts": e["ts"], "hash": eh.hex()}
        if e["v"] == 2:
            assert producer_ok(e), "entry %d: a bad producer" % seq
            view["by"] = e["by"]
            if e["by"] == "ai":
                view["engine"] = e["engine"]
        check_view(envs[i], view, "entry %d" % seq)
        assert not ended, "entry after the end"
        assert e["conv"] == conv, "entry %d from another conversation" % seq
        assert e["seq"] == seq, "entry %d has seq %d" % (seq, e["seq"])
        assert e["prev"] == prev, "entry %d breaks the chain" % seq
        assert e["author"] in participants, "entry %d by a non-participant" % seq
        if seq == 1:
            assert e["author"] == header["from"], "the initiator writes entry 1"
        elif e["kind"] != "close":
            assert e["author"] != last["author"], "entry %d: turns must alternate" % seq
        assert len(e["text"].encode()) <= 4096
        ts = e["ts"]
        assert ts + SKEW >= header["ts"] and ts <= header["ts"] + LIFETIME and ts <= now + SKEW, "entry %d: an impossible time" % seq
        if last is not None:
            assert ts + (0 if e["v"] == 2 else SKEW) >= last["ts"], "entry %d: time went back" % seq
            assert not (e["v"] == 1 and last["v"] == 2), "entry %d: version 1 after version 2" % seq
        if e["v"] == 2 and e["by"] == "node":
            assert e["model"] == bytes(32), "entry %d: a node's entry names no model" % seq
        elif e["v"] == 2:
            assert any(a == e["author"] and mo == e["model"] and mts <= ts + SKEW for a, mo, mts in models), \
                "entry %d: its model commitment is in no manifest of its author" % seq
        if e["v"] == 2:
            key = "%s: %s" % (did_of(e["author"]), e["by"] + (" (%s)" % e["engine"] if e["by"] == "ai" else ""))
            producers[key] = producers.get(key, 0) + 1
        ended = e["kind"] == "close" or (e["kind"] == "decline" and seq == 2)
        prev, last, entries = eh, e, entries + 1
        i += 1
    assert ended, "not closed"
    sealed = set()
    while i < len(envs):
        s, _ = open_record(envs[i], "seal", "by", [SEAL])
        check_view(envs[i], {"by": did_of(s["by"]), "count": s["count"], "head": s["head"].hex()}, "a seal")
        assert s["conv"] == conv and s["head"] == prev and s["count"] == entries, "seal does not cover the log"
        assert s["by"] in participants
        sealed.add(s["by"])
        i += 1
    assert sealed == participants, "missing a seal"
    print(json.dumps({"conv": conv.hex(), "entries": entries, "topic": header["topic"], "complete": True, "producers": producers},
                     sort_keys=True))


if __name__ == "__main__":
    try:
        main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else int(time.time() * 1000))
    except Exception as error:  # report and fail
        print(json.dumps({"complete": False, "error": str(error)}))
        sys.exit(1)
