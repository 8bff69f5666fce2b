//! Options shared by every subcommand that starts GAP.

use clap::Args;
use gaprun::pool::{MachineFacts, PoolDecision};
use gaprun::size::parse_size;
use gaprun::workspace::{CacheSettings, CacheStatus};
use gaprun::{GapBuilder, GapOptions};
use std::path::PathBuf;

fn size_arg(s: &str) -> Result<u64, gaprun::size::ValueError> {
    parse_size(s)
}

/// How to start GAP: roots, memory flags, packages.
#[derive(Args, Debug, Clone, Default)]
pub struct GapArgs {
    /// GAP root folder(s) (GAP's -l); repeat or separate with ';'.
    #[arg(
        long = "gap-root",
        value_name = "DIR",
        env = "GAPRUN_GAP_ROOT",
        value_delimiter = ';',
        global = true
    )]
    pub gap_root: Vec<PathBuf>,

    /// Initial size of GAP's memory pool (GAP's -s), e.g. 512m, 3g.
    #[arg(short = 's', long = "pool-size", value_name = "SIZE", env = "GAPRUN_POOL_SIZE", value_parser = size_arg, global = true)]
    pub pool_size: Option<u64>,

    /// Workspace size at which GAP raises a memory error (GAP's -o).
    #[arg(short = 'o', long = "warn-limit", value_name = "SIZE", env = "GAPRUN_WARN_LIMIT", value_parser = size_arg, global = true)]
    pub warn_limit: Option<u64>,

    /// Hard workspace limit (GAP's -K).
    #[arg(short = 'K', long = "hard-limit", value_name = "SIZE", env = "GAPRUN_HARD_LIMIT", value_parser = size_arg, global = true)]
    pub hard_limit: Option<u64>,

    /// Initial workspace (GAP's -m).
    #[arg(short = 'm', long = "initial-workspace", value_name = "SIZE", value_parser = size_arg, global = true)]
    pub initial_workspace: Option<u64>,

    /// Packages to load after start-up (comma-separated).
    #[arg(
        long = "packages",
        value_name = "LIST",
        env = "GAPRUN_PACKAGES",
        value_delimiter = ',',
        global = true
    )]
    pub packages: Vec<String>,

    /// Do not load GAP's default packages at start-up (GAP's -A).
    #[arg(short = 'A', long = "no-autoload", global = true)]
    pub no_autoload: bool,

    /// Map GAP's pool with MAP_NORESERVE (no commit charge per fork).
    #[arg(long = "noreserve", global = true, conflicts_with = "reserve")]
    pub noreserve: bool,

    /// Map GAP's pool reserved, as GAP itself does (charged per fork).
    #[arg(long = "reserve", global = true)]
    pub reserve: bool,

    /// Do not advise transparent huge pages for GAP's pool.
    #[arg(long = "no-hugepages", global = true)]
    pub no_hugepages: bool,

    /// Start without the saved-workspace cache (read GAP's library from its files).
    #[arg(long = "no-workspace", global = true)]
    pub no_workspace: bool,

    /// Folder of the saved-workspace cache (default: the user's cache folder).
    #[arg(
        long = "workspace-cache",
        value_name = "DIR",
        env = "GAPRUN_WORKSPACE_CACHE",
        global = true
    )]
    pub workspace_cache: Option<PathBuf>,
}

impl GapArgs {
    /// The user's choice of pool mapping: flag first, then
    /// `GAPRUN_NORESERVE=1|0`, else the policy decides.
    pub fn noreserve_choice(&self) -> Option<bool> {
        if self.noreserve {
            return Some(true);
        }
        if self.reserve {
            return Some(false);
        }
        env_bool("GAPRUN_NORESERVE")
    }

    /// The user's choice of huge pages: `--no-hugepages`, then
    /// `GAPRUN_HUGEPAGES=1|0`, else the policy decides.
    pub fn hugepages_choice(&self) -> Option<bool> {
        if self.no_hugepages {
            return Some(false);
        }
        env_bool("GAPRUN_HUGEPAGES")
    }

    /// The library's start path ([`GapBuilder`]: pool policy, then the
    /// workspace cache) for these arguments and `planned_workers` forked
    /// workers (user values win).
    pub fn builder(&self, planned_workers: u32) -> GapBuilder {
        let settings = self.cache_settings();
        let mut builder = GapBuilder::new(self.options())
            .planned_workers(planned_workers)
            .noreserve(self.noreserve_choice())
            .hugepages(self.hugepages_choice())
            .workspace_cache(settings.enabled);
        if let Some(dir) = settings.dir {
            builder = builder.cache_dir(dir);
        }
        builder
    }

