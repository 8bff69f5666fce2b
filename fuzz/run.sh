#!/bin/sh
# Run one fuzz target: fuzz/run.sh TARGET [SECONDS] [extra libFuzzer flags]
# Targets: size, batch_line, serve_request, gap_eval (docs/reliability.md,
# "Fuzzing"). Needs cargo-fuzz (`cargo install cargo-fuzz`); RUSTC_BOOTSTRAP=1
# (set here) lets a stable toolchain take the sanitizer flags cargo-fuzz
# passes. The corpus grows in fuzz/corpus/TARGET (not committed);
# fuzz/seeds/TARGET holds the committed seeds; crashes land in
# fuzz/artifacts/TARGET. Runs at nice 19 in a scratch folder (files that GAP
# tasks write with relative names land there; removed at the end).
set -eu
target=${1:?usage: fuzz/run.sh TARGET [SECONDS] [libFuzzer flags...]}
seconds=${2:-1800}
if [ $# -ge 2 ]; then shift 2; else shift $#; fi
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/corpus/$target"
flags="-max_total_time=$seconds -print_final_stats=1"
case $target in
  gap_eval)
    # -rss_limit_mb=0: no RSS-watch thread (the fork pool refuses to fork
    # with a second thread); -timeout=60: a parent stuck for a minute is a
    # finding (tasks time out after 2 s); -print_funcs=0: no llvm-symbolizer
    # child (the target checks that the parent has no children left).
    flags="$flags -rss_limit_mb=0 -timeout=60 -max_len=4096 -print_funcs=0 -dict=$here/gap.dict" ;;
  batch_line | serve_request)
    flags="$flags -dict=$here/json.dict" ;;
esac
scratch=$(mktemp -d "${TMPDIR:-/tmp}/gaprun-fuzz-$target.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
# shellcheck disable=SC2086
env TMPDIR="$scratch" RUSTC_BOOTSTRAP=1 nice -n 19 \
  cargo fuzz run --fuzz-dir "$here" "$target" \
  "$here/corpus/$target" "$here/seeds/$target" -- $flags "$@"
