//! The `gaprun` command as a library: the binary (`src/main.rs`) only calls
//! [`cli::main`]; tests and fuzz targets reach the parsers through here.
//!
//! Run the command in-process, as `gaprun --version` would:
//!
//! ```
//! let code = gaprun_cli::cli::main_with_args(["gaprun", "--version"]);
//! assert_eq!(code, 0);
//! ```

#![deny(clippy::undocumented_unsafe_blocks, unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod cli;
