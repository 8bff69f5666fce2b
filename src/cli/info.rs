//! `gaprun info`: what gaprun knows about this build and how it would start
//! GAP here.

use super::{GapArgs, EXIT_OK};
use clap::Args;
use gaprun::runtime::build_info;

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Print JSON (stable field names, see README).
    #[arg(long)]
    pub json: bool,
}

pub fn run(gap: &GapArgs, args: &InfoArgs) -> i32 {
    let options = gap.options();
    let build = build_info();
    let workspace = gaprun::workspace::probe(&options, &gap.cache_settings());
    let report = serde_json::json!({
        "gaprun_version": env!("CARGO_PKG_VERSION"),
        "build": build,
        "gap_roots": options.effective_roots(),
        "gap_argv": options.argv(),
        "workspace": workspace,
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        println!("gaprun {}", env!("CARGO_PKG_VERSION"));
        println!("GAP {} ({}, found: {})", build.gap_version, build.link_mode, build.gap_source);
        println!("GAP roots: {}", options.effective_roots().iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(";"));
        println!("GAP command line: {}", options.argv().join(" "));
        let used = if workspace.used { "used" } else { "not used" };
        println!("Saved workspace: {used} ({})", workspace.reason);
    }
    EXIT_OK
}
