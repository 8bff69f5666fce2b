#!/usr/bin/env bash
# Commit per forked worker, and how many workers fork, for three pool rules:
# a naive fixed 3 GB reserved pool, SageMath's get_gap_memory_pool_size()
# rule, and gaprun's auto policy — in overcommit mode 0 and, when run as root
# with a writable /proc/sys/vm/overcommit_memory, in strict mode 2 (switched
# on only inside each measuring process and restored right after).
# Usage: gaprun-cli/benches/pool_forks.sh [MAX_WORKERS]   (default 32)
# Do not run it while other heavy jobs run: mode 2 affects the whole machine.
set -euo pipefail
cd "$(dirname "$0")/.."
GAPRUN_TEST_STRICT_OVERCOMMIT=1 GAPRUN_POOL_BENCH=1 GAPRUN_POOL_BENCH_FORKS="${1:-32}" \
    cargo test --release --quiet --test pool_commit 2>/dev/null
