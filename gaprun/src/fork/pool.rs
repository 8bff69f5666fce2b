//! The parent's side: fork workers, watch their pipes, limits and exits,
//! and turn what it saw into [`TaskResult`]s.

use super::child::{child_main, ChildReport, FATAL_MEMORY_MESSAGES};
use super::reap::{self, BatchGuard};
use super::{ensure_single_thread, signal_name, ForkOptions, Task, TaskOutcome, TaskResult};
use crate::error::{Error, Result};
use crate::runtime::Gap;
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::unistd::{fork, pipe, setpgid, ForkResult, Pid};
use std::collections::HashSet;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// How often adopted processes are looked for while a batch runs.
const SWEEP_EVERY: Duration = Duration::from_millis(500);

/// After a worker exits, adopted processes are looked for again once this
/// long has passed since the last look: a look reads every `/proc/PID/stat`
/// of the machine (~0.5 ms with 100 processes), too much to pay after each
/// of hundreds of short tasks; a daemon a task left lives at most this much
/// longer (and is killed at the end of the batch in any case).
const EXIT_SWEEP_GAP: Duration = Duration::from_millis(50);

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
    /// A pidfd of the worker (readable once it exited), so the parent sleeps
    /// in `poll` until something happens instead of polling for the exit;
    /// None where the kernel has no `pidfd_open` (then it checks every ms).
    pidfd: Option<OwnedFd>,
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

    /// Kill the worker's whole process group (the worker leads it).
    fn kill_for(&mut self, reason: KillReason) {
        if self.killed.is_none() {
            self.killed = Some(reason);
            reap::kill_group(self.pid);
        }
    }

    /// `wait4(WNOHANG)`: the status and resource usage once it exited.
    fn try_reap(&mut self) -> Option<(i32, libc::rusage)> {
        let mut status = 0;
        // SAFETY: rusage is plain data that wait4 fills.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        if reap::has_exited(self.pid) {
            // What the task started dies with it. Killed while the worker is
            // still a zombie: its pid, and so the group id, cannot have been
            // reused by an unrelated process yet.
            reap::kill_group(self.pid);
        }
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
    /// A batch that ends early (an error in the parent, an interrupt)
    /// leaves no worker and nothing a worker started.
    fn drop(&mut self) {
        // A reaped worker's group was killed when it was reaped (its id may
        // belong to someone else by now).
        if !self.reaped {
            reap::kill_group(self.pid);
            let _ = nix::sys::wait::waitpid(self.pid, None);
        }
    }
}

/// The owner slot in `pump` that stands for a worker's pidfd (0-2 are its
/// pipes).
const PIDFD: usize = 3;

/// `pidfd_open(2)`: a descriptor that polls readable once `pid` exited
/// (Linux 5.3+; None before, or when it fails).
fn pidfd_open(pid: Pid) -> Option<OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: a plain syscall on our own child's pid; the descriptor it
    // returns is owned by nobody else.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    let fd = i32::try_from(fd).ok().filter(|&fd| fd >= 0)?;
    // SAFETY: a fresh descriptor from the kernel, owned from here on.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
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
    pub(super) gap: Gap<'gap>,
    options: ForkOptions,
}

