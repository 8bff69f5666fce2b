//! `gaprun record` writes transcripts that GAP's own `Test()` accepts
//! (checked with the distribution's `gap` program, without gaprun).

mod common;

use std::path::Path;
use std::process::Command;

const SCRIPTS: &[(&str, &str)] = &[
    (
        "basic",
        "# values, suppression, printing\nx := 3;;\nx^2;\nPrint(\"hello\\n\");\n[1..5];\nlast;\n",
    ),
    (
        "multiline",
        "f := function(n)\n  local i, s;\n  s := 0;\n  for i in [1..n] do\n    s := s + i;\n  od;\n  return s;\nend;;\nf(10);\ny := [1, 2,\n  3];\n\nif y[1] = 1 then\n  Print(\"one\\n\");\nfi;\n",
    ),
    (
        "errors",
        "1/0;\nUnbind(zz);\nzz;\nError(\"custom\");\n[1,2][5];\nx := 1;; x + 1;\n1 +* 2;\n7;\n",
    ),
    (
        "groups",
        "G := SymmetricGroup(5);;\nSize(G);\nIsAbelian(G);\nList([1..4], i -> i^2);\n\"a string; with semicolon\";\nr := rec(a := 1, b := \"x\");\n",
    ),
];

fn gap_test_passes(tst: &Path) -> (bool, String) {
    let info = gaprun::runtime::build_info();
    let roots = gaprun::runtime::built_in_roots()
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(";");
    let code = format!(
        "Print(\"RESULT:\", Test(\"{}\"), \"\\n\");\nQUIT;\n",
        tst.display()
    );
    let out = Command::new(info.gap_executable)
        .args(["-l", &roots, "-q", "-A", "--quitonbreak"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(code.as_bytes())?;
            c.wait_with_output()
        })
        .expect("run gap");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (text.contains("RESULT:true"), text)
}

#[test]
fn record_then_gap_test_passes() {
    if gaprun::runtime::build_info().gap_executable.is_empty() {
        eprintln!("no distribution gap program: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, script) in SCRIPTS {
        let g = dir.path().join(format!("{name}.g"));
        std::fs::write(&g, script).unwrap();
        let out = Command::new(common::gaprun_bin())
            .args(["record", "-A"])
            .arg(&g)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tst = String::from_utf8(out.stdout).unwrap();
        assert!(tst.starts_with("gap> "), "{tst}");
        if *name == "errors" {
            assert!(
                tst.contains("Error, Rational operations: <divisor> must not be zero"),
                "{tst}"
            );
            assert!(tst.contains("Error, custom"), "{tst}");
        }
        if *name == "multiline" {
            assert!(
                tst.contains("gap> f := function(n)\n>   local i, s;\n"),
                "{tst}"
            );
        }
        let t = dir.path().join(format!("{name}.tst"));
        std::fs::write(&t, &tst).unwrap();
        let (ok, text) = gap_test_passes(&t);
        assert!(
            ok,
            "GAP's Test() failed on the transcript of {name}:\n{tst}\n--- gap said:\n{text}"
        );
    }
    // The same transcripts through gaprun's own parallel test runner.
    let out = Command::new(common::gaprun_bin())
        .args(["test", "-A", "-j", "2"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.lines()
            .any(|l| l == format!("{} passed, 0 failed", SCRIPTS.len())),
        "{text}"
    );
}

#[test]
fn a_wrong_transcript_fails_gap_test() {
    // The check above can fail: a transcript with a wrong value does.
    if gaprun::runtime::build_info().gap_executable.is_empty() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("wrong.tst");
    std::fs::write(&t, "gap> 1 + 1;\n3\n").unwrap();
    assert!(!gap_test_passes(&t).0);
}
