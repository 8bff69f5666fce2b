"""The same cases as gaprun/benches/api_calls.rs, through SageMath's libgap
(PyPI package passagemath-gap). Prints one JSON line per case."""
import json
import time

import sage.all__sagemath_gap  # noqa: F401  (sets up the Sage parent system)
from sage.libs.gap.libgap import libgap


def measure(case, op):
    iters = 1
    while True:
        t = time.perf_counter()
        for _ in range(iters):
            op()
        if time.perf_counter() - t > 0.2:
            break
        iters *= 2
    rounds = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(iters):
            op()
        rounds.append((time.perf_counter() - t) * 1e9 / iters)
    rounds.sort()
    print(json.dumps({"impl": "sage-libgap", "case": case, "ns_per_op": round(rounds[2], 1)}))


measure("eval 1+1", lambda: libgap.eval("1+1"))
gcd = libgap.Gcd


def call_gcd():
    r = int(gcd(12, 18))
    assert r == 6


measure("call Gcd(12, 18) -> int", call_gcd)
one = libgap(1)
measure("1 + 1 on handles", lambda: one + one)
v = list(range(100_000))
measure("list 10^5 ints Rust -> GAP", lambda: libgap(v))
lst = libgap(v)


def back():
    b = lst.sage()
    assert len(b) == 100_000


measure("list 10^5 ints GAP -> Rust", back)
