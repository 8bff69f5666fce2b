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
use crate::raw::check;
use crate::sys;
use crate::token::Gap;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The signal gaprun uses to interrupt GAP on its thread (a real-time
/// signal, so it does not collide with SIGALRM users). glibc reserves the
/// first two real-time signals; gaprun takes SIGRTMIN+3.
pub fn interrupt_signal() -> i32 {
    libc::SIGRTMIN() + 3
}

fn ensure_handler() -> Result<()> {
    static INSTALLED: OnceLock<std::result::Result<(), i32>> = OnceLock::new();
    let r = INSTALLED.get_or_init(|| {
        // SAFETY: installs an async-signal-safe handler (see
        // gap-sys/src/shim/interrupt.c) that only sets GAP's interrupt flag;
        // the OnceLock runs this at most once per process.
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
///
/// A Ctrl-C that arrives between two GAP statements (or while GAP is
/// idle) is held, not dropped: the next statement GAP executes raises
/// "user interrupt", even in a later call. (An [`InterruptHandle`]'s
/// request, by contrast, is dropped when the next call starts.)
pub fn install_sigint_handler() -> Result<()> {
    // SAFETY: installs an async-signal-safe handler (see src/shim/interrupt.c).
    match unsafe { sys::gaprun_sigint_install() } {
        0 => Ok(()),
        e => Err(Error::Io(std::io::Error::from_raw_os_error(-e))),
    }
}

/// Forget a Ctrl-C that the [`install_sigint_handler`] handler holds for
/// GAP's next statement; whether there was one. For the GAP thread.
pub(crate) fn take_held_sigint() -> bool {
    // SAFETY: compares and resets GAP's statement dispatch table; callers
    // are on the GAP thread, with SIGINT no longer going to that handler.
    unsafe { sys::gaprun_interrupt_take_held() == 1 }
}

/// Lets another thread interrupt GAP's running computation (like
/// rusqlite's `InterruptHandle`). `Send + Sync`: it only sends a signal to
/// the GAP thread, whose handler asks GAP to stop.
///
/// A request that arrives while GAP is idle is dropped when the next call
/// into GAP starts, so it never fails an unrelated later call. A handle
/// whose GAP thread has ended, or used in a process forked after it was
/// made, does nothing (it would otherwise signal a thread that is not GAP's
/// — a reused thread id, or the parent's GAP thread).
#[derive(Debug, Clone)]
pub struct InterruptHandle {
    pid: libc::pid_t,
    tid: libc::pid_t,
    thread_alive: Arc<AtomicBool>,
}

// The handle exists to be given to other threads (a watchdog, a Ctrl-C
// thread): fail the build if a field ever makes it lose `Send` or `Sync`.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<InterruptHandle>();
};

/// Marks the GAP thread as ended when its thread-locals are destroyed.
struct ThreadAlive(Arc<AtomicBool>);

impl Drop for ThreadAlive {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

thread_local! {
    static THREAD_ALIVE: ThreadAlive = ThreadAlive(Arc::new(AtomicBool::new(true)));
    /// Deadlines of the `with_deadline` scopes now open, innermost last.
    static DEADLINES: RefCell<Vec<Instant>> = const { RefCell::new(Vec::new()) };
}

impl InterruptHandle {
    /// Ask GAP to stop its running computation. Does nothing when GAP is
    /// idle (see above), when its thread has ended, or in a forked child.
    pub fn interrupt(&self) -> Result<()> {
        // SAFETY: getpid has no preconditions.
        if unsafe { libc::getpid() } != self.pid || !self.thread_alive.load(Ordering::SeqCst) {
            return Ok(());
        }
        // SAFETY: tgkill to the GAP thread of this process (checked alive
        // above) with a signal whose handler is installed (by
        // Gap::interrupt_handle).
        let r = unsafe { libc::syscall(libc::SYS_tgkill, self.pid, self.tid, interrupt_signal()) };
        if r == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ESRCH) {
            // the thread ended between the check and the signal
            return Ok(());
        }
        Err(Error::Io(e))
    }
}

/// Arm the one timer for the earliest open deadline (at once if it has
/// passed), or leave it disarmed when none is open.
fn arm_earliest() -> Result<()> {
    let Some(earliest) = DEADLINES.with(|d| d.borrow().iter().min().copied()) else {
        return Ok(());
    };
    let left = earliest.saturating_duration_since(Instant::now());
    let nanos = u64::try_from(left.as_nanos()).unwrap_or(u64::MAX).max(1);
    // SAFETY: arms a timer that signals this (the GAP) thread.
    let r = unsafe { sys::gaprun_deadline_arm(interrupt_signal(), nanos) };
    if r != 0 {
        return Err(Error::Io(std::io::Error::from_raw_os_error(-r)));
    }
    Ok(())
}

impl<'gap> Gap<'gap> {
    /// Run `f`; if it is still running after `timeout`, GAP's computation
    /// is interrupted and `f` sees [`Error::Interrupted`] from the GAP call
    /// that was running (and from every later call inside `f`). GAP is
    /// usable afterwards.
    ///
    /// Deadlines nest: an inner `with_deadline` never extends or cancels
    /// an outer one; whichever expires first interrupts.
    pub fn with_deadline<R>(
        self,
        timeout: Duration,
        f: impl FnOnce(Gap<'gap>) -> Result<R>,
    ) -> Result<R> {
        ensure_handler()?;
        let deadline = Instant::now()
            .checked_add(timeout)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(u32::MAX as u64));
        DEADLINES.with(|d| d.borrow_mut().push(deadline));
        struct Scope;
        impl Drop for Scope {
            fn drop(&mut self) {
                DEADLINES.with(|d| d.borrow_mut().pop());
                // SAFETY: deletes the timer; a signal already generated is
                // delivered before timer_delete returns to this thread, so
                // clearing afterwards leaves no stale request behind.
                unsafe {
                    sys::gaprun_deadline_disarm();
                    sys::gaprun_interrupt_clear();
                }
                // The enclosing scope's deadline goes on (firing at once if
                // it passed meanwhile). Arming failed before for the same
                // timer, so it cannot fail now; if it did, the outer scope
                // would merely run without its limit.
                let _ = arm_earliest();
            }
        }
        let scope = Scope;
        arm_earliest()?;
        let out = f(self);
        drop(scope);
        out
    }

    /// A handle other threads can use to interrupt this GAP.
    pub fn interrupt_handle(self) -> Result<InterruptHandle> {
        ensure_handler()?;
        // SAFETY: getpid and gettid have no preconditions and touch no memory.
        let (pid, tid) = unsafe { (libc::getpid(), libc::gettid()) };
        let thread_alive = THREAD_ALIVE.with(|a| a.0.clone());
        Ok(InterruptHandle {
            pid,
            tid,
            thread_alive,
        })
    }

    /// Drop an interrupt that was requested while GAP was idle.
    pub fn clear_interrupt(self) -> Result<()> {
        // SAFETY: resets GAP's statement dispatch table on the GAP thread.
        check(unsafe { sys::gaprun_interrupt_clear() })
    }
}
