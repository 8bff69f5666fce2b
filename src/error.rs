//! One error type for everything gaprun reports: GAP's own errors (with
//! GAP's text), misuse of the runtime, failed conversions and set-up.

use std::fmt;

/// An error raised inside GAP, as GAP printed it.
#[derive(Clone, PartialEq, Eq)]
pub struct GapError {
    /// GAP's whole message, without its leading `Error, ` and without the
    /// traceback (it may span lines, e.g. GAP's memory-limit message;
    /// captured without GAP's 80-column line breaks).
    pub message: String,
    /// Everything GAP printed for this error: message and traceback.
    pub text: String,
    /// File (or stream) and line GAP named, when it named one.
    pub location: Option<(String, u32)>,
}

impl GapError {
    /// Build from the text GAP printed on its error stream.
    pub fn from_gap_text(text: &str) -> GapError {
        let text = text.trim_end_matches('\n').to_string();
        let body = text.strip_prefix("Error, ").unwrap_or(&text);
        let message = if text.starts_with("Syntax error") {
            // GAP's syntax errors: the message line, then the source line
            // and a caret.
            body.lines().next().unwrap_or("")
        } else {
            // GAP's ErrorInner prints the message, then (traceback on)
            // " in\n  STATEMENT" or " at FILE:LINE called from", or a line
            // "not in any function ...": the message ends at the first.
            let end = [" in\n", " called from", "\nnot in any function"]
                .iter()
                .filter_map(|m| body.find(m))
                .min()
                .unwrap_or(body.len());
            let msg = &body[..end];
            // " at FILE:LINE" before " called from" is the location
            match msg.rfind(" at ") {
                Some(at) if end < body.len() && find_location(&msg[at..]).is_some() => &msg[..at],
                _ => msg,
            }
        }
        .trim_end()
        .to_string();
        let message = if message.is_empty() {
            "GAP raised an error without a message".to_string()
        } else {
            message
        };
        GapError {
            location: find_location(&text),
            message,
            text,
        }
    }
}

/// The first ` at FILE:LINE` GAP printed.
fn find_location(text: &str) -> Option<(String, u32)> {
    // Syntax errors: "Syntax error: ; expected in FILE:LINE".
    if let Some(first) = text.lines().next() {
        if first.starts_with("Syntax error") {
            if let Some((_, tail)) = first.rsplit_once(" in ") {
                if let Some((file, num)) = tail.rsplit_once(':') {
                    if let Ok(n) = num.trim().parse::<u32>() {
                        return Some((file.to_string(), n));
                    }
                }
            }
        }
    }
    for line in text.lines() {
        let mut rest = line;
        while let Some(pos) = rest.find(" at ") {
            let candidate = &rest[pos + 4..];
            let candidate = candidate.split(" called from").next().unwrap_or(candidate);
            if let Some((file, num)) = candidate.trim_end().rsplit_once(':') {
                if let Ok(n) = num.trim().parse::<u32>() {
                    if !file.is_empty() {
                        return Some((file.to_string(), n));
                    }
                }
            }
            rest = &rest[pos + 4..];
        }
    }
    None
}

impl fmt::Display for GapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some((file, line)) = &self.location {
            write!(f, " (at {file}:{line})")?;
        }
        Ok(())
    }
}

impl fmt::Debug for GapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GapError")
            .field("message", &self.message)
            .field("location", &self.location)
            .finish()
    }
}

/// Everything that can go wrong in gaprun.
///
/// `#[non_exhaustive]`: match it with a `_` arm, new kinds may be added.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// GAP raised an error (syntax or runtime); GAP stays usable.
    #[error("GAP error: {0}")]
    Gap(GapError),
    /// A computation was interrupted (Ctrl-C, a deadline, an
    /// [`InterruptHandle`](crate::interrupt::InterruptHandle)); GAP stays
    /// usable. Recognised by where GAP raised it, not by its message.
    #[error("interrupted")]
    Interrupted,
    /// GAP reached its pre-set memory limit (`-o`, `GapOptions::warn_limit`)
    /// and stopped the computation; GAP stays usable. (At the hard limit,
    /// `-K`, GAP ends the whole process instead: that cannot be caught.)
    #[error("GAP reached its memory limit (-o)")]
    MemoryLimit,
    /// GAP quit: `QUIT;`, `QuitGap(n)` / `QUIT_GAP(n)`; `code` is the exit
    /// code GAP would exit with. GAP's quit flags are reset, so GAP stays
    /// usable and the caller decides whether to exit.
    #[error("GAP quit with exit code {code}")]
    Quit { code: i32 },
    /// GAP is initialised once per process; this asked for something else.
    #[error("GAP is already initialised in this process: {0}")]
    AlreadyInitialized(String),
    /// GAP may only be used from the thread that initialised it.
    #[error("GAP was initialised on another thread and may only be used there")]
    WrongThread,
    /// GAP could not be set up (missing root, bad option, package failed).
    #[error("GAP setup: {0}")]
    Setup(String),
    /// A value could not be converted between GAP and Rust.
    #[error("conversion: {0}")]
    Conversion(String),
    /// An argument was not acceptable (e.g. a string with a NUL byte).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Forking was refused: GAP may only be forked while the process has
    /// a single thread (a child inherits only the forking thread, so locks
    /// other threads held would never be released in it).
    #[error("refusing to fork: this process has {0} threads, but GAP may only be forked while the initialising thread is the only one")]
    MultipleThreads(usize),
    /// Forking or talking to a worker process failed.
    #[error("worker: {0}")]
    Worker(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Short for `Result<T, gaprun::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_message_and_location() {
        let e = GapError::from_gap_text(
            "Error, Rational operations: <divisor> must not be zero in\n  1 / 0 at /tmp/t.g:2 called from \n",
        );
        assert_eq!(e.message, "Rational operations: <divisor> must not be zero");
        assert_eq!(e.location, Some(("/tmp/t.g".to_string(), 2)));
    }

    #[test]
    fn parses_not_in_any_function() {
        let e = GapError::from_gap_text(
            "Error, Variable: 'x' must have a value\nnot in any function at stream:1\n",
        );
        assert_eq!(e.message, "Variable: 'x' must have a value");
        assert_eq!(e.location, Some(("stream".to_string(), 1)));
    }

    #[test]
    fn parses_syntax_error_location() {
        let e = GapError::from_gap_text("Syntax error: ; expected in stream:1\nx := ;\n     ^\n");
        assert_eq!(e.message, "Syntax error: ; expected in stream:1");
        assert_eq!(e.location, Some(("stream".to_string(), 1)));
    }

    #[test]
    fn keeps_multi_line_message_and_drops_location() {
        let e = GapError::from_gap_text(
            "Error, reached the pre-set memory limit\n(change it with the -o command line option) in\n  Add( l, 1 ); at stream:1 called from \n",
        );
        assert_eq!(
            e.message,
            "reached the pre-set memory limit\n(change it with the -o command line option)"
        );
        let e = GapError::from_gap_text(
            "Error, a at stream:2 called from\nnot in any function at stream:2\n",
        );
        assert_eq!(e.message, "a");
        assert_eq!(e.location, Some(("stream".to_string(), 2)));
    }

    #[test]
    fn empty_text_still_has_a_message() {
        let e = GapError::from_gap_text("");
        assert!(!e.message.is_empty());
        assert_eq!(e.location, None);
    }
}
