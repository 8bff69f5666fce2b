//! A session process: runs GAP and answers requests; forks itself.

use super::*;

/// Body of the first session process: start GAP, then serve.
pub(super) fn session_child_start(options: gaprun::GapOptions, sock: &Path) -> i32 {
    detach_stdio();
    own_process_group();
    let gap = match Gap::init(options) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("gaprun: {e}");
            return EXIT_USAGE;
        }
    };
    // `interrupt` requests arrive as SIGINT; eval timeouts use the API's
    // deadline (gap.with_deadline).
    if gaprun::interrupt::install_interrupt_on(libc::SIGINT).is_err() {
        eprintln!("gaprun: cannot install the interrupt handler");
        return EXIT_USAGE;
    }
    let mut id = 0u64;
    let mut watch = ServerWatch::new(None);
    loop {
        match session_loop(gap, sock, id, &mut watch) {
            Ok(Some((new_id, w))) => (id, watch) = (new_id, w), // we are a fresh fork
            Ok(None) => return EXIT_OK,
            Err(e) => {
                eprintln!("gaprun: session {id}: {e}");
                return EXIT_USAGE;
            }
        }
    }
}

/// Make this session the leader of its own process group, so that what it
/// starts itself (`IO_fork`, `Exec`) is killed with it (the server kills
/// the group).
pub(super) fn own_process_group() {
    // SAFETY: setpgid on ourselves has no memory effects.
    unsafe { libc::setpgid(0, 0) };
}

