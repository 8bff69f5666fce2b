//! Sizes, timeouts and worker counts as users type them (`gaprun::size`):
//! no text or number makes a parser panic (overflow checks are on in fuzz
//! builds), what they accept is in range, and values survive the round trip
//! through the notation gaprun itself writes.
#![no_main]

use gaprun::size::{
    check_size, format_bytes, gap_flag_value, parse_jobs, parse_seconds, parse_size, seconds,
    ValueError, MAX_SIZE, MAX_TIMEOUT_SECS,
};
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    // The first 8 bytes are also read as a number (every f64 bit pattern:
    // NaN, infinities, subnormals; every u64).
    if let Some(bytes) = data.get(..8) {
        let raw = u64::from_le_bytes(bytes.try_into().unwrap());
        number(raw);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        text_inputs(text);
    }
});

fn number(raw: u64) {
    let v = f64::from_bits(raw);
    let ok = v > 0.0 && v <= MAX_TIMEOUT_SECS;
    assert_eq!(seconds(v).is_ok(), ok, "seconds({v:e})");
    if let Ok(d) = seconds(v) {
        // "Positive" holds after the conversion too: no accepted timeout
        // becomes a zero `Duration`.
        assert!(d > Duration::ZERO, "seconds({v:e}) = {d:?}");
    }
    // Sizes as plain numbers (a batch line's `"memory_limit": 1048576`).
    assert_eq!(check_size(raw), (raw <= MAX_SIZE).then_some(raw));
    let _ = format_bytes(raw);
    if raw <= MAX_SIZE {
        // Decimal bytes read back exactly.
        assert_eq!(parse_size(&raw.to_string()), Ok(raw));
        // The flag value gaprun passes to GAP (whole KiB, rounded up) reads
        // back as the same number of KiB.
        let flag = gap_flag_value(raw);
        assert_eq!(parse_size(&flag), Ok(raw.div_ceil(1024) * 1024), "{flag}");
    }
    let jobs = raw as usize;
    if jobs >= 1 {
        assert_eq!(parse_jobs(&jobs.to_string()), Ok(jobs));
    }
}

fn text_inputs(text: &str) {
    match parse_size(text) {
        Ok(n) => {
            assert!(n <= MAX_SIZE, "parse_size({text:?}) = {n}");
            // Accepted text is digits with at most one unit letter.
            let t = text.trim();
            assert!(t.bytes().take(t.len() - 1).all(|b| b.is_ascii_digit()));
        }
        Err(e) => assert!(
            matches!(e, ValueError::NotASize(_) | ValueError::SizeTooLarge(_)),
            "parse_size({text:?}): {e:?}"
        ),
    }
    match parse_seconds(text) {
        Ok(d) => {
            assert!(d.as_secs_f64() <= MAX_TIMEOUT_SECS, "{text:?} -> {d:?}");
            // The same value as reading the float and applying `seconds`.
            let v: f64 = text.trim().parse().unwrap();
            assert_eq!(seconds(v), Ok(d));
        }
        Err(e) => assert!(e.to_string().contains("timeout"), "{e}"),
    }
    match parse_jobs(text) {
        Ok(j) => {
            assert!(j >= 1, "parse_jobs({text:?}) = {j}");
            // Only a whole number (Rust's `u64` syntax: an optional `+`)
            // is a worker count.
            let t = text.trim();
            let t = t.strip_prefix('+').unwrap_or(t);
            assert!(
                !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()),
                "parse_jobs({text:?}) = {j}"
            );
        }
        Err(e) => assert!(
            matches!(e, ValueError::NoWorkers | ValueError::NotWorkers(_)),
            "parse_jobs({text:?}): {e:?}"
        ),
    }
}
