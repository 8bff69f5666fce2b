//! `gaprun serve --stdio`: every op, bad input, a timeout, a killed branch,
//! 50 forks without leaking processes, pipelined long and short answers of
//! two sessions (answered directly and relayed), and the Python client
//! example.

mod common;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct Server {
    child: Child,
    stdin: ChildStdin,
    /// Answer lines, read by a thread so that a read can have a deadline.
    stdout: mpsc::Receiver<String>,
    hello: Value,
}

/// How long any single answer may take on a busy machine.
const ANSWER_DEADLINE: Duration = Duration::from_secs(120);

/// Read `out` line by line into a channel (ends at end of output).
fn line_channel(out: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Server {
    fn start() -> Server {
        Server::start_env(&[])
    }

    fn start_env(env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(common::gaprun_bin())
            .args(["serve", "--stdio", "-A"])
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start gaprun serve");
        let stdin = child.stdin.take().unwrap();
        let stdout = line_channel(child.stdout.take().unwrap());
        let line = stdout.recv_timeout(ANSWER_DEADLINE).expect("a hello line");
        let hello = serde_json::from_str(&line).expect("hello is JSON");
        Server {
            child,
            stdin,
            stdout,
            hello,
        }
    }

    fn send_raw(&mut self, line: &str) -> Value {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        self.read()
    }

    fn read(&mut self) -> Value {
        self.read_within(ANSWER_DEADLINE)
    }

    /// The next answer; panics when none comes within `d`.
    fn read_within(&mut self, d: Duration) -> Value {
        let line = match self.stdout.recv_timeout(d) {
            Ok(l) => l,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("no answer within {d:?}"),
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("server closed its output"),
        };
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad answer {line:?}: {e}"))
    }

    fn send_only(&mut self, v: Value) {
        writeln!(self.stdin, "{v}").unwrap();
        self.stdin.flush().unwrap();
    }

    fn req(&mut self, v: Value) -> Value {
        let a = self.send_raw(&v.to_string());
        assert_eq!(a["id"], v["id"], "{a}");
        a
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    /// SIGTERM (the server cleans up: no socket folder left behind), then
    /// SIGKILL if it is still there after a while.
    fn drop(&mut self) {
        // SAFETY: kill(2) of the server we started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pids whose parent is `pid` (from /proc).
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // state and ppid follow the parenthesised command name
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f[1].parse::<u32>().ok() == Some(pid) {
            out.push(p);
        }
    }
    out
}

/// `json` is the library's exact form (`GapObj::to_exact_json`): integers
/// of any size, byte strings as base64, no floats, no holes, and no depth
/// limit short of the library's (the former GAP-side encoder gave up at 64).
#[test]
fn json_answers_use_the_exact_form() {
    let mut s = Server::start();
    let deep = format!("{}1{};", "[".repeat(100), "]".repeat(100));
    let deep_json: Value = serde_json::from_str(&deep[..deep.len() - 1]).unwrap();
    let cases = [
        (
            "2^70;",
            serde_json::from_str("1180591620717411303424").unwrap(),
        ),
        ("\"a\\377\";", json!({"base64": "Yf8="})),
        ("[1, 2.5];", Value::Null),
        ("[1,,3];", Value::Null),
        ("rec(l := [fail, \"s\"]);", json!({"l": [null, "s"]})),
        (deep.as_str(), deep_json),
    ];
    for (i, (code, want)) in cases.iter().enumerate() {
        let a = s.req(json!({"id": i, "op": "eval", "code": code}));
        assert_eq!(a["ok"], true, "{a}");
        assert_eq!(&a["json"], want, "{code}");
        assert_eq!(&a["statements"][0]["json"], want, "{code}");
    }
}

#[test]
fn every_op_and_bad_input() {
    let mut s = Server::start();
    assert_eq!(s.hello["protocol"], "gaprun-session/1");

    let a = s.req(json!({"id": 1, "op": "eval", "code": "x := 6;; Print(\"hi\\n\"); [x, \"a\", true, rec(b := 2)];"}));
    assert_eq!(a["ok"], true, "{a}");
    assert_eq!(a["output"], "hi\n");
    assert_eq!(a["view"], "[ 6, \"a\", true, rec( b := 2 ) ]");
    assert_eq!(a["json"], json!([6, "a", true, {"b": 2}]));
    assert!(a["wall_ms"].as_f64().unwrap() >= 0.0 && a["rss_kb"].as_u64().unwrap() > 0);

    let a = s.req(json!({"id": 2, "op": "eval", "code": "1/0;"}));
    assert_eq!(a["ok"], false);
    assert_eq!(
        a["error"],
        "Rational operations: <divisor> must not be zero"
    );
    // a group has a view but no JSON form
    let a = s.req(json!({"id": 3, "op": "eval", "code": "SymmetricGroup(3);"}));
    assert_eq!(a["view"], "Sym( [ 1 .. 3 ] )");
    assert_eq!(a["json"], Value::Null);

    let a = s.send_raw("this is not json");
    assert_eq!(
        (a["ok"].clone(), a["code"].clone()),
        (json!(false), json!("bad_json"))
    );
    let a = s.send_raw("[1,2]");
    assert_eq!(a["code"], "bad_request");
    let a = s.req(json!({"id": 4, "op": "launch"}));
    assert_eq!(a["code"], "unknown_op");
    let a = s.req(json!({"id": 5, "op": "switch", "session": 99}));
    assert_eq!(a["code"], "unknown_session");
    let a = s.req(json!({"id": 6, "op": "eval"}));
    assert_eq!(a["code"], "bad_request");

    let a = s.req(json!({"id": 7, "op": "fork"}));
    assert_eq!(a["ok"], true, "{a}");
    let b = a["session"].as_u64().unwrap();
    assert_eq!(
        s.req(json!({"id": 8, "op": "switch", "session": b}))["ok"],
        true
    );
    let a = s.req(json!({"id": 9, "op": "eval", "code": "x := x + 1;"}));
    assert_eq!(a["json"], 7);
    let a = s.req(json!({"id": 10, "op": "eval", "code": "x;", "session": 0}));
    assert_eq!(a["json"], 6, "sessions are independent after a fork");

    let st = s.req(json!({"id": 11, "op": "stats"}));
    assert_eq!(st["current"], b);
    assert_eq!(st["sessions"].as_array().unwrap().len(), 2);

    // interrupt: an endless loop in the branch, stopped from outside
    writeln!(
        s.stdin,
        "{}",
        json!({"id": 12, "op": "eval", "code": "while true do od;"})
    )
    .unwrap();
    s.stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let a = s.req(json!({"id": 13, "op": "interrupt"}));
    assert_eq!(a["ok"], true);
    let a = s.read();
    assert_eq!(a["id"], 12);
    assert_eq!(a["interrupted"], true, "{a}");
    let a = s.req(json!({"id": 14, "op": "eval", "code": "x;"}));
    assert_eq!(a["json"], 7, "the session is usable after an interrupt");

    assert_eq!(
        s.req(json!({"id": 15, "op": "drop", "session": b}))["ok"],
        true
    );
    let a = s.req(json!({"id": 16, "op": "eval", "code": "1;"}));
    assert_eq!(a["code"], "no_session");
    assert_eq!(s.req(json!({"id": 17, "op": "close"}))["ok"], true);
    let status = s.child.wait().unwrap();
    assert!(status.success());
}

#[test]
fn timeout_and_killed_branch() {
    let mut s = Server::start();
    let a = s.req(json!({"id": 1, "op": "eval", "code": "while true do od;", "timeout_ms": 200}));
    assert_eq!(a["ok"], false);
    assert_eq!(a["timed_out"], true, "{a}");
    assert!(a["wall_ms"].as_f64().unwrap() < 5000.0);
    assert_eq!(
        s.req(json!({"id": 2, "op": "eval", "code": "2+2;"}))["json"],
        4
    );

    let b = s.req(json!({"id": 3, "op": "fork"}))["session"]
        .as_u64()
        .unwrap();
    let st = s.req(json!({"id": 4, "op": "stats"}));
    let pid = st["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["session"] == b)
        .unwrap()["pid"]
        .as_i64()
        .unwrap();
    // kill the branch behind the server's back, while it computes
    writeln!(
        s.stdin,
        "{}",
        json!({"id": 5, "op": "eval", "code": "while true do od;", "session": b})
    )
    .unwrap();
    s.stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: kill(2) of the session process the server reported.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let a = s.read();
    assert_eq!(
        (a["id"].clone(), a["code"].clone()),
        (json!(5), json!("session_dead")),
        "{a}"
    );
    let a = s.req(json!({"id": 6, "op": "eval", "code": "1;", "session": b}));
    assert_eq!(a["code"], "session_dead");
    assert_eq!(
        s.req(json!({"id": 7, "op": "eval", "code": "3;"}))["json"],
        3
    );
}

#[test]
fn fifty_forks_leak_nothing() {
    let mut s = Server::start();
    s.req(json!({"id": 0, "op": "eval", "code": "L := List([1..100000], i -> i^2);;"}));
    let before = s.req(json!({"id": 1, "op": "stats"}))["server_rss_kb"]
        .as_u64()
        .unwrap();
    for i in 0..50u64 {
        let a = s.req(json!({"id": 100 + i, "op": "fork"}));
        assert_eq!(a["ok"], true, "{a}");
        let b = a["session"].as_u64().unwrap();
        let a = s.req(json!({"id": 200 + i, "op": "eval", "code": "Length(L);", "session": b}));
        assert_eq!(a["json"], 100000);
        assert_eq!(
            s.req(json!({"id": 300 + i, "op": "drop", "session": b}))["ok"],
            true
        );
    }
    let st = s.req(json!({"id": 2, "op": "stats"}));
    assert_eq!(st["sessions"].as_array().unwrap().len(), 1);
    let after = st["server_rss_kb"].as_u64().unwrap();
    assert!(
        after < before + 8 * 1024,
        "server grew from {before} to {after} KiB"
    );
    // every dropped session is reaped: only session 0 stays a child
    let mut kids = children_of(s.pid());
    for _ in 0..100 {
        if kids.len() == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        kids = children_of(s.pid());
    }
    assert_eq!(kids.len(), 1, "children left: {kids:?}");
}

#[test]
fn python_client_example() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("python3 not found: skipped");
        return;
    }
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/session_client.py");
    let out = Command::new("python3")
        .arg(example)
        .arg(common::gaprun_bin())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.ends_with("ok\n"), "{text}");
}

