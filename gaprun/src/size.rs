//! Numbers as users write them on the command line and in batch lines:
//! memory sizes as GAP's command line writes them (`512m`, `3g`, `4096k`),
//! durations in seconds, worker counts. Every parser here returns a clear
//! message instead of overflowing or panicking, whatever the text.

use std::time::Duration;

/// The largest size accepted (1 PiB): more than any machine's address space
/// (x86-64 and arm64 user space is 128 TiB to 4 PiB), and small enough that
/// GAP's own arithmetic on it (kilobytes × 1024, twice the limit, limit plus
/// resident memory) cannot overflow 64 bits.
pub const MAX_SIZE: u64 = 1 << 50;

/// [`MAX_SIZE`] as error messages write it (in the notation users type).
pub const MAX_SIZE_TEXT: &str = "1024t (1 PiB)";

/// The longest timeout accepted (one year): a longer one is a typo, and
/// deadlines computed from it (`Instant + timeout`) stay far from overflow.
pub const MAX_TIMEOUT_SECS: f64 = 365.0 * 24.0 * 3600.0;

/// Why a size, timeout or worker count was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// Not a size at all.
    #[error("`{0}` is not a size (use e.g. 512m, 3g)")]
    NotASize(String),
    /// A size above [`MAX_SIZE`].
    #[error("`{0}` is too large (at most {MAX_SIZE_TEXT})")]
    SizeTooLarge(String),
    /// A timeout that is not a number.
    #[error("timeout `{0}` is not a number of seconds")]
    NotSeconds(String),
    /// A timeout that is zero, negative or NaN.
    #[error("the timeout must be a positive number of seconds")]
    TimeoutNotPositive,
    /// A timeout above [`MAX_TIMEOUT_SECS`].
    #[error("timeout too large (at most {MAX_TIMEOUT_SECS} seconds, one year)")]
    TimeoutTooLarge,
    /// The timeout written as `text` broke the rule `reason`.
    #[error("timeout `{text}`: {reason}")]
    Timeout {
        /// The text as given.
        text: String,
        /// The rule it broke ([`ValueError::TimeoutNotPositive`] or
        /// [`ValueError::TimeoutTooLarge`]).
        reason: Box<ValueError>,
    },
    /// A worker count of 0.
    #[error("the number of workers must be at least 1")]
    NoWorkers,
    /// A worker count that is not a whole number.
    #[error("`{0}` is not a whole number of workers")]
    NotWorkers(String),
}

/// Parse a size with an optional `k`/`m`/`g`/`t` suffix (any case, powers
/// of 1024; no suffix means bytes, as GAP reads it). At most [`MAX_SIZE`].
pub fn parse_size(text: &str) -> Result<u64, ValueError> {
    let t = text.trim();
    let not_a_size = || ValueError::NotASize(text.to_string());
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
    // Digits only, so the only way `parse` fails is overflow.
    let too_large = || ValueError::SizeTooLarge(text.to_string());
    let n: u64 = digits.parse().map_err(|_| too_large())?;
    n.checked_mul(mult)
        .and_then(check_size)
        .ok_or_else(too_large)
}

/// `bytes` when it is at most [`MAX_SIZE`] (for sizes given as plain
/// numbers, e.g. a batch line's `"memory_limit": 1048576`).
pub fn check_size(bytes: u64) -> Option<u64> {
    (bytes <= MAX_SIZE).then_some(bytes)
}

/// A timeout in seconds (`2`, `0.5`, `1e3`): positive, finite and at most
/// [`MAX_TIMEOUT_SECS`]; the error says which rule `text` broke.
pub fn parse_seconds(text: &str) -> Result<Duration, ValueError> {
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| ValueError::NotSeconds(text.to_string()))?;
    seconds(v).map_err(|why| ValueError::Timeout {
        text: text.to_string(),
        reason: Box::new(why),
    })
}

/// A timeout of `v` seconds under the rules of [`parse_seconds`]; the error
/// is the broken rule alone ("timeout too large (at most …)").
pub fn seconds(v: f64) -> Result<Duration, ValueError> {
    if v.is_nan() || v <= 0.0 {
        return Err(ValueError::TimeoutNotPositive);
    }
    if v > MAX_TIMEOUT_SECS {
        return Err(ValueError::TimeoutTooLarge);
    }
    // Finite and in range: `from_secs_f64` cannot panic here. Below a
    // nanosecond it would round to zero: a positive timeout stays positive.
    Ok(Duration::from_secs_f64(v).max(Duration::from_nanos(1)))
}

