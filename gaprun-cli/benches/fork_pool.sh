#!/usr/bin/env bash
# Benchmark of the fork pool (issue 5), in one run:
#   1. N tiny scripts: one `gap -q` process each, against `gaprun run -j 2`;
#   2. per-task overhead of forking from an initialised GAP (ms);
#   3. a folder of .tst files (the io package's own tests, which gaprun did
#      not write): GAP's serial TestDirectory against `gaprun test -j 2`,
#      and the per-file verdicts of GAP's Test() run serially against
#      gaprun's.
#
# Usage: gaprun-cli/benches/fork_pool.sh            (N=200, every gap process timed)
#        N=200 GAP_SAMPLE=20 gaprun-cli/benches/fork_pool.sh
#   GAP_SAMPLE=K times only the first K `gap` processes and extrapolates
#   to N (each one costs 1.5-5 s); the output says so when it does.
#   TST_DIR=DIR uses another test folder; TST_PACKAGES=io,... are loaded first.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-200}
GAP_SAMPLE=${GAP_SAMPLE:-$N}
TST_DIR=${TST_DIR:-gap-sys/vendor/gap/usr/share/gap/pkg/io/tst}
TST_PACKAGES=${TST_PACKAGES:-io}

cargo build --release -q
B=$PWD/target/release/gaprun
read -r GAP ROOTS < <("$B" info --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["build"]["gap_executable"], ";".join(d["gap_roots"]))')
[ -x "$GAP" ] || { echo "no gap executable found ($GAP)" >&2; exit 2; }

now_ns() { date +%s%N; }
ms_since() { echo $(( ($(now_ns) - $1) / 1000000 )); }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
for i in $(seq -w 1 "$N"); do
    echo "x := $i;; Print(\"task \", x, \"\\n\");" > "$WORK/t$i.g"
done
FILES=("$WORK"/t*.g)

echo "machine: $(nproc) cores, $(uname -r); GAP: $GAP"
# Build the saved workspaces first (once per configuration and binary, ~2.5 s
# each): the timings below are of gaprun as it runs every day, warm.
"$B" -c 'QUIT;' > /dev/null
"$B" --packages "$TST_PACKAGES" -c 'QUIT;' > /dev/null
echo "== 1. $N tiny scripts"
t=$(now_ns)
for f in "${FILES[@]:0:$GAP_SAMPLE}"; do
    "$GAP" -l "$ROOTS" -q "$f" < /dev/null > /dev/null
done
gap_ms=$(ms_since "$t")
if [ "$GAP_SAMPLE" -lt "$N" ]; then
    gap_total=$(( gap_ms * N / GAP_SAMPLE ))
    echo "one gap -q per script: $gap_ms ms for $GAP_SAMPLE scripts -> $gap_total ms for $N (extrapolated)"
else
    gap_total=$gap_ms
    echo "one gap -q per script: $gap_total ms for $N scripts"
fi
t=$(now_ns)
"$B" run -j 2 "${FILES[@]}" > "$WORK/run.out"
run_ms=$(ms_since "$t")
[ "$(wc -l < "$WORK/run.out")" -eq "$N" ] || { echo "gaprun run lost output" >&2; exit 1; }
echo "gaprun run -j 2: $run_ms ms (start-up included)"
python3 -c "print(f'speed-up: {$gap_total / $run_ms:.1f}x (goal >= 100x)')"

echo "== 2. per-task overhead of forking from an initialised GAP"
t=$(now_ns); "$B" run -j 1 "${FILES[0]}" > /dev/null; one_ms=$(ms_since "$t")
t=$(now_ns); "$B" run -j 1 "${FILES[@]}" > /dev/null; all_ms=$(ms_since "$t")
python3 -c "print(f'serial (-j 1): 1 task {$one_ms} ms, $N tasks {$all_ms} ms -> {($all_ms - $one_ms) / ($N - 1):.2f} ms per extra task (fork, run, report, reap; goal <= 5 ms)')"
t=$(now_ns); "$B" run -j 2 "${FILES[@]}" > /dev/null; two_ms=$(ms_since "$t")
python3 -c "print(f'-j 2: $N tasks {$two_ms} ms -> {($two_ms - $one_ms) / ($N - 1):.2f} ms per extra task')"

echo "== 3. test folder $TST_DIR ($(find "$TST_DIR" -name '*.tst' | wc -l) files)"
TST_ABS=$(cd "$TST_DIR" && pwd)
LOADS=""
IFS=',' read -ra PKGS <<< "$TST_PACKAGES"
for p in "${PKGS[@]}"; do LOADS+="LoadPackage(\"$p\");; "; done
t=$(now_ns)
echo "$LOADS TestDirectory(\"$TST_ABS\", rec(exitGAP := false));; QUIT;" |
    "$GAP" -l "$ROOTS" -q > "$WORK/serial.out" 2>&1 || true
serial_ms=$(ms_since "$t")
echo "gap TestDirectory (serial): $serial_ms ms"
t=$(now_ns)
"$B" test -j 2 --packages "$TST_PACKAGES" "$TST_ABS" > "$WORK/par.out" 2>&1 || true
par_ms=$(ms_since "$t")
echo "gaprun test -j 2: $par_ms ms; $(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$WORK/par.out")"
python3 -c "print(f'ratio: {$par_ms / $serial_ms:.2f} of the serial wall time (goal <= 0.6)')"

echo "== verdicts: GAP's Test() serially vs gaprun test"
find "$TST_ABS" -name '*.tst' | sort > "$WORK/list"
{
    echo "SizeScreen([4096, 24]);; $LOADS"
    while read -r f; do echo "Print(\"VERDICT $f \", Test(\"$f\"), \"\\n\");"; done < "$WORK/list"
    echo "QUIT;"
} | "$GAP" -l "$ROOTS" -q 2>&1 | grep '^VERDICT' | sed 's/^VERDICT //' > "$WORK/gap.verdicts" || true
sed -nE 's/^(ok|FAIL) +([^ ]+) .*/\2 \1/p' "$WORK/par.out" |
    sed -e 's/ ok$/ true/' -e 's/ FAIL$/ false/' | sort > "$WORK/gaprun.verdicts"
sort "$WORK/gap.verdicts" -o "$WORK/gap.verdicts"
if diff "$WORK/gap.verdicts" "$WORK/gaprun.verdicts" > "$WORK/verdicts.diff"; then
    echo "same verdicts for all $(wc -l < "$WORK/list") files:"
else
    echo "VERDICTS DIFFER:"; cat "$WORK/verdicts.diff"
fi
sed "s|$TST_ABS/||" "$WORK/gaprun.verdicts" | tr '\n' ' '; echo
