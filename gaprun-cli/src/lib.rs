//! The `gaprun` command as a library: the binary (`src/main.rs`) only calls
//! [`cli::main`]; tests and fuzz targets reach the parsers through here.

pub mod cli;