/// Sessions must not read the server's stdin or write into its protocol
/// stream: stdin becomes /dev/null, stdout goes to stderr.
pub(super) fn detach_stdio() {
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
pub(super) fn session_loop(
    gap: Gap<'_>,
    sock: &Path,
    id: u64,
    watch: &mut ServerWatch,
) -> std::io::Result<Option<(u64, ServerWatch)>> {
    if !watch.check(false) {
        return Ok(None);
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
        // Before running anything: the server must still be there, and
        // from now on our death signal watches it.
        if !watch.check(true) {
            return Ok(None);
        }
        let rid = req.get("id").unwrap_or(&Value::Null);
        out.clear();
        // The intermediate process of a fork, reaped once the answer is out.
        let mut to_reap = None;
        // Fork answers go through the server (it sends them once the new
        // session is connected).
        let mut via_server = false;
        // GAP quit in this eval: the session ends once the answer is out.
        let mut quit = None;
        match req.get("op").and_then(Value::as_str) {
            Some("eval") => quit = eval_request(gap, &req, rid, id, statm.as_ref(), &mut out),
            Some("fork") => {
                let new_id = req.get("new_session").and_then(Value::as_u64).unwrap_or(0);
                via_server = true;
                let t0 = Instant::now();
                let answer = match fork_session() {
                    Ok(Forked::New { intermediate }) => {
                        return Ok(Some((new_id, ServerWatch::new(Some(intermediate)))))
                    }
                    Ok(Forked::Old { intermediate }) => {
                        to_reap = Some(intermediate);
                        json!({
                        "id": rid, "ok": true, "session": new_id, "forked": new_id, "from": id,
                        "wall_ms": t0.elapsed().as_secs_f64() * 1e3,
                        })
                    }
                    Err(e) => json!({"id": rid, "ok": false, "code": "fork_failed",
                                     "forked": new_id, "error": e.to_string()}),
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
            exit_if_quit(quit);
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
                exit_if_quit(quit);
                continue;
            }
            _ => {
                conn.write_all(&out)?;
                if let Some(pid) = to_reap.take() {
                    // It exits right after its fork; its teardown overlaps
                    // with the new session connecting.
                    let _ = nix::sys::wait::waitpid(pid, None);
                }
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
        exit_if_quit(quit);
    }
}

/// End this session with GAP's exit status after GAP quit (its answer is
/// out). Its process group and reaping are the server's business.
fn exit_if_quit(quit: Option<i32>) {
    if let Some(code) = quit {
        // SAFETY: leave without destructors or atexit handlers (a forked
        // process; nothing of ours needs flushing: answers are raw writes).
        unsafe { libc::_exit(code) }
    }
}

/// Append `v` as JSON to `out` (serialising into a Vec cannot fail).
pub(super) fn write_json<T: serde::Serialize>(out: &mut Vec<u8>, v: &T) {
    let _ = serde_json::to_writer(&mut *out, v);
}

/// What [`fork_session`] made of this process.
pub(super) enum Forked {
    /// The new session; `intermediate` is its first parent (see below).
    New { intermediate: i32 },
    /// The old session; `intermediate` exits at once and must be reaped.
    Old { intermediate: nix::unistd::Pid },
}

/// Fork a new session.
///
/// The new session must be the server's child (the server reaps it, learns
/// its exit status, and the session's `PR_SET_PDEATHSIG` then watches the
/// server), so it is forked twice with plain fork(2): an intermediate
/// process forks the new session and exits at once, and the server, a child
/// subreaper, inherits the new session. Both forks are glibc's (atfork
/// handlers, thread id and caches right in the child).
pub(super) fn fork_session() -> std::io::Result<Forked> {
    use nix::unistd::{fork, ForkResult};
    // SAFETY: a session process is single-threaded (GAP's thread only), so
    // no lock (malloc's included) can be held by another thread.
    match unsafe { fork() }? {
        ForkResult::Parent { child } => Ok(Forked::Old {
            intermediate: child,
        }),
        ForkResult::Child => {
            // SAFETY: the child of a single-threaded process has only the
            // forking thread, so it is single-threaded too: no lock can be
            // held by a thread that does not exist in the grandchild.
            match unsafe { fork() } {
                // SAFETY: leave without running destructors: the
                // intermediate owns nothing.
                Ok(ForkResult::Parent { .. }) => unsafe { libc::_exit(0) },
                // SAFETY: _exit ends the process at once; the
                // intermediate owns nothing that needs dropping.
                Err(_) => unsafe { libc::_exit(1) },
                Ok(ForkResult::Child) => {}
            }
            own_process_group();
            Ok(Forked::New {
                intermediate: nix::unistd::getppid().as_raw(),
            })
        }
    }
}

/// Keeps a session from outliving the server: a session holds the
/// server's stdout, so it dies with it (`PR_SET_PDEATHSIG`, which fork
/// clears, set once the server is our parent).
pub(super) struct ServerWatch {
    /// The fork's intermediate process while it may still be our parent.
    intermediate: Option<i32>,
    armed: bool,
}

impl ServerWatch {
    pub(super) fn new(intermediate: Option<i32>) -> ServerWatch {
        ServerWatch {
            intermediate,
            armed: false,
        }
    }

    /// False when the server is gone. Arms the death signal once the
    /// server is our parent; with `wait` (before running a request), first
    /// waits for the fork's intermediate to exit and the server to adopt us.
    pub(super) fn check(&mut self, wait: bool) -> bool {
        if self.armed {
            return true;
        }
        let server = SERVER_PID.load(Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // SAFETY: getppid has no preconditions.
            let parent = unsafe { libc::getppid() };
            if parent == server {
                break;
            }
            if Some(parent) != self.intermediate || Instant::now() > deadline {
                return false; // the server died: we were adopted by another
            }
            if !wait {
                return true; // connect now, arm before the first request
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        // SAFETY: prctl and getppid take no pointers. The parent is checked
        // again after arming: had the server died just before, no signal
        // would come.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            if libc::getppid() != server {
                return false;
            }
        }
        self.armed = true;
        true
    }
}

/// One statement in an `eval` answer.
#[derive(serde::Serialize)]
pub(super) struct StatementAnswer<'a> {
    pub(super) output: &'a str,
    pub(super) view: Option<&'a str>,
    pub(super) json: Option<Value>,
    pub(super) error: Option<&'a str>,
}

/// The answer to an `eval` (serialised straight into the output buffer).
#[derive(serde::Serialize)]
pub(super) struct EvalAnswer<'a> {
    pub(super) id: &'a Value,
    pub(super) ok: bool,
    pub(super) session: u64,
    pub(super) output: String,
    pub(super) view: Option<&'a str>,
    pub(super) json: Option<Value>,
    pub(super) error: Option<String>,
    pub(super) error_text: Option<&'a str>,
    pub(super) interrupted: bool,
    pub(super) timed_out: bool,
    pub(super) statements: Vec<StatementAnswer<'a>>,
    pub(super) wall_ms: f64,
    pub(super) rss_kb: u64,
    /// `session_dead` when GAP quit (the session then ends).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) code: Option<&'static str>,
    /// The exit status GAP quit with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) exit_status: Option<i32>,
}

/// Append a `bad_request` answer to `out`.
fn bad_request(out: &mut Vec<u8>, rid: &Value, msg: &str) {
    write_json(
        out,
        &json!({"id": rid, "ok": false, "code": "bad_request", "error": msg}),
    );
}

/// Run an `eval` request and append its answer (JSON, no newline) to
/// `out`. `Some(exit status)` when GAP quit (`QUIT_GAP(n)`, `QuitGap(n)`,
/// `QUIT;`, `quit;`): the answer says `session_dead`, the session must end.
pub(super) fn eval_request(
    gap: Gap<'_>,
    req: &Value,
    rid: &Value,
    id: u64,
    statm: Option<&std::fs::File>,
    out: &mut Vec<u8>,
) -> Option<i32> {
    let code = req.get("code").and_then(Value::as_str).unwrap_or("");
    // The server checked the field; checked again here so that nothing
    // can make the conversion to a Duration panic.
    let timeout = match ms_field(req, "timeout_ms", false) {
        Ok(t) => t.map(|ms| (ms, Duration::try_from_secs_f64(ms / 1e3))),
        Err(e) => {
            bad_request(out, rid, &e);
            return None;
        }
    };
    let timeout_ms = timeout.as_ref().map(|(ms, _)| *ms);
    let _ = gap.clear_interrupt();
    let t0 = Instant::now();
    let result = match timeout {
        Some((_, Ok(d))) => gap.with_deadline(d, |g| g.eval(code)),
        Some((_, Err(_))) => {
            bad_request(out, rid, "timeout too large");
            return None;
        }
        None => gap.eval(code),
    };
    let wall_ms = t0.elapsed().as_secs_f64() * 1e3;
    let timed_out = timeout_ms.is_some_and(|ms| wall_ms >= ms);
    // An interrupt can also end the eval as a whole (before its first
    // statement ran): the same answer as an interrupted statement.
    let (statements, interrupted_whole) = match result {
        Ok(s) => (s, false),
        Err(gaprun::Error::Interrupted) => (Vec::new(), true),
        Err(gaprun::Error::Quit { code }) => {
            write_json(
                out,
                &json!({"id": rid, "ok": false, "session": id, "code": "session_dead",
                        "exit_status": code, "error": quit_message(id, code),
                        "output": "", "wall_ms": wall_ms, "rss_kb": rss_kb_of(statm)}),
            );
            return Some(code);
        }
        Err(e) => {
            write_json(
                out,
                &json!({"id": rid, "ok": false, "session": id, "code": "gap",
                        "error": e.to_string(), "wall_ms": wall_ms,
                        "rss_kb": rss_kb_of(statm)}),
            );
            return None;
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
        code: None,
        exit_status: None,
    };
    for st in &statements {
        answer.output.push_str(&st.output);
        let st_json = st
            .value
            .as_ref()
            .filter(|_| !st.suppressed)
            .and_then(|v| v.to_exact_json().ok());
        if st.interrupted {
            answer.interrupted = true;
        }
        if let Some(e) = &st.error {
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
        if st.quit {
            // `quit;` leaves GAP's loop as a plain end of input: status 0.
            let code = st.quit_code.unwrap_or(0);
            answer.exit_status = Some(code);
            answer.code = Some("session_dead");
            answer.error = Some(quit_message(id, code));
            break;
        }
    }
    if interrupted_whole {
        answer.interrupted = true;
        answer.error = Some(if timed_out {
            format!("timeout after {} ms", timeout_ms.unwrap_or(0.0))
        } else {
            "user interrupt".to_string()
        });
    }
    answer.ok = answer.error.is_none();
    answer.timed_out = answer.interrupted && timed_out;
    answer.rss_kb = rss_kb_of(statm);
    let exact =
        |st: &&gaprun::Statement| st.output_bytes.is_some() || st.error_text_bytes.is_some();
    if statements.iter().any(|st| exact(&st)) {
        // Text that is not UTF-8: exact bytes in `<field>_base64` siblings
        // (json_text): output, for the whole and each statement, and the
        // first error's text.
        let exit_status = answer.exit_status;
        let mut v = serde_json::to_value(&answer).unwrap_or_default();
        let bytes = |st: &gaprun::Statement| -> Vec<u8> {
            st.output_bytes
                .clone()
                .unwrap_or_else(|| st.output.as_bytes().to_vec())
        };
        let all: Vec<u8> = statements.iter().flat_map(bytes).collect();
        let first_error = statements.iter().find(|st| st.error.is_some());
        if let Some(m) = v.as_object_mut() {
            gaprun::json_text::insert_text(m, "output", &all);
            if let Some(b) = first_error.and_then(|st| st.error_text_bytes.as_deref()) {
                gaprun::json_text::insert_text(m, "error_text", b);
            }
        }
        if let Some(list) = v.get_mut("statements").and_then(Value::as_array_mut) {
            for (sv, st) in list.iter_mut().zip(&statements) {
                if let Some(m) = sv.as_object_mut() {
                    gaprun::json_text::insert_text(m, "output", &bytes(st));
                }
            }
        }
        write_json(out, &v);
        return exit_status;
    }
    write_json(out, &answer);
    answer.exit_status
}

fn quit_message(id: u64, code: i32) -> String {
    format!("session {id} ended: GAP quit with exit status {code}")
}
