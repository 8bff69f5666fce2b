//! `Gap::builder()` in a single-threaded process (no libtest harness): the
//! first start builds the saved workspace in a forked child and restores
//! GAP from it; the compiled packages still load afterwards.

use gaprun::Gap;

fn main() {
    let dir = std::env::temp_dir().join(format!("gaprun-builder-cache-{}", std::process::id()));
    let builder = Gap::builder().cache_dir(&dir);
    let prepared = builder.prepare().expect("policy decides");
    assert!(
        prepared.cache.built && prepared.cache.used,
        "the cache builds and uses a workspace: {:?}",
        prepared.cache
    );
    // Preparing again finds the workspace built above.
    let again = builder.prepare().expect("policy decides");
    assert!(again.cache.used && !again.cache.built, "{:?}", again.cache);
    drop((prepared, again));
    let gap = builder
        .start()
        .expect("GAP starts from the cached workspace");
    assert!(gap.load_package("io").expect("LoadPackage runs"));
    let n: i64 = gap
        .eval_value("Size(SymmetricGroup(5))")
        .unwrap()
        .extract()
        .unwrap();
    assert_eq!(n, 120);
    assert!(gaprun::Gap::initialized_options()
        .and_then(|o| o.workspace)
        .is_some());
    let _ = std::fs::remove_dir_all(&dir);
    println!("builder_cache: ok");
}
