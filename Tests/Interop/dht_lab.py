#!/usr/bin/env python3
"""A private Mainline DHT of libtorrent nodes on loopback, driven over stdin/stdout (JSON lines).

Started by the Kith tests as an independent implementation of BEP 5 and BEP 44. Each node runs on
its own 127.X.0.1 (one /24 each, so libtorrent's default routing restrictions hold); no node is
given any address outside loopback (dht_bootstrap_nodes is emptied), and the process exits when
its stdin closes or after --lifetime seconds.

Commands (one JSON object per line), each answered by one JSON line:
  {"op": "add_node", "host": H, "port": P}                 every node learns H:P
  {"op": "put", "node": i, "seed": hex, "value": hex, "salt": hex}
        node i stores a mutable item whose v is the byte string `value`, signed with the Ed25519
        seed (libtorrent wants the 64-byte expanded secret); answers {"ok", "seq", "stored"}
  {"op": "get", "node": i, "key": hex, "salt": hex}
        answers {"found", "seq", "value" (hex), "txt": {name: [strings]} when v is a DNS message}
  {"op": "stats"}                                          routing-table sizes
"""
import argparse
import hashlib
import json
import sys
import threading
import time

import dns.message
import libtorrent as lt
import zbase32
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def expanded_secret(seed: bytes) -> bytes:
    h = bytearray(hashlib.sha512(seed).digest())
    h[0] &= 248
    h[31] &= 127
    h[31] |= 64
    return bytes(h)


def public_key(seed: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def make_session(host: str, port: int, bootstrap: str) -> lt.session:
    return lt.session({
        "listen_interfaces": f"{host}:{port}",
        "enable_dht": True,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "dht_bootstrap_nodes": bootstrap,
        "alert_mask": lt.alert.category_t.dht_notification | lt.alert.category_t.error_notification,
        "dht_announce_interval": 3600,
    })


def wait_alert(ses: lt.session, accept, timeout: float):
    deadline = time.monotonic() + timeout
    best = None
    while time.monotonic() < deadline:
        ses.wait_for_alert(200)
        for alert in ses.pop_alerts():
            verdict = accept(alert)
            if verdict == "done":
                return alert
            if verdict == "keep":
                best = alert
    return best


def dht_nodes(ses: lt.session) -> int:
    ses.post_dht_stats()
    alert = wait_alert(ses, lambda a: "done" if isinstance(a, lt.dht_stats_alert) else None, 2)
    if alert is None:
        return 0
    return sum(bucket["num_nodes"] for bucket in alert.routing_table)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=12)
    parser.add_argument("--first", type=int, default=20, help="X of the first 127.X.0.1")
    parser.add_argument("--port", type=int, default=6881)
    parser.add_argument("--lifetime", type=float, default=600)
    args = parser.parse_args()

    timer = threading.Timer(args.lifetime, lambda: __import__("os")._exit(3))
    timer.daemon = True
    timer.start()

    hosts = [f"127.{args.first + i}.0.1" for i in range(args.nodes)]
    first = f"{hosts[0]}:{args.port}"
    sessions = [make_session(host, args.port, "" if i == 0 else first) for i, host in enumerate(hosts)]
    # Bootstrap routers do not enter routing tables: introduce each node to a few others too.
    for i, ses in enumerate(sessions):
        for step in (1, 2, 3, 5):
            ses.add_dht_node((hosts[(i + step) % len(hosts)], args.port))
    deadline = time.monotonic() + 60
    sizes = []
    while time.monotonic() < deadline:
        time.sleep(1)
        sizes = [dht_nodes(ses) for ses in sessions]
        if min(sizes) >= min(6, args.nodes - 1):
            break
    print(json.dumps({"ready": True, "nodes": [f"{h}:{args.port}" for h in hosts], "tables": sizes}), flush=True)

    for line in sys.stdin:
        command = json.loads(line)
        op = command["op"]
        if op == "add_node":
            for ses in sessions:
                ses.add_dht_node((command["host"], command["port"]))
            reply = {"ok": True}
        elif op == "stats":
            reply = {"tables": [dht_nodes(ses) for ses in sessions]}
        elif op == "put":
            ses = sessions[command.get("node", 0)]
            seed = bytes.fromhex(command["seed"])
            pk = public_key(seed)
            salt = bytes.fromhex(command.get("salt", ""))
            ses.dht_put_mutable_item(expanded_secret(seed), pk, bytes.fromhex(command["value"]), salt)
            alert = wait_alert(ses, lambda a: "done" if isinstance(a, lt.dht_put_alert) and bytes(a.public_key) == pk else None, 30)
            reply = {"ok": alert is not None, "seq": alert.seq if alert else None,
                     "stored": alert.num_success if alert else 0, "key": pk.hex()}
        elif op == "get":
            ses = sessions[command.get("node", 0)]
            key = bytes.fromhex(command["key"])
            salt = bytes.fromhex(command.get("salt", ""))
            started = time.monotonic()
            ses.dht_get_mutable_item(key, salt)

            def accept(a):
                if isinstance(a, lt.dht_mutable_item_alert) and bytes(a.key) == key:
                    return "done" if a.authoritative else "keep"
                return None
            alert = wait_alert(ses, accept, 30)
            reply = {"found": False}
            if alert is not None and alert.item is not None and alert.seq > 0:
                value = alert.item
                raw = value if isinstance(value, bytes) else None
                reply = {"found": True, "seq": alert.seq, "authoritative": alert.authoritative,
                         "value": raw.hex() if raw is not None else None,
                         "seconds": time.monotonic() - started}
                if raw is not None:
                    try:
                        message = dns.message.from_wire(raw)
                        txt = {}
                        for rrset in message.answer:
                            for rdata in rrset:
                                txt.setdefault(rrset.name.to_text(omit_final_dot=True), []).extend(
                                    s.decode() for s in rdata.strings)
                        reply["txt"] = txt
                        reply["zbase32_key"] = zbase32.encode(key)
                    except Exception as error:  # not a DNS message: report why
                        reply["dns_error"] = str(error)
        else:
            reply = {"error": f"unknown op {op}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
