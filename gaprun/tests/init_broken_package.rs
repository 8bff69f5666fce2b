//! `Gap::init` checks that GAP's start-up finished: a package GAP's library
//! needs (here a copy of GAPDoc whose init.g raises an error, in a root
//! searched first) fails to load, GAP prints the error and goes on, and
//! `Gap::init` must report that instead of handing out the GAP. Own
//! binary: GAP starts once per process.

use gaprun::{Error, Gap, GapOptions};
use std::path::PathBuf;

#[test]
fn a_needed_package_that_fails_to_load_fails_init() {
    let roots = GapOptions::default().effective_roots();
    // Debian names the folder GAPDoc, GAP's own distribution gapdoc.
    let gapdoc = roots
        .iter()
        .filter_map(|r| std::fs::read_dir(r.join("pkg")).ok())
        .flat_map(|d| d.flatten())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.eq_ignore_ascii_case("gapdoc"))
                && p.join("PackageInfo.g").is_file()
        })
        .expect("GAPDoc under the build's roots");
    let root: PathBuf =
        std::env::temp_dir().join(format!("gaprun-broken-pkg-{}", std::process::id()));
    let pkg = root.join("pkg/GAPDoc");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::copy(gapdoc.join("PackageInfo.g"), pkg.join("PackageInfo.g")).unwrap();
    std::fs::write(pkg.join("init.g"), "Error(\"this GAPDoc is broken\");\n").unwrap();
    std::fs::write(pkg.join("read.g"), "\n").unwrap();
    let mut all_roots = vec![root.clone()];
    all_roots.extend(roots);
    let result = Gap::init(GapOptions {
        roots: all_roots,
        autoload: false,
        ..GapOptions::default()
    });
    std::fs::remove_dir_all(&root).unwrap();
    match result {
        Err(Error::Setup(msg)) => {
            assert!(msg.contains("GAPDoc") || msg.contains("gapdoc"), "{msg}")
        }
        Err(e) => panic!("unexpected error {e:?}"),
        Ok(_) => panic!("a GAP whose needed package failed to load was handed out"),
    }
}
