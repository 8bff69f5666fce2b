//! What the pool runs and what it reports: tasks, their outcomes and
//! results (the pool's public protocol, free of processes and pipes).

use nix::sys::signal::Signal;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Overrides [`ForkOptions::timeout`](super::ForkOptions::timeout).
    pub timeout: Option<Duration>,
    /// Overrides [`ForkOptions::memory_limit`](super::ForkOptions::memory_limit).
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
    /// Output beyond [`ForkOptions::max_output`](super::ForkOptions::max_output) was dropped.
    pub output_truncated: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_names_are_stable() {
        assert_eq!(TaskOutcome::Signaled(11).name(), "signaled");
        assert_eq!(signal_name(11), "SIGSEGV");
    }
}
