//! The worker's side: set up the forked copy of GAP, run one task with its
//! output going straight to the pipes, report, `_exit`.

use super::reap::BatchGuard;
use super::{gap_string_literal, is_identifier, Task, TaskKind};
use crate::error::Result;
use crate::obj::GapObj;
use crate::raw::{check, string_bytes, take_error};
use crate::runtime::{Gap, LoopMode};
use crate::sys;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::unistd::{dup2, getppid, setpgid, Pid};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// GAP's messages when it ends the process at its workspace limit: the
/// hard limit (`-K`) or a failed growth of the pool. GAP gives no status
/// there (it prints and exits, so the worker cannot report), so the parent
/// can only recognise them in what the worker printed. The catchable limit
/// (`-o`) has a status of its own from the shim and needs no text.
pub(super) const FATAL_MEMORY_MESSAGES: [&str; 2] = [
    "will not extend workspace above -K limit",
    "cannot extend the workspace any more",
];

/// Whether GAP's error `message` is GASMAN failing an allocation because
/// the workspace cannot grow (up to the hard limit): "Cannot allocate N
/// bytes: cannot extend the workspace any more!!". GAP raises it as an
/// ordinary error, with no status the shim could report (unlike the `-o`
/// limit, which comes through GAP's interrupt executor), so it is the one
/// memory error a worker recognises by its text.
fn is_allocation_failure(message: &str) -> bool {
    message.starts_with("Cannot allocate ") && message.contains(FATAL_MEMORY_MESSAGES[1])
}

/// The child's own account of its task, sent over the report pipe.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct ChildReport {
    pub(super) view: Option<Vec<u8>>,
    pub(super) error: Option<String>,
    pub(super) errors: u64,
    pub(super) quit_code: Option<i32>,
    pub(super) test_passed: Option<bool>,
    pub(super) memory_exceeded: bool,
}

impl ChildReport {
    /// A statement failed with GAP's `message`; whether it was the memory
    /// limit is told by the caller from the shim's status (except for
    /// GASMAN's allocation failure, which has none).
    fn note_error(&mut self, message: String) {
        self.errors += 1;
        if is_allocation_failure(&message) {
            self.memory_exceeded = true;
        }
        self.error.get_or_insert(message);
    }

    /// A call into GAP failed: the variant says whether it reached the
    /// memory limit.
    fn note_failure(&mut self, e: &crate::Error) {
        if matches!(e, crate::Error::MemoryLimit) {
            self.memory_exceeded = true;
        }
        self.note_error(e.to_string());
    }
}

/// Exit code of a child whose Rust code panicked.
const CHILD_PANIC: i32 = 101;

/// The child: redirect, run the task, report, `_exit`. Never returns, never
/// unwinds into the caller's frames (they belong to the parent's copy).
pub(super) fn child_main(
    gap: Gap<'_>,
    task: &Task,
    fds: [OwnedFd; 3],
    memory_limit: Option<u64>,
    guard: &BatchGuard,
    parent: Pid,
) -> ! {
    let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        child_run(gap, task, fds, memory_limit, guard, parent)
    }))
    .unwrap_or(CHILD_PANIC);
    // SAFETY: ends the child without running the parent's destructors or
    // atexit handlers (GAP's and Rust's buffers were flushed above).
    unsafe { libc::_exit(code) }
}

fn child_run(
    gap: Gap<'_>,
    task: &Task,
    fds: [OwnedFd; 3],
    memory_limit: Option<u64>,
    guard: &BatchGuard,
    parent: Pid,
) -> i32 {
    // A group of its own, so the parent can kill the task with everything
    // it starts (the parent calls setpgid too: no race).
    let _ = setpgid(Pid::from_raw(0), Pid::from_raw(0));
    // SAFETY: prctl with PR_SET_PDEATHSIG only sets a flag on this process:
    // a child whose parent dies is killed instead of running on orphaned.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    // The parent may have died before the flag was set (then nobody would
    // send the signal): the child was re-parented, so it ends here.
    if getppid() != parent {
        return CHILD_ORPHANED;
    }
    guard.restore_signals();
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
    let worker = Pid::this();
    let report = run_task(gap, task);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    if Pid::this() != worker {
        // A process the task forked (`IO_fork`) came back through the
        // task's code: only the worker reports; this one just ends.
        return 0;
    }
    let mut rep = std::fs::File::from(rep_w);
    let _ = rep.write_all(&serde_json::to_vec(&report).unwrap_or_default());
    // Like `gap`, exit with the code `QuitGap(n)` asked for.
    report.quit_code.unwrap_or(0)
}

/// Exit code of a worker that found its parent gone before it started.
const CHILD_ORPHANED: i32 = 125;

/// Print captured error text on this child's stderr.
fn emit_error(text: &str) {
    if text.is_empty() {
        return;
    }
    let mut e = std::io::stderr();
    let _ = e.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = e.write_all(b"\n");
    }
}

