//! One shard of `gaprun run|test|batch --shard K/N`: which tasks it runs and,
//! inside a Slurm array task (`--shard-results DIR`, written by `slurm
//! submit`), where each finished task's result goes.
//!
//! A result is recorded as exactly what the local subcommand printed for that
//! task — its `ok`/`FAIL` line, its JSON line, its output — by running the
//! subcommand's own printing with standard output and error pointed at
//! scratch files. So `slurm collect` reproduces the local output byte for
//! byte without a second copy of any subcommand's formatting. Each result is
//! written (then renamed into place) the moment its task finishes, not in
//! input order, so a shard killed mid-way keeps every task it finished.

use super::job::{JobDir, ShardMeta, TaskRecord, Versions};
use gaprun::fork::TaskResult;
use gaprun::shard::{self, Shard};
use nix::unistd::{close, dup, dup2};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

/// The tasks of this run (global input indices, ascending) and, inside a
/// Slurm job, the recorder of their results.
pub struct ShardRun {
    indices: Vec<usize>,
    recorder: Option<Recorder>,
}

impl ShardRun {
    /// The tasks of `shard` (all tasks without one) among tasks of the given
    /// weights (one per task, in input order). With a job folder, the split
    /// is the one `submit` recorded and tasks that already have a result are
    /// left out (a resubmitted shard only does what is missing).
    pub fn new(
        shard: Option<Shard>,
        job_dir: Option<&Path>,
        weights: &[u64],
    ) -> Result<ShardRun, String> {
        let Some(dir) = job_dir else {
            let indices = match shard {
                Some(s) => shard::select(weights, s),
                None => (0..weights.len()).collect(),
            };
            return Ok(ShardRun {
                indices,
                recorder: None,
            });
        };
        let shard = shard.ok_or("--shard-results needs --shard K/N")?;
        let job = JobDir::new(dir);
        let manifest = job.read_manifest()?;
        if manifest.shards.len() != shard.count {
            return Err(format!(
                "{} was split into {} shards, not {}",
                dir.display(),
                manifest.shards.len(),
                shard.count
            ));
        }
        if manifest.total != weights.len() {
            return Err(format!(
                "{} was submitted for {} tasks but the input now has {} (did it change after submit?)",
                dir.display(),
                manifest.total,
                weights.len()
            ));
        }
        let present = job.present();
        let indices: Vec<usize> = manifest.shards[shard.index]
            .iter()
            .copied()
            .filter(|i| !present.contains(i))
            .collect();
        let versions = Versions::current();
        let meta = ShardMeta {
            shard: shard.index,
            slurm_job: slurm_job_name(),
            host: std::env::var("SLURMD_NODENAME")
                .or_else(|_| std::fs::read_to_string("/proc/sys/kernel/hostname"))
                .map(|h| h.trim().to_string())
                .unwrap_or_default(),
            tasks: indices.len(),
            versions,
        };
        job.write_shard_meta(&meta)?;
        let scratch = |what| {
            tempfile::tempfile()
                .map_err(|e| format!("cannot create a scratch file for {what}: {e}"))
        };
        Ok(ShardRun {
            indices,
            recorder: Some(Recorder {
                job,
                out: scratch("stdout")?,
                err: scratch("stderr")?,
            }),
        })
    }

    /// Global indices of the tasks to run, ascending.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// The items (one per task of the whole input) this run does, in order.
    pub fn pick<T>(&self, items: Vec<T>) -> Vec<T> {
        let mut wanted = self.indices.iter().peekable();
        items
            .into_iter()
            .enumerate()
            .filter(|(i, _)| wanted.next_if_eq(&i).is_some())
            .map(|(_, x)| x)
            .collect()
    }

    /// Inside a Slurm job: record the task's result now, as printed by
    /// `show`. Returns false (and does nothing) outside one.
    pub fn record(&mut self, index: usize, result: &TaskResult, show: impl FnOnce()) -> bool {
        let Some(rec) = &mut self.recorder else {
            return false;
        };
        if let Err(e) = rec.record(index, result, show) {
            // The task's result is then missing: collect reports it, resubmit redoes it.
            eprintln!("gaprun: task {index}: {e}");
        }
        true
    }
}

/// `JOBID_ARRAYTASK` inside a Slurm array task, else `local-PID`.
fn slurm_job_name() -> String {
    match (
        std::env::var("SLURM_ARRAY_JOB_ID"),
        std::env::var("SLURM_ARRAY_TASK_ID"),
    ) {
        (Ok(j), Ok(t)) => format!("{j}_{t}"),
        _ => std::env::var("SLURM_JOB_ID")
            .unwrap_or_else(|_| format!("local-{}", std::process::id())),
    }
}

struct Recorder {
    job: JobDir,
    /// Scratch files standard output and error are pointed at while a
    /// task's output is printed (reused, truncated before each task).
    out: File,
    err: File,
}

impl Recorder {
    fn record(
        &mut self,
        index: usize,
        result: &TaskResult,
        show: impl FnOnce(),
    ) -> Result<(), String> {
        let (stdout, stderr) = self
            .capture(show)
            .map_err(|e| format!("cannot capture its output: {e}"))?;
        self.job.write_result(&TaskRecord {
            index,
            status: result.outcome.name().to_string(),
            stdout,
            stderr,
        })
    }

    /// Run `show` with file descriptors 1 and 2 on the scratch files; return
    /// what it wrote. The process is single-threaded here (the fork pool's
    /// parent), so nothing else writes to 1 or 2 meanwhile.
    fn capture(&mut self, show: impl FnOnce()) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
        for f in [&mut self.out, &mut self.err] {
            f.set_len(0)?;
            f.rewind()?;
        }
        std::io::stdout().flush()?;
        let saved = [dup(1)?, dup(2)?];
        let pointed = dup2(self.out.as_raw_fd(), 1).and_then(|_| dup2(self.err.as_raw_fd(), 2));
        if pointed.is_ok() {
            show();
        }
        let flushed = std::io::stdout().flush();
        let restored = dup2(saved[0], 1).and_then(|_| dup2(saved[1], 2));
        let _ = close(saved[0]);
        let _ = close(saved[1]);
        restored?;
        pointed?;
        flushed?;
        let read = |f: &mut File| -> std::io::Result<Vec<u8>> {
            let mut v = Vec::new();
            f.rewind()?;
            f.read_to_end(&mut v)?;
            Ok(v)
        };
        Ok((read(&mut self.out)?, read(&mut self.err)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_shards_items_in_order() {
        let run = ShardRun::new(Some("1/3".parse().unwrap()), None, &[1; 8]).unwrap();
        assert_eq!(run.indices(), &[1, 4, 7]);
        assert_eq!(run.pick("abcdefgh".chars().collect()), vec!['b', 'e', 'h']);
        let all = ShardRun::new(None, None, &[1; 3]).unwrap();
        assert_eq!(all.pick(vec![1, 2, 3]), vec![1, 2, 3]);
    }
}
