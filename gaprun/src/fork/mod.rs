//! Initialise once, then fork: run GAP tasks in child processes forked from
//! an initialised GAP.
//!
//! Why: starting GAP costs 1.5–2 s (it reads its library from source), while
//! `fork()` of a ready GAP costs a few milliseconds and shares the library's
//! memory copy-on-write. By default every task runs in a fresh child of the
//! ready parent, so no state leaks from one task to the next, and a task that
//! crashes, loops or eats memory takes only its own child down.
//!
//! Rules this module keeps:
//! - it forks only from the thread that initialised GAP (a [`Gap`](crate::Gap) handle is
//!   `!Send`, so holding one proves it) and only while that thread is the
//!   process's only one (counted in `/proc/self/task` before every fork): a
//!   child inherits just the forking thread, so a lock another thread held
//!   (malloc's, stdio's) would stay locked in the child forever;
//! - the parent never blocks on a child: it polls the children's pipes with a
//!   timeout and reaps with `wait4(WNOHANG)`, killing children past their
//!   deadline or memory limit;
//! - GAP installs a SIGCHLD handler at start-up that reaps *every* exited
//!   child (`waitpid(-1)`), which would steal the exit statuses this pool
//!   needs. While a batch runs, SIGCHLD is reset to its default in the parent
//!   (as SageMath's libgap does for good); GAP's handler is put back after the
//!   batch, and in each child, so GAP code there (`Process`, the IO package)
//!   behaves as usual.
//!
//! - every worker leads its own process group, and everything a task started
//!   dies with it: the parent kills the whole group at a timeout, a memory
//!   limit, an interrupt and after the worker exits; while a batch runs the
//!   parent is a child subreaper, so a task's process that left the group
//!   (a daemon) is re-parented to gaprun, killed and reaped (see `reap.rs`);
//! - the first SIGINT or SIGTERM to the parent during a batch stops it: the
//!   workers' groups are killed and reaped, and the batch returns
//!   [`Error::Interrupted`](crate::Error::Interrupted) (results so far were already handed out).
//!
//! Results come back over three pipes per child: its stdout and stderr (file
//! descriptors 1 and 2, which GAP's output goes to statement by statement,
//! so what a task printed survives its being killed), and a report pipe
//! carrying one JSON report written at the end of the task.

mod child;
mod gap_text;
mod pool;
mod preload;
mod reap;
mod task;
mod threads;

pub use gap_text::{gap_string_literal, is_identifier};
pub use pool::ForkPool;
pub use preload::{common_packages, loaded_packages, task_packages, test_file_input};
pub use reap::stop_signal;
pub use task::{signal_name, Task, TaskKind, TaskOutcome, TaskResult};
pub(crate) use threads::ensure_single_thread;
pub use threads::thread_count;

use std::time::Duration;

/// How a [`ForkPool`] runs its tasks.
#[derive(Debug, Clone)]
pub struct ForkOptions {
    /// Children running at the same time (at least 1).
    pub jobs: usize,
    /// Wall-clock limit per task (a task's own limit wins).
    pub timeout: Option<Duration>,
    /// Memory limit per task in bytes (a task's own limit wins): GAP's
    /// workspace limit in the child, as `gap -o` sets it (a catchable GAP
    /// error), with GAP's `-K` at twice that and a resident-memory watch by
    /// the parent as backstops.
    pub memory_limit: Option<u64>,
    /// Keep at most this many bytes of each of a task's stdout and stderr
    /// (the parent drops the rest as it arrives).
    pub max_output: usize,
}

impl Default for ForkOptions {
    fn default() -> Self {
        ForkOptions {
            jobs: default_jobs(),
            timeout: None,
            memory_limit: None,
            max_output: 64 << 20,
        }
    }
}

/// The number of cores this process may use (1 if unknown).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
