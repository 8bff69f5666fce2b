//! The saved-workspace cache: start GAP from a workspace saved by an earlier
//! run instead of reading its library from hundreds of source files.
//!
//! Reading the library takes about 1.5 s; restoring a saved workspace about
//! 0.2 s. A workspace is only right for the exact GAP it was saved from, so
//! each one is filed under a key (a SHA-256) over everything that changes
//! what is saved: gaprun's version, the identity of the linked libgap, GAP's
//! version, the root folders, a fingerprint of the library and package files
//! (path, size and modification time of every file under `lib/`, `grp/`,
//! `pkg/` of each root and of the user's `~/.gap`; for a root gap-sys
//! unpacked from its pinned artifacts, the stamp it wrote there and the
//! top and package folders, see [`PINNED_ROOT_STAMP`]), the package list, the
//! autoload flag and extra GAP arguments. Memory flags are *not* part of the
//! key: GAP takes them from the command line at every start, so pool
//! decisions are never frozen into a workspace.
//!
//! GAP exits the whole process when a workspace does not match its kernel,
//! and may crash on a damaged one, so nothing unverified is ever loaded in
//! the calling process:
//! - a workspace is built in a forked child (GAP started normally, packages
//!   loaded, `SaveWorkspace` to a temporary file), then trial-loaded in a
//!   second forked child, and only then published with two renames (stamp,
//!   then workspace), all while holding an advisory lock on the key;
//! - the stamp records the workspace's size, modification time and the
//!   SHA-256 of its whole content, checked at every start before GAP reads
//!   it (GAP's loader dies on a damaged file; a truncated, replaced or
//!   damaged file fails the check and is rebuilt);
//! - forks happen only before GAP is initialised in this process and only
//!   when the process has a single thread.
//!
//! A second process that finds the lock taken starts without the cache
//! rather than wait. A GAP 4.12 restore differs from a normal start in two
//! ways, both repaired (see `src/shim/workspace.c`): it loses the operations'
//! "early methods" (fixed in GAP 4.13.0), and it skips the module step that
//! sets some kernel dispatch-table entries (`=` on flags lists). The trial
//! load compares the restored GAP with a normal start (every kernel table
//! entry, every operation's method table); any difference left makes the
//! build fail, and the configuration then runs without a cache, saying why.

use crate::runtime::{build_info, GapOptions};
use crate::sys;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::ForkResult;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Environment variable naming the cache folder (the `--workspace-cache`
/// flag overrides it).
pub const CACHE_DIR_ENV: &str = "GAPRUN_WORKSPACE_CACHE";

/// Exit code of a trial-load child that restored the workspace and found it
/// sane (distinct from GAP's own exit codes, so a GAP that exits on a
/// mismatched workspace cannot pass for success).
const TRIAL_OK: i32 = 73;
/// Sub-folders of a GAP root whose files make up the fingerprint.
const FINGERPRINT_DIRS: [&str; 3] = ["lib", "grp", "pkg"];
/// Single files of a GAP root that GAP reads at start-up.
const FINGERPRINT_FILES: [&str; 3] = ["sysinfo.gap", "gaprc", "gap.ini"];

/// Workspaces kept in the cache folder (about 45 MB each); older ones
/// (by build time) are deleted when a new one is published.
const KEEP: usize = 4;

/// Why the cache could not do something. [`prepare`] never returns one:
/// it starts without a cached workspace and puts the error's text in the
/// status's `warnings`/`reason`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkspaceError {
    /// No cache folder was given and the user has none (no home folder).
    #[error("no user cache folder (no home folder?); give a cache folder or set {CACHE_DIR_ENV}")]
    NoCacheDir,
    /// A file of the cache could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done ("cannot write to the cache folder", …).
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A cache path GAP cannot be given (a NUL byte, not UTF-8).
    #[error("the cache path {0} cannot be passed to GAP")]
    UnusablePath(PathBuf),
    /// Forking or waiting for the building child failed.
    #[error("{what} failed: {source}")]
    Process {
        /// "fork", "waiting for the child".
        what: &'static str,
        /// The system error.
        source: nix::Error,
    },
    /// GAP failed while building (recording the method tables).
    #[error("GAP failed while building the workspace: {0}")]
    Gap(#[from] crate::Error),
    /// Saving the workspace failed in the building child.
    #[error("saving it failed ({exit}){log}")]
    SaveFailed {
        /// How the child ended ("exit code 4", "killed by signal 9").
        exit: String,
        /// The end of the child's log, when it printed something.
        log: String,
    },
    /// The saved workspace did not restore to the same GAP in a trial load.
    #[error("the saved workspace did not restore ({exit}){log}")]
    TrialFailed {
        /// How the trial child ended.
        exit: String,
        /// The end of the child's log.
        log: String,
    },
}

impl WorkspaceError {
    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> WorkspaceError {
        let what = what.into();
        move |source| WorkspaceError::Io { what, source }
    }
}

/// Whether and where to cache workspaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    /// Use (and build) cached workspaces.
    pub enabled: bool,
    /// Cache folder; `None` = `$GAPRUN_WORKSPACE_CACHE`, else the user's
    /// cache folder.
    pub dir: Option<PathBuf>,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            enabled: true,
            dir: None,
        }
    }
}

