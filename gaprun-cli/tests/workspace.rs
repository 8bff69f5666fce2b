//! The saved-workspace cache, driven through the `gaprun` binary (building
//! a workspace forks, which must not happen inside the threaded harness).
//! Every test has its own cache folder (`GAPRUN_WORKSPACE_CACHE`) and reads
//! what the cache did from `GAPRUN_DEBUG=workspace` notes on stderr.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn gaprun(cache: &Path, args: &[&str]) -> Output {
    Command::new(common::gaprun_bin())
        .args(args)
        .env("GAPRUN_WORKSPACE_CACHE", cache)
        .env("GAPRUN_DEBUG", "workspace")
        .env_remove("GAPRUN_PACKAGES")
        .output()
        .expect("run gaprun")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The `gaprun: workspace: ...` note of one run.
fn note(o: &Output) -> String {
    stderr(o)
        .lines()
        .find(|l| l.starts_with("gaprun: workspace:"))
        .unwrap_or_else(|| panic!("no workspace note in stderr: {}", stderr(o)))
        .to_string()
}

fn cache_info(cache: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["cache", "info", "--json"];
    args.extend_from_slice(extra);
    let o = gaprun(cache, &args);
    assert!(o.status.success(), "cache info failed: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("cache info prints JSON")
}

const CODE: &str = "Size(SymmetricGroup(6)); EARLY_METHOD(First, 2) <> fail;";
const ANSWER: &str = "720\ntrue\n";

#[test]
fn made_on_first_run_and_used_on_second() {
    let cache = tempfile::tempdir().unwrap();
    let info = gaprun(cache.path(), &["info", "--json", "-A"]);
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["workspace"]["used"], false);

    let first = gaprun(cache.path(), &["-A", "-c", CODE]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(stdout(&first), ANSWER);
    assert!(note(&first).contains("built it now"), "{}", note(&first));

    let second = gaprun(cache.path(), &["-A", "-c", CODE]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(stdout(&second), ANSWER);
    assert!(
        note(&second).contains("used (cached workspace found"),
        "{}",
        note(&second)
    );
    assert!(!stderr(&second).contains("warning"), "{}", stderr(&second));

    let info = cache_info(cache.path(), &["-A"]);
    assert_eq!(info["current"]["used"], true);
    let entries = info["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["valid"], true);

    // `gaprun info` says so too, and --no-workspace turns it off.
    let o = gaprun(cache.path(), &["info", "-A"]);
    assert!(
        stdout(&o).contains("Saved workspace: used"),
        "{}",
        stdout(&o)
    );
    let off = gaprun(cache.path(), &["-A", "--no-workspace", "-c", CODE]);
    assert_eq!(stdout(&off), ANSWER);
    assert!(note(&off).contains("not used (disabled"), "{}", note(&off));

    // cache clear removes it; the next start builds again.
    let o = gaprun(cache.path(), &["cache", "clear"]);
    assert!(o.status.success());
    assert_eq!(
        cache_info(cache.path(), &["-A"])["entries"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn another_package_list_is_another_workspace() {
    let cache = tempfile::tempdir().unwrap();
    let a = gaprun(cache.path(), &["-A", "-c", "1;"]);
    assert!(note(&a).contains("built it now"), "{}", note(&a));
    let key_a = cache_info(cache.path(), &["-A"])["current"]["key"].clone();
    // Another package list must not load the first workspace.
    let b = gaprun(
        cache.path(),
        &[
            "-A",
            "--packages",
            "smallgrp",
            "-c",
            "IdGroup(SmallGroup(12, 3));",
        ],
    );
    assert!(b.status.success(), "{}", stderr(&b));
    assert_eq!(stdout(&b), "[ 12, 3 ]\n");
    assert!(note(&b).contains("built it now"), "{}", note(&b));
    let info = cache_info(cache.path(), &["-A", "--packages", "smallgrp"]);
    assert_ne!(info["current"]["key"], key_a);
    assert_eq!(info["entries"].as_array().unwrap().len(), 2);
    // Autoload on/off is part of the key as well.
    let auto = cache_info(cache.path(), &[]);
    assert_ne!(auto["current"]["key"], key_a);
    assert_eq!(auto["current"]["used"], false);
}

/// A GAP root made of links into the real one, so a test can change "GAP's
/// files" without touching the shared installation.
fn linked_root(dir: &Path) -> String {
    let real = gaprun::runtime::built_in_roots();
    let mut roots = Vec::new();
    for (i, root) in real.iter().enumerate() {
        let mine = dir.join(format!("root{i}"));
        std::fs::create_dir_all(mine.join("pkg")).unwrap();
        for entry in std::fs::read_dir(root).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name() == "pkg" {
                for p in std::fs::read_dir(entry.path()).unwrap() {
                    let p = p.unwrap();
                    std::os::unix::fs::symlink(p.path(), mine.join("pkg").join(p.file_name()))
                        .unwrap();
                }
            } else {
                std::os::unix::fs::symlink(entry.path(), mine.join(entry.file_name())).unwrap();
            }
        }
        roots.push(mine.display().to_string());
    }
    roots.join(";")
}

#[test]
fn changed_gap_files_change_the_key() {
    let cache = tempfile::tempdir().unwrap();
    let tree = tempfile::tempdir().unwrap();
    let roots = linked_root(tree.path());
    let before = cache_info(cache.path(), &["-A", "--gap-root", &roots]);
    let again = cache_info(cache.path(), &["-A", "--gap-root", &roots]);
    assert_eq!(before["current"]["key"], again["current"]["key"]);
    // A new package appears under a root (the last: Debian's GAP has two,
    // the dist one).
    let last = gaprun::runtime::built_in_roots().len() - 1;
    let pkg = tree.path().join(format!("root{last}/pkg/newpkg"));
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("PackageInfo.g"), "SetPackageInfo(rec());\n").unwrap();
    let after = cache_info(cache.path(), &["-A", "--gap-root", &roots]);
    assert_ne!(before["current"]["key"], after["current"]["key"]);
    // The file is edited (size changes).
    std::fs::write(pkg.join("PackageInfo.g"), "SetPackageInfo(rec( ));\n").unwrap();
    let edited = cache_info(cache.path(), &["-A", "--gap-root", &roots]);
    assert_ne!(after["current"]["key"], edited["current"]["key"]);
}

#[test]
fn truncated_or_unstamped_workspace_is_rebuilt() {
    let cache = tempfile::tempdir().unwrap();
    let first = gaprun(cache.path(), &["-A", "-c", CODE]);
    assert!(note(&first).contains("built it now"), "{}", note(&first));
    let info = cache_info(cache.path(), &["-A"]);
    let ws = info["entries"][0]["workspace"]
        .as_str()
        .unwrap()
        .to_string();
    let size = std::fs::metadata(&ws).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&ws).unwrap();
    f.set_len(size / 3).unwrap();
    drop(f);

    let o = gaprun(cache.path(), &["-A", "-c", CODE]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), ANSWER);
    assert!(
        stderr(&o).contains("warning: cached workspace"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("truncated"), "{}", stderr(&o));
    assert!(note(&o).contains("built it now"), "{}", note(&o));
    assert_eq!(std::fs::metadata(&ws).unwrap().len(), size);

    // A workspace whose stamp is gone (say, an interrupted build) is not
    // trusted either.
    std::fs::remove_file(Path::new(&ws).with_extension("json")).unwrap();
    let o = gaprun(cache.path(), &["-A", "-c", CODE]);
    assert_eq!(stdout(&o), ANSWER);
    assert!(stderr(&o).contains("no valid stamp"), "{}", stderr(&o));
    let o = gaprun(cache.path(), &["-A", "-c", CODE]);
    assert!(
        note(&o).contains("used (cached workspace found"),
        "{}",
        note(&o)
    );
}

#[test]
fn two_concurrent_first_runs_both_succeed() {
    let cache = tempfile::tempdir().unwrap();
    let spawn = || {
        Command::new(common::gaprun_bin())
            .args(["-A", "-c", CODE])
            .env("GAPRUN_WORKSPACE_CACHE", cache.path())
            .env("GAPRUN_DEBUG", "workspace")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn gaprun")
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for o in [&a, &b] {
        assert!(o.status.success(), "{}", stderr(o));
        assert_eq!(stdout(o), ANSWER);
        assert!(!stderr(o).contains("warning"), "{}", stderr(o));
    }
    let info = cache_info(cache.path(), &["-A"]);
    let entries = info["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["valid"], true);
    // No leftovers of the builds.
    let stray: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
    let c = gaprun(cache.path(), &["-A", "-c", CODE]);
    assert!(
        note(&c).contains("used (cached workspace found"),
        "{}",
        note(&c)
    );
}

/// Results with and without the workspace are identical: a file of
/// statements covering early methods (lost by GAP 4.12 restores, repaired by
/// gaprun), the group libraries and the io package's own test files.
#[test]
fn same_answers_with_and_without_workspace() {
    let cache = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/same_answers.g");
    let script = std::fs::read_to_string(script).unwrap();
    let cold = gaprun(cache.path(), &["--no-workspace", "-c", &script]);
    let build = gaprun(cache.path(), &["-c", &script]);
    let warm = gaprun(cache.path(), &["-c", &script]);
    assert!(cold.status.success(), "{}", stderr(&cold));
    assert!(
        note(&warm).contains("used (cached workspace found"),
        "{}",
        note(&warm)
    );
    assert_eq!(stdout(&cold), stdout(&build));
    assert_eq!(stdout(&cold), stdout(&warm));
    assert!(
        stdout(&cold).starts_with("true\ntrue\n4\n"),
        "{}",
        stdout(&cold)
    );

    let tst = gaprun::runtime::built_in_roots()
        .iter()
        .map(|r| r.join("pkg/io/tst"))
        .find(|d| d.is_dir())
        .expect("io package tests");
    let code = format!(
        "for f in [\"all.tst\", \"bugfix.tst\", \"funcs.tst\"] do \
         Print(f, \" \", Test(Concatenation(\"{}/\", f)), \"\\n\"); od;",
        tst.display()
    );
    let cold = gaprun(
        cache.path(),
        &["--packages", "io", "--no-workspace", "-c", &code],
    );
    let _build = gaprun(cache.path(), &["--packages", "io", "-c", &code]);
    let warm = gaprun(cache.path(), &["--packages", "io", "-c", &code]);
    assert!(
        note(&warm).contains("used (cached workspace found"),
        "{}",
        note(&warm)
    );
    assert_eq!(
        stdout(&cold),
        "all.tst true\nbugfix.tst true\nfuncs.tst true\n"
    );
    assert_eq!(stdout(&cold), stdout(&warm));
}

fn run_file(cache: &Path, extra: &[&str], file: &Path) -> Output {
    let mut args = extra.to_vec();
    args.push(file.to_str().unwrap());
    gaprun(cache, &args)
}

fn data(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Equality of flags lists (`=` dispatches through a kernel table that GAP
/// 4.12 fills in a start-up step a restore skips): the same as `gap`'s with
/// and without the workspace (issue 10 item 1).
#[test]
fn flags_equality_same_as_gap_with_workspace() {
    let cache = tempfile::tempdir().unwrap();
    let file = data("flags_equality.g");
    let cold = run_file(cache.path(), &["-A", "--no-workspace"], &file);
    assert!(cold.status.success(), "{}", stderr(&cold));
    assert_eq!(stdout(&cold), "true true\ntrue false true true 2\n");
    if let Some(mut gap) = common::gap_command() {
        let o = gap
            .args(["-A", "--quitonbreak"])
            .arg(&file)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&o.stdout), stdout(&cold));
    }
    let build = run_file(cache.path(), &["-A"], &file);
    assert!(note(&build).contains("built it now"), "{}", note(&build));
    let warm = run_file(cache.path(), &["-A"], &file);
    assert!(
        note(&warm).contains("used (cached workspace found"),
        "{}",
        note(&warm)
    );
    assert_eq!(stdout(&build), stdout(&cold));
    assert_eq!(stdout(&warm), stdout(&cold));
}

/// Every operation's method table (each operation in OPERATIONS, arities 0
/// to 6: number of methods and each method's filters, family predicate,
/// function, rank, info and location; whether it has an early method) is
/// identical with and without the workspace, with the default packages.
#[test]
fn method_tables_same_with_and_without_workspace() {
    let cache = tempfile::tempdir().unwrap();
    let dump = gaprun::workspace::METHOD_DUMP_GAP;
    let code = format!("CallFuncList({dump}, [OutputTextUser()]);");
    let cold = gaprun(cache.path(), &["--no-workspace", "-c", &code]);
    assert!(cold.status.success(), "{}", stderr(&cold));
    let cold = stdout(&cold);
    assert!(
        cold.lines().count() > 40_000,
        "{}",
        &cold[..cold.len().min(500)]
    );
    assert!(cold.contains("\nFirst/2 methods "), "no First/2 line");
    for run in ["build", "warm"] {
        let o = gaprun(cache.path(), &["-c", &code]);
        assert!(o.status.success(), "{run}: {}", stderr(&o));
        let expect = if run == "build" {
            "built it now"
        } else {
            "used (cached workspace found"
        };
        assert!(note(&o).contains(expect), "{run}: {}", note(&o));
        let warm = stdout(&o);
        if warm != cold {
            let diff: Vec<String> = cold
                .lines()
                .zip(warm.lines())
                .filter(|(a, b)| a != b)
                .take(5)
                .map(|(a, b)| format!("- {a}\n+ {b}"))
                .collect();
            panic!("{run}: method tables differ:\n{}", diff.join("\n"));
        }
    }
}

/// The workspace file of the only entry in `cache`.
fn only_workspace(cache: &Path) -> std::path::PathBuf {
    let info = cache_info(cache, &["-A"]);
    let entries = info["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{info}");
    entries[0]["workspace"].as_str().unwrap().into()
}

/// A workspace damaged inside with its size and modification time kept
/// (4 KB flipped a quarter into the file) is detected: `cache info` says
/// it is not valid, and the next start warns, rebuilds and answers right
/// (issue 11 item 2).
#[test]
fn damaged_inside_with_same_size_and_mtime_is_rebuilt() {
    use std::io::{Read, Seek, SeekFrom, Write};
    let cache = tempfile::tempdir().unwrap();
    let first = gaprun(cache.path(), &["-A", "-c", CODE]);
    assert!(note(&first).contains("built it now"), "{}", note(&first));
    let ws = only_workspace(cache.path());
    let meta = std::fs::metadata(&ws).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&ws)
        .unwrap();
    let at = meta.len() / 4;
    let mut block = vec![0u8; 4096];
    f.seek(SeekFrom::Start(at)).unwrap();
    f.read_exact(&mut block).unwrap();
    for b in &mut block {
        *b = !*b;
    }
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&block).unwrap();
    f.set_modified(meta.modified().unwrap()).unwrap();
    drop(f);
    let after = std::fs::metadata(&ws).unwrap();
    assert_eq!(after.len(), meta.len());
    assert_eq!(after.modified().unwrap(), meta.modified().unwrap());

    let info = cache_info(cache.path(), &["-A"]);
    assert_eq!(info["entries"][0]["valid"], false, "{info}");
    assert!(
        info["entries"][0]["problem"]
            .as_str()
            .unwrap_or("")
            .contains("content"),
        "{info}"
    );
    assert_eq!(info["current"]["used"], false, "{info}");

    let o = gaprun(cache.path(), &["-A", "-c", CODE]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), ANSWER);
    assert!(
        stderr(&o).contains("warning: cached workspace"),
        "{}",
        stderr(&o)
    );
    assert!(note(&o).contains("built it now"), "{}", note(&o));
    let o = gaprun(cache.path(), &["-A", "-c", CODE]);
    assert_eq!(stdout(&o), ANSWER);
    assert!(
        note(&o).contains("used (cached workspace found"),
        "{}",
        note(&o)
    );
}

/// No damage to the cache folder stops gaprun from starting: a garbage
/// stamp, a stamp with the wrong size, a stamp or lock that is a folder, a
/// cache "folder" that is a file; each start answers right (issue 11 item 2).
#[test]
fn no_cache_damage_stops_a_start() {
    let cache = tempfile::tempdir().unwrap();
    let first = gaprun(cache.path(), &["-A", "-c", CODE]);
    assert!(note(&first).contains("built it now"), "{}", note(&first));
    let ws = only_workspace(cache.path());
    let stamp = ws.with_extension("json");
    let lock = ws.with_extension("lock");
    let check = |what: &str| {
        let o = gaprun(cache.path(), &["-A", "-c", CODE]);
        assert!(o.status.success(), "{what}: {}", stderr(&o));
        assert_eq!(stdout(&o), ANSWER, "{what}: {}", stderr(&o));
        o
    };

    std::fs::write(&stamp, b"\x00garbage{{{").unwrap();
    let o = check("garbage stamp");
    assert!(stderr(&o).contains("no valid stamp"), "{}", stderr(&o));

    let mut s: serde_json::Value = serde_json::from_slice(&std::fs::read(&stamp).unwrap()).unwrap();
    s["size"] = serde_json::json!(s["size"].as_u64().unwrap() + 1);
    std::fs::write(&stamp, serde_json::to_vec(&s).unwrap()).unwrap();
    let o = check("stamp with the wrong size");
    assert!(stderr(&o).contains("size changed"), "{}", stderr(&o));

    std::fs::remove_file(&lock).unwrap();
    std::fs::create_dir(&lock).unwrap();
    std::fs::remove_file(&stamp).unwrap();
    check("lock is a folder");
    std::fs::remove_dir(&lock).unwrap();

    std::fs::remove_file(&ws).unwrap();
    std::fs::create_dir_all(&stamp).unwrap();
    check("stamp is a folder");
    check("stamp is a folder, again");

    let file = cache.path().join("not-a-folder");
    std::fs::write(&file, "x").unwrap();
    let o = gaprun(&file, &["-A", "-c", CODE]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), ANSWER);
    let o = gaprun(&file, &["cache", "info"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A workspace that disappears between its check and GAP's loading of it —
/// another gaprun pruning the cache, `cache clear`, a rebuild replacing it —
/// does not stop a start: the start restores the very file it verified
/// (regression: "GAP setup: cannot read saved workspace …", exit 2, seen
/// when parallel test binaries shared one cache).
#[test]
fn workspace_removed_while_starting_does_not_stop_a_start() {
    let cache = tempfile::tempdir().unwrap();
    let first = gaprun(cache.path(), &["-A", "-c", CODE]);
    assert!(first.status.success(), "{}", stderr(&first));
    let ws = only_workspace(cache.path());
    // Take the entry away for a moment and put the same file (same inode,
    // so its stamp stays right) back, over and over.
    let keep = cache.path().join("keep.hardlink");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flicker = {
        let (stop, ws, keep) = (stop.clone(), ws.clone(), keep.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::fs::remove_file(&keep);
                if std::fs::hard_link(&ws, &keep).is_ok() {
                    let _ = std::fs::remove_file(&ws);
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    let _ = std::fs::rename(&keep, &ws);
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        })
    };
    let mut failures = Vec::new();
    for _ in 0..20 {
        let o = gaprun(cache.path(), &["-A", "-c", CODE]);
        if !o.status.success() || stdout(&o) != ANSWER {
            failures.push(format!(
                "{:?}: {}{}",
                o.status.code(),
                stdout(&o),
                stderr(&o)
            ));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flicker.join().unwrap();
    assert!(
        failures.is_empty(),
        "{} of 20 starts failed: {failures:#?}",
        failures.len()
    );
}

/// The stamp records the published file's identity (device, inode, ctime),
/// so later starts skip re-hashing that very file; a replacement with the
/// same bytes, size and mtime (another inode: `cp -p`) is hashed again and
/// still used, and the damaged case above is still caught.
#[test]
fn stamp_records_the_published_files_identity() {
    use std::os::unix::fs::MetadataExt;
    let cache = tempfile::tempdir().unwrap();
    let first = gaprun(cache.path(), &["-A", "-c", CODE]);
    assert!(note(&first).contains("built it now"), "{}", note(&first));
    let ws = only_workspace(cache.path());
    let stamp: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.with_extension("json")).unwrap()).unwrap();
    let meta = std::fs::metadata(&ws).unwrap();
    let published = &stamp["published"];
    assert_eq!(published["ino"].as_u64(), Some(meta.ino()), "{stamp}");
    assert_eq!(published["dev"].as_u64(), Some(meta.dev()), "{stamp}");
    let ctime_ns = meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128;
    assert_eq!(published["ctime_ns"].to_string(), ctime_ns.to_string());

    // The same bytes under another inode, mtime kept.
    let copy = ws.with_extension("copy");
    std::fs::copy(&ws, &copy).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&copy)
        .unwrap()
        .set_modified(meta.modified().unwrap())
        .unwrap();
    std::fs::rename(&copy, &ws).unwrap();
    assert_ne!(std::fs::metadata(&ws).unwrap().ino(), meta.ino());
    let o = gaprun(cache.path(), &["-A", "-c", CODE]);
    assert_eq!(stdout(&o), ANSWER);
    assert!(
        note(&o).contains("used (cached workspace found"),
        "{}",
        note(&o)
    );
}
