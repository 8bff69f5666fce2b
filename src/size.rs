//! Memory sizes as GAP's command line writes them (`512m`, `3g`, `4096k`).

/// Parse a size with an optional `k`/`m`/`g`/`t` suffix (any case, powers
/// of 1024; no suffix means bytes, as GAP reads it).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let not_a_size = || format!("`{text}` is not a size (use e.g. 512m, 3g)");
    let (digits, mult) = match t.chars().last().map(|c| c.to_ascii_lowercase()) {
        Some('k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m') => (&t[..t.len() - 1], 1u64 << 20),
        Some('g') => (&t[..t.len() - 1], 1u64 << 30),
        Some('t') => (&t[..t.len() - 1], 1u64 << 40),
        _ => (t, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_a_size());
    }
    let n: u64 = digits.parse().map_err(|_| not_a_size())?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Render bytes as a GAP flag value: whole KiB with GAP's `k` suffix, or
/// `0` (GAP's `-s 0`: grow with sbrk).
pub fn gap_flag_value(bytes: u64) -> String {
    if bytes == 0 {
        "0".to_string()
    } else {
        format!("{}k", bytes.div_ceil(1024))
    }
}

/// A size for humans: "512 MiB", "1.5 GiB", "300 B".
pub fn format_bytes(bytes: u64) -> String {
    for (shift, name) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
        let unit = 1u64 << shift;
        if bytes >= unit {
            return if bytes % unit == 0 {
                format!("{} {name}", bytes / unit)
            } else {
                format!("{:.1} {name}", bytes as f64 / unit as f64)
            };
        }
    }
    format!("{bytes} B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("3g").unwrap(), 3 << 30);
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("4096k").unwrap(), 4096 << 10);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999t").is_err());
        assert_eq!(gap_flag_value(3 << 30), "3145728k");
        assert_eq!(gap_flag_value(1), "1k");
        assert_eq!(gap_flag_value(0), "0");
        assert!(parse_size("+5").is_err());
    }
}
