//! From machine facts and overrides to GAP's memory flags. Pure: no I/O, cheap.
//!
//! The values decided are GAP's `-s` (pool: address space mapped at start),
//! `-o` (warn limit: past it GAP raises "exceeded the permitted memory", which the
//! host can catch), `-K` (hard limit: past it GAP exits cleanly instead of being
//! OOM-killed) and `-m` (initial workspace), plus `noreserve` for the mmap hook.
//!
//! Consistency rules, applied to overrides as well, each clamp said in the reason:
//! pool ≤ hard limit (GAP caps `-s` at `-K` itself; doing it here keeps the decision
//! truthful); pool ≤ half of the tighter of `RLIMIT_AS`/`RLIMIT_DATA` (the rest of
//! the process needs room too); initial workspace ≤ pool; initial workspace ≤ warn
//! limit ≤ hard limit. Requests that cannot be honoured at all are errors:
//! native Windows, `noreserve` without the hook, and `-s 0` on Linux.

use super::facts::{MachineFacts, Platform};
use crate::size::{format_bytes, gap_flag_value};
use serde::{Deserialize, Serialize};

/// A kibibyte (GAP's `k` suffix).
pub const KIB: u64 = 1 << 10;
/// A mebibyte (GAP's `m` suffix).
pub const MIB: u64 = 1 << 20;
/// A gibibyte (GAP's `g` suffix).
pub const GIB: u64 = 1 << 30;
/// A tebibyte (GAP's `t` suffix).
pub const TIB: u64 = 1 << 40;

/// GAP halves a pool that cannot be mapped down to this size, then gives up.
pub const GAP_MIN_POOL: u64 = 16 * MIB;
/// The smallest hard limit (`-K`) the built GAP starts with. GAP 4.12.1:
/// below about 58 MiB (-A) to 61 MiB (default packages), with or without a
/// saved workspace, it panics while loading ("cannot extend the workspace
/// any more"); measured by bisection, see docs/workspace-cache.md: 64 MiB.
/// GAP 4.16.1 with its default packages (`GAPRUN_GAP=dist`) panics at
/// 96 MiB and starts at 100 MiB: 128 MiB for every later GAP. `-K 0`
/// means no limit. Packages given with `--packages` may need more.
pub const GAP_MIN_HARD_LIMIT: u64 = if is_gap_4_12(crate::sys::GAP_VERSION) {
    64 * MIB
} else {
    128 * MIB
};

/// Whether a GAP version string is 4.12.x (a `const fn`: it sizes a const).
const fn is_gap_4_12(version: &str) -> bool {
    let v = version.as_bytes();
    let p = b"4.12.";
    if v.len() < p.len() {
        return false;
    }
    let mut i = 0;
    while i < p.len() {
        if v[i] != p[i] {
            return false;
        }
        i += 1;
    }
    true
}
/// GAP's default `-m` on 64-bit.
pub const GAP_DEFAULT_WORKSPACE: u64 = 128 * MIB;
/// GAP's default `-o` is max(this, 3/4 of RAM).
pub const GAP_MIN_WARN_DEFAULT: u64 = 2 * GIB;
/// SageMath's floor for the pool ("the minimum for long doctests").
pub const SAGEMATH_MIN_POOL: u64 = 400 * MIB;
/// Commit charged at fork besides the pool (Rust heap, GAP kernel data, stacks);
/// measured around 13 MB per child, so this is generous.
pub const FORK_OVERHEAD: u64 = 64 * MIB;
/// Used when the machine does not tell its RAM.
const ASSUMED_RAM: u64 = 4 * GIB;
/// Floor for a per-worker warn limit: below this GAP warns on ordinary work.
const MIN_WORKER_WARN: u64 = 256 * MIB;
/// Mode 2 with unknown headroom: this much pool in total, shared by all processes.
const UNKNOWN_HEADROOM_POOL: u64 = 256 * MIB;