/// What the cache did (or would do) for one start.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CacheStatus {
    /// GAP is (or would be) started from a cached workspace.
    pub used: bool,
    /// The workspace was built during this start.
    pub built: bool,
    /// Why the cache was used or not, in words.
    pub reason: String,
    /// The cache folder.
    pub dir: Option<PathBuf>,
    /// The key of this configuration.
    pub key: Option<String>,
    /// The workspace file.
    pub workspace: Option<PathBuf>,
    /// Problems met on the way (each already handled by falling back).
    pub warnings: Vec<String>,
    /// Time spent in the cache logic (key, checks, building), milliseconds.
    pub millis: u64,
}

/// Everything the key is computed from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyInputs {
    /// This crate's version: a new gaprun may load different GAP code.
    pub gaprun_version: String,
    /// GAP's version (`sysinfo.gap`).
    pub gap_version: String,
    /// Identity of the linked kernel library (a workspace fits one kernel).
    pub libgap_id: String,
    /// Static with the hook, or dynamic (see [`crate::sys::LINK_MODE`]).
    pub link_mode: String,
    /// The running program (path, size, mtime): the C code linked into it
    /// can register GAP globals, and GAP exits on a workspace whose globals
    /// differ from the kernel's, so a rebuilt program gets new workspaces.
    pub program: Option<(PathBuf, u64, i128)>,
    /// GAP's root folders, in `-l` order.
    pub roots: Vec<PathBuf>,
    /// The user's GAP root (`~/.gap`) when it exists: GAP reads packages and
    /// `gaprc` from it.
    pub user_root: Option<PathBuf>,
    /// Packages loaded into the workspace.
    pub packages: Vec<String>,
    /// Whether GAP's default packages were autoloaded.
    pub autoload: bool,
    /// Other GAP flags that change what start-up loads.
    pub extra_args: Vec<String>,
    /// Files that went into the fingerprint.
    pub files: u64,
    /// SHA-256 over (path, size, mtime) of those files.
    pub fingerprint: String,
}

/// A configuration's key.
#[derive(Debug, Clone)]
pub struct WorkspaceKey {
    /// Hex key (128 bits of the SHA-256), used as the file name.
    pub id: String,
    /// What it was computed from (kept in the stamp, shown by `cache info`).
    pub inputs: KeyInputs,
}

/// The stamp written next to a verified workspace.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stamp {
    /// The workspace's key ([`WorkspaceKey::id`]).
    pub key: String,
    /// The workspace file's size in bytes.
    pub size: u64,
    /// Its modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
    /// SHA-256 of the whole workspace file.
    pub sha256: String,
    /// The published file's identity once it was in place: device, inode
    /// and status-change time (`ctime`, which every write, truncation,
    /// rename or `touch` moves and no user can set back). While all three
    /// match, the file is the very one that was hashed, and a start skips
    /// re-hashing it (tens of ms for GAP 4.16's 73 MB workspace). Absent in
    /// stamps of older gaprun versions: the content is hashed then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<FileIdentity>,
    /// Unix time it was built.
    pub created: u64,
    /// Milliseconds it took to build and verify.
    pub build_millis: u64,
    /// What the key was computed from.
    pub inputs: KeyInputs,
}

/// Which file, and which version of it: see [`Stamp::published`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIdentity {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
    /// `st_ctime` in nanoseconds since the epoch.
    pub ctime_ns: i128,
}

impl FileIdentity {
    fn of(meta: &fs::Metadata) -> FileIdentity {
        FileIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
            ctime_ns: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
        }
    }
}

/// One workspace in the cache folder (for `gaprun cache info`).
#[derive(Debug, Clone, Serialize)]
pub struct CacheEntry {
    /// The key (the file name without extension).
    pub key: String,
    /// The workspace file.
    pub workspace: PathBuf,
    /// Its size on disk.
    pub bytes: u64,
    /// It has a stamp and the file still matches it (size, modification
    /// time and SHA-256 of its whole content).
    pub valid: bool,
    /// Why it is not valid (damaged, truncated, unstamped, ...).
    pub problem: Option<String>,
    /// The stamp, when it exists and parses.
    pub stamp: Option<Stamp>,
}

/// The cache folder: `explicit`, else `$GAPRUN_WORKSPACE_CACHE`, else the
/// user's cache folder (`~/.cache/gaprun/workspaces` on Linux).
pub fn cache_dir(explicit: Option<&Path>) -> Result<PathBuf, WorkspaceError> {
    if let Some(dir) = explicit {
        return Ok(dir.to_path_buf());
    }
    if let Some(dir) = std::env::var_os(CACHE_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("org", "gaprun", "gaprun")
        .map(|p| p.cache_dir().join("workspaces"))
        .ok_or(WorkspaceError::NoCacheDir)
}

fn user_gap_root() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    let root = PathBuf::from(home).join(".gap");
    root.is_dir().then_some(root)
}

fn mtime_ns(meta: &fs::Metadata) -> i128 {
    meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128
}

/// The stamp file gap-sys's build writes into a GAP root it unpacked from
/// its pinned, sha256-checked artifacts (`GAPRUN_GAP=dist`): one line naming
/// the pins' hash and the root's own path. Such a root is never changed
/// after unpacking, so [`fingerprint`] keys it on the stamp instead of
/// walking its ~24,000 files (about 50 ms at every start).
pub const PINNED_ROOT_STAMP: &str = ".gaprun-pinned-root";

