#!/bin/sh
# Warm start with the default packages, side by side: `gap -L` with gap's own
# saved workspace, gaprun whose workspace stamp records the published file's
# identity (no re-hash), and gaprun made to re-hash the whole workspace at
# every start (the same stamp without its `published` field, as written by
# gaprun before the identity check).
#
#   cargo build --release && gaprun-cli/benches/workspace_check.sh [RUNS]
set -eu
runs=${1:-30}
. "$(dirname "$0")/common.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export GAPRUN_WORKSPACE_CACHE="$tmp/cache" GAPRUN_DAEMON=off
echo 'SaveWorkspace("'"$tmp"'/gap-auto.ws");' | "$gap" -l "$roots" -q -E >/dev/null
"$gaprun" -c 'QUIT;'
stamp=$(ls "$tmp"/cache/*.json)
cp "$stamp" "$tmp/identity.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("published"); json.dump(d, open(sys.argv[2], "w"))' \
  "$stamp" "$tmp/hash.json"
hyperfine -N --warmup 2 --runs "$runs" --export-markdown "$tmp/table.md" \
  --prepare true -n "gap -q -L saved.ws (autoload)" \
  "sh -c \"echo 'QUIT;' | '$gap' -l '$roots' -q -E -L '$tmp/gap-auto.ws'\"" \
  --prepare "cp '$tmp/identity.json' '$stamp'" -n "gaprun -c 'QUIT;' (warm, identity stamp)" \
  "'$gaprun' -c 'QUIT;'" \
  --prepare "cp '$tmp/hash.json' '$stamp'" -n "gaprun -c 'QUIT;' (warm, re-hash every start)" \
  "'$gaprun' -c 'QUIT;'" >&2
cat "$tmp/table.md"
