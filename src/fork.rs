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
//! - it forks only from the thread that initialised GAP (a [`Gap`] handle is
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
//! Results come back over three pipes per child: its stdout and stderr (file
//! descriptors 1 and 2, which GAP's own buffered output writes to), and a
//! report pipe carrying one JSON [`ChildReport`].

use crate::error::{Error, Result};
use crate::runtime::{take_error, Gap, LoopMode};
use crate::sys;
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::unistd::{dup2, fork, pipe, ForkResult, Pid};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

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
    /// Keep at most this many bytes of each of a task's stdout and stderr.
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
    /// one does not stop the next); the last value's view is reported.
    Code(String),
    /// A GAP file, read as `gap -q --quitonbreak FILE` would (stops at the
    /// first error).
    File(PathBuf),
    /// A GAP test file through GAP's own `Test(file)` with GAP's default
    /// options; GAP's diff goes to the task's stdout.
    Test(PathBuf),
}

/// One unit of work for the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
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
    /// `QuitGap(n)` / `QUIT_GAP(n)` with a non-zero exit code.
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
    pub outcome: TaskOutcome,
    /// Everything the task wrote to its standard output.
    pub stdout: String,
    /// Everything it wrote to its standard error (GAP's error messages).
    pub stderr: String,
    /// View of the last value (code tasks whose last statement had one).
    pub view: Option<String>,
    /// The first GAP error's message (or why the child failed).
    pub error: Option<String>,
    /// The child's exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended the child, when one did.
    pub signal: Option<i32>,
    pub wall: Duration,
    /// User plus system CPU time of the child (and children it waited for).
    pub cpu: Duration,
    /// Peak resident set of the child in KiB (it starts at the parent's,
    /// since the child shares the parent's pages).
    pub peak_rss_kb: u64,
    /// Output beyond [`ForkOptions::max_output`] was dropped.
    pub output_truncated: bool,
}

/// The child's own account of its task, sent over the report pipe.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ChildReport {
    view: Option<String>,
    error: Option<String>,
    errors: u64,
    quit_code: Option<i32>,
    test_passed: Option<bool>,
    memory_exceeded: bool,
}

/// Threads of this process right now (entries of `/proc/self/task`).
pub fn thread_count() -> Result<usize> {
    Ok(std::fs::read_dir("/proc/self/task")?.count())
}

fn ensure_single_thread() -> Result<()> {
    match thread_count()? {
        1 => Ok(()),
        n => Err(Error::MultipleThreads(n)),
    }
}

/// SIGCHLD back to its default while a batch runs; GAP's handler is kept to
/// be restored afterwards (and in each child).
struct SigchldGuard {
    gap_action: SigAction,
}

impl SigchldGuard {
    fn install() -> Result<SigchldGuard> {
        let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
        // SAFETY: installs the default disposition; no handler code runs.
        let gap_action = unsafe { sigaction(Signal::SIGCHLD, &default) }
            .map_err(|e| Error::Worker(format!("cannot reset SIGCHLD: {e}")))?;
        Ok(SigchldGuard { gap_action })
    }

    fn restore(&self) {
        // SAFETY: puts back the action GAP installed (a plain C handler).
        let _ = unsafe { sigaction(Signal::SIGCHLD, &self.gap_action) };
    }
}

impl Drop for SigchldGuard {
    fn drop(&mut self) {
        self.restore();
    }
}

/// Why the parent killed a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KillReason {
    Timeout,
    Memory,
}

/// A child the parent is waiting for.
struct Running {
    index: usize,
    pid: Pid,
    /// Read ends: stdout, stderr, report (None once at end of file).
    fds: [Option<OwnedFd>; 3],
    bufs: [Vec<u8>; 3],
    truncated: bool,
    start: Instant,
    deadline: Option<Instant>,
    /// Resident-memory ceiling in bytes watched by the parent.
    rss_ceiling: Option<u64>,
    killed: Option<KillReason>,
    reaped: bool,
}

impl Running {
    fn all_eof(&self) -> bool {
        self.fds.iter().all(Option::is_none)
    }

