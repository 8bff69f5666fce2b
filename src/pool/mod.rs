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
    decide, format_bytes, gap_size, parse_size, sagemath_baseline, Overrides, PolicyError,
    PoolDecision, Reasons, Regime,
};
