//! Link libgap and compile the C shim.
//!
//! Static linking goes through a copy of `libgap.a` in which `mmap` is renamed
//! to `gaprun_pool_mmap` (the pool hook, so gaprun can add MAP_NORESERVE to
//! GAP's pool) and GAP's own `main` is renamed out of the way. Only when no
//! `libgap.a` exists is `libgap.so` linked, and then the hook is unavailable.

use crate::locate::GapInstall;
use sha2::{Digest, Sha256};
use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Linked {
    /// "static-hooked" or "dynamic".
    pub mode: &'static str,
    /// Identity of the linked kernel (sha256 prefix of the library file).
    pub library_id: String,
    pub search_dir: PathBuf,
    /// The library file linked (the hooked archive, or libgap.so).
    pub library: PathBuf,
}

fn sha256_prefix(path: &Path) -> Result<String, String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect())
}

pub fn link_gap(install: &GapInstall, out_dir: &Path) -> Result<Linked, String> {
    let archive = install.lib_dir.join("libgap.a");
    let want_dynamic = env::var("GAPRUN_LINK").is_ok_and(|v| v == "dynamic");
    if archive.is_file() && !want_dynamic {
        let hooked = out_dir.join("libgap_hooked.a");
        fs::copy(&archive, &hooked)
            .map_err(|e| format!("cannot copy {}: {e}", archive.display()))?;
        let objcopy = env::var("OBJCOPY").unwrap_or_else(|_| "objcopy".to_string());
        let out = Command::new(&objcopy)
            .arg("--redefine-sym")
            .arg("mmap=gaprun_pool_mmap")
            .arg("--redefine-sym")
            .arg("main=gaprun_gap_original_main")
            .arg("--redefine-sym")
            .arg("write=gaprun_gap_write")
            .arg(&hooked)
            .output()
            .map_err(|e| {
                format!("cannot run {objcopy} (binutils) to install the pool hook: {e}. Fix: apt-get install binutils")
            })?;
        if !out.status.success() {
            return Err(format!(
                "objcopy failed on {}: {}",
                hooked.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        return Ok(Linked {
            mode: "static-hooked",
            library_id: sha256_prefix(&archive)?,
            search_dir: out_dir.to_path_buf(),
            library: hooked,
        });
    }
    let shared = install.lib_dir.join("libgap.so");
    if shared.exists() {
        println!(
            "cargo:warning=gaprun: linking libgap.so dynamically; the pool hook is an mmap interposer (pool_hook.c)"
        );
        return Ok(Linked {
            mode: "dynamic",
            library_id: sha256_prefix(&fs::canonicalize(&shared).unwrap_or(shared.clone()))?,
            search_dir: install.lib_dir.clone(),
            library: shared,
        });
    }
    Err(format!(
        "no libgap.a or libgap.so in {}",
        install.lib_dir.display()
    ))
}

pub fn compile_shim(install: &GapInstall, linked: &Linked, manifest_dir: &Path) {
    let mut build = cc::Build::new();
    // Every C file in src/shim is part of the shim (one file per concern).
    let shim_dir = manifest_dir.join("src/shim");
    let mut sources: Vec<PathBuf> = fs::read_dir(&shim_dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    sources.retain(|p| p.extension().is_some_and(|e| e == "c"));
    sources.sort();
    build
        .files(&sources)
        .include(&install.include_dir)
        .include(manifest_dir.join("src/shim"))
        .flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-Wno-sign-compare")
        .warnings(true);
    if linked.mode == "static-hooked" {
        build.define("GAPRUN_POOL_HOOK", None);
    } else {
        // libgap.so: the executable defines `mmap` (pool_hook.c).
        build.define("GAPRUN_MMAP_INTERPOSER", None);
    }
    build.compile("gaprun_shim");
}

pub fn emit_link_lines(linked: &Linked) {
    println!(
        "cargo:rustc-link-search=native={}",
        linked.search_dir.display()
    );
    if linked.mode == "static-hooked" {
        // whole-archive: compiled GAP packages (io.so, …) resolve kernel
        // symbols that gaprun itself never references.
        println!("cargo:rustc-link-lib=static:+whole-archive=gap_hooked");
        // Runtime libraries by soname, so no -dev package is needed.
        for lib in ["libgmp.so.10", "libz.so.1", "libreadline.so.8"] {
            println!("cargo:rustc-link-lib=dylib:+verbatim={lib}");
        }
        // GAP 4.13+ kernels also call dlopen and pthread functions
        // (folded into libc since glibc 2.34; named for older ones).
        for lib in ["m", "dl", "pthread"] {
            println!("cargo:rustc-link-lib=dylib={lib}");
        }
    } else {
        println!("cargo:rustc-link-lib=dylib=gap");
        println!(
            "cargo:rustc-link-arg=-Wl,-rpath,{}",
            linked.search_dir.display()
        );
    }
    // Compiled GAP packages have no DT_NEEDED on libgap: they expect the
    // executable to export GAP's kernel symbols. A link argument would
    // reach only this crate's own targets, so exports.rs does it in a way
    // that reaches every dependent.
}

#[cfg(feature = "bindgen")]
pub fn generate_bindings(install: &GapInstall, out_dir: &Path) {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let bindings = bindgen::Builder::default()
        .header(manifest_dir.join("wrapper.h").display().to_string())
        .clang_arg(format!("-I{}", install.include_dir.display()))
        .clang_arg(format!("-I{}", manifest_dir.join("src/shim").display()))
        .allowlist_function("GAP_.*")
        .allowlist_var("GAP_.*")
        .allowlist_function("gaprun_.*")
        .allowlist_type("gaprun_.*")
        .allowlist_var("GAPRUN_.*")
        .layout_tests(false)
        .generate_comments(false)
        .generate()
        .expect("bindgen failed");
    let path = out_dir.join("bindings.rs");
    bindings
        .write_to_file(&path)
        .expect("cannot write bindings");
    // For the test that compares them with the committed src/bindings.rs.
    println!(
        "cargo:rustc-env=GAPRUN_GENERATED_BINDINGS={}",
        path.display()
    );
}
