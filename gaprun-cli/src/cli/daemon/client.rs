//! The client side: hand a command to the daemon when one serves this
//! configuration, relay signals while it runs, exit as it exited.

use super::protocol::{self, Limit, Reply, Request, RunRequest};
use super::{debug, dir, key, mode, serve_argv, Mode, StartArgs, AUTO_IDLE};
use crate::cli::{Cli, Command, GapArgs, EXIT_USAGE};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;

/// How long to wait for the daemon to accept a command (it answers at once
/// unless it is stuck).
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// For a command that may run in the daemon, the most forked workers it
/// can plan (0 for files and statements); `None` for everything else (the
/// interactive session keeps the terminal to itself; subcommands that do
/// not run GAP code gain nothing).
fn planned_workers(cli: &Cli) -> Option<u32> {
    match &cli.command {
        None => {
            let runs_code = cli.code.is_some() || !cli.files.is_empty();
            (cli.record.is_none() && (runs_code || !std::io::stdin().is_terminal())).then_some(0)
        }
        Some(Command::Run(a)) => Some(a.pool.planned_workers(a.files.len())),
        Some(Command::Test(a)) => Some(a.pool.planned_workers(usize::MAX)),
        Some(Command::Batch(a)) => Some(a.pool.planned_workers(usize::MAX)),
        _ => None,
    }
}

/// Run the command in the daemon when one serves its configuration:
/// `Some(exit code)` once it ran there, `None` to start GAP here (no
/// daemon, a stale one, a refusal — nothing was run or read then).
pub fn try_delegate(cli: &Cli, argv: &[OsString]) -> Option<i32> {
    if super::in_daemon_child() {
        return None;
    }
    let mode = mode();
    if mode == Mode::Off {
        return None;
    }
    let planned = planned_workers(cli)?;
    let dir = dir::runtime_dir();
    if let Err(e) = dir::check(&dir) {
        if std::fs::symlink_metadata(&dir).is_ok() {
            debug(&e);
        }
        if mode == Mode::Auto {
            auto_start(&cli.gap, &dir);
        }
        return None;
    }
    let key = match key::compute(&cli.gap) {
        Ok(k) => k,
        Err(e) => {
            debug(&e);
            return None;
        }
    };
    if planned > 0 {
        // The daemon's GAP was sized for no workers; the warning limit is
        // adjusted in the child, anything else must be the same.
        match cli.gap.resolve(planned) {
            Ok((want, _, _)) if key::same_start(&key.options, &want) => {}
            _ => {
                debug(&format!(
                    "the pool policy sizes GAP differently for {planned} workers"
                ));
                return None;
            }
        }
    }
    let socket = dir::files(&dir, &key.id).socket;
    let stream = match UnixStream::connect(&socket) {
        Ok(s) => s,
        Err(e) => {
            debug(&format!("no daemon for key {} ({e})", key.id));
            if mode == Mode::Auto {
                auto_start(&cli.gap, &dir);
            }
            return None;
        }
    };
    match getsockopt(&stream, PeerCredentials) {
        Ok(c) if c.uid() == nix::unistd::geteuid().as_raw() => {}
        _ => {
            debug("the socket's owner is not you");
            return None;
        }
    }
    match run_remote(stream, &key.id, argv) {
        Remote::Ran(code) => Some(code),
        Remote::Refused if mode == Mode::Auto => {
            replace_if_stale(&socket, &cli.gap, &dir);
            None
        }
        Remote::Refused | Remote::NotRun => None,
    }
}

/// `GAPRUN_DAEMON=auto`: a daemon under this key that found itself stale
/// (files under the GAP roots edited) is asked to stop, and a fresh one
/// started in the background.
fn replace_if_stale(socket: &Path, gap: &GapArgs, dir: &Path) {
    let Ok(info) = super::query(socket) else {
        return;
    };
    if info.stale.is_none() {
        return;
    }
    if let Ok(s) = UnixStream::connect(socket) {
        let _ = protocol::send(&s, &Request::Stop);
    }
    auto_start(gap, dir);
}

/// What became of a command sent to the daemon.
enum Remote {
    /// It ran there and exited with this status.
    Ran(i32),
    /// The daemon (or its child, before it read or wrote) refused it.
    Refused,
    /// It was not sent or not answered; nothing ran.
    NotRun,
}

/// Start a daemon for `gap` in the background, for the next command
/// (`GAPRUN_DAEMON=auto`); a second one for the same key exits at once
/// (the lock), so racing commands are harmless.
fn auto_start(gap: &GapArgs, dir: &Path) {
    if let Err(e) = dir::ensure(dir) {
        debug(&e);
        return;
    }
    let Ok(key) = key::compute(gap) else { return };
    let files = dir::files(dir, &key.id);
    let start = StartArgs {
        idle_timeout: Some(AUTO_IDLE),
        ..StartArgs::default()
    };
    match spawn_serve(gap, &start, &files.log, true) {
        Ok(mut intermediate) => {
            let _ = intermediate.wait();
            debug("started a daemon in the background for the next command");
        }
        Err(e) => debug(&format!("cannot start a daemon: {e}")),
    }
}

