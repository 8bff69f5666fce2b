//! Command-line interface: argument parsing (clap) and dispatch to one module
//! per subcommand. Exit codes: 0 ok, 1 GAP error, 2 usage or setup error.

mod batch;
mod cache;
mod daemon;
mod info;
mod options;
mod preload;
mod record;
mod repl;
mod run;
mod script;
mod serve;
mod slurm;
mod test;
mod workers;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub use options::GapArgs;

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: GAP reported an error (or a task failed).
pub const EXIT_GAP_ERROR: i32 = 1;
/// Exit code: bad usage, missing file, GAP could not be set up.
pub const EXIT_USAGE: i32 = 2;

/// The whole command line (clap's help text comes from the attributes).
#[derive(Parser, Debug)]
#[command(
    name = "gaprun",
    version = version_string(),
    about = "Run GAP scripts, test files and sessions through libgap",
    long_about = "Run GAP scripts, test files and sessions through libgap.\n\n\
        gaprun FILE...        run files like `gap -q --quitonbreak FILE...` (no value echo; stop at the first error)\n\
        gaprun -c STATEMENTS  run statements like `gap -q` reading them from a pipe (values echoed)\n\
        gaprun -              the same, reading standard input\n\n\
        Exit codes: 0 ok, 1 GAP error, 2 usage or setup error.",
    after_help = "Environment: GAPRUN_GAP_ROOT, GAPRUN_POOL_SIZE, GAPRUN_WARN_LIMIT, GAPRUN_HARD_LIMIT, GAPRUN_PACKAGES, GAPRUN_WORKSPACE_CACHE override the defaults; GAPRUN_DAEMON=off|auto controls the warm-GAP daemon."
)]
pub struct Cli {
    /// A subcommand; none means run files, `-c` statements or the REPL.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Statements to run (values are echoed as in GAP's REPL).
    #[arg(
        short = 'c',
        long = "command",
        value_name = "STATEMENTS",
        conflicts_with = "files"
    )]
    pub code: Option<String>,

    /// GAP files to run in order; `-` reads standard input.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// In the interactive session, also write the session as a GAP test
    /// file (`gap> ` lines and their output) to this file.
    #[arg(long = "record", value_name = "FILE.tst")]
    pub record: Option<PathBuf>,

    /// Accepted for `gap` users' habits: gaprun never prints a banner.
    #[arg(short = 'q', long = "quiet", hide = true)]
    pub quiet: bool,

    /// How to start GAP (roots, packages, memory), shared by all modes.
    #[command(flatten)]
    pub gap: GapArgs,
}

/// The subcommands; each is one module of this folder.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run GAP files in parallel, each in a fresh child forked from one initialised GAP.
    Run(run::RunArgs),
    /// Run GAP test files (.tst; folders searched recursively) through GAP's Test().
    Test(test::TestArgs),
    /// Run tasks from a JSON-lines file; print one JSON result line per task.
    Batch(batch::BatchArgs),
    /// Show how gaprun would start GAP here: build, GAP roots, memory.
    Info(info::InfoArgs),
    /// Manage the saved-workspace cache (`cache info`, `cache clear`).
    Cache(cache::CacheArgs),
    /// Run a GAP script statement by statement and write the session as a
    /// GAP test file (for `gaprun test` and GAP's `Test()`) on stdout.
    Record(record::RecordArgs),
    /// Keep GAP sessions alive and answer JSON-lines requests
    /// (protocol gaprun-session/1; see README).
    Serve(serve::ServeArgs),
    /// Keep a warm GAP for one-shot commands (`start`, `stop`, `status`;
    /// GAPRUN_DAEMON=off|auto; see docs/daemon.md).
    Daemon(daemon::DaemonArgs),
    /// Run `run|test|batch` over a Slurm job array (`submit`, `status`,
    /// `collect`, `resubmit`; see docs/slurm.md).
    Slurm(slurm::SlurmArgs),
    /// Print the path of the preload library that gives a host of a shared
    /// libgap (SageMath) a MAP_NORESERVE pool: `LD_PRELOAD=$(gaprun preload) python3 …`.
    Preload(preload::PreloadArgs),
}

/// Whether `GAPRUN_DEBUG` (a comma-separated list) names `topic` or `all`.
pub fn debug_enabled(topic: &str) -> bool {
    std::env::var("GAPRUN_DEBUG").is_ok_and(|v| v.split(',').any(|p| p == topic || p == "all"))
}

fn version_string() -> &'static str {
    let info = gaprun::runtime::build_info();
    Box::leak(
        format!(
            "{} (GAP {}, libgap {}, {})",
            env!("CARGO_PKG_VERSION"),
            info.gap_version,
            info.link_mode,
            info.gap_source
        )
        .into_boxed_str(),
    )
}

/// Parse the process's arguments, run, and return the exit code.
pub fn main() -> i32 {
    main_with_args(std::env::args_os())
}

/// Parse `args` (the first is the program name), run, and return the exit
/// code: the command as a function, for tests and embedders.
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    // Like other Unix filters: a closed pipe (`gaprun ... | head`) ends the
    // process quietly instead of failing every later write.
    // SAFETY: resetting a signal disposition before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::panic::set_hook(Box::new(|info| {
        eprintln!("gaprun: internal error: {info}");
        eprintln!("gaprun: please report this with the command that caused it");
    }));
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    match std::panic::catch_unwind(move || {
        // A warm GAP from the daemon, when one serves this configuration.
        daemon::try_delegate(&cli, &args).unwrap_or_else(|| dispatch(cli))
    }) {
        Ok(code) => code,
        Err(_) => EXIT_USAGE,
    }
}

fn dispatch(cli: Cli) -> i32 {
    match cli.command {
        None => script::run(
            &cli.gap,
            cli.code.as_deref(),
            &cli.files,
            cli.record.as_deref(),
        ),
        Some(Command::Info(args)) => info::run(&cli.gap, &args),
        Some(Command::Cache(args)) => cache::run(&cli.gap, &args),
        Some(Command::Record(args)) => record::run(&cli.gap, &args),
        Some(Command::Serve(args)) => serve::run(&cli.gap, &args),
        Some(Command::Run(args)) => run::run(&cli.gap, &args),
        Some(Command::Batch(args)) => batch::run(&cli.gap, &args),
        Some(Command::Test(args)) => test::run(&cli.gap, &args),
        Some(Command::Slurm(args)) => slurm::run(&args),
        Some(Command::Preload(args)) => preload::run(&args),
        Some(Command::Daemon(args)) => daemon::run(&cli.gap, &args),
    }
}
