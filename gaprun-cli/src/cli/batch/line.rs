//! One line of a `gaprun batch` task file, parsed and checked: pure code
//! (no GAP, no terminal, no global state), so that the fuzz target
//! `fuzz/fuzz_targets/batch_line.rs` can compile this very file with
//! `#[path]` without the rest of the CLI. It may only use `std`, `serde_json`
//! and the `gaprun` library — never `super::` or `crate::`.
//!
//! The schema is documented in the README ("gaprun batch") and in batch.rs.

use gaprun::convert::check_json;
use gaprun::fork::{is_identifier, Task, TaskKind};
use gaprun::json_text::value_bytes;
use gaprun::size::{check_size, parse_size, seconds, MAX_SIZE_TEXT};
use serde_json::Value;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// The fields of one input line, each checked by `parse_line`.
#[derive(Default)]
struct TaskLine {
    id: Option<Value>,
    code: Option<String>,
    file: Option<PathBuf>,
    test: Option<PathBuf>,
    vars: Option<Value>,
    timeout: Option<Value>,
    memory_limit: Option<Value>,
}

const FIELDS: &str = "id, code, file, test, vars, timeout, memory_limit";

impl TaskLine {
    /// Sort a line's fields, so that every error names its field.
    fn from_object(map: serde_json::Map<String, Value>) -> Result<TaskLine, String> {
        let mut line = TaskLine::default();
        for (key, value) in map {
            match key.as_str() {
                "id" => line.id = Some(value),
                "code" => match value {
                    Value::String(code) => line.code = Some(code),
                    other => {
                        return Err(format!(
                            "\"code\" must be a string of GAP statements, not {}",
                            json_kind(&other)
                        ))
                    }
                },
                "file" => line.file = Some(path_field("file", &value)?),
                "test" => line.test = Some(path_field("test", &value)?),
                "vars" => line.vars = Some(value),
                "timeout" => line.timeout = Some(value),
                "memory_limit" => line.memory_limit = Some(value),
                other => return Err(format!("unknown field `{other}` (fields: {FIELDS})")),
            }
        }
        Ok(line)
    }
}

/// A path field: a JSON string, or `{"base64": "…"}` for a file name that
/// is not UTF-8 (paths are bytes; see `gaprun::json_text`).
fn path_field(field: &str, v: &Value) -> Result<PathBuf, String> {
    match value_bytes(v) {
        Some(Ok(bytes)) => Ok(PathBuf::from(OsString::from_vec(bytes))),
        Some(Err(e)) => Err(format!("\"{field}\": {e}")),
        None => Err(format!(
            "\"{field}\" must be a path (a string or {{\"base64\": …}}), not {}",
            json_kind(v)
        )),
    }
}

