#!/usr/bin/env bash
# Issue 15's side-by-side run: N small scripts, each
#   LoadPackage("smallgrp", false);; G := SmallGroup(64, i);; Print(..NrConjugacyClasses(G)..);
# run by what a user would otherwise run, in interleaved rounds (medians):
#   - gaprun run -j J -A --packages smallgrp    (the package in the parent)
#   - gaprun run -j J -A                        (the scripts load it: preloaded)
#   - gaprun run -j J -A --no-preload-packages  (each task loads it again)
#   - SageMath's libgap reading the files in J Python processes (J slices),
#     and in one
#   - one `gap -L ws` session reading all files (no isolation, one core)
#   - xargs -P J gap -L ws, one process per script
#   - one `gap -q -A FILE` per script (GAP_SAMPLE of them timed, scaled to N)
# plus the per-task cost at -j 1 (empty task and SmallGroup task) and the
# outputs of every command compared with gaprun's.
#
# Usage: gaprun-cli/benches/baselines.sh
#   N=200 J=2 ROUNDS=3 GAP_SAMPLE=10 PYTHON=/tmp/sagevenv/bin/python gaprun-cli/benches/baselines.sh
#   GAPRUN_BIN=target/dist/release/gaprun ...   (another build, e.g. GAP 4.16.1)
# `gap` and its roots come from `gaprun info --json`, so the comparison uses
# the GAP the gaprun build embeds. Sage needs PyPI passagemath-gap:
#   python3 -m venv /tmp/sagevenv && /tmp/sagevenv/bin/pip install passagemath-gap
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-200}
J=${J:-2}
ROUNDS=${ROUNDS:-3}
GAP_SAMPLE=${GAP_SAMPLE:-10}
PYTHON=${PYTHON:-/tmp/sagevenv/bin/python}
B=${GAPRUN_BIN:-$here/../target/release/gaprun}
[ -x "$B" ] || { echo "build first: cargo build --release" >&2; exit 2; }
read -r GAP ROOTS VERSION < <("$B" info --json --no-workspace | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["build"]["gap_executable"], ";".join(d["gap_roots"]), d["build"]["gap_version"])')
[ -x "$GAP" ] || { echo "no gap executable in this build ($GAP)" >&2; exit 2; }

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir "$W/sg" "$W/empty"
for i in $(seq 1 "$N"); do
    k=$(( (i - 1) % 267 + 1 ))
    f=$(printf '%s/sg/s%04d.g' "$W" "$i")
    printf 'LoadPackage("smallgrp", false);;\nG := SmallGroup(64, %d);;\nPrint("group ", %d, ": ", NrConjugacyClasses(G), "\\n");\n' "$k" "$k" > "$f"
    printf 'x := %d;;\n' "$i" > "$(printf '%s/empty/e%04d.g' "$W" "$i")"
