//! What a task sees and what is reported about it (issue 10 items 3, 5-8;
//! issue 11 items 3 and 10), through the `gaprun` binary: forking must not
//! happen inside the multi-threaded test harness.

mod common;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn gaprun_cmd(args: &[&str], dir: &Path) -> Command {
    let mut cmd = Command::new(common::gaprun_bin());
    cmd.args(&args[..1])
        .arg("-A")
        .args(&args[1..])
        .current_dir(dir);
    cmd
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn batch_in(dir: &Path, lines: &[&str], extra: &[&str]) -> (Vec<Value>, Output) {
    std::fs::write(dir.join("tasks.jsonl"), lines.join("\n")).unwrap();
    let mut args = vec!["batch"];
    args.extend_from_slice(extra);
    args.push("tasks.jsonl");
    let out = gaprun_cmd(&args, dir).output().expect("gaprun runs");
    let results = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect();
    (results, out)
}

fn batch(lines: &[&str], extra: &[&str]) -> (Vec<Value>, Output) {
    let dir = tempfile::tempdir().unwrap();
    batch_in(dir.path(), lines, extra)
}

/// Processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            let cmdline = text(&cmdline).replace('\0', " ");
            if cmdline.contains(marker) {
                found.push(format!("{pid}: {cmdline}"));
            }
        }
    }
    found
}

/// Whether a process exists and is not a zombie.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim().to_string()))
        .is_some_and(|rest| !rest.starts_with('Z'))
}

/// Poll until `cond` holds or 20 s passed; whether it held.
fn eventually(cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    cond()
}

