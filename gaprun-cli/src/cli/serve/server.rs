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

/// A session as the server sees it, from the `fork` request that makes it
/// until it is gone.
pub(super) struct SessionEntry {
    /// Its process, once it has connected.
    pub(super) pid: Option<i32>,
    /// Lines for the session (see [`Outbox`]): requests for a session
    /// still being forked wait there in order and never block the server's
    /// input loop.
    pub(super) outbox: Arc<Outbox>,
    /// The receiving end of the outbox's queue, until the session connects.
    pub(super) rx: Option<mpsc::Receiver<Vec<u8>>>,
    pub(super) track: Arc<Mutex<Track>>,
    pub(super) alive: bool,
    /// `drop` was asked: later requests do not see it; its process is
    /// killed once it has answered what was sent before the drop.
    pub(super) dropped: bool,
    /// The session whose `fork` makes this one, until it connects.
    pub(super) parent: Option<u64>,
}

impl SessionEntry {
    fn new(sid: u64, parent: Option<u64>) -> SessionEntry {
        let (tx, rx) = mpsc::channel();
        SessionEntry {
            pid: None,
            outbox: Arc::new(Outbox {
                tx,
                state: Mutex::new(OutboxState {
                    stream: None,
                    queued: 0,
                }),
            }),
            rx: Some(rx),
            track: Arc::new(Mutex::new(Track {
                pending: VecDeque::new(),
                next_seq: 0,
                relayed: 0,
                slot: direct_slot(sid),
            })),
            alive: true,
            dropped: false,
            parent,
        }
    }
}

/// How lines reach a connected session. The thread that routes a line
/// writes it to the session's socket itself when nothing is queued before
/// it (one `send` that cannot block); otherwise — before the session
/// connected, behind earlier lines, or when the socket is full — the line
/// is queued for the session's writer thread, which writes in order. The
/// direct write saves a thread wake-up per request (issue 15: round trip).
pub(super) struct Outbox {
    tx: mpsc::Sender<Vec<u8>>,
    state: Mutex<OutboxState>,
}

struct OutboxState {
    /// The session's socket, once it connected.
    stream: Option<UnixStream>,
    /// Lines handed to the writer thread and not yet written.
    queued: usize,
}

impl Outbox {
    fn state(&self) -> std::sync::MutexGuard<'_, OutboxState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Send a line to the session, in order with every earlier one. A
    /// session that is gone drops it (its reader answers what it owed).
    pub(super) fn send(&self, mut buf: Vec<u8>) {
        let mut st = self.state();
        if st.queued == 0 {
            if let Some(stream) = &st.stream {
                // SAFETY: a valid byte range on our own socket; MSG_DONTWAIT
                // never blocks the input loop, MSG_NOSIGNAL: no SIGPIPE.
                let n = unsafe {
                    libc::send(
                        stream.as_raw_fd(),
                        buf.as_ptr().cast(),
                        buf.len(),
                        libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                    )
                };
                match usize::try_from(n) {
                    Ok(n) if n == buf.len() => return,
                    Ok(n) => {
                        buf.drain(..n);
                    }
                    Err(_) => {
                        let e = std::io::Error::last_os_error().raw_os_error();
                        if e != Some(libc::EAGAIN) && e != Some(libc::EINTR) {
                            return;
                        }
                    }
                }
            }
        }
        st.queued += 1;
        // A closed queue means the writer ended (the session is going away).
        let _ = self.tx.send(buf);
    }

    /// The session connected: direct writes may start once the queue is
    /// written.
    fn connect(&self, stream: UnixStream) {
        self.state().stream = Some(stream);
    }

    /// The writer thread wrote one queued line.
    fn written(&self) {
        let mut st = self.state();
        st.queued = st.queued.saturating_sub(1);
    }
}

#[derive(Default)]
pub(super) struct Table {
    pub(super) sessions: HashMap<u64, SessionEntry>,
    /// Exit descriptions of reaped session processes, by pid.
    pub(super) exits: HashMap<i32, String>,
    pub(super) next_id: u64,
    /// The server is closing: sessions that connect now are killed.
    pub(super) closing: bool,
    /// Threads reading a connected session (each answers what its session
    /// still owes when it ends).
    pub(super) readers: usize,
}

pub(super) struct Server {
    pub(super) table: Mutex<Table>,
    /// Woken when a session connects or a session reader ends.
    pub(super) registered: Condvar,
    pub(super) out: Mutex<std::io::Stdout>,
    /// Our lock on stdout shared with the sessions (see [`DirectOut`]).
    pub(super) out_lock: Option<File>,
    pub(super) started: Instant,
    /// The socket folder, removed on every way out (see [`Server::cleanup`]).
    pub(super) dir: Mutex<Option<tempfile::TempDir>>,
}

