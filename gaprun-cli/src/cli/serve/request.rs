//! One request line of `gaprun serve`, parsed and checked before the server
//! routes it: pure code (no sessions, no I/O, no global state), so that the
//! fuzz target `fuzz/fuzz_targets/serve_request.rs` can compile this very
//! file with `#[path]` without the rest of the CLI. It may only use `std`
//! and `serde_json` — never `super::` or `crate::`.
//!
//! The protocol is documented in the README and docs/sessions.md.

use serde_json::Value;
use std::time::Duration;

/// Largest `timeout_ms` and `grace_ms` accepted (about 115 days): far past
/// any real use, small enough for every clock and timer computation.
pub const MAX_MS: f64 = 1e10;

/// `grace_ms` of a `close` that gives none.
const DEFAULT_GRACE_MS: f64 = 1000.0;

/// A millisecond field of a request: `Ok(None)` when absent or null, the
/// value when it is a number in `(0, MAX_MS]` (`[0, MAX_MS]` with
/// `zero_ok`), otherwise the `bad_request` message.
pub fn ms_field(req: &Value, name: &str, zero_ok: bool) -> Result<Option<f64>, String> {
    let v = match req.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => v,
    };
    let what = if zero_ok {
        "a number"
    } else {
        "a positive number"
    };
    let ms = v
        .as_f64()
        .filter(|x| x.is_finite())
        .ok_or_else(|| format!("\"{name}\" must be {what} of milliseconds"))?;
    if ms < 0.0 || (ms == 0.0 && !zero_ok) {
        return Err(format!("\"{name}\" must be {what} of milliseconds"));
    }
    if ms > MAX_MS {
        return Err(if name == "timeout_ms" {
            "timeout too large".into()
        } else {
            format!("\"{name}\" too large (at most {MAX_MS} ms)")
        });
    }
    Ok(Some(ms))
}

/// A line the server skips without an answer: JSON whitespace only (space,
/// tab, CR, LF). Other Unicode spaces are not JSON: such a line is answered
/// `bad_json`, like any text that is not a request.
pub fn is_blank(line: &str) -> bool {
    line.bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// The fields every request has, checked.
#[derive(Debug)]
pub struct Request {
    /// The whole request (a JSON object).
    pub req: Value,
    /// `"id"`, echoed in the answer (`null` when absent).
    pub id: Value,
    pub op: String,
    /// `"session"`, when given (and not null).
    pub session: Option<u64>,
}

/// A request refused before routing: the answer's `id`, error code and
/// message.
#[derive(Debug)]
pub struct Refusal {
    pub id: Value,
    pub code: &'static str,
    pub message: String,
}

/// Parse a request line: a JSON object with a string `op` and, if given, a
/// session number. Op-specific fields are checked by [`check_eval`] and
/// [`close_grace`] (after the server has checked the target session).
pub fn parse_request(line: &str) -> Result<Request, Refusal> {
    let refuse = |id: &Value, code, message: String| Refusal {
        id: id.clone(),
        code,
        message,
    };
    let req: Value = match serde_json::from_str(line) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            return Err(refuse(
                &Value::Null,
                "bad_request",
                "a request is a JSON object".into(),
            ))
        }
        Err(e) => {
            return Err(refuse(
                &Value::Null,
                "bad_json",
                format!("malformed JSON: {e}"),
            ))
        }
    };
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let Some(op) = req.get("op").and_then(Value::as_str).map(str::to_string) else {
        return Err(refuse(&id, "bad_request", "missing \"op\"".into()));
    };
    let session = match req.get("session") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) => Some(n),
            None => {
                return Err(refuse(
                    &id,
                    "bad_request",
                    "\"session\" must be a session number".into(),
                ))
            }
        },
    };
    Ok(Request {
        req,
        id,
        op,
        session,
    })
}

/// The fields of an `eval`: `code` a string, `timeout_ms` (if given) a
/// positive number up to [`MAX_MS`]; the `bad_request` message otherwise.
pub fn check_eval(req: &Value) -> Result<(), String> {
    if !req.get("code").is_some_and(Value::is_string) {
        return Err("eval needs \"code\" (a string)".into());
    }
    ms_field(req, "timeout_ms", false).map(|_| ())
}

/// How long a `close` waits for answers still owed (`grace_ms`, default
/// 1 s, 0 allowed); the `bad_request` message otherwise.
pub fn close_grace(req: &Value) -> Result<Duration, String> {
    let ms = ms_field(req, "grace_ms", true)?.unwrap_or(DEFAULT_GRACE_MS);
    // At most MAX_MS, finite and not negative: cannot panic.
    Ok(Duration::from_secs_f64(ms / 1e3))
}
