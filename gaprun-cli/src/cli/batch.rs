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

use super::options::check_readable_file;
use super::script::start_gap;
use super::workers::{progress, InOrder, PoolArgs};
use super::{GapArgs, EXIT_USAGE};
use clap::Args;
use gaprun::convert::check_json;
use gaprun::fork::{is_identifier, signal_name, ForkPool, Task, TaskKind, TaskResult};
use gaprun::json_text::{insert_text, value_bytes};
use gaprun::size::{check_size, parse_size, seconds, MAX_SIZE_TEXT};
use indicatif::ProgressBar;
use serde::Serialize;
use serde_json::Value;
use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::os::unix::ffi::OsStringExt;
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

/// The fields of one input line, each checked by `parse_line`.
#[derive(Default)]
struct TaskLine {
    id: Option<Value>,
    code: Option<String>,
    file: Option<PathBuf>,
    test: Option<PathBuf>,
    vars: Option<Value>,
    timeout: Option<Value>,
    memory_limit: Option<Value>,
}

const FIELDS: &str = "id, code, file, test, vars, timeout, memory_limit";

impl TaskLine {
    /// Sort a line's fields, so that every error names its field.
    fn from_object(map: serde_json::Map<String, Value>) -> Result<TaskLine, String> {
        let mut line = TaskLine::default();
        for (key, value) in map {
            match key.as_str() {
                "id" => line.id = Some(value),
                "code" => match value {
                    Value::String(code) => line.code = Some(code),
                    other => {
                        return Err(format!(
                            "\"code\" must be a string of GAP statements, not {}",
                            json_kind(&other)
                        ))
                    }
                },
                "file" => line.file = Some(path_field("file", &value)?),
                "test" => line.test = Some(path_field("test", &value)?),
                "vars" => line.vars = Some(value),
                "timeout" => line.timeout = Some(value),
                "memory_limit" => line.memory_limit = Some(value),
                other => return Err(format!("unknown field `{other}` (fields: {FIELDS})")),
            }
        }
        Ok(line)
    }
}