/// Values the user (CLI flag, environment, library call) fixes instead of the
/// policy. Sizes in bytes. `pool_size: Some(0)` asks for GAP's sbrk mode (refused
/// on Linux); `hard_limit: Some(0)` means "no hard limit", as `-K 0` does in GAP.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(default)]
pub struct Overrides {
    /// `-s`
    pub pool_size: Option<u64>,
    /// `-o`
    pub warn_limit: Option<u64>,
    /// `-K`
    pub hard_limit: Option<u64>,
    /// `-m`
    pub initial_workspace: Option<u64>,
    /// Add MAP_NORESERVE to the pool mapping (needs the mmap hook).
    pub noreserve: Option<bool>,
    /// Advise transparent huge pages for the pool.
    pub hugepages: Option<bool>,
}

impl Overrides {
    /// Field by field, `self` wins over `fallback` (e.g. CLI over environment).
    pub fn or(self, fallback: Overrides) -> Overrides {
        Overrides {
            pool_size: self.pool_size.or(fallback.pool_size),
            warn_limit: self.warn_limit.or(fallback.warn_limit),
            hard_limit: self.hard_limit.or(fallback.hard_limit),
            initial_workspace: self.initial_workspace.or(fallback.initial_workspace),
            noreserve: self.noreserve.or(fallback.noreserve),
            hugepages: self.hugepages.or(fallback.hugepages),
        }
    }
}

/// Which sizing rule applied; follows from platform, overcommit mode and noreserve.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    /// `vm.overcommit_memory=2`: every fork is charged the pool; MAP_NORESERVE ignored.
    LinuxStrictOvercommit,
    /// Modes 0/1 with MAP_NORESERVE: the pool costs no commit.
    LinuxNoreserve,
    /// Mode 1 without the hook: the kernel never refuses, so a reserved pool is free too.
    LinuxAlwaysOvercommit,
    /// Mode 0 (or unknown) without the hook: the pool is reserved and charged per fork.
    LinuxReserved,
    /// macOS: memory is committed when touched, so the pool is free.
    MacOs,
    /// Cygwin with the hook: a MAP_NORESERVE pool.
    CygwinNoreserve,
    /// Cygwin without the hook: `-s 0`.
    CygwinSbrk,
    /// Any other platform: SageMath's sizing, nothing assumed.
    OtherBaseline,
}

/// One short sentence per decided value; "override" when the user fixed it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Reasons {
    /// Why this `-s`.
    pub pool_size: String,
    /// Why this `-o`.
    pub warn_limit: String,
    /// Why this `-K` (or none).
    pub hard_limit: String,
    /// Why this `-m`.
    pub initial_workspace: String,
    /// Why MAP_NORESERVE is (not) used.
    pub noreserve: String,
    /// Why huge pages are (not) advised.
    #[serde(default)]
    pub hugepages: String,
}

/// GAP's memory settings for this process. Sizes in bytes, whole KiB.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct PoolDecision {
    /// `-s`; 0 = grow with sbrk (only ever chosen on Cygwin without the hook).
    pub pool_size: u64,
    /// `-o`
    pub warn_limit: u64,
    /// `-K`; `None` = no hard limit.
    pub hard_limit: Option<u64>,
    /// `-m`
    pub initial_workspace: u64,
    /// Whether the mmap hook should add MAP_NORESERVE to GAP's pool mappings.
    pub noreserve: bool,
    /// Whether the mmap hook should advise transparent huge pages for the
    /// pool (a fork then copies one page-table entry per 2 MB, not 512).
    #[serde(default)]
    pub hugepages: bool,
    /// The sizing rule that applied.
    pub regime: Regime,
    /// What SageMath would choose on the same facts, for comparison.
    pub sagemath_baseline: u64,
    /// One sentence per value, for `gaprun info` and logs.
    pub reasons: Reasons,
}

impl PoolDecision {
    /// GAP command-line flags: `-s`, `-o`, `-K` (only with a hard limit), `-m`,
    /// sizes in whole KiB with GAP's `k` suffix.
    pub fn gap_args(&self) -> Vec<String> {
        let mut args = vec![
            "-s".to_string(),
            gap_flag_value(self.pool_size),
            "-o".to_string(),
            gap_flag_value(self.warn_limit),
        ];
        if let Some(k) = self.hard_limit {
            args.push("-K".to_string());
            args.push(gap_flag_value(k));
        }
        args.push("-m".to_string());
        args.push(gap_flag_value(self.initial_workspace));
        args
    }
}