/// The stamp's text when `root` is a pinned root: the stamp is a regular
/// file (not a link: a tree of links into a pinned root is walked like any
/// other) and names this very folder.
fn pinned_root_stamp(root: &Path) -> Option<String> {
    let stamp = root.join(PINNED_ROOT_STAMP);
    if !fs::symlink_metadata(&stamp).ok()?.is_file() {
        return None;
    }
    let text = fs::read_to_string(&stamp).ok()?;
    let named = text.lines().find_map(|l| l.strip_prefix("root "))?;
    let same = fs::canonicalize(named).ok()? == fs::canonicalize(root).ok()?;
    same.then_some(text)
}

/// Hash (path, kind, size, mtime) of every file GAP may read at start-up
/// under `roots`; returns the number of entries and the hex digest. Costs
/// about 50 ms for GAP 4.16 with its 166 packages (one `stat` per file), so
/// a pinned root (see [`PINNED_ROOT_STAMP`]) contributes its stamp's text
/// and the metadata of its top folders and of each package folder instead:
/// a package added, removed or replaced still changes the key, an edit
/// inside an unchanged package folder of a pinned root does not.
pub fn fingerprint(roots: &[PathBuf]) -> (u64, String) {
    let mut hasher = Sha256::new();
    let mut count = 0u64;
    let mut add = |path: &Path, meta: Option<&fs::Metadata>| {
        hasher.update(path.as_os_str().as_bytes());
        match meta {
            Some(m) => {
                let kind = if m.is_dir() { b'd' } else { b'f' };
                hasher.update([0, kind]);
                hasher.update(m.len().to_le_bytes());
                hasher.update(mtime_ns(m).to_le_bytes());
            }
            None => hasher.update([0, b'?']),
        }
        count += 1;
    };
    for root in roots {
        for name in FINGERPRINT_FILES {
            let path = root.join(name);
            add(&path, fs::metadata(&path).ok().as_ref());
        }
        if let Some(text) = pinned_root_stamp(root) {
            let stamp = root.join(PINNED_ROOT_STAMP);
            add(&stamp, fs::metadata(&stamp).ok().as_ref());
            add(Path::new(&text), None);
            for sub in FINGERPRINT_DIRS {
                let dir = root.join(sub);
                add(&dir, fs::metadata(&dir).ok().as_ref());
            }
            let mut packages: Vec<PathBuf> = fs::read_dir(root.join("pkg"))
                .map(|d| d.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            packages.sort();
            for package in packages {
                add(&package, fs::metadata(&package).ok().as_ref());
            }
            continue;
        }
        for sub in FINGERPRINT_DIRS {
            walk(&root.join(sub), &mut add, &mut Vec::new());
        }
    }
    (count, format!("{:x}", hasher.finalize()))
}

/// Every path under `path` (itself first), depth first in file-name order,
/// following symbolic links, with its metadata (`None` when unreadable: a
/// missing folder or a dangling link is recorded, so it appearing later
/// changes the key). A folder already being walked (a link loop) is
/// recorded but not entered. (Hand-written rather than walkdir so that the
/// library's dependency tree stays free of the CLI's crates.)
fn walk(
    path: &Path,
    add: &mut impl FnMut(&Path, Option<&fs::Metadata>),
    ancestors: &mut Vec<(u64, u64)>,
) {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(path).ok();
    add(path, meta.as_ref());
    let Some(meta) = meta.filter(|m| m.is_dir()) else {
        return;
    };
    let id = (meta.dev(), meta.ino());
    if ancestors.contains(&id) {
        return;
    }
    let Ok(entries) = fs::read_dir(path) else {
        return;
    };
    let mut children: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    children.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    ancestors.push(id);
    for child in children {
        walk(&child, add, ancestors);
    }
    ancestors.pop();
}

fn program_identity() -> Option<(PathBuf, u64, i128)> {
    let exe = std::env::current_exe().ok()?;
    let meta = fs::metadata(&exe).ok()?;
    Some((exe, meta.len(), mtime_ns(&meta)))
}

/// The key of the workspace `options` would save.
pub fn key(options: &GapOptions) -> WorkspaceKey {
    let build = build_info();
    let roots = options.effective_roots();
    let user_root = user_gap_root();
    let mut walked = roots.clone();
    walked.extend(user_root.clone());
    let (files, fingerprint) = fingerprint(&walked);
    let inputs = KeyInputs {
        gaprun_version: env!("CARGO_PKG_VERSION").to_string(),
        gap_version: build.gap_version.to_string(),
        libgap_id: build.libgap_id.to_string(),
        link_mode: build.link_mode.to_string(),
        program: program_identity(),
        roots,
        user_root,
        packages: options.packages.clone(),
        autoload: options.autoload,
        extra_args: options.extra_args.clone(),
        files,
        fingerprint,
    };
    let json = serde_json::to_vec(&inputs).unwrap_or_default();
    let digest = format!("{:x}", Sha256::digest(&json));
    WorkspaceKey {
        id: digest[..32].to_string(),
        inputs,
    }
}

struct Paths {
    workspace: PathBuf,
    stamp: PathBuf,
    lock: PathBuf,
    failed: PathBuf,
}

fn paths(dir: &Path, id: &str) -> Paths {
    Paths {
        workspace: dir.join(format!("{id}.ws")),
        stamp: dir.join(format!("{id}.json")),
        lock: dir.join(format!("{id}.lock")),
        failed: dir.join(format!("{id}.failed")),
    }
}

/// SHA-256 of a whole file. Checked before every restore: GAP's loader
/// trusts the file and dies ("Panic ... Bad type") on damage anywhere in
/// it. About 30 ms for a 45 MB workspace with SHA-NI (see
/// docs/workspace-cache.md).
fn content_hash(mut file: &File) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(format!("{:x}", hasher.finalize()))
}

