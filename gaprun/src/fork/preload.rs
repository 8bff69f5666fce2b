//! Packages every task loads, loaded once in the parent before forking.
//!
//! Why: `LoadPackage` reads a package's files every time; a batch of 200
//! scripts that each start with `LoadPackage("smallgrp")` paid that 200
//! times, one fork each, while one load in the parent is inherited by every
//! worker through `fork` for free.
//!
//! The rule (documented in docs/fork-pool.md), chosen to be predictable and
//! to leave every task's output unchanged:
//! - a package is a candidate when **every** task names it in a
//!   `LoadPackage("name"…)` call with a literal name (found by a scan of the
//!   task's GAP text that skips comments and strings; test files: only
//!   their `gap> ` / `> ` input lines) — so a task that never loads it never
//!   sees it;
//! - a candidate is loaded in the parent only if loading it in a forked trial
//!   child returns `true` and prints nothing on stdout or stderr: then a
//!   task's own `LoadPackage` call, which finds it loaded, returns the same
//!   `true` and prints the same nothing (gaprun's GAP runs with `-q`, so
//!   `LoadPackage` never prints a banner).

use super::{ForkPool, Task, TaskKind, TaskOutcome};
use crate::error::Result;

/// The package names of the `LoadPackage("name"…)` calls in GAP source,
/// in order of appearance, each once (compared as GAP compares them:
/// case-insensitively). Calls in comments or strings, record components
/// (`r.LoadPackage(…)`) and names that are not literal are not counted.
pub fn loaded_packages(source: &str) -> Vec<String> {
    let tokens = tokens(source.as_bytes());
    let mut names: Vec<String> = Vec::new();
    for w in tokens.windows(3) {
        if let [Token::Ident {
            name,
            after_dot: false,
        }, Token::Punct(b'('), Token::Str(Some(pkg))] = w
        {
            if name == b"LoadPackage"
                && is_package_name(pkg)
                && !names.iter().any(|n| n.eq_ignore_ascii_case(pkg))
            {
                names.push(pkg.clone());
            }
        }
    }
    names
}

/// The input a GAP test file feeds to GAP: its `gap> ` and `> ` lines
/// without the prompts (everything else is expected output).
pub fn test_file_input(text: &str) -> String {
    let mut input = String::new();
    for line in text.lines() {
        if let Some(code) = line
            .strip_prefix("gap> ")
            .or_else(|| line.strip_prefix("> "))
            .or_else(|| (line == "gap>" || line == ">").then_some(""))
        {
            input.push_str(code);
            input.push('\n');
        }
    }
    input
}

/// The packages a task loads by name (none when its file cannot be read).
pub fn task_packages(task: &Task) -> Vec<String> {
    let read = |p: &std::path::Path| std::fs::read(p).ok().map(|b| lossy(&b));
    let source = match &task.kind {
        TaskKind::Code(code) => Some(code.clone()),
        TaskKind::File(path) => read(path),
        TaskKind::Test(path) => read(path).map(|t| test_file_input(&t)),
    };
    source.map_or_else(Vec::new, |s| loaded_packages(&s))
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The packages every one of `tasks` loads by name, in the order the first
/// task names them (empty for no tasks). Stops reading files as soon as no
/// package is common any more.
pub fn common_packages(tasks: &[Task]) -> Vec<String> {
    let Some((first, rest)) = tasks.split_first() else {
        return Vec::new();
    };
    let mut common = task_packages(first);
    for task in rest {
        if common.is_empty() {
            break;
        }
        let names = task_packages(task);
        common.retain(|c| names.iter().any(|n| n.eq_ignore_ascii_case(c)));
    }
    common
}

/// A name worth trying: what package names are made of.
fn is_package_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.+".contains(&b))
}

/// What the scan needs of GAP's tokens.
#[derive(Debug, PartialEq, Eq)]
enum Token {
    /// An identifier (or a number); `after_dot` when it follows `.` (a
    /// record component) or `!.`.
    Ident { name: Vec<u8>, after_dot: bool },
    /// A string literal: its text when it is plain (no escapes, UTF-8).
    Str(Option<String>),
    /// Any other character (whitespace and comments are dropped).
    Punct(u8),
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'@'
}

/// GAP's lexical structure, as far as telling code from comments and
/// strings goes: `#` comments to the end of the line, `"…"` strings with
/// backslash escapes, `"""…"""` strings, `'c'` characters, identifiers
/// (with backslash-escaped characters).
fn tokens(s: &[u8]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        match b {
            b'#' => {
                while i < s.len() && s[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' if s[i..].starts_with(b"\"\"\"") => {
                let body = i + 3;
                let end = s[body..]
                    .windows(3)
                    .position(|w| w == b"\"\"\"")
                    .map_or(s.len(), |p| body + p);
                out.push(Token::Str(None));
                i = (end + 3).min(s.len());
            }
            b'"' | b'\'' => {
                let mut j = i + 1;
                let mut plain = true;
                while j < s.len() && s[j] != b && s[j] != b'\n' {
                    if s[j] == b'\\' {
                        plain = false;
                        j += 1;
                    }
                    j += 1;
                }
                let body = &s[i + 1..j.min(s.len())];
                let closed = j < s.len() && s[j] == b;
                let text = if b == b'"' && plain && closed {
                    std::str::from_utf8(body).ok().map(str::to_string)
                } else {
                    None
                };
                out.push(if b == b'"' {
                    Token::Str(text)
                } else {
                    Token::Punct(b'\'')
                });
                i = j + 1;
            }
            _ if is_ident_byte(b) || b == b'\\' => {
                let after_dot = i > 0 && s[i - 1] == b'.';
                let mut name = Vec::new();
                while i < s.len() && (is_ident_byte(s[i]) || s[i] == b'\\') {
                    if s[i] == b'\\' {
                        i += 1;
                        if i < s.len() {
                            name.push(s[i]);
                        }
                    } else {
                        name.push(s[i]);
                    }
                    i += 1;
                }
                out.push(Token::Ident { name, after_dot });
            }
            _ if b.is_ascii_whitespace() => i += 1,
            _ => {
                out.push(Token::Punct(b));
                i += 1;
            }
        }
    }
    out
}

