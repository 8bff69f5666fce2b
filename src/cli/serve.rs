//! `gaprun serve --stdio`: GAP sessions behind a JSON-lines protocol
//! (`gaprun-session/1`, documented in README).
//!
//! Process layout. The server process never runs GAP. At start, while it
//! is still single-threaded, it forks the first session; every session is
//! a single-threaded child that initialised (or inherited) GAP and answers
//! requests on a Unix socket. `fork` asks a session to clone itself with
//! `CLONE_PARENT`, so the new session inherits the GAP heap copy-on-write
//! and is a child of the server, which reaps every session (it is also a
//! child subreaper, for anything a session leaves orphaned). The server's threads
//! (one reading each session, one accepting new sessions, one reaping)
//! exist only after its own last fork.

use super::{GapArgs, EXIT_OK, EXIT_USAGE};
use clap::Args;
use gaprun::session;
use gaprun::Gap;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
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
            eprintln!("gaprun: memory policy: {e}");
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
    let listener = match UnixListener::bind(&sock_path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("gaprun: cannot listen on {}: {e}", sock_path.display());
            return EXIT_USAGE;
        }
    };
    // Sessions answer straight to our stdout when it is a pipe (set up
    // before the fork, so every session inherits it).
    if let Some(d) = DirectOut::setup(dir.path()) {
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
            let code = Server::new(sock_path.clone(), out_lock).serve(listener, child.as_raw());
            drop(dir);
            code
        }
        Err(e) => {
            eprintln!("gaprun: fork failed: {e}");
            EXIT_USAGE
        }
    }
}

// --------------------------------------------------------- direct answers

/// An answer line at most this long goes from a session straight to the
/// server's stdout in one write(2), which POSIX makes atomic on a pipe (a
/// session killed meanwhile writes all of it or nothing). Longer answers,
/// and fork answers, go through the server.
const ATOMIC_LINE: usize = libc::PIPE_BUF;

/// Sessions numbered below this have an answer counter (and so answer
/// directly); later ones have their answers passed on by the server.
const SLOTS: usize = 1 << 16;

/// What lets sessions write their answers to the server's stdout.
///
/// Writers (the server and every session) hold `flock` on `lock_path`
/// around each line: shared for a line written in one atomic write,
/// exclusive for a longer one, so no line lands inside another. Each session
/// counts the answers it has written in its slot of `answered` (shared
/// memory), which tells the server which requests are still owed (for
/// `stats`, `close` and a session's death) without a message per answer.
struct DirectOut {
    /// A dup of the server's stdout (a pipe), inherited by every session.
    fd: i32,
    /// `SLOTS` counters in a `MAP_SHARED` mapping, one per session number.
    answered: *const AtomicU64,
    lock_path: PathBuf,
}

// SAFETY: `answered` points at a mapping that is never unmapped, accessed
// only through atomics.
unsafe impl Send for DirectOut {}
// SAFETY: as above.
unsafe impl Sync for DirectOut {}

static DIRECT: OnceLock<DirectOut> = OnceLock::new();

/// The server's pid (set before the first fork).
static SERVER_PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

impl DirectOut {
    /// Set up direct answers if stdout is a pipe (and `GAPRUN_SERVE_RELAY`
    /// is unset: then every answer goes through the server, as on files).
    fn setup(dir: &Path) -> Option<DirectOut> {
        if std::env::var_os("GAPRUN_SERVE_RELAY").is_some() {
            return None;
        }
        // SAFETY: fstat into a zeroed struct.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(1, &mut st) } != 0 || st.st_mode & libc::S_IFMT != libc::S_IFIFO {
            return None;
        }
        let lock_path = dir.join("out.lock");
        File::create(&lock_path).ok()?;
        let len = SLOTS * std::mem::size_of::<AtomicU64>();
        // SAFETY: a fresh anonymous shared mapping (zeroed by the kernel).
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return None;
        }
        // SAFETY: dup of fd 1 above 2, close-on-exec.
        let fd = unsafe { libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3) };
        if fd < 0 {
            // SAFETY: unmapping what we just mapped.
            unsafe { libc::munmap(p, len) };
            return None;
        }
        Some(DirectOut {
            fd,
            answered: p as *const AtomicU64,
            lock_path,
        })
    }

    fn slot(&'static self, sid: u64) -> Option<&'static AtomicU64> {
        // SAFETY: in bounds; the mapping lives as long as the process.
        (sid < SLOTS as u64).then(|| unsafe { &*self.answered.add(sid as usize) })
    }
}

