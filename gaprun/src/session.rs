//! Pieces shared by the scripted-session front ends (REPL, transcripts,
//! session server): where a GAP statement ends, interrupting a running
//! computation from a signal, running a block exactly as GAP's `Test()`
//! does. (The JSON form of values is [`GapObj::to_exact_json`].)

use crate::error::{Error, Result};
use crate::obj::GapObj;
use crate::raw::string_bytes;
use crate::runtime::Gap;

/// What the scanner saw last that matters for completeness.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    Nothing,
    Semicolon,
    Other,
}

/// Whether `src` ends with a complete GAP statement: a `;` outside strings
/// and comments, with every `if/fi`, `do/od`, `function/end`,
/// `repeat/until` and bracket closed.
///
/// The REPL uses it to decide between GAP's `gap> ` and `> ` prompts, and
/// `record` to cut a script into test blocks, without running anything: a
/// lexical scan is enough because GAP only executes a top-level statement
/// once its closing `;` has been read. Unbalanced closers count as complete
/// so that GAP itself reports the syntax error instead of waiting forever.
pub fn is_complete(src: &str) -> bool {
    let b = src.as_bytes();
    let mut depth: i64 = 0;
    let mut last = Last::Nothing;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                if b[i..].starts_with(b"\"\"\"") {
                    match src[i + 3..].find("\"\"\"") {
                        Some(end) => i += 3 + end + 3,
                        None => return false,
                    }
                } else {
                    i += 1;
                    loop {
                        match b.get(i) {
                            None => return false,
                            Some(b'\\') => i += 2,
                            Some(b'"') => {
                                i += 1;
                                break;
                            }
                            Some(_) => i += 1,
                        }
                    }
                }
                last = Last::Other;
                continue;
            }
            b'\'' => {
                i += 1;
                loop {
                    match b.get(i) {
                        None => return false,
                        Some(b'\\') => i += 2,
                        Some(b'\'') => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
                last = Last::Other;
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b';' => {
                last = Last::Semicolon;
                i += 1;
                continue;
            }
            c if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'@' || c == b'$' || c == b'\\' => {
                let start = i;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'@' | b'$' | b'\\'))
                {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                let i_end = i.min(b.len());
                // A component name after `.` is never a keyword (`r.do`).
                let after_dot = start > 0 && b[start - 1] == b'.' && !b[..start].ends_with(b"..");
                if !after_dot {
                    match &b[start..i_end] {
                        b"if" | b"do" | b"function" | b"repeat" => depth += 1,
                        b"fi" | b"od" | b"end" | b"until" => depth -= 1,
                        _ => {}
                    }
                }
                last = Last::Other;
                continue;
            }
            _ => {}
        }
        last = Last::Other;
        i += 1;
    }
    depth < 0 || (depth == 0 && last == Last::Semicolon)
}

/// Whether a line holds nothing for GAP (blank, or only a comment).
pub fn is_blank_line(line: &str) -> bool {
    let t = line.trim_start();
    t.is_empty() || t.starts_with('#')
}

