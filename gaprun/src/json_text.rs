//! How bytes that are not UTF-8 travel in JSON (batch results, serve answers,
//! batch `vars`).
//!
//! GAP strings and a task's output are bytes; JSON strings are Unicode. So
//! that nothing is silently replaced by U+FFFD:
//! - a *text field* (`stdout`, `stderr`, `output`, `view`, …) holds the text
//!   when its bytes are UTF-8; otherwise it holds the lossy text (for humans)
//!   and a sibling field `<field>_base64` holds the exact bytes;
//! - a GAP *value* that is a string of non-UTF-8 bytes becomes the JSON object
//!   `{"base64": "…"}`, and that object converts back to the same GAP string.
//!
//! Base64 is the standard alphabet with padding (RFC 4648 §4).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Value};

/// Key of the object that stands for a non-UTF-8 GAP string.
pub const BYTES_KEY: &str = "base64";

/// Insert `bytes` as the text field `field` of `obj` (and `<field>_base64`
/// when the bytes are not UTF-8).
pub fn insert_text(obj: &mut Map<String, Value>, field: &str, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            obj.insert(field.to_string(), Value::String(text.to_string()));
        }
        Err(_) => {
            obj.insert(
                field.to_string(),
                Value::String(String::from_utf8_lossy(bytes).into_owned()),
            );
            obj.insert(
                format!("{field}_base64"),
                Value::String(STANDARD.encode(bytes)),
            );
        }
    }
}

/// The JSON value of a GAP string: a JSON string when UTF-8, else
/// `{"base64": "…"}`.
pub fn string_value(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(text) => Value::String(text.to_string()),
        Err(_) => {
            let mut m = Map::new();
            m.insert(BYTES_KEY.into(), Value::String(STANDARD.encode(bytes)));
            Value::Object(m)
        }
    }
}

/// The bytes a JSON value stands for when it is a string or a
/// `{"base64": "…"}` object (exactly that one key); `None` otherwise.
/// `Err` when the object's base64 is malformed.
pub fn value_bytes(v: &Value) -> Option<Result<Vec<u8>, String>> {
    match v {
        Value::String(s) => Some(Ok(s.as_bytes().to_vec())),
        Value::Object(m) if m.len() == 1 => match m.get(BYTES_KEY) {
            Some(Value::String(b64)) => Some(
                STANDARD
                    .decode(b64)
                    .map_err(|e| format!("bad base64 in {{\"{BYTES_KEY}\": …}}: {e}")),
            ),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_text_is_plain() {
        let mut m = Map::new();
        insert_text(&mut m, "stdout", "héllo\n".as_bytes());
        assert_eq!(m["stdout"], "héllo\n");
        assert!(!m.contains_key("stdout_base64"));
    }

    #[test]
    fn non_utf8_text_keeps_its_bytes() {
        let mut m = Map::new();
        let bytes = b"a\xffb";
        insert_text(&mut m, "stdout", bytes);
        assert_eq!(m["stdout"], "a\u{FFFD}b");
        let back = STANDARD
            .decode(m["stdout_base64"].as_str().unwrap())
            .unwrap();
        assert_eq!(back, bytes);
    }

    #[test]
    fn strings_round_trip_through_values() {
        for bytes in [&b"plain"[..], b"\xfe\xff\x00x", b""] {
            let v = string_value(bytes);
            assert_eq!(value_bytes(&v).unwrap().unwrap(), bytes);
        }
        assert!(string_value(b"\xff").is_object());
        assert!(value_bytes(&serde_json::json!({"base64": "!!"}))
            .unwrap()
            .is_err());
        assert!(value_bytes(&serde_json::json!({"base64": "AA==", "x": 1})).is_none());
        assert!(value_bytes(&serde_json::json!(5)).is_none());
    }
}