/// The answer counter of session `sid` when it answers directly.
fn direct_slot(sid: u64) -> Option<&'static AtomicU64> {
    DIRECT.get().and_then(|d| d.slot(sid))
}

/// flock(2), retried when a signal interrupts it.
fn flock(f: &File, op: i32) {
    // SAFETY: flock on an open fd.
    while unsafe { libc::flock(f.as_raw_fd(), op) } != 0
        && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
    {}
}

/// Write all of `buf` to `fd` (retrying on EINTR); errors are dropped (a
/// closed stdout means the client is gone).
fn write_fd(fd: i32, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: a valid buffer and fd.
        let n = unsafe { libc::write(fd, buf.as_ptr() as *const _, buf.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        buf = &buf[n as usize..];
    }
}

// ---------------------------------------------------------------- server

/// Requests sent to one session and which of them are answered.
struct Track {
    /// Requests sent and maybe not answered: (sequence number, id), oldest first.
    pending: VecDeque<(u64, Value)>,
    /// Sequence number of the next request.
    next_seq: u64,
    /// Answers of this session that the server wrote (passed on).
    relayed: u64,
    /// Answers the session counts as written (its direct ones included).
    slot: Option<&'static AtomicU64>,
}

impl Track {
    fn answered(&self) -> u64 {
        self.slot
            .map_or(0, |s| s.load(Ordering::Acquire))
            .max(self.relayed)
    }

    /// Forget requests known to be answered.
    fn prune(&mut self) {
        let done = self.answered();
        while self.pending.front().is_some_and(|(seq, _)| *seq < done) {
            self.pending.pop_front();
        }
    }

    fn busy(&mut self) -> bool {
        self.prune();
        !self.pending.is_empty()
    }
}

fn lock_track(t: &Mutex<Track>) -> std::sync::MutexGuard<'_, Track> {
    t.lock().unwrap_or_else(|p| p.into_inner())
}

struct SessionEntry {
    pid: i32,
    writer: Arc<Mutex<UnixStream>>,
    track: Arc<Mutex<Track>>,
    alive: bool,
}

#[derive(Default)]
struct Table {
    sessions: HashMap<u64, SessionEntry>,
    /// Exit descriptions of reaped session processes, by pid.
    exits: HashMap<i32, String>,
    /// Session ids handed out by `fork` requests not yet connected.
    forking: std::collections::HashSet<u64>,
    next_id: u64,
}

struct Server {
    table: Mutex<Table>,
    registered: Condvar,
    out: Mutex<std::io::Stdout>,
    /// Our lock on stdout shared with the sessions (see [`DirectOut`]).
    out_lock: Option<File>,
    started: Instant,
    _sock: PathBuf,
}

