//! `gaprun daemon` with real GAP (issue 15 item 5): a command run through
//! the warm GAP of a daemon behaves as without it — standard output and
//! error, exit codes, standard input, working folder, Ctrl-C — and falls
//! back to a normal start when the daemon is stale, belongs to someone else
//! or dies. Every test has its own daemon folder (GAPRUN_DAEMON_DIR), so no
//! test touches the user's daemons or another test's; a guard stops the
//! daemon even when the test fails.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Prints "started" from inside an endless loop.
const LOOP: &str =
    "i := 0;; while true do i := i + 1; if i = 1000 then Print(\"started\\n\"); fi; od;";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A daemon in a private folder of its own, stopped on drop.
struct Daemon {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// Environment for every command of this daemon's tests.
    env: Vec<(String, PathBuf)>,
}

impl Daemon {
    /// `BIN -A daemon start` in a fresh folder.
    fn start_with(bin: &Path) -> Daemon {
        Daemon::start_args(bin, &[])
    }

    /// `BIN -A daemon start EXTRA` in a fresh folder.
    fn start_args(bin: &Path, extra: &[&str]) -> Daemon {
        Daemon::start_env(bin, extra, Vec::new())
    }

    /// `BIN -A daemon start EXTRA` in a fresh folder, with `env` set for it
    /// and every later command.
    fn start_env(bin: &Path, extra: &[&str], env: Vec<(String, PathBuf)>) -> Daemon {
        let base = tempfile::tempdir().unwrap();
        let d = Daemon {
            dir: base,
            bin: bin.to_path_buf(),
            env,
        };
        let out = d
            .raw(true)
            .args(["-A", "daemon", "start"])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "daemon start: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert!(text(&out.stdout).contains("daemon started"));
        d
    }

