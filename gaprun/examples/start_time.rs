//! How long a library start takes: `cargo run --release -p gaprun --example
//! start_time -- builder` (pool policy + workspace cache, the default fast
//! start) or `-- init` (`Gap::init(GapOptions::default())`, GAP's library
//! read from its files). GAP starts once per process, so run each way in
//! its own process.

use std::time::Instant;

fn main() -> Result<(), gaprun::Error> {
    let how = std::env::args().nth(1).unwrap_or_else(|| "builder".into());
    let start = Instant::now();
    let gap = match how.as_str() {
        "init" => gaprun::Gap::init(gaprun::GapOptions::default())?,
        _ => gaprun::Gap::builder().start()?,
    };
    let started = start.elapsed();
    let size: i64 = gap.eval_value("Size(SymmetricGroup(5))")?.extract()?;
    println!(
        "{how}: started in {:.3} s; Size(SymmetricGroup(5)) = {size}",
        started.as_secs_f64()
    );
    Ok(())
}