impl Server {
    fn new(sock: PathBuf, out_lock: Option<File>) -> Arc<Server> {
        Arc::new(Server {
            table: Mutex::new(Table {
                next_id: 1,
                ..Table::default()
            }),
            registered: Condvar::new(),
            out: Mutex::new(std::io::stdout()),
            out_lock,
            started: Instant::now(),
            _sock: sock,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn send(&self, v: &Value) {
        let mut line = serde_json::to_vec(v).unwrap_or_default();
        line.push(b'\n');
        self.send_line(&line);
    }

    /// Write one whole line (`line` ends with a newline) to stdout in one
    /// piece; stdout's line buffer passes it to a single write(2).
    fn send_line(&self, line: &[u8]) {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = &self.out_lock {
            let op = if line.len() <= ATOMIC_LINE {
                libc::LOCK_SH
            } else {
                libc::LOCK_EX
            };
            flock(f, op);
        }
        let _ = out.write_all(line);
        let _ = out.flush();
        if let Some(f) = &self.out_lock {
            flock(f, libc::LOCK_UN);
        }
    }

    /// The process of session `sid` when it is alive; otherwise answer
    /// request `id` with why not (`session_dead`, `unknown_session`).
    fn live_session(&self, id: &Value, sid: u64) -> Option<i32> {
        let alive = self.lock().sessions.get(&sid).map(|s| (s.alive, s.pid));
        match alive {
            Some((true, pid)) => Some(pid),
            Some((false, _)) => {
                self.error(id, "session_dead", &format!("session {sid} is dead"));
                None
            }
            None => {
                self.error(id, "unknown_session", &format!("no session {sid}"));
                None
            }
        }
    }

    fn error(&self, id: &Value, code: &str, msg: &str) {
        self.send(&json!({"id": id, "ok": false, "code": code, "error": msg}));
    }

    /// Wait until session `id` has connected (or `timeout` passes).
    fn wait_registered(&self, id: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut t = self.lock();
        while !t.sessions.contains_key(&id) {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            t = self
                .registered
                .wait_timeout(t, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    /// Wait while session `id` is being forked and has not connected;
    /// false if it still has not after `timeout`.
    fn wait_forked(&self, id: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut t = self.lock();
        while t.forking.contains(&id) {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            t = self
                .registered
                .wait_timeout(t, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    fn serve(self: Arc<Self>, listener: UnixListener, first_pid: i32) -> i32 {
        {
            let me = Arc::clone(&self);
            std::thread::spawn(move || me.accept_loop(listener));
        }
        {
            let me = Arc::clone(&self);
            std::thread::spawn(move || me.reap_loop());
        }
        // The first session is 0; wait for it (GAP's start-up).
        if !self.wait_registered(0, Duration::from_secs(300)) {
            let why = self
                .lock()
                .exits
                .get(&first_pid)
                .cloned()
                .unwrap_or_else(|| "it did not connect".into());
            eprintln!("gaprun: the first GAP session failed to start: {why}");
            return EXIT_USAGE;
        }
        let info = gaprun::runtime::build_info();
        self.send(&json!({
            "hello": PROTOCOL,
            "protocol": PROTOCOL,
            "gaprun": env!("CARGO_PKG_VERSION"),
            "gap": info.gap_version,
            "session": 0,
            "ops": ["eval", "interrupt", "fork", "switch", "drop", "stats", "close"],
        }));
        let mut current: Option<u64> = Some(0);
        let stdin = std::io::stdin();
        let mut bytes: Vec<u8> = Vec::with_capacity(4096);
        let mut input = stdin.lock();
        loop {
            bytes.clear();
            match input.read_until(b'\n', &mut bytes) {
                Ok(0) | Err(_) => {
                    // End of input: like `close` (default grace), no answer.
                    self.wait_owed(Duration::from_millis(1000));
                    break;
                }
                Ok(_) => {}
            }
            let Ok(line) = std::str::from_utf8(&bytes) else {
                self.error(&Value::Null, "bad_json", "malformed JSON: not UTF-8");
                continue;
            };
            if line.trim().is_empty() {
                continue;
            }
            if !self.handle(line, &mut current) {
                break;
            }
        }
        self.shutdown();
        EXIT_OK
    }

    /// Let answers already owed go out first (bounded wait).
    fn wait_owed(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            let owed = self
                .lock()
                .sessions
                .values()
                .any(|s| s.alive && lock_track(&s.track).busy());
            if !owed {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn shutdown(&self) {
        let pids: Vec<i32> = {
            let t = self.lock();
            t.sessions.values().map(|s| s.pid).collect()
        };
        for pid in pids {
            // SAFETY: plain kill(2) of a session process we started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        // Reap what is left (the reaper thread may be blocked in waitpid).
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let mut status = 0;
            // SAFETY: waitpid with a valid out pointer.
            let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if r < 0 || Instant::now() > deadline {
                break;
            }
            if r == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    /// Handle one request line; false ends the server.
    fn handle(&self, line: &str, current: &mut Option<u64>) -> bool {
        let req: Value = match serde_json::from_str(line) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                self.error(&Value::Null, "bad_request", "a request is a JSON object");
                return true;
            }
            Err(e) => {
                self.error(&Value::Null, "bad_json", &format!("malformed JSON: {e}"));
                return true;
            }
        };
        let id = req.get("id").cloned().unwrap_or(Value::Null);
        let op = match req.get("op").and_then(Value::as_str) {
            Some(op) => op.to_string(),
            None => {
                self.error(&id, "bad_request", "missing \"op\"");
                return true;
            }
        };
        let target = match req.get("session") {
            None | Some(Value::Null) => *current,
            Some(v) => match v.as_u64() {
                Some(n) => Some(n),
                None => {
                    self.error(&id, "bad_request", "\"session\" must be a session number");
                    return true;
                }
            },
        };
        if let Some(sid) = target.or_else(|| req.get("session").and_then(Value::as_u64)) {
            self.wait_forked(sid, Duration::from_secs(30));
        }
        match op.as_str() {
            "eval" | "fork" => {
                let Some(sid) = target else {
                    self.error(&id, "no_session", "no current session (use switch)");
                    return true;
                };
                if op == "eval" && !req.get("code").is_some_and(Value::is_string) {
                    self.error(&id, "bad_request", "eval needs \"code\" (a string)");
                    return true;
                }
                let mut msg = req;
                let mut t = self.lock();
                let new_id = t.next_id;
                let Some(s) = t.sessions.get_mut(&sid) else {
                    drop(t);
                    self.error(&id, "unknown_session", &format!("no session {sid}"));
                    return true;
                };
                if !s.alive {
                    drop(t);
                    self.error(&id, "session_dead", &format!("session {sid} is dead"));
                    return true;
                }
                if op == "fork" {
                    msg["new_session"] = json!(new_id);
                    msg["session"] = json!(sid);
                }
                {
                    let mut tr = lock_track(&s.track);
                    tr.prune();
                    let seq = tr.next_seq;
                    tr.next_seq += 1;
                    tr.pending.push_back((seq, id.clone()));
                }
                // An eval goes to the session as the client wrote it (the
                // session knows its number); a fork gets its new number.
                let mut buf = if op == "fork" {
                    serde_json::to_vec(&msg).unwrap_or_default()
                } else {
                    line.trim_end().as_bytes().to_vec()
                };
                buf.push(b'\n');
                let ok = s
                    .writer
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .write_all(&buf);
                if ok.is_err() {
                    {
                        let mut tr = lock_track(&s.track);
                        tr.pending.pop_back();
                        tr.next_seq -= 1;
                    }
                    drop(t);
                    self.error(&id, "session_dead", &format!("session {sid} is dead"));
                    return true;
                }
                if op == "fork" {
                    t.next_id += 1;
                    t.forking.insert(new_id);
                }
            }
            "interrupt" => {
                let Some(sid) = target else {
                    self.error(&id, "no_session", "no current session");
                    return true;
                };
                if let Some(pid) = self.live_session(&id, sid) {
                    // SAFETY: kill(2) of a session process we own.
                    unsafe { libc::kill(pid, libc::SIGINT) };
                    self.send(&json!({"id": id, "ok": true, "session": sid}));
                }
            }
            "switch" => {
                let Some(sid) = req.get("session").and_then(Value::as_u64) else {
                    self.error(&id, "bad_request", "switch needs \"session\"");
                    return true;
                };
                if self.live_session(&id, sid).is_some() {
                    *current = Some(sid);
                    self.send(&json!({"id": id, "ok": true, "session": sid}));
                }
            }
            "drop" => {
                let Some(sid) = req.get("session").and_then(Value::as_u64) else {
                    self.error(&id, "bad_request", "drop needs \"session\"");
                    return true;
                };
                let removed = self.lock().sessions.remove(&sid);
                match removed {
                    Some(s) => {
                        self.kill_between_answers(s.pid);
                        let _ = s
                            .writer
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .shutdown(std::net::Shutdown::Both);
                        if *current == Some(sid) {
                            *current = None;
                        }
                        self.send(&json!({"id": id, "ok": true, "session": sid}));
                    }
                    None => self.error(&id, "unknown_session", &format!("no session {sid}")),
                }
            }
            "stats" => {
                let t = self.lock();
                let mut sessions: Vec<Value> = t
                    .sessions
                    .iter()
                    .map(|(sid, s)| {
                        json!({
                            "session": sid,
                            "pid": s.pid,
                            "alive": s.alive,
                            "busy": lock_track(&s.track).busy(),
                            "rss_kb": rss_kb(s.pid),
                        })
                    })
                    .collect();
                drop(t);
                sessions.sort_by_key(|s| s["session"].as_u64());
                self.send(&json!({
                    "id": id, "ok": true, "current": current,
                    "sessions": sessions,
                    "server_rss_kb": rss_kb(std::process::id() as i32),
                    "uptime_ms": self.started.elapsed().as_millis() as u64,
                }));
            }
            "close" => {
                let grace = req.get("grace_ms").and_then(Value::as_u64).unwrap_or(1000);
                self.wait_owed(Duration::from_millis(grace));
                self.send(&json!({"id": id, "ok": true}));
                return false;
            }
            other => self.error(&id, "unknown_op", &format!("unknown op {other:?}")),
        }
        true
    }

    fn accept_loop(self: Arc<Self>, listener: UnixListener) {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let me = Arc::clone(&self);
            std::thread::spawn(move || me.session_reader(conn));
        }
    }

    /// Register a session from its hello line, then forward its answers.
    fn session_reader(self: Arc<Self>, conn: UnixStream) {
        let Ok(writer) = conn.try_clone() else { return };
        let mut reader = BufReader::with_capacity(64 * 1024, conn);
        let mut line: Vec<u8> = Vec::with_capacity(4096);
        if reader.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
            return;
        }
        let Ok(hello) = serde_json::from_slice::<Value>(&line) else {
            return;
        };
        let (Some(sid), Some(pid)) = (
            hello.get("session").and_then(Value::as_u64),
            hello.get("pid").and_then(Value::as_i64),
        ) else {
            return;
        };
        let slot = direct_slot(sid);
        let track = Arc::new(Mutex::new(Track {
            pending: VecDeque::new(),
            next_seq: 0,
            relayed: 0,
            slot,
        }));
        let writer = Arc::new(Mutex::new(writer));
        {
            let mut t = self.lock();
            t.sessions.insert(
                sid,
                SessionEntry {
                    pid: pid as i32,
                    writer: Arc::clone(&writer),
                    track: Arc::clone(&track),
                    alive: true,
                },
            );
            t.next_id = t.next_id.max(sid + 1);
            t.forking.remove(&sid);
        }
        self.registered.notify_all();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if line.last() != Some(&b'\n') {
                line.push(b'\n');
            }
            // The session's answer is passed on as it is (one JSON line),
            // except that a fork's answer goes out once the new session can
            // be used. A session that answers directly sends only long
            // answers and fork answers here, and waits for an empty line
            // (once the answer is out) before it answers anything else.
            let maybe_fork = line.windows(9).any(|w| w == b"\"forked\":");
            if let Some(v) = maybe_fork
                .then(|| serde_json::from_slice::<Value>(&line).ok())
                .flatten()
            {
                if let Some(new) = v.get("forked").and_then(Value::as_u64) {
                    if !self.wait_forked(new, Duration::from_secs(30)) {
                        self.lock().forking.remove(&new);
                        self.error(
                            &v["id"],
                            "fork_failed",
                            &format!("forked session {new} did not connect"),
                        );
                        self.relayed(&track, &writer);
                        continue;
                    }
                }
            }
            self.send_line(&line);
            self.relayed(&track, &writer);
        }
        // The session is gone: answer what it still owed.
        std::thread::sleep(Duration::from_millis(20));
        let why = {
            let mut t = self.lock();
            let why = t
                .exits
                .get(&(pid as i32))
                .cloned()
                .unwrap_or_else(|| "its process ended".into());
            if let Some(s) = t.sessions.get_mut(&sid) {
                s.alive = false;
            }
            why
        };
        let owed: Vec<Value> = {
            let mut tr = lock_track(&track);
            tr.prune();
            tr.pending.drain(..).map(|(_, id)| id).collect()
        };
        for id in owed {
            self.error(&id, "session_dead", &format!("session {sid} died: {why}"));
        }
    }

    /// SIGKILL a session, never between writing an answer directly and
    /// counting it (it does both under a shared lock on the output, which
    /// we take exclusively here), so that what it owes is known exactly.
    fn kill_between_answers(&self, pid: i32) {
        // Our threads share one lock (file description): the stdout mutex
        // keeps them from changing it under each other.
        let _out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = &self.out_lock {
            flock(f, libc::LOCK_EX);
        }
        // SAFETY: kill(2) of a session process we own; the reaper thread
        // collects its exit status.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        if let Some(f) = &self.out_lock {
            flock(f, libc::LOCK_UN);
        }
    }

    /// Count an answer the server wrote for a session (its oldest owed
    /// one), then let a directly answering session go on.
    fn relayed(&self, track: &Mutex<Track>, writer: &Mutex<UnixStream>) {
        let direct = {
            let mut tr = lock_track(track);
            tr.relayed = tr.answered() + 1;
            tr.prune();
            tr.slot.is_some()
        };
        if direct {
            let _ = writer
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .write_all(b"\n");
        }
    }

    fn reap_loop(self: Arc<Self>) {
        loop {
            let mut status = 0;
            // SAFETY: waitpid with a valid out pointer; blocks this thread.
            let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
            if pid < 0 {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            let why = if libc::WIFSIGNALED(status) {
                format!("killed by signal {}", libc::WTERMSIG(status))
            } else {
                format!("exited with status {}", libc::WEXITSTATUS(status))
            };
            self.lock().exits.insert(pid, why);
        }
    }
}

/// Resident memory of this process in KiB from its open /proc/self/statm
/// (one pread, re-read from the start each time), 0 when unknown.
fn rss_kb_of(statm: Option<&std::fs::File>) -> u64 {
    use std::os::unix::fs::FileExt;
    let Some(f) = statm else { return 0 };
    let mut buf = [0u8; 128];
    let Ok(n) = f.read_at(&mut buf, 0) else {
        return 0;
    };
    std::str::from_utf8(&buf[..n])
        .ok()
        .and_then(|s| s.split_whitespace().nth(1))
        .and_then(|n| n.parse::<u64>().ok())
        // SAFETY: sysconf has no preconditions.
        .map(|pages| pages * (unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64) / 1024)
        .unwrap_or(0)
}

/// Resident memory of a process in KiB (from /proc), 0 when unknown.
fn rss_kb(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

// --------------------------------------------------------------- session

/// Body of the first session process: start GAP, then serve.
fn session_child_start(options: gaprun::GapOptions, sock: &Path) -> i32 {
    detach_stdio();
    let gap = match Gap::init(options) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("gaprun: {e}");
            return EXIT_USAGE;
        }
    };
    if session::install_interrupt_signal(libc::SIGINT).is_err()
        || session::install_interrupt_signal(libc::SIGALRM).is_err()
    {
        eprintln!("gaprun: cannot install the interrupt handlers");
        return EXIT_USAGE;
    }
    let mut id = 0u64;
    loop {
        match session_loop(&gap, sock, id) {
            Ok(Some(new_id)) => id = new_id, // we are a fresh fork
            Ok(None) => return EXIT_OK,
            Err(e) => {
                eprintln!("gaprun: session {id}: {e}");
                return EXIT_USAGE;
            }
        }
    }
}

/// Sessions must not read the server's stdin or write into its protocol
/// stream: stdin becomes /dev/null, stdout goes to stderr.
fn detach_stdio() {
    // SAFETY: plain fd juggling on fds 0-2 with a freshly opened fd.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::close(null);
        }
        libc::dup2(2, 1);
    }
}

/// Serve requests as session `id` until the server goes away (`None`) or
/// this process is the new session of a fork (`Some(new id)`).
fn session_loop(gap: &Gap, sock: &Path, id: u64) -> std::io::Result<Option<u64>> {
    // A session holds the server's stdout: it must not outlive the server
    // (set again in every session, a fork clears it).
    // SAFETY: prctl and getppid take no pointers.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        if libc::getppid() != SERVER_PID.load(Ordering::Relaxed) {
            return Ok(None);
        }
    }
    let mut conn = UnixStream::connect(sock)?;
    conn.write_all(format!("{}\n", json!({"session": id, "pid": std::process::id()})).as_bytes())?;
    // Opened here, not inherited: after a fork /proc/self must name us.
    let statm = std::fs::File::open("/proc/self/statm").ok();
    let mut reader = BufReader::with_capacity(64 * 1024, conn.try_clone()?);
    let mut line = String::new();
    // The answer is built here, reused from request to request.
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    // Answering directly: stdout, our own open file description of the
    // output lock (not the one a fork inherits) and our answer counter.
    let direct = DIRECT.get().and_then(|d| Some((d.fd, d.slot(id)?)));
    let out_lock = DIRECT.get().and_then(|d| File::open(&d.lock_path).ok());
    let mut answers = 0u64;
    // Requests read while waiting for the server to write a long answer.
    let mut queued: VecDeque<String> = VecDeque::new();
    loop {
        if let Some(l) = queued.pop_front() {
            line = l;
        } else {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(None);
            }
        }
        let req: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(_) => continue, // the server only sends what it parsed
        };
        let rid = req.get("id").unwrap_or(&Value::Null);
        out.clear();
        // Fork answers go through the server (it sends them once the new
        // session is connected).
        let mut via_server = false;
        match req.get("op").and_then(Value::as_str) {
            Some("eval") => eval_request(gap, &req, rid, id, statm.as_ref(), &mut out),
            Some("fork") => {
                let new_id = req.get("new_session").and_then(Value::as_u64).unwrap_or(0);
                via_server = true;
                let t0 = Instant::now();
                let answer = match fork_session() {
                    Ok(true) => return Ok(Some(new_id)),
                    Ok(false) => json!({
                        "id": rid, "ok": true, "session": new_id, "forked": new_id, "from": id,
                        "wall_ms": t0.elapsed().as_secs_f64() * 1e3,
                    }),
                    Err(e) => json!({"id": rid, "ok": false, "code": "fork_failed",
                                     "error": e.to_string()}),
                };
                write_json(&mut out, &answer);
            }
            _ => write_json(
                &mut out,
                &json!({"id": rid, "ok": false, "code": "unknown_op",
                        "error": "not a session op"}),
            ),
        }
        out.push(b'\n');
        answers += 1;
        let Some((fd, slot)) = direct else {
            conn.write_all(&out)?;
            continue;
        };
        match &out_lock {
            Some(lock) if !via_server && out.len() <= ATOMIC_LINE => {
                // Counted before the lock is released: the server kills
                // sessions (drop) only while it holds the lock exclusively.
                flock(lock, libc::LOCK_SH);
                write_fd(fd, &out);
                slot.store(answers, Ordering::Release);
                flock(lock, libc::LOCK_UN);
                continue;
            }
            _ => {
                conn.write_all(&out)?;
                // Wait until the server has written it (an empty line), so
                // answers stay in order; keep requests that come meanwhile.
                loop {
                    let mut l = String::new();
                    if reader.read_line(&mut l)? == 0 {
                        return Ok(None);
                    }
                    if l == "\n" {
                        break;
                    }
                    queued.push_back(l);
                }
            }
        }
        slot.store(answers, Ordering::Release);
    }
}

/// Append `v` as JSON to `out` (serialising into a Vec cannot fail).
fn write_json<T: serde::Serialize>(out: &mut Vec<u8>, v: &T) {
    let _ = serde_json::to_writer(&mut *out, v);
}

/// Fork a new session: true in the new session, false in the old one.
/// `clone(CLONE_PARENT)` makes the new session a child of the server (which
/// reaps it) with a single copy of the address space; a double fork would
/// copy the page tables of a large GAP heap twice.
fn fork_session() -> std::io::Result<bool> {
    // SAFETY: a session process is single-threaded (GAP's thread only), so
    // no lock (malloc's included) can be held by another thread; with a
    // null stack the raw clone behaves like fork(2) in the child.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match pid {
        -1 => Err(std::io::Error::last_os_error()),
        0 => Ok(true),
        _ => Ok(false),
    }
}

