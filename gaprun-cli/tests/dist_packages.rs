//! The `GAPRUN_GAP=dist` distribution (GAP 4.16.1 with the standard
//! packages, issue 13 item 1): a default start prints no "not installed"
//! line, every package of the list loads, the everyday calls work,
//! `?`/`HELP` finds the manuals, and gaprun prints what the same version's
//! `gap` prints. Only for a `dist` build: elsewhere the packages are not
//! there to load.

mod common;
use common::{gap_command, gaprun_bin, strip_ansi};
use std::process::{Command, Output, Stdio};

/// The packages issue 13 names (item 1), plus the rest of GAP's default
/// autoload set.
const PACKAGES: &[&str] = &[
    "ctbllib",
    "atlasrep",
    "tomlib",
    "grape",
    "digraphs",
    "orb",
    "datastructures",
    "images",
    "ferret",
    "polycyclic",
    "autpgrp",
    "factint",
    "hap",
    "cryst",
    "recog",
    "genss",
    "forms",
    "irredsol",
    "crisp",
    "sophus",
    "polenta",
    "resclasses",
    "utils",
    "semigroups",
    "alnuth",
    "fga",
    "laguna",
];

fn is_dist() -> bool {
    let kind = gaprun::runtime::build_info().gap_kind;
    if kind != "dist" {
        eprintln!("skipping: this build's GAP is `{kind}`, not `dist`");
    }
    kind == "dist"
}

fn script() -> String {
    let mut s = String::new();
    for p in PACKAGES {
        s.push_str(&format!(
            "Print(\"{p} \", LoadPackage(\"{p}\", false), \"\\n\");\n"
        ));
    }
    s.push_str(
        "Print(CharacterTable(\"A5\"), \"\\n\");\n\
         Print(Irr(CharacterTable(\"A5\"))[2], \"\\n\");\n\
         Print(Factors(2^128+1), \"\\n\");\n\
         Print(IdGroup(SmallGroup(512, 1)), \"\\n\");\n\
         Print(NrTransitiveGroups(12), \" \", NrPrimitiveGroups(100), \"\\n\");\n\
         Print(OrdersTom(TableOfMarks(\"A5\")), \"\\n\");\n",
    );
    s
}

fn run(cmd: &mut Command, input: &str) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("process starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().expect("process ends")
}

#[test]
fn standard_packages_load_and_match_gap() {
    if !is_dist() {
        return;
    }
    // Default start (autoload on, like `gap` without -A).
    let ours = run(Command::new(gaprun_bin()).arg("-"), &script());
    let stdout = String::from_utf8_lossy(&ours.stdout);
    let stderr = String::from_utf8_lossy(&ours.stderr);
    assert!(ours.status.success(), "gaprun failed: {stderr}\n{stdout}");
    assert!(
        !stdout.contains("not installed") && !stderr.contains("not installed"),
        "a default start reported missing packages:\n{stdout}{stderr}"
    );
    for p in PACKAGES {
        assert!(
            stdout.lines().any(|l| l == format!("{p} true")),
            "LoadPackage(\"{p}\") did not return true:\n{stdout}\n{stderr}"
        );
    }
    assert!(stdout.contains("CharacterTable( \"A5\" )"), "{stdout}");
    // The same version's `gap` prints the same.
    let Some(mut gap) = gap_command() else {
        panic!("a dist build must publish the wheel's `gap` executable");
    };
    let theirs = run(&mut gap, &script());
    assert_eq!(stdout, String::from_utf8_lossy(&theirs.stdout));
}

#[test]
fn info_reports_version_source_and_gaps_package_count() {
    if !is_dist() {
        return;
    }
    let out = Command::new(gaprun_bin())
        .args(["info", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["build"]["gap_kind"], "dist");
    // GAP's own view: its version, and the packages it finds installed.
    let ours = run(
        Command::new(gaprun_bin()).args(["-A", "-"]),
        "InitializePackagesInfoRecords();;\n\
         Print(GAPInfo.Version, \" \", Length(RecNames(GAPInfo.PackagesInfo)), \"\\n\");\n",
    );
    let stdout = String::from_utf8_lossy(&ours.stdout);
    let (version, count) = stdout.trim().split_once(' ').expect("version and count");
    assert_eq!(info["build"]["gap_version"], version);
    assert_eq!(info["gap_packages"].to_string(), count);
    assert!(count.parse::<u32>().unwrap() >= 150, "{count} packages");
}

/// The main manuals come from Debian's gap-online-help (issue 13 item 2):
/// `?Size` lists the reference manual's entries, `?SizeScreen` prints one,
/// byte for byte as the same version's `gap` does.
#[test]
fn help_prints_the_reference_manual() {
    if !is_dist() {
        return;
    }
    let ours = Command::new(gaprun_bin())
        .args(["-A", "-c", "?Size"])
        .output()
        .unwrap();
    let listed = strip_ansi(&ours.stdout);
    assert!(ours.status.success(), "{listed}");
    assert!(
        listed.contains("several entries match this topic")
            && listed.lines().any(|l| l == "[1] Reference: Size"),
        "?Size did not list the reference manual's entries:\n{listed}\n{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    let ours = Command::new(gaprun_bin())
        .args(["-A", "-c", "?SizeScreen"])
        .output()
        .unwrap();
    let shown = strip_ansi(&ours.stdout);
    assert!(
        shown.contains("6.12-1 SizeScreen") && shown.contains("returns the size of the screen"),
        "?SizeScreen did not print its manual section:\n{shown}"
    );
    let mut gap = gap_command().expect("a dist build publishes the wheel's `gap`");
    let theirs = run(gap.arg("-A"), "?Size\n?SizeScreen\n");
    assert_eq!(
        format!("{listed}{shown}"),
        strip_ansi(&theirs.stdout),
        "gaprun's help differs from `gap -q`'s"
    );
}
