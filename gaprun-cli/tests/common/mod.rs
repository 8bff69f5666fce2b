//! Test support for the CLI's tests: the library's helpers (one GAP thread
//! per test binary, the distribution's `gap` for comparisons) plus the path
//! of the `gaprun` binary built for these tests.
#![allow(dead_code)]

#[path = "../../../gaprun/tests/common/mod.rs"]
mod library;
#[allow(unused_imports)]
pub use library::*;

/// Path of the gaprun binary built for these tests.
pub fn gaprun_bin() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_gaprun"))
}
