//! Count the groups of each order up to N with the SmallGroups library, and
//! how many of them are abelian.
//!
//! `cargo run --example count_groups -- 32`
use gaprun::{Gap, GapObj, GapOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: i64 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(24);
    let gap = Gap::init(GapOptions {
        autoload: false,
        packages: vec!["smallgrp".into()],
        ..Default::default()
    })?;
    let number_small_groups = gap.function("NumberSmallGroups")?;
    let all_small_groups = gap.function("AllSmallGroups")?;
    let is_abelian = gap.function("IsAbelian")?;
    println!("order  groups  abelian");
    for order in 1..=n {
        let count: i64 = number_small_groups.call((order,))?;
        let groups: Vec<GapObj> = all_small_groups.call((order,))?;
        let mut abelian = 0;
        for g in &groups {
            if is_abelian.call::<bool>((g,))? {
                abelian += 1;
            }
        }
        println!("{order:5}  {count:6}  {abelian:7}");
    }
    Ok(())
}