/// Launch `gaprun daemon serve` for `gap` in a session of its own, its
/// output in `log`. With `detach`, the process launched exits at once and
/// the daemon is its child (adopted by init): nothing of this process waits
/// for it or could reap it.
pub fn spawn_serve(
    gap: &GapArgs,
    start: &StartArgs,
    log: &Path,
    detach: bool,
) -> std::io::Result<std::process::Child> {
    let exe = std::env::current_exe()?;
    let out = std::fs::File::create(log)?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(serve_argv(gap, start))
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    // SAFETY: runs in the forked child before exec and calls only
    // async-signal-safe functions (close_range, setsid, fork, _exit).
    unsafe {
        cmd.pre_exec(move || {
            // Nothing of the caller but the three standard files: a pipe
            // inherited by a long-lived daemon would never reach its end
            // (`x=$(…)` in a shell would wait for ever).
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            libc::setsid();
            if detach {
                match libc::fork() {
                    -1 => return Err(std::io::Error::last_os_error()),
                    0 => {}
                    _ => libc::_exit(0),
                }
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// The client's resource limits, for the child.
fn limits() -> Vec<Limit> {
    [
        libc::RLIMIT_AS,
        libc::RLIMIT_DATA,
        libc::RLIMIT_STACK,
        libc::RLIMIT_CPU,
        libc::RLIMIT_FSIZE,
        libc::RLIMIT_NOFILE,
        libc::RLIMIT_CORE,
        libc::RLIMIT_NPROC,
    ]
    .into_iter()
    .filter_map(|r| {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: fills a struct we own.
        (unsafe { libc::getrlimit(r, &mut lim) } == 0).then_some(Limit {
            resource: r as i32,
            soft: lim.rlim_cur,
            hard: lim.rlim_max,
        })
    })
    .collect()
}

fn umask() -> u32 {
    // SAFETY: umask cannot fail; the old mask is put back at once.
    unsafe {
        let old = libc::umask(0o022);
        libc::umask(old);
        old as u32
    }
}

/// The signals passed on to the command (a terminal's Ctrl-C and Ctrl-\,
/// `kill`, a closed terminal).
fn forwarded() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        set.add(s);
    }
    set
}

fn restore(mask: &SigSet) {
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(mask), None);
}

fn run_remote(mut stream: UnixStream, key: &str, argv: &[OsString]) -> Remote {
    let Ok(cwd) = std::env::current_dir() else {
        return Remote::NotRun;
    };
    let request = RunRequest {
        key: key.to_string(),
        argv: argv.iter().map(|a| a.as_bytes().to_vec()).collect(),
        cwd: cwd.into_os_string().into_vec(),
        env: std::env::vars_os()
            .map(|(k, v)| (k.into_vec(), v.into_vec()))
            .collect(),
        umask: umask(),
        limits: limits(),
    };
    // Blocked before the child can exist, so no signal is lost; read
    // through a signal fd while the command runs.
    let set = forwarded();
    let mut old = SigSet::empty();
    if nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old)).is_err() {
        return Remote::NotRun;
    }
    if let Err(e) = protocol::send_with_fds(&stream, &Request::Run(request), &[0, 1, 2]) {
        debug(&format!("cannot send the command: {e}"));
        restore(&old);
        return Remote::NotRun;
    }
    let _ = stream.set_read_timeout(Some(START_TIMEOUT));
    let pid = match protocol::receive::<Reply>(&mut stream) {
        Ok(Reply::Started { pid }) => pid,
        Ok(Reply::Refused { reason }) => {
            debug(&format!("refused: {reason}"));
            restore(&old);
            return Remote::Refused;
        }
        Ok(other) => {
            debug(&format!("unexpected answer {other:?}"));
            restore(&old);
            return Remote::NotRun;
        }
        Err(e) => {
            debug(&format!("no answer: {e}"));
            restore(&old);
            return Remote::NotRun;
        }
    };
    let _ = stream.set_read_timeout(None);
    let signals = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC).ok();
    loop {
        let (sock_ready, sig_ready) = {
            let mut fds = vec![PollFd::new(stream.as_fd(), PollFlags::POLLIN)];
            if let Some(s) = &signals {
                fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
            }
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return Remote::Ran(lost(pid, &old)),
            }
            let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
            (ready(&fds[0]), fds.get(1).is_some_and(ready))
        };
        if sig_ready {
            if let Some(s) = &signals {
                while let Ok(Some(info)) = s.read_signal() {
                    let _ = protocol::send(
                        &stream,
                        &Request::Signal {
                            signal: info.ssi_signo as i32,
                        },
                    );
                }
            }
        }
        if !sock_ready {
            continue;
        }
        match protocol::receive::<Reply>(&mut stream) {
            Ok(Reply::Exited { code }) => {
                restore(&old);
                return Remote::Ran(code);
            }
            Ok(Reply::Signaled { signal }) => die_by(signal, &old),
            Ok(Reply::Refused { reason }) => {
                // The child refused before it read or wrote anything.
                debug(&format!("refused: {reason}"));
                restore(&old);
                return Remote::Refused;
            }
            Ok(_) => {}
            Err(_) => return Remote::Ran(lost(pid, &old)),
        }
    }
}

/// The daemon went away mid-command (its child died with it).
fn lost(pid: i32, old: &SigSet) -> i32 {
    restore(old);
    eprintln!(
        "gaprun: the GAP daemon stopped before the command finished (its process {pid} was \
         killed); run the command again, or set GAPRUN_DAEMON=off to start GAP without it"
    );
    EXIT_USAGE
}

/// End this process by `signal`, as the command's process ended.
fn die_by(signal: i32, old: &SigSet) -> ! {
    let _ = std::io::stdout().flush();
    // SAFETY: default disposition, then the signal to ourselves with it
    // unblocked; `_exit` only if it does not end the process.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        restore(old);
        let mut one = SigSet::empty();
        if let Ok(s) = Signal::try_from(signal) {
            one.add(s);
        }
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&one), None);
        libc::raise(signal);
        libc::_exit(128 + signal)
    }
}
