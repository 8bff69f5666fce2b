//! `gaprun batch tasks.jsonl`: JSON lines in, JSON lines out, each task in a
//! fresh child of one initialised GAP. The schema is documented in the README
//! ("gaprun batch"); field names are stable.
//!
//! In, one object per line (blank lines skipped; unknown fields rejected):
//! `{"id": any, "code": "..."}` or `"file": PATH` or `"test": PATH`, plus
//! optional `"vars": {name: json value}`, `"timeout": seconds`,
//! `"memory_limit": bytes or "512m"`.
//!
//! Out, one object per task in input order: `index`, `line`, `id`,
//! `status`, `exit_code`, `signal`, `stdout`, `stderr`, `value`, `error`,
//! `wall_ms`, `cpu_ms`, `peak_rss_kb`, `output_truncated`.
//!
//! Parsing one line is in `line.rs` (pure, so that it can be fuzzed alone).

pub(super) mod line;

use super::options::check_readable_file;
use super::script::start_gap;
use super::workers::{progress, run_in_order, InOrder, PoolArgs};
use super::{GapArgs, EXIT_USAGE};
use clap::Args;
use gaprun::fork::{signal_name, ForkPool, TaskResult};
use gaprun::json_text::insert_text;
use indicatif::ProgressBar;
use serde::Serialize;
use serde_json::Value;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct BatchArgs {
    #[command(flatten)]
    pub pool: PoolArgs,

    /// JSON-lines task file (`-` for standard input).
    #[arg(value_name = "TASKS.jsonl")]
    pub tasks: PathBuf,
}

/// One output line (the stable schema); the text fields `stdout`, `stderr`
/// and `value` are added through `json_text` (bytes that are not UTF-8 get a
/// `<field>_base64` sibling).
#[derive(Serialize, Debug)]
struct ResultLine<'a> {
    index: usize,
    line: usize,
    id: &'a Option<Value>,
    status: &'static str,
    exit_code: Option<i32>,
    signal: Option<String>,
    error: Option<&'a str>,
    wall_ms: f64,
    cpu_ms: f64,
    peak_rss_kb: u64,
    output_truncated: bool,
}

pub(super) fn read_input(path: &PathBuf) -> std::io::Result<Vec<String>> {
    if path.as_os_str() == "-" {
        std::io::stdin().lock().lines().collect()
    } else {
        std::io::BufReader::new(std::fs::File::open(path)?)
            .lines()
            .collect()
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

pub fn run(gap_args: &GapArgs, args: &BatchArgs) -> i32 {
    let lines = match read_input(&args.tasks) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("gaprun: cannot read {}: {e}", args.tasks.display());
            return EXIT_USAGE;
        }
    };
    // Check every line before paying for GAP's start-up.
    let mut ids = Vec::new();
    let mut line_numbers = Vec::new();
    let mut tasks = Vec::new();
    for (n, text) in lines.iter().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        match line::parse_line(text, check_readable_file) {
            Ok((id, task)) => {
                ids.push(id);
                line_numbers.push(n + 1);
                tasks.push(task);
            }
            Err(e) => {
                eprintln!("gaprun: {}:{}: {e}", args.tasks.display(), n + 1);
                return EXIT_USAGE;
            }
        }
    }
    let shard = match args.pool.shard_run(&vec![1; tasks.len()]) {
        Ok(shard) => shard,
        Err(code) => return code,
    };
    let (selected, tasks) = (shard.indices().to_vec(), shard.pick(tasks));
    let gap = match start_gap(gap_args, args.pool.planned_workers(tasks.len())) {
        Ok(gap) => gap,
        Err(code) => return code,
    };
    let pool = ForkPool::new(gap, args.pool.options());
    let bar = progress(tasks.len());
    let order = InOrder::new(shard);
    let mut failed = 0usize;
    let show = |i: usize, r: &TaskResult| {
        if !r.outcome.is_ok() {
            failed += 1;
        }
        print_result(&bar, line_numbers[i], &ids[i], i, r);
    };
    let outcome = run_in_order(&pool, &tasks, &args.pool, &selected, order, &bar, show);
    super::workers::batch_exit_code(&outcome, failed)
}

/// Print one result line.
fn print_result(bar: &ProgressBar, line: usize, id: &Option<Value>, index: usize, r: &TaskResult) {
    let line = ResultLine {
        index,
        line,
        id,
        status: r.outcome.name(),
        exit_code: r.exit_code,
        signal: r.signal.map(signal_name),
        error: r.error.as_deref(),
        wall_ms: ms(r.wall),
        cpu_ms: ms(r.cpu),
        peak_rss_kb: r.peak_rss_kb,
        output_truncated: r.output_truncated,
    };
    let mut object = match serde_json::to_value(&line) {
        Ok(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    insert_text(&mut object, "stdout", &r.stdout);
    insert_text(&mut object, "stderr", &r.stderr);
    match &r.view {
        Some(v) => insert_text(&mut object, "value", v),
        None => {
            object.insert("value".into(), Value::Null);
        }
    }
    bar.suspend(|| {
        let mut out = std::io::stdout().lock();
        let _ = serde_json::to_writer(&mut out, &object);
        let _ = out.write_all(b"\n");
        let _ = out.flush();
    });
}
