//! Packages every task loads are loaded once in the parent before forking
//! (`run`, `batch`, `test`; opt out with `--no-preload-packages`): the
//! outputs must be those of the tasks loading them themselves, and those of
//! the distribution's `gap`.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `gaprun SUBCOMMAND -A [extra] args…` in `dir`, with the preload report
/// on stderr (`GAPRUN_DEBUG=preload`).
fn gaprun(sub: &str, extra: &[&str], args: &[&str], dir: &Path) -> Output {
    Command::new(common::gaprun_bin())
        .arg(sub)
        .arg("-A")
        .args(extra)
        .args(args)
        .current_dir(dir)
        .env("GAPRUN_DEBUG", "preload")
        .stdin(Stdio::null())
        .output()
        .expect("gaprun runs")
}

/// The preload report line gaprun printed (`gaprun: preload: [names] (N ms)`).
fn preloaded(out: &Output) -> String {
    let err = text(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.starts_with("gaprun: preload: "))
        .unwrap_or_else(|| panic!("no preload report in stderr: {err}"));
    line["gaprun: preload: ".len()..]
        .split(" (")
        .next()
        .unwrap()
        .to_string()
}

/// Stderr without the preload report.
fn stderr_without_report(out: &Output) -> String {
    text(&out.stderr)
        .lines()
        .filter(|l| !l.starts_with("gaprun: preload: "))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn write(dir: &Path, name: &str, body: &str) {
    std::fs::write(dir.join(name), body).unwrap();
}

/// `run` with and without preloading: same stdout, stderr and exit code;
/// only the preloaded run loaded the package in the parent.
fn run_both(files: &[&str], dir: &Path) -> (Output, Output) {
    let with = gaprun("run", &["-j", "2"], files, dir);
    let without = gaprun("run", &["-j", "2", "--no-preload-packages"], files, dir);
    assert_eq!(text(&with.stdout), text(&without.stdout));
    assert_eq!(stderr_without_report(&with), text(&without.stderr));
    assert_eq!(with.status.code(), without.status.code());
    (with, without)
}

#[test]
fn run_preloads_a_package_every_script_loads_with_the_same_output_as_gap() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for i in 1..=6 {
        let name = format!("s{i}.g");
        // Both forms of the call, the value of a call printed, and a
        // second call (the package is loaded by then under any rule).
        let load = if i % 2 == 0 {
            "LoadPackage(\"io\", false)"
        } else {
            "LoadPackage( \"IO\" )"
        };
        write(
            dir.path(),
            &name,
            &format!(
                "# a script\nPrint({load}, \"\\n\");\nPrint(LoadPackage(\"io\"), \"\\n\");\n\
                 Print(IO_getpid() > 0, NrConjugacyClasses(SymmetricGroup({i})), \"\\n\");\n"
            ),
        );
        files.push(name);
    }
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let (with, _) = run_both(&files, dir.path());
    assert_eq!(with.status.code(), Some(0), "{}", text(&with.stderr));
    // io: installed with every supported GAP, and not loaded at start with
    // `-A` by any (smallgrp is, from GAP 4.13 on).
    assert_eq!(preloaded(&with), "[IO]");
    // The distribution's gap, one process per script, prints the same.
    let Some(_) = common::gap_command() else {
        return;
    };
    let mut expected = String::new();
    for f in &files {
        let out = common::gap_command()
            .unwrap()
            .args(["-A", "--quitonbreak", f])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        expected.push_str(&text(&out.stdout));
    }
    assert_eq!(text(&with.stdout), expected);
}

#[test]
fn a_package_not_every_task_loads_is_not_preloaded() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.g",
        "LoadPackage(\"io\");;\nPrint(IsPackageLoaded(\"io\"), \"\\n\");\n",
    );
    // Names the package only in a comment and a string: it must not see it.
    write(
        dir.path(),
        "b.g",
        "# LoadPackage(\"io\");\nPrint(\"LoadPackage(\\\"io\\\")\", IsPackageLoaded(\"io\"), \"\\n\");\n",
    );
    let (with, _) = run_both(&["a.g", "b.g"], dir.path());
    assert_eq!(preloaded(&with), "[]");
    assert_eq!(text(&with.stdout), "true\nLoadPackage(\"io\")false\n");
}

#[test]
fn a_package_that_cannot_load_is_left_to_the_tasks() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.g", "b.g"] {
        write(
            dir.path(),
            name,
            "Print(LoadPackage(\"nosuchpackage\"), \"\\n\");\n",
        );
    }
    let (with, _) = run_both(&["a.g", "b.g"], dir.path());
    assert_eq!(preloaded(&with), "[]");
    let out = text(&with.stdout);
    assert_eq!(
        out.matches("nosuchpackage package is not available")
            .count(),
        2,
        "{out}"
    );
    assert_eq!(out.matches("fail\n").count(), 2, "{out}");
}