/// Wait for `child` at most 60 s; past that kill its process group (it
/// ignored the signal) and fail.
fn wait_bounded(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            // SAFETY: signals the test's own child (and its group).
            unsafe {
                libc::kill(-(child.id() as i32), libc::SIGKILL);
                libc::kill(child.id() as i32, libc::SIGKILL);
            }
            let _ = child.wait();
            panic!("gaprun did not stop within 60 s of the signal");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A marker no other process has: a `sleep` duration unique to this run.
fn marker(n: u32) -> String {
    format!("{}.{}{n}", 3000 + n, std::process::id())
}

// ---- issue 10 item 3: Test() sees what it sees under gap ----------------

#[test]
fn a_test_file_sees_the_file_ids_gap_has_open() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fid.tst"),
        "gap> IsInt(POSITION_FILE(4));\ntrue\n",
    )
    .unwrap();
    if let Some(mut gap) = common::gap_command() {
        let out = gap
            .arg("-A")
            .current_dir(dir.path())
            .stdin(std::fs::File::open("/dev/null").unwrap())
            .arg("-c")
            .arg("Print(Test(\"fid.tst\"), \"\\n\"); QUIT_GAP(0);")
            .output()
            .unwrap();
        let stdout = text(&out.stdout);
        assert!(
            stdout.trim_end().ends_with("true"),
            "gap's Test() passes the file: {stdout}"
        );
    }
    let out = gaprun_cmd(&["test", "fid.tst"], dir.path())
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.lines().any(|l| l == "1 passed, 0 failed"),
        "{stdout}"
    );
    let (results, _) = batch_in(dir.path(), &[r#"{"test": "fid.tst"}"#], &[]);
    assert_eq!(results[0]["status"], "ok", "{}", results[0]);
}

// ---- issue 10 items 5, 6: a code task's output is kept ------------------

#[test]
fn a_code_task_that_quits_is_exited_with_its_output() {
    let (results, _) = batch(
        &[
            r#"{"code": "Print(\"one\\n\"); QUIT_GAP(3); Print(\"never\\n\");"}"#,
            r#"{"code": "f := function() Print(\"two\\n\"); QuitGap(4); end;; f(); 5;"}"#,
        ],
        &[],
    );
    assert_eq!(results[0]["status"], "exited", "{}", results[0]);
    assert_eq!(results[0]["exit_code"], 3);
    assert_eq!(results[0]["stdout"], "one\n");
    assert_eq!(results[0]["value"], Value::Null);
    assert_eq!(results[1]["status"], "exited", "{}", results[1]);
    assert_eq!(results[1]["exit_code"], 4);
    assert_eq!(results[1]["stdout"], "two\n");
}

#[test]
fn a_code_task_keeps_its_output_when_it_times_out_or_crashes() {
    let (results, _) = batch(
        &[
            r#"{"code": "Print(\"before\\n\"); while true do od;", "timeout": 2}"#,
            r#"{"code": "Print(\"x\\n\"); Exec(\"kill -SEGV $PPID\");"}"#,
        ],
        &["-j", "2"],
    );
    assert_eq!(results[0]["status"], "timeout", "{}", results[0]);
    assert_eq!(results[0]["stdout"], "before\n");
    assert_eq!(results[1]["status"], "signaled", "{}", results[1]);
    assert_eq!(results[1]["stdout"], "x\n");
}

#[test]
fn the_output_cap_applies_to_code_tasks() {
    let (results, _) = batch(
        &[
            r#"{"code": "s := ListWithIdenticalEntries(1000, 'x');; while true do Print(s, \"\\n\"); od;", "timeout": 20}"#,
        ],
        &[],
    );
    let r = &results[0];
    assert_eq!(r["status"], "timeout");
    assert_eq!(
        r["output_truncated"],
        true,
        "{}",
        r["stdout"].as_str().map_or(0, str::len)
    );
    assert_eq!(r["stdout"].as_str().unwrap().len(), 64 << 20);
    // The worker did not keep the output: far below the 64 MiB it printed
    // many times over.
    let rss = r["peak_rss_kb"].as_u64().unwrap();
    assert!(rss < 600 << 10, "peak RSS {rss} KiB");
}

// ---- issue 10 items 7, 8: statuses and text -----------------------------

#[test]
fn statuses_are_consistent_and_exit_codes_meaningful() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hungry.g"),
        "l := [];; while true do Add(l, [1..1000]); od;\n",
    )
    .unwrap();
    let (results, _) = batch_in(
        dir.path(),
        &[
            r#"{"code": "5; Error(\"boom\");"}"#,
            r#"{"code": "l := [];; while true do Add(l, [1..1000]); od;", "memory_limit": "300m"}"#,
            r#"{"code": "x := ListWithIdenticalEntries(10^8, 0);;", "memory_limit": "200m"}"#,
            r#"{"code": "6;"}"#,
            r#"{"code": "while true do od;", "timeout": 1}"#,
            r#"{"file": "hungry.g", "memory_limit": "300m"}"#,
        ],
        &["-j", "2"],
    );
    assert_eq!(results[0]["status"], "gap_error");
    assert_eq!(
        results[0]["value"],
        Value::Null,
        "no value from an earlier statement"
    );
    assert_eq!(results[0]["exit_code"], 0);
    // -o (GAP's error) and -K (cannot extend the workspace): one status.
    for r in &results[1..3] {
        assert_eq!(r["status"], "memory_limit", "{r}");
    }
    assert_eq!(results[3]["status"], "ok");
    assert_eq!(results[3]["exit_code"], 0);
    assert_eq!(results[4]["status"], "timeout");
    assert_eq!(results[4]["exit_code"], Value::Null);
    assert_eq!(results[4]["signal"], "SIGKILL");
    // The same cause in a file task: the same status.
    assert_eq!(results[5]["status"], "memory_limit", "{}", results[5]);
}

