#!/usr/bin/env python3
"""Benchmark `gaprun serve --stdio`: round-trip latency of `eval 1+1;` and
the time to fork a session holding a large GAP heap.

Usage: python3 gaprun-cli/benches/session.py [path/to/gaprun] [heap MB, default 500]
"""
import json
import statistics
import subprocess
import sys
import time

gaprun = sys.argv[1] if len(sys.argv) > 1 else "target/release/gaprun"
heap_mb = int(sys.argv[2]) if len(sys.argv) > 2 else 500

p = subprocess.Popen([gaprun, "serve", "--stdio", "-A", "-s", "2g"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
p.stdout.readline()
n = 0


def req(d):
    global n
    n += 1
    d["id"] = n
    p.stdin.write(json.dumps(d) + "\n")
    p.stdin.flush()
    return json.loads(p.stdout.readline())


for _ in range(200):
    req({"op": "eval", "code": "1+1;"})
lat = []
for _ in range(5000):
    t = time.perf_counter()
    r = req({"op": "eval", "code": "1+1;"})
    lat.append((time.perf_counter() - t) * 1e6)
    assert r["json"] == 2
lat.sort()
print(f"eval 1+1 round trip: median {statistics.median(lat):.1f} us, "
      f"p90 {lat[int(len(lat) * 0.9)]:.1f} us, p99 {lat[int(len(lat) * 0.99)]:.1f} us (n={len(lat)})")

# grow the heap: lists of small lists, ~ heap_mb MB live
r = req({"op": "eval", "code": f"BIG := List([1..{heap_mb * 1024 * 1024 // 56}], i -> [i, i+1, i+2]);; "
                               "GasmanStatistics().full.livekb;"})
st = req({"op": "stats"})
rss = st["sessions"][0]["rss_kb"]
print(f"session heap: {r['json']} KB live, session RSS {rss // 1024} MB")
times, inner = [], []
for _ in range(10):
    t = time.perf_counter()
    f = req({"op": "fork"})
    times.append((time.perf_counter() - t) * 1e3)
    inner.append(f["wall_ms"])
    e = req({"op": "eval", "code": "Length(BIG);", "session": f["session"]})
    assert e["ok"], e
    req({"op": "drop", "session": f["session"]})
print(f"fork with {rss // 1024} MB RSS: client round trip median {statistics.median(times):.1f} ms "
      f"(min {min(times):.1f}), inside the session median {statistics.median(inner):.1f} ms")
req({"op": "close"})
p.wait()