/// Parse one non-blank line into its `id` and task; the error says which
/// field broke which rule. `check_file` checks a `"file"`/`"test"` path up
/// front (the CLI passes `check_readable_file`, as `gaprun run` checks its
/// files; the fuzz target passes a check that touches no file system).
pub fn parse_line(
    text: &str,
    check_file: impl Fn(&Path) -> Result<(), String>,
) -> Result<(Option<Value>, Task), String> {
    let json: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let Value::Object(map) = json else {
        return Err(format!("a task is a JSON object, not {}", json_kind(&json)));
    };
    let line = TaskLine::from_object(map)?;
    match &line.id {
        None | Some(Value::Null | Value::String(_) | Value::Number(_)) => {}
        Some(other) => {
            return Err(format!(
                "\"id\" must be a string or a number, not {}",
                json_kind(other)
            ))
        }
    }
    let kind = match (line.code, line.file, line.test) {
        (Some(c), None, None) => TaskKind::Code(c),
        (None, Some(f), None) => {
            // Checked up front, as `gaprun run` checks its files.
            check_file(&f)?;
            TaskKind::File(f)
        }
        (None, None, Some(t)) => {
            check_file(&t)?;
            TaskKind::Test(std::path::absolute(&t).unwrap_or(t))
        }
        _ => return Err("give exactly one of \"code\", \"file\", \"test\"".into()),
    };
    let timeout = match line.timeout {
        None | Some(Value::Null) => None,
        // A number beyond f64 (`1e999`) reads as no number at all.
        Some(Value::Number(n)) => Some(
            n.as_f64()
                .ok_or_else(|| format!("\"timeout\": timeout too large ({n})"))
                .and_then(|s| seconds(s).map_err(|why| format!("\"timeout\" {n}: {why}")))?,
        ),
        Some(other) => {
            return Err(format!(
                "\"timeout\" must be a number of seconds, not {other}"
            ))
        }
    };
    let memory_limit = match line.memory_limit {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => {
            let bytes = n.as_u64().ok_or_else(|| {
                format!(
                    "\"memory_limit\" {n} is not a byte count (a whole number, or e.g. \"512m\")"
                )
            })?;
            Some(check_size(bytes).ok_or_else(|| {
                format!("\"memory_limit\" {n} is too large (at most {MAX_SIZE_TEXT})")
            })?)
        }
        Some(Value::String(s)) => {
            Some(parse_size(&s).map_err(|e| format!("\"memory_limit\" {e}"))?)
        }
        Some(other) => return Err(format!("\"memory_limit\" {other} is not a size")),
    };
    let vars = match line.vars {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(map)) => {
            let mut vars = Vec::with_capacity(map.len());
            for (name, value) in map {
                if !is_identifier(&name) {
                    return Err(format!("\"vars\": `{name}` is not a GAP variable name"));
                }
                check_json(&value).map_err(|e| format!("\"vars\": `{name}`: {e}"))?;
                vars.push((name, value));
            }
            vars
        }
        Some(other) => {
            return Err(format!(
                "\"vars\" must be an object of name: value, not {}",
                json_kind(&other)
            ))
        }
    };
    Ok((
        line.id,
        Task {
            kind,
            vars,
            timeout,
            memory_limit,
        },
    ))
}

/// "an array", "a number" …: what a JSON value is, for error messages.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// `parse_line` with a file check that accepts every path.
    fn parse_line(text: &str) -> Result<(Option<Value>, Task), String> {
        super::parse_line(text, |_| Ok(()))
    }

    #[test]
    fn a_line_needs_exactly_one_kind() {
        assert!(parse_line(r#"{"code": "1;", "file": "x.g"}"#).is_err());
        assert!(parse_line(r#"{"cod": "1;"}"#).is_err());
        assert!(parse_line(r#"{"code": "1;", "timeout": -1}"#).is_err());
        let (_, t) =
            parse_line(r#"{"code": "1;", "memory_limit": "1m", "vars": {"n": 3}}"#).unwrap();
        assert_eq!(t.memory_limit, Some(1 << 20));
        assert_eq!(t.vars, vec![("n".to_string(), serde_json::json!(3))]);
    }

    #[test]
    fn numbers_in_a_line_are_checked() {
        for bad in [
            r#"{"code": "1;", "timeout": 1e20}"#,
            r#"{"code": "1;", "timeout": 1e999}"#,
            r#"{"code": "1;", "timeout": "5"}"#,
            r#"{"code": "1;", "memory_limit": 18446744073709551615}"#,
            r#"{"code": "1;", "memory_limit": -1}"#,
            r#"{"code": "1;", "vars": {"x": -1e999}}"#,
        ] {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
        let (_, t) = parse_line(r#"{"code": "1;", "timeout": 2.5}"#).unwrap();
        assert_eq!(t.timeout, Some(Duration::from_millis(2500)));
    }

    proptest::proptest! {
        /// Any line, JSON or not, is a task or an error; never a panic.
        #[test]
        fn any_text_line_never_panics(text in ".{0,200}") {
            let _ = parse_line(&text);
        }

        /// Every field with number-like and odd values (the paths to
        /// overflow): a task or an error, never a panic.
        #[test]
        fn any_field_value_never_panics(
            field in "(id|code|file|test|vars|timeout|memory_limit|x)",
            value in "(-?[0-9]{1,30}(\\.[0-9]{1,5})?([eE][-+]?[0-9]{1,4})?|\"[0-9a-z]{0,6}\"|null|true|\\[\\]|\\{\\}|\\{\"[a-z0-9]{1,3}\": -?[0-9]{1,25}(e[0-9]{1,3})?\\}|\\{\"base64\": \"[A-Za-z0-9+/=!]{0,8}\"\\})",
        ) {
            let _ = parse_line(&format!("{{\"code\": \"1;\", \"{field}\": {value}}}"));
        }
    }
}