/// Cut a script into blocks of whole lines, each ending where a statement
/// ends at the end of a line (GAP test files pair such blocks with their
/// output). Blank and comment-only lines before a block are left out; an
/// unfinished tail becomes a last block of its own.
pub fn blocks(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in src.lines() {
        if cur.is_empty() && is_blank_line(line) {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if is_complete(&cur) {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

/// Format one block and its output in GAP's test-file format.
pub fn transcript_entry(block: &str, output: &str) -> String {
    let mut s = String::new();
    for (n, line) in block.lines().enumerate() {
        s.push_str(if n == 0 { "gap> " } else { "> " });
        s.push_str(line);
        s.push('\n');
    }
    s.push_str(output);
    if !output.is_empty() && !output.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// GAP code for the helpers below, defined once per process.
const HELPERS: &str = r#"
if not IsBound(GAPRUN_RECORD_BLOCK) then
BindGlobal("GAPRUN_RECORD_BLOCK", function(inp)
  local s, res, fres, tb, boe;
  tb := AlwaysPrintTracebackOnError;
  boe := BreakOnError;
  AlwaysPrintTracebackOnError := false;
  BreakOnError := false;
  s := InputTextString(inp);
  res := "";
  fres := OutputTextString(res, false);
  READ_STREAM_LOOP(s, fres, false);
  CloseStream(fres);
  CloseStream(s);
  AlwaysPrintTracebackOnError := tb;
  BreakOnError := boe;
  return res;
end);
fi;
"#;

fn helper<'g>(gap: Gap<'g>, name: &str) -> Result<GapObj<'g>> {
    if let Some(f) = gap.global(name)? {
        return Ok(f);
    }
    for st in gap.eval(HELPERS)? {
        if let Some(e) = st.error {
            return Err(Error::Gap(e));
        }
    }
    gap.global(name)?
        .ok_or_else(|| Error::Setup(format!("gaprun's GAP helper {name} is not defined")))
}

/// The bytes of a GAP string as Rust text (`None` if it is not a string).
pub fn string_value(obj: &GapObj<'_>) -> Option<String> {
    string_bytes(obj.raw()).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Run `block` the way GAP's `Test()` runs one input of a test file
/// (`READ_STREAM_LOOP` with the output and error messages in one string,
/// no break loop, no traceback) and return what it printed. Needs GAP's
/// error messages going to `*errout*` (the command line's setting), which
/// `READ_STREAM_LOOP` folds into its output.
pub fn run_block_like_test(gap: Gap<'_>, block: &str) -> Result<String> {
    let func = helper(gap, "GAPRUN_RECORD_BLOCK")?;
    let arg = gap.string(block)?;
    let res = gap.call(&func, &[&arg])?;
    Ok(res.as_ref().and_then(string_value).unwrap_or_default())
}

/// Names of GAP's global variables (for tab completion).
pub fn global_names(gap: Gap<'_>) -> Vec<String> {
    let names = gap
        .eval_value("JoinStringsWithSeparator(NamesGVars(), \"\\n\");")
        .ok()
        .and_then(|o| string_value(&o));
    let mut v: Vec<String> = names
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completeness() {
        assert!(is_complete("1+1;"));
        assert!(is_complete("x := 3;; "));
        assert!(is_complete("1;\n# comment\n"));
        assert!(!is_complete("1+1"));
        assert!(!is_complete(""));
        assert!(!is_complete("for i in [1..3] do Print(i);"));
        assert!(is_complete("for i in [1..3] do Print(i); od;"));
        assert!(!is_complete("f := function(x) return x; "));
        assert!(is_complete("f := function(x) return x; end;"));
        assert!(!is_complete("Print(\"a;\";"));
        assert!(!is_complete("Print(\"a;"));
        assert!(is_complete("Print(\"a\\\";\");"));
        assert!(!is_complete("Print(1, # );\n"));
        assert!(is_complete("c := ';';"));
        assert!(!is_complete("repeat x := x + 1;"));
        assert!(is_complete("repeat x := x + 1; until x > 3;"));
        assert!(is_complete("r.do := 1;"));
        assert!(!is_complete("s := \"\"\"a;\nb;"));
        assert!(is_complete("s := \"\"\"a;\nb\"\"\";"));
        assert!(is_complete("if true then 1; else 2; fi;"));
        assert!(is_complete("fi;"));
        assert!(is_complete("[1..3];"));
    }

    #[test]
    fn cuts_blocks_at_line_ends() {
        let b = blocks("# head\n1;\n\nfor i in [1..2] do\n  Print(i);\nod;\n2; 3;\nx");
        assert_eq!(
            b,
            vec![
                "1;\n",
                "for i in [1..2] do\n  Print(i);\nod;\n",
                "2; 3;\n",
                "x\n"
            ]
        );
    }

    #[test]
    fn transcript_format() {
        assert_eq!(
            transcript_entry("for i in [1..2] do\nPrint(i);\nod;\n", "12"),
            "gap> for i in [1..2] do\n> Print(i);\n> od;\n12\n"
        );
    }
}
