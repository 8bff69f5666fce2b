//! `Gap::builder()` started under libtest's harness: the process has several
//! threads, so the workspace cache cannot build (building forks) — the start
//! must still succeed, with the pool policy applied.

use gaprun::pool::PolicyError;
use gaprun::{Error, Gap, GapOptions};

#[test]
fn builder_starts_with_several_threads() {
    let dir = std::env::temp_dir().join(format!("gaprun-builder-threads-{}", std::process::id()));
    let builder = Gap::builder().autoload(false).cache_dir(&dir);
    let prepared = builder.prepare().expect("policy decides");
    assert!(
        prepared.policy.is_some() && prepared.options.pool_size.is_some(),
        "the pool policy sizes the pool: {:?}",
        prepared.options
    );
    assert!(!prepared.cache.used && !prepared.cache.built);
    assert!(
        prepared.cache.reason.contains("several threads"),
        "{}",
        prepared.cache.reason
    );
    // Opt-outs.
    let plain = Gap::builder()
        .autoload(false)
        .pool_policy(false)
        .workspace_cache(false)
        .prepare()
        .expect("no policy, no error");
    assert!(plain.policy.is_none());
    assert_eq!(plain.options.pool_size, None);
    assert!(!plain.cache.used && plain.cache.dir.is_none());

    assert_eq!(plain.cache.reason, "disabled");
    // Memory settings the policy refuses: a typed error, checked before
    // GAP starts (so this process can still start GAP below).
    let tiny = Gap::builder()
        .autoload(false)
        .workspace_cache(false)
        .hard_limit(10 << 20);
    match tiny.prepare() {
        Err(Error::Policy(PolicyError::HardLimitTooSmall(bytes))) => assert_eq!(bytes, 10 << 20),
        other => panic!("expected a policy error, got {other:?}"),
    }
    assert!(matches!(
        tiny.start(),
        Err(Error::Policy(PolicyError::HardLimitTooSmall(_)))
    ));
    assert!(Gap::initialized_options().is_none());

    let gap = builder
        .clone()
        .start()
        .expect("GAP starts without the cache");
    let n: i64 = gap
        .eval_value("Size(SymmetricGroup(4))")
        .unwrap()
        .extract()
        .unwrap();
    assert_eq!(n, 24);
    // The same builder again: another handle to the same GAP.
    builder.start().expect("same builder, same GAP");
    // Another configuration cannot be started in this process.
    assert!(matches!(
        Gap::builder().autoload(true).start(),
        Err(Error::AlreadyInitialized(_))
    ));
    assert!(matches!(
        Gap::init(GapOptions::default()),
        Err(Error::AlreadyInitialized(_))
    ));
    let _ = std::fs::remove_dir_all(&dir);
}
