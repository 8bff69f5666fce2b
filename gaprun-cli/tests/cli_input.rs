//! Hostile and unusual input to `run`, `test` and `batch` (issue 11 items 1,
//! 5, 7, 8; issue 10 item 7): every bad number or line is a clear error with
//! exit 2 (never a Rust panic), numbers and bytes survive the trip into GAP,
//! and the pool plans memory for the workers that will really run.

mod common;

use base64::Engine;
use serde_json::Value;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Output};

/// `gaprun SUBCOMMAND -A ARGS…` in `dir`.
fn gaprun<S: AsRef<OsStr>>(sub: &str, args: &[S], dir: &Path) -> Output {
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

/// Exit 2 with a clear message on stderr that contains every one of
/// `wanted`, and no trace of a panic.
fn assert_usage_error(out: &Output, wanted: &[&str]) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(!stderr.contains("internal error"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for w in wanted {
        assert!(stderr.contains(w), "wanted {w:?} in: {stderr}");
    }
}

/// Run `gaprun batch` on these lines; the raw output and the parsed lines.
fn batch(lines: &[&str], extra: &[&str]) -> (Vec<Value>, Output) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tasks.jsonl"), lines.join("\n")).unwrap();
    let mut args: Vec<&str> = extra.to_vec();
    args.push("tasks.jsonl");
    let out = gaprun("batch", &args, dir.path());
    let results = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect();
    (results, out)
}

fn script_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.g"), "Print(\"fine\\n\");\n").unwrap();
    std::fs::write(dir.path().join("x.tst"), "gap> 1 + 1;\n2\n").unwrap();
    dir
}