fn read_stamp(path: &Path) -> Option<Stamp> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

/// Whether the workspace under `p` is verified and unchanged; `Err` says
/// what is wrong.
fn check_entry(p: &Paths, id: &str) -> Result<Stamp, Problem> {
    open_verified(p, id).map(|(stamp, _)| stamp)
}

/// Open the workspace under `p` and verify that very file (stamp, size,
/// mtime, SHA-256) through the open handle. GAP must then load it through
/// the same handle ([`pin_for_gap`]): by path, another gaprun pruning the
/// cache or replacing the entry between the check and the load would make
/// GAP open a missing or unverified file.
fn open_verified(p: &Paths, id: &str) -> Result<(Stamp, File), Problem> {
    let file = File::open(&p.workspace);
    let stamp = read_stamp(&p.stamp);
    let (file, stamp) = match (file, stamp) {
        (Err(_), None) => return Err(Problem::Missing),
        (Err(_), Some(_)) => return Err(Problem::Stale("its file is missing".into())),
        (Ok(_), None) => {
            return Err(Problem::Stale(
                "it has no valid stamp (interrupted build?)".into(),
            ))
        }
        (Ok(f), Some(s)) => (f, s),
    };
    let meta = file
        .metadata()
        .map_err(|e| Problem::Stale(format!("it cannot be read: {e}")))?;
    if stamp.key != id {
        return Err(Problem::Stale("its stamp names another key".into()));
    }
    if meta.len() != stamp.size {
        return Err(Problem::Stale(format!(
            "its size changed from {} to {} bytes (truncated?)",
            stamp.size,
            meta.len()
        )));
    }
    if mtime_ns(&meta) != stamp.mtime_ns {
        return Err(Problem::Stale(
            "it was modified after it was verified".into(),
        ));
    }
    if stamp.published == Some(FileIdentity::of(&meta)) {
        // The very file that was hashed, unwritten since (its ctime).
        return Ok((stamp, file));
    }
    match content_hash(&file) {
        Ok(h) if h == stamp.sha256 => Ok((stamp, file)),
        Ok(_) => Err(Problem::Stale(
            "its content changed (damaged: SHA-256 mismatch)".into(),
        )),
        Err(e) => Err(Problem::Stale(format!("it cannot be read: {e}"))),
    }
}

/// The path GAP should load a verified workspace from: on Linux the open
/// handle itself (`/proc/self/fd/N`, kept open for the life of the
/// process), so GAP reads exactly the bytes that were verified even if the
/// cache entry is removed or replaced meanwhile; elsewhere the file's path.
fn pin_for_gap(file: File, path: &Path) -> PathBuf {
    static PINNED: std::sync::Mutex<Vec<File>> = std::sync::Mutex::new(Vec::new());
    let proc_path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    if cfg!(target_os = "linux") && proc_path.exists() {
        PINNED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(file);
        proc_path
    } else {
        path.to_path_buf()
    }
}

enum Problem {
    Missing,
    Stale(String),
}

fn elapsed_ms(start: Instant) -> u64 {
    start.elapsed().as_millis() as u64
}

/// Decide how to start GAP: returns `options` with `workspace` set when a
/// verified cached workspace exists (building one first when this
/// configuration has none), and what happened. Never fails: every problem
/// ends in a normal start, described in the status's `reason`/`warnings`.
///
/// Call it before [`crate::Gap::init`] in a process that has not
/// initialised GAP; building forks, so it is skipped when the process has
/// more than one thread.
pub fn prepare(options: GapOptions, settings: &CacheSettings) -> (GapOptions, CacheStatus) {
    resolve(options, settings, true)
}

/// What [`prepare`] would do, without building anything.
pub fn probe(options: &GapOptions, settings: &CacheSettings) -> CacheStatus {
    resolve(options.clone(), settings, false).1
}

