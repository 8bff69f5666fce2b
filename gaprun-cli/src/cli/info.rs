//! `gaprun info`: the build, the machine facts, and the memory decision
//! gaprun would make here (for `-j N` planned workers), with reasons.

use super::{GapArgs, EXIT_OK, EXIT_USAGE};
use clap::Args;
use gaprun::runtime::build_info;
use gaprun::size::format_bytes;

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Print JSON with stable field names (see README, "gaprun info --json").
    #[arg(long)]
    pub json: bool,

    /// Planned number of forked workers to size the pool for.
    #[arg(short = 'j', long = "jobs", value_name = "N", default_value_t = 0)]
    pub jobs: u32,
}

pub fn run(gap: &GapArgs, args: &InfoArgs) -> i32 {
    let (options, facts, decision) = match gap.resolve(args.jobs) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("gaprun: {}", super::options::policy_message(&e));
            return EXIT_USAGE;
        }
    };
    let build = build_info();
    let workspace = gaprun::workspace::probe(&options, &gap.cache_settings());
    let packages = gaprun::runtime::installed_packages(&options.effective_roots()).len();
    let manuals = has_manuals(&options.effective_roots());
    if args.json {
        let report = serde_json::json!({
            "gaprun_version": env!("CARGO_PKG_VERSION"),
            "build": build,
            "gap_roots": options.effective_roots(),
            "gap_packages": packages,
            "gap_manuals": manuals,
            "planned_workers": args.jobs,
            "facts": facts,
            "decision": decision,
            "gap_argv": options.argv(),
            "workspace": workspace,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
        return EXIT_OK;
    }
    println!("gaprun {}", env!("CARGO_PKG_VERSION"));
    let origin = match build.gap_kind {
        "dist" => "pinned registry artifacts, per-user cache".to_string(),
        _ => format!("found: {}", build.gap_source),
    };
    println!(
        "GAP {} (GAPRUN_GAP={}, {origin}; libgap {}), {packages} packages installed, \
         manuals for ?/HELP {}",
        build.gap_version,
        build.gap_kind,
        build.link_mode,
        if manuals { "installed" } else { "missing" }
    );
    let roots: Vec<String> = options
        .effective_roots()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    println!("GAP roots: {}", roots.join(";"));
    println!();
    println!("Machine ({:?}):", facts.platform);
    let show = |name: &str, value: Option<String>, source: &str| {
        let v = value.unwrap_or_else(|| "unknown".into());
        println!("  {name:<22} {v:<12} ({source})");
    };
    for (name, fact) in [
        ("RAM", &facts.total_ram),
        ("available RAM", &facts.available_ram),
        ("free swap", &facts.free_swap),
        ("commit limit", &facts.commit_limit),
        ("committed", &facts.committed_as),
        ("cgroup memory.max", &facts.cgroup_memory_max),
        ("RLIMIT_AS", &facts.rlimit_as),
        ("RLIMIT_DATA", &facts.rlimit_data),
    ] {
        show(name, fact.get().map(format_bytes), &fact.source);
    }
    show(
        "overcommit mode",
        facts.overcommit_memory.get().map(|m| m.to_string()),
        &facts.overcommit_memory.source,
    );
    show(
        "transparent hugepages",
        facts
            .transparent_hugepages
            .get()
            .map(|m| format!("{m:?}").to_lowercase()),
        &facts.transparent_hugepages.source,
    );
    println!("  {:<22} {}", "pool hook", facts.hook_available);
    println!("  {:<22} {}", "planned workers", facts.planned_workers);
    println!();
    println!("Decision ({:?}):", decision.regime);
    let r = &decision.reasons;
    println!(
        "  -s {:<12} {}",
        format_bytes(decision.pool_size),
        r.pool_size
    );
    println!(
        "  -o {:<12} {}",
        format_bytes(decision.warn_limit),
        r.warn_limit
    );
    println!(
        "  -K {:<12} {}",
        decision
            .hard_limit
            .map(format_bytes)
            .unwrap_or_else(|| "none".into()),
        r.hard_limit
    );
    println!(
        "  -m {:<12} {}",
        format_bytes(decision.initial_workspace),
        r.initial_workspace
    );
    println!("  noreserve {:<5}   {}", decision.noreserve, r.noreserve);
    println!("  hugepages {:<5}   {}", decision.hugepages, r.hugepages);
    println!(
        "  (SageMath's rule would choose -s {})",
        format_bytes(decision.sagemath_baseline)
    );
    println!();
    println!("GAP command line: {}", options.argv().join(" "));
    let used = if workspace.used { "used" } else { "not used" };
    println!("Saved workspace: {used} ({})", workspace.reason);
    EXIT_OK
}

/// Whether `?`/`HELP` can find GAP's reference manual under one of the roots
/// (`doc/ref/manual.six`, which GAP also reads gzipped).
fn has_manuals(roots: &[std::path::PathBuf]) -> bool {
    roots.iter().any(|root| {
        let six = root.join("doc/ref/manual.six");
        six.is_file() || six.with_extension("six.gz").is_file()
    })
}
