#!/bin/sh
# A package's own test folder through `gaprun test` against GAP's
# TestDirectory in one `gap` session, same GAP (the build's `gap`
# executable and roots), in one run.
#
#   cargo build --release && gaprun-cli/benches/package_tests.sh [PACKAGE] [JOBS]
#
# PACKAGE defaults to crisp (12 .tst files that pass under both; polycyclic's
# and utils' need programs the distribution does not ship, such as PARI/GP).
set -eu
pkg=${1:-crisp}
jobs=${2:-2}
. "$(dirname "$0")/common.sh"
tst=$("$gap" -l "$roots" -q -A <<EOG | tail -1
Print(Filename(DirectoriesPackageLibrary("$pkg", "tst"), ""), "\n");
EOG
)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/testdir.g" <<EOG
LoadPackage("$pkg");;
TestDirectory(DirectoriesPackageLibrary("$pkg", "tst"), rec(exitGAP := true));
EOG
"$gaprun" -c 'QUIT;' # the saved workspace exists before timing
uptime
hyperfine --runs 3 -N -i --export-markdown "$tmp/table.md" \
  -n "gap -q: TestDirectory($pkg/tst)" "'$gap' -l '$roots' -q '$tmp/testdir.g'" \
  -n "gaprun test -j 1 $pkg/tst" "'$gaprun' test -j 1 '$tst'" \
  -n "gaprun test -j $jobs $pkg/tst" "'$gaprun' test -j $jobs '$tst'"
uptime
cat "$tmp/table.md"
