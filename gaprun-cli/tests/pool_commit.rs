//! The pool policy and the pool hook, measured on the real kernel.
//!
//! `Committed_AS` (in /proc/meminfo) is what Linux has promised to all
//! processes. A reserved GAP pool is charged there at start-up and again for
//! every forked child; with MAP_NORESERVE it is not. Each scenario runs in a
//! fresh process (GAP starts once per process): this binary re-executes
//! itself with `GAPRUN_POOL_SCENARIO` set, and the scenario prints one JSON
//! line with what it measured.
//!
//! The strict-overcommit part (`vm.overcommit_memory=2`) changes the whole
//! machine, so it is opt-in (`GAPRUN_TEST_STRICT_OVERCOMMIT=1`) and runs only
//! as root with a writable sysctl, and a guard
//! restores the old value on success, failure, panic and SIGINT/SIGTERM.

use gaprun::pool::apply_policy;
use gaprun::size::format_bytes;
use gaprun::{Gap, GapOptions};
use serde_json::{json, Value};
use std::process::Command;

const SYSCTL: &str = "/proc/sys/vm/overcommit_memory";
const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

fn committed_as() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").expect("/proc/meminfo");
    gaprun::pool::facts::parse_meminfo(&text)
        .committed_as
        .expect("Committed_AS")
}

/// Bytes of `pid`'s mappings that the kernel charges to the commit: those
/// whose VmFlags in /proc/PID/smaps carry `ac` (VM_ACCOUNT). Unlike the
/// system-wide Committed_AS this is not disturbed by other processes.
fn accountable_bytes(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut total = 0u64;
    let mut size_kb = 0u64;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Size:") {
            size_kb = rest
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .unwrap_or(0);
        } else if let Some(flags) = line.strip_prefix("VmFlags:") {
            if flags.split_whitespace().any(|f| f == "ac") {
                total += size_kb * 1024;
            }
        }
    }
    total
}

/// One measurement, in this process: start GAP, fork `forks` children that
/// wait on a pipe, read the commit before/after, release the children.
/// Under strict overcommit, drive the `gaprun` binary itself: the auto
/// policy with 8 workers must run every task; a reserved pool too big for a
/// second copy must fail with a clear ENOMEM message, not a crash.
fn cli_scenario() -> Value {
    let _strict = OvercommitGuard::set("2").expect("set vm.overcommit_memory=2");
    let dir = tempfile::tempdir().expect("temp dir");
    let files: Vec<std::path::PathBuf> = (1..=8)
        .map(|i| {
            let f = dir.path().join(format!("t{i}.g"));
            std::fs::write(&f, format!("Print({i} * {i}, \"\\n\");\n")).unwrap();
            f
        })
        .collect();
    let gaprun = env!("CARGO_BIN_EXE_gaprun");
    let auto = Command::new(gaprun)
        .args(["run", "-A", "--no-workspace", "-j", "8"])
        .args(&files)
        .output();
    // A reserved pool of 60% of the headroom: the parent fits, a worker not.
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let m = gaprun::pool::facts::parse_meminfo(&text);
    let headroom = m
        .commit_limit
        .unwrap_or(0)
        .saturating_sub(m.committed_as.unwrap_or(0));
    let big = headroom / 10 * 6;
    let reserved = Command::new(gaprun)
        .args(["run", "-A", "--no-workspace", "--reserve", "-j", "2", "-s"])
        .arg(format!("{}k", big / 1024))
        .arg(&files[0])
        .output();
    let show = |o: std::io::Result<std::process::Output>| match o {
        Ok(o) => json!({
            "code": o.status.code(),
            "signal": std::os::unix::process::ExitStatusExt::signal(&o.status),
            "stdout": String::from_utf8_lossy(&o.stdout),
            "stderr": String::from_utf8_lossy(&o.stderr),
        }),
        Err(e) => json!({"spawn_error": e.to_string()}),
    };
    json!({"auto": show(auto), "reserved": show(reserved), "pool": big})
}

