//! `gaprun run -j N FILE...`: each file a task in its own child forked from
//! one initialised GAP; outputs shown in input order.

use super::script::start_gap;
use super::workers::{describe, progress, InOrder, PoolArgs};
use super::{GapArgs, EXIT_GAP_ERROR, EXIT_OK, EXIT_USAGE};
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
    for f in &args.files {
        if let Err(e) = std::fs::File::open(f) {
            eprintln!("gaprun: cannot read {}: {e}", f.display());
            return EXIT_USAGE;
        }
        if f.is_dir() {
            eprintln!("gaprun: {} is a folder, not a GAP file", f.display());
            return EXIT_USAGE;
        }
    }
    let gap = match start_gap(gap_args, args.pool.planned_workers()) {
        Ok(gap) => gap,
        Err(code) => return code,
    };
    let tasks: Vec<Task> = args
        .files
        .iter()
        .map(|f| Task::new(TaskKind::File(f.clone())))
        .collect();
    let options = args.pool.options();
    let timeout = options.timeout;
    let pool = ForkPool::new(&gap, options);
    let bar = progress(tasks.len());
    let mut order = InOrder::new(tasks.len());
    let mut failed = 0usize;
    let outcome = pool.run_with(&tasks, |index, result| {
        bar.inc(1);
        order.put(index, result, |i, r| {
            bar.suspend(|| {
                let _ = std::io::stdout().write_all(r.stdout.as_bytes());
                let _ = std::io::stdout().flush();
                let _ = std::io::stderr().write_all(r.stderr.as_bytes());
                if !r.outcome.is_ok() {
                    failed += 1;
                    eprintln!(
                        "gaprun: {}: {}",
                        args.files[i].display(),
                        describe(r, timeout)
                    );
                }
            })
        });
    });
    bar.finish_and_clear();
    match outcome {
        Ok(_) if failed > 0 => EXIT_GAP_ERROR,
        Ok(_) => EXIT_OK,
        Err(e) => {
            eprintln!("gaprun: {e}");
            EXIT_USAGE
        }
    }
}
