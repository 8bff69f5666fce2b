//! The key of a configuration: which warm GAP may serve a command.
//!
//! A daemon serves a command only when everything that shapes GAP at
//! start-up is the same for both: the gaprun binary (path, inode, size,
//! modification time), the user, GAP's resolved start options (roots,
//! packages, autoload, memory flags as the pool policy decides them here,
//! extra arguments), the workspace-cache settings, the cgroup (memory
//! limits differ between cgroups), and a cheap stamp of the GAP roots: the
//! roots, their `lib`, `grp` and `pkg` folders, every package folder and
//! GAP's start-up files, each with its inode and modification time
//! (installing, removing or upgrading a package changes them). The key is
//! computed by every client before it connects, so it must cost well under
//! a millisecond; the daemon also re-hashes every file under the roots
//! when idle (see `server.rs`) to notice edits inside a package.

use crate::cli::GapArgs;
use gaprun::GapOptions;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A configuration's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Hex digest of the inputs (32 characters); names the socket.
    pub id: String,
    /// The configuration in words, for `daemon status`.
    pub config: String,
    /// The options GAP is (or would be) started with, before the
    /// workspace cache is consulted, for no forked workers.
    pub options: GapOptions,
}

/// Identity of a file: path, device, inode, size, modification time (ns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileIdentity {
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
}

impl FileIdentity {
    pub fn of(path: &Path) -> Option<FileIdentity> {
        let m = std::fs::metadata(path).ok()?;
        Some(FileIdentity {
            path: path.to_path_buf(),
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
        })
    }
}

/// The running program as it is on disk now: `None` when its file was
/// deleted or replaced since it started (`/proc/self/exe` then ends in
/// " (deleted)") or cannot be read.
pub fn exe_identity() -> Option<FileIdentity> {
    let link = std::fs::read_link("/proc/self/exe")
        .or_else(|_| std::env::current_exe())
        .ok()?;
    if link.as_os_str().as_bytes().ends_with(b" (deleted)") {
        return None;
    }
    FileIdentity::of(&link)
}

/// One entry of the roots' stamp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Stamp {
    path: PathBuf,
    ino: u64,
    mtime_ns: i128,
}

fn stamp_of(path: &Path, out: &mut Vec<Stamp>) {
    let (ino, mtime_ns) = std::fs::metadata(path)
        .map(|m| {
            (
                m.ino(),
                m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
            )
        })
        .unwrap_or((0, 0));
    out.push(Stamp {
        path: path.to_path_buf(),
        ino,
        mtime_ns,
    });
}

/// The cheap stamp of `roots` (see the module docs).
fn roots_stamp(roots: &[PathBuf]) -> Vec<Stamp> {
    let mut out = Vec::new();
    for root in roots {
        stamp_of(root, &mut out);
        for name in ["lib", "grp", "pkg", "sysinfo.gap", "gaprc", "gap.ini"] {
            stamp_of(&root.join(name), &mut out);
        }
        let mut packages: Vec<PathBuf> = std::fs::read_dir(root.join("pkg"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        packages.sort();
        for p in packages {
            stamp_of(&p, &mut out);
        }
    }
    out
}

/// The user's own GAP root (`~/.gap`) when it exists: GAP reads it too.
pub fn user_root() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    let root = PathBuf::from(home).join(".gap");
    root.is_dir().then_some(root)
}

/// Every input of a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Inputs {
    version: &'static str,
    exe: Option<FileIdentity>,
    uid: u32,
    options: GapOptions,
    cache: Option<PathBuf>,
    cgroup: String,
    roots: Vec<Stamp>,
}

fn digest(inputs: &Inputs) -> String {
    let json = serde_json::to_vec(inputs).unwrap_or_default();
    format!("{:x}", Sha256::digest(&json))[..32].to_string()
}

/// The key of the configuration `args` (with this process's environment).
pub fn compute(args: &GapArgs) -> Result<Key, String> {
    let (mut options, _, _) = args
        .resolve(0)
        .map_err(|e| crate::cli::options::policy_message(&e))?;
    options.workspace = None;
    let settings = args.cache_settings();
    let cache = settings
        .enabled
        .then(|| gaprun::workspace::cache_dir(settings.dir.as_deref()).ok())
        .flatten();
    let mut walked = options.effective_roots();
    walked.extend(user_root());
    let inputs = Inputs {
        version: env!("CARGO_PKG_VERSION"),
        exe: exe_identity(),
        uid: nix::unistd::geteuid().as_raw(),
        options: options.clone(),
        cache,
        cgroup: std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default(),
        roots: roots_stamp(&walked),
    };
    Ok(Key {
        id: digest(&inputs),
        config: describe(&options, settings.enabled),
        options,
    })
}

