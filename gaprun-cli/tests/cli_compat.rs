//! `gaprun` against the distribution's `gap`: same standard output for the
//! same scripts in both modes, and the documented exit codes.
//!
//! File mode:       `gaprun FILE`  ≙ `gap -q --quitonbreak FILE < /dev/null`
//! Statement mode:  `gaprun - < F` ≙ `gap -q < F` (also `gaprun -c "$(cat F)"`)

mod common;
use common::{gap_command, gaprun_bin, strip_ansi};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scripts")
        .join(name)
}

fn run_with_stdin(mut cmd: Command, stdin_file: Option<&Path>) -> Output {
    match stdin_file {
        Some(f) => cmd.stdin(std::fs::File::open(f).unwrap()),
        None => cmd.stdin(Stdio::null()),
    };
    cmd.output().expect("process runs")
}

/// (script, autoload, file-mode exit code, statement-mode exit code)
const CASES: &[(&str, bool, i32, i32)] = &[
    ("groups.g", false, 0, 0),
    ("functions.g", false, 0, 0),
    ("errors.g", false, 1, 1),
    ("quit.g", false, 0, 0),
    ("exitcode.g", false, 3, 3),
    ("syntax.g", false, 1, 1),
    ("nested_error.g", false, 1, 1),
    ("packages.g", true, 0, 0),
    ("break_loop.g", false, 1, 1),
    // Errors GAP raises with ErrorQuit return to the top level without a
    // break loop: output stays on stdout and the next `quit;` ends input.
    ("unbound_variable.g", false, 1, 1),
    ("unbound_function.g", false, 1, 1),
    ("unbound_record.g", false, 1, 1),
    // Errors that enter GAP's break loop, at the top level and in functions.
    ("no_method.g", false, 1, 1),
    ("list_index.g", false, 1, 1),
    ("user_error.g", false, 1, 1),
    ("function_errors.g", false, 1, 1),
];

fn gaprun(autoload: bool) -> Command {
    let mut cmd = Command::new(gaprun_bin());
    if !autoload {
        cmd.arg("-A");
    }
    cmd
}

#[test]
fn statement_mode_matches_gap_reading_a_pipe() {
    for &(name, autoload, _, want_code) in CASES {
        let path = script(name);
        let mut ours = gaprun(autoload);
        ours.arg("-");
        let ours = run_with_stdin(ours, Some(&path));
        assert_eq!(
            ours.status.code(),
            Some(want_code),
            "{name}: exit code; stderr: {}",
            String::from_utf8_lossy(&ours.stderr)
        );
        if let Some(mut gap) = gap_command() {
            if !autoload {
                gap.arg("-A");
            }
            let theirs = run_with_stdin(gap, Some(&path));
            assert_eq!(
                String::from_utf8_lossy(&ours.stdout),
                strip_ansi(&theirs.stdout),
                "{name}: stdout differs from `gap -q < {name}`"
            );
            // Errors too, as long as no error happens inside GAP's break
            // loop (where GAP evaluates in the failed function's context).
            assert_eq!(
                String::from_utf8_lossy(&ours.stderr),
                strip_ansi(&theirs.stderr),
                "{name}: stderr differs from `gap -q < {name}`"
            );
        }
    }
}

#[test]
fn command_mode_equals_statement_mode() {
    for &(name, autoload, _, want_code) in CASES.iter().filter(|c| !c.1) {
        let code = std::fs::read_to_string(script(name)).unwrap();
        let mut ours = gaprun(autoload);
        ours.arg("-c").arg(&code);
        let c = run_with_stdin(ours, None);
        let mut piped = gaprun(autoload);
        piped.arg("-");
        let p = run_with_stdin(piped, Some(&script(name)));
        assert_eq!(
            c.status.code(),
            Some(want_code),
            "{name}: exit code of -c; stderr: {}",
            String::from_utf8_lossy(&c.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&c.stdout),
            String::from_utf8_lossy(&p.stdout),
            "{name}: -c and - differ"
        );
        // GAP names the input `*stdin*` in one and `stream` in the other
        // (and gives no location for syntax errors in a stream); the rest
        // of what goes to stderr is the same.
        if name == "syntax.g" {
            continue;
        }
        assert_eq!(
            String::from_utf8_lossy(&c.stderr).replace("stream:", "*stdin*:"),
            String::from_utf8_lossy(&p.stderr),
            "{name}: -c and - differ on stderr"
        );
    }
}

#[test]
fn file_mode_matches_gap_quitonbreak() {
    for &(name, autoload, want_code, _) in CASES {
        let path = script(name);
        let mut ours = gaprun(autoload);
        ours.arg(&path);
        let ours = run_with_stdin(ours, None);
        assert_eq!(
            ours.status.code(),
            Some(want_code),
            "{name}: exit code; stderr: {}",
            String::from_utf8_lossy(&ours.stderr)
        );
        if let Some(mut gap) = gap_command() {
            if !autoload {
                gap.arg("-A");
            }
            gap.arg("--quitonbreak").arg(&path);
            let theirs = run_with_stdin(gap, None);
            assert_eq!(
                String::from_utf8_lossy(&ours.stdout),
                strip_ansi(&theirs.stdout),
                "{name}: stdout differs from `gap -q --quitonbreak {name}`"
            );
        }
    }
}

