//! `--shard K/N` on `run`, `test` and `batch` (no scheduler needed): the
//! shards of an input cover every task exactly once, keep each task's global
//! index, and together print what the whole run prints. Also the memory
//! outcome that a Slurm job's per-task memory share relies on.

mod common;

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn gaprun(sub: &str, args: &[&str], dir: &Path) -> Output {
    Command::new(common::gaprun_bin())
        .arg(sub)
        .arg("-A")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("gaprun runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json_lines(out: &Output) -> Vec<Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect()
}

/// The fields of a batch result that do not depend on timing.
fn stable(v: &Value) -> Value {
    let mut v = v.clone();
    for k in ["wall_ms", "cpu_ms", "peak_rss_kb"] {
        v.as_object_mut().unwrap().remove(k);
    }
    v
}

#[test]
fn batch_shards_cover_every_task_once_with_its_global_index() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..23)
        .map(|i| match i % 7 {
            3 => format!(r#"{{"id": {i}, "code": "Error(\"no {i}\");"}}"#),
            _ => format!(r#"{{"id": {i}, "code": "{i}^2;"}}"#),
        })
        .collect();
    // A blank line: line numbers and indices differ from here on.
    let mut file = lines[..5].join("\n");
    file.push_str("\n\n");
    file.push_str(&lines[5..].join("\n"));
    std::fs::write(dir.path().join("t.jsonl"), file).unwrap();
    let whole = gaprun("batch", &["-j", "2", "t.jsonl"], dir.path());
    assert_eq!(whole.status.code(), Some(1), "{}", text(&whole.stderr));
    let mut merged = Vec::new();
    for k in 0..4 {
        let shard = format!("{k}/4");
        let out = gaprun(
            "batch",
            &["-j", "2", "--shard", &shard, "t.jsonl"],
            dir.path(),
        );
        let results = json_lines(&out);
        let indices: Vec<u64> = results
            .iter()
            .map(|r| r["index"].as_u64().unwrap())
            .collect();
        // Equal weights: round-robin, in input order.
        let want: Vec<u64> = (0..23).filter(|i| i % 4 == k).collect();
        assert_eq!(indices, want, "shard {shard}");
        let fails = results.iter().filter(|r| r["status"] != "ok").count();
        assert_eq!(out.status.code(), Some(if fails > 0 { 1 } else { 0 }));
        merged.extend(results);
    }
    merged.sort_by_key(|r| r["index"].as_u64());
    let whole: Vec<Value> = json_lines(&whole).iter().map(stable).collect();
    let merged: Vec<Value> = merged.iter().map(stable).collect();
    assert_eq!(merged, whole);
}

#[test]
fn run_and_test_shards_together_print_the_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut names = Vec::new();
    for i in 0..7 {
        let name = format!("f{i}.g");
        std::fs::write(dir.path().join(&name), format!("Print(\"file {i}\\n\");\n")).unwrap();
        names.push(name);
    }
    let mut outputs = String::new();
    for k in 0..3 {
        let shard = format!("{k}/3");
        let mut args: Vec<&str> = vec!["-j", "2", "--shard", &shard];
        args.extend(names.iter().map(String::as_str));
        let out = gaprun("run", &args, dir.path());
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        outputs.push_str(&text(&out.stdout));
    }
    let mut got: Vec<&str> = outputs.lines().collect();
    got.sort();
    let want: Vec<String> = (0..7).map(|i| format!("file {i}")).collect();
    assert_eq!(got, want);

    // Test files of very different sizes: split by size, every file once.
    let tests = dir.path().join("tests");
    std::fs::create_dir(&tests).unwrap();
    for i in 0..6 {
        let body = "gap> 1 + 1;\n2\n".repeat(1 + i * i * i * i * 5);
        let body = if i == 4 {
            format!("{body}gap> 2;\n3\n")
        } else {
            body
        };
        std::fs::write(tests.join(format!("t{i}.tst")), body).unwrap();
    }
    let whole = gaprun("test", &["-j", "2", "tests"], dir.path());
    let verdicts = |o: &Output| -> Vec<String> {
        text(&o.stdout)
            .lines()
            .filter(|l| l.starts_with("ok ") || l.starts_with("FAIL "))
            .map(|l| l.split(" (").next().unwrap().to_string())
            .collect()
    };
    let mut merged = Vec::new();
    let mut sizes = Vec::new();
    for k in 0..2 {
        let shard = format!("{k}/2");
        let out = gaprun("test", &["-j", "2", "--shard", &shard, "tests"], dir.path());
        let v = verdicts(&out);
        sizes.push(v.len());
        merged.extend(v);
    }
    merged.sort();
    let mut want = verdicts(&whole);
    want.sort();
    assert_eq!(merged, want);
    assert!(want.iter().any(|l| l.starts_with("FAIL")), "{want:?}");
    // By size the largest file (t5) is alone against the five smaller ones.
    assert_eq!(sizes.iter().min(), Some(&1), "{sizes:?}");
}

#[test]
fn a_bad_shard_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.jsonl"), "{\"code\": \"1;\"}\n").unwrap();
    for bad in ["4/4", "1/0", "x"] {
        let out = gaprun("batch", &["--shard", bad, "t.jsonl"], dir.path());
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(text(&out.stderr).contains("K/N"), "{}", text(&out.stderr));
    }
}

/// Regression: a task whose workspace grows step by step past its memory
/// limit gets GAP 4.12's "reached the pre-set memory limit" error; it was
/// reported as `gap_error`. Inside a Slurm job every task has such a limit
/// (its share of the job's cgroup memory), so this must be `memory_limit`.
#[test]
fn a_task_growing_past_its_memory_limit_is_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.jsonl"),
        "{\"code\": \"L := [];; for i in [1..10^8] do Add(L, [i]); od;\"}\n{\"code\": \"1;\"}\n",
    )
    .unwrap();
    let out = gaprun(
        "batch",
        &["-j", "1", "--memory-limit", "200m", "t.jsonl"],
        dir.path(),
    );
    let results = json_lines(&out);
    assert_eq!(results[0]["status"], "memory_limit", "{}", results[0]);
    assert_eq!(results[1]["status"], "ok");
}
