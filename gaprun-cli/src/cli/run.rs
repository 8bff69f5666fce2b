//! `gaprun run -j N FILE...`: each file a task in its own child forked from
//! one initialised GAP; outputs shown in input order.

use super::script::start_gap;
use super::workers::{describe, progress, run_in_order, InOrder, PoolArgs};
use super::GapArgs;
use clap::Args;
use gaprun::fork::{ForkPool, Task, TaskKind};
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub pool: PoolArgs,

    /// GAP files; each runs like `gap -q --quitonbreak FILE` in a fresh
    /// child of the initialised GAP.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

pub fn run(gap_args: &GapArgs, args: &RunArgs) -> i32 {
    if let Err(code) = super::options::check_readable_files(&args.files) {
        return code;
    }
    let shard = match args.pool.shard_run(&vec![1; args.files.len()]) {
        Ok(shard) => shard,
        Err(code) => return code,
    };
    let selected = shard.indices().to_vec();
    let gap = match start_gap(gap_args, args.pool.planned_workers(selected.len())) {
        Ok(gap) => gap,
        Err(code) => return code,
    };
    let tasks: Vec<Task> = selected
        .iter()
        .map(|&i| Task::new(TaskKind::File(args.files[i].clone())))
        .collect();
    let options = args.pool.options();
    let timeout = options.timeout;
    let pool = ForkPool::new(gap, options);
    let bar = progress(tasks.len());
    let order = InOrder::new(shard);
    let mut failed = 0usize;
    let show = |i: usize, r: &gaprun::fork::TaskResult| {
        bar.suspend(|| {
            let _ = std::io::stdout().write_all(&r.stdout);
            let _ = std::io::stdout().flush();
            let _ = std::io::stderr().write_all(&r.stderr);
            if !r.outcome.is_ok() {
                failed += 1;
                eprintln!(
                    "gaprun: {}: {}",
                    args.files[i].display(),
                    describe(r, timeout)
                );
            }
        })
    };
    let outcome = run_in_order(&pool, &tasks, &args.pool, &selected, order, &bar, show);
    super::workers::batch_exit_code(&outcome, failed)
}
