//! `gaprun slurm collect DIR`: the results in input order, printed as the
//! local subcommand prints them (each task's recorded output), the closing
//! lines of `test`, and the local exit code. Tasks without a result and
//! shards that ran a different gaprun or GAP are reported on stderr and make
//! the exit code 2.

use super::fail;
use super::job::{JobDir, Manifest};
use crate::cli::{EXIT_GAP_ERROR, EXIT_OK, EXIT_USAGE};
use std::io::Write;
use std::path::Path;

pub fn run(dir: &Path) -> i32 {
    let job = JobDir::new(dir);
    let m = match job.read_manifest() {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    let results = match job.read_results() {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let (mut passed, mut failed, mut timed_out) = (0usize, 0usize, 0usize);
    let mut missing = Vec::new();
    {
        let mut out = std::io::stdout().lock();
        let mut err = std::io::stderr().lock();
        for i in 0..m.total {
            let Some(r) = results.get(&i) else {
                missing.push(i);
                continue;
            };
            let _ = out.write_all(&r.stdout);
            if !r.stderr.is_empty() {
                let _ = out.flush();
                let _ = err.write_all(&r.stderr);
            }
            if r.status == "ok" {
                passed += 1;
            } else {
                failed += 1;
            }
            if r.status == "timeout" {
                timed_out += 1;
            }
        }
        let _ = out.flush();
    }
    if m.subcommand == "test" {
        print!(
            "{}",
            crate::cli::test::summary(passed, failed, m.skipped, timed_out)
        );
    }
    let mut complete = report_missing(&job, &m, &missing);
    complete &= check_versions(&job, &m);
    if !complete {
        EXIT_USAGE
    } else if failed > 0 {
        EXIT_GAP_ERROR
    } else {
        EXIT_OK
    }
}

/// List tasks without a result on stderr; true when there are none.
fn report_missing(job: &JobDir, m: &Manifest, missing: &[usize]) -> bool {
    if missing.is_empty() {
        return true;
    }
    let shard_of = |i: usize| m.shards.iter().position(|s| s.binary_search(&i).is_ok());
    eprintln!(
        "gaprun: {} of {} tasks have no result (`gaprun slurm status {dir}` shows the shards; \
         `gaprun slurm resubmit {dir}` runs what is missing):",
        missing.len(),
        m.total,
        dir = job.root.display()
    );
    for &i in missing {
        let shard = shard_of(i).map_or(String::new(), |k| format!(", shard {k}"));
        eprintln!("missing: task {i} ({}{shard})", m.labels[i]);
    }
    false
}

/// Every shard must have run the gaprun and GAP that submitted the job; say
/// which did not. True when all match.
fn check_versions(job: &JobDir, m: &Manifest) -> bool {
    let mut ok = true;
    for (path, meta) in job.shard_metas() {
        match meta {
            Ok(meta) if meta.versions == m.versions => {}
            Ok(meta) => {
                ok = false;
                eprintln!(
                    "gaprun: version mismatch: shard {} ({} on {}) ran gaprun {} with {}; \
                     submitted with gaprun {} and {}",
                    meta.shard,
                    meta.slurm_job,
                    meta.host,
                    meta.versions.gaprun,
                    meta.versions.gap,
                    m.versions.gaprun,
                    m.versions.gap
                );
            }
            Err(e) => {
                ok = false;
                eprintln!("gaprun: cannot read {}: {e}", path.display());
            }
        }
    }
    ok
}
