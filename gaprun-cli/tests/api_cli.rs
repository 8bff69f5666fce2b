//! Ctrl-C in the command line: the first SIGINT interrupts the running
//! statement, GAP goes on with the next one.
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
