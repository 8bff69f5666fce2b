//! `gaprun FILE...`, `gaprun -c STATEMENTS` and `gaprun -`: run GAP code with
//! the semantics of the `gap` program.
//!
//! Files behave like `gap -q --quitonbreak FILE...`: no value echo, the first
//! error prints GAP's message (with file and line) and stops with exit 1.
//! Statements (`-c`, standard input) behave like `gap -q < FILE`: each value
//! is echoed as GAP's REPL shows it, errors are reported and evaluation goes
//! on; as in GAP's break loop, output after an error goes to stderr until a
//! `quit;`. Exit 1 if any statement failed.

use super::{GapArgs, EXIT_GAP_ERROR, EXIT_OK, EXIT_USAGE};
use gaprun::{Gap, LoopMode, LoopReport};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Start GAP for the command line (memory sized by the pool policy for
/// `planned_workers` forked workers, library restored from the workspace
/// cache when it can be), or print why not.
pub fn start_gap(args: &GapArgs, planned_workers: u32) -> Result<Gap<'static>, i32> {
    // In a command run by the daemon: its inherited, initialised GAP.
    let started = match super::daemon::warm_gap(args, planned_workers) {
        Some(started) => started,
        None => match args.start_options(planned_workers) {
            Ok((options, _cache)) => Gap::init(options),
            Err(e) => {
                eprintln!("gaprun: {}", super::options::policy_message(&e));
                return Err(EXIT_USAGE);
            }
        },
    };
    match started {
        Ok(gap) => {
            // Let GAP print its error messages on stderr itself, as `gap` does.
            if let Err(e) = gap.set_error_capture(false) {
                eprintln!("gaprun: {e}");
                return Err(EXIT_USAGE);
            }
            // Ctrl-C interrupts the running statement (GAP reports "user
            // interrupt"); a second one before GAP noticed exits.
            if let Err(e) = gaprun::interrupt::install_sigint_handler() {
                eprintln!("gaprun: cannot install the Ctrl-C handler: {e}");
            }
            Ok(gap)
        }
        Err(e) => {
            eprintln!("gaprun: {e}");
            Err(EXIT_USAGE)
        }
    }
}

fn stdin_path() -> &'static Path {
    Path::new("-")
}

pub fn run(args: &GapArgs, code: Option<&str>, files: &[PathBuf], record: Option<&Path>) -> i32 {
    if let Err(code) = super::options::check_readable_files(files) {
        return code;
    }
    let statements_mode = LoopMode {
        echo: true,
        stop_on_error: false,
        break_output: true,
    };
    let file_mode = LoopMode {
        echo: false,
        stop_on_error: true,
        break_output: false,
    };
    let gap = match start_gap(args, 0) {
        Ok(gap) => gap,
        Err(code) => return code,
    };
    if let Some(code) = code {
        return finish(gap.run_string(code, statements_mode));
    }
    if files.is_empty() {
        if std::io::stdin().is_terminal() {
            return super::repl::run(gap, record);
        }
        return finish(gap.run_stdin(statements_mode));
    }
    for f in files {
        let result = if f.as_path() == stdin_path() {
            gap.run_stdin(statements_mode)
        } else {
            gap.run_file(f, file_mode)
        };
        match result {
            Ok(report) if report.errors > 0 => return EXIT_GAP_ERROR,
            Ok(LoopReport {
                quit_code: Some(code),
                ..
            }) => return code,
            Ok(_) => {}
            Err(e) => {
                eprintln!("gaprun: {e}");
                return EXIT_USAGE;
            }
        }
    }
    EXIT_OK
}

fn finish(result: gaprun::Result<LoopReport>) -> i32 {
    match result {
        Ok(LoopReport {
            quit_code: Some(code),
            errors,
            ..
        }) => {
            if code == 0 && errors > 0 {
                EXIT_GAP_ERROR
            } else {
                code
            }
        }
        Ok(report) if report.errors > 0 => EXIT_GAP_ERROR,
        Ok(_) => EXIT_OK,
        Err(e) => {
            eprintln!("gaprun: {e}");
            EXIT_USAGE
        }
    }
}
