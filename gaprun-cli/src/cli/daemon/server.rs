//! The daemon process: start GAP once, then serve commands forever.
//!
//! It stays single-threaded for its whole life, so that it may fork at any
//! time (the rule `gaprun::fork` keeps: a child inherits only the forking
//! thread, and a lock another thread held would stay locked). One `poll`
//! loop watches the listening socket, a signal fd (SIGCHLD to reap its
//! children, SIGTERM/SIGINT/SIGHUP to stop) and the connection of every
//! command still running (forwarded signals; end of file when the client
//! went away, which kills the command's process group). SIGCHLD is blocked
//! here, so GAP's own SIGCHLD handler never steals a child's status; the
//! child gets the original mask back.

use super::protocol::{self, FrameError, Reply, Request, RunRequest, StatusInfo};
use super::{child, dir, key, StartArgs};
use crate::cli::{GapArgs, EXIT_OK, EXIT_USAGE};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

/// How often an idle daemon checks its socket and re-hashes the files
/// under its GAP roots (`--check-every`).
const CHECK_EVERY: Duration = Duration::from_secs(30);

/// A command being run.
struct Running {
    pid: Pid,
    /// The client's connection; `None` once the client went away.
    conn: Option<UnixStream>,
    /// Read end of the child's control pipe (a refusal, if any).
    control: OwnedFd,
}

struct Daemon {
    key: key::Key,
    listener: UnixListener,
    signals: SignalFd,
    /// The signal mask before the daemon blocked its signals (the child's).
    mask: SigSet,
    running: Vec<Running>,
    served: u64,
    ready: Instant,
    last_active: Instant,
    last_check: Instant,
    idle_timeout: Option<Duration>,
    check_every: Duration,
    /// The full fingerprint of the GAP roots at start.
    fingerprint: String,
    /// The binary at start.
    exe: Option<key::FileIdentity>,
    /// Why this daemon no longer serves, once it noticed.
    stale: Option<String>,
    lock: std::fs::File,
    /// The socket file as bound (path, device, inode): when it is gone or
    /// replaced (its folder deleted, a `/tmp` clean-up), no client can
    /// reach this daemon any more and it ends.
    socket: Option<key::FileIdentity>,
    stopping: bool,
    uid: u32,
}

fn full_fingerprint(options: &gaprun::GapOptions) -> String {
    let mut roots = options.effective_roots();
    roots.extend(key::user_root());
    gaprun::workspace::fingerprint(&roots).1
}

/// Device and inode of the socket file (without following a link).
fn socket_identity(path: &std::path::Path) -> Option<key::FileIdentity> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(path).ok()?;
    Some(key::FileIdentity {
        path: path.to_path_buf(),
        dev: m.dev(),
        ino: m.ino(),
        size: 0,
        mtime_ns: 0,
    })
}

fn log(msg: &str) {
    eprintln!("gaprun daemon [{}]: {msg}", std::process::id());
}

