//! Memory flags too small for GAP to start are a set-up error (exit 2)
//! that names the minimum, found before GAP starts (issue 11 item 6);
//! at the minimum GAP starts in every mode.

mod common;

use std::process::{Command, Output};

fn gaprun(cache: &std::path::Path, args: &[&str]) -> Output {
    Command::new(common::gaprun_bin())
        .args(args)
        .env("GAPRUN_WORKSPACE_CACHE", cache)
        .env_remove("GAPRUN_PACKAGES")
        .env_remove("GAPRUN_HARD_LIMIT")
        .output()
        .expect("run gaprun")
}

/// The minimum `-K` of the GAP this build links, in MiB (it depends on the
/// GAP version and its default packages).
fn min_mib() -> u64 {
    gaprun::pool::policy::GAP_MIN_HARD_LIMIT >> 20
}

#[test]
fn hard_limit_below_the_minimum_is_a_setup_error() {
    let cache = tempfile::tempdir().unwrap();
    let script = cache.path().join("x.g");
    std::fs::write(&script, "Print(1 + 1, \"\\n\");\n").unwrap();
    let script = script.to_str().unwrap();
    let below = format!("{}m", min_mib() - 1);
    for args in [
        &["-A", "-K", "10m", "-c", "1;"][..],
        &["-K", &below, "-c", "1;"],
        &["--hard-limit", "1k", script],
        &["run", "-A", "-K", "10m", script],
        &["info", "-K", "10m"],
    ] {
        let o = gaprun(cache.path(), args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        let want = format!("at least {}m", min_mib());
        assert!(err.contains(&want), "{args:?}: {err}");
        assert!(!err.contains("Panic"), "{args:?}: {err}");
    }
}

#[test]
fn gap_starts_at_the_minimum_hard_limit() {
    let cache = tempfile::tempdir().unwrap();
    let min = format!("{}m", min_mib());
    for mode in [
        &["-A", "--no-workspace"][..],
        &["--no-workspace"],
        &["-A"],
        &["-A"],
        &[],
        &[],
    ] {
        let mut args = mode.to_vec();
        args.extend(["-K", &min, "-c", "Print(Size(SymmetricGroup(5)), \"\\n\");"]);
        let o = gaprun(cache.path(), &args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&o.stdout), "120\n", "{args:?}");
    }
    // GAP itself needs it: the same kernel below it panics while starting.
    if let Some(mut gap) = common::gap_command() {
        let o = gap
            .args(["-A", "-K", "32m", "-m", "16m", "-s", "16m"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(text.contains("Panic"), "{text}");
    }
}
