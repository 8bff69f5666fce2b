//! `gaprun` on a terminal: an interactive session that feels like GAP's
//! own — `gap> ` and `> ` prompts, values shown as GAP's REPL shows them
//! (`;;` suppresses), `last`, errors printed without a break loop, Ctrl-C
//! interrupting the running computation, line editing, persistent history
//! and completion of global names (rustyline).

use super::{EXIT_OK, EXIT_USAGE};
use gaprun::session::{self, is_blank_line, is_complete};
use gaprun::{Gap, LoopMode};
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::{DefaultHistory, History};
use rustyline::validate::Validator;
use rustyline::{Config, Context, Editor, Helper};
use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the history lives: `$GAPRUN_HISTORY`, else `history` in the
/// user's data folder (XDG on Linux), so it survives across sessions.
pub fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("GAPRUN_HISTORY") {
        return Some(PathBuf::from(p));
    }
    directories::ProjectDirs::from("org", "gaprun", "gaprun").map(|d| d.data_dir().join("history"))
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'@' || b == b'$'
}

/// Tab completion of GAP's global names.
struct GapHelper {
    names: RefCell<Vec<String>>,
}

impl GapHelper {
    /// Remember globals the user assigns (`name := ...`), so they complete
    /// too without asking GAP for all names after every statement.
    fn learn(&self, code: &str) {
        let b = code.as_bytes();
        let mut names = self.names.borrow_mut();
        for (pos, _) in code.match_indices(":=") {
            let mut end = pos;
            while end > 0 && b[end - 1] == b' ' {
                end -= 1;
            }
            let mut start = end;
            while start > 0 && is_ident_byte(b[start - 1]) {
                start -= 1;
            }
            if start < end && (start == 0 || b[start - 1] != b'.') {
                let name = &code[start..end];
                if let Err(at) = names.binary_search_by(|n| n.as_str().cmp(name)) {
                    names.insert(at, name.to_string());
                }
            }
        }
    }
}

impl Completer for GapHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let b = line.as_bytes();
        let mut start = pos;
        while start > 0 && is_ident_byte(b[start - 1]) {
            start -= 1;
        }
        let prefix = &line[start..pos];
        if prefix.is_empty() {
            return Ok((pos, Vec::new()));
        }
        let names = self.names.borrow();
        let first = names.partition_point(|n| n.as_str() < prefix);
        let found = names[first..]
            .iter()
            .take_while(|n| n.starts_with(prefix))
            .take(500)
            .cloned()
            .collect();
        Ok((start, found))
    }
}

impl Hinter for GapHelper {
    type Hint = String;
}
impl Highlighter for GapHelper {}
impl Validator for GapHelper {}
impl Helper for GapHelper {}

/// Run the interactive session; returns the exit code.
pub fn run(gap: Gap<'_>, record: Option<&Path>) -> i32 {
    if let Err(e) = gaprun::interrupt::install_interrupt_on(libc::SIGINT) {
        eprintln!("gaprun: cannot install the Ctrl-C handler: {e}");
        return EXIT_USAGE;
    }
    let mut transcript = match record {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("gaprun: cannot write {}: {e}", path.display());
                return EXIT_USAGE;
            }
        },
        None => None,
    };
    // Tab lists the candidates, as in GAP.
    let config = Config::builder()
        .auto_add_history(false)
        .completion_type(rustyline::CompletionType::List)
        .build();
    let mut rl: Editor<GapHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(rl) => rl,
        Err(e) => {
            eprintln!("gaprun: cannot start line editing: {e}");
            return EXIT_USAGE;
        }
    };
    rl.set_helper(Some(GapHelper {
        names: RefCell::new(session::global_names(gap)),
    }));
    let history = history_path();
    if let Some(h) = &history {
        // A missing history file is the normal first run.
        let _ = rl.load_history(h);
    }
    let mode = LoopMode {
        echo: true,
        stop_on_error: false,
        break_output: false,
    };
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() { "gap> " } else { "> " };
        match rl.readline(prompt) {
            Ok(line) => {
                if buffer.is_empty() && is_blank_line(&line) {
                    continue;
                }
                buffer.push_str(&line);
                buffer.push('\n');
                // `?topic` (a line starting with `?`) asks GAP's help
                // system; GAP's reader takes the rest of the line as the
                // topic, no `;` needed.
                if !is_help_request(&buffer) && !is_complete(&buffer) {
                    continue;
                }
            }
            Err(ReadlineError::Interrupted) => {
                // Ctrl-C at the prompt drops the unfinished statement.
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => {
                println!();
                return EXIT_OK;
            }
            Err(e) => {
                eprintln!("gaprun: cannot read the terminal: {e}");
                return EXIT_USAGE;
            }
        }
        let code = std::mem::take(&mut buffer);
        let entry = code.trim_end();
        let _ = rl.history_mut().add(entry);
        if let Some(h) = &history {
            if let Some(dir) = h.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Err(e) = rl.save_history(h) {
                eprintln!("gaprun: cannot save history to {}: {e}", h.display());
            }
        }
        if let Some(helper) = rl.helper() {
            helper.learn(&code);
        }
        let _ = gap.clear_interrupt();
        if let Some(file) = transcript.as_mut() {
            match session::run_block_like_test(gap, &code) {
                Ok(out) => {
                    print!("{out}");
                    // Keep output without a final newline visible (the
                    // prompt would overdraw it) and warn, as `record` does:
                    // the transcript has to end the line.
                    if !out.is_empty() && !out.ends_with('\n') {
                        println!();
                        super::record::warn_if_no_final_newline(&code, &out);
                    }
                    let _ = std::io::stdout().flush();
                    let _ = file
                        .write_all(session::transcript_entry(&code, &out).as_bytes())
                        .and_then(|_| file.flush());
                    if is_quit(&code) {
                        return EXIT_OK;
                    }
                }
                Err(e) => eprintln!("gaprun: {e}"),
            }
            continue;
        }
        let result = gap.run_string(&code, mode);
        // Output that does not end in a newline (`Print(1);`) would be
        // overdrawn by the next prompt: end its line first.
        if gaprun::runtime::stdout_mid_line() {
            println!();
        }
        match result {
            Ok(report) => {
                if let Some(code) = report.quit_code {
                    return code;
                }
                if report.quit {
                    return EXIT_OK;
                }
            }
            Err(e) => eprintln!("gaprun: {e}"),
        }
        let _ = std::io::stdout().flush();
    }
}

/// A help request: the (first) line starts with `?`.
fn is_help_request(code: &str) -> bool {
    code.trim_start().starts_with('?')
}

/// `quit;` (or `QUIT;`) as a statement of its own, which ends a recorded
/// session (the test-style runner swallows it).
fn is_quit(code: &str) -> bool {
    code.split(';')
        .map(str::trim)
        .any(|s| s == "quit" || s == "QUIT")
}