/// A path field: a JSON string, or `{"base64": "…"}` for a file name that
/// is not UTF-8 (paths are bytes; see `gaprun::json_text`).
fn path_field(field: &str, v: &Value) -> Result<PathBuf, String> {
    match value_bytes(v) {
        Some(Ok(bytes)) => Ok(PathBuf::from(OsString::from_vec(bytes))),
        Some(Err(e)) => Err(format!("\"{field}\": {e}")),
        None => Err(format!(
            "\"{field}\" must be a path (a string or {{\"base64\": …}}), not {}",
            json_kind(v)
        )),
    }
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

pub(super) fn parse_line(text: &str) -> Result<(Option<Value>, Task), String> {
    let json: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let Value::Object(map) = json else {
        return Err(format!("a task is a JSON object, not {}", json_kind(&json)));
    };
    let line = TaskLine::from_object(map)?;
    match &line.id {
        None | Some(Value::Null | Value::String(_) | Value::Number(_)) => {}
        Some(other) => {
            return Err(format!(
                "\"id\" must be a string or a number, not {}",
                json_kind(other)
            ))
        }
    }
    let kind = match (line.code, line.file, line.test) {
        (Some(c), None, None) => TaskKind::Code(c),
        (None, Some(f), None) => {
            // Checked up front, as `gaprun run` checks its files.
            check_readable_file(&f)?;
            TaskKind::File(f)
        }
        (None, None, Some(t)) => {
            check_readable_file(&t)?;
            TaskKind::Test(std::path::absolute(&t).unwrap_or(t))
        }
        _ => return Err("give exactly one of \"code\", \"file\", \"test\"".into()),
    };
    let timeout = match line.timeout {
        None | Some(Value::Null) => None,
        // A number beyond f64 (`1e999`) reads as no number at all.
        Some(Value::Number(n)) => Some(
            n.as_f64()
                .ok_or_else(|| format!("\"timeout\": timeout too large ({n})"))
                .and_then(|s| seconds(s).map_err(|why| format!("\"timeout\" {n}: {why}")))?,
        ),
        Some(other) => {
            return Err(format!(
                "\"timeout\" must be a number of seconds, not {other}"
            ))
        }
    };
    let memory_limit = match line.memory_limit {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => {
            let bytes = n.as_u64().ok_or_else(|| {
                format!(
                    "\"memory_limit\" {n} is not a byte count (a whole number, or e.g. \"512m\")"
                )
            })?;
            Some(check_size(bytes).ok_or_else(|| {
                format!("\"memory_limit\" {n} is too large (at most {MAX_SIZE_TEXT})")
            })?)
        }
        Some(Value::String(s)) => {
            Some(parse_size(&s).map_err(|e| format!("\"memory_limit\" {e}"))?)
        }
        Some(other) => return Err(format!("\"memory_limit\" {other} is not a size")),
    };
    let vars = match line.vars {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(map)) => {
            let mut vars = Vec::with_capacity(map.len());
            for (name, value) in map {
                if !is_identifier(&name) {
                    return Err(format!("\"vars\": `{name}` is not a GAP variable name"));
                }
                check_json(&value).map_err(|e| format!("\"vars\": `{name}`: {e}"))?;
                vars.push((name, value));
            }
            vars
        }
        Some(other) => {
            return Err(format!(
                "\"vars\" must be an object of name: value, not {}",
                json_kind(&other)
            ))
        }
    };
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

/// "an array", "a number" …: what a JSON value is, for error messages.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
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
    let gap = match start_gap(gap_args, args.pool.planned_workers(tasks.len())) {
        Ok(gap) => gap,
        Err(code) => return code,
    };
    let pool = ForkPool::new(&gap, args.pool.options());
    let bar = progress(tasks.len());
    let mut order = InOrder::new(shard);
    let mut failed = 0usize;
    let mut show = |i: usize, r: &TaskResult| {
        if !r.outcome.is_ok() {
            failed += 1;
        }
        print_result(&bar, line_numbers[i], &ids[i], i, r);
    };
    let outcome = pool.run_with(&tasks, |index, result| {
        bar.inc(1);
        order.put(selected[index], result, &mut show);
    });
    // A stopped batch still reports every task that finished.
    order.flush(&mut show);
    bar.finish_and_clear();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_needs_exactly_one_kind() {
        assert!(parse_line(r#"{"code": "1;", "file": "x.g"}"#).is_err());
        assert!(parse_line(r#"{"cod": "1;"}"#).is_err());
        assert!(parse_line(r#"{"code": "1;", "timeout": -1}"#).is_err());
        let (_, t) =
            parse_line(r#"{"code": "1;", "memory_limit": "1m", "vars": {"n": 3}}"#).unwrap();
        assert_eq!(t.memory_limit, Some(1 << 20));
        assert_eq!(t.vars, vec![("n".to_string(), serde_json::json!(3))]);
    }

    #[test]
    fn numbers_in_a_line_are_checked() {
        for bad in [
            r#"{"code": "1;", "timeout": 1e20}"#,
            r#"{"code": "1;", "timeout": 1e999}"#,
            r#"{"code": "1;", "timeout": "5"}"#,
            r#"{"code": "1;", "memory_limit": 18446744073709551615}"#,
            r#"{"code": "1;", "memory_limit": -1}"#,
            r#"{"code": "1;", "vars": {"x": -1e999}}"#,
        ] {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
        let (_, t) = parse_line(r#"{"code": "1;", "timeout": 2.5}"#).unwrap();
        assert_eq!(t.timeout, Some(Duration::from_millis(2500)));
    }

    proptest::proptest! {
        /// Any line, JSON or not, is a task or an error; never a panic.
        #[test]
        fn any_text_line_never_panics(text in ".{0,200}") {
            let _ = parse_line(&text);
        }

        /// Every field with number-like and odd values (the paths to
        /// overflow): a task or an error, never a panic.
        #[test]
        fn any_field_value_never_panics(
            field in "(id|code|file|test|vars|timeout|memory_limit|x)",
            value in "(-?[0-9]{1,30}(\\.[0-9]{1,5})?([eE][-+]?[0-9]{1,4})?|\"[0-9a-z]{0,6}\"|null|true|\\[\\]|\\{\\}|\\{\"[a-z0-9]{1,3}\": -?[0-9]{1,25}(e[0-9]{1,3})?\\}|\\{\"base64\": \"[A-Za-z0-9+/=!]{0,8}\"\\})",
        ) {
            let _ = parse_line(&format!("{{\"code\": \"1;\", \"{field}\": {value}}}"));
        }
    }
}
