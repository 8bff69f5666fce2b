//! Build script: fetch the pinned GAP distribution (or find the system's GAP), link libgap
//! through the pool hook, compile the C shim, and make every dependent's
//! executables export GAP's kernel symbols.
//!
//! The steps live in `build/`: `dist.rs` (the default GAP from pinned
//! registry artifacts), `locate.rs` (where GAP is), `fetch.rs`
//! (`system`: apt-get download + sha256 check + dpkg-deb -x), `link.rs` (the hooked
//! copy of libgap.a and the link lines) and `exports.rs` (the exports
//! reference library).

#[path = "build/dist.rs"]
mod dist;
#[path = "build/exports.rs"]
mod exports;
#[path = "build/fetch.rs"]
mod fetch;
#[path = "build/link.rs"]
mod link;
#[path = "build/locate.rs"]
mod locate;
#[path = "build/preload.rs"]
mod preload;

use std::env;
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it"));

    for var in [
        "GAPRUN_GAP",
        "GAP_ROOT",
        "GAP_INCLUDE_DIR",
        "GAP_LIB_DIR",
        "GAPRUN_OFFLINE",
        "GAPRUN_LINK",
        "GAP_SYS_EXPORTS_DIR",
        "GAP_SYS_EXPORTS_REF",
        "XDG_CACHE_HOME",
        "HOME",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build");
    println!("cargo:rerun-if-changed=src/shim");
    println!("cargo:rerun-if-changed=vendor/gap-packages.lock");
    println!("cargo:rustc-check-cfg=cfg(gap_sys_exports_ref)");
    println!("cargo:rustc-check-cfg=cfg(gap_sys_preload)");

    // GAPRUN_GAP selects where GAP comes from (README, "Choosing the GAP"):
    // `dist` (the default: GAP 4.16.1 with the standard packages from
    // pinned registry artifacts, cached per user), `system` (the machine's
    // GAP, else Debian 12's pinned packages) or the path of a GAP tree.
    let choice = env::var("GAPRUN_GAP").unwrap_or_default();
    let (install, kind) = match choice.as_str() {
        "system" => (system_gap(&manifest_dir), "system"),
        "" | "dist" => (
            dist::obtain().unwrap_or_else(|e| fail(&format!("GAPRUN_GAP=dist: {e}"))),
            "dist",
        ),
        path => (
            locate::from_path(std::path::Path::new(path)).unwrap_or_else(|e| fail(&e)),
            "path",
        ),
    };
    build(&manifest_dir, &out_dir, &install, kind);
}

/// `GAPRUN_GAP=system`: the machine's GAP, else the pinned Debian 12 packages.
fn system_gap(manifest_dir: &std::path::Path) -> locate::GapInstall {
    match locate::find_gap(manifest_dir) {
        Ok(install) => install,
        Err(searched) => {
            if let Err(e) = fetch::fetch_pinned(manifest_dir) {
                fail(&format!(
                    "no GAP installation found and fetching the pinned packages failed.\n\
                     Looked for:\n{searched}\n\
                     Fetch error: {e}\n\
                     Fix: install GAP (`apt-get install libgap-dev gap-libs gap-core`), \
                     or point GAP_ROOT / GAP_INCLUDE_DIR / GAP_LIB_DIR at an existing GAP, \
                     or allow the fetch (unset GAPRUN_OFFLINE) on a machine with apt-get."
                ));
            }
            match locate::find_gap(manifest_dir) {
                Ok(install) => install,
                Err(searched) => fail(&format!(
                    "fetched the pinned GAP packages but still cannot use them.\n\
                     Looked for:\n{searched}\nFix: remove {} and build again.",
                    manifest_dir.join("vendor/gap").display()
                )),
            }
        }
    }
}

fn build(
    manifest_dir: &std::path::Path,
    out_dir: &std::path::Path,
    install: &locate::GapInstall,
    kind: &str,
) {
    let linked = link::link_gap(install, out_dir).unwrap_or_else(|e| fail(&e));
    link::compile_shim(install, &linked, manifest_dir);
    link::emit_link_lines(&linked);
    preload_library(manifest_dir, out_dir);
    // GAP_SYS_EXPORTS_REF=0: for programs that export the symbols
    // themselves (`-Wl,--export-dynamic`), and to test that `Gap::init`
    // notices when nobody does.
    let exports_wanted = env::var("GAP_SYS_EXPORTS_REF").map_or(true, |v| v != "0");
    if linked.mode == "static-hooked" && exports_wanted {
        let built = exports::build_reference_library(&linked, out_dir)
            .and_then(|lib| exports::add_anchor(&linked, out_dir).map(|()| lib));
        match built {
            Ok(lib) => {
                exports::emit_link_lines(&lib);
                println!("cargo:rustc-cfg=gap_sys_exports_ref");
            }
            // Not fatal: the library then reports at `Gap::init` that
            // compiled packages cannot load, naming the linker flag.
            Err(e) => println!("cargo:warning=gap-sys: {e}"),
        }
    }

    // What the runtime needs to know about the GAP it was built against
    // (constants in src/lib.rs).
    let roots = install.roots_string();
    let version = install.version.as_deref().unwrap_or("unknown");
    let executable = install
        .gap_executable
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    println!("cargo:rustc-env=GAP_SYS_GAP_ROOTS={roots}");
    println!("cargo:rustc-env=GAP_SYS_GAP_SOURCE={}", install.source);
    println!("cargo:rustc-env=GAP_SYS_GAP_KIND={kind}");
    println!("cargo:rustc-env=GAP_SYS_LINK_MODE={}", linked.mode);
    println!("cargo:rustc-env=GAP_SYS_LIBGAP_ID={}", linked.library_id);
    println!("cargo:rustc-env=GAP_SYS_GAP_VERSION={version}");
    println!("cargo:rustc-env=GAP_SYS_GAP_EXECUTABLE={executable}");

    // The same for dependents' build scripts (`links = "gap"`): DEP_GAP_*.
    println!("cargo:include={}", install.include_dir.display());
    println!("cargo:lib_dir={}", install.lib_dir.display());
    println!(
        "cargo:shim_include={}",
        manifest_dir.join("src/shim").display()
    );
    println!("cargo:roots={roots}");
    println!("cargo:version={version}");
    println!("cargo:kind={kind}");
    println!("cargo:link_mode={}", linked.mode);
    println!(
        "cargo:pool_hook={}",
        u8::from(linked.mode == "static-hooked")
    );

    #[cfg(feature = "bindgen")]
    link::generate_bindings(install, out_dir);
}

/// The LD_PRELOAD library (build/preload.rs), embedded in gap-sys.
fn preload_library(manifest_dir: &std::path::Path, out_dir: &std::path::Path) {
    match preload::build_preload(manifest_dir, out_dir) {
        Ok(Some(path)) => {
            println!("cargo:rustc-env=GAP_SYS_PRELOAD_LIBRARY={}", path.display());
            println!("cargo:rustc-cfg=gap_sys_preload");
        }
        Ok(None) => {}
        // Not fatal: only `gaprun preload` needs it, and says so.
        Err(e) => println!("cargo:warning=gap-sys: {e}"),
    }
}

/// Stop the build with one clear message (cargo shows the panic text).
fn fail(message: &str) -> ! {
    eprintln!("\ngap-sys build error: {message}\n");
    panic!("gap-sys build error: {message}");
}