fn resolve(
    mut options: GapOptions,
    settings: &CacheSettings,
    build: bool,
) -> (GapOptions, CacheStatus) {
    let start = Instant::now();
    let mut status = CacheStatus::default();
    let done = |mut status: CacheStatus, reason: String| {
        status.reason = reason;
        status.millis = elapsed_ms(start);
        status
    };
    if !settings.enabled {
        return (options, done(status, "disabled".into()));
    }
    if options.workspace.is_some() {
        return (
            options,
            done(status, "a workspace was given explicitly".into()),
        );
    }
    if crate::runtime::Gap::initialized_options().is_some() {
        return (
            options,
            done(status, "GAP is already running in this process".into()),
        );
    }
    if let Err(e) = options.validate() {
        return (options, done(status, format!("not applicable: {e}")));
    }
    let dir = match cache_dir(settings.dir.as_deref()) {
        Ok(d) => d,
        Err(e) => return (options, done(status, e.to_string())),
    };
    status.dir = Some(dir.clone());
    let key = key(&options);
    status.key = Some(key.id.clone());
    let p = paths(&dir, &key.id);
    status.workspace = Some(p.workspace.clone());
    let problem = match open_verified(&p, &key.id) {
        Ok((_, file)) => {
            status.used = true;
            options.workspace = Some(pin_for_gap(file, &p.workspace));
            return (options, done(status, "cached workspace found".into()));
        }
        Err(problem) => problem,
    };
    let why_not = match &problem {
        Problem::Missing => "no cached workspace for this configuration yet".to_string(),
        Problem::Stale(why) => format!("the cached workspace is unusable: {why}"),
    };
    if let Ok(text) = fs::read_to_string(&p.failed) {
        let reason = format!(
            "building a workspace for this configuration failed before ({}); clear the cache folder to retry",
            text.trim()
        );
        return (options, done(status, reason));
    }
    if !build {
        return (
            options,
            done(status, format!("{why_not}; it would be built now")),
        );
    }
    if let Problem::Stale(why) = &problem {
        status.warnings.push(format!(
            "cached workspace {} is unusable ({why}); rebuilding it",
            p.workspace.display()
        ));
    }
    if crate::fork::thread_count().ok() != Some(1) {
        return (
            options,
            done(
                status,
                format!(
                    "{why_not}; not built (the process has several threads, so it cannot fork)"
                ),
            ),
        );
    }
    if let Err(e) = fs::create_dir_all(&dir) {
        return (
            options,
            done(
                status,
                format!("cannot create the cache folder {}: {e}", dir.display()),
            ),
        );
    }
    let lock_file = match OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p.lock)
    {
        Ok(f) => f,
        Err(e) => {
            return (
                options,
                done(
                    status,
                    format!("cannot write to the cache folder {}: {e}", dir.display()),
                ),
            )
        }
    };
    let _lock = match Flock::lock(lock_file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
            return (options, done(status, "another process is building the workspace for this configuration; started without it".into()));
        }
        Err((_, e)) => {
            return (
                options,
                done(status, format!("cannot lock {}: {e}", p.lock.display())),
            )
        }
    };
    // Someone may have finished while we were looking.
    if let Ok((_, file)) = open_verified(&p, &key.id) {
        status.used = true;
        status.warnings.clear();
        options.workspace = Some(pin_for_gap(file, &p.workspace));
        return (
            options,
            done(
                status,
                "cached workspace found (built by another gaprun)".into(),
            ),
        );
    }
    let _ = fs::remove_file(&p.stamp);
    let _ = fs::remove_file(&p.workspace);
    match build_workspace(&options, &dir, &key, &p, start) {
        Ok(()) => {
            status.built = true;
            match open_verified(&p, &key.id) {
                Ok((_, file)) => {
                    status.used = true;
                    options.workspace = Some(pin_for_gap(file, &p.workspace));
                    (options, done(status, format!("{why_not}; built it now")))
                }
                // Another gaprun removed or replaced it already (`cache
                // clear`, pruning): start without it rather than fail.
                Err(_) => (
                    options,
                    done(
                        status,
                        format!(
                            "{why_not}; built it now, but it was removed before it could be used"
                        ),
                    ),
                ),
            }
        }
        Err(e) => {
            let _ = fs::write(&p.failed, format!("{e}\n"));
            status.warnings.push(format!(
                "could not build a saved workspace: {e}; starting without it"
            ));
            (
                options,
                done(status, format!("{why_not}; building it failed")),
            )
        }
    }
}

