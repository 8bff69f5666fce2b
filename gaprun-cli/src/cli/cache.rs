//! `gaprun cache info` and `gaprun cache clear`: the saved-workspace cache
//! (see `gaprun::workspace`).

use super::{GapArgs, EXIT_OK, EXIT_USAGE};
use clap::{Args, Subcommand};
use gaprun::workspace;

#[derive(Args, Debug)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub action: CacheAction,
}

#[derive(Subcommand, Debug)]
pub enum CacheAction {
    /// Show the cache folder, its workspaces, and whether the current
    /// configuration (roots, packages, options) has a usable one.
    Info {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete every saved workspace (they are rebuilt on the next start).
    Clear,
}

pub fn run(gap: &GapArgs, args: &CacheArgs) -> i32 {
    let settings = gap.cache_settings();
    let dir = match workspace::cache_dir(settings.dir.as_deref()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("gaprun: {e}");
            return EXIT_USAGE;
        }
    };
    match &args.action {
        CacheAction::Info { json } => {
            let entries = workspace::entries(&dir);
            let current = workspace::probe(&gap.options(), &settings);
            if *json {
                let report = serde_json::json!({
                    "dir": dir,
                    "current": current,
                    "entries": entries,
                });
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                );
                return EXIT_OK;
            }
            println!("cache folder: {}", dir.display());
            println!(
                "this configuration: {}{} ({})",
                current.key.as_deref().unwrap_or("-"),
                if current.used { ", cached" } else { "" },
                current.reason
            );
            let total: u64 = entries.iter().map(|e| e.bytes).sum();
            println!(
                "{} workspace(s), {:.1} MB",
                entries.len(),
                total as f64 / 1e6
            );
            for e in &entries {
                let (what, when) = match &e.stamp {
                    Some(s) => (
                        format!(
                            "packages [{}]{}",
                            s.inputs.packages.join(","),
                            if s.inputs.autoload { " + autoload" } else { "" }
                        ),
                        workspace::age(s.created),
                    ),
                    None => ("no stamp".to_string(), "-".to_string()),
                };
                println!(
                    "  {}  {:>6.1} MB  {}  {}  {}",
                    e.key,
                    e.bytes as f64 / 1e6,
                    if e.valid { "valid" } else { "INVALID" },
                    when,
                    what
                );
                if let Some(problem) = &e.problem {
                    println!("    not usable: {problem}");
                }
            }
            EXIT_OK
        }
        CacheAction::Clear => match workspace::clear(&dir) {
            Ok((files, bytes)) => {
                println!(
                    "removed {files} file(s), {:.1} MB, from {}",
                    bytes as f64 / 1e6,
                    dir.display()
                );
                EXIT_OK
            }
            Err(e) => {
                eprintln!("gaprun: cannot clear {}: {e}", dir.display());
                EXIT_USAGE
            }
        },
    }
}
