//! The `gaprun` command. See `gaprun --help` and README.md.

fn main() {
    std::process::exit(gaprun_cli::cli::main());
}
