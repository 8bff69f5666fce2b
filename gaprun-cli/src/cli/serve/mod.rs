//! `gaprun serve --stdio`: GAP sessions behind a JSON-lines protocol
//! (`gaprun-session/1`, documented in README).
//!
//! Process layout. The server process never runs GAP. At start, while it
//! is still single-threaded, it forks the first session; every session is
//! a single-threaded child that initialised (or inherited) GAP and answers
//! requests on a Unix socket, leading its own process group (killed as a
//! whole). `fork` makes a session fork twice (see [`child::fork_session`]):
//! the new session inherits the GAP heap copy-on-write and is adopted by
//! the server, a child subreaper, which reaps every session. The server's
//! threads (input, one reader and one writer per session, accepting,
//! reaping, signals, drops) exist only after its own last fork; the input
//! thread never waits on a session.

mod child;
mod direct;
mod request;
mod server;

use super::{GapArgs, EXIT_OK, EXIT_USAGE};
use child::*;
use clap::Args;
use direct::*;
use gaprun::Gap;
use request::*;
use serde_json::{json, Value};
use server::*;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Protocol name and version sent in the `hello` line.
pub const PROTOCOL: &str = "gaprun-session/1";

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Speak the protocol on standard input and output (the only
    /// transport so far).
    #[arg(long)]
    pub stdio: bool,
}

/// Sessions the pool policy plans for (branches made with `fork`).
const PLANNED_SESSIONS: u32 = 8;

pub fn run(args: &GapArgs, serve: &ServeArgs) -> i32 {
    if !serve.stdio {
        eprintln!("gaprun: serve needs --stdio (the only transport so far)");
        return EXIT_USAGE;
    }
    // Every session is a fork of a GAP process: the pool policy sizes the
    // pool for a handful of branches (MAP_NORESERVE where the hook exists, a
    // pool that fits the commit headroom under strict overcommit), and the
    // saved-workspace cache makes the first session start fast.
    let options = match args.start_options(PLANNED_SESSIONS) {
        Ok((options, _cache)) => options,
        Err(e) => {
            eprintln!("gaprun: {}", crate::cli::options::policy_message(&e));
            return EXIT_USAGE;
        }
    };
    if let Err(e) = options.validate() {
        eprintln!("gaprun: {e}");
        return EXIT_USAGE;
    }
    let dir = match tempfile::Builder::new().prefix("gaprun-serve-").tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("gaprun: cannot create a socket folder: {e}");
            return EXIT_USAGE;
        }
    };
    let sock_path = dir.path().join("sessions.sock");
    let dir_path = dir.path().to_path_buf();
    let listener = match UnixListener::bind(&sock_path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("gaprun: cannot listen on {}: {e}", sock_path.display());
            return EXIT_USAGE;
        }
    };
    // Sessions answer straight to our stdout when it is a pipe (set up
    // before the fork, so every session inherits it).
    if let Some(d) = DirectOut::setup(&dir_path) {
        let _ = DIRECT.set(d);
    }
    // SAFETY: getpid has no preconditions.
    SERVER_PID.store(unsafe { libc::getpid() }, Ordering::Relaxed);
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes no pointers; it makes
    // sessions orphaned by the double fork our children, so we reap them.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    // Fork the first session while this process is single-threaded.
    // SAFETY: no other thread exists yet (clap parsing spawns none).
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            drop(listener);
            let code = session_child_start(options, &sock_path);
            // SAFETY: leave without running the parent's destructors (the
            // temp folder belongs to the server).
            unsafe { libc::_exit(code) }
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            // Our own open file description of the output lock (sessions
            // open theirs), opened after the fork so no session shares it.
            let out_lock = DIRECT.get().and_then(|d| File::open(&d.lock_path).ok());
            let server = Server::new(dir, out_lock);
            let _ = SERVER.set(Arc::clone(&server));
            // Before any thread exists, so that every thread blocks them.
            let signals = stop_signals();
            if signals.thread_block().is_ok() {
                let me = Arc::clone(&server);
                std::thread::spawn(move || me.on_stop_signal(signals));
            }
            let code = Arc::clone(&server).serve(listener, child.as_raw());
            server.cleanup();
            code
        }
        Err(e) => {
            eprintln!("gaprun: fork failed: {e}");
            EXIT_USAGE
        }
    }
}

/// Signals that stop the server the ordinary way (a terminal closing, a
/// client gone, Ctrl-C, `kill`): each ends it only after the clean-up.
fn stop_signals() -> nix::sys::signal::SigSet {
    use nix::sys::signal::Signal;
    let mut set = nix::sys::signal::SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGPIPE,
    ] {
        set.add(s);
    }
    set
}

impl Server {
    /// The signal thread: wait for a stop signal, clean up (sessions and
    /// what they started killed, socket folder removed), then die of that
    /// signal as the caller expects.
    fn on_stop_signal(&self, signals: nix::sys::signal::SigSet) {
        let Ok(sig) = signals.wait() else { return };
        self.cleanup();
        let _ = std::io::stdout().flush();
        // SAFETY: restore the default action and send the signal to this
        // process again; _exit only if it somehow returns.
        unsafe {
            libc::signal(sig as i32, libc::SIG_DFL);
            let _ = signals.thread_unblock();
            libc::kill(libc::getpid(), sig as i32);
            libc::_exit(128 + sig as i32);
        }
    }
}
