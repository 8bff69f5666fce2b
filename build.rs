//! Build script: find GAP (or fetch the pinned Debian packages), link libgap
//! through the pool hook, and compile the C shim.
//!
//! The steps live in `build/`: `locate.rs` (where GAP is), `fetch.rs`
//! (apt-get download + sha256 check + dpkg-deb -x) and `link.rs` (the
//! hooked copy of libgap.a and the link lines).

#[path = "build/fetch.rs"]
mod fetch;
#[path = "build/link.rs"]
mod link;
#[path = "build/locate.rs"]
mod locate;

use std::env;
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it"));

    for var in [
        "GAP_ROOT",
        "GAP_INCLUDE_DIR",
        "GAP_LIB_DIR",
        "GAPRUN_OFFLINE",
        "GAPRUN_LINK",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build");
    println!("cargo:rerun-if-changed=src/shim");
    println!("cargo:rerun-if-changed=vendor/gap-packages.lock");

    let install = match locate::find_gap(&manifest_dir) {
        Ok(install) => install,
        Err(searched) => {
            if let Err(e) = fetch::fetch_pinned(&manifest_dir) {
                fail(&format!(
                    "no GAP installation found and fetching the pinned packages failed.\n\
                     Looked for:\n{searched}\n\
                     Fetch error: {e}\n\
                     Fix: install GAP (`apt-get install libgap-dev gap-libs gap-core`), \
                     or point GAP_ROOT / GAP_INCLUDE_DIR / GAP_LIB_DIR at an existing GAP, \
                     or allow the fetch (unset GAPRUN_OFFLINE) on a machine with apt-get."
                ));
            }
            match locate::find_gap(&manifest_dir) {
                Ok(install) => install,
                Err(searched) => fail(&format!(
                    "fetched the pinned GAP packages but still cannot use them.\n\
                     Looked for:\n{searched}\nFix: remove vendor/gap and build again."
                )),
            }
        }
    };

    let linked = link::link_gap(&install, &out_dir).unwrap_or_else(|e| fail(&e));
    link::compile_shim(&install, &linked, &manifest_dir);
    link::emit_link_lines(&linked);

    // What the runtime needs to know about the GAP it was built against.
    println!("cargo:rustc-env=GAPRUN_GAP_ROOTS={}", install.roots_string());
    println!("cargo:rustc-env=GAPRUN_GAP_SOURCE={}", install.source);
    println!("cargo:rustc-env=GAPRUN_LINK_MODE={}", linked.mode);
    println!("cargo:rustc-env=GAPRUN_LIBGAP_ID={}", linked.library_id);
    println!(
        "cargo:rustc-env=GAPRUN_GAP_VERSION={}",
        install.version.as_deref().unwrap_or("unknown")
    );
    println!(
        "cargo:rustc-env=GAPRUN_GAP_EXECUTABLE={}",
        install
            .gap_executable
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );

    #[cfg(feature = "bindgen")]
    link::generate_bindings(&install, &out_dir);
}

/// Stop the build with one clear message (cargo shows the panic text).
fn fail(message: &str) -> ! {
    eprintln!("\ngaprun build error: {message}\n");
    panic!("gaprun build error: {message}");
}