pub fn serve(gap_args: &GapArgs, start: &StartArgs) -> i32 {
    let (key, dir) = match super::key_and_folder(gap_args) {
        Ok(found) => found,
        Err(code) => return code,
    };
    let files = dir::files(&dir, &key.id);
    if gaprun::fork::thread_count().ok() != Some(1) {
        eprintln!("gaprun: the daemon must be single-threaded to fork");
        return EXIT_USAGE;
    }
    // GAP exactly as a command would start it (no forked workers planned).
    // The handle is not kept: the daemon never runs GAP code itself.
    if let Err(code) = crate::cli::script::start_gap(gap_args, 0) {
        return code;
    }
    // Taken after GAP started, so that GAP's descriptors (the pinned
    // workspace: `-L /proc/self/fd/N`) are numbered as in a command's own
    // start. A second daemon for the key exits here.
    let lock = match std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&files.lock)
    {
        Ok(f) => f,
        Err(e) => {
            eprintln!("gaprun: cannot open {}: {e}", files.lock.display());
            return EXIT_USAGE;
        }
    };
    // A stale daemon being replaced may take a moment to exit: wait up to
    // 5 s for its lock, then give way to the one holding it.
    let deadline = Instant::now() + Duration::from_secs(5);
    // SAFETY: flock on a descriptor we own.
    while unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        if Instant::now() > deadline {
            eprintln!("gaprun: a daemon for this configuration is already running or starting");
            return EXIT_USAGE;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let fingerprint = full_fingerprint(&key.options);
    let exe = key::exe_identity();
    let _ = std::fs::remove_file(&files.socket);
    let listener = match UnixListener::bind(&files.socket) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("gaprun: cannot listen on {}: {e}", files.socket.display());
            return EXIT_USAGE;
        }
    };
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&files.socket, std::fs::Permissions::from_mode(0o600));
    }
    let _ = std::fs::write(&files.pid, format!("{}\n", std::process::id()));
    // SAFETY: ignoring SIGPIPE: a client that went away is an error on
    // write (EPIPE), not the daemon's end.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let mut blocked = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
    ] {
        blocked.add(s);
    }
    let mut mask = SigSet::empty();
    if let Err(e) =
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&blocked), Some(&mut mask))
    {
        eprintln!("gaprun: cannot block signals: {e}");
        return EXIT_USAGE;
    }
    let signals =
        match SignalFd::with_flags(&blocked, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("gaprun: cannot make a signal fd: {e}");
                return EXIT_USAGE;
            }
        };
    let now = Instant::now();
    let mut daemon = Daemon {
        key,
        listener,
        signals,
        mask,
        running: Vec::new(),
        served: 0,
        ready: now,
        last_active: now,
        last_check: now,
        idle_timeout: start.idle_timeout,
        check_every: start.check_every.unwrap_or(CHECK_EVERY),
        fingerprint,
        exe,
        stale: None,
        lock,
        socket: socket_identity(&files.socket),
        stopping: false,
        uid: nix::unistd::geteuid().as_raw(),
    };
    log(&format!(
        "serving {} ({})",
        daemon.key.id, daemon.key.config
    ));
    daemon.main_loop();
    daemon.shutdown();
    // Only if the socket is still ours (not one a newer daemon bound).
    let ours = |now: Option<key::FileIdentity>| {
        now.zip(daemon.socket.as_ref())
            .is_some_and(|(now, bound)| (now.dev, now.ino) == (bound.dev, bound.ino))
    };
    if ours(socket_identity(&files.socket)) {
        let _ = std::fs::remove_file(&files.socket);
        let _ = std::fs::remove_file(&files.pid);
    }
    log("stopped");
    EXIT_OK
}

