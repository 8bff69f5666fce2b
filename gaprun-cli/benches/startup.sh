#!/bin/sh
# Start-up time, in one run: plain `gap`, `gap` with a saved workspace,
# `gaprun` without the workspace cache (cold) and with it (warm).
#
#   cargo build --release && gaprun-cli/benches/startup.sh [RUNS]
#   GAPRUN_GAP=dist CARGO_TARGET_DIR=target/dist cargo build --release &&
#     GAPRUN_BIN=target/dist/release/gaprun gaprun-cli/benches/startup.sh [RUNS]
#
# Needs hyperfine (apt-get install hyperfine). Uses a private cache folder
# and a private saved workspace under a temporary folder.
set -eu
runs=${1:-10}
. "$(dirname "$0")/common.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export GAPRUN_WORKSPACE_CACHE="$tmp/cache"
# gap's own saved workspace (-A: no default packages, as in the DESIGN.md figures).
echo 'SaveWorkspace("'"$tmp"'/gap.ws");' | "$gap" -l "$roots" -q -A -E >/dev/null
# ... and one with the default packages loaded.
echo 'SaveWorkspace("'"$tmp"'/gap-auto.ws");' | "$gap" -l "$roots" -q -E >/dev/null
# Build gaprun's workspace for both configurations once (not timed).
"$gaprun" -A -c 'QUIT;'
"$gaprun" -c 'QUIT;'
hyperfine --warmup 1 --runs "$runs" -N --export-markdown "$tmp/table.md" \
  -n "gap -q -A (library from source)" "sh -c \"echo 'QUIT;' | '$gap' -l '$roots' -q -A -E\"" \
  -n "gap -q -A -L saved.ws" "sh -c \"echo 'QUIT;' | '$gap' -l '$roots' -q -A -E -L '$tmp/gap.ws'\"" \
  -n "gap -q (library from source, autoload)" "sh -c \"echo 'QUIT;' | '$gap' -l '$roots' -q -E\"" \
  -n "gap -q -L saved.ws (autoload)" "sh -c \"echo 'QUIT;' | '$gap' -l '$roots' -q -E -L '$tmp/gap-auto.ws'\"" \
  -n "gaprun -A --no-workspace -c 'QUIT;' (cold)" "'$gaprun' -A --no-workspace -c 'QUIT;'" \
  -n "gaprun -A -c 'QUIT;' (warm)" "'$gaprun' -A -c 'QUIT;'" \
  -n "gaprun --no-workspace -c 'QUIT;' (cold, autoload)" "'$gaprun' --no-workspace -c 'QUIT;'" \
  -n "gaprun -c 'QUIT;' (warm, autoload)" "'$gaprun' -c 'QUIT;'"
cat "$tmp/table.md"
