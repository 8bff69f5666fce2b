//! Starts GAP with its default packages, loads `io` (a package with a
//! compiled kernel module) and computes a group order.

use gaprun::{Gap, GapOptions};

fn main() -> Result<(), gaprun::Error> {
    let gap = Gap::init(GapOptions::default())?;
    let io = gap.load_package("io")?;
    let size: i64 = gap.eval_as("Size(SymmetricGroup(5))")?;
    println!("io={io} size={size}");
    Ok(())
}
