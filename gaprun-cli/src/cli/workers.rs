//! What `run`, `batch` and `test` share: the worker-pool options, the
//! progress bar, and printing results in input order as they arrive.

use clap::Args;
use gaprun::fork::{default_jobs, signal_name, stop_signal, ForkOptions, TaskOutcome, TaskResult};
use gaprun::size::{parse_jobs, parse_seconds, parse_size};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// Worker-pool options of the command line.
#[derive(Args, Debug, Clone)]
pub struct PoolArgs {
    /// Tasks running at the same time (default: the number of cores).
    #[arg(short = 'j', long = "jobs", value_name = "N", value_parser = parse_jobs)]
    pub jobs: Option<usize>,

    /// Wall-clock limit per task in seconds (the task is killed after it).
    #[arg(long = "timeout", value_name = "SECONDS", value_parser = parse_seconds)]
    pub timeout: Option<Duration>,

    /// Memory limit per task, e.g. 512m (GAP's workspace limit in the
    /// worker, as `gap -o` sets it; the worker is killed at twice that).
    #[arg(long = "memory-limit", value_name = "SIZE", value_parser = parse_size)]
    pub memory_limit: Option<u64>,

    /// Run only shard K of N (0-based) of the tasks: every task is in
    /// exactly one shard; results keep their index in the whole input.
    #[arg(long = "shard", value_name = "K/N")]
    pub shard: Option<gaprun::shard::Shard>,

    /// Inside `gaprun slurm` array tasks: the job folder to record each
    /// task's result in (see docs/slurm.md).
    #[arg(
        long = "shard-results",
        value_name = "DIR",
        hide = true,
        requires = "shard"
    )]
    pub shard_results: Option<std::path::PathBuf>,

    /// Do not load, before forking, the packages every task loads itself
    /// with `LoadPackage("name")` (by default they are loaded once in the
    /// parent; see docs/fork-pool.md).
    #[arg(long = "no-preload-packages")]
    pub no_preload_packages: bool,
}

impl PoolArgs {
    /// How many workers run at once for `tasks` tasks: the pool policy
    /// sizes GAP's memory for them before GAP starts, so a `-j` above the
    /// number of tasks must not shrink each worker's share.
    pub fn planned_workers(&self, tasks: usize) -> u32 {
        let workers = self.options().jobs.min(tasks).max(1);
        u32::try_from(workers).unwrap_or(u32::MAX)
    }

    pub fn options(&self) -> ForkOptions {
        ForkOptions {
            jobs: self.jobs.unwrap_or_else(default_jobs).max(1),
            timeout: self.timeout,
            memory_limit: self.memory_limit.or_else(|| {
                let jobs = self.jobs.unwrap_or_else(default_jobs).max(1);
                self.shard_results
                    .as_ref()
                    .and_then(|_| super::slurm::task_memory_limit(jobs))
            }),
            ..ForkOptions::default()
        }
    }

    /// The tasks this run does (all, or its `--shard`), for tasks of these
    /// weights in input order; a usage error is printed and its exit code
    /// returned.
    pub fn shard_run(&self, weights: &[u64]) -> Result<super::slurm::ShardRun, i32> {
        super::slurm::ShardRun::new(self.shard, self.shard_results.as_deref(), weights).map_err(
            |e| {
                eprintln!("gaprun: {e}");
                super::EXIT_USAGE
            },
        )
    }
}

/// A progress bar on stderr when it is a terminal and the run is long
/// enough to want one; hidden otherwise. No steady tick: a ticker thread
/// would make the process multi-threaded, and forking is then refused.
pub fn progress(total: usize) -> ProgressBar {
    if total < 2 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} [{elapsed}] {msg}") {
        bar.set_style(style);
    }
    bar
}

/// Collects results arriving in any order and hands them out in input
/// order, each as soon as every earlier one has been handed out. Indices are
/// those of the whole input; only the shard's are expected. Inside a Slurm
/// array task each result is recorded as soon as it arrives instead.
pub struct InOrder {
    shard: super::slurm::ShardRun,
    slots: Vec<Option<TaskResult>>,
    next: usize,
}

impl InOrder {
    pub fn new(shard: super::slurm::ShardRun) -> InOrder {
        InOrder {
            slots: vec![None; shard.indices().len()],
            shard,
            next: 0,
        }
    }