/// Save, verify and publish the workspace for `key`. Caller holds the lock.
fn build_workspace(
    options: &GapOptions,
    dir: &Path,
    key: &WorkspaceKey,
    p: &Paths,
    start: Instant,
) -> Result<(), WorkspaceError> {
    let pid = std::process::id();
    let tmp = dir.join(format!(".{}.{pid}.tmp.ws", key.id));
    let tmp_stamp = dir.join(format!(".{}.{pid}.tmp.json", key.id));
    let log = dir.join(format!(".{}.{pid}.log", key.id));
    let tables = dir.join(format!(".{}.{pid}.tables", key.id));
    let methods = dir.join(format!(".{}.{pid}.methods", key.id));
    let result = (|| {
        // The workspace does not depend on memory limits (they are not in
        // the key): build without this run's limits, so a tight `-K`/`-o`
        // cannot make the build fail and mark the configuration as failed.
        let unlimited = GapOptions {
            workspace: None,
            warn_limit: None,
            hard_limit: None,
            ..options.clone()
        };
        let save_options = unlimited.clone();
        let tmp_c = CString::new(tmp.as_os_str().as_bytes())
            .map_err(|_| WorkspaceError::UnusablePath(tmp.clone()))?;
        let (tables_file, methods_file) = (tables.clone(), methods.clone());
        let code = in_child(&log, move || {
            let Ok(gap) = crate::runtime::Gap::init(save_options) else {
                return 3;
            };
            // What a normal start looks like, for the trial load to compare.
            if let Err(e) = fs::write(&tables_file, tables_bytes(&kernel_tables()))
                .map_err(WorkspaceError::io("cannot write the kernel tables"))
                .and_then(|()| dump_methods(&gap, &methods_file))
            {
                eprintln!("recording the normal start failed: {e}");
                return 4;
            }
            // SAFETY: GAP is initialised on this (the only) thread; the
            // shim catches GAP errors.
            let status = unsafe { sys::gaprun_save_workspace(tmp_c.as_ptr()) };
            if status == sys::GAPRUN_OK as i32 {
                0
            } else {
                4
            }
        })?;
        if code != 0 || !tmp.is_file() {
            return Err(WorkspaceError::SaveFailed {
                exit: describe_exit(code),
                log: log_tail(&log),
            });
        }
        // Trial load: GAP exits (or crashes) on a workspace that does not
        // fit its kernel, so restore it once in a child first.
        let trial_options = GapOptions {
            workspace: Some(tmp.clone()),
            ..unlimited
        };
        let (tables_file, methods_file) = (tables.clone(), methods.clone());
        let code = in_child(&log, move || {
            let Ok(gap) = crate::runtime::Gap::init(trial_options) else {
                return 3;
            };
            match same_as_normal_start(&gap, &tables_file, &methods_file) {
                Ok(()) => TRIAL_OK,
                Err((code, why)) => {
                    eprintln!("{why}");
                    code
                }
            }
        })?;
        if code != TRIAL_OK {
            return Err(WorkspaceError::TrialFailed {
                exit: describe_exit(code),
                log: log_tail(&log),
            });
        }
        let meta =
            fs::metadata(&tmp).map_err(WorkspaceError::io("cannot read the saved workspace"))?;
        let stamp = Stamp {
            key: key.id.clone(),
            size: meta.len(),
            mtime_ns: mtime_ns(&meta),
            sha256: File::open(&tmp)
                .and_then(|f| content_hash(&f))
                .map_err(WorkspaceError::io("cannot hash the saved workspace"))?,
            created: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            build_millis: elapsed_ms(start),
            inputs: key.inputs.clone(),
            published: None,
        };
        let write_stamp = |stamp: &Stamp| {
            File::create(&tmp_stamp)
                .and_then(|mut f| {
                    f.write_all(&serde_json::to_vec_pretty(stamp).unwrap_or_default())?;
                    f.sync_all()
                })
                .and_then(|()| fs::rename(&tmp_stamp, &p.stamp))
                .map_err(WorkspaceError::io("cannot write the stamp"))
        };
        // Stamp first, workspace second: a reader that sees the workspace
        // also sees its stamp; one that sees only the stamp finds no file.
        write_stamp(&stamp)?;
        fs::rename(&tmp, &p.workspace)
            .map_err(WorkspaceError::io("cannot publish the workspace"))?;
        // Then the identity of the file in place (the rename moved its
        // ctime), so later starts need not hash it again. Taken from the
        // file just hashed: if another process replaced it meanwhile, the
        // identity does not match that file and starts hash as before.
        if let Ok(meta) = fs::metadata(&p.workspace) {
            if meta.len() == stamp.size && mtime_ns(&meta) == stamp.mtime_ns {
                write_stamp(&Stamp {
                    published: Some(FileIdentity::of(&meta)),
                    ..stamp.clone()
                })?;
            }
        }
        prune(dir, KEEP);
        Ok(())
    })();
    for leftover in [
        &tmp,
        &tmp_stamp,
        &log,
        &tables,
        &methods,
        &restored_methods(&methods),
    ] {
        let _ = fs::remove_file(leftover);
    }
    result
}

/// A GAP function expression, `function(stream)`, that writes every
/// operation's method table to the stream as text.
pub const METHOD_DUMP_GAP: &str = include_str!("workspace_methods.g");

/// The kernel's dispatch tables, entry by entry (raw addresses: comparable
/// only between processes forked from one parent).
fn kernel_tables() -> Vec<u64> {
    // SAFETY: plain reads of the kernel's static tables into a buffer of
    // the size the shim reports.
    unsafe {
        let n = sys::gaprun_kernel_table_entries();
        let mut v = vec![0u64; n];
        let got = sys::gaprun_kernel_tables_raw(v.as_mut_ptr(), n);
        v.truncate(got.min(n));
        v
    }
}

fn tables_bytes(entries: &[u64]) -> Vec<u8> {
    entries.iter().flat_map(|e| e.to_le_bytes()).collect()
}