fn scenario(spec: &Value) -> Value {
    if spec["cli"].as_bool() == Some(true) {
        return cli_scenario();
    }
    // Strict mode is switched on here, inside the measuring process, for the
    // shortest possible window; the guard (and a 60 s alarm) switch it back.
    let _strict = spec["strict"]
        .as_bool()
        .unwrap_or(false)
        .then(|| OvercommitGuard::set("2").expect("set vm.overcommit_memory=2"));
    let forks = spec["forks"].as_u64().unwrap_or(0) as usize;
    let mut options = GapOptions {
        autoload: false,
        ..GapOptions::default()
    };
    if let Some(pool) = spec["pool"].as_u64() {
        options.pool_size = Some(pool);
    }
    if spec["pool"] == "sagemath" {
        // SageMath's rule, mapped reserved as SageMath's libgap maps it.
        let facts = gaprun::pool::MachineFacts::gather(0, gaprun::runtime::pool_hook_available());
        options.pool_size = Some(gaprun::pool::sagemath_baseline(&facts));
    }
    let stop_at_failure = spec["stop_at_failure"].as_bool().unwrap_or(false);
    let noreserve = spec["noreserve"].as_bool();
    let workers = spec["workers"].as_u64().unwrap_or(forks as u64) as u32;
    let hugepages = spec["hugepages"].as_bool();
    let (_, decision) =
        apply_policy(&mut options, workers, noreserve, hugepages).expect("policy decides");

    let me = std::process::id();
    let before_init = accountable_bytes(me);
    let system_before = committed_as();
    let gap = Gap::init(options).expect("GAP starts");
    let after_init = accountable_bytes(me);
    let stats = gap.pool_stats();
    // Touch GAP so the heap is really in use before forking.
    let check = gap
        .eval_value("Size(SymmetricGroup(6))")
        .unwrap()
        .to_string();

    let (read_fd, write_fd) = nix::unistd::pipe().expect("pipe");
    let mut children = Vec::new();
    let mut errors = Vec::new();
    for _ in 0..forks {
        // SAFETY: single-threaded test process (harness = false); the child
        // only blocks on a pipe and exits without touching GAP.
        match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Child) => {
                // SAFETY: closing this child's copy of the write end, so the
                // read below ends when the parent closes its copy.
                unsafe { libc::close(std::os::fd::AsRawFd::as_raw_fd(&write_fd)) };
                let mut buf = [0u8; 1];
                let _ = nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(&read_fd), &mut buf);
                // SAFETY: leave without running the parent's atexit handlers.
                unsafe { libc::_exit(0) };
            }
            Ok(nix::unistd::ForkResult::Parent { child }) => children.push(child),
            Err(e) => {
                errors.push(format!("fork: {e}"));
                if stop_at_failure {
                    break;
                }
            }
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let per_child: Vec<u64> = children
        .iter()
        .map(|c| accountable_bytes(c.as_raw() as u32))
        .collect();
    let system_after = committed_as();
    drop(write_fd);
    for child in &children {
        let _ = nix::sys::wait::waitpid(*child, None);
    }
    json!({
        "pool_size": decision.pool_size,
        "noreserve": decision.noreserve,
        "regime": decision.regime,
        "mappings": stats.mappings,
        "noreserve_mappings": stats.noreserve,
        "init_commit": after_init as i64 - before_init as i64,
        // commit charged for all children together (each is a full copy)
        "fork_commit": per_child.iter().sum::<u64>() as i64,
        "system_commit_delta": system_after as i64 - system_before as i64,
        "forks_ok": children.len(),
        "fork_errors": errors,
        "check": check,
    })
}