/// A request the policy cannot honour on this machine or build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Native Windows: GAP needs a POSIX layer.
    #[error(
        "native Windows is not supported: GAP needs a POSIX layer; \
         run gaprun under Cygwin, MSYS2 or WSL"
    )]
    WindowsUnsupported,
    /// MAP_NORESERVE asked for, but libgap is not linked with the mmap hook.
    #[error(
        "MAP_NORESERVE was requested, but this build cannot add it to GAP's pool \
         (no mmap hook: libgap is not linked statically with the hook)"
    )]
    NoreserveUnavailable,
    /// `-s 0` on Linux: GAP's sbrk heap would fight the host's malloc.
    #[error(
        "pool size 0 makes GAP grow its heap with sbrk, which fights the host's \
         malloc on Linux; give a pool of at least 16m"
    )]
    SbrkOnLinux,
    /// A hard limit (bytes) below [`GAP_MIN_HARD_LIMIT`]: GAP could not start.
    #[error(
        "hard limit {} is too small: GAP needs a hard limit of at least {}m to start \
         (or 0 for none)",
        crate::size::format_bytes(*.0),
        GAP_MIN_HARD_LIMIT >> 20
    )]
    HardLimitTooSmall(u64),
}

/// SageMath's `get_gap_memory_pool_size()` (sage.interfaces.gap), restated:
/// the larger of a tenth of free swap and a fiftieth of available RAM, at most a
/// tenth of the address-space limit (`RLIMIT_AS`, or RAM + swap when unlimited),
/// at least 400 MiB. Unknown values count as 0.
pub fn sagemath_baseline(facts: &MachineFacts) -> u64 {
    let vmax = facts.rlimit_as.get().unwrap_or_else(|| {
        let ram = facts.total_ram.get().unwrap_or(0);
        ram.saturating_add(facts.total_swap.get().unwrap_or(0))
    });
    round_kib(sage_rule(
        facts.free_swap.get().unwrap_or(0),
        facts.available_ram.get().unwrap_or(0),
        vmax,
    ))
}

fn sage_rule(free_swap: u64, available: u64, vmax: u64) -> u64 {
    (free_swap / 10)
        .max(available / 50)
        .min(vmax / 10)
        .max(SAGEMATH_MIN_POOL)
}

fn round_kib(x: u64) -> u64 {
    x / KIB * KIB
}

/// Overrides are kept to whole KiB too, but a tiny nonzero size must not turn
/// into 0, which means something else to GAP (sbrk for `-s`, none for `-K`).
fn round_override(x: u64) -> u64 {
    if x == 0 {
        0
    } else {
        round_kib(x).max(KIB)
    }
}

/// Derived sizes are rounded down to whole MiB (KiB below 1 MiB).
fn tidy(x: u64) -> u64 {
    if x >= MIB {
        x / MIB * MIB
    } else {
        round_kib(x)
    }
}

fn fb(x: u64) -> String {
    format_bytes(x)
}

/// Numbers derived once from the facts.
struct Env<'a> {
    facts: &'a MachineFacts,
    /// RAM, or the cgroup limit when tighter.
    eff_ram: u64,
    /// Says what `eff_ram` is, e.g. "the cgroup limit 2 GiB".
    eff_what: String,
    available: u64,
    swap_total: u64,
    swap_free: u64,
    /// Tighter of RLIMIT_AS and RLIMIT_DATA, with its name.
    rlimit: Option<(u64, &'static str)>,
    /// Tighter of cgroup limit and rlimit, described.
    bound: Option<(u64, String)>,
    /// The parent plus the planned workers.
    procs: u64,
    /// Mode 2: CommitLimit − Committed_AS.
    headroom: Option<u64>,
}

