//! One line of a `gaprun batch` task file: any text is a task or a clear
//! error, never a panic; an accepted task obeys the schema's limits; and a
//! task written back as JSON parses to the same task.
//!
//! The parser is the CLI's own file, compiled here with `#[path]` (it is in
//! the binary crate, not the library, and uses only `std`, `serde_json` and
//! the `gaprun` library).
#![no_main]

#[path = "../../gaprun-cli/src/cli/batch/line.rs"]
mod line;

use gaprun::fork::{is_identifier, TaskKind};
use gaprun::json_text::string_value;
use gaprun::size::{MAX_SIZE, MAX_TIMEOUT_SECS};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Stands in for the CLI's `check_readable_file` without touching the file
/// system (a fuzzed path could name a FIFO or a device): paths whose name
/// contains "missing" are unreadable.
fn check_file(path: &Path) -> Result<(), String> {
    if path
        .as_os_str()
        .as_bytes()
        .windows(7)
        .any(|w| w == b"missing")
    {
        Err(format!("cannot read {}", path.display()))
    } else {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    // `gaprun batch` reads lines of UTF-8 text.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let text = text.lines().next().unwrap_or("");
    let Ok((id, task)) = line::parse_line(text, check_file) else {
        return;
    };
    assert!(matches!(
        id,
        None | Some(Value::Null | Value::String(_) | Value::Number(_))
    ));
    if let Some(t) = task.timeout {
        assert!(!t.is_zero() && t.as_secs_f64() <= MAX_TIMEOUT_SECS, "{t:?}");
    }
    if let Some(m) = task.memory_limit {
        assert!(m <= MAX_SIZE, "{m}");
    }
    for (name, _) in &task.vars {
        assert!(is_identifier(name), "{name}");
    }
    // Round trip: the accepted task, written as a batch line (sizes as byte
    // counts, names as strings or {"base64": …}), is the same task.
    let mut obj = Map::new();
    if let Some(id) = &id {
        obj.insert("id".into(), id.clone());
    }
    match &task.kind {
        TaskKind::Code(code) => obj.insert("code".into(), json!(code)),
        TaskKind::File(path) => {
            obj.insert("file".into(), string_value(path.as_os_str().as_bytes()))
        }
        // Test paths are made absolute, so they do not round-trip as given.
        TaskKind::Test(_) => return,
    };
    if let Some(m) = task.memory_limit {
        obj.insert("memory_limit".into(), json!(m));
    }
    if !task.vars.is_empty() {
        let vars: Map<String, Value> = task.vars.iter().cloned().collect();
        obj.insert("vars".into(), Value::Object(vars));
    }
    let again = serde_json::to_string(&Value::Object(obj)).unwrap();
    let (id2, mut task2) = line::parse_line(&again, check_file)
        .unwrap_or_else(|e| panic!("{again} was rejected: {e}"));
    // Timeouts go through f64 seconds and need not be bit-exact.
    task2.timeout = task.timeout;
    assert_eq!(id2, id, "{again}");
    assert_eq!(task2, task, "{again}");
});
