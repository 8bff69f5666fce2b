//! One request line of `gaprun serve`: any line is a request or a refusal
//! with an error code, never a panic; the op-specific checks the server and
//! the session make (`eval`'s code and `timeout_ms`, `close`'s `grace_ms`)
//! never panic and keep their numbers in range; what the server forwards to
//! a session reads back as the same request.
//!
//! The parser is the CLI's own file, compiled here with `#[path]` (it is in
//! the binary crate, not the library, and uses only `std` and `serde_json`).
#![no_main]

#[path = "../../gaprun-cli/src/cli/serve/request.rs"]
mod request;

use libfuzzer_sys::fuzz_target;
use request::{check_eval, close_grace, is_blank, ms_field, parse_request, MAX_MS};
use serde_json::Value;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    // The server reads lines of bytes; a line that is not UTF-8 is answered
    // `bad_json` before any parsing, a blank one is skipped.
    let line = match data.iter().position(|&b| b == b'\n') {
        Some(end) => &data[..=end],
        None => data,
    };
    let Ok(line) = std::str::from_utf8(line) else {
        return;
    };
    if is_blank(line) {
        return;
    }
    let r = match parse_request(line) {
        Ok(r) => r,
        Err(refusal) => {
            assert!(matches!(refusal.code, "bad_json" | "bad_request"));
            assert_eq!(
                refusal.code == "bad_json",
                serde_json::from_str::<Value>(line).is_err(),
                "{refusal:?}"
            );
            assert!(!refusal.message.is_empty());
            // The answer carries the request's id when there is one to read.
            let id = serde_json::from_str::<Value>(line)
                .ok()
                .and_then(|v| v.get("id").cloned())
                .unwrap_or(Value::Null);
            assert_eq!(refusal.id, id, "{refusal:?}");
            return;
        }
    };
    assert!(r.req.is_object());
    assert_eq!(r.req.get("op").and_then(Value::as_str), Some(r.op.as_str()));
    assert_eq!(r.req.get("id").unwrap_or(&Value::Null), &r.id);
    if let Some(sid) = r.session {
        assert_eq!(r.req["session"].as_u64(), Some(sid));
    }
    // Every op's field checks on every request (a fuzzed request may carry
    // any field): results in range, no panic.
    if check_eval(&r.req).is_ok() {
        assert!(r.req["code"].is_string());
    }
    for (field, zero_ok) in [("timeout_ms", false), ("grace_ms", true)] {
        if let Ok(Some(ms)) = ms_field(&r.req, field, zero_ok) {
            assert!(ms.is_finite() && ms <= MAX_MS && (ms > 0.0 || zero_ok && ms == 0.0));
            // The session's conversion (child.rs) always succeeds.
            assert!(Duration::try_from_secs_f64(ms / 1e3).is_ok(), "{ms}");
        }
    }
    if let Ok(grace) = close_grace(&r.req) {
        assert!(grace.as_secs_f64() <= MAX_MS / 1e3);
    }
    // An eval goes to its session as the client wrote it (trimmed), a fork
    // re-serialised with its session numbers: both read back the same.
    let forwarded: Value = serde_json::from_str(line.trim_end()).expect("eval line re-read");
    assert_eq!(forwarded, r.req);
    let mut fork = r.req.clone();
    fork["new_session"] = serde_json::json!(u64::MAX);
    fork["session"] = serde_json::json!(r.session.unwrap_or(0));
    let again: Value = serde_json::from_slice(&serde_json::to_vec(&fork).unwrap()).unwrap();
    assert_eq!(again, fork);
    assert_eq!(again["new_session"].as_u64(), Some(u64::MAX));
});