impl<'a> Env<'a> {
    fn new(facts: &'a MachineFacts) -> Self {
        let (mut eff_ram, mut eff_what) = match facts.total_ram.get() {
            Some(r) if r > 0 => (r, format!("RAM {}", fb(r))),
            _ => (
                ASSUMED_RAM,
                format!("{} of RAM (assumed, unknown)", fb(ASSUMED_RAM)),
            ),
        };
        let cgroup = facts.cgroup_limit();
        if let Some(c) = cgroup.filter(|&c| c < eff_ram) {
            eff_ram = c;
            eff_what = format!("the cgroup limit {}", fb(c));
        }
        let rlimit = match (facts.rlimit_as.get(), facts.rlimit_data.get()) {
            (Some(a), Some(d)) if d < a => Some((d, "RLIMIT_DATA")),
            (Some(a), _) => Some((a, "RLIMIT_AS")),
            (None, Some(d)) => Some((d, "RLIMIT_DATA")),
            (None, None) => None,
        };
        let bound = match (cgroup, rlimit) {
            (Some(c), Some((r, name))) if r < c => Some((r, format!("{name} {}", fb(r)))),
            (Some(c), _) => Some((c, format!("cgroup limit {}", fb(c)))),
            (None, Some((r, name))) => Some((r, format!("{name} {}", fb(r)))),
            (None, None) => None,
        };
        let headroom = match (facts.commit_limit.get(), facts.committed_as.get()) {
            (Some(l), Some(c)) => Some(l.saturating_sub(c)),
            _ => None,
        };
        Env {
            facts,
            eff_ram,
            eff_what,
            available: facts.available_ram.get().unwrap_or(eff_ram).min(eff_ram),
            swap_total: facts.total_swap.get().unwrap_or(0),
            swap_free: facts.free_swap.get().unwrap_or(0),
            rlimit,
            bound,
            procs: u64::from(facts.planned_workers) + 1,
            headroom,
        }
    }

    fn is_strict(&self) -> bool {
        self.facts.platform == Platform::Linux && self.facts.overcommit_memory.get() == Some(2)
    }

    /// Mode 2: what each process may commit (pool and overhead), 3/4 of the
    /// headroom split evenly; the quarter kept back is for everything else.
    fn commit_share(&self) -> Option<u64> {
        self.headroom.map(|h| h / 4 * 3 / self.procs)
    }
}

/// Decide GAP's memory flags for this machine. See the module docs for the
/// consistency rules; every value's reason is in [`PoolDecision::reasons`].
pub fn decide(facts: &MachineFacts, overrides: &Overrides) -> Result<PoolDecision, PolicyError> {
    if facts.platform == Platform::Windows {
        return Err(PolicyError::WindowsUnsupported);
    }
    let env = Env::new(facts);
    let (noreserve, noreserve_reason) = decide_noreserve(&env, overrides)?;
    let regime = regime(&env, noreserve);
    if let Some(k) = overrides
        .hard_limit
        .filter(|&k| k != 0 && k < GAP_MIN_HARD_LIMIT)
    {
        return Err(PolicyError::HardLimitTooSmall(k));
    }
    let (hard, hard_reason) = decide_hard(&env, overrides);
    let (pool, pool_reason) = decide_pool(&env, regime, overrides, hard)?;
    let (workspace, workspace_reason) = decide_workspace(overrides, pool, hard);
    let (warn, warn_reason) = decide_warn(&env, overrides, pool, workspace, hard);
    let (hugepages, hugepages_reason) = decide_hugepages(facts, overrides);
    Ok(PoolDecision {
        pool_size: pool,
        warn_limit: warn,
        hard_limit: hard,
        initial_workspace: workspace,
        noreserve,
        hugepages,
        regime,
        sagemath_baseline: sagemath_baseline(facts),
        reasons: Reasons {
            pool_size: pool_reason,
            warn_limit: warn_reason,
            hard_limit: hard_reason,
            initial_workspace: workspace_reason,
            noreserve: noreserve_reason,
            hugepages: hugepages_reason,
        },
    })
}

