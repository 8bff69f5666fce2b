//! `gaprun slurm status DIR`: each shard's state from Slurm (squeue) and its
//! results so far from the job folder.

use super::job::JobDir;
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

pub fn run(dir: &Path) -> i32 {
    let job = JobDir::new(dir);
    let m = match job.read_manifest() {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    let states = match scheduler::array_states(&job.job_ids()) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let present = job.present();
    println!(
        "{} ({} tasks, {} shards; jobs {})",
        job.root.display(),
        m.total,
        m.shards.len(),
        job.job_ids().join(" ")
    );
    let mut counts = std::collections::BTreeMap::new();
    for (k, tasks) in m.shards.iter().enumerate() {
        let have = tasks.iter().filter(|i| present.contains(i)).count();
        let slurm = states.get(&k);
        let state = shard_state(have, tasks.len(), slurm);
        *counts.entry(state).or_insert(0) += 1;
        let detail = slurm.map_or(String::new(), |s| format!(" ({} {})", s.id, s.state));
        println!(
            "shard {k}: {state:<8} {have}/{} results{detail}",
            tasks.len()
        );
    }
    let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    println!(
        "total: {}/{} results; shards: {}",
        present.len(),
        m.total,
        summary.join(", ")
    );
    EXIT_OK
}
