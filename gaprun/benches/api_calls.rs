//! Per-call cost of the embedding API (compare: benches/sage_libgap.py,
//! both run by benches/api_compare.sh). Plain timing loops, no harness:
//! each case runs for about a second after a warm-up and prints one JSON
//! line `{"case": ..., "ns_per_op": ...}`, the median of 5 rounds.
use gaprun::{Gap, GapObj, GapOptions};
use std::time::{Duration, Instant};

fn measure(case: &str, mut op: impl FnMut() -> gaprun::Result<()>) -> gaprun::Result<()> {
    // calibrate: how many iterations take ~200 ms
    let mut iters = 1u64;
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            op()?;
        }
        if t.elapsed() > Duration::from_millis(200) {
            break;
        }
        iters *= 2;
    }
    let mut rounds = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..iters {
            op()?;
        }
        rounds.push(t.elapsed().as_nanos() as f64 / iters as f64);
    }
    rounds.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{{\"impl\": \"gaprun\", \"case\": \"{case}\", \"ns_per_op\": {:.1}}}",
        rounds[2]
    );
    Ok(())
}

fn main() -> gaprun::Result<()> {
    // `cargo bench` passes --bench; nothing to parse
    let gap = Gap::init(GapOptions {
        autoload: false,
        ..Default::default()
    })?;
    measure("eval 1+1", || gap.eval_value("1+1").map(drop))?;
    let gcd = gap.function("Gcd")?;
    measure("call Gcd(12, 18) -> int", || {
        let r: i64 = gcd.call((12i64, 18i64))?;
        assert_eq!(r, 6);
        Ok(())
    })?;
    let one = gap.value(&1)?;
    measure("1 + 1 on handles", || one.add(&one).map(drop))?;
    let v: Vec<i64> = (0..100_000).collect();
    measure("list 10^5 ints Rust -> GAP", || gap.value(&v).map(drop))?;
    let l: GapObj = gap.value(&v)?;
    measure("list 10^5 ints GAP -> Rust", || {
        let back: Vec<i64> = l.extract()?;
        assert_eq!(back.len(), 100_000);
        Ok(())
    })?;
    Ok(())
}