/// The example of issue 10: an unbound variable does not swallow the
/// statements after it, and the top-level `quit;` ends the input.
#[test]
fn unbound_variable_keeps_stdout_and_quit_ends_input() {
    let input = "x := undefinedVar + 1;\nPrint(\"after\\n\");\n5;\nquit;\n7;\n";
    let mut c = gaprun(false);
    c.arg("-c").arg(input);
    let out = run_with_stdin(c, None);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "after\n5\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("Error, Variable: 'undefinedVar' must have a value\n"),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn file_mode_error_names_file_and_line() {
    let out = run_with_stdin(
        {
            let mut c = gaprun(false);
            c.arg(script("nested_error.g"));
            c
        },
        None,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("Error, Rational operations: <divisor> must not be zero"),
        "{err}"
    );
    assert!(err.contains("nested_error.g:1"), "{err}");
}

#[test]
fn several_files_run_in_order_and_share_state() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.g");
    let b = dir.path().join("b.g");
    std::fs::write(&a, "shared := 41;\nPrint(\"a\\n\");\n").unwrap();
    std::fs::write(&b, "Print(\"b \", shared + 1, \"\\n\");\n").unwrap();
    let mut c = gaprun(false);
    c.arg(&a).arg(&b);
    let out = run_with_stdin(c, None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a\nb 42\n");
}

#[test]
fn readme_example_prints_120() {
    let mut c = gaprun(false);
    c.arg("-c").arg("Print(Size(SymmetricGroup(5)), \"\\n\");");
    let out = run_with_stdin(c, None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "120\n");
}

#[test]
fn missing_file_is_a_usage_error() {
    let mut c = gaprun(false);
    c.arg("/nonexistent/script.g");
    let out = run_with_stdin(c, None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot read /nonexistent/script.g"), "{err}");
}

#[test]
fn bad_flag_is_a_usage_error() {
    let mut c = gaprun(false);
    c.arg("--no-such-flag");
    let out = run_with_stdin(c, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-flag"));
    let mut c = gaprun(false);
    c.args(["-s", "lots", "-c", "1;"]);
    let out = run_with_stdin(c, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a size"));
}

#[test]
fn unreadable_gap_root_is_a_setup_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = gaprun(false);
    c.arg("--gap-root").arg(dir.path()).arg("-c").arg("1;");
    let out = run_with_stdin(c, None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no readable GAP library"), "{err}");
}

#[test]
fn version_names_gap() {
    let mut c = Command::new(gaprun_bin());
    c.arg("--version");
    let out = run_with_stdin(c, None);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(env!("CARGO_PKG_VERSION")) && text.contains("GAP 4."),
        "{text}"
    );
}

#[test]
fn io_package_loads_in_the_binary() {
    let mut c = gaprun(false);
    c.arg("-c").arg("LoadPackage(\"io\");");
    let out = run_with_stdin(c, None);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "true\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn gaps_quiet_flag_is_accepted() {
    let mut c = gaprun(false);
    c.args(["-q", "-c", "Print(6 * 7, \"\\n\");"]);
    let out = run_with_stdin(c, None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "42\n");
}

/// An OnBreakMessage that raises does not end statement mode or leave
/// stderr redirected: `quit;` leaves the break output and later output is
/// on stdout again.
#[test]
fn hostile_on_break_message_keeps_statement_mode_going() {
    let mut c = gaprun(false);
    c.arg("-c").arg(
        "OnBreakMessage := function() Error(\"hostile\"); end;;\n\
         Error(\"a\");\nError(\"b\");\nquit;\nPrint(\"end\\n\");\n",
    );
    let out = run_with_stdin(c, None);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "end\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1));
}

/// The comparisons above are only worth something against the same GAP
/// version (issue 13): the wheel's `gap` for the default 4.16.1, Debian's
/// for the system 4.12.1. A dist or system build must have that `gap`; a
/// GAP tree given by path may lack one (the comparisons then skip).
#[test]
fn the_comparison_gap_is_the_built_version() {
    let build = gaprun::runtime::build_info();
    let Some(mut gap) = gap_command() else {
        assert!(
            build.gap_kind == "path",
            "a `{}` build must name its `gap` executable",
            build.gap_kind
        );
        return;
    };
    let probe = "Print(GAPInfo.Version, \"\\n\");\n";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("version.g");
    std::fs::write(&file, probe).unwrap();
    gap.arg("-A");
    let theirs = run_with_stdin(gap, Some(&file));
    let mut ours = gaprun(false);
    ours.arg("-");
    let ours = run_with_stdin(ours, Some(&file));
    let version = String::from_utf8_lossy(&ours.stdout);
    assert_eq!(version.trim(), build.gap_version);
    assert_eq!(strip_ansi(&theirs.stdout), version);
}