    /// Read what is available on pipe `k` without blocking.
    fn read_pipe(&mut self, k: usize, max_output: usize) {
        let mut chunk = [0u8; 65536];
        while let Some(fd) = &self.fds[k] {
            match nix::unistd::read(fd.as_raw_fd(), &mut chunk) {
                Ok(0) => self.fds[k] = None,
                Ok(n) => {
                    let buf = &mut self.bufs[k];
                    // The report pipe is never truncated (it is small).
                    let room = if k == 2 {
                        n
                    } else {
                        max_output.saturating_sub(buf.len()).min(n)
                    };
                    buf.extend_from_slice(&chunk[..room]);
                    if room < n {
                        self.truncated = true;
                    }
                }
                Err(Errno::EINTR) => continue,
                Err(_) => break, // EAGAIN: nothing more for now
            }
        }
    }

    fn kill_for(&mut self, reason: KillReason) {
        if self.killed.is_none() {
            self.killed = Some(reason);
            let _ = kill(self.pid, Signal::SIGKILL);
        }
    }

    /// `wait4(WNOHANG)`: the status and resource usage once it exited.
    fn try_reap(&mut self) -> Option<(i32, libc::rusage)> {
        let mut status = 0;
        // SAFETY: rusage is plain data that wait4 fills.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: waits for our own child only, without blocking.
            let r =
                unsafe { libc::wait4(self.pid.as_raw(), &mut status, libc::WNOHANG, &mut usage) };
            if r == self.pid.as_raw() {
                self.reaped = true;
                return Some((status, usage));
            }
            if r == -1 && Errno::last() == Errno::EINTR {
                continue;
            }
            if r == -1 {
                // Someone else reaped it (a SIGCHLD handler installed behind
                // our back): the status is lost.
                self.reaped = true;
                return Some((-1, usage));
            }
            return None;
        }
    }
}

impl Drop for Running {
    /// A batch that ends early (an error in the parent) leaves no children.
    fn drop(&mut self) {
        if !self.reaped {
            let _ = kill(self.pid, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(self.pid, None);
        }
    }
}

/// Resident memory of a process in bytes (from `/proc/PID/statm`).
fn resident_bytes(pid: Option<Pid>) -> Option<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/statm"),
        None => "/proc/self/statm".to_string(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * page.max(4096) as u64)
}

/// Runs tasks in children forked from an initialised GAP.
pub struct ForkPool<'gap> {
    gap: &'gap Gap,
    options: ForkOptions,
}

