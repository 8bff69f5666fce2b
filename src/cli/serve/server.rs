//! The server process: reads requests, routes them to sessions, reaps.

use super::*;

/// Requests sent to one session and which of them are answered.
pub(super) struct Track {
    /// Requests sent and maybe not answered: (sequence number, id), oldest first.
    pub(super) pending: VecDeque<(u64, Value)>,
    /// Sequence number of the next request.
    pub(super) next_seq: u64,
    /// Answers of this session that the server wrote (passed on).
    pub(super) relayed: u64,
    /// Answers the session counts as written (its direct ones included).
    pub(super) slot: Option<&'static AtomicU64>,
}

impl Track {
    pub(super) fn answered(&self) -> u64 {
        self.slot
            .map_or(0, |s| s.load(Ordering::Acquire))
            .max(self.relayed)
    }

    /// Forget requests known to be answered.
    pub(super) fn prune(&mut self) {
        let done = self.answered();
        while self.pending.front().is_some_and(|(seq, _)| *seq < done) {
            self.pending.pop_front();
        }
    }

    pub(super) fn busy(&mut self) -> bool {
        self.prune();
        !self.pending.is_empty()
    }
}

pub(super) fn lock_track(t: &Mutex<Track>) -> std::sync::MutexGuard<'_, Track> {
    t.lock().unwrap_or_else(|p| p.into_inner())
}

pub(super) struct SessionEntry {
    pub(super) pid: i32,
    pub(super) writer: Arc<Mutex<UnixStream>>,
    pub(super) track: Arc<Mutex<Track>>,
    pub(super) alive: bool,
}

#[derive(Default)]
pub(super) struct Table {
    pub(super) sessions: HashMap<u64, SessionEntry>,
    /// Exit descriptions of reaped session processes, by pid.
    pub(super) exits: HashMap<i32, String>,
    /// Session ids handed out by `fork` requests not yet connected.
    pub(super) forking: std::collections::HashSet<u64>,
    pub(super) next_id: u64,
}

pub(super) struct Server {
    pub(super) table: Mutex<Table>,
    pub(super) registered: Condvar,
    pub(super) out: Mutex<std::io::Stdout>,
    /// Our lock on stdout shared with the sessions (see [`DirectOut`]).
    pub(super) out_lock: Option<File>,
    pub(super) started: Instant,
    pub(super) _sock: PathBuf,
}

impl Server {
    pub(super) fn new(sock: PathBuf, out_lock: Option<File>) -> Arc<Server> {
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

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn send(&self, v: &Value) {
        let mut line = serde_json::to_vec(v).unwrap_or_default();
        line.push(b'\n');
        self.send_line(&line);
    }

    /// Write one whole line (`line` ends with a newline) to stdout in one
    /// piece; stdout's line buffer passes it to a single write(2).
    pub(super) fn send_line(&self, line: &[u8]) {
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
    pub(super) fn live_session(&self, id: &Value, sid: u64) -> Option<i32> {
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

    pub(super) fn error(&self, id: &Value, code: &str, msg: &str) {
        self.send(&json!({"id": id, "ok": false, "code": code, "error": msg}));
    }

    /// Wait until session `id` has connected (or `timeout` passes).
    pub(super) fn wait_registered(&self, id: u64, timeout: Duration) -> bool {
        self.wait_table(timeout, |t| t.sessions.contains_key(&id))
    }

    /// Wait while session `id` is being forked and has not connected;
    /// false if it still has not after `timeout`.
    pub(super) fn wait_forked(&self, id: u64, timeout: Duration) -> bool {
        self.wait_table(timeout, |t| !t.forking.contains(&id))
    }

    /// Wait (woken whenever a session registers) until `done` holds for the
    /// session table; false when `timeout` passes first.
    fn wait_table(&self, timeout: Duration, done: impl Fn(&Table) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut t = self.lock();
        while !done(&t) {
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

    pub(super) fn serve(self: Arc<Self>, listener: UnixListener, first_pid: i32) -> i32 {
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
    pub(super) fn wait_owed(&self, grace: Duration) {
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

    pub(super) fn shutdown(&self) {
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
    pub(super) fn handle(&self, line: &str, current: &mut Option<u64>) -> bool {
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

    pub(super) fn accept_loop(self: Arc<Self>, listener: UnixListener) {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let me = Arc::clone(&self);
            std::thread::spawn(move || me.session_reader(conn));
        }
    }

    /// Register a session from its hello line, then forward its answers.
    pub(super) fn session_reader(self: Arc<Self>, conn: UnixStream) {
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
    pub(super) fn kill_between_answers(&self, pid: i32) {
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
    pub(super) fn relayed(&self, track: &Mutex<Track>, writer: &Mutex<UnixStream>) {
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

    pub(super) fn reap_loop(self: Arc<Self>) {
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
pub(super) fn rss_kb_of(statm: Option<&std::fs::File>) -> u64 {
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
pub(super) fn rss_kb(pid: i32) -> u64 {
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