    fn start() -> Daemon {
        Daemon::start_with(&common::gaprun_bin())
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// The binary with this daemon's folder, the daemon on or off.
    fn raw(&self, on: bool) -> Command {
        let mut c = Command::new(&self.bin);
        c.env("GAPRUN_DAEMON_DIR", self.path())
            .env("GAPRUN_DAEMON", if on { "on" } else { "off" })
            .env_remove("GAPRUN_DEBUG")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// `gaprun -A ARGS` in `cwd` with `stdin`, through the daemon or not.
    fn run(&self, on: bool, args: &[&str], stdin: &[u8], cwd: &Path) -> Output {
        let mut child = self
            .raw(on)
            .arg("-A")
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    }

    fn status(&self) -> (Option<i32>, String) {
        let out = self
            .raw(true)
            .args(["-A", "daemon", "status"])
            .output()
            .unwrap();
        (out.status.code(), text(&out.stdout) + &text(&out.stderr))
    }

    /// Commands served, from `daemon status` (of the first daemon listed).
    fn served(&self) -> u64 {
        let (_, s) = self.status();
        let line = s
            .lines()
            .find(|l| l.trim_start().starts_with("served:"))
            .unwrap_or_else(|| panic!("no served line in {s}"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    fn running(&self) -> u64 {
        let (_, s) = self.status();
        let line = s
            .lines()
            .find(|l| l.trim_start().starts_with("served:"))
            .unwrap_or("");
        line.split(", ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    fn pids(&self) -> Vec<i32> {
        std::fs::read_dir(self.path())
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "pid"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .filter_map(|s| s.trim().parse().ok())
            .collect()
    }

    fn log(&self) -> String {
        std::fs::read_dir(self.path())
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .collect()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pids = self.pids();
        let _ = self.raw(true).args(["daemon", "stop", "--all"]).output();
        for pid in pids {
            // SAFETY: kill with a pid read from our own daemon's pid file.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Wait (bounded) until `cond` holds; panics with `what` otherwise.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `text` with durations such as `(12 ms)` or `(1.5 s)` (test reports)
/// replaced by `(T)`: they differ from run to run.
fn without_times(b: &[u8]) -> String {
    let t = text(b);
    let mut out = String::new();
    let mut rest = t.as_str();
    while let Some(open) = rest.find('(') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let number = after
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(after.len());
        let unit = &after[number..];
        let skip = ["ms)", " ms)", "s)", " s)"]
            .iter()
            .find(|u| number > 0 && unit.starts_with(*u));
        match skip {
            Some(u) => {
                out.push_str("(T)");
                rest = &after[number + u.len()..];
            }
            None => {
                out.push('(');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn assert_same(what: &str, with: &Output, without: &Output) {
    assert_eq!(
        without_times(&with.stdout),
        without_times(&without.stdout),
        "{what}: stdout differs"
    );
    assert_eq!(
        without_times(&with.stderr),
        without_times(&without.stderr),
        "{what}: stderr differs"
    );
    assert_eq!(
        with.status.code(),
        without.status.code(),
        "{what}: exit code"
    );
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&with.status),
        std::os::unix::process::ExitStatusExt::signal(&without.status),
        "{what}: signal"
    );
}

#[test]
fn durations_are_masked_and_nothing_else() {
    assert_eq!(
        without_times(b"ok    a.tst (12 ms)\nx (1.5 s) (f) (3) (ms)"),
        "ok    a.tst (T)\nx (T) (f) (3) (ms)"
    );
}

#[test]
fn same_output_and_exit_codes_with_and_without_the_daemon() {
    let d = Daemon::start();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    std::fs::write(
        w.join("ok.g"),
        "Print(Size(SymmetricGroup(5)), \"\\n\");\nx := 3;;\nPrint(x^2, \"\\n\");\n",
    )
    .unwrap();
    std::fs::write(
        w.join("err.g"),
        "Print(\"before\\n\");\n1/0;\nPrint(\"never\\n\");\n",
    )
    .unwrap();
    std::fs::write(w.join("quit.g"), "Print(\"bye\\n\");\nQuitGap(3);\n").unwrap();
    std::fs::write(w.join("env.g"), "Print(GAPInfo.SystemEnvironment.GAPRUN_TEST_VALUE, \"\\n\", DirectoryCurrent(), \"\\n\", Filename(DirectoryCurrent(), \"ok.g\"), \"\\n\");\n").unwrap();
    // GAP's memory limits as the pool policy sets them: `-o` is divided
    // among planned workers, so `run -j 2` must see half of `-c`'s.
    for f in ["limits1.g", "limits2.g"] {
        std::fs::write(w.join(f), "Print(GasmanLimits(), \"\\n\");\n").unwrap();
    }
    std::fs::write(w.join("pass.tst"), "gap> 1+1;\n2\n").unwrap();
    std::fs::write(w.join("fail.tst"), "gap> 1+1;\n3\n").unwrap();
    std::fs::write(
        w.join("tasks.jsonl"),
        "{\"id\":\"a\",\"code\":\"2^10;\"}\n{\"id\":\"b\",\"code\":\"1/0;\"}\n{\"id\":\"c\",\"file\":\"ok.g\"}\n",
    )
    .unwrap();
    let cases: Vec<(&str, Vec<&str>, &[u8])> = vec![
        ("FILE", vec!["ok.g"], b""),
        ("FILE with a GAP error", vec!["err.g"], b""),
        ("FILE with QuitGap(3)", vec!["quit.g"], b""),
        (
            "two FILEs and stdin between",
            vec!["ok.g", "-", "ok.g"],
            b"Print(\"mid\\n\");\n",
        ),
        ("environment and folder", vec!["env.g"], b""),
        ("missing FILE", vec!["nope.g"], b""),
        ("-c", vec!["-c", "1+1;"], b""),
        (
            "-c with an error",
            vec!["-c", "Print(1);; 1/0; Print(2, \"\\n\");"],
            b"",
        ),
        (
            "-c QUIT code",
            vec!["-c", "Print(\"x\\n\"); QUIT_GAP(7);"],
            b"",
        ),
        ("-c quit;", vec!["-c", "1; quit; 2;"], b""),
        (
            "stdin",
            vec!["-"],
            b"G := CyclicGroup(6);; Size(G);\nList([1..3], i -> i^2);\n",
        ),
        ("stdin, no argument", vec![], b"2^100;\n"),
        ("stdin with an error", vec!["-"], b"Foo();\n1+1;\n"),
        ("stdin QUIT;", vec!["-"], b"1;\nQUIT;\n2;\n"),
        (
            "run -j 2",
            vec!["run", "-j", "2", "ok.g", "err.g", "quit.g"],
            b"",
        ),
        ("memory limits", vec!["limits1.g"], b""),
        (
            "memory limits, run -j 2",
            vec!["run", "-j", "2", "limits1.g", "limits2.g"],
            b"",
        ),
        ("test", vec!["test", "-j", "1", "pass.tst"], b""),
        ("test failing", vec!["test", "-j", "1", "fail.tst"], b""),
        ("usage error", vec!["-c"], b""),
    ];
    let before = d.served();
    let mut delegated = 0;
    for (what, args, stdin) in &cases {
        let with = d
            .raw(true)
            .env("GAPRUN_TEST_VALUE", "from-the-client")
            .arg("-A")
            .args(args)
            .current_dir(w)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                c.stdin.take().unwrap().write_all(stdin)?;
                c.wait_with_output()
            })
            .unwrap();
        let without = d
            .raw(false)
            .env("GAPRUN_TEST_VALUE", "from-the-client")
            .arg("-A")
            .args(args)
            .current_dir(w)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                c.stdin.take().unwrap().write_all(stdin)?;
                c.wait_with_output()
            })
            .unwrap();
        assert_same(what, &with, &without);
        if *what != "usage error" {
            delegated += 1;
        }
    }
    // Every command but the usage error (clap stops it first) really ran
    // in the daemon.
    assert_eq!(d.served() - before, delegated);
    // The batch: same results but for timings.
    let strip = |o: &Output| -> Vec<serde_json::Value> {
        text(&o.stdout)
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                if let Some(m) = v.as_object_mut() {
                    m.retain(|k, _| !k.ends_with("_ms") && !k.contains("rss"));
                }
                v
            })
            .collect()
    };
    let with = d.run(true, &["batch", "-j", "2", "tasks.jsonl"], b"", w);
    let without = d.run(false, &["batch", "-j", "2", "tasks.jsonl"], b"", w);
    assert_eq!(strip(&with), strip(&without));
    assert_eq!(text(&with.stderr), text(&without.stderr));
    assert_eq!(with.status.code(), without.status.code());
    assert_eq!(strip(&with).len(), 3);
    assert_eq!(d.served() - before, delegated + 1);
}

/// Start `gaprun -A ARGS` with stdout piped; wait until it printed a line
/// `started`; then send it `sig` and return its output and status.
fn interrupt(d: &Daemon, on: bool, args: &[&str], sig: i32, cwd: &Path) -> Output {
    let mut child = d
        .raw(on)
        .arg("-A")
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert_eq!(first, "started\n");
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, sig) };
    let mut rest = Vec::new();
    out.read_to_end(&mut rest).unwrap();
    let mut err = Vec::new();
    child.stderr.take().unwrap().read_to_end(&mut err).unwrap();
    let status = child.wait().unwrap();
    Output {
        status,
        stdout: [first.as_bytes(), &rest].concat(),
        stderr: err,
    }
}

#[test]
fn ctrl_c_and_sigterm_reach_the_command_as_without_the_daemon() {
    let d = Daemon::start();
    let work = tempfile::tempdir().unwrap();
    // "started" comes from inside the loop, so the signal finds GAP in the
    // middle of a statement. (One between two statements is held for the
    // next: api_cli::sigint_between_statements_stops_the_next_statement.)
    let looping =
        "i := 0;; while true do i := i + 1; if i = 1000 then Print(\"started\\n\"); fi; od;";
    std::fs::write(
        work.path().join("loop.g"),
        format!("{looping}\nPrint(\"never\\n\");\n"),
    )
    .unwrap();
    let stmts = format!("{looping} Print(\"after\\n\");");
    let cases: Vec<(&str, Vec<&str>, i32)> = vec![
        (
            "SIGINT, -c (goes on after the interrupt)",
            vec!["-c", &stmts],
            libc::SIGINT,
        ),
        ("SIGINT, FILE (stops)", vec!["loop.g"], libc::SIGINT),
        ("SIGTERM, FILE", vec!["loop.g"], libc::SIGTERM),
    ];
    for (what, args, sig) in cases {
        let served = d.served();
        let with = interrupt(&d, true, &args, sig, work.path());
        let without = interrupt(&d, false, &args, sig, work.path());
        assert_same(what, &with, &without);
        assert_eq!(d.served(), served + 1, "{what}: ran in the daemon");
    }
}

/// Through the daemon, a command that prints "started" and then loops; it
/// has printed that line when this returns.
fn start_loop(
    d: &Daemon,
    stderr: Stdio,
) -> (std::process::Child, BufReader<std::process::ChildStdout>) {
    let mut child = d
        .raw(true)
        .args(["-A", "-c", LOOP])
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert_eq!(first, "started\n");
    (child, out)
}

#[test]
fn a_killed_client_takes_its_command_with_it() {
    let d = Daemon::start();
    let (mut child, mut out) = start_loop(&d, Stdio::null());
    assert_eq!(d.running(), 1);
    child.kill().unwrap();
    child.wait().unwrap();
    // The daemon kills the command's group and reaps it.
    wait_for("the orphaned command to be killed", || d.running() == 0);
    // Its stdout pipe is closed: nobody holds it any more.
    let mut rest = Vec::new();
    out.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

#[test]
fn the_daemon_dying_mid_command_is_a_clear_error_not_a_hang() {
    let d = Daemon::start();
    let (mut child, mut out) = start_loop(&d, Stdio::piped());
    for pid in d.pids() {
        // SAFETY: our own daemon's pid.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains("the GAP daemon stopped before the command finished"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // The command died with its daemon: its stdout reaches end of file.
    let mut rest = Vec::new();
    out.read_to_end(&mut rest).unwrap();
    // And the next command starts GAP itself.
    let again = d.run(true, &["-c", "1+1;"], b"", Path::new("/"));
    assert_eq!(text(&again.stdout), "2\n");
    assert_eq!(again.status.code(), Some(0));
}

#[test]
fn a_stale_daemon_is_passed_over_silently_and_status_says_so() {
    // A copy of the binary: touching it changes the key as a rebuild would.
    let bin_dir = tempfile::tempdir().unwrap();
    let bin = bin_dir.path().join("gaprun");
    std::fs::copy(common::gaprun_bin(), &bin).unwrap();
    let d = Daemon::start_with(&bin);
    let first = d.run(true, &["-c", "1+1;"], b"", Path::new("/"));
    assert_eq!(text(&first.stdout), "2\n");
    assert_eq!(d.served(), 1);
    let (code, status) = d.status();
    assert_eq!(code, Some(0), "{status}");
    assert!(status.contains("state:   serving"), "{status}");
    // (Not opened for writing: the running daemon makes that "text file
    // busy".)
    let later = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 60;
    let touched = Command::new("touch")
        .args(["-m", "-d", &format!("@{later}")])
        .arg(&bin)
        .status()
        .unwrap();
    assert!(touched.success());
    let out = d.run(true, &["-c", "1+1;"], b"", Path::new("/"));
    assert_eq!(text(&out.stdout), "2\n");
    assert_eq!(text(&out.stderr), "", "nothing said about the daemon");
    assert_eq!(out.status.code(), Some(0));
    let (code, status) = d.status();
    assert_eq!(code, Some(1), "no daemon for this configuration: {status}");
    assert!(status.contains("stale"), "{status}");
    assert!(status.contains("the gaprun binary changed"), "{status}");
    assert!(status.contains("served:  1 command(s)"), "{status}");
    // Another configuration (packages, flags) is not this daemon's either.
    let other = d.run(true, &["--no-workspace", "-c", "2+2;"], b"", Path::new("/"));
    assert_eq!(text(&other.stdout), "4\n");
}

#[test]
fn another_user_is_refused() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run a client as another user (nobody)");
        return;
    }
    let d = Daemon::start();
    let nobody = 65534u32;
    // As `nobody`, a command with this (root's) daemon folder: the client
    // does not trust a folder it does not own and starts GAP itself.
    let cache = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        cache.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    // Let nobody reach the socket, as a careless chmod would: the daemon's
    // peer-credential check must still refuse.
    use std::os::unix::fs::PermissionsExt;
    for p in [d.dir.path().to_path_buf(), d.path()] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o711)).unwrap();
    }
    let socket = std::fs::read_dir(d.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "sock"))
        .unwrap();
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = {
        use std::os::unix::process::CommandExt;
        d.raw(true)
            .env("GAPRUN_DEBUG", "daemon")
            .env("HOME", cache.path())
            .env("GAPRUN_WORKSPACE_CACHE", cache.path())
            .args(["-A", "-c", "1+1;"])
            .current_dir("/")
            .uid(nobody)
            .gid(nobody)
            .output()
            .unwrap()
    };
    let err = text(&out.stderr);
    assert!(err.contains("owned by uid 0"), "{err}");
    if out.status.code() == Some(0) {
        assert_eq!(text(&out.stdout), "2\n");
    } else {
        // nobody may be unable to read this build's GAP roots: then the
        // normal start's own error, never a daemon's run.
        assert!(err.contains("gaprun:"), "{err}");
    }
    // A raw connection as nobody: the daemon refuses by peer credentials.
    let frame = {
        let body = b"\"status\"";
        let mut f = (body.len() as u32).to_le_bytes().to_vec();
        f.extend_from_slice(body);
        f
    };
    let reply = std::process::Command::new(common::gaprun_bin())
        .arg("--version")
        .output()
        .map(|_| connect_as(nobody, &socket, &frame))
        .unwrap();
    for p in [d.dir.path().to_path_buf(), d.path()] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    assert!(reply.contains("refused"), "{reply}");
    assert!(reply.contains("another user"), "{reply}");
    assert!(
        d.log().contains("refused a connection from uid 65534"),
        "{}",
        d.log()
    );
    assert_eq!(d.served(), 0);
}