impl<'gap> ForkPool<'gap> {
    /// A pool over this (initialised) GAP. Holding `&Gap` proves the caller
    /// is on GAP's thread.
    pub fn new(gap: &'gap Gap, mut options: ForkOptions) -> ForkPool<'gap> {
        options.jobs = options.jobs.max(1);
        ForkPool { gap, options }
    }

    /// Run every task; results in input order.
    pub fn run(&self, tasks: &[Task]) -> Result<Vec<TaskResult>> {
        self.run_with(tasks, |_, _| {})
    }

    /// Run every task, calling `on_result(index, result)` as each finishes
    /// (in completion order); results in input order.
    ///
    /// Fails (after killing any children started) when the process has a
    /// second thread at a fork, or when no child can be forked at all.
    pub fn run_with(
        &self,
        tasks: &[Task],
        mut on_result: impl FnMut(usize, &TaskResult),
    ) -> Result<Vec<TaskResult>> {
        let mut results: Vec<Option<TaskResult>> = vec![None; tasks.len()];
        if tasks.is_empty() {
            return Ok(Vec::new());
        }
        ensure_single_thread()?;
        let sigchld = SigchldGuard::install()?;
        let mut running: Vec<Running> = Vec::new();
        let mut next = 0;
        while next < tasks.len() || !running.is_empty() {
            while running.len() < self.options.jobs && next < tasks.len() {
                match self.spawn(next, &tasks[next], &sigchld) {
                    Ok(r) => {
                        running.push(r);
                        next += 1;
                    }
                    // Out of processes or memory: wait for a child to end.
                    Err(Error::Worker(_)) if !running.is_empty() => break,
                    Err(e) => return Err(e),
                }
            }
            for (index, result) in self.pump(&mut running) {
                on_result(index, &result);
                results[index] = Some(result);
            }
        }
        drop(sigchld);
        Ok(results
            .into_iter()
            .map(|r| r.expect("every task finished"))
            .collect())
    }

    fn spawn(&self, index: usize, task: &Task, sigchld: &SigchldGuard) -> Result<Running> {
        ensure_single_thread()?;
        let pipe_err = |e: Errno| Error::Worker(format!("cannot create a pipe: {e}"));
        let (out_r, out_w) = pipe().map_err(pipe_err)?;
        let (err_r, err_w) = pipe().map_err(pipe_err)?;
        let (rep_r, rep_w) = pipe().map_err(pipe_err)?;
        // Whatever the parent has buffered would be written twice otherwise.
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
        let memory_limit = task.memory_limit.or(self.options.memory_limit);
        let timeout = task.timeout.or(self.options.timeout);
        let parent_rss = resident_bytes(None).unwrap_or(0);
        // SAFETY: this is GAP's thread (we hold `&Gap`) and the only thread
        // of the process (checked just above), so the child's copy of every
        // lock is consistent. The child never returns from `child_main`.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                drop((out_r, err_r, rep_r));
                child_main(self.gap, task, [out_w, err_w, rep_w], memory_limit, sigchld)
            }
            Ok(ForkResult::Parent { child }) => {
                drop((out_w, err_w, rep_w));
                for fd in [&out_r, &err_r, &rep_r] {
                    let _ = fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK));
                }
                let start = Instant::now();
                Ok(Running {
                    index,
                    pid: child,
                    fds: [Some(out_r), Some(err_r), Some(rep_r)],
                    bufs: [Vec::new(), Vec::new(), Vec::new()],
                    truncated: false,
                    start,
                    deadline: timeout.map(|t| start + t),
                    rss_ceiling: memory_limit
                        .map(|m| parent_rss.saturating_add(m.saturating_mul(2))),
                    killed: None,
                    reaped: false,
                })
            }
            Err(nix::errno::Errno::ENOMEM) => Err(Error::Worker(
                "fork failed: ENOMEM: the kernel refused to commit memory for another copy \
                 of this process (under vm.overcommit_memory=2 every worker is charged \
                 GAP's whole pool): use a smaller -s, or leave -s and --reserve to gaprun's \
                 pool policy"
                    .into(),
            )),
            Err(e) => Err(Error::Worker(format!("fork failed: {e}"))),
        }
    }

    /// Wait a little for output or exits; return the tasks that finished.
    fn pump(&self, running: &mut Vec<Running>) -> Vec<(usize, TaskResult)> {
        let now = Instant::now();
        let mut wait = Duration::from_millis(200);
        for r in running.iter() {
            if let Some(d) = r.deadline {
                wait = wait.min(d.saturating_duration_since(now));
            }
            if r.rss_ceiling.is_some() {
                wait = wait.min(Duration::from_millis(20));
            }
            if r.all_eof() {
                // Its pipes are closed: it is exiting, reap it soon.
                wait = wait.min(Duration::from_millis(1));
            }
        }
        let mut ready: Vec<(usize, usize)> = Vec::new();
        {
            let mut owners = Vec::new();
            let mut pollfds = Vec::new();
            for (i, r) in running.iter().enumerate() {
                for (k, fd) in r.fds.iter().enumerate() {
                    if let Some(fd) = fd {
                        pollfds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                        owners.push((i, k));
                    }
                }
            }
            let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
            if pollfds.is_empty() {
                std::thread::sleep(wait);
            } else if poll(&mut pollfds, PollTimeout::from(ms)).is_ok() {
                for (p, owner) in pollfds.iter().zip(owners) {
                    if p.revents().is_some_and(|e| !e.is_empty()) {
                        ready.push(owner);
                    }
                }
            }
        }
        for (i, k) in ready {
            running[i].read_pipe(k, self.options.max_output);
        }
        let mut finished = Vec::new();
        let mut i = 0;
        while i < running.len() {
            let r = &mut running[i];
            if let Some((status, usage)) = r.try_reap() {
                for k in 0..3 {
                    r.read_pipe(k, self.options.max_output);
                }
                let mut r = running.swap_remove(i);
                finished.push((r.index, finish(&mut r, status, &usage)));
                continue;
            }
            let now = Instant::now();
            if r.deadline.is_some_and(|d| now >= d) {
                r.kill_for(KillReason::Timeout);
            }
            if let Some(ceiling) = r.rss_ceiling {
                if resident_bytes(Some(r.pid)).is_some_and(|rss| rss > ceiling) {
                    r.kill_for(KillReason::Memory);
                }
            }
            i += 1;
        }
        finished
    }
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
}

const MEMORY_MESSAGES: [&str; 3] = [
    "exceeded the permitted memory",
    "will not extend workspace above -K limit",
    "cannot extend the workspace any more",
];

