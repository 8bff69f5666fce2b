//! GAP source fed to evaluation through the fork pool: whatever the source
//! does to its worker (errors, endless loops, huge allocations, `QuitGap`,
//! odd bytes), the parent gets a result for it and stays healthy — its GAP
//! answers, its own data is untouched, it has one thread and no child left.
//! A worker may fail (GAP error, timeout, memory limit, exit, even a
//! signal): workers that die from a signal or exit without a report are
//! saved under `artifacts/gap_eval/worker-*` for a look, and counted.
//!
//! Must run with `-rss_limit_mb=0`: libFuzzer's RSS watcher is a second
//! thread, and the pool refuses to fork then (see run.sh).
#![no_main]

use gaprun::fork::{thread_count, ForkOptions, ForkPool, Task, TaskKind, TaskOutcome};
use gaprun::workspace::{prepare, CacheSettings};
use gaprun::{Gap, GapOptions};
use libfuzzer_sys::fuzz_target;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// The options GAP was started with (`Gap::init` with the same options
/// hands back the running GAP; a `Gap` itself cannot live in a static).
static OPTIONS: OnceLock<GapOptions> = OnceLock::new();
/// Outcomes so far, by [`TaskOutcome::name`] order below.
static COUNTS: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];
const NAMES: [&str; 8] = [
    "ok",
    "gap_error",
    "test_failed",
    "exited",
    "timeout",
    "memory_limit",
    "signaled",
    "crashed",
];

/// The parent's own data, checked after every input.
const MARKER: &str = "GapRunFuzzParentMarker";

fn gap() -> Gap<'static> {
    Gap::init(OPTIONS.get().expect("initialised").clone()).expect("the same GAP")
}

fn scratch() -> PathBuf {
    std::env::temp_dir().join(format!("gaprun-fuzz-gap-{}", std::process::id()))
}

fn init() {
    // One GAP per process, as the CLI starts it for `batch -A`: autoload
    // off, from the saved-workspace cache when there is one.
    let base = GapOptions {
        autoload: false,
        ..GapOptions::default()
    };
    let (options, status) = prepare(base, &CacheSettings::default());
    eprintln!(
        "gap_eval: workspace cache: {} ({})",
        status.used, status.reason
    );
    OPTIONS.set(options).expect("init runs once");
    let gap = gap();
    gap.eval(&format!("{MARKER} := List([1..100], i -> i^2);;"))
        .expect("the marker is set");
    // Inputs that are not UTF-8 are written here. (Files a task writes
    // with a relative name land in the current folder: run.sh starts the
    // run in a scratch folder.)
    std::fs::create_dir_all(scratch()).expect("scratch folder");
}

fuzz_target!(init: init(), |data: &[u8]| {
    let gap = gap();
    let kind = match std::str::from_utf8(data) {
        Ok(code) => TaskKind::Code(code.to_string()),
        // Bytes that are not UTF-8 reach GAP through a file.
        Err(_) => {
            let file = scratch().join("input.g");
            std::fs::write(&file, data).expect("write the input file");
            TaskKind::File(file)
        }
    };
    let pool = ForkPool::new(
        gap,
        ForkOptions {
            jobs: 1,
            timeout: Some(Duration::from_secs(2)),
            memory_limit: Some(256 << 20),
            max_output: 1 << 20,
        },
    );
    let results = pool
        .run(&[Task::new(kind)])
        .expect("the parent gets a result for every task");
    assert_eq!(results.len(), 1);
    let r = &results[0];
    let slot = NAMES.iter().position(|n| *n == r.outcome.name()).unwrap();
    let seen = COUNTS[slot].fetch_add(1, Ordering::Relaxed) + 1;
    if matches!(r.outcome, TaskOutcome::Signaled(_) | TaskOutcome::Crashed(_)) {
        keep_worker_failure(data, r.outcome.name(), r.error.as_deref());
    }
    // The parent is healthy: one thread, no child left behind, its GAP
    // answers and its data is what it set.
    assert_eq!(thread_count().unwrap(), 1);
    let left = children();
    assert!(left.is_empty(), "children of the parent are left: {left:?}");
    let sum = gap
        .eval_value(&format!("Sum({MARKER})"))
        .expect("the parent's GAP answers");
    assert_eq!(gap.view(&sum).unwrap(), "338350");
    let total: u64 = COUNTS.iter().map(|c| c.load(Ordering::Relaxed)).sum();
    if total.is_multiple_of(2000) || (seen == 1 && slot >= 6) {
        let counts: Vec<String> = NAMES
            .iter()
            .zip(&COUNTS)
            .map(|(n, c)| format!("{n}={}", c.load(Ordering::Relaxed)))
            .collect();
        eprintln!("gap_eval: {total} tasks: {}", counts.join(" "));
    }
});

/// Save an input whose worker died from a signal or without a report.
fn keep_worker_failure(data: &[u8], outcome: &str, error: Option<&str>) {
    let mut h = DefaultHasher::new();
    data.hash(&mut h);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts/gap_eval");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("worker-{outcome}-{:016x}", h.finish()));
    let _ = std::fs::write(&path, data);
    eprintln!(
        "gap_eval: worker {outcome} ({error:?}); input saved as {}",
        path.display()
    );
}

/// The parent's children (pid and name), living or zombie, except the
/// sanitizer's `llvm-symbolizer` (libFuzzer starts it to name new functions
/// unless `-print_funcs=0`).
fn children() -> Vec<(String, String)> {
    let me = std::process::id();
    let list = std::fs::read_to_string(format!("/proc/{me}/task/{me}/children"))
        .expect("/proc/PID/task/TID/children");
    list.split_whitespace()
        .map(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            (pid.to_string(), comm.trim().to_string())
        })
        .filter(|(_, comm)| comm != "llvm-symbolizer")
        .collect()
}
