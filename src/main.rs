use gaprun::{Gap, GapOptions};
fn main() {
    let gap = Gap::init(GapOptions { autoload: false, ..Default::default() }).unwrap();
    for st in gap.eval("Size(SymmetricGroup(7)); Print(\"hi\\n\"); 1/0; x:=3;; x; y;").unwrap() {
        println!("{st:?}");
    }
    println!("{:?}", gap.load_package("io"));
    println!("{:?}", gap.pool_stats());
}
