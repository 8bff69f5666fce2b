# Sourced by the bench scripts (POSIX sh): the release gaprun to measure
# ($GAPRUN_BIN, else the workspace's target/release/gaprun) and, from its
# `gaprun info --json`, the same GAP's `gap` executable and root folders
# (`-l` form), so every comparison runs the GAP gaprun was built with.
bench_root=$(cd "$(dirname "$0")/../.." && pwd)
gaprun="${GAPRUN_BIN:-$bench_root/target/release/gaprun}"
[ -x "$gaprun" ] || { echo "build first: cargo build --release" >&2; exit 2; }
info=$("$gaprun" info --json --no-workspace)
gap=$(printf '%s' "$info" | sed -n 's/.*"gap_executable": "\(.*\)".*/\1/p')
roots=$(printf '%s' "$info" | tr -d '\n' | sed 's/.*"gap_roots": \[\([^]]*\)\].*/\1/' | tr -d ' "' | tr ',' ';')
[ -x "$gap" ] || { echo "no gap executable in this build" >&2; exit 2; }
