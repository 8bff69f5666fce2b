//! The fork pool through the `gaprun` binary (`run`, `batch`, `test`):
//! forking must not happen inside the multi-threaded test harness, so these
//! tests drive the binary, which forks from its single main thread.

mod common;

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn gaprun(args: &[&str], dir: &Path) -> Output {
    // `-A` (no autoloaded packages) after the subcommand: top-level
    // arguments conflict with subcommands.
    Command::new(common::gaprun_bin())
        .args(&args[..1])
        .arg("-A")
        .args(&args[1..])
        .current_dir(dir)
        .output()
        .expect("gaprun runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn batch(lines: &[&str], extra: &[&str]) -> (Vec<Value>, Output) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tasks.jsonl"), lines.join("\n")).unwrap();
    let mut args = vec!["batch"];
    args.extend_from_slice(extra);
    args.push("tasks.jsonl");
    let out = gaprun(&args, dir.path());
    let results = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect();
    (results, out)
}

#[test]
fn two_hundred_scripts_all_succeed_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut names = Vec::new();
    for i in 0..200 {
        let name = format!("t{i:03}.g");
        std::fs::write(
            dir.path().join(&name),
            format!("x := {i};; Print(\"task \", x, \"\\n\");\n"),
        )
        .unwrap();
        names.push(name);
    }
    let mut args = vec!["run", "-j", "2"];
    args.extend(names.iter().map(String::as_str));
    let out = gaprun(&args, dir.path());
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let expected: String = (0..200).map(|i| format!("task {i}\n")).collect();
    assert_eq!(text(&out.stdout), expected);
}

#[test]
fn an_infinite_loop_times_out_while_the_others_finish() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.g"), "Print(\"a done\\n\");\n").unwrap();
    std::fs::write(dir.path().join("loop.g"), "while true do od;\n").unwrap();
    std::fs::write(dir.path().join("b.g"), "Print(\"b done\\n\");\n").unwrap();
    let start = std::time::Instant::now();
    let out = gaprun(
        &["run", "-j", "2", "--timeout", "2", "a.g", "loop.g", "b.g"],
        dir.path(),
    );
    assert!(start.elapsed().as_secs() < 60);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "a done\nb done\n");
    assert!(
        text(&out.stderr).contains("loop.g: timed out after 2 s"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn killed_and_segfaulting_children_are_reported() {
    let (results, out) = batch(
        &[
            r#"{"id": "kill", "code": "Exec(\"kill -KILL $PPID\");"}"#,
            r#"{"id": "segv", "code": "Exec(\"kill -SEGV $PPID\");"}"#,
            r#"{"id": "fine", "code": "2^10;"}"#,
        ],
        &["-j", "2"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["status"], "signaled");
    assert_eq!(results[0]["signal"], "SIGKILL");
    assert_eq!(results[1]["status"], "signaled");
    assert_eq!(results[1]["signal"], "SIGSEGV");
    assert_eq!(results[2]["status"], "ok");
    assert_eq!(results[2]["value"], "1024");
}

#[test]
fn a_gap_error_leaves_the_other_tasks_untouched() {
    let (results, out) = batch(
        &[
            r#"{"code": "Sum([1..10]);"}"#,
            r#"{"code": "1/0;"}"#,
            r#"{"code": "Factorial(5);"}"#,
        ],
        &["-j", "2"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(results[0]["status"], "ok");
    assert_eq!(results[0]["value"], "55");
    assert_eq!(results[1]["status"], "gap_error");
    assert!(results[1]["error"]
        .as_str()
        .unwrap()
        .contains("must not be zero"));
    assert!(results[1]["stderr"].as_str().unwrap().contains("Error, "));
    assert_eq!(results[2]["status"], "ok");
    assert_eq!(results[2]["value"], "120");
}

#[test]
fn a_global_set_by_one_task_is_invisible_to_the_next() {
    let (results, out) = batch(
        &[
            r#"{"code": "gaprun_leak := 42;"}"#,
            r#"{"code": "IsBoundGlobal(\"gaprun_leak\");"}"#,
        ],
        &["-j", "1"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(results[0]["value"], "42");
    assert_eq!(results[1]["value"], "false");
}

#[test]
fn variables_are_bound_before_the_task_runs() {
    let (results, out) = batch(
        &[
            r#"{"id": 7, "code": "Length(s) + n + Length(r.l);", "vars": {"n": 5, "s": "a\"b", "r": {"l": [1, null, true]}}}"#,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(results[0]["id"], 7);
    assert_eq!(results[0]["value"], "11");
}

#[test]
fn a_memory_hungry_task_is_stopped_and_the_batch_goes_on() {
    let (results, out) = batch(
        &[
            r#"{"code": "l := List([1..10^8], i -> [i]);;", "memory_limit": "300m"}"#,
            r#"{"code": "3 + 4;"}"#,
        ],
        &["-j", "2"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(results[0]["status"], "memory_limit", "{}", results[0]);
    assert_eq!(results[1]["value"], "7");
}

#[test]
fn quit_gap_sets_the_exit_code() {
    let (results, _) = batch(&[r#"{"code": "QuitGap(3);"}"#], &[]);
    assert_eq!(results[0]["status"], "exited");
    assert_eq!(results[0]["exit_code"], 3);
}

#[test]
fn a_bad_task_line_is_a_usage_error() {
    let (results, out) = batch(&[r#"{"code": "1;"}"#, r#"{"kode": "1;"}"#], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(results.is_empty());
    assert!(
        text(&out.stderr).contains("tasks.jsonl:2"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_test_runner_reports_passing_and_failing_files_with_gaps_diff() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("tst/sub");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(
        dir.path().join("tst/good.tst"),
        "gap> 1 + 1;\n2\ngap> Size(SymmetricGroup(4));\n24\n",
    )
    .unwrap();
    std::fs::write(sub.join("bad.tst"), "gap> 2 + 2;\n5\n").unwrap();
    std::fs::write(sub.join("notes.txt"), "not a test").unwrap();
    let out = gaprun(&["test", "-j", "2", "tst"], dir.path());
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.starts_with("ok    tst/good.tst")),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("FAIL  tst/sub/bad.tst")),
        "{stdout}"
    );
    // GAP's own diff: the input, expected and found output.
    assert!(stdout.contains("Diff in"), "{stdout}");
    assert!(stdout.contains("2 + 2;"), "{stdout}");
    assert!(stdout.contains('4'), "{stdout}");
    assert!(
        stdout.lines().any(|l| l == "1 passed, 1 failed"),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l == "0 skipped, 0 timed out"),
        "{stdout}"
    );

    let out = gaprun(&["test", "--skip", "bad", "tst"], dir.path());
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.lines().any(|l| l == "1 passed, 0 failed"),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l == "1 skipped, 0 timed out"),
        "{stdout}"
    );
}