/// Transparent huge pages for the pool: a fork of a ready GAP copies the
/// parent's page tables, one entry per 4 KiB page; with 2 MiB pages that is
/// 512 times fewer (measured: ~9 ms → ~1 ms per forked task). Copy-on-write
/// after the fork still copies 4 KiB pages. Advice only, through the hook.
fn decide_hugepages(facts: &MachineFacts, ov: &Overrides) -> (bool, String) {
    use crate::pool::facts::ThpMode;
    if let Some(on) = ov.hugepages {
        if on && !facts.hook_available {
            return (
                false,
                "override (on) ignored: this build has no pool hook".into(),
            );
        }
        return (on, format!("override ({})", if on { "on" } else { "off" }));
    }
    if facts.platform != Platform::Linux {
        return (false, "transparent huge pages are a Linux feature".into());
    }
    if !facts.hook_available {
        return (false, "no pool hook in this build to advise them".into());
    }
    match facts.transparent_hugepages.value {
        Some(ThpMode::Always) | Some(ThpMode::Madvise) => (
            true,
            "transparent huge pages are enabled: forks copy 512x fewer page-table entries".into(),
        ),
        Some(ThpMode::Never) => (false, "transparent huge pages are disabled (never)".into()),
        None => (false, "transparent huge pages mode unknown".into()),
    }
}

fn decide_noreserve(env: &Env, ov: &Overrides) -> Result<(bool, String), PolicyError> {
    let facts = env.facts;
    let hook = facts.hook_available;
    match ov.noreserve {
        Some(true) if !hook => Err(PolicyError::NoreserveUnavailable),
        Some(true) if env.is_strict() => Ok((
            true,
            "override (on); but the kernel ignores MAP_NORESERVE in overcommit mode 2, \
             so the pool is still charged"
                .into(),
        )),
        Some(v) => Ok((v, format!("override ({})", if v { "on" } else { "off" }))),
        None => Ok(match &facts.platform {
            Platform::Linux if env.is_strict() => (
                false,
                "overcommit mode 2 (strict): the kernel ignores MAP_NORESERVE, so the pool \
                 is sized to the commit headroom instead"
                    .into(),
            ),
            Platform::Linux | Platform::Cygwin if hook => (
                true,
                "this build's mmap hook adds MAP_NORESERVE, so the pool is not charged \
                 to the commit, at start or at fork"
                    .into(),
            ),
            Platform::Linux | Platform::Cygwin => (
                false,
                "this build has no mmap hook (libgap not linked statically), \
                 so GAP's pool is reserved as GAP maps it"
                    .into(),
            ),
            Platform::MacOs => (
                false,
                "not needed: macOS maps lazily and does no commit accounting".into(),
            ),
            Platform::Windows | Platform::Other(_) => (
                false,
                "off on an unknown platform: the flag's effect there is unknown".into(),
            ),
        }),
    }
}

fn regime(env: &Env, noreserve: bool) -> Regime {
    match &env.facts.platform {
        Platform::Linux => match env.facts.overcommit_memory.get() {
            Some(2) => Regime::LinuxStrictOvercommit,
            _ if noreserve => Regime::LinuxNoreserve,
            Some(1) => Regime::LinuxAlwaysOvercommit,
            _ => Regime::LinuxReserved,
        },
        Platform::Cygwin if noreserve => Regime::CygwinNoreserve,
        Platform::Cygwin => Regime::CygwinSbrk,
        Platform::MacOs => Regime::MacOs,
        Platform::Windows | Platform::Other(_) => Regime::OtherBaseline,
    }
}

fn decide_hard(env: &Env, ov: &Overrides) -> (Option<u64>, String) {
    match ov.hard_limit {
        Some(0) => (None, "override: no hard limit".into()),
        Some(k) => (
            Some(round_override(k)),
            format!("override: {}", fb(round_override(k))),
        ),
        None => match &env.bound {
            Some((b, what)) => {
                // Leave a margin for what is not GAP's workspace, but never more
                // than half the bound.
                let margin = (b / 8).clamp(64 * MIB, 2 * GIB);
                let k = tidy(b.saturating_sub(margin).max(b / 2));
                (
                    Some(k),
                    format!(
                        "{} below the {what}, so GAP stops cleanly instead of being killed",
                        fb(b - k)
                    ),
                )
            }
            None => (
                None,
                "none: no cgroup limit or rlimit bounds memory (GAP's default)".into(),
            ),
        },
    }
}

