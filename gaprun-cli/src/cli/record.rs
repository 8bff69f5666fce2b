//! `gaprun record FILE.g > FILE.tst`: run a script block by block and write
//! the session in GAP's test-file format.
//!
//! Each block (whole lines ending with a complete statement) is run the
//! way GAP's `Test()` runs one input — `READ_STREAM_LOOP` into a string
//! with error messages folded in, no break loop, no traceback — so the
//! recorded output is exactly what `Test()` will compare against.

use super::script::start_gap;
use super::{GapArgs, EXIT_OK, EXIT_USAGE};
use clap::Args;
use gaprun::session;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct RecordArgs {
    /// The GAP script to run (`-` reads standard input).
    #[arg(value_name = "FILE.g")]
    pub script: PathBuf,
}

pub fn run(args: &GapArgs, rec: &RecordArgs) -> i32 {
    let source = if rec.script.as_os_str() == "-" {
        let mut s = String::new();
        match std::io::Read::read_to_string(&mut std::io::stdin(), &mut s) {
            Ok(_) => s,
            Err(e) => {
                eprintln!("gaprun: cannot read standard input: {e}");
                return EXIT_USAGE;
            }
        }
    } else {
        match std::fs::read_to_string(&rec.script) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("gaprun: cannot read {}: {e}", rec.script.display());
                return EXIT_USAGE;
            }
        }
    };
    let gap = match start_gap(args, 0) {
        Ok(gap) => gap,
        Err(code) => return code,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for block in session::blocks(&source) {
        let output = match session::run_block_like_test(gap, &block) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("gaprun: {e}");
                return EXIT_USAGE;
            }
        };
        warn_if_no_final_newline(&block, &output);
        if out
            .write_all(session::transcript_entry(&block, &output).as_bytes())
            .is_err()
        {
            return EXIT_USAGE;
        }
    }
    let _ = out.flush();
    EXIT_OK
}

/// Output that does not end in a newline cannot be said in a test file
/// (the transcript ends the line): warn, naming the block's first line.
pub(super) fn warn_if_no_final_newline(block: &str, output: &str) {
    if !output.is_empty() && !output.ends_with('\n') {
        let first = block.lines().next().unwrap_or("");
        eprintln!(
            "gaprun: warning: `{first}` prints no final newline; a test file cannot say that, so Test() will report a difference there"
        );
    }
}
