//! The daemon's child: become the client's process (folder, environment,
//! umask, limits, standard files), then run the command as `gaprun` would.

use super::protocol::RunRequest;
use super::CHILD_CONTROL;
use nix::sys::signal::{SigSet, SigmaskHow};
use nix::unistd::Pid;
use std::ffi::OsString;
use std::io::Write;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::sync::atomic::Ordering;

/// Tell the daemon this command must not run here (the client then starts
/// GAP itself) and end the child. Only before the command read its input or
/// wrote anything.
pub fn refuse(control: RawFd, reason: &str) -> ! {
    let bytes = reason.as_bytes();
    // SAFETY: writes a byte range we own to a pipe we own; _exit ends the
    // process without running the daemon's destructors.
    unsafe {
        libc::write(control, bytes.as_ptr().cast(), bytes.len().min(4000));
        libc::_exit(0)
    }
}

/// Run in the forked child; never returns. `close` are the daemon's own
/// descriptors (listener, signal fd, other clients' connections, lock).
pub fn run(
    request: RunRequest,
    fds: Vec<OwnedFd>,
    control: OwnedFd,
    close: &[RawFd],
    mask: &SigSet,
    daemon: Pid,
) -> ! {
    // Its own process group, so a forwarded Ctrl-C reaches what the command
    // started too, as the terminal's would (the daemon sets it as well).
    let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
    // SAFETY: sets a flag on this process: killed when the daemon dies.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    if nix::unistd::getppid() != daemon {
        // SAFETY: the daemon died before the flag was set: end at once.
        unsafe { libc::_exit(1) };
    }
    for &fd in close {
        // SAFETY: the daemon's descriptors, never used by this process.
        unsafe { libc::close(fd) };
    }
    let control = control.into_raw_fd();
    // Signals as the client has them: the daemon blocks a few for its
    // signal fd and ignores SIGPIPE.
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(mask), None);
    // SAFETY: default dispositions; no handler code involved.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::umask(request.umask as libc::mode_t);
    }
    for l in &request.limits {
        let lim = libc::rlimit {
            rlim_cur: l.soft as libc::rlim_t,
            rlim_max: l.hard as libc::rlim_t,
        };
        // SAFETY: a plain struct passed by pointer.
        if unsafe { libc::setrlimit(l.resource as _, &lim) } != 0 {
            refuse(control, "the client's resource limits exceed the daemon's");
        }
    }
    let cwd = OsString::from_vec(request.cwd);
    if let Err(e) = std::env::set_current_dir(&cwd) {
        refuse(control, &format!("cannot enter the client's folder: {e}"));
    }
    // The client's environment, exactly (this process is single-threaded).
    for (name, _) in std::env::vars_os() {
        std::env::remove_var(name);
    }
    for (name, value) in request.env {
        let name = OsString::from_vec(name);
        if name.is_empty() || name.as_encoded_bytes().contains(&b'=') {
            continue;
        }
        std::env::set_var(name, OsString::from_vec(value));
    }
    if fds.len() != 3 {
        refuse(control, "expected three file descriptors");
    }
    for (target, fd) in fds.iter().enumerate() {
        // SAFETY: duplicates descriptors we own onto 0, 1, 2 (dup2 clears
        // close-on-exec on the copy).
        if unsafe { libc::dup2(fd.as_raw_fd(), target as i32) } < 0 {
            refuse(control, "cannot take over the client's standard files");
        }
    }
    drop(fds);
    CHILD_CONTROL.store(control, Ordering::Relaxed);
    let argv: Vec<OsString> = request.argv.into_iter().map(OsString::from_vec).collect();
    let code = crate::cli::main_with_args(argv);
    // As `main` does after `main_with_args`.
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}