fn decide_pool(
    env: &Env,
    regime: Regime,
    ov: &Overrides,
    hard: Option<u64>,
) -> Result<(u64, String), PolicyError> {
    let overridden = ov.pool_size.is_some();
    let (mut pool, first) = match ov.pool_size {
        Some(0) if env.facts.platform == Platform::Linux => return Err(PolicyError::SbrkOnLinux),
        Some(p) => (
            round_override(p),
            format!("override: {}", fb(round_override(p))),
        ),
        None => pool_rule(env, regime),
    };
    let mut parts = vec![first];
    if pool > 0 {
        if let Some((r, name)) = env.rlimit {
            let cap = tidy(r / 2);
            if pool > cap {
                pool = cap;
                parts.push(format!(
                    "capped at half of {name} {} to leave room for the rest of the process",
                    fb(r)
                ));
            }
        }
        if let Some(k) = hard.filter(|&k| pool > k) {
            pool = k;
            parts.push(format!(
                "capped at the hard limit {} (GAP caps -s at -K)",
                fb(k)
            ));
        }
    }
    if overridden && env.is_strict() {
        if let Some(h) = env.headroom {
            if env.procs.saturating_mul(pool) > h {
                parts.push(format!(
                    "forks may fail: {} processes × pool exceed the commit headroom {} \
                     of overcommit mode 2",
                    env.procs,
                    fb(h)
                ));
            }
        }
    }
    Ok((pool, parts.join("; ")))
}

fn pool_rule(env: &Env, regime: Regime) -> (u64, String) {
    let free = |why: &str| {
        (
            tidy(env.eff_ram).max(GAP_MIN_POOL),
            format!(
                "{why}, so it spans {}; GAP grows it if needed",
                env.eff_what
            ),
        )
    };
    let procs = env.procs;
    match regime {
        Regime::LinuxNoreserve | Regime::CygwinNoreserve => {
            free("a MAP_NORESERVE pool costs no commit")
        }
        Regime::LinuxAlwaysOvercommit => free(
            "overcommit mode 1 never refuses memory, so even a reserved pool costs nothing at fork",
        ),
        Regime::MacOs => free("macOS maps lazily and does no commit accounting"),
        Regime::LinuxStrictOvercommit => match (env.commit_share(), env.headroom) {
            (Some(share), Some(h)) => {
                let fit = share.saturating_sub(FORK_OVERHEAD);
                if fit < GAP_MIN_POOL {
                    (
                        GAP_MIN_POOL,
                        format!(
                            "overcommit mode 2: the commit headroom {} is too small for {procs} \
                             processes × (pool + {} allowance); GAP's 16 MiB floor, forks may fail",
                            fb(h),
                            fb(FORK_OVERHEAD)
                        ),
                    )
                } else {
                    (
                        tidy(fit.min(env.eff_ram)).max(GAP_MIN_POOL),
                        format!(
                            "overcommit mode 2 charges the pool at every fork, so {procs} \
                             processes × (pool + {} allowance) fit in 3/4 of the commit headroom {}",
                            fb(FORK_OVERHEAD),
                            fb(h)
                        ),
                    )
                }
            }
            _ => (
                tidy(UNKNOWN_HEADROOM_POOL / procs).max(GAP_MIN_POOL),
                format!(
                    "overcommit mode 2 with unknown commit headroom: a small {} shared by \
                     {procs} processes",
                    fb(UNKNOWN_HEADROOM_POOL)
                ),
            ),
        },
        Regime::LinuxReserved => {
            let vmax = env
                .facts
                .rlimit_as
                .get()
                .unwrap_or(env.eff_ram.saturating_add(env.swap_total));
            let base = sage_rule(env.swap_free, env.available, vmax);
            let total = env.eff_ram.saturating_add(env.swap_total);
            let share = total / 4 * 3 / procs;
            if share < base {
                (
                    tidy(share).max(GAP_MIN_POOL),
                    format!(
                        "a reserved pool is charged at every fork, so {procs} processes share \
                         3/4 of RAM+swap ({})",
                        fb(total)
                    ),
                )
            } else {
                (
                    tidy(base),
                    "a reserved pool: SageMath's size on the effective memory \
                     (max(free swap/10, available RAM/50), at least 400 MiB)"
                        .into(),
                )
            }
        }
        Regime::CygwinSbrk => (
            0,
            "Cygwin without the mmap hook: a reserved pool would be committed again by \
             every emulated fork, so -s 0 (grow with sbrk) is the only safe choice there"
                .into(),
        ),
        Regime::OtherBaseline => {
            let vmax = env
                .facts
                .rlimit_as
                .get()
                .unwrap_or(env.eff_ram.saturating_add(env.swap_total));
            (
                tidy(sage_rule(env.swap_free, env.available, vmax)),
                "unknown platform: SageMath's conservative baseline".into(),
            )
        }
    }
}

