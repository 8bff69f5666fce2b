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

use super::script::start_gap;
use super::workers::{progress, InOrder, PoolArgs};
use super::{GapArgs, EXIT_USAGE};
use clap::Args;
use gaprun::fork::{gap_string_literal, signal_name, ForkPool, Task, TaskKind, TaskResult};
use gaprun::size::parse_size;
use serde::{Deserialize, Serialize};
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

/// One input line.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct TaskLine {
    #[serde(default)]
    id: Option<Value>,
    code: Option<String>,
    file: Option<PathBuf>,
    test: Option<PathBuf>,
    #[serde(default)]
    vars: serde_json::Map<String, Value>,
    timeout: Option<f64>,
    memory_limit: Option<Value>,
}

/// One output line (the stable schema).
#[derive(Serialize, Debug)]
struct ResultLine<'a> {
    index: usize,
    line: usize,
    id: &'a Option<Value>,
    status: &'static str,
    exit_code: Option<i32>,
    signal: Option<String>,
    stdout: &'a str,
    stderr: &'a str,
    value: Option<&'a str>,
    error: Option<&'a str>,
    wall_ms: f64,
    cpu_ms: f64,
    peak_rss_kb: u64,
    output_truncated: bool,
}

/// A GAP expression for a JSON value: numbers, strings, booleans, `null`
/// (GAP's `fail`), arrays (lists) and objects (records).
pub fn json_to_gap(v: &Value) -> String {
    match v {
        Value::Null => "fail".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            if n.is_i64() || n.is_u64() {
                n.to_string()
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                let s = format!("{f:?}");
                // GAP's float literals need a `.` before an exponent.
                match s.split_once('e') {
                    Some((m, e)) if !m.contains('.') => format!("{m}.0e{e}"),
                    _ => s,
                }
            }
        }
        Value::String(s) => gap_string_literal(s),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(json_to_gap).collect();
            format!("[ {} ]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("({}) := {}", gap_string_literal(k), json_to_gap(v)))
                .collect();
            format!("rec( {} )", inner.join(", "))
        }
    }
}

pub(super) fn parse_line(text: &str) -> Result<(Option<Value>, Task), String> {
    let line: TaskLine = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let kind = match (line.code, line.file, line.test) {
        (Some(c), None, None) => TaskKind::Code(c),
        (None, Some(f), None) => TaskKind::File(f),
        (None, None, Some(t)) => TaskKind::Test(std::path::absolute(&t).unwrap_or(t)),
        _ => return Err("give exactly one of \"code\", \"file\", \"test\"".into()),
    };
    let timeout = match line.timeout {
        None => None,
        Some(s) if s > 0.0 && s.is_finite() => Some(Duration::from_secs_f64(s)),
        Some(s) => {
            return Err(format!(
                "\"timeout\" must be a positive number of seconds, not {s}"
            ))
        }
    };
    let memory_limit = match line.memory_limit {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .ok_or_else(|| format!("\"memory_limit\" {n} is not a byte count"))?,
        ),
        Some(Value::String(s)) => Some(parse_size(&s)?),
        Some(other) => return Err(format!("\"memory_limit\" {other} is not a size")),
    };
    let vars = line
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), json_to_gap(v)))
        .collect();
    Ok((
        line.id,
        Task {
            kind,
            vars,
            timeout,
            memory_limit,
        },
    ))
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
        match parse_line(text) {
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
    let gap = match start_gap(gap_args, args.pool.planned_workers()) {
        Ok(gap) => gap,
        Err(code) => return code,
    };
    let pool = ForkPool::new(&gap, args.pool.options());
    let bar = progress(tasks.len());
    let mut order = InOrder::new(shard);
    let mut failed = 0usize;
    let outcome = pool.run_with(&tasks, |index, result| {
        bar.inc(1);
        order.put(selected[index], result, |i, r: &TaskResult| {
            if !r.outcome.is_ok() {
                failed += 1;
            }
            let line = ResultLine {
                index: i,
                line: line_numbers[i],
                id: &ids[i],
                status: r.outcome.name(),
                exit_code: r.exit_code,
                signal: r.signal.map(signal_name),
                stdout: &r.stdout,
                stderr: &r.stderr,
                value: r.view.as_deref(),
                error: r.error.as_deref(),
                wall_ms: ms(r.wall),
                cpu_ms: ms(r.cpu),
                peak_rss_kb: r.peak_rss_kb,
                output_truncated: r.output_truncated,
            };
            bar.suspend(|| {
                let mut out = std::io::stdout().lock();
                let _ = serde_json::to_writer(&mut out, &line);
                let _ = out.write_all(b"\n");
                let _ = out.flush();
            });
        });
    });
    bar.finish_and_clear();
    super::workers::batch_exit_code(outcome, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_become_gap_expressions() {
        let v: Value =
            serde_json::from_str(r#"{"a b": [1, 2.5, 1e300, "x\"y", true, null]}"#).unwrap();
        assert_eq!(
            json_to_gap(&v),
            r#"rec( ("a b") := [ 1, 2.5, 1.0e300, "x\"y", true, fail ] )"#
        );
    }

    #[test]
    fn a_line_needs_exactly_one_kind() {
        assert!(parse_line(r#"{"code": "1;", "file": "x.g"}"#).is_err());
        assert!(parse_line(r#"{"cod": "1;"}"#).is_err());
        assert!(parse_line(r#"{"code": "1;", "timeout": -1}"#).is_err());
        let (_, t) =
            parse_line(r#"{"code": "1;", "memory_limit": "1m", "vars": {"n": 3}}"#).unwrap();
        assert_eq!(t.memory_limit, Some(1 << 20));
        assert_eq!(t.vars, vec![("n".to_string(), "3".to_string())]);
    }
}