    /// GAP options with the memory settings decided by the pool policy
    /// for `planned_workers` forked workers (user values win).
    pub fn resolve(
        &self,
        planned_workers: u32,
    ) -> gaprun::Result<(GapOptions, MachineFacts, PoolDecision)> {
        let prepared = self
            .builder(planned_workers)
            .workspace_cache(false)
            .prepare()?;
        let (facts, decision) = prepared
            .policy
            .expect("the builder applies the pool policy by default");
        Ok((prepared.options, facts, decision))
    }

    /// Whether and where to cache saved workspaces.
    pub fn cache_settings(&self) -> CacheSettings {
        CacheSettings {
            enabled: !self.no_workspace,
            dir: self.workspace_cache.clone(),
        }
    }

    /// GAP options with the cached workspace filled in (built first when
    /// this configuration has none): what every subcommand that starts GAP
    /// should pass to `Gap::init`. Warnings are printed on stderr; set
    /// `GAPRUN_DEBUG=workspace` to see what the cache did.
    ///
    /// Memory is decided first by the pool policy for `planned_workers`
    /// (never saved into the workspace: it is decided at every start).
    pub fn start_options(&self, planned_workers: u32) -> gaprun::Result<(GapOptions, CacheStatus)> {
        let prepared = self.builder(planned_workers).prepare()?;
        let status = prepared.cache;
        for w in &status.warnings {
            eprintln!("gaprun: warning: {w}");
        }
        if super::debug_enabled("workspace") {
            // The library's reason names no flag; say which one disabled it.
            let flag = if self.no_workspace {
                " (--no-workspace)"
            } else {
                ""
            };
            eprintln!(
                "gaprun: workspace: {} ({}{flag}; {} ms)",
                if status.used { "used" } else { "not used" },
                status.reason,
                status.millis
            );
        }
        Ok((prepared.options, status))
    }

    /// GAP options from the command line (memory values the user did not
    /// give stay unset here).
    pub fn options(&self) -> GapOptions {
        GapOptions {
            roots: self.gap_root.clone(),
            pool_size: self.pool_size,
            warn_limit: self.warn_limit,
            hard_limit: self.hard_limit,
            initial_workspace: self.initial_workspace,
            autoload: !self.no_autoload,
            packages: self
                .packages
                .iter()
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
            ..GapOptions::default()
        }
    }
}

/// Why GAP cannot be started with these memory settings, for the command
/// line: the library's message, plus the flag the user can change.
pub fn policy_message(e: &gaprun::Error) -> String {
    use gaprun::pool::PolicyError;
    let flag = match e {
        gaprun::Error::Policy(PolicyError::HardLimitTooSmall(_)) => " (-K/--hard-limit)",
        gaprun::Error::Policy(PolicyError::SbrkOnLinux) => " (-s/--pool-size)",
        gaprun::Error::Policy(PolicyError::NoreserveUnavailable) => " (--noreserve)",
        _ => "",
    };
    format!("memory policy: {e}{flag}")
}

/// A yes/no environment setting (`1/true/yes`, `0/false/no`), else unset.
fn env_bool(name: &str) -> Option<bool> {
    match std::env::var(name).ok().as_deref() {
        Some("1") | Some("true") | Some("yes") => Some(true),
        Some("0") | Some("false") | Some("no") => Some(false),
        _ => None,
    }
}

/// Check that every file can be read before paying for GAP's start-up:
/// a missing or unreadable file, or a folder, is a usage error (exit 2).
pub fn check_readable_files<'a>(files: impl IntoIterator<Item = &'a PathBuf>) -> Result<(), i32> {
    for f in files {
        if f.as_os_str() == "-" {
            continue;
        }
        if let Err(e) = check_readable_file(f) {
            eprintln!("gaprun: {e}");
            return Err(super::EXIT_USAGE);
        }
    }
    Ok(())
}

/// Why a GAP file cannot be run: it cannot be opened, or it is a folder.
pub fn check_readable_file(f: &std::path::Path) -> Result<(), String> {
    if let Err(e) = std::fs::File::open(f) {
        return Err(format!("cannot read {}: {e}", f.display()));
    }
    if f.is_dir() {
        return Err(format!("{} is a folder, not a GAP file", f.display()));
    }
    Ok(())
}
