//! The interactive session, driven through a pseudo-terminal: prompts,
//! multi-line input, an error, Ctrl-C during an endless loop, `quit;`,
//! and history kept across runs.

mod common;

use expectrl::{ControlCode, Expect, Session};
use std::process::Command;
use std::time::Duration;

fn start(history: &std::path::Path) -> impl Expect {
    let mut cmd = Command::new(common::gaprun_bin());
    cmd.arg("-A")
        .env("GAPRUN_HISTORY", history)
        .env("TERM", "xterm");
    let mut p = Session::spawn(cmd).expect("spawn gaprun on a pty");
    p.set_expect_timeout(Some(Duration::from_secs(60)));
    p.expect("gap> ").expect("first prompt");
    p
}

#[test]
fn repl_session_like_gap() {
    let dir = tempfile::tempdir().unwrap();
    let hist = dir.path().join("history");
    let mut p = start(&hist);

    p.send_line("1 + 1;").unwrap();
    p.expect("2\r\n").unwrap();
    p.expect("gap> ").unwrap();

    // multi-line input: `> ` continuation until the statement is complete
    p.send_line("for i in [1..3] do").unwrap();
    p.expect("> ").unwrap();
    p.send_line("  Print(i, \"!\");").unwrap();
    p.expect("> ").unwrap();
    p.send_line("od;").unwrap();
    // output without a final newline is ended before the next prompt, so
    // the prompt does not overdraw it
    p.expect(expectrl::Regex("1!2!3!\r?\n")).unwrap();
    p.expect("gap> ").unwrap();

    // `;;` suppresses, `last` works
    p.send_line("x := 6;;").unwrap();
    p.expect("gap> ").unwrap();
    p.send_line("x * 7;").unwrap();
    p.expect("42").unwrap();
    p.send_line("last + 1;").unwrap();
    p.expect("43").unwrap();

    // an error prints GAP's message and returns to the prompt
    p.send_line("1/0;").unwrap();
    p.expect("Error, Rational operations: <divisor> must not be zero")
        .unwrap();
    p.expect("gap> ").unwrap();

    // Ctrl-C stops an endless loop; GAP stays usable
    p.send_line("while true do od;").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    p.send(ControlCode::EndOfText).unwrap();
    p.expect("user interrupt").unwrap();
    p.expect("gap> ").unwrap();
    p.send_line("x + 1;").unwrap();
    p.expect("7").unwrap();
    p.expect("gap> ").unwrap();

    p.send_line("a_remembered_name := 41;").unwrap();
    p.expect("41").unwrap();
    p.send_line("quit;").unwrap();
    p.expect(expectrl::Eof).unwrap();

    let saved = std::fs::read_to_string(&hist).expect("history written");
    assert!(saved.contains("a_remembered_name := 41;"), "{saved}");
    assert!(saved.contains("for i in [1..3] do"), "{saved}");

    // a second run finds the history: Up, Up recalls the entry before `quit;`
    let mut p = start(&hist);
    p.send("\x1b[A").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    p.send("\x1b[A").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    p.send("\r").unwrap();
    p.expect("41").unwrap();
    p.expect("gap> ").unwrap();
    p.send(ControlCode::EndOfTransmission).unwrap();
    p.expect(expectrl::Eof).unwrap();
}

#[test]
fn tab_completion_and_recorded_session() {
    let dir = tempfile::tempdir().unwrap();
    let tst = dir.path().join("session.tst");
    let mut cmd = Command::new(common::gaprun_bin());
    cmd.arg("-A")
        .arg("--record")
        .arg(&tst)
        .env("GAPRUN_HISTORY", dir.path().join("history"))
        .env("TERM", "xterm");
    let mut p = Session::spawn(cmd).expect("spawn gaprun on a pty");
    p.set_expect_timeout(Some(Duration::from_secs(60)));
    p.expect("gap> ").unwrap();
    // `SymmetricGro` + Tab completes to the common prefix `SymmetricGroup`
    p.send("SymmetricGro\t").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    p.send("(3);\r").unwrap();
    p.expect("Sym( [ 1 .. 3 ] )").unwrap();
    p.expect("gap> ").unwrap();
    p.send_line("1/0;").unwrap();
    p.expect("Error, Rational operations").unwrap();
    p.send_line("quit;").unwrap();
    p.expect(expectrl::Eof).unwrap();
    let text = std::fs::read_to_string(&tst).unwrap();
    assert!(
        text.starts_with("gap> SymmetricGroup(3);\nSym( [ 1 .. 3 ] )\ngap> 1/0;\nError, Rational operations: <divisor> must not be zero\n"),
        "{text}"
    );
}

/// `?topic` goes to GAP's help system at once (no `;`): the prompt comes
/// back as `gap> `, and the next line is a statement of its own.
#[test]
fn help_request_does_not_wait_for_more_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = start(&dir.path().join("history"));
    p.send_line("?Size").unwrap();
    p.expect("gap> ").unwrap();
    p.send_line("1 + 1;").unwrap();
    p.expect("2\r\n").unwrap();
    p.expect("gap> ").unwrap();
    p.send_line("quit;").unwrap();
    p.expect(expectrl::Eof).unwrap();
}

/// With `--record`, output without a final newline stays visible (the
/// prompt does not overdraw it) and gets `record`'s warning; the
/// transcript ends its line.
#[test]
fn recorded_session_keeps_output_without_final_newline() {
    let dir = tempfile::tempdir().unwrap();
    let tst = dir.path().join("session.tst");
    let mut cmd = Command::new(common::gaprun_bin());
    cmd.arg("-A")
        .arg("--record")
        .arg(&tst)
        .env("GAPRUN_HISTORY", dir.path().join("history"))
        .env("TERM", "xterm");
    let mut p = Session::spawn(cmd).expect("spawn gaprun on a pty");
    p.set_expect_timeout(Some(Duration::from_secs(60)));
    p.expect("gap> ").unwrap();
    p.send_line("Print(1, 2, 3);").unwrap();
    p.expect(expectrl::Regex("123\r?\n")).unwrap();
    p.expect("prints no final newline").unwrap();
    p.expect("gap> ").unwrap();
    p.send_line("quit;").unwrap();
    p.expect(expectrl::Eof).unwrap();
    let text = std::fs::read_to_string(&tst).unwrap();
    assert!(text.starts_with("gap> Print(1, 2, 3);\n123\n"), "{text}");
}
