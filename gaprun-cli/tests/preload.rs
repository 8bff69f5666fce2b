//! `gaprun preload` and the preload library under a real GAP: the build's
//! own `gap` executable (Debian's 4.12.1, or the 4.16.1 wheel's with
//! `GAPRUN_GAP=dist`) started with `LD_PRELOAD`, reading its own
//! /proc/self/smaps. GAP's pool (at its 16 TiB hint) must have lost the
//! `ac` (VM_ACCOUNT) flag — including the chunks GAP grows it by — while
//! the same run with `GAPRUN_POOL_NORESERVE=0` keeps it, and GAP computes
//! as before.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `gaprun preload --dir DIR`: the printed path.
fn preload_path(dir: &Path) -> PathBuf {
    let out = Command::new(common::gaprun_bin())
        .args(["preload", "--dir"])
        .arg(dir)
        .output()
        .expect("run gaprun preload");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("a UTF-8 path");
    PathBuf::from(text.trim_end_matches('\n'))
}

#[test]
fn preload_prints_one_path_to_a_shared_object() {
    let dir = tempfile::tempdir().unwrap();
    let path = preload_path(dir.path());
    assert!(path.starts_with(dir.path()), "{}", path.display());
    let bytes = std::fs::read(&path).expect("the library exists");
    assert_eq!(&bytes[..4], b"\x7fELF");
    assert_eq!(Some(&bytes[..]), gaprun::sys::PRELOAD_LIBRARY);
    // A second call finds the same file instead of writing another.
    assert_eq!(preload_path(dir.path()), path);
}

#[test]
fn preload_reports_an_unwritable_folder() {
    let out = Command::new(common::gaprun_bin())
        .args(["preload", "--dir", "/proc/version/x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot write the preload library"), "{err}");
}

/// The mapping of /proc/self/smaps that holds `addr`: (size in bytes,
/// VmFlags).
fn mapping_at(smaps: &str, addr: u64) -> Option<(u64, Vec<String>)> {
    let mut inside = false;
    let mut size = 0;
    for line in smaps.lines() {
        let head = line.split_whitespace().next().unwrap_or("");
        if let Some((lo, hi)) = head.split_once('-').filter(|_| !head.ends_with(':')) {
            let lo = u64::from_str_radix(lo, 16).unwrap_or(u64::MAX);
            let hi = u64::from_str_radix(hi, 16).unwrap_or(0);
            inside = lo <= addr && addr < hi;
        } else if inside && line.starts_with("Size:") {
            size = line[5..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .unwrap_or(0)
                * 1024;
        } else if inside && line.starts_with("VmFlags:") {
            return Some((
                size,
                line[8..].split_whitespace().map(String::from).collect(),
            ));
        }
    }
    None
}

struct PoolRun {
    output: Output,
    stdout: String,
    stderr: String,
    smaps: String,
}

/// Start `gap -s 32m` (so GAP grows its pool while it starts) with the
/// preload library; GAP computes, then copies its own smaps to a file.
fn run_gap(library: &Path, noreserve: &str) -> Option<PoolRun> {
    let mut gap = common::gap_command()?;
    let dir = tempfile::tempdir().unwrap();
    let smaps_copy = dir.path().join("smaps");
    let script = dir.path().join("pool.g");
    std::fs::write(
        &script,
        format!(
            "Print(Size(SymmetricGroup(5)), \"\\n\");\n\
             s := ReadAll(InputTextFile(\"/proc/self/smaps\"));;\n\
             o := OutputTextFile(\"{}\", false);; WriteAll(o, s);; CloseStream(o);;\n\
             QUIT;\n",
            smaps_copy.display()
        ),
    )
    .unwrap();
    let output = gap
        .args(["-A", "-s", "32m"])
        .arg(&script)
        .env("LD_PRELOAD", library)
        .env("GAPRUN_POOL_NORESERVE", noreserve)
        .env("GAPRUN_PRELOAD_VERBOSE", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("start gap");
    Some(PoolRun {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        smaps: std::fs::read_to_string(&smaps_copy).unwrap_or_default(),
        output,
    })
}

const HINT: u64 = 16 << 40;

#[test]
fn preloaded_gap_maps_and_grows_its_pool_without_reserve() {
    let dir = tempfile::tempdir().unwrap();
    let library = preload_path(dir.path());
    let Some(run) = run_gap(&library, "1") else {
        return; // no `gap` executable in this build (said on stderr)
    };
    assert!(run.output.status.success(), "{}", run.stderr);
    assert_eq!(run.stdout.lines().next(), Some("120"), "{}", run.stdout);
    // The library saw GAP's pool mapping and its growth (-s 32m is too
    // small for GAP's start-up).
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    let start = format!(
        "GAP pool mapping of {} bytes at 0x{HINT:x}: MAP_NORESERVE",
        (32 << 20) + page
    );
    assert!(run.stderr.contains(&start), "{}", run.stderr);
    assert!(run.stderr.contains("GAP pool growth of"), "{}", run.stderr);
    assert!(!run.stderr.contains("reserved"), "{}", run.stderr);
    let (size, flags) = mapping_at(&run.smaps, HINT).expect("a mapping at GAP's hint");
    assert!(size > 32 << 20, "pool of {size} bytes: it did not grow");
    assert!(
        !flags.iter().any(|f| f == "ac"),
        "pool still reserved: {flags:?}"
    );
}

#[test]
fn preload_with_noreserve_off_leaves_the_pool_reserved() {
    let dir = tempfile::tempdir().unwrap();
    let library = preload_path(dir.path());
    let Some(run) = run_gap(&library, "0") else {
        return;
    };
    assert!(run.output.status.success(), "{}", run.stderr);
    assert_eq!(run.stdout.lines().next(), Some("120"), "{}", run.stdout);
    assert!(!run.stderr.contains("MAP_NORESERVE"), "{}", run.stderr);
    let (_, flags) = mapping_at(&run.smaps, HINT).expect("a mapping at GAP's hint");
    assert!(flags.iter().any(|f| f == "ac"), "{flags:?}");
}

/// GAP's pool as `gaprun FLAG -s 256m` maps it, seen in GAP's own smaps.
fn gaprun_pool_flags(flag: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("smaps");
    let statements = format!(
        "s := ReadAll(InputTextFile(\"/proc/self/smaps\"));; \
         o := OutputTextFile(\"{}\", false);; WriteAll(o, s);; CloseStream(o);;",
        copy.display()
    );
    let out = Command::new(common::gaprun_bin())
        .args([
            flag,
            "-A",
            "--no-workspace",
            "-s",
            "256m",
            "-c",
            &statements,
        ])
        .env("GAPRUN_WORKSPACE_CACHE", dir.path())
        .output()
        .expect("run gaprun");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let smaps = std::fs::read_to_string(&copy).expect("GAP wrote its smaps");
    mapping_at(&smaps, HINT).expect("GAP's pool at its hint").1
}

/// `--noreserve` works in every link mode: through the renamed `mmap` of a
/// static libgap, and through the shim's `mmap` interposer with a shared
/// one (`GAPRUN_LINK=dynamic`), where it used to be refused.
#[test]
fn noreserve_reaches_gaps_pool_whichever_way_libgap_is_linked() {
    assert!(gaprun::runtime::pool_hook_available());
    let flags = gaprun_pool_flags("--noreserve");
    assert!(!flags.iter().any(|f| f == "ac"), "{flags:?}");
    let flags = gaprun_pool_flags("--reserve");
    assert!(flags.iter().any(|f| f == "ac"), "{flags:?}");
}