/// A configuration in words.
pub fn describe(o: &GapOptions, workspace_cache: bool) -> String {
    let roots: Vec<String> = o
        .effective_roots()
        .iter()
        .map(|r| r.display().to_string())
        .collect();
    let mut parts = vec![format!("GAP roots {}", roots.join(";"))];
    parts.push(if o.packages.is_empty() {
        "no extra packages".into()
    } else {
        format!("packages {}", o.packages.join(","))
    });
    if !o.autoload {
        parts.push("-A".into());
    }
    let flag =
        |f: &str, v: Option<u64>| v.map(|b| format!("{f} {}", gaprun::size::format_bytes(b)));
    parts.extend(
        [
            flag("-s", o.pool_size),
            flag("-o", o.warn_limit),
            flag("-K", o.hard_limit),
            flag("-m", o.initial_workspace),
        ]
        .into_iter()
        .flatten(),
    );
    if o.noreserve {
        parts.push("noreserve".into());
    }
    if o.hugepages {
        parts.push("hugepages".into());
    }
    if !o.extra_args.is_empty() {
        parts.push(format!("extra arguments {}", o.extra_args.join(" ")));
    }
    parts.push(format!(
        "workspace cache {}",
        if workspace_cache { "on" } else { "off" }
    ));
    parts.join("; ")
}

/// Whether GAP started with `have` is the GAP a start with `want` would
/// make: every start-up setting equal. The warning limit (`-o`) is the one
/// exception: the pool policy divides it among planned workers, and the
/// child sets it for its own command (GAP reads it at every allocation).
pub fn same_start(have: &GapOptions, want: &GapOptions) -> bool {
    let strip = |o: &GapOptions| GapOptions {
        warn_limit: None,
        workspace: None,
        ..o.clone()
    };
    strip(have) == strip(want)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Inputs {
        Inputs {
            version: "1",
            exe: Some(FileIdentity {
                path: "/bin/gaprun".into(),
                dev: 1,
                ino: 2,
                size: 3,
                mtime_ns: 4,
            }),
            uid: 1000,
            options: GapOptions::default(),
            cache: None,
            cgroup: "0::/\n".into(),
            roots: vec![Stamp {
                path: "/gap/pkg/io".into(),
                ino: 5,
                mtime_ns: 6,
            }],
        }
    }

    #[test]
    fn every_input_changes_the_key() {
        let base = digest(&inputs());
        assert_eq!(base.len(), 32);
        assert_eq!(base, digest(&inputs()));
        type Change = Box<dyn Fn(&mut Inputs)>;
        let changes: Vec<(&str, Change)> = vec![
            (
                "binary touched",
                Box::new(|i| i.exe.as_mut().unwrap().mtime_ns += 1),
            ),
            (
                "binary replaced",
                Box::new(|i| i.exe.as_mut().unwrap().ino += 1),
            ),
            ("binary gone", Box::new(|i| i.exe = None)),
            ("other user", Box::new(|i| i.uid += 1)),
            (
                "package",
                Box::new(|i| i.options.packages.push("io".into())),
            ),
            ("autoload", Box::new(|i| i.options.autoload = false)),
            ("pool", Box::new(|i| i.options.pool_size = Some(1 << 30))),
            ("roots", Box::new(|i| i.options.roots.push("/r".into()))),
            ("cache", Box::new(|i| i.cache = Some("/c".into()))),
            ("cgroup", Box::new(|i| i.cgroup = "0::/job\n".into())),
            ("package upgraded", Box::new(|i| i.roots[0].mtime_ns += 1)),
            (
                "package added",
                Box::new(|i| i.roots.push(i.roots[0].clone())),
            ),
        ];
        for (what, change) in changes {
            let mut i = inputs();
            change(&mut i);
            assert_ne!(digest(&i), base, "{what}");
        }
    }

    #[test]
    fn only_the_warning_limit_may_differ_between_starts() {
        let base = GapOptions {
            warn_limit: Some(1 << 30),
            pool_size: Some(1 << 32),
            ..GapOptions::default()
        };
        let cases: Vec<(&str, GapOptions, bool)> = vec![
            ("same", base.clone(), true),
            (
                "-o",
                GapOptions {
                    warn_limit: Some(1 << 29),
                    ..base.clone()
                },
                true,
            ),
            (
                "-L",
                GapOptions {
                    workspace: Some("/w".into()),
                    ..base.clone()
                },
                true,
            ),
            (
                "-s",
                GapOptions {
                    pool_size: Some(1 << 31),
                    ..base.clone()
                },
                false,
            ),
            (
                "-K",
                GapOptions {
                    hard_limit: Some(1 << 31),
                    ..base.clone()
                },
                false,
            ),
            (
                "-A",
                GapOptions {
                    autoload: false,
                    ..base.clone()
                },
                false,
            ),
            (
                "noreserve",
                GapOptions {
                    noreserve: true,
                    ..base.clone()
                },
                false,
            ),
        ];
        for (what, want, same) in cases {
            assert_eq!(same_start(&base, &want), same, "{what}");
        }
    }

    #[test]
    fn the_stamp_sees_a_new_package() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("pkg/a")).unwrap();
        let before = roots_stamp(&[root.path().to_path_buf()]);
        std::fs::create_dir_all(root.path().join("pkg/b")).unwrap();
        let after = roots_stamp(&[root.path().to_path_buf()]);
        assert_ne!(before, after);
    }
}