impl ForkPool<'_> {
    /// Load in this (parent) GAP the packages every one of `tasks` loads by
    /// name — those that load in a forked trial child silently and with
    /// `true` — so each worker inherits them instead of loading them again.
    /// Returns the names loaded. See the module's rule.
    pub fn preload_packages(&self, tasks: &[Task]) -> Result<Vec<String>> {
        let candidates: Vec<String> = common_packages(tasks)
            .into_iter()
            .filter(|name| !self.is_loaded(name))
            .collect();
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let trials: Vec<Task> = candidates
            .iter()
            .map(|name| Task::new(TaskKind::Code(load_call(name))))
            .collect();
        let results = self.run(&trials)?;
        let mut loaded = Vec::new();
        for (name, trial) in candidates.into_iter().zip(results) {
            let silent = trial.outcome == TaskOutcome::Ok
                && trial.view.as_deref() == Some(&b"true"[..])
                && trial.stdout.is_empty()
                && trial.stderr.is_empty();
            if !silent {
                continue;
            }
            // The parent's state is the trial's, so this load is silent too;
            // whatever it prints is kept out of the tasks' output anyway.
            let statements = self.gap.eval(&load_call(&name))?;
            if statements
                .last()
                .is_some_and(|s| s.view.as_deref() == Some("true"))
            {
                loaded.push(name);
            }
        }
        Ok(loaded)
    }
}

impl ForkPool<'_> {
    /// Whether GAP has the package loaded already (then there is nothing
    /// to preload; unknown counts as loaded).
    fn is_loaded(&self, name: &str) -> bool {
        let code = format!("IsPackageLoaded({});", super::gap_string_literal(name));
        self.gap.eval_as::<bool>(&code).unwrap_or(true)
    }
}

/// `LoadPackage("name");` (names are checked by `is_package_name`, so no
/// escaping is needed).
fn load_call(name: &str) -> String {
    format!("LoadPackage({});", super::gap_string_literal(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_literal_load_package_calls() {
        let cases: &[(&str, &[&str])] = &[
            ("LoadPackage(\"smallgrp\", false);;", &["smallgrp"]),
            (
                "LoadPackage ( \"io\" ) ; LoadPackage(\"GRAPE\");",
                &["io", "GRAPE"],
            ),
            ("LoadPackage(\"io\"); LoadPackage(\"IO\");", &["io"]),
            ("LoadPackage(\n  \"digraphs\", \">=1.0\");", &["digraphs"]),
            ("LoadPackage( # why\n \"io\");", &["io"]),
            // Not calls with a literal name:
            ("# LoadPackage(\"io\");", &[]),
            ("Print(\"LoadPackage(\\\"io\\\")\");", &[]),
            ("s := \"\"\"LoadPackage(\"io\")\"\"\";", &[]),
            ("r.LoadPackage(\"io\");", &[]),
            ("MyLoadPackage(\"io\");", &[]),
            ("LoadPackage2(\"io\");", &[]),
            ("LoadPackage(name);", &[]),
            ("LoadPackage(\"a\\\"b\");", &[]),
            ("LoadPackage(\"no spaces\");", &[]),
            ("c := '\"'; LoadPackage(\"io\");", &["io"]),
            ("LoadPackage(\"unterminated", &[]),
            ("", &[]),
        ];
        for (source, want) in cases {
            assert_eq!(loaded_packages(source), *want, "source: {source:?}");
        }
    }

    #[test]
    fn test_files_count_only_their_input() {
        let tst = "gap> LoadPackage(\"io\");\ntrue\ngap> f := function()\n> LoadPackage(\"grape\"); end;;\n\
                   LoadPackage(\"fr\")\ngap>\n";
        assert_eq!(loaded_packages(&test_file_input(tst)), ["io", "grape"]);
    }

    #[test]
    fn only_packages_every_task_loads_are_common() {
        let code = |s: &str| Task::new(TaskKind::Code(s.into()));
        let cases: &[(&[&str], &[&str])] = &[
            (&[], &[]),
            (&["LoadPackage(\"a\");LoadPackage(\"b\");"], &["a", "b"]),
            (
                &[
                    "LoadPackage(\"a\");LoadPackage(\"b\");",
                    "LoadPackage(\"B\");",
                ],
                &["b"],
            ),
            (&["LoadPackage(\"a\");", "1;", "LoadPackage(\"a\");"], &[]),
        ];
        for (sources, want) in cases {
            let tasks: Vec<Task> = sources.iter().map(|s| code(s)).collect();
            assert_eq!(common_packages(&tasks), *want, "tasks: {sources:?}");
        }
    }

    #[test]
    fn unreadable_files_load_nothing() {
        let task = Task::new(TaskKind::File("/nonexistent/gaprun/x.g".into()));
        assert!(task_packages(&task).is_empty());
    }
}
