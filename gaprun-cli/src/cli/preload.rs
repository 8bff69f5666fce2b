//! `gaprun preload`: the path of the preload library, for hosts of a shared
//! libgap that gaprun does not start itself:
//! `LD_PRELOAD=$(gaprun preload) python3 script.py` gives SageMath's libgap
//! a MAP_NORESERVE pool (gap-sys `src/shim/pool_hook.c`).
//!
//! The library is embedded in the binary, so it works after `cargo install`
//! and after the checkout is gone: it is written once to the per-user cache
//! under a name that carries its hash (concurrent runs and different gaprun
//! versions never overwrite each other's file), or found next to the binary
//! when a package installed it there.

use super::{EXIT_OK, EXIT_USAGE};
use clap::Args;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The library's file name, next to the binary or in the cache.
const FILE_NAME: &str = "libgaprun_preload.so";

#[derive(Args, Debug)]
pub struct PreloadArgs {
    /// Write the library into this folder instead of the per-user cache
    /// (`$XDG_CACHE_HOME/gaprun/preload`, else `~/.cache/gaprun/preload`).
    #[arg(long, value_name = "DIR", env = "GAPRUN_PRELOAD_DIR")]
    pub dir: Option<PathBuf>,
}

pub fn run(args: &PreloadArgs) -> i32 {
    let Some(bytes) = gaprun::sys::PRELOAD_LIBRARY else {
        eprintln!("gaprun: the preload library is only built for Linux");
        return EXIT_USAGE;
    };
    match locate(bytes, args.dir.as_deref()) {
        Ok(path) => {
            println!("{}", path.display());
            EXIT_OK
        }
        Err(e) => {
            eprintln!("gaprun: {e}");
            EXIT_USAGE
        }
    }
}

/// A file holding exactly `bytes`: next to the running binary if one is
/// there (and no folder was asked for), else written to `dir` or the cache.
fn locate(bytes: &[u8], dir: Option<&Path>) -> Result<PathBuf, String> {
    if dir.is_none() {
        let beside = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|d| d.join(FILE_NAME)));
        if let Some(path) = beside.filter(|p| holds(p, bytes)) {
            return Ok(path);
        }
    }
    let base = match dir {
        Some(d) => d.to_path_buf(),
        None => directories::ProjectDirs::from("org", "gaprun", "gaprun")
            .map(|p| p.cache_dir().join("preload"))
            .ok_or("no per-user cache folder (HOME is not set); pass --dir DIR")?,
    };
    let hash: String = Sha256::digest(bytes)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let folder = base.join(hash);
    let path = folder.join(FILE_NAME);
    if holds(&path, bytes) {
        return Ok(path);
    }
    install(&folder, &path, bytes).map_err(|e| {
        format!(
            "cannot write the preload library to {}: {e}",
            path.display()
        )
    })?;
    Ok(path)
}

fn holds(path: &Path, bytes: &[u8]) -> bool {
    std::fs::read(path).is_ok_and(|found| found == bytes)
}

/// Write through a temporary file and rename: a reader (another process's
/// dynamic loader) never sees a half-written library.
fn install(folder: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(folder)?;
    let mut tmp = tempfile::NamedTempFile::new_in(folder)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o755))?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
