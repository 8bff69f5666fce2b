//! Memory sizes as GAP's command line writes them (`512m`, `3g`, `4096k`).

/// Parse a size with an optional `k`/`m`/`g`/`t` suffix (powers of 1024;
/// no suffix means bytes, as GAP reads it).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty size".into());
    }
    let (digits, mult) = match t.chars().last().map(|c| c.to_ascii_lowercase()) {
        Some('k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m') => (&t[..t.len() - 1], 1u64 << 20),
        Some('g') => (&t[..t.len() - 1], 1u64 << 30),
        Some('t') => (&t[..t.len() - 1], 1u64 << 40),
        _ => (t, 1),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size (use e.g. 512m, 3g)"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Render bytes as a GAP flag value in whole KiB (GAP rounds anyway).
pub fn gap_flag_value(bytes: u64) -> String {
    format!("{}k", bytes.div_ceil(1024))
}

/// Human-readable size (MiB/GiB with one decimal).
pub fn human(bytes: u64) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    const MIB: f64 = (1u64 << 20) as f64;
    let b = bytes as f64;
    if b >= GIB {
        format!("{:.1} GiB", b / GIB)
    } else if b >= MIB {
        format!("{:.1} MiB", b / MIB)
    } else {
        format!("{} KiB", bytes / 1024)
    }
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
    }
}