/// Turn what the parent saw into a [`TaskResult`].
fn finish(r: &mut Running, status: i32, usage: &libc::rusage) -> TaskResult {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let stdout = text(&r.bufs[0]);
    let stderr = text(&r.bufs[1]);
    let report: Option<ChildReport> = serde_json::from_slice(&r.bufs[2]).ok();
    let (exit_code, signal) = if status == -1 {
        (None, None)
    } else if libc::WIFEXITED(status) {
        (Some(libc::WEXITSTATUS(status)), None)
    } else if libc::WIFSIGNALED(status) {
        (None, Some(libc::WTERMSIG(status)))
    } else {
        (None, None)
    };
    let memory_text = MEMORY_MESSAGES.iter().any(|m| stderr.contains(m));
    let (outcome, mut error) = match (r.killed, &report, signal) {
        (Some(KillReason::Timeout), _, _) => {
            (TaskOutcome::Timeout, Some("time limit exceeded".into()))
        }
        (Some(KillReason::Memory), _, _) => (
            TaskOutcome::MemoryLimit,
            Some("memory limit exceeded".into()),
        ),
        (None, _, Some(sig)) => (
            TaskOutcome::Signaled(sig),
            Some(format!("killed by {}", signal_name(sig))),
        ),
        (None, Some(rep), None) => {
            let outcome = if rep.memory_exceeded {
                TaskOutcome::MemoryLimit
            } else if rep.test_passed == Some(false) {
                TaskOutcome::TestFailed
            } else if rep.errors > 0 {
                TaskOutcome::GapError
            } else {
                match rep.quit_code {
                    Some(c) if c != 0 => TaskOutcome::Exited(c),
                    _ => TaskOutcome::Ok,
                }
            };
            (outcome, rep.error.clone())
        }
        (None, None, None) => {
            let code = exit_code.unwrap_or(-1);
            if memory_text {
                (
                    TaskOutcome::MemoryLimit,
                    Some("GAP stopped at its workspace limit".into()),
                )
            } else {
                (
                    TaskOutcome::Crashed(code),
                    Some(format!(
                        "the worker exited with code {code} without reporting"
                    )),
                )
            }
        }
    };
    if outcome == TaskOutcome::TestFailed && error.is_none() {
        error = Some("test output differs from the expected output".into());
    }
    TaskResult {
        outcome,
        stdout,
        stderr,
        view: report.and_then(|r| r.view),
        error,
        exit_code,
        signal,
        wall: r.start.elapsed(),
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
        peak_rss_kb: usage.ru_maxrss.max(0) as u64,
        output_truncated: r.truncated,
    }
}

/// Exit code of a child whose Rust code panicked.
const CHILD_PANIC: i32 = 101;

/// The child: redirect, run the task, report, `_exit`. Never returns, never
/// unwinds into the caller's frames (they belong to the parent's copy).
fn child_main(
    gap: &Gap,
    task: &Task,
    fds: [OwnedFd; 3],
    memory_limit: Option<u64>,
    sigchld: &SigchldGuard,
) -> ! {
    let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        child_run(gap, task, fds, memory_limit, sigchld)
    }))
    .unwrap_or(CHILD_PANIC);
    // SAFETY: ends the child without running the parent's destructors or
    // atexit handlers (GAP's and Rust's buffers were flushed above).
    unsafe { libc::_exit(code) }
}

fn child_run(
    gap: &Gap,
    task: &Task,
    fds: [OwnedFd; 3],
    memory_limit: Option<u64>,
    sigchld: &SigchldGuard,
) -> i32 {
    // SAFETY: prctl with PR_SET_PDEATHSIG only sets a flag on this process:
    // a child whose parent dies is killed instead of running on orphaned.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    sigchld.restore();
    // Rust's runtime catches SIGSEGV and SIGBUS to report stack overflows;
    // its handler ignores a signal sent from outside (`kill -SEGV`). In a
    // worker the default action is wanted: the child dies and the parent
    // reports the signal.
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for sig in [Signal::SIGSEGV, Signal::SIGBUS] {
        // SAFETY: installs the default disposition; no handler code runs.
        let _ = unsafe { sigaction(sig, &default) };
    }
    let [out_w, err_w, rep_w] = fds;
    if let Ok(null) = std::fs::File::open("/dev/null") {
        let _ = dup2(null.as_raw_fd(), 0);
    }
    if dup2(out_w.as_raw_fd(), 1).is_err() || dup2(err_w.as_raw_fd(), 2).is_err() {
        return 3;
    }
    drop((out_w, err_w));
    if let Some(bytes) = memory_limit {
        let kb = (bytes / 1024).max(1);
        // SAFETY: plain assignments to GAP's limit variables, in this child.
        unsafe { sys::gaprun_fork_set_memory_limits(kb, kb.saturating_mul(2)) };
    }
    // Test() must see GAP's own error stream (it folds error messages into
    // the output it compares); other tasks capture errors for the report.
    if let Err(e) = gap.set_error_capture(!matches!(task.kind, TaskKind::Test(_))) {
        eprintln!("gaprun: {e}");
        return 3;
    }
    let report = run_task(gap, task);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let mut rep = std::fs::File::from(rep_w);
    let _ = rep.write_all(&serde_json::to_vec(&report).unwrap_or_default());
    // Like `gap`, exit with the code `QuitGap(n)` asked for.
    report.quit_code.unwrap_or(0)
}