/// Pipelined requests to two sessions, answers short (written by the
/// session itself) and long (more than a pipe's atomic write, so passed on
/// by the server) mixed with answers of the server's own: every answer is
/// one whole JSON line, each session's come in request order, `close`
/// comes last. Also with `GAPRUN_SERVE_RELAY` (every answer relayed).
fn pipelined_answers(env: &[(&str, &str)]) {
    let mut s = Server::start_env(env);
    let f = s.req(json!({"id": 0, "op": "fork"}));
    let other = f["session"].as_u64().unwrap();
    let mut expected: Vec<(u64, u64)> = Vec::new(); // (session, id)
    let mut batch = String::new();
    for i in 1..=60u64 {
        let sid = if i % 2 == 0 { 0 } else { other };
        let code = match i % 3 {
            0 => format!(
                "Print(ListWithIdenticalEntries({}, 'x'), \"\\n\");",
                5000 + i
            ),
            1 => format!("[1..{}];", 2000 + i),
            _ => format!("{i};"),
        };
        batch.push_str(&json!({"id": i, "op": "eval", "code": code, "session": sid}).to_string());
        batch.push('\n');
        expected.push((sid, i));
        if i % 10 == 0 {
            batch.push_str(&json!({"id": 1000 + i, "op": "stats"}).to_string());
            batch.push('\n');
        }
    }
    batch.push_str(&json!({"id": 9999, "op": "close", "grace_ms": 60000}).to_string());
    batch.push('\n');
    s.stdin.write_all(batch.as_bytes()).unwrap();
    s.stdin.flush().unwrap();
    let mut got: Vec<(u64, u64)> = Vec::new();
    let mut stats = 0;
    loop {
        let a = s.read();
        let id = a["id"].as_u64().unwrap();
        if id == 9999 {
            break;
        }
        if id >= 1000 {
            stats += 1;
            continue;
        }
        assert_eq!(a["ok"], true, "{a}");
        if id % 3 == 0 {
            let x = a["output"].as_str().unwrap().matches('x').count();
            assert_eq!(x, 5000 + id as usize, "{a}");
        } else if id % 3 == 1 {
            assert_eq!(a["json"].as_array().unwrap().len(), 2000 + id as usize);
        } else {
            assert_eq!(a["json"], id);
        }
        got.push((a["session"].as_u64().unwrap(), id));
    }
    assert_eq!(stats, 6);
    for sid in [0, other] {
        let want: Vec<u64> = expected
            .iter()
            .filter(|e| e.0 == sid)
            .map(|e| e.1)
            .collect();
        let have: Vec<u64> = got.iter().filter(|e| e.0 == sid).map(|e| e.1).collect();
        assert_eq!(have, want, "answers of session {sid}");
    }
}

