//! `gaprun test -j N PATH...`: GAP test files, each through GAP's own
//! `Test()` (default options, so verdicts equal GAP's) in a fresh child of
//! one initialised GAP.
//!
//! Output: one line per file in input order (`ok`/`FAIL`, time), GAP's diff
//! under a failing file, then a closing line `N passed, N failed` alone on
//! its line (CI reads it), then `N skipped, N timed out`. Timed-out,
//! crashed and memory-stopped files count as failed. Exit 1 on any failure.

use super::script::start_gap;
use super::workers::{describe, progress, run_in_order, InOrder, PoolArgs};
use super::{GapArgs, EXIT_GAP_ERROR, EXIT_OK, EXIT_USAGE};
use clap::Args;
use gaprun::fork::{ForkPool, Task, TaskKind, TaskOutcome};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct TestArgs {
    #[command(flatten)]
    pub pool: PoolArgs,

    /// Skip test files whose path contains this text (repeatable).
    #[arg(long = "skip", value_name = "TEXT")]
    pub skip: Vec<String>,

    /// Test files, or folders searched recursively for `*.tst`.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
}

/// The test files named by `paths`: files as given, folders searched
/// recursively for `.tst` files in sorted order.
pub fn collect_test_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        if !meta.is_dir() {
            files.push(p.clone());
            continue;
        }
        for entry in walkdir::WalkDir::new(p).sort_by_file_name() {
            let entry = entry.map_err(|e| format!("cannot search {}: {e}", p.display()))?;
            if entry.file_type().is_file() && entry.path().extension().is_some_and(|x| x == "tst") {
                files.push(entry.into_path());
            }
        }
    }
    Ok(files)
}

/// Split `files` into those skipped by a `--skip` text and those to run.
pub fn split_skipped(files: Vec<PathBuf>, skip: &[String]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    // Bytes, not display text: a file name need not be UTF-8.
    files.into_iter().partition(|f| {
        let path = f.as_os_str().as_bytes();
        skip.iter().any(|pat| {
            let pat = pat.as_bytes();
            pat.is_empty() || path.windows(pat.len()).any(|w| w == pat)
        })
    })
}

/// Each file's size in bytes (0 when unreadable): the run order's weight.
pub fn file_sizes(files: &[PathBuf]) -> Vec<u64> {
    files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .collect()
}

/// The closing lines: `N passed, N failed` (alone on its line; CI reads
/// it), then `N skipped, N timed out`.
pub fn summary(passed: usize, failed: usize, skipped: usize, timed_out: usize) -> String {
    format!("{passed} passed, {failed} failed\n{skipped} skipped, {timed_out} timed out\n")
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// One result line with the path's bytes as they are (a file name need
/// not be UTF-8; `display()` would replace bytes with U+FFFD).
fn print_result_line(verdict: &str, path: &Path, rest: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(verdict.as_bytes());
    let _ = out.write_all(path.as_os_str().as_bytes());
    let _ = writeln!(out, "{rest}");
}

pub fn run(gap_args: &GapArgs, args: &TestArgs) -> i32 {
    let all = match collect_test_files(&args.paths) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("gaprun: {e}");
            return EXIT_USAGE;
        }
    };
    let (skipped, files) = split_skipped(all, &args.skip);
    // With --shard, files are split by size (the weight the run order uses).
    let sizes = file_sizes(&files);
    let shard = match args.pool.shard_run(&sizes) {
        Ok(shard) => shard,
        Err(code) => return code,
    };
    let gap = match start_gap(gap_args, args.pool.planned_workers(shard.indices().len())) {
        Ok(gap) => gap,
        Err(code) => return code,
    };
    // Larger files start first (size stands in for the number of tests), so
    // a long file does not start last and leave the other workers idle;
    // results are still printed in the order of `files`.
    let mut run_order: Vec<usize> = shard.indices().to_vec();
    run_order.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));
    let tasks: Vec<Task> = run_order
        .iter()
        .map(|&i| Task::new(TaskKind::Test(absolute(&files[i]))))
        .collect();
    let options = args.pool.options();
    let timeout = options.timeout;
    let pool = ForkPool::new(gap, options);
    let bar = progress(tasks.len());
    let order = InOrder::new(shard);
    let (mut passed, mut failed, mut timed_out) = (0usize, 0usize, 0usize);
    let show = |i: usize, r: &gaprun::fork::TaskResult| {
        let ms = r.wall.as_millis();
        bar.suspend(|| {
            if r.outcome.is_ok() {
                passed += 1;
                print_result_line("ok    ", &files[i], &format!(" ({ms} ms)"));
            } else {
                failed += 1;
                if r.outcome == TaskOutcome::Timeout {
                    timed_out += 1;
                }
                let why = format!(" ({ms} ms): {}", describe(r, timeout));
                print_result_line("FAIL  ", &files[i], &why);
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&r.stdout);
                if r.stdout.last().is_some_and(|&b| b != b'\n') {
                    let _ = out.write_all(b"\n");
                }
                drop(out);
                let _ = std::io::stderr().write_all(&r.stderr);
            }
        })
    };
    let outcome = run_in_order(&pool, &tasks, &args.pool, &run_order, order, &bar, show);
    if outcome.is_err() {
        if matches!(outcome, Err(gaprun::Error::Interrupted)) {
            println!("{passed} passed, {failed} failed");
        }
        return super::workers::batch_exit_code(&outcome, failed);
    }
    print!("{}", summary(passed, failed, skipped.len(), timed_out));
    if failed > 0 {
        EXIT_GAP_ERROR
    } else {
        EXIT_OK
    }
}
