//! gaprun: run GAP (the computer algebra system, through libgap) from Rust.
//! The `gaprun` command is the separate `gaprun-cli` crate.
//!
//! The crate is laid out by concern:
//! - [`sys`]: the `gap-sys` crate, re-exported: committed raw bindings to
//!   libgap and to the C shim (the only code that enters GAP, so GAP's
//!   `longjmp` never crosses Rust), and the facts of the build;
//! - [`runtime`]: one initialisation per process, options → GAP's argv;
//! - [`start`]: the fast start ([`Gap::builder`]): pool policy and
//!   workspace cache applied before GAP starts;
//! - [`obj`]: rooted handles to GAP objects;
//! - [`pool`]: the memory pool policy (pure: machine facts → GAP flags);
//! - [`workspace`]: the saved-workspace cache (fast start-up);
//! - [`error`]: one error type.

pub mod convert;
pub mod error;
pub mod fork;
pub mod interrupt;
pub mod json_text;
pub mod memory;
pub mod obj;
pub mod ops;
pub mod pool;
pub mod runtime;
pub mod session;
pub mod shard;
pub mod size;
pub mod start;
#[cfg(feature = "workspace")]
pub mod workspace;

pub use gap_sys as sys;

pub use convert::{ByteString, FromGap, IntoGap, Kind, Permutation, ViewString};
pub use error::{Error, GapError, Result};
pub use interrupt::InterruptHandle;
pub use obj::GapObj;
pub use ops::IntoGapArgs;
pub use runtime::{Gap, GapOptions, LoopMode, LoopReport, Statement};
pub use start::GapBuilder;
