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
//!   `!Send`, so holding `&Gap` proves it) and only while that thread is the
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
//!   [`Error::Interrupted`] (results so far were already handed out).
//!
//! Results come back over three pipes per child: its stdout and stderr (file
//! descriptors 1 and 2, which GAP's output goes to statement by statement,
//! so what a task printed survives its being killed), and a report pipe
//! carrying one JSON report written at the end of the task.

mod child;
mod pool;
mod preload;
mod reap;

pub use pool::ForkPool;
pub use preload::{common_packages, loaded_packages, task_packages, test_file_input};
pub use reap::stop_signal;

use crate::error::{Error, Result};
use nix::sys::signal::Signal;
use std::path::PathBuf;
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

/// What a task runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskKind {
    /// GAP statements, evaluated one by one as in GAP's REPL (an error in
    /// one does not stop the next); the view of the last statement's value
    /// is reported (none when that statement failed, had no value or ended
    /// in `;;`).
    Code(String),
    /// A GAP file, read as `gap -q --quitonbreak FILE` would (stops at the
    /// first error).
    File(PathBuf),
    /// A GAP test file through GAP's own `Test(file)` with GAP's default
    /// options; GAP's diff goes to the task's stdout. As under `gap`, GAP's
    /// `lib/init.g` is an open input file (file id 4) while the test runs.
    Test(PathBuf),
}

/// One unit of work for the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// What to run.
    pub kind: TaskKind,
    /// Globals bound before the task runs: (name, value), each value
    /// converted to a GAP object as [`crate::convert`] converts JSON
    /// (integers exact, `{"base64": …}` byte strings) — never GAP source.
    pub vars: Vec<(String, serde_json::Value)>,
    /// Overrides [`ForkOptions::timeout`].
    pub timeout: Option<Duration>,
    /// Overrides [`ForkOptions::memory_limit`].
    pub memory_limit: Option<u64>,
}

impl Task {
    /// A task with no variables and the pool's limits.
    pub fn new(kind: TaskKind) -> Task {
        Task {
            kind,
            vars: Vec::new(),
            timeout: None,
            memory_limit: None,
        }
    }
}

/// How a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskOutcome {
    /// Ran to its end without a GAP error (a test file: it passed).
    Ok,
    /// GAP raised an error.
    GapError,
    /// A test file ran but its output differed from the expected one.
    TestFailed,
    /// `QuitGap(n)` / `QUIT_GAP(n)` with a non-zero exit code (the worker
    /// exits with it; its output is kept).
    Exited(i32),
    /// Killed after its time limit.
    Timeout,
    /// Stopped by its memory limit.
    MemoryLimit,
    /// The child died from a signal nobody in the pool sent (SIGSEGV, an
    /// outside SIGKILL, the kernel's OOM killer …).
    Signaled(i32),
    /// The child exited without reporting (GAP called `exit`, a panic);
    /// its exit code.
    Crashed(i32),
}

impl TaskOutcome {
    /// Whether the task succeeded.
    pub fn is_ok(self) -> bool {
        self == TaskOutcome::Ok
    }

    /// Stable lower-case name (used in JSON output).
    pub fn name(self) -> &'static str {
        match self {
            TaskOutcome::Ok => "ok",
            TaskOutcome::GapError => "gap_error",
            TaskOutcome::TestFailed => "test_failed",
            TaskOutcome::Exited(_) => "exited",
            TaskOutcome::Timeout => "timeout",
            TaskOutcome::MemoryLimit => "memory_limit",
            TaskOutcome::Signaled(_) => "signaled",
            TaskOutcome::Crashed(_) => "crashed",
        }
    }
}

/// Name of a signal number ("SIGSEGV"), or its number as text.
pub fn signal_name(sig: i32) -> String {
    Signal::try_from(sig).map_or_else(|_| format!("signal {sig}"), |s| s.as_str().to_string())
}

/// What one task did.
#[derive(Debug, Clone)]
pub struct TaskResult {
    /// How the task ended.
    pub outcome: TaskOutcome,
    /// Everything the task wrote to its standard output (bytes: GAP output
    /// need not be UTF-8).
    pub stdout: Vec<u8>,
    /// Everything it wrote to its standard error (GAP's error messages).
    pub stderr: Vec<u8>,
    /// GAP's view of the last statement's value, on one line (code and
    /// test tasks; see [`TaskKind::Code`]).
    pub view: Option<Vec<u8>>,
    /// The first GAP error's message (or why the child failed).
    pub error: Option<String>,
    /// The worker's exit code when it exited by itself: 0 after a task
    /// that ended (ok, gap_error, test_failed), GAP's code after
    /// `QuitGap(n)`, the code of a crash; `None` when a signal ended it.
    pub exit_code: Option<i32>,
    /// The signal that ended the child, when one did.
    pub signal: Option<i32>,
    /// Wall-clock time from fork to the child's end.
    pub wall: Duration,
    /// User plus system CPU time of the child (and children it waited for).
    pub cpu: Duration,
    /// Peak resident set of the child in KiB (it starts at the parent's,
    /// since the child shares the parent's pages).
    pub peak_rss_kb: u64,
    /// Output beyond [`ForkOptions::max_output`] was dropped.
    pub output_truncated: bool,
}

/// Threads of this process right now (entries of `/proc/self/task`).
pub fn thread_count() -> Result<usize> {
    Ok(std::fs::read_dir("/proc/self/task")?.count())
}

pub(crate) fn ensure_single_thread() -> Result<()> {
    match thread_count()? {
        1 => Ok(()),
        n => Err(Error::MultipleThreads(n)),
    }
}

/// A valid GAP identifier as far as its characters go (keywords are
/// checked by GAP's `IsValidIdentifier` when the variable is bound).
pub fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && !name.chars().all(|c| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '@')
}

/// A GAP string literal with exactly these bytes (any bytes: a file name
/// need not be UTF-8). Bytes outside printable ASCII become GAP's octal
/// escapes (`\377`), so the literal is ASCII text.
pub fn gap_string_literal(bytes: impl AsRef<[u8]>) -> String {
    let bytes = bytes.as_ref();
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\r' => out.push_str("\\r"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literals_escape_what_gap_needs() {
        assert_eq!(gap_string_literal("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(gap_string_literal("\u{1}"), "\"\\001\"");
        assert_eq!(gap_string_literal(b"\xffa\x80"), "\"\\377a\\200\"");
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("x_1"));
        assert!(!is_identifier("1"));
        assert!(!is_identifier("a b"));
        assert!(!is_identifier(""));
    }

    #[test]
    fn outcome_names_are_stable() {
        assert_eq!(TaskOutcome::Signaled(11).name(), "signaled");
        assert_eq!(signal_name(11), "SIGSEGV");
    }
}