impl<'gap> ForkPool<'gap> {
    /// A pool over this (initialised) GAP. Holding a `Gap` proves the caller
    /// is on GAP's thread.
    pub fn new(gap: Gap<'gap>, mut options: ForkOptions) -> ForkPool<'gap> {
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
    /// second thread at a fork, or when no child can be forked at all. The
    /// first SIGINT or SIGTERM to this process during the batch stops it:
    /// every worker and what it started is killed and reaped, and the
    /// result is [`Error::Interrupted`] (see [`super::stop_signal`]); the
    /// tasks that finished before were handed to `on_result`.
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
        let guard = BatchGuard::install()?;
        let mut running: Vec<Running> = Vec::new();
        let outcome = self.drive(tasks, &guard, &mut running, |index, result| {
            on_result(index, &result);
            results[index] = Some(result);
        });
        // Whatever ended the batch, nothing it started keeps running.
        drop(running);
        reap::reap_all(&guard);
        drop(guard);
        outcome?;
        Ok(results
            .into_iter()
            .map(|r| r.expect("every task finished"))
            .collect())
    }

    /// Fork and pump until every task finished or the batch is stopped.
    fn drive(
        &self,
        tasks: &[Task],
        guard: &BatchGuard,
        running: &mut Vec<Running>,
        mut finished: impl FnMut(usize, TaskResult),
    ) -> Result<()> {
        let mut next = 0;
        let mut last_sweep = Instant::now();
        while next < tasks.len() || !running.is_empty() {
            if reap::stop_signal().is_some() {
                return Err(Error::Interrupted);
            }
            while running.len() < self.options.jobs && next < tasks.len() {
                match self.spawn(next, &tasks[next], guard) {
                    Ok(r) => {
                        running.push(r);
                        next += 1;
                    }
                    // Out of processes or memory: wait for a child to end.
                    Err(Error::Worker(_)) if !running.is_empty() => break,
                    Err(e) => return Err(e),
                }
            }
            let done = self.pump(running);
            let since = last_sweep.elapsed();
            if (!done.is_empty() && since >= EXIT_SWEEP_GAP) || since >= SWEEP_EVERY {
                let groups: HashSet<i32> = running.iter().map(|r| r.pid.as_raw()).collect();
                reap::sweep(guard, &groups);
                last_sweep = Instant::now();
            }
            for (index, result) in done {
                finished(index, result);
            }
        }
        Ok(())
    }

    fn spawn(&self, index: usize, task: &Task, guard: &BatchGuard) -> Result<Running> {
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
        // Only the memory watch needs it (a read of /proc per fork).
        let parent_rss = memory_limit.map_or(0, |_| resident_bytes(None).unwrap_or(0));
        let parent = Pid::this();
        // SAFETY: this is GAP's thread (we hold a `Gap`) and the only thread
        // of the process (checked just above), so the child's copy of every
        // lock is consistent. The child never returns from `child_main`.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                drop((out_r, err_r, rep_r));
                child_main(
                    self.gap,
                    task,
                    [out_w, err_w, rep_w],
                    memory_limit,
                    guard,
                    parent,
                )
            }
            Ok(ForkResult::Parent { child }) => {
                // The child does this too; whichever runs first, the group
                // exists before the parent could signal it.
                let _ = setpgid(child, child);
                drop((out_w, err_w, rep_w));
                for fd in [&out_r, &err_r, &rep_r] {
                    let _ = fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK));
                }
                let start = Instant::now();
                Ok(Running {
                    index,
                    pid: child,
                    pidfd: pidfd_open(child),
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
            if r.all_eof() && r.pidfd.is_none() {
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
                if let Some(fd) = &r.pidfd {
                    pollfds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                    owners.push((i, PIDFD));
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
            if k != PIDFD {
                running[i].read_pipe(k, self.options.max_output);
            }
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

/// Turn what the parent saw into a [`TaskResult`].
fn finish(r: &mut Running, status: i32, usage: &libc::rusage) -> TaskResult {
    let stdout = std::mem::take(&mut r.bufs[0]);
    let stderr = std::mem::take(&mut r.bufs[1]);
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
    // A worker that ended without reporting may have been ended by GAP at
    // its hard limit: GAP gives no status for that, only its message.
    let memory_text = FATAL_MEMORY_MESSAGES
        .iter()
        .any(|m| stderr.windows(m.len()).any(|w| w == m.as_bytes()));
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
            // The cause that ended the task decides: the memory limit, then
            // a quit with a non-zero code, then the verdict of a test, then
            // an error on the way.
            let outcome = match rep.quit_code {
                _ if rep.memory_exceeded => TaskOutcome::MemoryLimit,
                Some(c) if c != 0 => TaskOutcome::Exited(c),
                _ if rep.test_passed == Some(false) => TaskOutcome::TestFailed,
                _ if rep.errors > 0 => TaskOutcome::GapError,
                _ => TaskOutcome::Ok,
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