fn decide_workspace(ov: &Overrides, pool: u64, hard: Option<u64>) -> (u64, String) {
    let (mut m, mut reason) = match ov.initial_workspace {
        Some(x) => (
            round_override(x),
            format!("override: {}", fb(round_override(x))),
        ),
        None => (
            GAP_DEFAULT_WORKSPACE,
            format!("GAP's default {}", fb(GAP_DEFAULT_WORKSPACE)),
        ),
    };
    if pool > 0 && m > pool {
        m = pool;
        reason.push_str(&format!(
            "; lowered to the pool size {} so GAP starts inside its pool",
            fb(pool)
        ));
    }
    if let Some(k) = hard.filter(|&k| m > k) {
        m = k;
        reason.push_str(&format!("; lowered to the hard limit {}", fb(k)));
    }
    (m, reason)
}

fn decide_warn(
    env: &Env,
    ov: &Overrides,
    pool: u64,
    workspace: u64,
    hard: Option<u64>,
) -> (u64, String) {
    let mut parts = Vec::new();
    let mut o = match ov.warn_limit {
        Some(x) => {
            parts.push(format!("override: {}", fb(round_override(x))));
            round_override(x)
        }
        None => {
            let mut o = GAP_MIN_WARN_DEFAULT.max(env.eff_ram / 4 * 3);
            parts.push(format!(
                "like GAP's default, max(2 GiB, 3/4 of {})",
                env.eff_what
            ));
            let workers = u64::from(env.facts.planned_workers);
            if workers >= 2 {
                o = (o / workers).max(MIN_WORKER_WARN);
                parts.push(format!("divided among {workers} planned workers"));
            }
            if let Some(share) = env.commit_share().filter(|_| env.is_strict()) {
                let cap = share.max(pool);
                if o > cap {
                    o = cap;
                    parts.push(
                        "kept within each process's share of the commit headroom, \
                         so GAP warns before mode 2 refuses growth"
                            .into(),
                    );
                }
            }
            if let Some(k) = hard {
                let cap = k / 8 * 7;
                if o > cap {
                    o = cap;
                    parts.push(format!("kept at 7/8 of the hard limit {}", fb(k)));
                }
            }
            tidy(o)
        }
    };
    if let Some(k) = hard.filter(|&k| o > k) {
        o = k;
        parts.push(format!("lowered to the hard limit {}", fb(k)));
    }
    if o < workspace {
        o = workspace;
        parts.push(format!("raised to the initial workspace {}", fb(workspace)));
    }
    (o, parts.join("; "))
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;

/// Each task's memory limit (GAP's `-o` in a forked worker; GAP's `-K` and
/// the parent's resident-memory watch act at twice that) for `workers` tasks
/// running at once under a cgroup memory `limit`: with every worker at its
/// kill point they use 3/4 of the limit, leaving the rest for the parent, so
/// a task that outgrows its share stops as `memory_limit` before the
/// kernel's OOM killer picks a victim.
pub fn task_memory_share(limit: u64, workers: u32) -> u64 {
    tidy(limit / 8 * 3 / u64::from(workers.max(1)))
}