impl Daemon {
    fn main_loop(&mut self) {
        while !self.stopping {
            let conns: Vec<(usize, RawFd)> = self
                .running
                .iter()
                .enumerate()
                .filter_map(|(i, r)| r.conn.as_ref().map(|c| (i, c.as_raw_fd())))
                .collect();
            let (listen_ready, signal_ready, conn_ready) = {
                let mut fds = vec![
                    PollFd::new(self.listener.as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.signals.as_fd(), PollFlags::POLLIN),
                ];
                // SAFETY: each fd belongs to a connection in `self.running`,
                // which lives across this poll.
                let borrowed: Vec<_> = conns
                    .iter()
                    .map(|&(_, fd)| unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) })
                    .collect();
                for b in &borrowed {
                    fds.push(PollFd::new(*b, PollFlags::POLLIN));
                }
                let wait = self.check_every.min(Duration::from_secs(5));
                match poll(
                    &mut fds,
                    PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX),
                ) {
                    Ok(_) => {}
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => {
                        log(&format!("poll failed: {e}"));
                        return;
                    }
                }
                let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
                let conn_ready: Vec<usize> = fds[2..]
                    .iter()
                    .zip(&conns)
                    .filter(|(f, _)| ready(f))
                    .map(|(_, &(i, _))| i)
                    .collect();
                (ready(&fds[0]), ready(&fds[1]), conn_ready)
            };
            if signal_ready {
                self.on_signals();
            }
            for i in conn_ready {
                self.on_client(i);
            }
            if listen_ready && !self.stopping {
                self.accept();
            }
            self.idle_work();
        }
    }

    /// When nothing runs: notice staleness, honour the idle timeout.
    fn idle_work(&mut self) {
        if !self.running.is_empty() {
            return;
        }
        if let Some(t) = self.idle_timeout {
            if self.last_active.elapsed() >= t {
                log("idle timeout");
                self.stopping = true;
                return;
            }
        }
        if self.last_check.elapsed() < self.check_every {
            return;
        }
        if let Some(bound) = &self.socket {
            if socket_identity(&bound.path)
                .as_ref()
                .map(|s| (s.dev, s.ino))
                != Some((bound.dev, bound.ino))
            {
                log("the socket file is gone or was replaced: stopping");
                self.stopping = true;
                return;
            }
        }
        self.last_check = Instant::now();
        if self.stale.is_none() {
            self.stale = self.staleness(true);
            if let Some(why) = &self.stale {
                log(&format!("stale: {why}"));
            }
        }
    }

    /// Why this daemon's GAP is no longer what a fresh start would give.
    fn staleness(&self, full: bool) -> Option<String> {
        if self.stale.is_some() {
            return self.stale.clone();
        }
        if key::exe_identity() != self.exe {
            return Some("the gaprun binary changed since the daemon started".into());
        }
        if full && full_fingerprint(&self.key.options) != self.fingerprint {
            return Some("files under the GAP roots changed since the daemon started".into());
        }
        None
    }

    fn on_signals(&mut self) {
        let mut child_exited = false;
        while let Ok(Some(info)) = self.signals.read_signal() {
            match info.ssi_signo as i32 {
                libc::SIGCHLD => child_exited = true,
                sig => {
                    log(&format!("signal {sig}: stopping"));
                    self.stopping = true;
                }
            }
        }
        if child_exited {
            self.reap();
        }
    }

    fn reap(&mut self) {
        loop {
            let status = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(s) => s,
            };
            let (pid, reply) = match status {
                WaitStatus::Exited(pid, code) => (pid, Reply::Exited { code }),
                WaitStatus::Signaled(pid, sig, _) => (pid, Reply::Signaled { signal: sig as i32 }),
                _ => continue,
            };
            let Some(at) = self.running.iter().position(|r| r.pid == pid) else {
                continue;
            };
            let r = self.running.swap_remove(at);
            self.last_active = Instant::now();
            let mut why = [0u8; 4096];
            // SAFETY: reads into our buffer from our pipe (non-blocking:
            // every writer is gone, so it returns at once).
            let n =
                unsafe { libc::read(r.control.as_raw_fd(), why.as_mut_ptr().cast(), why.len()) };
            let reply = if n > 0 {
                Reply::Refused {
                    reason: String::from_utf8_lossy(&why[..n as usize]).into_owned(),
                }
            } else {
                self.served += 1;
                reply
            };
            if let Some(conn) = &r.conn {
                let _ = protocol::send(conn, &reply);
            }
        }
    }

    /// A running command's client sent something, or went away.
    fn on_client(&mut self, i: usize) {
        let Some(r) = self.running.get_mut(i) else {
            return;
        };
        let Some(conn) = r.conn.as_mut() else { return };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(1)));
        match protocol::receive::<Request>(conn) {
            Ok(Request::Signal { signal }) => {
                if let Ok(sig) = Signal::try_from(signal) {
                    let _ = kill(Pid::from_raw(-r.pid.as_raw()), sig);
                }
            }
            Ok(_) => {}
            Err(_) => {
                // The client is gone (killed, or its terminal closed): its
                // command must not run on unattended.
                let _ = kill(Pid::from_raw(-r.pid.as_raw()), Signal::SIGKILL);
                let _ = kill(r.pid, Signal::SIGKILL);
                r.conn = None;
            }
        }
    }

    fn status(&self) -> StatusInfo {
        StatusInfo {
            key: self.key.id.clone(),
            pid: std::process::id() as i32,
            uptime_secs: self.ready.elapsed().as_secs_f64(),
            served: self.served,
            running: self.running.len() as u64,
            config: self.key.config.clone(),
            stale: self.staleness(false),
        }
    }

    fn accept(&mut self) {
        let Ok((mut conn, _)) = self.listener.accept() else {
            return;
        };
        // Only this user: the folder is private already; the peer's
        // credentials are checked all the same.
        match getsockopt(&conn, PeerCredentials) {
            Ok(c) if c.uid() == self.uid => {}
            Ok(c) => {
                log(&format!(
                    "refused a connection from uid {} (pid {})",
                    c.uid(),
                    c.pid()
                ));
                let _ = protocol::send(
                    &conn,
                    &Reply::Refused {
                        reason: "this daemon serves another user".into(),
                    },
                );
                return;
            }
            Err(e) => {
                log(&format!("no peer credentials: {e}"));
                return;
            }
        }
        let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
        let (request, fds) = match protocol::receive_with_fds::<Request>(&mut conn) {
            Ok(x) => x,
            Err(FrameError::Closed) => return,
            Err(e) => {
                log(&format!("bad request: {e}"));
                let _ = protocol::send(
                    &conn,
                    &Reply::Refused {
                        reason: e.to_string(),
                    },
                );
                return;
            }
        };
        match request {
            Request::Status => {
                let _ = protocol::send(&conn, &Reply::Status(self.status()));
            }
            Request::Stop => {
                let _ = protocol::send(&conn, &Reply::Stopping);
                self.stopping = true;
            }
            Request::Signal { .. } => {
                let _ = protocol::send(
                    &conn,
                    &Reply::Refused {
                        reason: "no command runs on this connection".into(),
                    },
                );
            }
            Request::Run(run) => self.start_command(conn, run, fds),
        }
    }

    /// Fork the command's child, or refuse (the client then starts GAP
    /// itself).
    fn start_command(&mut self, conn: UnixStream, request: RunRequest, fds: Vec<OwnedFd>) {
        if let Err(reason) = self.check_run(&request, &fds) {
            let _ = protocol::send(&conn, &Reply::Refused { reason });
            return;
        }
        if let Err(reason) = self.fork_command(&conn, request, fds) {
            let _ = protocol::send(&conn, &Reply::Refused { reason });
        }
    }

    fn check_run(&mut self, request: &RunRequest, fds: &[OwnedFd]) -> Result<(), String> {
        if request.key != self.key.id {
            return Err(format!("this daemon serves key {}", self.key.id));
        }
        if let Some(why) = self.staleness(false) {
            self.stale = Some(why.clone());
            return Err(why);
        }
        if fds.len() != protocol::PASSED_FDS {
            return Err(format!("{} file descriptors instead of 3", fds.len()));
        }
        if gaprun::fork::thread_count().ok() != Some(1) {
            return Err("the daemon is not single-threaded".into());
        }
        Ok(())
    }

    /// The running command keeps a copy of `client`; the original stays
    /// open in the caller until after the fork, so the child closes both.
    fn fork_command(
        &mut self,
        client: &UnixStream,
        request: RunRequest,
        fds: Vec<OwnedFd>,
    ) -> Result<(), String> {
        let conn = client.try_clone().map_err(|e| e.to_string())?;
        let (control_r, control_w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
                .map_err(|e| e.to_string())?;
        // Nothing buffered may be inherited and written twice.
        let _ = std::io::stdout().flush();
        // SAFETY: fflush(NULL) flushes every C stdio stream; no pointers.
        unsafe { libc::fflush(std::ptr::null_mut()) };
        let mut close: Vec<RawFd> = vec![
            self.listener.as_raw_fd(),
            self.signals.as_raw_fd(),
            self.lock.as_raw_fd(),
            control_r.as_raw_fd(),
            conn.as_raw_fd(),
        ];
        close.extend(
            self.running
                .iter()
                .flat_map(|r| {
                    [
                        r.conn.as_ref().map(|c| c.as_raw_fd()),
                        Some(r.control.as_raw_fd()),
                    ]
                })
                .flatten(),
        );
        close.push(client.as_raw_fd());
        let daemon = nix::unistd::getpid();
        // SAFETY: this process has exactly one thread (checked above), so
        // no lock can be held by a thread the child would not have.
        match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Child) => {
                child::run(request, fds, control_w, &close, &self.mask, daemon)
            }
            Ok(nix::unistd::ForkResult::Parent { child }) => {
                // Also here, so a Ctrl-C forwarded at once finds the group.
                let _ = nix::unistd::setpgid(child, child);
                drop(fds);
                drop(control_w);
                let _ = conn.set_read_timeout(None);
                if protocol::send(
                    &conn,
                    &Reply::Started {
                        pid: child.as_raw(),
                    },
                )
                .is_err()
                {
                    let _ = kill(Pid::from_raw(-child.as_raw()), Signal::SIGKILL);
                    let _ = kill(child, Signal::SIGKILL);
                }
                self.last_active = Instant::now();
                self.running.push(Running {
                    pid: child,
                    conn: Some(conn),
                    control: control_r,
                });
                Ok(())
            }
            Err(e) => Err(format!("fork failed: {e}")),
        }
    }

    /// Kill what still runs (its clients see the daemon gone) and reap it.
    fn shutdown(&mut self) {
        for r in &self.running {
            let _ = kill(Pid::from_raw(-r.pid.as_raw()), Signal::SIGKILL);
            let _ = kill(r.pid, Signal::SIGKILL);
        }
        for r in std::mem::take(&mut self.running) {
            let _ = waitpid(r.pid, None);
        }
    }
}
