#!/usr/bin/env bash
# Issue 13 item 5: `cargo install --path gaprun-cli` gives a gaprun that runs
# after the checkout is gone. Copies the committed files of this checkout to
# a temporary folder, installs from the copy (its own target folder, inside
# the copy), deletes the copy, then runs the installed gaprun from another
# folder: a script, a compiled package, a saved workspace and `?` help.
#
#   .ci/relocatable.sh            # GAPRUN_GAP as for any build (unset = dist)
#
# Takes a release build of the workspace (a few minutes on 2 cores). The GAP
# roots live in the per-user cache (~/.cache/gaprun) or the system's GAP,
# never in the build tree; this script fails if `gaprun info` names the copy.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
copy="$tmp/checkout"
mkdir -p "$copy"
(cd "$here" && git ls-files -z | xargs -0 cp --parents -t "$copy")
CARGO_TARGET_DIR="$copy/target" cargo install --quiet --locked --path "$copy/gaprun-cli" --root "$tmp/inst"
rm -rf "$copy"
gaprun="$tmp/inst/bin/gaprun"
mkdir -p "$tmp/elsewhere" && cd "$tmp/elsewhere"
# (The binary's debug info still names the copy's source files; what must
# not is where GAP is.)
if "$gaprun" info --json --no-workspace | grep -q --fixed-strings "$copy"; then
  echo "relocatable: gaprun info names the deleted build tree $copy:" >&2
  "$gaprun" info --no-workspace >&2
  exit 1
fi
export GAPRUN_WORKSPACE_CACHE="$tmp/workspaces"
check() { # expected-output command...
  local want=$1; shift
  local got
  got=$("$@")
  if [ "$got" != "$want" ]; then
    echo "relocatable: '$*' printed '$got', expected '$want'" >&2
    exit 1
  fi
}
check 120 "$gaprun" -A -c 'Size(SymmetricGroup(5));'
check true "$gaprun" -A -c 'LoadPackage("io", false);'
# Twice: the first start builds the saved workspace, the second restores it.
check 120 "$gaprun" -c 'Size(SymmetricGroup(5));'
check 120 "$gaprun" -c 'Size(SymmetricGroup(5));'
cache=$("$gaprun" cache info)
grep -q '^this configuration: .*cached' <<<"$cache" || {
  echo "relocatable: the second start did not use a saved workspace" >&2
  "$gaprun" cache info >&2
  exit 1
}
kind=$("$gaprun" info --json | sed -n 's/.*"gap_kind": "\(.*\)".*/\1/p')
if [ "$kind" = dist ]; then
  help=$("$gaprun" -A -c '?SizeScreen')
  grep -q 'returns the size of the screen' <<<"$help" || {
    echo "relocatable: ?SizeScreen did not print the manual" >&2
    exit 1
  }
fi
echo "relocatable: the installed gaprun ($kind GAP) runs after its checkout was deleted"
