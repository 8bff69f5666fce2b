//! The daemon's folder: one per user, reachable by that user only.
//!
//! `$GAPRUN_DAEMON_DIR` (tests, unusual setups), else
//! `$XDG_RUNTIME_DIR/gaprun`, else `/tmp/gaprun-$UID`. The folder must be a
//! real folder (not a symbolic link), owned by the user, with no access
//! for group or others (0700): a folder in `/tmp` could have been made by
//! someone else first, and a socket in it would then be theirs to replace.
//! Each daemon keeps `<id>.sock` (its socket), `<id>.pid`, `<id>.lock`
//! (held while it lives) and `<id>.log` (its standard error) there.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Environment variable naming the folder explicitly.
pub const DIR_ENV: &str = "GAPRUN_DAEMON_DIR";

/// The folder for this user (not created).
pub fn runtime_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(xdg) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(xdg).join("gaprun");
    }
    PathBuf::from(format!("/tmp/gaprun-{}", nix::unistd::geteuid().as_raw()))
}

/// What [`check`] looks at, for the pure rule.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    /// A folder (after `lstat`: a symbolic link is not one).
    pub is_dir: bool,
    /// Its owner.
    pub uid: u32,
    /// Its permission bits.
    pub mode: u32,
}

/// Whether a folder with these facts may hold `user`'s sockets.
pub fn judge(facts: Facts, user: u32) -> Result<(), String> {
    if !facts.is_dir {
        return Err("is not a folder (or is a symbolic link)".into());
    }
    if facts.uid != user {
        return Err(format!(
            "is owned by uid {}, not by you ({user})",
            facts.uid
        ));
    }
    if facts.mode & 0o077 != 0 {
        return Err(format!(
            "has mode {:o}: group or others have access (want 700)",
            facts.mode & 0o777
        ));
    }
    Ok(())
}

/// Check an existing folder (see the module docs).
pub fn check(dir: &Path) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let facts = Facts {
        is_dir: meta.file_type().is_dir(),
        uid: meta.uid(),
        mode: meta.mode(),
    };
    judge(facts, nix::unistd::geteuid().as_raw())
        .map_err(|why| format!("the daemon folder {} {why}", dir.display()))
}

/// Create the folder (mode 0700) when missing, then check it.
pub fn ensure(dir: &Path) -> Result<(), String> {
    if std::fs::symlink_metadata(dir).is_err() {
        if let Some(parent) = dir.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Err(e) = std::fs::DirBuilder::new().mode(0o700).create(dir) {
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                return Err(format!("cannot create {}: {e}", dir.display()));
            }
        }
    }
    check(dir)
}

/// The files of the daemon with key id `id` in `dir`.
pub struct Files {
    pub socket: PathBuf,
    pub pid: PathBuf,
    pub lock: PathBuf,
    pub log: PathBuf,
}

pub fn files(dir: &Path, id: &str) -> Files {
    Files {
        socket: dir.join(format!("{id}.sock")),
        pid: dir.join(format!("{id}.pid")),
        lock: dir.join(format!("{id}.lock")),
        log: dir.join(format!("{id}.log")),
    }
}

/// Sockets in `dir` (every daemon of this user, whatever its key).
pub fn sockets(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "sock"))
        .collect();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_private_folder_of_the_user_is_accepted() {
        let me = 1000;
        let cases = [
            (true, 1000, 0o40700, true),
            (true, 1000, 0o700, true),
            (true, 1000, 0o710, false),
            (true, 1000, 0o755, false),
            (true, 1000, 0o701, false),
            (true, 0, 0o700, false),
            (true, 1001, 0o700, false),
            (false, 1000, 0o700, false),
        ];
        for (is_dir, uid, mode, ok) in cases {
            let got = judge(Facts { is_dir, uid, mode }, me);
            assert_eq!(got.is_ok(), ok, "{is_dir} {uid} {mode:o}: {got:?}");
        }
    }

    #[test]
    fn ensure_creates_a_private_folder_and_refuses_an_open_one() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("d");
        ensure(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = ensure(&dir).unwrap_err();
        assert!(err.contains("755"), "{err}");
        let link = base.path().join("l");
        std::os::unix::fs::symlink(base.path(), &link).unwrap();
        assert!(ensure(&link).unwrap_err().contains("symbolic link"));
    }
}
