//! Nothing a task started outlives it, and a batch can be stopped.
//!
//! - Each worker leads its own process group (set on both sides of the fork,
//!   so the group exists before the parent can signal it). A group is killed
//!   with `killpg(SIGKILL)` when its task times out, hits its memory limit,
//!   is interrupted, and right after its worker exited: processes the task
//!   started (GAP's `Exec`, an `IO_fork` child) die with the task.
//! - A process that left its group (`setsid`, a daemon) cannot be reached
//!   that way. While a batch runs the parent is a child subreaper
//!   (`PR_SET_CHILD_SUBREAPER`), so such processes are re-parented to it
//!   when their parent dies; [`sweep`] kills and reaps every child of the
//!   parent that is neither a running worker nor in a running worker's
//!   group, and [`reap_all`] kills and waits for all of them at the end of
//!   the batch. Children the process had before the batch are left alone.
//! - Workers are in groups of their own, so a terminal's Ctrl-C reaches only
//!   the parent: the first SIGINT (or SIGTERM) during a batch is noted by a
//!   handler (an atomic store, nothing else) and the pool stops the batch.
//!
//! Limits: if the parent itself is killed with SIGKILL, its workers die
//! (`PR_SET_PDEATHSIG`) but processes they started are re-parented to the
//! nearest subreaper or init and keep running.

use crate::error::{Error, Result};
use nix::errno::Errno;
use nix::sys::signal::{killpg, sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use std::collections::HashSet;
use std::sync::atomic::{AtomicI32, Ordering};

/// The signal that asked the running batch to stop (0: none).
static STOP: AtomicI32 = AtomicI32::new(0);

extern "C" fn note_stop(sig: libc::c_int) {
    // Only an atomic store: async-signal-safe. The first signal wins.
    let _ = STOP.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
}

/// The signal that stopped the last batch, if one did.
pub fn stop_signal() -> Option<i32> {
    match STOP.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}

/// What a batch changes in the parent's process state, put back on drop:
/// SIGCHLD at its default (GAP's handler reaps every child with
/// `waitpid(-1)` and would steal the exit statuses the pool needs), SIGINT
/// and SIGTERM noted, the parent a child subreaper.
pub(super) struct BatchGuard {
    saved: Vec<(Signal, SigAction)>,
    subreaper_was: bool,
    /// Children the process had before the batch: never touched.
    pub(super) earlier_children: HashSet<i32>,
}

impl BatchGuard {
    pub(super) fn install() -> Result<BatchGuard> {
        STOP.store(0, Ordering::SeqCst);
        let earlier_children = children().into_iter().map(|c| c.pid).collect();
        let mut subreaper: libc::c_int = 0;
        // SAFETY: PR_GET_CHILD_SUBREAPER writes an int through the pointer.
        unsafe {
            libc::prctl(
                libc::PR_GET_CHILD_SUBREAPER,
                &mut subreaper as *mut libc::c_int,
            )
        };
        // SAFETY: sets a flag on this process; no memory is involved.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) } != 0 {
            return Err(Error::Worker(format!(
                "cannot become a child subreaper: {}",
                Errno::last()
            )));
        }
        let mut guard = BatchGuard {
            saved: Vec::new(),
            subreaper_was: subreaper != 0,
            earlier_children,
        };
        let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
        // No SA_RESTART: the pool's poll returns at once with EINTR.
        let stop = SigAction::new(
            SigHandler::Handler(note_stop),
            SaFlags::empty(),
            SigSet::empty(),
        );
        for (sig, action) in [
            (Signal::SIGCHLD, &default),
            (Signal::SIGINT, &stop),
            (Signal::SIGTERM, &stop),
        ] {
            // SAFETY: installs the default disposition or `note_stop`,
            // which only stores to an atomic.
            let old = unsafe { sigaction(sig, action) }
                .map_err(|e| Error::Worker(format!("cannot set the {sig} action: {e}")))?;
            guard.saved.push((sig, old));
        }
        // A Ctrl-C that came before this handler, held by the command
        // line's for GAP's next statement, stops the batch too (workers
        // would otherwise each inherit it and fail their first statement).
        if crate::interrupt::take_held_sigint() {
            note_stop(libc::SIGINT);
        }
        Ok(guard)
    }

    /// Put back the signal actions the process had (GAP's), as the parent
    /// does after the batch and every worker does at its start.
    pub(super) fn restore_signals(&self) {
        for (sig, action) in &self.saved {
            // SAFETY: puts back an action that was installed before (GAP's
            // plain C handlers or a default).
            let _ = unsafe { sigaction(*sig, action) };
        }
    }
}

impl Drop for BatchGuard {
    fn drop(&mut self) {
        self.restore_signals();
        if !self.subreaper_was {
            // SAFETY: clears the flag set in `install`.
            unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 0) };
        }
    }
}

/// One child process of this process, as `/proc` shows it.
struct Child {
    pid: i32,
    pgrp: i32,
    zombie: bool,
}

/// The children of this process: every `/proc/PID/stat` whose parent is
/// us (the kernel's per-task `children` list is not always built in).
fn children() -> Vec<Child> {
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let name = entry.ok()?.file_name();
        let pid: i32 = name.to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name may hold spaces and parentheses: fields start
        // after the last ')'.
        let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
        let state = fields.next()?;
        let ppid: i32 = fields.next()?.parse().ok()?;
        let pgrp: i32 = fields.next()?.parse().ok()?;
        (ppid == me).then_some(Child {
            pid,
            pgrp,
            zombie: state == "Z",
        })
    })
    .collect()
}

/// Whether our child `pid` has exited (a zombie), without reaping it.
pub(super) fn has_exited(pid: Pid) -> bool {
    // SAFETY: siginfo_t is plain data that waitid fills.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: WNOWAIT leaves the child waitable; WNOHANG never blocks.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid.as_raw() as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        if r == -1 && Errno::last() == Errno::EINTR {
            continue;
        }
        // SAFETY: si_pid is set (non-zero) only when a child was found.
        return r == 0 && unsafe { info.si_pid() } != 0;
    }
}

/// Kill a worker's whole process group.
pub(super) fn kill_group(leader: Pid) {
    let _ = killpg(leader, Signal::SIGKILL);
}

/// Kill and reap (without blocking) every adopted process that belongs to
/// no running worker's group; reap adopted processes that already died.
pub(super) fn sweep(guard: &BatchGuard, running_groups: &HashSet<i32>) {
    for c in children() {
        if guard.earlier_children.contains(&c.pid) || running_groups.contains(&c.pid) {
            continue;
        }
        if !c.zombie && !running_groups.contains(&c.pgrp) {
            let _ = nix::sys::signal::kill(Pid::from_raw(c.pid), Signal::SIGKILL);
        }
        if c.zombie || !running_groups.contains(&c.pgrp) {
            let _ = waitpid(Pid::from_raw(c.pid), Some(WaitPidFlag::WNOHANG));
        }
    }
}

/// Kill every process the batch left (all workers are reaped by now) and
/// wait for each: when this returns, nothing the batch started is running.
pub(super) fn reap_all(guard: &BatchGuard) {
    // Each pass kills the current children; their own children are
    // re-parented to us and show up in the next pass.
    for _ in 0..1000 {
        let left: Vec<Child> = children()
            .into_iter()
            .filter(|c| !guard.earlier_children.contains(&c.pid))
            .collect();
        if left.is_empty() {
            return;
        }
        for c in left {
            let pid = Pid::from_raw(c.pid);
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            // SIGKILL cannot be caught: the wait is short.
            let _ = waitpid(pid, None);
        }
    }
}