/// A worker count: a whole number, at least 1. A count above the
/// number of tasks is harmless (no more workers than tasks are started).
pub fn parse_jobs(text: &str) -> Result<usize, ValueError> {
    let digits = text.trim();
    match digits.parse::<u64>() {
        Ok(0) => Err(ValueError::NoWorkers),
        Ok(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        // Digits beyond u64: more workers than could ever be started.
        Err(_) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(usize::MAX)
        }
        Err(_) => Err(ValueError::NotWorkers(text.to_string())),
    }
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
        assert_eq!(parse_size("1024t").unwrap(), MAX_SIZE);
        assert!(matches!(
            parse_size("1025t"),
            Err(ValueError::SizeTooLarge(t)) if t == "1025t"
        ));
        assert_eq!(parse_size("lots"), Err(ValueError::NotASize("lots".into())));
        assert!(parse_size("18446744073709551615").is_err());
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_seconds("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_seconds("0.5").unwrap(), Duration::from_millis(500));
        for bad in ["1e20", "1e300", "inf", "1e400"] {
            assert!(
                matches!(
                    parse_seconds(bad),
                    Err(ValueError::Timeout { ref reason, .. })
                        if **reason == ValueError::TimeoutTooLarge
                ),
                "{bad}"
            );
        }
        for bad in ["0", "-1", "nan", "NaN", "-inf", "abc", ""] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn jobs() {
        assert_eq!(parse_jobs("4").unwrap(), 4);
        assert_eq!(parse_jobs("0"), Err(ValueError::NoWorkers));
        assert!(parse_jobs("-1").is_err());
        assert!(parse_jobs("x").is_err());
        assert_eq!(parse_jobs("99999999999999999999999").unwrap(), usize::MAX);
        // Found by fuzzing (fuzz/fuzz_targets/size.rs): blank text is not
        // a count (it was read as "as many as possible").
        for blank in [" ", "\n", "\t "] {
            assert!(parse_jobs(blank).is_err(), "{blank:?}");
        }
        assert_eq!(parse_jobs(" 3\n").unwrap(), 3);
    }

    /// Found by fuzzing (fuzz/fuzz_targets/size.rs): a positive timeout
    /// below a nanosecond stays positive instead of becoming zero.
    #[test]
    fn tiny_timeouts_stay_positive() {
        for tiny in [1e-10, 5e-324, f64::MIN_POSITIVE] {
            assert!(seconds(tiny).unwrap() > Duration::ZERO, "{tiny:e}");
        }
        assert!(parse_seconds("1e-300").unwrap() > Duration::ZERO);
    }

    proptest::proptest! {
        /// No text makes a parser panic; what they accept is in range.
        #[test]
        fn parsers_never_panic(text in ".{0,40}") {
            if let Ok(n) = parse_size(&text) {
                proptest::prop_assert!(n <= MAX_SIZE);
            }
            if let Ok(d) = parse_seconds(&text) {
                proptest::prop_assert!(d > Duration::ZERO);
                proptest::prop_assert!(d.as_secs_f64() <= MAX_TIMEOUT_SECS);
            }
            if let Ok(j) = parse_jobs(&text) {
                proptest::prop_assert!(j >= 1);
            }
        }

        /// Number-like text (digits, signs, exponents, suffixes) reaches the
        /// arithmetic paths that random text rarely does.
        #[test]
        fn number_like_text_never_panics(
            text in "[-+]?[0-9]{0,25}(\\.[0-9]{0,5})?([eE][-+]?[0-9]{1,4})?[kKmMgGtT]?"
        ) {
            let _ = parse_size(&text);
            let _ = parse_seconds(&text);
            let _ = parse_jobs(&text);
        }

        /// Any float: `seconds` never panics, and accepts exactly the
        /// positive values up to the maximum.
        #[test]
        fn any_float_is_a_timeout_or_an_error(v in proptest::num::f64::ANY) {
            let ok = v > 0.0 && v <= MAX_TIMEOUT_SECS;
            proptest::prop_assert_eq!(seconds(v).is_ok(), ok);
        }
    }
}