impl Server {
    pub(super) fn new(dir: tempfile::TempDir, out_lock: Option<File>) -> Arc<Server> {
        let mut sessions = HashMap::new();
        sessions.insert(0, SessionEntry::new(0, None));
        Arc::new(Server {
            table: Mutex::new(Table {
                sessions,
                next_id: 1,
                ..Table::default()
            }),
            registered: Condvar::new(),
            out: Mutex::new(std::io::stdout()),
            out_lock,
            started: Instant::now(),
            dir: Mutex::new(Some(dir)),
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

    /// Whether session `sid` can take requests: `Some(pid)` (`None` while
    /// it is being forked); otherwise answer request `id` with why not
    /// (`session_dead`, `unknown_session`) and return `None`.
    pub(super) fn usable(&self, id: &Value, sid: u64) -> Option<Option<i32>> {
        let state = self
            .lock()
            .sessions
            .get(&sid)
            .filter(|s| !s.dropped)
            .map(|s| (s.alive, s.pid));
        match state {
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

    /// Wait until session `id` has connected (true) or cannot any more
    /// (false: its fork failed, or `timeout` passed).
    pub(super) fn wait_registered(&self, id: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut t = self.lock();
        loop {
            match t.sessions.get(&id) {
                Some(s) if s.pid.is_some() => return true,
                Some(s) if s.alive => {}
                _ => return false,
            }
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
            self.shutdown();
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
            if is_blank(line) {
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

    /// Kill every session (and what each started, its process group), let
    /// each reader answer what its session still owed, answer requests
    /// queued for sessions that never connected, reap. Safe to call twice.
    pub(super) fn shutdown(&self) {
        let (pids, never): (Vec<i32>, Vec<u64>) = {
            let mut t = self.lock();
            t.closing = true;
            let pids = t.sessions.values().filter_map(|s| s.pid).collect();
            let never = t
                .sessions
                .iter()
                .filter(|(_, s)| s.alive && s.pid.is_none())
                .map(|(sid, _)| *sid)
                .collect();
            (pids, never)
        };
        for pid in pids {
            self.kill_between_answers(pid);
        }
        for sid in never {
            self.fail_start(sid, "session_dead", "the server closed before it started");
        }
        // Each reader sees its session's end and answers what it owed.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut t = self.lock();
        while t.readers > 0 && Instant::now() < deadline {
            t = self
                .registered
                .wait_timeout(t, Duration::from_millis(50))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        drop(t);
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

    /// Shut down and remove the socket folder (every exit path).
    pub(super) fn cleanup(&self) {
        self.shutdown();
        drop(self.dir.lock().unwrap_or_else(|p| p.into_inner()).take());
    }

    /// Session `sid` will never connect (its fork failed, its parent died,
    /// the server closes): mark it dead and answer the requests queued for
    /// it with `code`.
    pub(super) fn fail_start(&self, sid: u64, code: &str, why: &str) {
        let track = {
            let mut t = self.lock();
            let Some(s) = t.sessions.get_mut(&sid).filter(|s| s.pid.is_none()) else {
                return;
            };
            s.alive = false;
            let track = Arc::clone(&s.track);
            if s.dropped {
                t.sessions.remove(&sid);
            }
            track
        };
        self.registered.notify_all();
        let owed: Vec<Value> = lock_track(&track)
            .pending
            .drain(..)
            .map(|(_, id)| id)
            .collect();
        for id in owed {
            self.error(&id, code, &format!("session {sid}: {why}"));
        }
        // Forks asked of it (answered above) will not happen either.
        let unborn: Vec<u64> = {
            let t = self.lock();
            t.sessions
                .iter()
                .filter(|(_, s)| s.parent == Some(sid) && s.alive)
                .map(|(n, _)| *n)
                .collect()
        };
        for n in unborn {
            self.fail_start(n, code, &format!("session {sid} never started"));
        }
    }

    /// Handle one request line; false ends the server.
    pub(super) fn handle(&self, line: &str, current: &mut Option<u64>) -> bool {
        let Request {
            req,
            id,
            op,
            session: named,
        } = match parse_request(line) {
            Ok(r) => r,
            Err(r) => {
                self.error(&r.id, r.code, &r.message);
                return true;
            }
        };
        let target = named.or(*current);
        match op.as_str() {
            "eval" | "fork" => {
                let Some(sid) = target else {
                    self.error(&id, "no_session", "no current session (use switch)");
                    return true;
                };
                if op == "eval" {
                    if let Err(e) = check_eval(&req) {
                        self.error(&id, "bad_request", &e);
                        return true;
                    }
                }
                self.route(&op, req, line, &id, sid);
            }
            "interrupt" => {
                let Some(sid) = target else {
                    self.error(&id, "no_session", "no current session");
                    return true;
                };
                if let Some(pid) = self.usable(&id, sid) {
                    // A session still being forked runs nothing yet.
                    if let Some(pid) = pid {
                        // SAFETY: kill(2) of a session process we own.
                        unsafe { libc::kill(pid, libc::SIGINT) };
                    }
                    self.send(&json!({"id": id, "ok": true, "session": sid}));
                }
            }
            "switch" => {
                let Some(sid) = named else {
                    self.error(&id, "bad_request", "switch needs \"session\"");
                    return true;
                };
                if self.usable(&id, sid).is_some() {
                    *current = Some(sid);
                    self.send(&json!({"id": id, "ok": true, "session": sid}));
                }
            }
            "drop" => {
                let Some(sid) = named else {
                    self.error(&id, "bad_request", "drop needs \"session\"");
                    return true;
                };
                if self.drop_session(sid) {
                    if *current == Some(sid) {
                        *current = None;
                    }
                    self.send(&json!({"id": id, "ok": true, "session": sid}));
                } else {
                    self.error(&id, "unknown_session", &format!("no session {sid}"));
                }
            }
            "stats" => {
                let t = self.lock();
                let mut sessions: Vec<Value> = t
                    .sessions
                    .iter()
                    .filter(|(_, s)| !s.dropped)
                    .map(|(sid, s)| {
                        json!({
                            "session": sid,
                            "pid": s.pid,
                            "alive": s.alive,
                            "busy": lock_track(&s.track).busy(),
                            "rss_kb": s.pid.map_or(0, rss_kb),
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
                let grace = match close_grace(&req) {
                    Ok(g) => g,
                    Err(e) => {
                        self.error(&id, "bad_request", &e);
                        return true;
                    }
                };
                self.wait_owed(grace);
                self.shutdown();
                self.send(&json!({"id": id, "ok": true}));
                return false;
            }
            other => self.error(&id, "unknown_op", &format!("unknown op {other:?}")),
        }
        true
    }

    /// Pass an `eval` or `fork` to session `sid` (queued while it is being
    /// forked), counting it as owed.
    fn route(&self, op: &str, mut msg: Value, line: &str, id: &Value, sid: u64) {
        let mut t = self.lock();
        let new_id = t.next_id;
        match t.sessions.get(&sid).filter(|s| !s.dropped) {
            None => {
                drop(t);
                return self.error(id, "unknown_session", &format!("no session {sid}"));
            }
            Some(s) if !s.alive => {
                drop(t);
                return self.error(id, "session_dead", &format!("session {sid} is dead"));
            }
            Some(_) => {}
        }
        // An eval goes to the session as the client wrote it (the session
        // knows its number); a fork gets its new number.
        let mut buf = if op == "fork" {
            msg["new_session"] = json!(new_id);
            msg["session"] = json!(sid);
            t.next_id += 1;
            t.sessions
                .insert(new_id, SessionEntry::new(new_id, Some(sid)));
            serde_json::to_vec(&msg).unwrap_or_default()
        } else {
            line.trim_end().as_bytes().to_vec()
        };
        buf.push(b'\n');
        let s = &t.sessions[&sid];
        {
            let mut tr = lock_track(&s.track);
            tr.prune();
            let seq = tr.next_seq;
            tr.next_seq += 1;
            tr.pending.push_back((seq, id.clone()));
        }
        // A session that is going away answers this request `session_dead`
        // (its reader does).
        s.outbox.send(buf);
    }

    /// Mark session `sid` dropped; a thread kills it once it has answered
    /// what was sent before. False when there is no such session.
    fn drop_session(&self, sid: u64) -> bool {
        let track = {
            let mut t = self.lock();
            let Some(s) = t.sessions.get_mut(&sid).filter(|s| !s.dropped) else {
                return false;
            };
            s.dropped = true;
            if !s.alive {
                t.sessions.remove(&sid);
                return true;
            }
            Arc::clone(&s.track)
        };
        let me = self.arc();
        std::thread::spawn(move || loop {
            let state = me
                .lock()
                .sessions
                .get(&sid)
                .map(|s| (s.alive, s.pid))
                .filter(|(alive, _)| *alive);
            match state {
                None => break,
                Some((_, Some(pid))) if !lock_track(&track).busy() => {
                    me.kill_between_answers(pid);
                    break;
                }
                _ => std::thread::sleep(Duration::from_millis(2)),
            }
        });
        true
    }

    fn arc(&self) -> Arc<Server> {
        SERVER
            .get()
            .cloned()
            .expect("the server is registered before it serves")
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
        let Ok(mut writer) = conn.try_clone() else {
            return;
        };
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
            hello
                .get("pid")
                .and_then(Value::as_i64)
                .and_then(|p| i32::try_from(p).ok()),
        ) else {
            return;
        };
        let registered = {
            let mut t = self.lock();
            let closing = t.closing;
            match t.sessions.get_mut(&sid) {
                Some(s) if s.alive && s.pid.is_none() && !closing => {
                    s.pid = Some(pid);
                    s.parent = None;
                    let got = (Arc::clone(&s.track), Arc::clone(&s.outbox), s.rx.take());
                    t.readers += 1;
                    Some(got)
                }
                _ => None,
            }
        };
        let Some((track, outbox, Some(rx))) = registered else {
            // Not expected (its fork failed meanwhile, the server closes).
            kill_group(pid);
            return;
        };
        if let Ok(direct) = writer.try_clone() {
            outbox.connect(direct);
        }
        self.registered.notify_all();
        // The writer passes on what was queued, then each later line that
        // could not be written at once.
        let queue = Arc::clone(&outbox);
        std::thread::spawn(move || {
            for buf in rx {
                let ok = writer.write_all(&buf).is_ok();
                queue.written();
                if !ok {
                    break;
                }
            }
        });
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
                    if v["ok"] != true {
                        self.fail_start(new, "fork_failed", "its fork failed");
                    } else if !self.wait_registered(new, Duration::from_secs(30)) {
                        self.fail_start(new, "fork_failed", "it did not connect");
                        self.error(
                            &v["id"],
                            "fork_failed",
                            &format!("forked session {new} did not connect"),
                        );
                        self.relayed(&track, &outbox);
                        continue;
                    }
                }
            }
            self.send_line(&line);
            self.relayed(&track, &outbox);
        }
        // The session is gone: what it started goes with it; answer what
        // it still owed (its exit status comes from the reaper thread,
        // given a moment).
        kill_group(pid);
        std::thread::sleep(Duration::from_millis(20));
        let (why, unborn) = {
            let mut t = self.lock();
            let why = if t.closing {
                "the server closed before it answered".to_string()
            } else {
                let how = t.exits.get(&pid).cloned();
                format!(
                    "died: {}",
                    how.unwrap_or_else(|| "its process ended".into())
                )
            };
            let unborn: Vec<u64> = t
                .sessions
                .iter()
                .filter(|(_, s)| s.parent == Some(sid) && s.pid.is_none())
                .map(|(n, _)| *n)
                .collect();
            if let Some(s) = t.sessions.get_mut(&sid) {
                s.alive = false;
                if s.dropped {
                    t.sessions.remove(&sid);
                }
            }
            (why, unborn)
        };
        let owed: Vec<Value> = {
            let mut tr = lock_track(&track);
            tr.prune();
            tr.pending.drain(..).map(|(_, id)| id).collect()
        };
        for id in owed {
            self.error(&id, "session_dead", &format!("session {sid} {why}"));
        }
        // Forks it had not answered never start (their fork request was
        // just answered `session_dead`).
        for n in unborn {
            self.fail_start(
                n,
                "fork_failed",
                &format!("session {sid} died while forking it"),
            );
        }
        self.lock().readers -= 1;
        self.registered.notify_all();
    }

    /// SIGKILL a session and its process group, never between writing an
    /// answer directly and counting it (it does both under a shared lock on
    /// the output, which we take exclusively here), so that what it owes is
    /// known exactly.
    pub(super) fn kill_between_answers(&self, pid: i32) {
        // Our threads share one lock (file description): the stdout mutex
        // keeps them from changing it under each other.
        let _out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = &self.out_lock {
            flock(f, libc::LOCK_EX);
        }
        kill_group(pid);
        if let Some(f) = &self.out_lock {
            flock(f, libc::LOCK_UN);
        }
    }

    /// Count an answer the server wrote for a session (its oldest owed
    /// one), then let a directly answering session go on.
    pub(super) fn relayed(&self, track: &Mutex<Track>, outbox: &Outbox) {
        let direct = {
            let mut tr = lock_track(track);
            tr.relayed = tr.answered() + 1;
            tr.prune();
            tr.slot.is_some()
        };
        if direct {
            outbox.send(b"\n".to_vec());
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

/// The running server (for threads started from `&self` methods and the
/// signal thread).
pub(super) static SERVER: OnceLock<Arc<Server>> = OnceLock::new();

/// SIGKILL session process `pid` and its process group (each session leads
/// its own, so what it started itself dies with it).
pub(super) fn kill_group(pid: i32) {
    // SAFETY: kill(2) of a session's process group and of the session (in
    // case it had not made its group yet); the reaper collects them.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
        libc::kill(pid, libc::SIGKILL);
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
