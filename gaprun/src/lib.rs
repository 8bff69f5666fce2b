//! gaprun: run GAP (the computer algebra system, through libgap) from Rust.
//! The `gaprun` command is the separate `gaprun-cli` crate.
//!
//! The crate is laid out by concern:
//! - [`sys`]: the `gap-sys` crate, re-exported: committed raw bindings to
//!   libgap and to the C shim (the only code that enters GAP, so GAP's
//!   `longjmp` never crosses Rust), and the facts of the build;
//! - `raw` (private): shim statuses → `Result`, GAP's error text, string
//!   bytes and view strings of raw objects;
//! - [`token`]: [`Gap`], the `Copy` token for the GAP thread;
//! - [`obj`]: rooted handles ([`GapObj`]) and the calls that make them;
//! - [`convert`]: Rust ↔ GAP conversions, GAP → JSON;
//! - [`ops`]: typed calls and GAP's operations on handles;
//! - [`interrupt`], [`memory`]: deadlines and interrupts, GASMAN's numbers;
//! - [`runtime`]: one initialisation per process, options → GAP's argv,
//!   evaluation;
//! - [`start`]: the fast start ([`Gap::builder`]): pool policy and
//!   workspace cache applied before GAP starts;
//! - [`session`]: pieces of the REPL, transcripts and the session server;
//! - [`fork`]: tasks in children forked from a ready GAP;
//! - [`pool`]: the memory pool policy (pure: machine facts → GAP flags);
//! - [`workspace`]: the saved-workspace cache (fast start-up);
//! - [`error`]: one error type.
//!
//! Modules import only downward, so the imports form no cycle (`a ← b`:
//! `b` uses `a`):
//!
//! ```text
//! raw, token ← obj ← convert ← ops ← runtime ← session, fork, start (also pool, workspace)
//! raw, token ← interrupt;  ops ← memory
//! ```
//!
//! # Example
//!
//! Start GAP once, compute, convert the results to Rust types; GAP's errors
//! come back as values and leave GAP usable:
//!
//! ```
//! use gaprun::{Error, Gap, GapOptions};
//!
//! let gap = Gap::init(GapOptions { autoload: false, ..Default::default() })?;
//! let g = gap.eval_value("AlternatingGroup(5)")?;
//! assert_eq!(gap.call_fn::<i64>("Size", (&g,))?, 60);
//! assert!(!gap.call_fn::<bool>("IsSolvable", (&g,))?);
//! let classes: Vec<i64> = gap.eval_as("List(ConjugacyClasses(AlternatingGroup(5)), Size)")?;
//! assert_eq!(classes.iter().sum::<i64>(), 60);
//! match gap.eval_value("Size(1/0)") {
//!     Err(Error::Gap(e)) => assert!(e.message.contains("must not be zero")),
//!     other => panic!("expected GAP's error, got {other:?}"),
//! }
//! assert_eq!(gap.eval_as::<i64>("2^10")?, 1024);
//! # Ok::<(), gaprun::Error>(())
//! ```
//!
//! # Threads
//!
//! GAP is initialised once per process and may only be used from the
//! thread that initialised it. The types enforce that: [`Gap`] and every
//! [`GapObj`] are neither `Send` nor `Sync`, so neither can be moved nor
//! shared to another thread (these examples must not compile):
//!
//! ```compile_fail,E0277
//! fn send<T: Send>() {}
//! send::<gaprun::Gap<'static>>();
//! ```
//!
//! ```compile_fail,E0277
//! fn sync<T: Sync>() {}
//! sync::<gaprun::Gap<'static>>();
//! ```
//!
//! ```compile_fail,E0277
//! fn send<T: Send>() {}
//! send::<gaprun::GapObj<'static>>();
//! ```
//!
//! ```compile_fail,E0277
//! fn sync<T: Sync>() {}
//! sync::<gaprun::GapObj<'static>>();
//! ```
//!
//! The one thing other threads get is an [`InterruptHandle`] (`Send +
//! Sync`, checked at compile time in [`interrupt`]), which stops the
//! running computation.

#![deny(clippy::undocumented_unsafe_blocks, unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod convert;
pub mod error;
pub mod fork;
pub mod interrupt;
pub mod json_text;
pub mod memory;
pub mod obj;
pub mod ops;
pub mod pool;
mod raw;
pub mod runtime;
pub mod session;
pub mod shard;
pub mod size;
pub mod start;
pub mod token;
#[cfg(feature = "workspace")]
pub mod workspace;

pub use gap_sys as sys;
/// Re-exported: [`num_bigint::BigInt`] converts to and from GAP integers
/// exactly, and with it a program needs no dependency of its own.
pub use num_bigint;
/// Re-exported for the [`BigRational`](num_rational::BigRational)
/// conversions (feature `bigint`).
#[cfg(feature = "bigint")]
pub use num_rational;

pub use convert::{ByteString, FromGap, IntoGap, JsonForm, Kind, Permutation, ViewString};
pub use error::{Error, GapError, Result};
pub use interrupt::InterruptHandle;
pub use obj::GapObj;
pub use ops::IntoGapArgs;
pub use runtime::{Gap, GapOptions, LoopMode, LoopReport, Statement};
pub use start::GapBuilder;

/// The README's code blocks, compiled and run as doc-tests: its Rust
/// example must work as written.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