/// Connect to `socket` as `uid` in a forked child (only raw system calls
/// after the fork: this test process has threads), send `frame`, return
/// what came back.
fn connect_as(uid: u32, socket: &Path, frame: &[u8]) -> String {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid (empty) value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (i, b) in socket.as_os_str().as_bytes().iter().enumerate() {
        addr.sun_path[i] = *b as libc::c_char;
    }
    let mut fds = [0i32; 2];
    // SAFETY: plain system calls; the child makes no allocation.
    unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        let pid = libc::fork();
        if pid == 0 {
            libc::close(fds[0]);
            if libc::setgid(uid) != 0 || libc::setuid(uid) != 0 {
                libc::_exit(3);
            }
            let s = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
            let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
            if libc::connect(s, &addr as *const _ as *const libc::sockaddr, len) != 0 {
                libc::_exit(4);
            }
            libc::write(s, frame.as_ptr().cast(), frame.len());
            let mut buf = [0u8; 512];
            let n = libc::read(s, buf.as_mut_ptr().cast(), buf.len());
            if n > 0 {
                libc::write(fds[1], buf.as_ptr().cast(), n as usize);
            }
            libc::_exit(0);
        }
        libc::close(fds[1]);
        let mut f = <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fds[0]);
        let mut got = Vec::new();
        let _ = f.read_to_end(&mut got);
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
        assert_eq!(libc::WEXITSTATUS(status), 0, "child as uid {uid} failed");
        text(&got)
    }
}

