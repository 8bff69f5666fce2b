//! How big GAP's memory pool should be, and whether to map it with `MAP_NORESERVE`.
//!
//! Why this matters: GAP maps its whole pool (`-s`, 4 GB by default on 64-bit)
//! at start-up as one private writable mapping. Linux charges such a mapping in
//! full to `Committed_AS`, and charges it *again* for every child at `fork()`:
//! measured, a 3 GB pool plus 4 forks added about 12 GB of commit. Mapped with
//! `MAP_NORESERVE` the pool costs no commit at all (about 13 MB per child
//! instead) — except under strict overcommit (`vm.overcommit_memory=2`), where the
//! kernel ignores the flag, so a large pool makes forks fail with `ENOMEM` and
//! the only remedy is a smaller pool. GAP adds the flag itself only on Cygwin;
//! elsewhere a static build adds it through the host's mmap hook.
//!
//! The module is split so the interesting part is pure:
//! - [`facts`] reads the machine (a few small files, two `getrlimit` calls, no
//!   subprocess) into [`MachineFacts`], every value with its source;
//! - [`policy`] turns facts plus user [`Overrides`] into a [`PoolDecision`] —
//!   GAP's `-s -o -K -m` flags, `noreserve`, and one reason per value — without
//!   any I/O, so it is tested on injected facts.

pub mod facts;
pub mod policy;

pub use facts::{Fact, MachineFacts, Platform};
pub use policy::{
    decide, sagemath_baseline, Overrides, PolicyError, PoolDecision, Reasons, Regime,
};

/// Choose GAP's memory settings for `options` on this machine and write them
/// in: values already set in `options` are kept as overrides, the rest come
/// from the policy. `planned_workers` is how many processes will be forked
/// from this GAP (0 for none). Returns the decision with its reasons.
///
/// Must run before GAP starts: in overcommit mode 2 the policy sizes the pool
/// from the commit headroom it reads now.
pub fn apply_policy(
    options: &mut crate::GapOptions,
    planned_workers: u32,
    noreserve: Option<bool>,
    hugepages: Option<bool>,
) -> Result<(MachineFacts, PoolDecision), PolicyError> {
    let facts = MachineFacts::gather(planned_workers, crate::runtime::pool_hook_available());
    let overrides = Overrides {
        pool_size: options.pool_size,
        warn_limit: options.warn_limit,
        hard_limit: options.hard_limit,
        initial_workspace: options.initial_workspace,
        noreserve,
        hugepages,
    };
    let decision = decide(&facts, &overrides)?;
    options.pool_size = Some(decision.pool_size);
    options.warn_limit = Some(decision.warn_limit);
    options.hard_limit = decision.hard_limit;
    options.initial_workspace = Some(decision.initial_workspace);
    options.noreserve = decision.noreserve;
    options.hugepages = decision.hugepages;
    Ok((facts, decision))
}