    pub fn put(
        &mut self,
        index: usize,
        result: &TaskResult,
        mut show: impl FnMut(usize, &TaskResult),
    ) {
        if self.shard.record(index, result, || show(index, result)) {
            return;
        }
        let Ok(slot) = self.shard.indices().binary_search(&index) else {
            unreachable!("task {index} is not in this shard")
        };
        self.slots[slot] = Some(result.clone());
        while let Some(Some(r)) = self.slots.get_mut(self.next).map(Option::take) {
            show(self.shard.indices()[self.next], &r);
            self.next += 1;
        }
    }

    /// Hand out every result still held (a stopped batch: some earlier
    /// task will never finish), in input order.
    pub fn flush(&mut self, mut show: impl FnMut(usize, &TaskResult)) {
        for (i, slot) in self.slots.iter_mut().enumerate().skip(self.next) {
            if let Some(r) = slot.take() {
                // By the task's global index, as `put` shows it.
                show(self.shard.indices()[i], &r);
            }
        }
        self.next = self.slots.len();
    }
}

/// One line saying how a task that did not succeed ended.
pub fn describe(result: &TaskResult, timeout: Option<Duration>) -> String {
    match result.outcome {
        TaskOutcome::Ok => "ok".into(),
        TaskOutcome::GapError => match &result.error {
            Some(e) => format!("GAP error: {e}"),
            None => "GAP error".into(),
        },
        TaskOutcome::TestFailed => "test failed".into(),
        TaskOutcome::Exited(code) => format!("GAP quit with exit code {code}"),
        TaskOutcome::Timeout => match timeout {
            Some(t) => format!("timed out after {} s", t.as_secs_f64()),
            None => "timed out".into(),
        },
        TaskOutcome::MemoryLimit => "memory limit exceeded".into(),
        TaskOutcome::Signaled(sig) => format!("killed by {}", signal_name(sig)),
        TaskOutcome::Crashed(code) => format!("worker crashed (exit code {code})"),
    }
}

/// Exit code of a finished batch: 1 when any task failed, 2 when the pool
/// itself could not run (printed), 128 + the signal when a SIGINT (130) or
/// SIGTERM (143) stopped it (printed), else 0.
pub fn batch_exit_code<T>(outcome: &gaprun::Result<T>, failed: usize) -> i32 {
    match outcome {
        Ok(_) if failed > 0 => super::EXIT_GAP_ERROR,
        Ok(_) => super::EXIT_OK,
        Err(gaprun::Error::Interrupted) => {
            let sig = stop_signal().unwrap_or(libc::SIGINT);
            eprintln!(
                "gaprun: stopped by {}: the running tasks were killed",
                signal_name(sig)
            );
            128 + sig
        }
        Err(e) => {
            eprintln!("gaprun: {e}");
            super::EXIT_USAGE
        }
    }
}

/// Load in the parent the packages every task loads itself (unless
/// `--no-preload-packages`), so each worker inherits them instead of
/// loading them again. A failure only costs the speed-up (a warning), except
/// a stop signal, which stops the batch.
fn preload(
    pool: &gaprun::fork::ForkPool,
    tasks: &[gaprun::fork::Task],
    args: &PoolArgs,
) -> gaprun::Result<()> {
    if args.no_preload_packages {
        return Ok(());
    }
    let start = std::time::Instant::now();
    match pool.preload_packages(tasks) {
        Ok(names) => {
            if super::debug_enabled("preload") {
                eprintln!(
                    "gaprun: preload: [{}] ({} ms)",
                    names.join(", "),
                    start.elapsed().as_millis()
                );
            }
            Ok(())
        }
        Err(gaprun::Error::Interrupted) => Err(gaprun::Error::Interrupted),
        Err(e) => {
            eprintln!("gaprun: warning: packages not preloaded: {e}");
            Ok(())
        }
    }
}

/// Run `tasks` on `pool` (after preloading the packages they all load, see
/// [`preload`]) and show each result through `show` in input order:
/// `global[k]` is task k's index in the whole input. A stopped batch still
/// shows every task that finished. Returns the pool's outcome.
pub fn run_in_order(
    pool: &gaprun::fork::ForkPool,
    tasks: &[gaprun::fork::Task],
    args: &PoolArgs,
    global: &[usize],
    mut order: InOrder,
    bar: &ProgressBar,
    mut show: impl FnMut(usize, &TaskResult),
) -> gaprun::Result<Vec<TaskResult>> {
    if let Err(e) = preload(pool, tasks, args) {
        bar.finish_and_clear();
        return Err(e);
    }
    let outcome = pool.run_with(tasks, |k, result| {
        bar.inc(1);
        order.put(global[k], result, &mut show);
    });
    order.flush(&mut show);
    bar.finish_and_clear();
    outcome
}
