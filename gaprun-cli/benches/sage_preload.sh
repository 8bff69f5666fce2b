#!/usr/bin/env bash
# Commit charged per forked child of a Python process with SageMath's libgap
# (PyPI passagemath-gap) initialised, as is and under
# LD_PRELOAD=$(gaprun preload); checks that parent and children still
# compute Size(SymmetricGroup(5)) = 120. Prints a Markdown table.
# Usage: PYTHON=/tmp/sagevenv/bin/python gaprun-cli/benches/sage_preload.sh [CHILDREN]
#   (default 4 children; PYTHON needs `pip install passagemath-gap==10.8.13`;
#   GAPRUN defaults to target/release/gaprun, else target/debug/gaprun, else
#   a release build; the library is the same C build in either)
set -euo pipefail
cd "$(dirname "$0")/../.."
children="${1:-4}"
python="${PYTHON:-python3}"
gaprun="${GAPRUN:-target/release/gaprun}"
[ -x "$gaprun" ] || [ -n "${GAPRUN:-}" ] || gaprun=target/debug/gaprun
[ -x "$gaprun" ] || { cargo build --release --quiet --bin gaprun; gaprun=target/release/gaprun; }
library="$("$gaprun" preload)"
bench=gaprun-cli/benches/sage_preload.py
version="$("$python" -c 'import importlib.metadata as m; print(m.version("passagemath-gap"))')"

plain="$("$python" "$bench" "$children")"
preloaded="$(LD_PRELOAD="$library" "$python" "$bench" "$children")"

"$python" - "$version" "$plain" "$preloaded" <<'PY'
import json, sys
version, rows = sys.argv[1], [json.loads(a) for a in sys.argv[2:]]
mb = lambda b: f"{b / 2**20:,.0f} MiB"
print(f"passagemath-gap {version}, {rows[0]['children']} idle forked children "
      f"(each computed once)\n")
print("| Python + SageMath's libgap | GAP pool | pool reserved "
      "| parent: accountable added by libgap init | Committed_AS at init (system-wide) "
      "| Committed_AS per child (system-wide) | accountable per child (smaps `ac`) "
      "| results (parent; children) |")
print("|---|---|---|---|---|---|---|---|")
for name, r in zip(["as is", "`LD_PRELOAD=$(gaprun preload)`"], rows):
    pool = r["parent_pool"] or {}
    acc = r["child_accountable"]
    print(f"| {name} | {mb(pool.get('bytes', 0))} | {pool.get('reserved')} "
          f"| +{mb(r['init_accountable'])} | +{mb(r['init_commit'])} "
          f"| +{mb(r['per_child_commit'])} | {mb(sum(acc) / len(acc))} "
          f"| {r['parent_result']}; {', '.join(map(str, r['child_results']))} |")
ok = all(r["parent_result"] == 120 and set(r["child_results"]) == {120} for r in rows)
print("\nresults correct:", ok)
sys.exit(0 if ok else 1)
PY