/// One statement in an `eval` answer.
#[derive(serde::Serialize)]
struct StatementAnswer<'a> {
    output: &'a str,
    view: Option<&'a str>,
    json: Option<Value>,
    error: Option<&'a str>,
}

/// The answer to an `eval` (serialised straight into the output buffer).
#[derive(serde::Serialize)]
struct EvalAnswer<'a> {
    id: &'a Value,
    ok: bool,
    session: u64,
    output: String,
    view: Option<&'a str>,
    json: Option<Value>,
    error: Option<String>,
    error_text: Option<&'a str>,
    interrupted: bool,
    timed_out: bool,
    statements: Vec<StatementAnswer<'a>>,
    wall_ms: f64,
    rss_kb: u64,
}

/// Run an `eval` request and append its answer (JSON, no newline) to `out`.
fn eval_request(
    gap: &Gap,
    req: &Value,
    rid: &Value,
    id: u64,
    statm: Option<&std::fs::File>,
    out: &mut Vec<u8>,
) {
    let code = req.get("code").and_then(Value::as_str).unwrap_or("");
    let timeout_ms = req
        .get("timeout_ms")
        .and_then(Value::as_f64)
        .filter(|t| *t > 0.0);
    session::clear_interrupt(gap);
    if let Some(ms) = timeout_ms {
        set_alarm(ms);
    }
    let t0 = Instant::now();
    let result = gap.eval(code);
    let wall_ms = t0.elapsed().as_secs_f64() * 1e3;
    if timeout_ms.is_some() {
        set_alarm(0.0);
    }
    let timed_out = timeout_ms.is_some_and(|ms| wall_ms >= ms);
    let statements = match result {
        Ok(s) => s,
        Err(e) => {
            return write_json(
                out,
                &json!({"id": rid, "ok": false, "session": id, "code": "gap",
                        "error": e.to_string(), "wall_ms": wall_ms,
                        "rss_kb": rss_kb_of(statm)}),
            );
        }
    };
    let mut answer = EvalAnswer {
        id: rid,
        ok: true,
        session: id,
        output: String::new(),
        view: None,
        json: None,
        error: None,
        error_text: None,
        interrupted: false,
        timed_out: false,
        statements: Vec::with_capacity(statements.len()),
        wall_ms,
        rss_kb: 0,
    };
    for st in &statements {
        answer.output.push_str(&st.output);
        let st_json = st
            .value
            .as_ref()
            .filter(|_| !st.suppressed)
            .and_then(|v| session::json_of(gap, v));
        if let Some(e) = &st.error {
            if e.message.starts_with("user interrupt") {
                answer.interrupted = true;
            }
            if answer.error.is_none() {
                answer.error = Some(if answer.interrupted && timed_out {
                    format!("timeout after {} ms", timeout_ms.unwrap_or(0.0))
                } else {
                    e.message.clone()
                });
                answer.error_text = Some(&e.text);
            }
        }
        if st.view.is_some() {
            answer.view = st.view.as_deref();
            answer.json = st_json.clone();
        }
        answer.statements.push(StatementAnswer {
            output: &st.output,
            view: st.view.as_deref(),
            json: st_json,
            error: st.error.as_ref().map(|e| e.message.as_str()),
        });
    }
    answer.ok = answer.error.is_none();
    answer.timed_out = answer.interrupted && timed_out;
    answer.rss_kb = rss_kb_of(statm);
    write_json(out, &answer);
}

/// Arm (or with 0, disarm) a one-shot SIGALRM after `ms` milliseconds;
/// its handler interrupts GAP.
fn set_alarm(ms: f64) {
    let us = (ms * 1000.0) as i64;
    let tv = libc::timeval {
        tv_sec: us / 1_000_000,
        tv_usec: us % 1_000_000,
    };
    let it = libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        it_value: tv,
    };
    // SAFETY: setitimer with valid pointers to plain structs.
    unsafe { libc::setitimer(libc::ITIMER_REAL, &it, std::ptr::null_mut()) };
}
