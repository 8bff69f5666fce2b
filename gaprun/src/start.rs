//! The fast start: [`Gap::builder`] sizes GAP's memory with the pool policy
//! ([`crate::pool`]) and restores GAP's library from the saved-workspace
//! cache ([`crate::workspace`], feature `workspace`) before it calls
//! [`Gap::init`]. The `gaprun` command starts GAP through the same path, so
//! a program embedding GAP starts as fast as the command does (about 0.15 s
//! instead of 2 s once the cache holds a workspace for its configuration).
//!
//! [`Gap::init`] itself stays exact: it starts GAP with the options it is
//! given and nothing else.

use crate::error::{Error, Result};
use crate::pool::{apply_policy, MachineFacts, PoolDecision};
use crate::runtime::{Gap, GapOptions};
#[cfg(feature = "workspace")]
use crate::workspace::{self, CacheSettings, CacheStatus};
use std::path::PathBuf;
use std::sync::Mutex;

/// How to start GAP, with the policy and the cache on by default.
///
/// ```no_run
/// let gap = gaprun::Gap::builder().package("io").start()?;
/// # Ok::<(), gaprun::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GapBuilder {
    options: GapOptions,
    pool_policy: bool,
    planned_workers: u32,
    noreserve: Option<bool>,
    hugepages: Option<bool>,
    #[cfg(feature = "workspace")]
    cache: CacheSettings,
}

/// The options a [`GapBuilder`] would start GAP with, and how they were
/// chosen.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// What [`Gap::init`] is given.
    pub options: GapOptions,
    /// The machine facts and the policy's decision (with reasons), when
    /// the pool policy was applied.
    pub policy: Option<(MachineFacts, PoolDecision)>,
    /// What the workspace cache did (its `warnings` were all handled by
    /// starting without a cached workspace).
    #[cfg(feature = "workspace")]
    pub cache: CacheStatus,
}

impl Default for GapBuilder {
    fn default() -> Self {
        GapBuilder::new(GapOptions::default())
    }
}

/// The builder input and the options it resolved to, for the start that
/// initialised GAP: asking again with the same builder hands out another
/// handle (the policy reads the machine again and could decide otherwise).
static STARTED: Mutex<Option<(GapBuilder, GapOptions)>> = Mutex::new(None);

impl GapBuilder {
    /// Start from `options`: memory sizes left unset there are chosen by
    /// the pool policy, values set are kept.
    pub fn new(options: GapOptions) -> GapBuilder {
        GapBuilder {
            options,
            pool_policy: true,
            planned_workers: 0,
            noreserve: None,
            hugepages: None,
            #[cfg(feature = "workspace")]
            cache: CacheSettings::default(),
        }
    }

    /// Use these GAP roots instead of the ones this build was made against.
    pub fn roots(mut self, roots: Vec<PathBuf>) -> Self {
        self.options.roots = roots;
        self
    }

    /// Load `name` after start-up (it is saved into the cached workspace).
    pub fn package(mut self, name: impl Into<String>) -> Self {
        self.options.packages.push(name.into());
        self
    }

    /// Load GAP's default packages at start-up (on by default).
    pub fn autoload(mut self, on: bool) -> Self {
        self.options.autoload = on;
        self
    }

    /// The hard workspace limit in bytes (GAP's `-K`; the policy checks
    /// it is large enough for GAP to start).
    pub fn hard_limit(mut self, bytes: u64) -> Self {
        self.options.hard_limit = Some(bytes);
        self
    }

    /// Size GAP's memory pool with the pool policy (on by default). Off:
    /// GAP's own defaults for every size not set in the options.
    pub fn pool_policy(mut self, on: bool) -> Self {
        self.pool_policy = on;
        self
    }

    /// How many processes will be forked from this GAP (the policy keeps
    /// room for them); 0 by default.
    pub fn planned_workers(mut self, workers: u32) -> Self {
        self.planned_workers = workers;
        self
    }

    /// Map GAP's pool with `MAP_NORESERVE` (`Some(true)`), reserved
    /// (`Some(false)`), or as the policy decides (`None`, the default).
    pub fn noreserve(mut self, choice: Option<bool>) -> Self {
        self.noreserve = choice;
        self
    }

    /// Advise transparent huge pages for the pool, or not, or as the policy
    /// decides (`None`, the default).
    pub fn hugepages(mut self, choice: Option<bool>) -> Self {
        self.hugepages = choice;
        self
    }

    /// Restore GAP from the saved-workspace cache, building the workspace
    /// first when this configuration has none (on by default). The cache
    /// never makes a start fail: any problem means a normal start.
    #[cfg(feature = "workspace")]
    pub fn workspace_cache(mut self, on: bool) -> Self {
        self.cache.enabled = on;
        self
    }

    /// Keep cached workspaces in `dir` (default: `$GAPRUN_WORKSPACE_CACHE`,
    /// else the user's cache folder).
    #[cfg(feature = "workspace")]
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache.dir = Some(dir.into());
        self
    }

    /// The options GAP would be started with: the policy applied, then the
    /// cache consulted (and a workspace built in a forked child when the
    /// process has one thread and the cache has none yet). GAP is not
    /// started here. Fails only for a policy error (bad memory settings).
    pub fn prepare(&self) -> Result<Prepared> {
        let mut options = self.options.clone();
        let policy = if self.pool_policy {
            Some(apply_policy(
                &mut options,
                self.planned_workers,
                self.noreserve,
                self.hugepages,
            )?)
        } else {
            if let Some(noreserve) = self.noreserve {
                options.noreserve = noreserve;
            }
            if let Some(hugepages) = self.hugepages {
                options.hugepages = hugepages;
            }
            None
        };
        #[cfg(feature = "workspace")]
        let (options, cache) = workspace::prepare(options, &self.cache);
        Ok(Prepared {
            options,
            policy,
            #[cfg(feature = "workspace")]
            cache,
        })
    }

    /// Start GAP (see [`GapBuilder::prepare`]), or get another handle to
    /// the GAP this thread started with the same builder.
    pub fn start(self) -> Result<Gap<'static>> {
        let mut started = STARTED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((builder, options)) = started.as_ref() {
            if *builder == self {
                return Gap::init(options.clone());
            }
            return Err(Error::AlreadyInitialized(format!(
                "it was started from {builder:?}, now asked for {self:?}"
            )));
        }
        if Gap::initialized_options().is_some() {
            // Started by `Gap::init` directly: same options, same GAP.
            return Gap::init(self.options);
        }
        let prepared = self.prepare()?;
        let gap = Gap::init(prepared.options.clone())?;
        *started = Some((self, prepared.options));
        Ok(gap)
    }
}

impl Gap<'static> {
    /// A builder for the fast start: pool policy and workspace cache on,
    /// GAP's default options otherwise.
    pub fn builder() -> GapBuilder {
        GapBuilder::default()
    }
}
