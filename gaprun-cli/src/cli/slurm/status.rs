//! `gaprun slurm status DIR`: each shard's state from Slurm (squeue) and its
//! results so far from the job folder.

use super::job::{JobDir, Manifest};
use super::{fail, scheduler};
use crate::cli::EXIT_OK;
use std::path::Path;

/// A shard's state in words: `pending` or `running` while Slurm has it
/// queued or running; then `done` if every task has a result, else
/// `incomplete` — whatever Slurm says (a cancelled pending array task is
/// dropped from squeue altogether, and finished jobs are forgotten after
/// MinJobAge), the result files decide.
pub fn shard_state(
    results: usize,
    expected: usize,
    slurm: Option<&scheduler::TaskState>,
) -> &'static str {
    match slurm {
        Some(s) if s.is_active() && s.state == "PENDING" => "pending",
        Some(s) if s.is_active() => "running",
        _ if results == expected => "done",
        _ => "incomplete",
    }
}

/// One shard as `status` shows it.
pub struct ShardView {
    pub index: usize,
    /// Tasks with a result, of `expected`.
    pub have: usize,
    pub expected: usize,
    pub state: &'static str,
    /// What squeue says, while it still lists the array task.
    pub slurm: Option<scheduler::TaskState>,
}

/// The manifest and every shard's state, from squeue and the result files.
pub fn survey(job: &JobDir) -> Result<(Manifest, Vec<ShardView>), String> {
    let m = job.read_manifest()?;
    let mut states = scheduler::array_states(&job.job_ids())?;
    let present = job.present();
    let views = m
        .shards
        .iter()
        .enumerate()
        .map(|(index, tasks)| {
            let have = tasks.iter().filter(|i| present.contains(i)).count();
            let slurm = states.remove(&index);
            ShardView {
                index,
                have,
                expected: tasks.len(),
                state: shard_state(have, tasks.len(), slurm.as_ref()),
                slurm,
            }
        })
        .collect();
    Ok((m, views))
}

pub fn run(dir: &Path) -> i32 {
    let job = JobDir::new(dir);
    let (m, shards) = match survey(&job) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    println!(
        "{} ({} tasks, {} shards; jobs {})",
        job.root.display(),
        m.total,
        m.shards.len(),
        job.job_ids().join(" ")
    );
    let mut counts = std::collections::BTreeMap::new();
    for v in &shards {
        *counts.entry(v.state).or_insert(0) += 1;
        let detail = v
            .slurm
            .as_ref()
            .map_or(String::new(), |s| format!(" ({} {})", s.id, s.state));
        println!(
            "shard {}: {:<10} {}/{} results{detail}",
            v.index, v.state, v.have, v.expected
        );
    }
    let have: usize = shards.iter().map(|v| v.have).sum();
    let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    println!(
        "total: {have}/{} results; shards: {}",
        m.total,
        summary.join(", ")
    );
    EXIT_OK
}