/// Where an address points, as (object file, offset in it): the same in
/// two processes that mapped the same files, wherever they mapped them.
fn symbolic(addr: u64) -> Option<(Vec<u8>, u64)> {
    if addr == 0 {
        return Some((Vec::new(), 0));
    }
    // SAFETY: Dl_info is a plain C struct of pointers; all-zero is valid.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr only reads the loader's tables; `info` is a valid
    // out-parameter and its name points into the loader's own memory.
    if unsafe { libc::dladdr(addr as *const libc::c_void, &mut info) } == 0
        || info.dli_fname.is_null()
    {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated string owned by the loader.
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    Some((name.to_bytes().to_vec(), addr - info.dli_fbase as u64))
}

/// Write the method-table dump ([`METHOD_DUMP_GAP`]) to `path`.
fn dump_methods(gap: &crate::runtime::Gap, path: &Path) -> Result<(), WorkspaceError> {
    let path = path
        .to_str()
        .ok_or_else(|| WorkspaceError::UnusablePath(path.to_path_buf()))?;
    let code = format!(
        "CallFuncList(function(dump) local out; \
         out := OutputTextFile({path:?}, false); SetPrintFormattingStatus(out, false); \
         dump(out); CloseStream(out); return true; end, [{METHOD_DUMP_GAP}]);\n"
    );
    gap.eval_value(&code).map(|_| ())?;
    Ok(())
}

/// In the trial-load child: the restored (and repaired) GAP must equal the
/// normal start recorded in `tables` and `methods`, in the kernel's
/// dispatch tables and in every operation's method table, and answer a few
/// questions right. `Err((exit code, why))` otherwise.
fn same_as_normal_start(
    gap: &crate::runtime::Gap,
    tables: &Path,
    methods: &Path,
) -> Result<(), (i32, String)> {
    let mut unrepairable = 0i64;
    // SAFETY: reads two counters of the shim.
    let repaired = unsafe { sys::gaprun_workspace_tables_repaired(&mut unrepairable) };
    let normal =
        fs::read(tables).map_err(|e| (6, format!("cannot read {}: {e}", tables.display())))?;
    let now = tables_bytes(&kernel_tables());
    if normal.len() != now.len() {
        return Err((6, "kernel tables of another layout".into()));
    }
    let differ: Vec<usize> = normal
        .chunks_exact(8)
        .zip(now.chunks_exact(8))
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .filter(|(_, (a, b))| {
            let word = |c: &[u8]| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
            let (a, b) = (symbolic(word(a)), symbolic(word(b)));
            a.is_none() || a != b
        })
        .map(|(i, _)| i)
        .collect();
    if !differ.is_empty() || repaired < 0 || unrepairable != 0 {
        return Err((
            6,
            format!(
                "{} kernel table entries differ after the repair (first at {:?}; {repaired} repaired, {unrepairable} unrepairable)",
                differ.len(),
                &differ[..differ.len().min(5)]
            ),
        ));
    }
    let restored = restored_methods(methods);
    dump_methods(gap, &restored).map_err(|e| (7, e.to_string()))?;
    let same = fs::read(methods).ok() == fs::read(&restored).ok();
    let _ = fs::remove_file(&restored);
    if !same {
        return Err((7, "method tables differ".into()));
    }
    let sanity = "EARLY_METHOD(First, 2) <> fail and 1 + 1 = 2 and \
        SUB_FLAGS(FLAGS_FILTER(IsPGroup and IsAbelian), FLAGS_FILTER(IsAbelian)) \
        = FLAGS_FILTER(IsPGroup);";
    match gap.eval_value(sanity) {
        Ok(v) if matches!(gap.view(&v).as_deref(), Ok("true")) => Ok(()),
        Ok(v) => Err((5, format!("sanity check gave {:?}", gap.view(&v)))),
        Err(e) => Err((5, format!("sanity check failed: {e}"))),
    }
}

fn restored_methods(methods: &Path) -> PathBuf {
    methods.with_extension("restored")
}

fn describe_exit(code: i32) -> String {
    match code {
        3 => "GAP did not start".into(),
        4 => "GAP's SaveWorkspace failed".into(),
        5 => "the restored GAP gave wrong answers".into(),
        6 => "the restored GAP's kernel dispatch tables differ from a normal start's".into(),
        7 => "the restored GAP's method tables differ from a normal start's".into(),
        c if c < 0 => format!("killed by signal {}", -c),
        c => format!("exit code {c}"),
    }
}

fn log_tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    let tail = &lines[lines.len().saturating_sub(3)..];
    format!(": {}", tail.join(" / "))
}

/// Run `f` in a forked child (stdin and stdout on /dev/null, stderr into
/// `log`) and return its exit code (minus the signal number when killed).
/// The caller has checked the process is single-threaded and GAP is not
/// initialised here.
fn in_child(log: &Path, f: impl FnOnce() -> i32) -> Result<i32, WorkspaceError> {
    let devnull = File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(WorkspaceError::io("cannot open /dev/null"))?;
    let log_file =
        File::create(log).map_err(WorkspaceError::io("cannot write to the cache folder"))?;
    // SAFETY: the process has one thread (checked by the caller), so the
    // child is a complete copy and may do anything; it leaves through
    // `_exit` without running the parent's atexit handlers or unwinding.
    match unsafe { nix::unistd::fork() } {
        Err(source) => Err(WorkspaceError::Process {
            what: "fork",
            source,
        }),
        Ok(ForkResult::Child) => {
            // SAFETY: plain descriptor duplication in the child.
            unsafe {
                libc::dup2(devnull.as_raw_fd(), 0);
                libc::dup2(devnull.as_raw_fd(), 1);
                libc::dup2(log_file.as_raw_fd(), 2);
            }
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101);
            // SAFETY: ends the child at once; nothing of the parent's state
            // is flushed twice.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => loop {
            match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, code)) => return Ok(code),
                Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(-(sig as i32)),
                Ok(_) => continue,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(source) => {
                    return Err(WorkspaceError::Process {
                        what: "waiting for the child",
                        source,
                    })
                }
            }
        },
    }
}

