#!/usr/bin/env python3
"""A stand-in OpenAI-compatible chat server for tests (stdlib only, loopback only).

usage: fake_openai.py PORT_FILE MODE [LEAK_TEXT]
  MODE: ok       friendly replies; JSON mode answers {"score": 0.8, "reasons": [...]}
        garbage  answers HTTP 200 with a body that is not a chat completion
        leaky    every reply contains LEAK_TEXT (to test the disclosure guard)
        slowleaky  like leaky, but each chat reply comes 2 s after the request, which is first
                 noted as a line in PORT_FILE.asked (a test changes the model meanwhile)
        echo     every reply repeats the whole prompt (system prompt and transcript)
        noembed  like ok, but /v1/embeddings answers 404 (retrieval falls back to BM25)
        huge     every answer is 64 MiB of JSON-looking bytes with no length, sent until the client
                 hangs up; the bytes sent go to PORT_FILE.sent
  Every mode but noembed answers /v1/embeddings with bag-of-words vectors.
Writes the bound port to PORT_FILE, serves until killed or until its standard input closes (the
test that started it holds the other end, so the server never outlives it).
"""
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = sys.argv[2]
EMBEDDED = []
LEAK = sys.argv[3] if len(sys.argv) > 3 else ""


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.reply({"object": "list", "data": [{"id": "fake", "object": "model"}]})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        if MODE == "huge":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            sent = 0
            chunk = b'{"choices": [' + b" " * (1 << 20)
            try:
                while sent < 64 << 20:
                    self.wfile.write(chunk)
                    sent += len(chunk)
                    # Past the client's largest limit (16 MiB) the rest comes slowly: 64 MiB take
                    # about 5 s, so a cancel delayed by a loaded machine still ends early.
                    time.sleep(0.015 if sent < 24 << 20 else 0.1)
            except OSError:
                pass
            with open(sys.argv[1] + ".sent", "a") as f:
                f.write("%d\n" % sent)
            self.close_connection = True
            return
        if MODE == "garbage":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html>surprise</html>")
            return
        if self.path.endswith("/embeddings"):
            # A bag-of-words hashing embedding: texts sharing words point the same way.
            if MODE == "noembed":
                self.send_response(404)
                self.end_headers()
                return
            def embed(text):
                v = [0.0] * 64
                for w in "".join(c.lower() if c.isalnum() else " " for c in text).split():
                    if len(w) > 3:
                        v[sum(map(ord, w)) % 64] += 1.0
                return v
            EMBEDDED.append(len(body.get("input", [])))
            self.reply({"object": "list", "data": [{"index": i, "embedding": embed(t)} for i, t in enumerate(body.get("input", []))]})
            return
        messages = body.get("messages", [])
        if MODE == "slowleaky" and not body.get("response_format"):
            with open(sys.argv[1] + ".asked", "a") as f:
                f.write("chat\n")
            time.sleep(2)
        if body.get("response_format"):
            content = json.dumps({"score": 0.8, "reasons": ["shared interests", "warm conversation"]})
        else:
            last = messages[-1]["content"] if messages else ""
            turn = sum(1 for m in messages if m["role"] == "assistant")
            content = "Turn %d: thanks for that — I hear you said '%s'." % (turn, last[-60:])
            if MODE == "echo":
                content = "Echo: " + " | ".join(m.get("content", "") for m in messages)
            if MODE in ("leaky", "slowleaky"):
                content += " By the way, my secret is " + LEAK + "."
        self.reply({"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]})

    def reply(self, obj):
        data = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


# A parent thread that blocks signals passes its mask on; take the defaults back.
signal.pthread_sigmask(signal.SIG_SETMASK, set())
signal.signal(signal.SIGTERM, signal.SIG_DFL)


def exit_when_stdin_closes():
    while sys.stdin.buffer.read(4096):
        pass
    os._exit(0)


threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1], "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
