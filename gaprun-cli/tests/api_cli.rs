//! Ctrl-C in the command line: the first SIGINT interrupts the running
//! statement (or, between two statements, the next one); GAP goes on with
//! the statement after it.
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn sigint_interrupts_the_running_statement() {
    let mut child = Command::new(common::gaprun_bin())
        .args([
            "-A",
            "-c",
            "Print(\"ready\\n\"); while true do od; Print(\"after\\n\");",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gaprun starts");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    std::thread::sleep(std::time::Duration::from_millis(200));
    // SAFETY: signalling our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("user interrupt"), "{stderr}");
    // after an error gap's break loop sends output to stderr
    assert!(
        rest.contains("after") || stderr.contains("after"),
        "{rest} / {stderr}"
    );
    assert_eq!(output.status.code(), Some(1));
}

/// What `gaprun -A ARGS` did after a SIGINT: its exit status, everything
/// it printed on stdout after the line `ready`, and its stderr.
struct Interrupted {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Start `gaprun -A ARGS` without the daemon, give it `input` on stdin,
/// wait for its line `ready`, send one SIGINT, then give it `more_input`
/// and close stdin. A run still going after 60 s is killed: the interrupt
/// was lost and GAP went on looping.
fn sigint_after_ready(args: &[&str], input: &str, more_input: &str) -> Interrupted {
    use std::io::{Read, Write};
    let mut child = Command::new(common::gaprun_bin())
        .env("GAPRUN_DAEMON", "off")
        .arg("-A")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gaprun starts");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    // SAFETY: signalling our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    // gaprun may have ended already (a file that stopped): a broken pipe
    // is then expected.
    let _ = stdin.write_all(more_input.as_bytes());
    drop(stdin);
    let mut err = child.stderr.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{args:?}: still running 60 s after the SIGINT (lost); stderr: {}",
                stderr.join().unwrap()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    Interrupted {
        status: status.code(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Regression: a SIGINT that lands between two statements (here during a
/// kernel function, `Sleep`, after which no GAP statement runs before the
/// next one is read) was dropped when GAP read the next statement (its
/// ClearError), so the endless loop that followed ran on. It must stop the
/// next statement, as a SIGINT during it would.
#[test]
fn sigint_between_statements_stops_the_next_statement() {
    let first = "Print(\"ready\\n\"); Sleep(2);\n";
    let rest = "while true do od;\nPrint(\"after\\n\");\n";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("loop.g");
    std::fs::write(
        &file,
        format!("{first}while true do od;\nPrint(\"never\\n\");\n"),
    )
    .unwrap();
    let code = format!("{first}{rest}");
    let file = file.to_str().unwrap();
    // (what, arguments, stdin before the signal, stdin after it, goes on)
    let cases: [(&str, Vec<&str>, &str, &str, bool); 3] = [
        ("-c", vec!["-c", &code], "", "", true),
        ("stdin", vec!["-"], first, rest, true),
        ("file", vec![file], "", "", false),
    ];
    for (what, args, input, more_input, goes_on) in cases {
        let r = sigint_after_ready(&args, input, more_input);
        assert!(r.stderr.contains("user interrupt"), "{what}: {}", r.stderr);
        let all = format!("{}{}", r.stdout, r.stderr);
        if goes_on {
            // statements: the interrupted one fails, the next one runs
            assert!(all.contains("after"), "{what}: {all}");
        } else {
            // a file stops at its first error
            assert!(!all.contains("never"), "{what}: {all}");
        }
        assert_eq!(r.status, Some(1), "{what}: {all}");
    }
}