/// Bind the global `name` to `value` converted to a GAP object (no GAP
/// source is generated, so a string value can never run as code).
fn bind_var(gap: Gap<'_>, name: &str, value: &serde_json::Value) -> crate::Result<()> {
    let valid = is_identifier(name) && gap.call_fn::<bool>("IsValidIdentifier", (name,))?;
    if !valid {
        return Err(crate::Error::InvalidArgument(format!(
            "`{name}` is not a GAP variable name"
        )));
    }
    let obj = gap.value(value)?;
    gap.set_global(name, &obj)
}

fn run_task(gap: Gap<'_>, task: &Task) -> ChildReport {
    let mut report = ChildReport::default();
    for (name, value) in &task.vars {
        if let Err(e) = bind_var(gap, name, value) {
            report.memory_exceeded = matches!(e, crate::Error::MemoryLimit);
            report.note_error(format!("binding `{name}`: {e}"));
            return report;
        }
    }
    match &task.kind {
        TaskKind::Code(code) => run_statements(gap, code, &mut report),
        TaskKind::File(path) => {
            let mode = LoopMode {
                echo: false,
                stop_on_error: true,
                break_output: false,
            };
            let result = gap.run_file(path, mode);
            // What GAP printed on its error stream (errors, warnings).
            let captured = take_error();
            emit_error(&captured.text);
            match result {
                Ok(loop_report) => {
                    report.quit_code = loop_report.quit_code;
                    if loop_report.memory_limit > 0 {
                        report.memory_exceeded = true;
                    }
                    if loop_report.errors > 0 {
                        report.note_error(captured.message);
                    }
                }
                Err(e) => report.note_failure(&e),
            }
        }
        TaskKind::Test(path) => {
            // As under `gap`, whose session runs inside lib/init.g.
            // SAFETY: opens a GAP input file inside the shim's jump point.
            let session = unsafe { sys::gaprun_fork_open_session_input() };
            // The path's bytes as they are: a file name need not be UTF-8.
            let code = format!("Test({});", gap_string_literal(path.as_os_str().as_bytes()));
            run_statements(gap, &code, &mut report);
            if session == sys::GAPRUN_OK as i32 {
                // SAFETY: the stepper's input above it is closed.
                unsafe { sys::gaprun_fork_close_session_input() };
            }
            if report.quit_code.is_none() {
                report.test_passed =
                    Some(report.errors == 0 && report.view.as_deref() == Some(&b"true"[..]));
            }
        }
    }
    report
}

/// Run GAP statements one at a time, as GAP's REPL does: output goes
/// straight to this child's stdout as it is printed, error messages to its
/// stderr after each statement; `report` gets the view of the last
/// statement's value (none after a statement that failed, had no value or
/// ended in `;;`), the first error and a quit's exit code.
fn run_statements(gap: Gap<'_>, code: &str, report: &mut ChildReport) {
    // SAFETY: a valid byte range; the shim catches GAP errors.
    let opened =
        check(unsafe { sys::gaprun_fork_steps_open(code.as_ptr() as *const _, code.len()) });
    if let Err(e) = opened {
        report.note_failure(&e);
        return;
    }
    loop {
        let mut step = sys::gaprun_fork_step_result {
            kind: 0,
            dual: 0,
            exit_code: 0,
            error_status: 0,
            value: std::ptr::null_mut(),
        };
        // SAFETY: `step` is a valid out-parameter; the shim catches GAP
        // errors (each statement's inside ReadEvalCommand).
        if let Err(e) = check(unsafe { sys::gaprun_fork_step(&mut step) }) {
            report.note_failure(&e);
            break;
        }
        match step.kind as u32 {
            sys::GAPRUN_STEP_DONE => {
                report.view = if step.value.is_null() || step.dual != 0 {
                    None
                } else {
                    match view_bytes(gap, step.value) {
                        Ok(v) => Some(v),
                        Err(e) => {
                            report.note_failure(&e);
                            None
                        }
                    }
                };
            }
            sys::GAPRUN_STEP_ERROR => {
                let err = take_error();
                emit_error(&err.text);
                report.view = None;
                if step.error_status as u32 == sys::GAPRUN_MEMORY_LIMIT {
                    report.memory_exceeded = true;
                }
                report.note_error(err.message);
            }
            sys::GAPRUN_STEP_QUIT => {
                report.quit_code = Some(step.exit_code);
                break;
            }
            _ => break,
        }
    }
    // SAFETY: closes the stepper's input opened above.
    unsafe { sys::gaprun_fork_steps_close() };
}

/// GAP's view of a value on one line, as bytes.
fn view_bytes(gap: Gap<'_>, raw: sys::gaprun_obj) -> Result<Vec<u8>> {
    // Rooted before anything else can allocate.
    let value = GapObj::from_raw(gap, raw)?;
    let mut out: sys::gaprun_obj = std::ptr::null_mut();
    // SAFETY: `value` is rooted; the view string is copied before the next
    // allocation.
    check(unsafe { sys::gaprun_view_string_flat(value.raw(), 0, &mut out) })?;
    Ok(string_bytes(out).unwrap_or_default())
}