/// The workspaces in the cache folder.
pub fn entries(dir: &Path) -> Vec<CacheEntry> {
    let mut out = Vec::new();
    let Ok(read) = fs::read_dir(dir) else {
        return out;
    };
    let mut names: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    for path in names {
        if path.extension().and_then(|e| e.to_str()) != Some("ws") {
            continue;
        }
        let Some(id) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| is_key(s))
        else {
            continue;
        };
        let p = paths(dir, id);
        let check = check_entry(&p, id);
        out.push(CacheEntry {
            key: id.to_string(),
            bytes: fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
            valid: check.is_ok(),
            problem: match check {
                Ok(_) => None,
                Err(Problem::Missing) => Some("no stamp".into()),
                Err(Problem::Stale(why)) => Some(why),
            },
            stamp: read_stamp(&p.stamp),
            workspace: path,
        });
    }
    out
}

/// Delete all but the `keep` most recently built workspaces. A process
/// that is restoring one of them keeps reading it (the file is only
/// unlinked); one that is about to finds it gone and starts without it.
fn prune(dir: &Path, keep: usize) {
    let mut all = entries(dir);
    all.sort_by_key(|e| std::cmp::Reverse(e.stamp.as_ref().map_or(0, |s| s.created)));
    for old in all.iter().skip(keep) {
        let p = paths(dir, &old.key);
        for f in [&p.stamp, &p.workspace, &p.failed] {
            let _ = fs::remove_file(f);
        }
    }
}

fn is_key(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Remove every file the cache made in `dir` (workspaces, stamps, locks,
/// failure notes, leftovers of interrupted builds); other files stay.
/// Returns the number of files and bytes removed.
pub fn clear(dir: &Path) -> std::io::Result<(u64, u64)> {
    let mut files = 0;
    let mut bytes = 0;
    let read = match fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(e) => return Err(e),
    };
    for entry in read.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let stem = name.trim_start_matches('.');
        let ours = stem.split('.').next().is_some_and(is_key)
            && [".ws", ".json", ".lock", ".failed", ".log"]
                .iter()
                .any(|s| name.ends_with(s));
        if ours {
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            fs::remove_file(entry.path())?;
            files += 1;
            bytes += size;
        }
    }
    Ok((files, bytes))
}

/// How long an age is, in words, for `cache info`.
pub fn age(created: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let secs = now.saturating_sub(created);
    match secs {
        0..=119 => format!("{secs} s ago"),
        120..=7199 => format!("{} min ago", secs / 60),
        7200..=172_799 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small GAP root (sysinfo.gap, lib/, pkg/a/) in a fresh folder.
    fn small_root(name: &str) -> PathBuf {
        let root =
            std::env::temp_dir().join(format!("gaprun-fingerprint-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("lib")).unwrap();
        fs::create_dir_all(root.join("pkg/a")).unwrap();
        fs::write(root.join("sysinfo.gap"), "GAP_VERSION=\"4.16.1\"\n").unwrap();
        fs::write(root.join("lib/init.g"), "x;\n").unwrap();
        fs::write(root.join("pkg/a/PackageInfo.g"), "rec();\n").unwrap();
        root
    }

    fn stamp(root: &Path, names: &Path) {
        let text = format!("GAPRUN_GAP=dist pins 0\nroot {}\n", names.display());
        fs::write(root.join(PINNED_ROOT_STAMP), text).unwrap();
    }

    #[test]
    fn a_pinned_root_is_keyed_on_its_stamp_and_package_folders() {
        let root = small_root("pinned");
        let walked = fingerprint(std::slice::from_ref(&root));
        stamp(&root, &root);
        let (files, before) = fingerprint(std::slice::from_ref(&root));
        assert_ne!(walked.1, before, "the stamp changes how the root is keyed");
        // An edit inside a package folder of a pinned root is not looked for.
        fs::write(root.join("pkg/a/PackageInfo.g"), "rec( );\n").unwrap();
        assert_eq!(
            fingerprint(std::slice::from_ref(&root)),
            (files, before.clone())
        );
        // A package added changes the key.
        fs::create_dir_all(root.join("pkg/b")).unwrap();
        let (_, added) = fingerprint(std::slice::from_ref(&root));
        assert_ne!(added, before);
        // So does a new stamp (the root unpacked again).
        stamp(&root, &root.join("."));
        assert_ne!(fingerprint(std::slice::from_ref(&root)).1, added);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_stamp_naming_another_folder_or_a_linked_stamp_is_not_trusted() {
        let root = small_root("other");
        let elsewhere = small_root("elsewhere");
        stamp(&elsewhere, &elsewhere);
        // Names another root: walked, so an edit inside changes the key.
        stamp(&root, &elsewhere);
        let (_, before) = fingerprint(std::slice::from_ref(&root));
        fs::write(root.join("pkg/a/PackageInfo.g"), "rec( );\n").unwrap();
        assert_ne!(fingerprint(std::slice::from_ref(&root)).1, before);
        // A stamp that is a link (as in a tree of links into a pinned
        // root), even one naming this root.
        fs::remove_file(root.join(PINNED_ROOT_STAMP)).unwrap();
        stamp(&elsewhere, &root);
        std::os::unix::fs::symlink(
            elsewhere.join(PINNED_ROOT_STAMP),
            root.join(PINNED_ROOT_STAMP),
        )
        .unwrap();
        let (_, linked) = fingerprint(std::slice::from_ref(&root));
        fs::write(root.join("lib/init.g"), "y := 1;\n").unwrap();
        assert_ne!(fingerprint(std::slice::from_ref(&root)).1, linked);
        fs::remove_dir_all(&root).unwrap();
        fs::remove_dir_all(&elsewhere).unwrap();
    }
}
