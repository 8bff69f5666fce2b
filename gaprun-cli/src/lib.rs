//! The `gaprun` command as a library: the binary (`src/main.rs`) only calls
//! [`cli::main`]; tests and fuzz targets reach the parsers through here.
//!
//! Run the command in-process, as `gaprun --version` would:
//!
//! ```
//! let code = gaprun_cli::cli::main_with_args(["gaprun", "--version"]);
//! assert_eq!(code, 0);
//! ```
//!
//! Run statements as `gaprun -c` does: GAP prints the values, and a GAP
//! error gives exit code 1 (the command's documented code for GAP errors):
//!
//! ```
//! use gaprun_cli::cli::{main_with_args, EXIT_OK};
//! let args = ["gaprun", "-A", "-c", "Size(SymmetricGroup(5));"];
//! assert_eq!(main_with_args(args), EXIT_OK);
//! ```
//!
//! ```
//! # use gaprun_cli::cli::{main_with_args, EXIT_GAP_ERROR};
//! assert_eq!(main_with_args(["gaprun", "-A", "-c", "1/0;"]), EXIT_GAP_ERROR);
//! ```

#![deny(clippy::undocumented_unsafe_blocks, unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod cli;