#[test]
fn pipelined_long_and_short_answers() {
    pipelined_answers(&[]);
}

#[test]
fn pipelined_answers_relayed() {
    pipelined_answers(&[("GAPRUN_SERVE_RELAY", "1")]);
}

/// End of input acts as `close`: answers already owed still go out.
#[test]
fn end_of_input_waits_for_owed_answers() {
    let mut child = Command::new(common::gaprun_bin())
        .args(["serve", "--stdio", "-A"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start gaprun serve");
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{}", json!({"id": 1, "op": "eval", "code": "1+1;"})).unwrap();
    writeln!(
        stdin,
        "{}",
        json!({"id": 2, "op": "eval", "code": "Sum([1..100000]);"})
    )
    .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[1]["json"], 2);
    assert_eq!(lines[2]["json"], 5000050000u64);
    assert!(out.status.success());
}

/// A request line that is not UTF-8 is answered `bad_json`; the server goes on.
#[test]
fn non_utf8_line_is_bad_json() {
    let mut s = Server::start();
    s.stdin.write_all(b"\xff\xfe{\"id\": 1}\n").unwrap();
    s.stdin.flush().unwrap();
    assert_eq!(s.read()["code"], "bad_json");
    assert_eq!(
        s.req(json!({"id": 2, "op": "eval", "code": "1+1;"}))["json"],
        2
    );
}

/// Found by fuzzing (the serve_request corpus replayed through a server):
/// a line of Unicode spaces (U+00A0) is not blank for JSON — it is answered
/// `bad_json` instead of being skipped without an answer. Blank lines
/// (JSON whitespace only) are still skipped.
#[test]
fn unicode_space_line_is_bad_json() {
    let mut s = Server::start();
    s.stdin.write_all(" \t\r\n".as_bytes()).unwrap();
    s.stdin.write_all("\u{a0}\u{a0}\n".as_bytes()).unwrap();
    s.stdin.flush().unwrap();
    assert_eq!(s.read()["code"], "bad_json");
    assert_eq!(
        s.req(json!({"id": 2, "op": "eval", "code": "1+1;"}))["json"],
        2
    );
}

/// Run a server on `input` written in one piece (stdin then closed) and
/// return its answer lines (the hello first), all within a deadline.
fn run_piped(input: &str, env: &[(&str, &str)]) -> Vec<Value> {
    let mut child = Command::new(common::gaprun_bin())
        .args(["serve", "--stdio", "-A"])
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start gaprun serve");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    let rx = line_channel(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    loop {
        match rx.recv_timeout(ANSWER_DEADLINE) {
            Ok(l) => lines.push(serde_json::from_str(&l).unwrap_or_else(|e| panic!("{l:?}: {e}"))),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                panic!("no answer within {ANSWER_DEADLINE:?}; so far {lines:?}");
            }
        }
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    lines
}

