//! The README's quick-start script (gaprun-cli/examples/symmetric.g).

use std::path::PathBuf;
use std::process::Command;

#[test]
fn quick_start_script_runs() {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/symmetric.g");
    let out = Command::new(env!("CARGO_BIN_EXE_gaprun"))
        .arg(script)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains("S5: order 120, conjugacy classes 7"), "{out}");
    assert!(out.contains("SmallGroup(8,3) is D8"), "{out}");
}
