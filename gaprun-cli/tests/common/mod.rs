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

/// GAP colours its (invisible under -q) prompts with escape codes; the
/// comparison ignores them, as the issue allows.
pub fn strip_ansi(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
