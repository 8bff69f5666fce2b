//! Print the character table of a group given in GAP syntax, with each
//! character's values as Rust data where they are rational and as GAP's
//! view strings (cyclotomics such as `E(3)`) otherwise.
//!
//! `cargo run --example character_table -- 'AlternatingGroup(5)'`
use gaprun::{Gap, GapObj, GapOptions, Kind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let group = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "SymmetricGroup(4)".into());
    let gap = Gap::init(GapOptions {
        autoload: false,
        ..Default::default()
    })?;
    let g = gap.eval_value(&group)?;
    let table: GapObj = gap.call_fn("CharacterTable", (&g,))?;
    let classes: Vec<i64> = gap.call_fn("SizesConjugacyClasses", (&table,))?;
    let irr: Vec<GapObj> = gap.call_fn("Irr", (&table,))?;
    println!(
        "{group}: order {}, {} classes",
        gap.call_fn::<i64>("Size", (&g,))?,
        classes.len()
    );
    println!("class sizes: {classes:?}");
    for (i, chi) in irr.iter().enumerate() {
        let values: Vec<GapObj> = gap.call_fn("ValuesOfClassFunction", (chi,))?;
        let shown: Vec<String> = values
            .iter()
            .map(|v| match v.kind() {
                Ok(Kind::Int) => v
                    .extract::<i64>()
                    .map(|x| x.to_string())
                    .unwrap_or_else(|e| e.to_string()),
                _ => v.to_string(),
            })
            .collect();
        // orthogonality: <chi, chi> = 1 for an irreducible character
        let norm: i64 = gap.call_fn("ScalarProduct", (&table, chi, chi))?;
        println!(
            "chi_{:<2} = [{}]  <chi,chi> = {norm}",
            i + 1,
            shown.join(", ")
        );
    }
    Ok(())
}