/// The answer with `id` among `lines`; panics unless there is exactly one.
fn answer_to<'a>(lines: &'a [Value], id: &Value) -> &'a Value {
    let found: Vec<&Value> = lines.iter().filter(|a| &a["id"] == id).collect();
    assert_eq!(found.len(), 1, "answers to id {id}: {found:?} in {lines:?}");
    found[0]
}

/// Issue 10 item 4: fork, an eval on the new session, drop and close all
/// in one write: every request is answered once, the eval sent before the
/// drop runs to its end (the drop does not kill it).
#[test]
fn pipelined_fork_eval_drop_close_answers_every_request() {
    for env in [&[][..], &[("GAPRUN_SERVE_RELAY", "1")][..]] {
        let input = concat!(
            "{\"id\":1,\"op\":\"fork\"}\n",
            "{\"id\":2,\"op\":\"eval\",\"code\":\"5;\",\"session\":1}\n",
            "{\"id\":3,\"op\":\"drop\",\"session\":1}\n",
            "{\"id\":4,\"op\":\"close\"}\n",
        );
        let lines = run_piped(input, env);
        assert_eq!(lines.len(), 5, "{lines:?}");
        assert_eq!(answer_to(&lines, &json!(1))["session"], 1);
        let a = answer_to(&lines, &json!(2));
        assert_eq!(
            (a["ok"].clone(), a["json"].clone()),
            (json!(true), json!(5)),
            "{a}"
        );
        assert_eq!(answer_to(&lines, &json!(3))["ok"], true);
        assert_eq!(lines.last().unwrap()["id"], 4, "close answers last");
    }
}