fn run_scenario(spec: Value) -> Value {
    let out = match Command::new(std::env::current_exe().unwrap())
        .env("GAPRUN_POOL_SCENARIO", spec.to_string())
        .output()
    {
        Ok(out) => out,
        Err(e) => return json!({"spawn_error": e.to_string()}),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or("");
    serde_json::from_str(line).unwrap_or_else(|_| {
        json!({"spawn_error": format!(
            "scenario {spec} did not report (status {}): stdout: {stdout} stderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )})
    })
}

fn mb(v: &Value, key: &str) -> i64 {
    v[key].as_i64().unwrap_or(i64::MAX / 2) / MIB as i64
}

struct Outcome {
    passed: usize,
    failed: usize,
    skipped: usize,
}

impl Outcome {
    fn check(&mut self, name: &str, ok: bool, detail: String) {
        if ok {
            self.passed += 1;
            println!("test {name} ... ok ({detail})");
        } else {
            self.failed += 1;
            println!("test {name} ... FAILED ({detail})");
        }
    }
}

/// Restores `vm.overcommit_memory` when dropped and on SIGINT/SIGTERM.
struct OvercommitGuard {
    old: String,
}

static mut SAVED_MODE: u8 = b'0';

extern "C" fn restore_and_exit(sig: libc::c_int) {
    // SAFETY: only async-signal-safe calls (open, write, close, _exit).
    unsafe {
        let path = c"/proc/sys/vm/overcommit_memory";
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY);
        if fd >= 0 {
            let byte = SAVED_MODE;
            libc::write(fd, &byte as *const u8 as *const libc::c_void, 1);
            libc::close(fd);
        }
        libc::_exit(128 + sig);
    }
}

impl OvercommitGuard {
    fn set(mode: &str) -> std::io::Result<OvercommitGuard> {
        let old = std::fs::read_to_string(SYSCTL)?.trim().to_string();
        // SAFETY: single-threaded; the handler only reads this byte.
        unsafe {
            SAVED_MODE = old.as_bytes().first().copied().unwrap_or(b'0');
            libc::signal(
                libc::SIGINT,
                restore_and_exit as *const () as libc::sighandler_t,
            );
            libc::signal(
                libc::SIGTERM,
                restore_and_exit as *const () as libc::sighandler_t,
            );
            libc::signal(
                libc::SIGALRM,
                restore_and_exit as *const () as libc::sighandler_t,
            );
            libc::alarm(60);
        }
        std::fs::write(SYSCTL, mode)?;
        Ok(OvercommitGuard { old })
    }
}

impl Drop for OvercommitGuard {
    fn drop(&mut self) {
        let _ = std::fs::write(SYSCTL, &self.old);
        // SAFETY: back to the default dispositions.
        unsafe {
            libc::alarm(0);
            libc::signal(libc::SIGALRM, libc::SIG_DFL);
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
        }
    }
}

fn strict_overcommit_available() -> Result<(), String> {
    // Switching the sysctl changes the whole machine for every other
    // process: only when asked (benches/pool_forks.sh opts in; a plain
    // `cargo test` and CI do not).
    if std::env::var_os("GAPRUN_TEST_STRICT_OVERCOMMIT").is_none() {
        return Err(
            "it changes a system-wide sysctl; set GAPRUN_TEST_STRICT_OVERCOMMIT=1 to run them"
                .into(),
        );
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("not running as root".into());
    }
    let current =
        std::fs::read_to_string(SYSCTL).map_err(|e| format!("cannot read {SYSCTL}: {e}"))?;
    std::fs::OpenOptions::new()
        .write(true)
        .open(SYSCTL)
        .map_err(|e| format!("{SYSCTL} is not writable: {e}"))?;
    if current.trim() == "2" {
        return Err("already in mode 2; not touching it".into());
    }
    Ok(())
}

fn main() {
    if let Ok(spec) = std::env::var("GAPRUN_POOL_SCENARIO") {
        let spec: Value = serde_json::from_str(&spec).expect("scenario spec");
        println!("{}", scenario(&spec));
        return;
    }
    if std::env::var_os("GAPRUN_POOL_BENCH").is_some() {
        bench();
        return;
    }
    if !std::path::Path::new("/proc/meminfo").exists() {
        println!("pool_commit: skipped: not Linux");
        println!("0 passed, 0 failed, 1 skipped");
        return;
    }
    let mut o = Outcome {
        passed: 0,
        failed: 0,
        skipped: 0,
    };
    let hook = gaprun::runtime::pool_hook_available();
    let mode = std::fs::read_to_string(SYSCTL).unwrap_or_default();
    let mode = mode.trim().to_string();

    if hook && mode != "2" {
        let r = run_scenario(json!({"pool": 3 * GIB, "noreserve": true, "forks": 4}));
        let per_fork = mb(&r, "fork_commit") / 4;
        o.check(
            "noreserve_3g_pool_costs_no_commit",
            mb(&r, "init_commit") < 100
                && per_fork < 100
                && r["noreserve_mappings"].as_u64() >= Some(1),
            format!(
                "init +{} MB, per fork +{per_fork} MB",
                mb(&r, "init_commit")
            ),
        );
        let r = run_scenario(json!({"pool": 3 * GIB, "noreserve": false, "forks": 4}));
        let per_fork = mb(&r, "fork_commit") / 4;
        o.check(
            "reserved_3g_pool_is_charged_per_fork",
            per_fork as u64 >= 3 * 1024 * 9 / 10 && r["noreserve_mappings"].as_u64() == Some(0),
            format!("init +{} MB, per fork +{per_fork} MB (hook proven: the flag is the only difference)", mb(&r, "init_commit")),
        );
        let r = run_scenario(json!({"forks": 4, "workers": 4}));
        let per_fork = mb(&r, "fork_commit") / 4;
        o.check(
            "auto_policy_commit_per_worker_at_most_64mb",
            per_fork <= 64 && r["forks_ok"].as_u64() == Some(4) && r["check"] == "720",
            format!(
                "pool {} noreserve {} per fork +{per_fork} MB",
                format_bytes(r["pool_size"].as_u64().unwrap()),
                r["noreserve"]
            ),
        );
    } else {
        println!("mode-0/1 commit checks skipped: hook {hook}, overcommit mode {mode}");
        o.skipped += 5;
    }

    match strict_overcommit_available() {
        Err(why) => {
            println!("strict overcommit (mode 2) checks skipped: {why}");
            o.skipped += 5;
        }
        Ok(()) => {
            let auto = run_scenario(json!({"forks": 8, "workers": 8, "strict": true}));
            let reserved = run_scenario(
                json!({"pool": 3 * GIB, "noreserve": false, "forks": 8, "strict": true}),
            );
            let cli = run_scenario(json!({"cli": true}));
            let restored = std::fs::read_to_string(SYSCTL).unwrap_or_default();
            let auto_out = cli["auto"]["stdout"].as_str().unwrap_or("");
            o.check(
                "mode2_gaprun_run_auto_policy_8_workers",
                cli["auto"]["code"] == 0
                    && (1..=8).all(|i| auto_out.lines().any(|l| l == (i * i).to_string())),
                format!(
                    "exit {}, stderr {}",
                    cli["auto"]["code"], cli["auto"]["stderr"]
                ),
            );
            let err = cli["reserved"]["stderr"].as_str().unwrap_or("");
            o.check(
                "mode2_gaprun_run_oversized_reserved_pool_reports_enomem",
                cli["reserved"]["code"] == 2 && err.contains("fork failed: ENOMEM"),
                format!(
                    "pool {}, exit {}, stderr {}",
                    format_bytes(cli["pool"].as_u64().unwrap_or(0)),
                    cli["reserved"]["code"],
                    err.trim()
                ),
            );
            o.check(
                "mode2_sysctl_restored",
                restored.trim() == mode,
                format!("vm.overcommit_memory is {} again", restored.trim()),
            );
            o.check(
                "mode2_auto_policy_8_workers_all_fork",
                auto["forks_ok"].as_u64() == Some(8) && auto["regime"] == "linux_strict_overcommit",
                format!(
                    "pool {}, forks ok {}, errors {}",
                    format_bytes(auto["pool_size"].as_u64().unwrap()),
                    auto["forks_ok"],
                    auto["fork_errors"]
                ),
            );
            let errors = reserved["fork_errors"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            o.check(
                "mode2_reserved_3g_pool_fork_fails_cleanly",
                !errors.is_empty()
                    && errors
                        .iter()
                        .all(|e| e.as_str().is_some_and(|s| s.contains("ENOMEM"))),
                format!(
                    "forks ok {}, errors {}",
                    reserved["forks_ok"], reserved["fork_errors"]
                ),
            );
        }
    }
    println!(
        "{} passed, {} failed, {} skipped",
        o.passed, o.failed, o.skipped
    );
    if o.failed > 0 {
        std::process::exit(1);
    }
}

/// `GAPRUN_POOL_BENCH=1 cargo test --release --test pool_commit` (see
/// benches/pool_forks.sh): commit per forked worker and how many workers
/// fork, for three pool rules, in overcommit mode 0 and (as root) mode 2.
fn bench() {
    let max = std::env::var("GAPRUN_POOL_BENCH_FORKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32u64);
    let rules: [(String, Value); 4] = [
        (
            "naive: fixed 3 GB reserved pool".into(),
            json!({"pool": 3 * GIB, "noreserve": false}),
        ),
        (
            "SageMath's rule (reserved)".into(),
            json!({"pool": "sagemath", "noreserve": false}),
        ),
        ("gaprun auto, planned -j 8".into(), json!({"workers": 8})),
        (
            format!("gaprun auto, planned -j {max}"),
            json!({"workers": max}),
        ),
    ];
    let strict = strict_overcommit_available().is_ok();
    println!("| overcommit mode | pool rule | -s | noreserve | commit per worker | workers forked (of {max}) |");
    println!("|---|---|---|---|---|---|");
    for mode2 in [false, true] {
        if mode2 && !strict {
            println!(
                "| 2 | (skipped: {}) | | | | |",
                strict_overcommit_available().unwrap_err()
            );
            continue;
        }
        for (name, rule) in &rules {
            let mut spec = rule.clone();
            spec["forks"] = json!(max);
            spec["stop_at_failure"] = json!(true);
            spec["strict"] = json!(mode2);
            let r = run_scenario(spec);
            if let Some(e) = r.get("spawn_error") {
                println!(
                    "| {} | {name} | failed: {e} | | | |",
                    if mode2 { 2 } else { 0 }
                );
                continue;
            }
            let forked = r["forks_ok"].as_u64().unwrap_or(0);
            let per = r["fork_commit"]
                .as_u64()
                .unwrap_or(0)
                .checked_div(forked)
                .map(format_bytes)
                .unwrap_or_else(|| "-".into());
            println!(
                "| {} | {name} | {} | {} | {per} | {forked} |",
                if mode2 { 2 } else { 0 },
                format_bytes(r["pool_size"].as_u64().unwrap_or(0)),
                r["noreserve"]
            );
        }
    }
}
