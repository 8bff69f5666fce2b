//! Interrupting GAP: deadlines for API calls, Ctrl-C for the command line,
//! and an [`InterruptHandle`] other threads may use.
//!
//! GAP stops a running computation when `InterruptExecStat()` is called
//! (GAP's own SIGINT handler does exactly that): the next statement GAP
//! executes raises "user interrupt", which unwinds to the shim's jump point
//! and becomes [`Error::Interrupted`]; GAP stays usable. Only signal
//! handlers running *on the GAP thread* call it — other threads merely send
//! a signal to that thread — so no second thread ever touches GAP.
//!
//! A computation inside one long kernel function (a huge GMP product, say)
//! notices the interrupt only when it returns to GAP code.
//!
//! ```
//! use gaprun::{Error, Gap, GapOptions};
//! use std::time::Duration;
//! let gap = Gap::init(GapOptions { autoload: false, ..Default::default() })?;
//! let r = gap.with_deadline(Duration::from_millis(100), |gap| gap.eval_value("while true do od;"));
//! assert!(matches!(r, Err(Error::Interrupted)));
//! assert_eq!(gap.eval_as::<i64>("1+1")?, 2);
//! # Ok::<(), gaprun::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::runtime::{check, Gap};
use crate::sys;
use std::sync::OnceLock;
use std::time::Duration;

/// The signal gaprun uses to interrupt GAP on its thread (a real-time
/// signal, so it does not collide with SIGALRM users). glibc reserves the
/// first two real-time signals; gaprun takes SIGRTMIN+3.
pub fn interrupt_signal() -> i32 {
    libc::SIGRTMIN() + 3
}

fn ensure_handler() -> Result<()> {
    static INSTALLED: OnceLock<std::result::Result<(), i32>> = OnceLock::new();
    // SAFETY: installs an async-signal-safe handler (see src/shim/interrupt.c).
    let r = INSTALLED.get_or_init(|| {
        match unsafe { sys::gaprun_interrupt_install(interrupt_signal()) } {
            0 => Ok(()),
            e => Err(-e),
        }
    });
    r.map_err(|e| Error::Io(std::io::Error::from_raw_os_error(e)))
}

/// Make `signum` interrupt GAP's running computation when it arrives on
/// the GAP thread (the REPL and the session server use it for SIGINT).
pub fn install_interrupt_on(signum: i32) -> Result<()> {
    // SAFETY: installs an async-signal-safe handler (see src/shim/interrupt.c).
    match unsafe { sys::gaprun_interrupt_install(signum) } {
        0 => Ok(()),
        e => Err(Error::Io(std::io::Error::from_raw_os_error(-e))),
    }
}

/// Install a SIGINT (Ctrl-C) handler that interrupts the running GAP
/// computation; a second Ctrl-C before GAP noticed the first ends the
/// process with status 130 (GAP may be stuck in a kernel function).
pub fn install_sigint_handler() -> Result<()> {
    // SAFETY: installs an async-signal-safe handler (see src/shim/interrupt.c).
    match unsafe { sys::gaprun_sigint_install() } {
        0 => Ok(()),
        e => Err(Error::Io(std::io::Error::from_raw_os_error(-e))),
    }
}

/// Lets another thread interrupt GAP's running computation (like
/// rusqlite's `InterruptHandle`). `Send + Sync`: it only sends a signal to
/// the GAP thread, whose handler asks GAP to stop.
///
/// If GAP is idle when the signal arrives, the request stays pending and
/// interrupts the next statement; [`Gap::clear_interrupt`] drops it.
#[derive(Debug, Clone)]
pub struct InterruptHandle {
    pid: libc::pid_t,
    tid: libc::pid_t,
}

impl InterruptHandle {
    /// Ask GAP to stop its running computation.
    pub fn interrupt(&self) -> Result<()> {
        // SAFETY: tgkill to a thread of this process with a signal whose
        // handler is installed (by Gap::interrupt_handle).
        let r = unsafe { libc::syscall(libc::SYS_tgkill, self.pid, self.tid, interrupt_signal()) };
        if r == 0 {
            Ok(())
        } else {
            Err(Error::Io(std::io::Error::last_os_error()))
        }
    }
}

impl Gap {
    /// Run `f`; if it is still running after `timeout`, GAP's computation
    /// is interrupted and `f` sees [`Error::Interrupted`] from the GAP call
    /// that was running. GAP is usable afterwards.
    pub fn with_deadline<'gap, R>(
        &'gap self,
        timeout: Duration,
        f: impl FnOnce(&'gap Gap) -> Result<R>,
    ) -> Result<R> {
        ensure_handler()?;
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        // SAFETY: arms a timer that signals this (the GAP) thread.
        let r = unsafe { sys::gaprun_deadline_arm(interrupt_signal(), nanos) };
        if r != 0 {
            return Err(Error::Io(std::io::Error::from_raw_os_error(-r)));
        }
        struct Disarm;
        impl Drop for Disarm {
            fn drop(&mut self) {
                // SAFETY: deletes the timer; a signal already generated is
                // delivered before timer_delete returns to this thread, so
                // clearing afterwards leaves no stale request behind.
                unsafe {
                    sys::gaprun_deadline_disarm();
                    sys::gaprun_interrupt_clear();
                }
            }
        }
        let guard = Disarm;
        let out = f(self);
        drop(guard);
        out
    }

    /// A handle other threads can use to interrupt this GAP.
    pub fn interrupt_handle(&self) -> Result<InterruptHandle> {
        ensure_handler()?;
        // SAFETY: plain system calls.
        let (pid, tid) = unsafe { (libc::getpid(), libc::gettid()) };
        Ok(InterruptHandle { pid, tid })
    }

    /// Drop an interrupt that was requested while GAP was idle.
    pub fn clear_interrupt(&self) -> Result<()> {
        // SAFETY: resets GAP's statement dispatch table on the GAP thread.
        check(unsafe { sys::gaprun_interrupt_clear() })
    }
}