#[test]
fn status_and_stop_without_a_daemon() {
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("run");
    let out = Command::new(common::gaprun_bin())
        .env("GAPRUN_DAEMON_DIR", &dir)
        .args(["-A", "daemon", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("no daemon is running"));
    let out = Command::new(common::gaprun_bin())
        .env("GAPRUN_DAEMON_DIR", &dir)
        .args(["-A", "daemon", "stop"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    // An unsafe folder is an error for the daemon commands, and ignored by
    // ordinary commands.
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = Command::new(common::gaprun_bin())
        .env("GAPRUN_DAEMON_DIR", &dir)
        .args(["-A", "daemon", "start"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("group or others have access"),
        "{}",
        text(&out.stderr)
    );
    let out = Command::new(common::gaprun_bin())
        .env("GAPRUN_DAEMON_DIR", &dir)
        .args(["-A", "-c", "1+1;"])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "2\n");
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn auto_mode_starts_a_daemon_for_the_next_command() {
    let d = Daemon {
        dir: tempfile::tempdir().unwrap(),
        bin: common::gaprun_bin(),
        env: Vec::new(),
    };
    let auto = |args: &[&str]| {
        d.raw(true)
            .env("GAPRUN_DAEMON", "auto")
            .arg("-A")
            .args(args)
            .output()
            .unwrap()
    };
    let first = auto(&["-c", "1+1;"]);
    assert_eq!(text(&first.stdout), "2\n");
    assert_eq!(text(&first.stderr), "");
    wait_for("the automatic daemon", || d.status().0 == Some(0));
    let second = auto(&["-c", "2+2;"]);
    assert_eq!(text(&second.stdout), "4\n");
    assert_eq!(d.served(), 1);
    assert!(d.status().1.contains("served:  1 command(s)"));
}

#[test]
fn a_daemon_whose_folder_is_removed_ends() {
    let d = Daemon::start_args(&common::gaprun_bin(), &["--check-every", "0.2"]);
    let pids = d.pids();
    assert_eq!(pids.len(), 1);
    let alive = |pid: i32| {
        // SAFETY: signal 0 only checks that the process exists.
        unsafe { libc::kill(pid, 0) == 0 }
    };
    assert!(alive(pids[0]));
    std::fs::remove_dir_all(d.path()).unwrap();
    // Nobody can reach it any more: it notices and exits (it is not our
    // child, so once it exits it is gone).
    wait_for("the daemon to end", || !alive(pids[0]));
}

#[test]
fn an_edit_under_the_gap_roots_makes_the_daemon_stale_and_auto_replaces_it() {
    // `~/.gap` is one of GAP's roots: a file edited in place there changes
    // no folder's time (so not the clients' cheap key), only the daemon's
    // full fingerprint.
    let home = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".gap/lib")).unwrap();
    let note = home.path().join(".gap/lib/note.g");
    std::fs::write(&note, "# one\n").unwrap();
    let env = vec![
        ("HOME".to_string(), home.path().to_path_buf()),
        (
            "GAPRUN_WORKSPACE_CACHE".to_string(),
            cache.path().to_path_buf(),
        ),
    ];
    let d = Daemon::start_env(&common::gaprun_bin(), &["--check-every", "0.2"], env);
    let first_pid = d.pids()[0];
    let out = d.run(true, &["-c", "1+1;"], b"", Path::new("/"));
    assert_eq!(text(&out.stdout), "2\n");
    assert_eq!(d.served(), 1);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&note)
        .unwrap()
        .write_all(b"# two\n")
        .unwrap();
    wait_for("the daemon to find itself stale", || {
        d.status().1.contains("files under the GAP roots changed")
    });
    let (code, status) = d.status();
    assert_eq!(code, Some(1), "{status}");
    assert!(
        status.contains("daemon for this configuration: stale"),
        "{status}"
    );
    // Refused: the command starts GAP itself and says nothing about it.
    let out = d.run(true, &["-c", "1+1;"], b"", Path::new("/"));
    assert_eq!(text(&out.stdout), "2\n");
    assert_eq!(text(&out.stderr), "");
    assert_eq!(d.served(), 1);
    // With GAPRUN_DAEMON=auto the stale daemon is replaced.
    let out = d
        .raw(true)
        .env("GAPRUN_DAEMON", "auto")
        .args(["-A", "-c", "1+1;"])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "2\n");
    assert_eq!(text(&out.stderr), "");
    wait_for("a fresh daemon", || {
        let (code, _) = d.status();
        code == Some(0) && d.pids().iter().all(|&p| p != first_pid)
    });
    assert_eq!(d.served(), 0);
}
