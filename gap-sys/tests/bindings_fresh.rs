//! With `--features bindgen` (needs libclang), the build regenerates the raw
//! bindings; this test fails when the committed `src/bindings.rs` differs,
//! i.e. when a header changed and nobody regenerated them.
#![cfg(feature = "bindgen")]

#[test]
fn bindings_are_fresh() {
    let generated = std::fs::read_to_string(env!("GAPRUN_GENERATED_BINDINGS")).unwrap();
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/bindings.rs")).unwrap();
    assert!(
        generated == committed,
        "src/bindings.rs is stale: run `cargo build --features bindgen && cp {} gap-sys/src/bindings.rs`",
        env!("GAPRUN_GENERATED_BINDINGS")
    );
}
