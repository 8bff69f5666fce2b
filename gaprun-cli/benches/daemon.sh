#!/bin/sh
# One-shot commands with and without the warm-GAP daemon, in one run, next
# to what a user would otherwise run (`gap` with a saved workspace, stdin
# piped in).
#
#   cargo build --release && gaprun-cli/benches/daemon.sh [RUNS]
#
# Needs hyperfine (apt-get install hyperfine). Uses a private daemon folder
# and a private workspace cache under a temporary folder; the daemons it
# starts are stopped at the end.
set -eu
runs=${1:-30}
. "$(dirname "$0")/common.sh"
tmp=$(mktemp -d)
export GAPRUN_WORKSPACE_CACHE="$tmp/cache"
export GAPRUN_DAEMON_DIR="$tmp/daemon"
trap '"$gaprun" daemon stop --all >/dev/null; rm -rf "$tmp"' EXIT
echo 'SaveWorkspace("'"$tmp"'/gap.ws");' | "$gap" -l "$roots" -q -A -E >/dev/null
# Workspaces for both configurations (not timed), then one daemon each.
GAPRUN_DAEMON=off "$gaprun" -A -c 'QUIT;'
GAPRUN_DAEMON=off "$gaprun" -c 'QUIT;'
"$gaprun" -A daemon start
"$gaprun" daemon start
printf '1+1;\n' > "$tmp/one.g"
hyperfine --warmup 3 --runs "$runs" -N --export-markdown "$tmp/table.md" \
  -n "gap -q -A -L saved.ws < one.g" "sh -c \"'$gap' -l '$roots' -q -A -E -L '$tmp/gap.ws' < '$tmp/one.g'\"" \
  -n "gaprun -A -c '1+1;' (no daemon)" "env GAPRUN_DAEMON=off '$gaprun' -A -c '1+1;'" \
  -n "gaprun -A -c '1+1;' (daemon)" "'$gaprun' -A -c '1+1;'" \
  -n "gaprun -A - < one.g (daemon)" "sh -c \"'$gaprun' -A - < '$tmp/one.g'\"" \
  -n "gaprun -c '1+1;' (no daemon, autoload)" "env GAPRUN_DAEMON=off '$gaprun' -c '1+1;'" \
  -n "gaprun -c '1+1;' (daemon, autoload)" "'$gaprun' -c '1+1;'" \
  -n "gaprun -A --version (process start only)" "'$gaprun' -A --version"
cat "$tmp/table.md"
"$gaprun" -A daemon status | sed -n 's/^ *served:/served:/p'
