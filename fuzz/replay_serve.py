#!/usr/bin/env python3
"""Replay a serve_request corpus through a real `gaprun serve --stdio -A`.

    fuzz/replay_serve.py [CORPUS_DIR] [GAPRUN_BINARY]

Each input's first line is sent on its own and must get exactly one answer
within a second (blank lines, JSON whitespace only, none); the server must
end with exit 0 when its input ends. `eval`, `fork` and `close` requests are
left out (they run GAP code, start sessions or end the server; the
session_serve tests cover them), so this checks everything the server
answers itself. Exit 1 when a line got no answer or several.
"""
import json
import os
import select
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "serve_request")
exe = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "target", "debug", "gaprun")

lines = []
for name in sorted(os.listdir(corpus)):
    with open(os.path.join(corpus, name), "rb") as f:
        line = f.read().split(b"\n", 1)[0]
    if not line.strip(b" \t\r"):
        continue
    try:
        req = json.loads(line)
    except ValueError:
        req = None
    if isinstance(req, dict) and req.get("op") in ("eval", "fork", "close"):
        continue
    lines.append((name, line))

server = subprocess.Popen([exe, "serve", "--stdio", "-A"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
fd = server.stdout.fileno()
pending = b""


def answers(wait):
    """Answer lines that arrive within `wait` seconds (stops 20 ms after the first)."""
    global pending
    got = []
    end = time.time() + wait
    while True:
        ready, _, _ = select.select([fd], [], [], max(0.0, end - time.time()))
        if not ready:
            return got
        chunk = os.read(fd, 65536)
        if not chunk:
            return got
        pending += chunk
        while b"\n" in pending:
            answer, pending = pending.split(b"\n", 1)
            got.append(answer)
        if got:
            end = min(end, time.time() + 0.02)


answers(30)  # the hello line
bad = []
for name, line in lines:
    server.stdin.write(line + b"\n")
    server.stdin.flush()
    got = answers(1.0)
    if len(got) != 1:
        bad.append((name, line[:120], len(got)))
server.stdin.close()
code = server.wait(timeout=60)
print(f"{len(lines)} lines replayed, {len(bad)} without exactly one answer, server exit {code}")
for name, line, n in bad[:20]:
    print(f"  {name}: {n} answers to {line!r}")
sys.exit(1 if bad or code != 0 else 0)
