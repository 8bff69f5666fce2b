//! The same checks in an integration test, a target kind that build-script
//! link arguments of a dependency never reach.

use gaprun::{Gap, GapOptions};

#[test]
fn compiled_packages_load_in_an_integration_test() {
    let gap = Gap::init(GapOptions::default()).expect("GAP starts");
    assert!(gap.load_package("io").expect("LoadPackage runs"));
    let size: i64 = gap.eval_as("Size(SymmetricGroup(5))").expect("Size");
    assert_eq!(size, 120);
}
