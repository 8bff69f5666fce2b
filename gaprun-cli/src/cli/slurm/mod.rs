//! `gaprun slurm submit|status|collect|resubmit`: one `run`, `test` or
//! `batch` spread over a Slurm job array, each array task a node-local fork
//! pool running one shard (`--shard K/N`), results merged in input order as
//! if it had run on one machine. Slurm does the scheduling (sbatch, squeue,
//! scancel, scontrol); gaprun writes the job folder and reads it back.
//!
//! Assumes a filesystem shared by the submitting machine and the nodes for the
//! job folder, the gaprun executable and the inputs; each shard records the
//! gaprun and GAP it ran with, and `collect` reports a mismatch.

mod collect;
mod job;
mod resubmit;
mod scheduler;
mod shard_run;
mod status;
mod submit;
mod wait;

use clap::{Args, Subcommand};
use std::path::PathBuf;

pub use shard_run::ShardRun;

#[derive(Args, Debug)]
pub struct SlurmArgs {
    #[command(subcommand)]
    command: SlurmCommand,
}

#[derive(Subcommand, Debug)]
enum SlurmCommand {
    /// Write a job folder and submit `run|test|batch ARGS…` as a job array
    /// of N shards.
    Submit(submit::SubmitArgs),
    /// Shards pending / running / done / failed, and results so far.
    Status {
        /// The job folder `submit` printed.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Print the merged results as the local subcommand prints them; tasks
    /// without a result are listed on stderr (exit 2).
    Collect {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Submit again only the shards with missing results (results present
    /// are never recomputed or overwritten).
    Resubmit {
        /// Wait for the new array and collect.
        #[arg(long)]
        wait: bool,
        /// Submit held (release with `scontrol release JOBID`).
        #[arg(long)]
        hold: bool,
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

pub fn run(args: &SlurmArgs) -> i32 {
    match &args.command {
        SlurmCommand::Submit(a) => submit::run(a),
        SlurmCommand::Status { dir } => status::run(dir),
        SlurmCommand::Collect { dir } => collect::run(dir),
        SlurmCommand::Resubmit { wait, hold, dir } => resubmit::run(dir, *wait, *hold),
    }
}

/// Inside a job with a cgroup memory limit: each task's memory limit when
/// the user gave none, so a task that outgrows its share stops with GAP's own
/// memory error (`memory_limit`) instead of the kernel's OOM killer ending a
/// worker — or the whole shard. `None` without a cgroup limit.
pub fn task_memory_limit(workers: usize) -> Option<u64> {
    let facts =
        gaprun::pool::MachineFacts::gather(workers as u32, gaprun::runtime::pool_hook_available());
    facts
        .cgroup_limit()
        .map(|limit| gaprun::pool::policy::task_memory_share(limit, workers as u32))
}

/// Print an error the way every subcommand does; the usage exit code.
fn fail(e: impl std::fmt::Display) -> i32 {
    eprintln!("gaprun: {e}");
    super::EXIT_USAGE
}