/// The memory-limit status comes from the shim (where GAP raised the
/// error), not from GAP's words: a task raising an ordinary error that
/// quotes GAP's memory messages is an ordinary GAP error (issue 12 item 4).
#[test]
fn an_error_quoting_a_memory_message_is_a_gap_error() {
    let dir = tempfile::tempdir().unwrap();
    let fake = r#"Error(\"reached the pre-set memory limit\");"#;
    std::fs::write(
        dir.path().join("fake.g"),
        "Error(\"exceeded the permitted memory\");\n",
    )
    .unwrap();
    let code = format!(r#"{{"code": "{fake}"}}"#);
    let (results, _) = batch_in(dir.path(), &[&code, r#"{"file": "fake.g"}"#], &[]);
    assert_eq!(results.len(), 2);
    for r in &results {
        assert_eq!(r["status"], "gap_error", "{r}");
    }
}

#[test]
fn output_and_values_that_are_not_utf8_keep_their_bytes() {
    // GAP's view escapes such bytes in strings; an object whose ViewObj
    // prints them raw has a view that is not UTF-8.
    let (results, _) = batch(
        &[
            r#"{"code": "Print(\"a\\377\\n\"); PrintTo(\"*errout*\", \"b\\376\\n\");"}"#,
            concat!(
                r#"{"code": "DeclareFilter(\"IsQ\");; "#,
                r#"t := NewType(NewFamily(\"Q\"), IsQ and IsComponentObjectRep);; "#,
                r#"InstallMethod(ViewObj, [IsQ], function(o) Print(\"v\\377\"); end);; "#,
                r#"Objectify(t, rec());"}"#
            ),
        ],
        &[],
    );
    let r = &results[0];
    assert_eq!(r["status"], "ok", "{r}");
    assert_eq!(r["stdout_base64"], "Yf8K", "{r}");
    assert_eq!(r["stderr_base64"], "Yv4K", "{r}");
    let r = &results[1];
    assert_eq!(r["status"], "ok", "{r}");
    assert_eq!(r["value_base64"], "dv8=", "{r}");
}

#[test]
fn io_fork_inside_a_task_is_reported_once() {
    let (results, out) = batch(
        &[
            r#"{"code": "LoadPackage(\"io\");; pid := IO_fork();; if pid = 0 then QUIT_GAP(0); fi; IsInt(pid) and pid > 0;"}"#,
        ],
        &[],
    );
    assert_eq!(results.len(), 1, "{}", text(&out.stdout));
    assert_eq!(results[0]["status"], "ok", "{}", results[0]);
    assert_eq!(results[0]["value"], "true");
}

// ---- issue 11 item 3: nothing a task started outlives it ----------------

/// The task (not the child, which may be killed before it gets to run)
/// writes the pid `IO_fork` returned.
#[test]
fn a_forked_spinning_child_dies_with_its_task() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let line = format!(
        r#"{{"code": "LoadPackage(\"io\");; pid := IO_fork();; if pid = 0 then while true do od; fi; PrintTo(\"{}\", pid); 1;"}}"#,
        pid_file.display()
    );
    let (results, _) = batch_in(dir.path(), &[&line], &[]);
    assert_eq!(results[0]["status"], "ok", "{}", results[0]);
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("the task wrote its forked child's pid")
        .trim()
        .parse()
        .unwrap();
    assert!(
        eventually(|| !alive(pid)),
        "process {pid} forked by the task still runs after gaprun exited"
    );
}

#[test]
fn processes_a_timed_out_task_started_die_with_it_even_daemons() {
    let (a, b, c) = (marker(1), marker(2), marker(3));
    let line = format!(
        r#"{{"code": "Exec(\"sleep {a} & setsid sleep {b} & sleep {c}\");", "timeout": 3}}"#
    );
    let (results, _) = batch(&[&line], &[]);
    assert_eq!(results[0]["status"], "timeout", "{}", results[0]);
    for m in [&a, &b, &c] {
        assert!(
            eventually(|| processes_with(m).is_empty()),
            "left running: {:?}",
            processes_with(m)
        );
    }
}

// ---- issue 11 item 10: the first SIGINT stops the batch -----------------

/// Start a batch whose first task finishes at once and whose second runs
/// `sleep MARKER` forever; wait for the first result line.
fn start_stoppable_batch(dir: &Path, m: &str) -> (std::process::Child, String) {
    let lines = [
        r#"{"code": "1;"}"#.to_string(),
        format!(r#"{{"code": "while true do Exec(\"sleep {m}\"); od;"}}"#),
    ];
    std::fs::write(dir.join("tasks.jsonl"), lines.join("\n")).unwrap();
    let mut cmd = gaprun_cmd(&["batch", "-j", "1", "tasks.jsonl"], dir);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    // Like a shell's job: the terminal's Ctrl-C goes to the whole group.
    cmd.process_group(0);
    let mut child = cmd.spawn().unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(
        eventually(|| !processes_with(m).is_empty()),
        "the task started"
    );
    (child, first)
}

fn stopped(mut child: std::process::Child, first: &str, m: &str) {
    let status = wait_bounded(&mut child);
    let mut rest = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut rest).unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "stderr: {err}");
    let r: Value = serde_json::from_str(first).unwrap();
    assert_eq!(r["value"], "1");
    assert_eq!(rest, "", "the stopped task has no result line");
    assert!(err.contains("stopped by SIGINT"), "{err}");
    assert!(
        eventually(|| processes_with(m).is_empty()),
        "left running: {:?}",
        processes_with(m)
    );
}

#[test]
fn ctrl_c_to_the_process_group_stops_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let m = marker(4);
    let (child, first) = start_stoppable_batch(dir.path(), &m);
    // SAFETY: sends a signal to the test's own child's process group.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGINT) };
    stopped(child, &first, &m);
}