done
FILES=("$W"/sg/*.g)
EMPTY=("$W"/empty/*.g)
# gap's saved workspace: -A with smallgrp loaded (the scripts' LoadPackage
# then costs nothing, as with gaprun --packages).
echo 'LoadPackage("smallgrp", false);; SaveWorkspace("'"$W"'/gap.ws");' |
    "$GAP" -l "$ROOTS" -q -A -E > /dev/null
{ for f in "${FILES[@]}"; do echo "Read(\"$f\");"; done; echo 'QUIT;'; } > "$W/session.g"
half=$(( (N + J - 1) / J ))
# gaprun's workspace cache, warm for both configurations (not timed).
"$B" -A -c 'QUIT;' > /dev/null
"$B" -A --packages smallgrp -c 'QUIT;' > /dev/null
have_sage=1
"$PYTHON" -c 'import sage.all__sagemath_gap' 2> /dev/null || { have_sage=0; echo "(no SageMath libgap in $PYTHON: skipped)"; }

declare -A CMD
CMD[gaprun_packages]="'$B' run -j $J -A --packages smallgrp ${FILES[*]}"
CMD[gaprun_preload]="'$B' run -j $J -A ${FILES[*]}"
CMD[gaprun_no_preload]="'$B' run -j $J -A --no-preload-packages ${FILES[*]}"
# Each Python process writes its own file; they are joined in order after.
sage_cmd=""
for ((s = 0; s < N; s += half)); do
    sage_cmd+="'$PYTHON' '$here/benches/sage_files.py' ${FILES[*]:s:half} > '$W/sage.$s' 2>/dev/null & "
done
CMD[sage_libgap]="{ $sage_cmd wait; cat '$W'/sage.* ; }"
CMD[sage_one]="'$PYTHON' '$here/benches/sage_files.py' ${FILES[*]} 2>/dev/null"
CMD[gap_session]="'$GAP' -l '$ROOTS' -q -A -E -L '$W/gap.ws' < '$W/session.g'"
printf '%s\n' "${FILES[@]}" > "$W/list"
# xargs -a: the gap processes keep xargs' standard input (/dev/null).
CMD[xargs_gap_ws]="xargs -a '$W/list' -n 1 -P $J '$GAP' -l '$ROOTS' -q -A -E --quitonbreak -L '$W/gap.ws'"
ORDER=(gaprun_packages gaprun_preload gaprun_no_preload sage_libgap sage_one gap_session xargs_gap_ws)
[ "$have_sage" = 1 ] || ORDER=(gaprun_packages gaprun_preload gaprun_no_preload gap_session xargs_gap_ws)

ms() { date +%s%N; }
for r in $(seq 1 "$ROUNDS"); do
    for name in "${ORDER[@]}"; do
        t=$(ms)
        bash -c "${CMD[$name]}" > "$W/$name.out" 2> /dev/null < /dev/null || true
        echo "$name $(( ($(ms) - t) / 1000000 ))" >> "$W/times"
    done
done
# One gap process per script, sampled.
t=$(ms)
for f in "${FILES[@]:0:$GAP_SAMPLE}"; do
    "$GAP" -l "$ROOTS" -q -A -E --quitonbreak "$f" < /dev/null >> "$W/gap_each.out"
done
echo "gap_each $(( ($(ms) - t) * N / GAP_SAMPLE / 1000000 ))" >> "$W/times"
# Per task at -j 1: N tasks minus 1 task, over N - 1.
for set in EMPTY FILES; do
    eval "list=(\"\${$set[@]}\")"
    for r in $(seq 1 "$ROUNDS"); do
        t=$(ms); "$B" run -j 1 -A --packages smallgrp "${list[0]}" > /dev/null; echo "one_$set $(( ($(ms) - t) / 1000 ))" >> "$W/times"
        t=$(ms); "$B" run -j 1 -A --packages smallgrp "${list[@]}" > /dev/null; echo "all_$set $(( ($(ms) - t) / 1000 ))" >> "$W/times"
    done
done

echo "machine: $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg); GAP $VERSION ($GAP); N=$N, -j $J, $ROUNDS rounds"
python3 - "$W" "$N" "$J" "$GAP_SAMPLE" <<'PY'
import collections, statistics, sys
w, n, j, sample = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
t = collections.defaultdict(list)
for line in open(f"{w}/times"):
    k, v = line.split()
    t[k].append(int(v))  # ms, or us for one_*/all_*
ref = open(f"{w}/gaprun_packages.out").read()
label = {
    "gaprun_packages": f"gaprun run -j {j} -A --packages smallgrp",
    "gaprun_preload": f"gaprun run -j {j} -A (scripts load smallgrp: preloaded)",
    "gaprun_no_preload": f"gaprun run -j {j} -A --no-preload-packages",
    "sage_libgap": f"SageMath libgap, {j} Python processes reading the files",
    "sage_one": "SageMath libgap, one Python process (1 core)",
    "gap_session": "one gap -L ws session reading all files (1 core)",
    "xargs_gap_ws": f"xargs -P {j} gap -L ws, one process per script",
    "gap_each": f"one gap -q -A per script ({sample} timed, scaled to {n})",
}
base = statistics.median(t["gaprun_packages"])
print(f"| command ({n} scripts) | median wall | runs | / gaprun --packages | same output |")
print("|---|---:|---|---:|---|")
for k in label:
    if k not in t:
        continue
    m = statistics.median(t[k])
    try:
        out = open(f"{w}/{k}.out").read()
        if out == ref:
            same = "yes"
        elif out and ref.startswith(out):
            same = f"yes (first {sample})"
        elif sorted(out.splitlines()) == sorted(ref.splitlines()):
            same = "yes (other order)"  # xargs -P prints as processes end
        else:
            same = "NO"
    except FileNotFoundError:
        same = "-"
    runs = " ".join(f"{v / 1000:.2f}" for v in t[k])
    print(f"| {label[k]} | {m / 1000:.2f} s | {runs} | {m / base:.2f} | {same} |")
for k, what in (("EMPTY", "empty task"), ("FILES", "SmallGroup task")):
    one, all_ = statistics.median(t["one_" + k]), statistics.median(t["all_" + k])
    print(f"per task at -j 1, {what}: {(all_ - one) / (n - 1) / 1000:.2f} ms "
          f"(median of 1 task {one / 1000:.0f} ms, of {n} tasks {all_ / 1000:.0f} ms; runs in us)")
PY