#[test]
fn timeouts_too_large_or_not_positive_are_usage_errors() {
    let dir = script_dir();
    for (sub, file, value, wanted) in [
        ("run", "x.g", "1e20", "timeout too large"),
        ("test", "x.tst", "1e300", "timeout too large"),
        ("run", "x.g", "1e10", "timeout too large"),
        ("run", "x.g", "inf", "timeout"),
        ("run", "x.g", "NaN", "timeout"),
        ("run", "x.g", "-1", "positive"),
        ("run", "x.g", "0", "timeout"),
        ("test", "x.tst", "abc", "timeout"),
    ] {
        let flag = format!("--timeout={value}");
        let out = gaprun(sub, &[flag.as_str(), file], dir.path());
        assert_usage_error(&out, &[wanted, value]);
    }
    // A large but sane timeout is accepted.
    let out = gaprun("run", &["--timeout", "86400", "x.g"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "fine\n");
}

#[test]
fn sizes_and_job_counts_out_of_range_are_usage_errors() {
    let dir = script_dir();
    for args in [
        ["--memory-limit", "18446744073709551615"],
        ["--memory-limit", "16000000t"],
        ["-o", "18446744073709551615"],
        ["-s", "16000000t"],
        ["-K", "99999999999999999999"],
        ["-m", "17179869184g"],
    ] {
        let out = gaprun("run", &[args[0], args[1], "x.g"], dir.path());
        assert_usage_error(&out, &[args[1]]);
        assert!(text(&out.stderr).contains("too large"), "{args:?}");
    }
    let out = gaprun("run", &["-j", "0", "x.g"], dir.path());
    assert_usage_error(&out, &["-j"]);
    // A huge -j is harmless: no more workers than tasks are planned or run.
    let out = gaprun("run", &["-j", "5000000000", "x.g"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "fine\n");
}

#[test]
fn batch_numbers_out_of_range_are_line_errors() {
    for (line, wanted) in [
        (r#"{"code": "1;", "timeout": 1e20}"#, "timeout too large"),
        (r#"{"code": "1;", "timeout": 1e999}"#, "timeout"),
        (r#"{"code": "1;", "timeout": -5}"#, "timeout"),
        (r#"{"code": "1;", "timeout": "abc"}"#, "timeout"),
        (
            r#"{"code": "1;", "memory_limit": 18446744073709551615}"#,
            "too large",
        ),
        (
            r#"{"code": "1;", "memory_limit": 184467440737095516150}"#,
            "memory_limit",
        ),
        (
            r#"{"code": "1;", "memory_limit": "16000000t"}"#,
            "too large",
        ),
        (r#"{"code": "1;", "memory_limit": 1.5}"#, "memory_limit"),
        (r#"{"code": "1;", "vars": {"x": 1e400}}"#, "x"),
    ] {
        let (results, out) = batch(&[r#"{"code": "1;"}"#, line], &[]);
        assert!(results.is_empty(), "{line}");
        assert_usage_error(&out, &["tasks.jsonl:2: ", wanted]);
    }
}

#[test]
fn batch_lines_of_the_wrong_shape_are_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().to_str().unwrap().to_string();
    let folder_line = serde_json::json!({ "file": folder }).to_string();
    let test_folder_line = serde_json::json!({ "test": folder }).to_string();
    let missing = serde_json::json!({ "file": format!("{folder}/missing.g") }).to_string();
    for (line, wanted) in [
        ("[1, 2]", "a task is a JSON object"),
        ("5", "a task is a JSON object"),
        ("\"code\"", "a task is a JSON object"),
        ("null", "a task is a JSON object"),
        ("{\"code\": \"1;\"", "tasks.jsonl:2"),
        (folder_line.as_str(), "is a folder"),
        (test_folder_line.as_str(), "is a folder"),
        (missing.as_str(), "cannot read"),
        (r#"{"code": "1;", "kode": 1}"#, "kode"),
        (r#"{"code": 5}"#, "code"),
        (r#"{"code": "1;", "id": {"a": 1}}"#, "\"id\""),
        (r#"{"code": "1;", "id": [1]}"#, "\"id\""),
        (r#"{"code": "1;", "vars": [1]}"#, "\"vars\""),
        (r#"{"code": "1;", "vars": "x"}"#, "\"vars\""),
        (r#"{"code": "1;", "vars": {"12": 1}}"#, "`12`"),
        (r#"{"code": "1;", "vars": {"x-y": 1}}"#, "x-y"),
        (r#"{"code": "1;", "file": 5}"#, "\"file\""),
        (r#"{"code": "1;", "vars": {"s": {"": 1}}}"#, "empty"),
        (r#"{"code": "1;", "vars": {"a b": 1}}"#, "a b"),
        (
            r#"{"code": "1;", "vars": {"s": {"base64": "!!"}}}"#,
            "base64",
        ),
    ] {
        let (results, out) = batch(&[r#"{"code": "1;"}"#, line], &[]);
        assert!(results.is_empty(), "{line}");
        assert_usage_error(&out, &["tasks.jsonl:2", wanted]);
    }
}

#[test]
fn batch_vars_keep_numbers_exact_and_bytes_whole() {
    let bytes = base64::engine::general_purpose::STANDARD.encode(b"\xff\xfeab");
    let line = format!(
        r#"{{"id": 123456789012345678901234567890, "vars": {{"m": 18446744073709551616, "n": -18446744073709551617, "f": 2.5, "g": -1e300, "small": -7, "r": {{"a": [1, {{"b": 123456789012345678901234567890}}], "t": true, "z": null}}, "s": {{"base64": "{bytes}"}}, "u": "h\u00e9"}}, "code": "Print([m = 2^64, n = -2^64 - 1, IsFloat(f) and f = 2.5, IsFloat(g) and g < -1.0e299, small = -7, r.a[2].b = 123456789012345678901234567890, r.t, r.z = fail, s = [CHAR_INT(255), CHAR_INT(254), 'a', 'b'], IsString(s), Length(u) = 3], \"\\n\");"}}"#
    );
    let (results, out) = batch(&[line.as_str()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["status"], "ok", "{}", results[0]);
    assert_eq!(
        results[0]["stdout"],
        "[ true, true, true, true, true, true, true, true, true, true, true ]\n"
    );
    // The id comes back exactly as it was written.
    assert!(
        text(&out.stdout).contains(r#""id":123456789012345678901234567890"#),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn batch_vars_are_gap_objects_not_source_text() {
    // A string that is GAP source must arrive as that string, not be run.
    let (results, out) = batch(
        &[
            r#"{"vars": {"s": "1 + 1", "k": "\"; Print(\"oops\"); \""}, "code": "Print(s, \"|\", Length(k), \"\\n\");"}"#,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(results[0]["stdout"], "1 + 1|19\n");
    // A keyword is not a variable name GAP code could use.
    let (results, out) = batch(&[r#"{"vars": {"if": 1}, "code": "1;"}"#], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(results[0]["status"], "gap_error", "{}", results[0]);
    assert!(
        results[0]["error"].as_str().unwrap().contains("`if`"),
        "{}",
        results[0]
    );
}

#[test]
fn test_files_with_non_utf8_names_run_and_are_named_faithfully() {
    let dir = tempfile::tempdir().unwrap();
    let good = OsStr::from_bytes(b"good\xff\xfe.tst");
    let bad = OsStr::from_bytes(b"bad\xe9.tst");
    std::fs::write(dir.path().join(good), "gap> 1 + 1;\n2\n").unwrap();
    std::fs::write(dir.path().join(bad), "gap> 2 + 2;\n5\n").unwrap();
    let out = gaprun("test", &[good, bad], dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = out.stdout.clone();
    let has_line_starting =
        |prefix: &[u8]| stdout.split(|&b| b == b'\n').any(|l| l.starts_with(prefix));
    assert!(
        has_line_starting(b"ok    good\xff\xfe.tst ("),
        "{}",
        text(&stdout)
    );
    assert!(
        has_line_starting(b"FAIL  bad\xe9.tst ("),
        "{}",
        text(&stdout)
    );
    // GAP read the file (its diff shows the input), under its real name.
    assert!(text(&stdout).contains("2 + 2;"), "{}", text(&stdout));
    assert!(
        stdout.windows(8).any(|w| w == b"bad\xe9.tst"),
        "{}",
        text(&stdout)
    );
    assert!(
        !text(&out.stderr).contains("Cannot read"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&stdout).lines().any(|l| l == "1 passed, 1 failed"),
        "{}",
        text(&stdout)
    );

    // batch names such files as {"base64": …}.
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let script = OsStr::from_bytes(b"s\xff.g");
    std::fs::write(dir.path().join(script), "Print(\"ran\\n\");\n").unwrap();
    let lines = format!(
        "{{\"test\": {{\"base64\": \"{}\"}}}}\n{{\"file\": {{\"base64\": \"{}\"}}}}\n",
        b64(good.as_bytes()),
        b64(script.as_bytes())
    );
    std::fs::write(dir.path().join("tasks.jsonl"), lines).unwrap();
    let out = gaprun("batch", &["tasks.jsonl"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let results: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results[0]["status"], "ok", "{}", results[0]);
    assert_eq!(results[1]["stdout"], "ran\n", "{}", results[1]);
}

#[test]
fn a_huge_job_count_plans_memory_for_the_tasks_that_run() {
    // One task of 320 MB: with -j 10000 the pool policy used to divide GAP's
    // workspace limit (-o) among 10000 planned workers and the task failed.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("big.g"),
        "l := ListWithIdenticalEntries(40000000, 0);; l[1] := 1;; Print(Length(l), \"\\n\");\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("big.jsonl"), "{\"file\": \"big.g\"}\n").unwrap();
    std::fs::write(
        dir.path().join("big.tst"),
        "gap> l := ListWithIdenticalEntries(40000000, 0);; Length(l);\n40000000\n",
    )
    .unwrap();
    for (sub, file) in [
        ("run", "big.g"),
        ("batch", "big.jsonl"),
        ("test", "big.tst"),
    ] {
        let out = gaprun(sub, &["-j", "10000", file], dir.path());
        assert_eq!(out.status.code(), Some(0), "{sub}: {}", text(&out.stderr));
        let wanted = if sub == "test" {
            "1 passed, 0 failed"
        } else {
            "40000000"
        };
        assert!(text(&out.stdout).contains(wanted), "{}", text(&out.stdout));
    }
}

#[test]
fn json_values_convert_exactly_into_gap_objects() {
    common::with_gap(|gap| {
        use gaprun::convert::{check_json, ByteString};
        let json = |t: &str| -> Value { serde_json::from_str(t).unwrap() };
        let same = |t: &str, gap_code: &str| {
            let v = json(t);
            check_json(&v).unwrap();
            let obj = gap.value(&v).unwrap();
            let want = gap.eval_value(gap_code).unwrap();
            assert!(obj.equals(&want).unwrap(), "{t}: {obj} vs {want}");
            // Same kind too: an integer stays an integer, a float a float.
            assert_eq!(obj.kind().unwrap(), want.kind().unwrap(), "{t}");
        };
        same("18446744073709551616", "2^64");
        same("-18446744073709551617", "-2^64 - 1");
        same("-9223372036854775808", "-2^63");
        same(
            "123456789012345678901234567890123",
            "123456789012345678901234567890123",
        );
        same("-0", "0");
        same("2.5", "2.5");
        same("1e5", "100000.0");
        same("-1.5e-3", "-0.0015");
        same(
            r#"{"a": [1, {"b": -99999999999999999999}], "c": null, "d": true}"#,
            "rec(a := [1, rec(b := -99999999999999999999)], c := fail, d := true)",
        );
        let bytes = gap
            .value(&json(r#"{"base64": "//5hYg=="}"#))
            .unwrap()
            .extract::<ByteString>()
            .unwrap();
        assert_eq!(bytes.0, b"\xff\xfeab");
        // A record that merely has a `base64` field next to others is a record.
        same(r#"{"base64": "x", "y": 1}"#, "rec(base64 := \"x\", y := 1)");
        for bad in ["1e400", "-1e400", r#"[1, {"base64": "!!"}]"#, r#"{"": 1}"#] {
            let v = json(bad);
            assert!(check_json(&v).is_err(), "{bad}");
            assert!(gap.value(&v).is_err(), "{bad}");
        }
    });
}
