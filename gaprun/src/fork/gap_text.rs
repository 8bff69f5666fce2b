//! The only GAP source the pool writes: variable names checked before
//! they are bound, and file names as GAP string literals (task values are
//! bound as objects, never written as source).

/// A valid GAP identifier as far as its characters go (keywords are
/// checked by GAP's `IsValidIdentifier` when the variable is bound).
pub fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && !name.chars().all(|c| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '@')
}

/// A GAP string literal with exactly these bytes (any bytes: a file name
/// need not be UTF-8). Bytes outside printable ASCII become GAP's octal
/// escapes (`\377`), so the literal is ASCII text.
pub fn gap_string_literal(bytes: impl AsRef<[u8]>) -> String {
    let bytes = bytes.as_ref();
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\r' => out.push_str("\\r"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literals_escape_what_gap_needs() {
        assert_eq!(gap_string_literal("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(gap_string_literal("\u{1}"), "\"\\001\"");
        assert_eq!(gap_string_literal(b"\xffa\x80"), "\"\\377a\\200\"");
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("x_1"));
        assert!(!is_identifier("1"));
        assert!(!is_identifier("a b"));
        assert!(!is_identifier(""));
    }
}