/// Print captured text on this child's stdout or stderr.
fn emit(to_stderr: bool, text: &str) {
    if text.is_empty() {
        return;
    }
    if to_stderr {
        let mut e = std::io::stderr();
        let _ = e.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = e.write_all(b"\n");
        }
    } else {
        let _ = std::io::stdout().write_all(text.as_bytes());
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

fn run_task(gap: &Gap, task: &Task) -> ChildReport {
    let mut report = ChildReport::default();
    let note_error = |report: &mut ChildReport, message: String| {
        report.errors += 1;
        if MEMORY_MESSAGES.iter().any(|m| message.contains(m)) {
            report.memory_exceeded = true;
        }
        report.error.get_or_insert(message);
    };
    for (name, value) in &task.vars {
        if let Err(e) = bind_var(gap, name, value) {
            note_error(&mut report, format!("binding `{name}`: {e}"));
            return report;
        }
    }
    match &task.kind {
        TaskKind::Code(code) => {
            if let Err(e) = eval_statements(gap, code, &mut report) {
                note_error(&mut report, e.to_string());
            }
        }
        TaskKind::File(path) => {
            let mode = LoopMode {
                echo: false,
                stop_on_error: true,
                break_output: false,
            };
            let result = gap.run_file(path, mode);
            // What GAP printed on its error stream (errors, warnings).
            let captured = take_error();
            emit(true, &captured.text);
            match result {
                Ok(loop_report) => {
                    report.quit_code = loop_report.quit_code;
                    if loop_report.errors > 0 {
                        note_error(&mut report, captured.message);
                    }
                }
                Err(e) => note_error(&mut report, e.to_string()),
            }
        }
        TaskKind::Test(path) => {
            // The path's bytes as they are: a file name need not be UTF-8.
            let code = format!("Test({});", gap_string_literal(path.as_os_str().as_bytes()));
            match eval_statements(gap, &code, &mut report) {
                Ok(()) if report.errors == 0 => {
                    report.test_passed = Some(report.view.as_deref() == Some("true"));
                }
                Ok(()) => report.test_passed = Some(false),
                Err(e) => note_error(&mut report, e.to_string()),
            }
        }
    }
    report
}

/// Bind the global `name` to `value` converted to a GAP object (no GAP
/// source is generated, so a string value can never run as code).
fn bind_var(gap: &Gap, name: &str, value: &serde_json::Value) -> Result<()> {
    let valid = is_identifier(name)
        && gap.eval_as::<bool>(&format!("IsValidIdentifier({});", gap_string_literal(name)))?;
    if !valid {
        return Err(Error::InvalidArgument(format!(
            "`{name}` is not a GAP variable name"
        )));
    }
    let obj = gap.value(value)?;
    gap.set_global(name, &obj)
}

/// Evaluate statements, printing their output and errors on this child's
/// stdout/stderr; note the last view and the first error in `report`.
fn eval_statements(gap: &Gap, code: &str, report: &mut ChildReport) -> Result<()> {
    for st in gap.eval(code)? {
        emit(false, &st.output);
        if let Some(err) = &st.error {
            emit(true, &err.text);
            report.errors += 1;
            if MEMORY_MESSAGES.iter().any(|m| err.text.contains(m)) {
                report.memory_exceeded = true;
            }
            report.error.get_or_insert_with(|| err.message.clone());
        } else {
            report.view = st.view.clone();
        }
        if st.quit {
            report.quit_code = Some(gap_exit_code(gap));
            break;
        }
    }
    Ok(())
}

/// The exit code `QuitGap(n)` set (0 when unknown).
fn gap_exit_code(gap: &Gap) -> i32 {
    gap.eval_value("GapExitCode();")
        .and_then(|v| gap.view(&v))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
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