/// The expected answer of one `<` line of the documented exchange: the
/// fields it shows (`…` marks the abridged ones, left out here).
fn documented_answer(line: &str) -> Value {
    let text = line.replace("[…]", "\"…\"").replace(",…", "");
    let mut v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let m = v.as_object_mut().unwrap();
    m.retain(|k, v| v != "…" && !matches!(k.as_str(), "wall_ms" | "rss_kb" | "gaprun" | "gap"));
    v
}

/// Issue 10 item 4: the exchange documented in README.md and
/// docs/sessions.md, piped in one write, gets exactly the documented
/// answers (every request answered once, the fields shown equal).
#[test]
fn documented_exchange_piped_in_one_write() {
    for doc in ["README.md", "docs/sessions.md"] {
        let text =
            std::fs::read_to_string(format!("{}/../{doc}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let requests: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("> {").map(|_| &l[2..]))
            .collect();
        let answers: Vec<Value> = text
            .lines()
            .filter_map(|l| l.strip_prefix("< "))
            .filter(|l| l.starts_with('{'))
            .map(documented_answer)
            .collect();
        assert!(
            requests.len() >= 9,
            "{doc}: the exchange has {} requests",
            requests.len()
        );
        assert_eq!(
            answers.len(),
            requests.len() + 1,
            "{doc}: one answer per request and the hello"
        );
        let mut input = requests.join("\n");
        input.push('\n');
        let lines = run_piped(&input, &[]);
        assert_eq!(lines.len(), answers.len(), "{doc}: {lines:?}");
        for want in &answers {
            let got = match want.get("id") {
                Some(id) => answer_to(&lines, id),
                None => &lines[0],
            };
            for (k, v) in want.as_object().unwrap() {
                assert_eq!(&got[k], v, "{doc}: field {k} of {got}");
            }
        }
    }
}

/// Issue 11 item 4: while a session computes and a fork of it waits
/// behind that computation, `stats` and `interrupt` are answered at once.
#[test]
fn control_requests_answered_while_a_fork_waits() {
    let mut s = Server::start();
    s.send_only(json!({"id": 1, "op": "eval", "code": "while true do od;"}));
    s.send_only(json!({"id": 2, "op": "fork"}));
    s.send_only(json!({"id": 3, "op": "stats", "session": 1}));
    s.send_only(json!({"id": 4, "op": "eval", "code": "7;", "session": 1}));
    // well under the 30 s the server used to stall for
    let a = s.read_within(Duration::from_secs(15));
    assert_eq!(a["id"], 3, "{a}");
    // An interrupt that reaches the session before its eval starts is
    // dropped (a stale one must not stop the next eval): repeat it until
    // the loop has stopped.
    let mut got = std::collections::HashMap::new();
    let deadline = std::time::Instant::now() + ANSWER_DEADLINE;
    let mut k = 100;
    while !got.contains_key(&1) {
        assert!(
            std::time::Instant::now() < deadline,
            "the loop was never interrupted"
        );
        s.send_only(json!({"id": k, "op": "interrupt", "session": 0}));
        k += 1;
        while let Ok(l) = s.stdout.recv_timeout(Duration::from_millis(500)) {
            let a: Value = serde_json::from_str(&l).unwrap();
            got.insert(a["id"].as_u64().unwrap(), a);
        }
    }
    while !(got.contains_key(&2) && got.contains_key(&4)) {
        let a = s.read_within(Duration::from_secs(60));
        got.insert(a["id"].as_u64().unwrap(), a);
    }
    assert_eq!(got[&100]["ok"], true);
    assert_eq!(got[&1]["interrupted"], true, "{:?}", got[&1]);
    assert_eq!(got[&2]["session"], 1, "{:?}", got[&2]);
    assert_eq!(got[&4]["json"], 7, "{:?}", got[&4]);
}

/// Issue 11 item 1: numeric fields out of range or of the wrong type are
/// `bad_request`; the session stays usable.
#[test]
fn bad_numbers_are_bad_requests() {
    let mut s = Server::start();
    let bad = [
        json!({"id": 1, "op": "eval", "code": "3;", "timeout_ms": 1e308}),
        json!({"id": 2, "op": "eval", "code": "3;", "timeout_ms": "abc"}),
        json!({"id": 3, "op": "eval", "code": "3;", "timeout_ms": -5}),
        json!({"id": 4, "op": "eval", "code": "3;", "timeout_ms": 0}),
        json!({"id": 5, "op": "eval", "code": "3;", "session": -1}),
        json!({"id": 6, "op": "eval", "code": "3;", "session": 1e30}),
        json!({"id": 7, "op": "close", "grace_ms": "soon"}),
        json!({"id": 8, "op": "close", "grace_ms": 1e300}),
        json!({"id": 9, "op": "drop", "session": 18446744073709551616u128.to_string()}),
    ];
    for r in bad {
        let a = s.req(r.clone());
        assert_eq!(a["code"], "bad_request", "{r} -> {a}");
    }
    let a = s.send_raw(r#"{"id":10,"op":"eval","code":"3;","timeout_ms":1e308}"#);
    assert_eq!(a["error"], "timeout too large", "{a}");
    let a = s.send_raw(r#"{"id":11,"op":"switch","session":184467440737095516160000}"#);
    assert_eq!(a["code"], "bad_request", "{a}");
    let a = s.req(json!({"id": 12, "op": "eval", "code": "3;", "timeout_ms": 60000}));
    assert_eq!(a["json"], 3, "{a}");
}

/// Whether process `pid` exists and is not a zombie.
fn running(pid: i64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat[stat.rfind(')').unwrap() + 2..].starts_with('Z'),
        Err(_) => false,
    }
}

/// Wait (up to a minute) until none of `pids` runs.
fn assert_all_gone(pids: &[i64], what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while pids.iter().any(|p| running(*p)) {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: still running: {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A process a session started itself (io's `IO_fork`, spinning) that spins.
const SPINNING_CHILD: &str =
    "LoadPackage(\"io\");; p := IO_fork();; if p = 0 then while true do od; fi; p;";

/// Orphans: dropping a session, and closing the server, leave no process
/// running, also none that a session started itself.
#[test]
fn drop_and_close_leave_no_processes() {
    let mut s = Server::start();
    let b = s.req(json!({"id": 1, "op": "fork"}))["session"]
        .as_u64()
        .unwrap();
    let st = s.req(json!({"id": 2, "op": "stats"}));
    let pid_of = |st: &Value, sid: u64| {
        st["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["session"] == sid)
            .unwrap()["pid"]
            .as_i64()
            .unwrap()
    };
    let (pid0, pidb) = (pid_of(&st, 0), pid_of(&st, b));
    let a = s.req(json!({"id": 3, "op": "eval", "code": SPINNING_CHILD, "session": b}));
    let kid_b = a["json"].as_i64().unwrap_or_else(|| panic!("{a}"));
    assert!(running(kid_b));
    assert_eq!(
        s.req(json!({"id": 4, "op": "drop", "session": b}))["ok"],
        true
    );
    assert_all_gone(&[pidb, kid_b], "after drop");
    let a = s.req(json!({"id": 5, "op": "eval", "code": SPINNING_CHILD, "session": 0}));
    let kid_0 = a["json"].as_i64().unwrap_or_else(|| panic!("{a}"));
    assert_eq!(s.req(json!({"id": 6, "op": "close"}))["ok"], true);
    assert!(s.child.wait().unwrap().success());
    assert_all_gone(&[pid0, kid_0], "after close");
}

/// Issue 11 item 9: a server stopped by SIGTERM, SIGINT, SIGHUP or SIGPIPE
/// removes its socket folder and leaves no session running.
#[test]
fn signals_clean_up_the_socket_folder() {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGPIPE] {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Server::start_env(&[("TMPDIR", tmp.path().to_str().unwrap())]);
        s.req(json!({"id": 1, "op": "fork"}));
        let st = s.req(json!({"id": 2, "op": "stats"}));
        let pids: Vec<i64> = st["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["pid"].as_i64().unwrap())
            .collect();
        let folders = || std::fs::read_dir(tmp.path()).unwrap().count();
        assert_eq!(folders(), 1, "the server's socket folder exists");
        // SAFETY: kill(2) of the server we started.
        unsafe { libc::kill(s.pid() as i32, sig) };
        let status = s.child.wait().unwrap();
        assert!(!status.success(), "signal {sig}: {status:?}");
        assert_eq!(folders(), 0, "signal {sig}: the socket folder is left");
        assert_all_gone(&pids, &format!("signal {sig}"));
    }
}

/// Issue 10 item 5: `QUIT_GAP(n)`, `QuitGap(n)` and `quit;` inside a
/// session end that session, reported `session_dead` with the exit status
/// (its output kept); later requests to it are `session_dead`; the server
/// and the other sessions go on.
#[test]
fn a_session_that_quits_is_reported_dead() {
    let mut s = Server::start();
    for (n, (code, status)) in [
        ("Print(\"bye\\n\"); QUIT_GAP(3); Print(\"never\\n\");", 3),
        ("Print(\"bye\\n\"); QuitGap(4);", 4),
        ("Print(\"bye\\n\"); quit;", 0),
    ]
    .into_iter()
    .enumerate()
    {
        let n = n as u64 * 10;
        let b = s.req(json!({"id": n, "op": "fork"}))["session"]
            .as_u64()
            .unwrap();
        // the quitting eval and one more, pipelined
        s.send_only(json!({"id": n + 1, "op": "eval", "code": code, "session": b}));
        s.send_only(json!({"id": n + 2, "op": "eval", "code": "1;", "session": b}));
        let a = s.read();
        assert_eq!(a["id"], n + 1, "{a}");
        assert_eq!(a["code"], "session_dead", "{a}");
        assert_eq!(a["exit_status"], status, "{a}");
        assert_eq!(a["output"], "bye\n", "{a}");
        let a = s.read();
        assert_eq!(
            (a["id"].clone(), a["code"].clone()),
            (json!(n + 2), json!("session_dead")),
            "{a}"
        );
        let a = s.req(json!({"id": n + 3, "op": "eval", "code": "2;", "session": b}));
        assert_eq!(a["code"], "session_dead", "{a}");
        let a = s.req(json!({"id": n + 4, "op": "eval", "code": "1+1;", "session": 0}));
        assert_eq!(a["json"], 2, "{a}");
    }
}

/// Issue 10 item 7: integers of any size stay exact in `json`; GAP strings
/// that are not UTF-8 become `{"base64": …}` (json_text), text fields get a
/// `<field>_base64` sibling; control characters survive.
#[test]
fn json_keeps_big_integers_and_bytes() {
    let mut s = Server::start();
    let a = s.req(json!({"id": 1, "op": "eval", "code": "[2^64, -2^100, 2^53, 7];"}));
    assert_eq!(
        a["json"].to_string(),
        "[18446744073709551616,-1267650600228229401496703205376,9007199254740992,7]",
        "{a}"
    );
    let a = s.req(json!({"id": 2, "op": "eval", "code": "2^200;"}));
    assert_eq!(a["json"].to_string(), a["view"].as_str().unwrap(), "{a}");
    let a = s.req(json!({"id": 3, "op": "eval", "code": "rec(a := \"\\377x\", b := \"caf\\303\\251\", c := \"\\r\\000\");"}));
    assert_eq!(a["json"]["a"], json!({"base64": "/3g="}), "{a}");
    assert_eq!(a["json"]["b"], "café", "{a}");
    assert_eq!(a["json"]["c"], "\r\u{0}", "{a}");
    let a = s.req(json!({"id": 4, "op": "eval", "code": "Print(\"\\377ok\\n\");"}));
    assert_eq!(a["output_base64"], "/29rCg==", "{a}");
    assert_eq!(a["statements"][0]["output_base64"], "/29rCg==", "{a}");
    let a = s.req(json!({"id": 5, "op": "eval", "code": "Print(\"ok\\n\");"}));
    assert!(a.get("output_base64").is_none(), "{a}");
    let a = s.req(json!({"id": 6, "op": "eval", "code": "Error(\"\\377a\");"}));
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD
        .decode(
            a["error_text_base64"]
                .as_str()
                .unwrap_or_else(|| panic!("{a}")),
        )
        .unwrap();
    assert!(text.windows(2).any(|w| w == b"\xffa"), "{a}");
}

/// Requests queued for a session whose fork never happens (the session
/// asked to fork quits first) are answered, not lost.
#[test]
fn requests_for_a_fork_that_never_happens_are_answered() {
    let input = concat!(
        "{\"id\":1,\"op\":\"fork\"}\n",
        "{\"id\":2,\"op\":\"eval\",\"code\":\"QUIT_GAP(2);\",\"session\":1}\n",
        "{\"id\":3,\"op\":\"fork\",\"session\":1}\n",
        "{\"id\":4,\"op\":\"eval\",\"code\":\"1;\",\"session\":2}\n",
        "{\"id\":5,\"op\":\"eval\",\"code\":\"6;\",\"session\":0}\n",
        "{\"id\":6,\"op\":\"close\"}\n",
    );
    let lines = run_piped(input, &[]);
    assert_eq!(lines.len(), 7, "{lines:?}");
    assert_eq!(answer_to(&lines, &json!(2))["exit_status"], 2);
    assert_eq!(answer_to(&lines, &json!(3))["code"], "session_dead");
    assert_eq!(answer_to(&lines, &json!(4))["code"], "fork_failed");
    assert_eq!(answer_to(&lines, &json!(5))["json"], 6);
}

/// A deadline that fires before the eval's first statement runs (here: a
/// microsecond) ends the eval as a whole; it is still answered as a
/// timeout — `interrupted` and `timed_out` true — and the session goes on
/// (regression: `{"code":"gap","error":"interrupted"}` without either flag,
/// seen once in `control_requests_answered_while_a_fork_waits`).
#[test]
fn a_deadline_before_the_first_statement_is_a_timeout() {
    let mut s = Server::start();
    for (id, code) in [(1, "while true do od;"), (2, "1;")] {
        let a = s.req(json!({"id": id, "op": "eval", "code": code, "timeout_ms": 0.001}));
        assert_eq!(a["ok"], false, "{a}");
        assert_eq!(a["interrupted"], true, "{a}");
        assert_eq!(a["timed_out"], true, "{a}");
        assert!(
            a["error"]
                .as_str()
                .unwrap_or("")
                .starts_with("timeout after"),
            "{a}"
        );
    }
    let a = s.req(json!({"id": 3, "op": "eval", "code": "6 * 7;"}));
    assert_eq!(a["json"], 42, "{a}");
}
