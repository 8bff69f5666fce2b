//! The `gaprun` command. See `gaprun --help` and README.md.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
