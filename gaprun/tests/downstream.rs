//! A crate that depends on gaprun by path, with no build.rs and no linker
//! flags (tests/downstream), gets a GAP whose compiled packages load: in its
//! binary and in its integration test. Built with cargo into a target
//! folder of its own under this workspace's target dir (cached between runs).
//!
//! Built once more without gap-sys's exports reference library
//! (`GAP_SYS_EXPORTS_REF=0`): then `Gap::init` must fail and name the fix,
//! not hand out a GAP whose library stopped loading half-way.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn downstream_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/downstream")
}

/// `cargo SUBCOMMAND` in tests/downstream with its own target folder.
fn cargo(args: &[&str], target: &str, exports_ref: bool) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(args)
        .current_dir(downstream_dir())
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(target),
        )
        .env_remove("GAP_SYS_EXPORTS_REF")
        .env_remove("RUSTFLAGS");
    if !exports_ref {
        cmd.env("GAP_SYS_EXPORTS_REF", "0");
    }
    let out = cmd.output().expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn binary(target: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(target)
        .join("debug/gaprun-downstream")
}

#[test]
fn downstream_binary_and_integration_test_load_compiled_packages() {
    cargo(&["build", "--bin", "gaprun-downstream"], "downstream", true);
    let out = Command::new(binary("downstream")).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "io=true size=120");

    let out = cargo(&["test", "--test", "embed"], "downstream", true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("compiled_packages_load_in_an_integration_test ... ok"),
        "{stdout}"
    );
}

#[test]
fn without_exported_kernel_symbols_init_fails_naming_the_fix() {
    cargo(
        &["build", "--bin", "gaprun-downstream"],
        "downstream-no-exports",
        false,
    );
    let out = Command::new(binary("downstream-no-exports"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.is_empty(), "GAP was handed out: {stdout}");
    assert!(
        stderr.contains("kernel symbols are not exported")
            && stderr.contains("-Wl,--export-dynamic"),
        "{stderr}"
    );
}
