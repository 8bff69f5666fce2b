//! Memory statistics of GAP's collector (GASMAN).
//!
//! ```
//! # let gap = gaprun::Gap::init(gaprun::GapOptions { autoload: false, ..Default::default() })?;
//! gap.collect(true)?;
//! let s = gap.memory_stats()?;
//! assert!(s.live_bytes > 0 && s.live_bytes <= s.pool_bytes);
//! # Ok::<(), gaprun::Error>(())
//! ```

use crate::error::Result;
use crate::raw::check;
use crate::sys;
use crate::token::Gap;

/// GASMAN's numbers; `live_*` describe the heap after the last collection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MemoryStats {
    /// Bytes of the memory pool GAP has mapped.
    pub pool_bytes: u64,
    /// Bytes allocated since start-up (GAP's `TotalMemoryAllocated()`).
    pub allocated_total: u64,
    /// Bags alive after the last full collection (`GasmanStatistics()`).
    pub live_bags: u64,
    /// Their size in bytes.
    pub live_bytes: u64,
    /// Objects rooted by Rust handles now.
    pub rooted: u64,
}

impl<'gap> Gap<'gap> {
    /// GASMAN's statistics (see [`MemoryStats`]).
    pub fn memory_stats(self) -> Result<MemoryStats> {
        let mut raw = sys::gaprun_memory_stats {
            pool_bytes: 0,
            allocated_total: 0,
        };
        // SAFETY: copies plain numbers.
        check(unsafe { sys::gaprun_memory_get_stats(&mut raw) })?;
        // GasmanStatistics() = rec(full := rec(livebags, livekb, ...),
        // partial := rec(...), nfull, npartial): the full collection's
        // numbers when there was one, else the partial's.
        let stats = self.call_fn::<serde_json::Value>("GasmanStatistics", ())?;
        let last = stats.get("full").or_else(|| stats.get("partial"));
        let field = |k: &str| last.and_then(|r| r.get(k)).and_then(|v| v.as_u64());
        let (bags, kb) = (field("livebags"), field("livekb"));
        Ok(MemoryStats {
            pool_bytes: raw.pool_bytes,
            allocated_total: raw.allocated_total,
            live_bags: bags.unwrap_or(0),
            live_bytes: kb.unwrap_or(0) * 1024,
            rooted: crate::obj::rooted_count() as u64,
        })
    }
}
