#!/bin/sh
# Run gaprun's API benchmark and the same cases through SageMath's libgap,
# then print a side-by-side table. Needs Python with passagemath-gap:
#   python3 -m venv /tmp/sagevenv && /tmp/sagevenv/bin/pip install passagemath-gap
#   PYTHON=/tmp/sagevenv/bin/python sh gaprun-cli/benches/api_compare.sh
set -eu
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-python3}"
out=$(mktemp -d)
cargo bench -p gaprun --bench api_calls 2>/dev/null | grep '^{' > "$out/gaprun.jsonl"
if "$PYTHON" gaprun-cli/benches/sage_libgap.py > "$out/sage.jsonl" 2> "$out/sage.err"; then :; else
    echo "SageMath's libgap did not run:"; cat "$out/sage.err"; : > "$out/sage.jsonl"
fi
"$PYTHON" - "$out/gaprun.jsonl" "$out/sage.jsonl" <<'PY'
import json, sys
rows = {}
for path in sys.argv[1:]:
    for line in open(path):
        d = json.loads(line)
        rows.setdefault(d["case"], {})[d["impl"]] = d["ns_per_op"]
print("| case | gaprun | SageMath libgap | gaprun / Sage |")
print("|---|---:|---:|---:|")
def fmt(ns):
    return "-" if ns is None else (f"{ns/1e6:.2f} ms" if ns >= 1e6 else f"{ns/1e3:.2f} µs" if ns >= 1e3 else f"{ns:.0f} ns")
for case, r in rows.items():
    g, s = r.get("gaprun"), r.get("sage-libgap")
    ratio = f"{g/s:.2f}" if g and s else "-"
    print(f"| {case} | {fmt(g)} | {fmt(s)} | {ratio} |")
PY
rm -rf "$out"