#[test]
fn sigint_to_the_parent_alone_stops_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let m = marker(5);
    let (child, first) = start_stoppable_batch(dir.path(), &m);
    // Only the parent, not its group.
    // SAFETY: sends a signal to the test's own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    stopped(child, &first, &m);
}

#[test]
fn ctrl_c_stops_run_and_test_too() {
    let dir = tempfile::tempdir().unwrap();
    let m = marker(6);
    std::fs::write(dir.path().join("a.g"), "Print(\"a done\\n\");\n").unwrap();
    std::fs::write(
        dir.path().join("loop.g"),
        format!("while true do Exec(\"sleep {m}\"); od;\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("loop.tst"),
        format!("gap> while true do Exec(\"sleep {m}\"); od;\n"),
    )
    .unwrap();
    for args in [
        &["run", "-j", "2", "a.g", "loop.g"][..],
        &["test", "loop.tst"][..],
    ] {
        let mut cmd = gaprun_cmd(args, dir.path());
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.process_group(0);
        let mut child = cmd.spawn().unwrap();
        assert!(
            eventually(|| !processes_with(&m).is_empty()),
            "{args:?} started"
        );
        // SAFETY: sends a signal to the test's own child's process group.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGINT) };
        wait_bounded(&mut child);
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(130),
            "{args:?}: {}",
            text(&out.stderr)
        );
        if args[0] == "run" {
            assert_eq!(text(&out.stdout), "a done\n");
        } else {
            assert!(
                text(&out.stdout).contains("0 passed, 0 failed"),
                "{}",
                text(&out.stdout)
            );
        }
        assert!(
            eventually(|| processes_with(&m).is_empty()),
            "left running: {:?}",
            processes_with(&m)
        );
    }
}

/// A sharded batch stopped while a finished task's result is held for an
/// earlier, unfinished one: the held result is printed under its own global
/// index, line and id (regression: the flush after a stop numbered held
/// results by their place in the shard, so task 3 came out as task 1).
#[test]
fn a_stopped_shard_prints_held_results_under_their_own_index() {
    let dir = tempfile::tempdir().unwrap();
    let m = marker(7);
    // --shard 1/2 of four equal tasks runs tasks 1 ("b", never ends) and
    // 3 ("d", ends at once and waits for "b" to be printed).
    let lines = [
        r#"{"id": "a", "code": "1;"}"#.to_string(),
        format!(r#"{{"id": "b", "code": "while true do Exec(\"sleep {m}\"); od;"}}"#),
        r#"{"id": "c", "code": "3;"}"#.to_string(),
        r#"{"id": "d", "code": "PrintTo(\"d.done\", 4);; 4;"}"#.to_string(),
    ];
    std::fs::write(dir.path().join("tasks.jsonl"), lines.join("\n")).unwrap();
    let mut cmd = gaprun_cmd(
        &["batch", "-j", "2", "--shard", "1/2", "tasks.jsonl"],
        dir.path(),
    );
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    assert!(
        eventually(|| dir.path().join("d.done").exists() && !processes_with(&m).is_empty()),
        "both tasks started"
    );
    // Let the parent reap "d" and hold its result.
    std::thread::sleep(Duration::from_secs(2));
    // SAFETY: sends a signal to the test's own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = wait_bounded(&mut child);
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert_eq!(status.code(), Some(130));
    let results: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), 1, "{out}");
    assert_eq!(results[0]["id"], "d", "{out}");
    assert_eq!(results[0]["index"], 3, "{out}");
    assert_eq!(results[0]["line"], 4, "{out}");
    assert_eq!(results[0]["value"], "4", "{out}");
    assert!(eventually(|| processes_with(&m).is_empty()));
}
