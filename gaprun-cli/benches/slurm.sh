#!/usr/bin/env bash
# Benchmark of `gaprun slurm` (issue 14) on a running Slurm cluster (the local
# one: `.ci/local-cluster.sh start`, as root):
#   1. N small batch tasks: local `gaprun batch -j 2` against
#      `gaprun slurm submit --shards S --wait` (1 CPU per shard), and the
#      results compared (every field but wall_ms/cpu_ms/peak_rss_kb);
#   2. where a shard's time goes, from the job folder's file times: submit,
#      queue wait until the shard process starts, GAP start-up until its
#      first result, its tasks, and `collect` on its own;
#   3. the fixed cost of a shard: S shards of one trivial task each.
#
# Usage: gaprun-cli/benches/slurm.sh             (N=2000, S=4)
#        N=20000 S=8 gaprun-cli/benches/slurm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
S=${S:-4}

cargo build --release -q
B=$PWD/target/release/gaprun
sinfo -h -o '%T' >/dev/null 2>&1 || { echo "Slurm does not answer (sinfo); start it first" >&2; exit 2; }
W=$(mktemp -d /tmp/gaprun-slurm-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"
python3 -c "
for i in range($N):
    print('{\"id\": %d, \"code\": \"Size(SymmetricGroup(%d)) + %d;\"}' % (i, i % 7 + 1, i))
" > tasks.jsonl
"$B" info -A >/dev/null  # the workspace cache is built once, outside the timings

now() { date +%s.%N; }
t0=$(now); "$B" batch -A -j 2 tasks.jsonl > local.jsonl || true; t1=$(now)
"$B" slurm submit --shards "$S" --job-dir "$W/job" --wait batch -A tasks.jsonl > cluster.jsonl 2>/dev/null || true
t2=$(now)
t3=$(now); "$B" slurm collect "$W/job" > collected.jsonl 2>/dev/null || true; t4=$(now)
"$B" slurm submit --shards "$S" --job-dir "$W/sub" batch -A tasks.jsonl > /dev/null; t5=$(now)
scancel "$(awk '{print $1}' "$W/sub/jobs")"
head -n "$S" tasks.jsonl > tiny.jsonl
t6=$(now); "$B" slurm submit --shards "$S" --job-dir "$W/tiny" --wait batch -A tiny.jsonl > /dev/null 2>&1 || true; t7=$(now)

python3 - "$W" "$N" "$S" "$t0" "$t1" "$t2" "$t3" "$t4" "$t5" "$t6" "$t7" <<'PY'
import json, os, sys
w, n, s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t0, t1, t2, t3, t4, t5, t6, t7 = map(float, sys.argv[4:])
def load(p):
    out = []
    for l in open(os.path.join(w, p)):
        v = json.loads(l)
        for k in ("wall_ms", "cpu_ms", "peak_rss_kb"):
            v.pop(k)
        out.append(v)
    return out
local, cluster = load("local.jsonl"), load("cluster.jsonl")
same = local == cluster and len(local) == n
print(f"{n} tasks: local batch -j 2 {t1 - t0:.2f} s; slurm submit --shards {s} --wait {t2 - t1:.2f} s; "
      f"results identical (but timings): {same}")
job = json.load(open(os.path.join(w, "job", "job.json")))
res = os.path.join(w, "job", "results")
mt = {int(f[:-5]): os.stat(os.path.join(res, f)).st_mtime for f in os.listdir(res) if f.endswith(".json")}
print("| shard | tasks | queued (s) | GAP start to 1st result (s) | tasks (s) | per task (ms) |")
print("|---|---|---|---|---|---|")
metas = {}
for f in os.listdir(os.path.join(w, "job", "shards")):
    metas[int(f.split("-")[0])] = os.stat(os.path.join(w, "job", "shards", f)).st_mtime
for k, idx in enumerate(job["shards"]):
    times = sorted(mt[i] for i in idx)
    start = metas[k]
    print(f"| {k} | {len(idx)} | {start - t1:.2f} | {times[0] - start:.2f} | {times[-1] - times[0]:.2f} | "
          f"{1000 * (times[-1] - times[0]) / max(1, len(idx) - 1):.2f} |")
last = max(mt.values())
print(f"submit alone: {t5 - t4:.2f} s; last result to --wait's collect done: {t2 - last:.2f} s; "
      f"collect alone ({n} results): {t4 - t3:.2f} s ({1e6 * (t4 - t3) / n:.0f} us per result)")
print(f"{s} shards of 1 trivial task each, submit to collected: {t7 - t6:.2f} s")
PY