/// A package whose loading prints: preloading would move its message out
/// of the tasks' output, so it is not preloaded (the trial child saw it).
#[test]
fn a_package_that_prints_when_loading_is_not_preloaded() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("root/pkg/noisy");
    std::fs::create_dir_all(&pkg).unwrap();
    write(
        &pkg,
        "PackageInfo.g",
        r#"SetPackageInfo( rec(
  PackageName := "noisy", Subtitle := "prints when loaded", Version := "1.0",
  Date := "01/01/2025", License := "GPL-2.0-or-later",
  PackageWWWHome := "https://example.org/", README_URL := "https://example.org/README",
  PackageInfoURL := "https://example.org/PackageInfo.g",
  ArchiveURL := "https://example.org/noisy-1.0", ArchiveFormats := ".tar.gz",
  AbstractHTML := "", Persons := [], Status := "other",
  PackageDoc := rec( BookName := "noisy", ArchiveURLSubset := ["doc"], HTMLStart := "doc/chap0.html",
    PDFFile := "doc/manual.pdf", SixFile := "doc/manual.six", LongTitle := "noisy" ),
  Dependencies := rec( GAP := ">= 4.10", NeededOtherPackages := [], SuggestedOtherPackages := [],
    ExternalConditions := [] ),
  AvailabilityTest := ReturnTrue ) );
"#,
    );
    write(&pkg, "init.g", "Print(\"noisy: init\\n\");\n");
    write(&pkg, "read.g", "BindGlobal(\"NoisyValue\", 42);\n");
    let roots: Vec<String> = gaprun::runtime::built_in_roots()
        .iter()
        .map(|p| p.display().to_string())
        .chain([dir.path().join("root").display().to_string()])
        .collect();
    let root_arg = roots.join(";");
    for name in ["a.g", "b.g"] {
        write(
            dir.path(),
            name,
            "LoadPackage(\"noisy\");;\nPrint(NoisyValue, \"\\n\");\n",
        );
    }
    let extra = ["--gap-root", root_arg.as_str(), "-j", "2"];
    let with = gaprun("run", &extra, &["a.g", "b.g"], dir.path());
    let mut extra_off = extra.to_vec();
    extra_off.push("--no-preload-packages");
    let without = gaprun("run", &extra_off, &["a.g", "b.g"], dir.path());
    assert_eq!(with.status.code(), Some(0), "{}", text(&with.stderr));
    assert_eq!(preloaded(&with), "[]");
    assert_eq!(text(&with.stdout), "noisy: init\n42\nnoisy: init\n42\n");
    assert_eq!(text(&with.stdout), text(&without.stdout));
}

#[test]
fn batch_code_tasks_show_the_same_value_of_load_package() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        r#"{"id": 1, "code": "LoadPackage(\"io\");"}"#,
        r#"{"id": 2, "code": "x := LoadPackage(\"io\", false);; Print(x, \"\\n\"); IsPackageLoaded(\"io\");"}"#,
    ];
    write(dir.path(), "tasks.jsonl", &lines.join("\n"));
    let strip = |out: &Output| -> Vec<serde_json::Value> {
        text(&out.stdout)
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                for k in ["wall_ms", "cpu_ms", "peak_rss_kb"] {
                    v.as_object_mut().unwrap().remove(k);
                }
                v
            })
            .collect()
    };
    let with = gaprun("batch", &[], &["tasks.jsonl"], dir.path());
    let without = gaprun(
        "batch",
        &["--no-preload-packages"],
        &["tasks.jsonl"],
        dir.path(),
    );
    assert_eq!(preloaded(&with), "[io]");
    let results = strip(&with);
    assert_eq!(results, strip(&without));
    assert_eq!(results[0]["value"], "true");
    assert_eq!(results[0]["stdout"], "");
    assert_eq!(results[1]["stdout"], "true\n");
    // `gap` shows the same value for the call typed at its prompt.
    if let Some(mut gap) = common::gap_command() {
        let out = gap
            .args(["-A"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(b"LoadPackage(\"io\");\nQUIT;\n")?;
                child.wait_with_output()
            })
            .unwrap();
        assert_eq!(text(&out.stdout).trim(), "true");
    }
}

#[test]
fn test_files_that_load_a_package_pass_alike() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.tst",
        "gap> LoadPackage(\"io\");\ntrue\ngap> IsPackageLoaded(\"io\");\ntrue\n",
    );
    write(
        dir.path(),
        "b.tst",
        "gap> LoadPackage(\"io\", false);\ntrue\ngap> 1 + 1;\n2\n",
    );
    let with = gaprun("test", &["-j", "2"], &["a.tst", "b.tst"], dir.path());
    let without = gaprun(
        "test",
        &["-j", "2", "--no-preload-packages"],
        &["a.tst", "b.tst"],
        dir.path(),
    );
    assert_eq!(preloaded(&with), "[io]");
    for out in [&with, &without] {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
        assert!(text(&out.stdout).contains("2 passed, 0 failed"));
    }
}
