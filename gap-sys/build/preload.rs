//! The preload library: `src/shim/pool_hook.c` built alone as a shared
//! object, for `LD_PRELOAD` under any host of a shared libgap (SageMath's).
//! It needs nothing of GAP; the `gaprun preload` command writes the bytes
//! embedded in gap-sys (`PRELOAD_LIBRARY`) to the per-user cache.

use std::env;
use std::path::{Path, PathBuf};

/// Build `libgaprun_preload.so` in `out_dir` (Linux only: elsewhere `None`).
pub fn build_preload(manifest_dir: &Path, out_dir: &Path) -> Result<Option<PathBuf>, String> {
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return Ok(None);
    }
    let shim = manifest_dir.join("src/shim");
    let output = out_dir.join("libgaprun_preload.so");
    let compiler = cc::Build::new()
        .pic(true)
        .opt_level(2)
        .try_get_compiler()
        .map_err(|e| format!("no C compiler for the preload library: {e}"))?;
    let status = compiler
        .to_command()
        .args(["-shared", "-DGAPRUN_PRELOAD", "-Wall", "-Wextra"])
        .arg("-I")
        .arg(&shim)
        .arg("-o")
        .arg(&output)
        .arg(shim.join("pool_hook.c"))
        .arg("-ldl")
        .status()
        .map_err(|e| format!("cannot run the C compiler for the preload library: {e}"))?;
    if !status.success() {
        return Err(format!("compiling {} failed", output.display()));
    }
    Ok(Some(output))
}
