//! Facts about the machine that the pool policy needs, each with where it came from.
//!
//! Gathering reads only a handful of small kernel files (`/proc/meminfo`, three
//! `/proc/sys/vm` knobs, `/proc/self/cgroup` and the cgroup limit files on the way
//! up from the process's own cgroup) plus two `getrlimit` calls: it costs tens of
//! microseconds and starts no subprocess, so it can run on every start-up.
//! The parsers take file *contents* so they are tested on strings.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Limits at or above this are "no limit": cgroup v1 reports an unlimited group as
/// about 2^63 rounded down to a page, and no real machine has 2^60 bytes.
pub const UNLIMITED_THRESHOLD: u64 = 1 << 60;

/// Source text for a value that was injected (tests, `--facts` files) rather than read.
pub const INJECTED: &str = "injected";

/// The operating system family, as far as the pool is concerned.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// Linux (and Android): /proc, cgroups and the overcommit modes.
    Linux,
    /// macOS: no overcommit accounting; pools cost nothing until touched.
    #[serde(rename = "macos")]
    MacOs,
    /// Cygwin and MSYS2 (a Cygwin fork): POSIX on Windows with an emulated `fork`.
    Cygwin,
    /// Native Windows: GAP needs a POSIX layer, so gaprun refuses it.
    Windows,
    /// Any other OS, by its `std::env::consts::OS` name: baseline rules.
    Other(String),
}

impl Platform {
    /// The platform this binary was built for.
    pub fn current() -> Self {
        // A runtime string rather than cfg(target_os): older compilers do not know
        // the "cygwin" cfg value and would warn about it.
        Self::from_os_name(std::env::consts::OS)
    }

    /// Map a `std::env::consts::OS` value to a platform.
    pub fn from_os_name(os: &str) -> Self {
        match os {
            // Android has the same /proc files and overcommit rules.
            "linux" | "android" => Platform::Linux,
            "macos" => Platform::MacOs,
            "cygwin" | "msys" => Platform::Cygwin,
            "windows" => Platform::Windows,
            other => Platform::Other(other.to_string()),
        }
    }
}

/// One measured value and where it came from. `value: None` means unknown or, for
/// limits, "no limit"; `source` says which.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Fact<T> {
    /// The value, or `None` (unknown, or no limit: `source` says which).
    pub value: Option<T>,
    /// Where it came from: a file, a system call, [`INJECTED`], or why unknown.
    pub source: String,
}

impl<T> Fact<T> {
    /// A fact with its source.
    pub fn new(value: Option<T>, source: impl Into<String>) -> Self {
        Fact {
            value,
            source: source.into(),
        }
    }

    /// A value supplied by the caller instead of read from the machine.
    pub fn injected(value: T) -> Self {
        Fact::new(Some(value), INJECTED)
    }

    /// No value; `source` says why (not readable, not on this platform, unlimited).
    pub fn unknown(source: impl Into<String>) -> Self {
        Fact::new(None, source)
    }
}

impl<T: Copy> Fact<T> {
    /// The value, if known.
    pub fn get(&self) -> Option<T> {
        self.value
    }
}

/// Everything [`crate::pool::policy::decide`] looks at. Sizes are bytes.
///
/// Gather it *before* GAP is initialised: the policy counts the parent's own pool
/// among the processes that need commit headroom.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct MachineFacts {
    /// Which sizing rules apply.
    pub platform: Platform,
    /// Physical RAM (bytes); scales the pool and GAP's `-o` default.
    pub total_ram: Fact<u64>,
    /// RAM available without swapping (`MemAvailable`).
    pub available_ram: Fact<u64>,
    /// Swap space in total: counts towards the commit limit in mode 2.
    pub total_swap: Fact<u64>,
    /// Swap space still free.
    pub free_swap: Fact<u64>,
    /// Linux `vm.overcommit_memory`: 0 heuristic, 1 always, 2 strict.
    pub overcommit_memory: Fact<u8>,
    /// Linux `vm.overcommit_ratio` (percent of RAM counted in mode 2).
    pub overcommit_ratio: Fact<u64>,
    /// Linux `vm.overcommit_kbytes`, in kB as the kernel reports it (0 = use the ratio).
    pub overcommit_kbytes: Fact<u64>,
    /// `CommitLimit` from /proc/meminfo: what mode 2 lets the whole machine commit.
    pub commit_limit: Fact<u64>,
    /// `Committed_AS` from /proc/meminfo: what is committed now.
    pub committed_as: Fact<u64>,
    /// Hard cgroup limit: v2 `memory.max` or v1 `memory.limit_in_bytes`, the
    /// smallest on the way from this process's cgroup up to the root.
    pub cgroup_memory_max: Fact<u64>,
    /// cgroup v2 `memory.high` (throttling threshold), smallest on the way up.
    pub cgroup_memory_high: Fact<u64>,
    /// Soft `RLIMIT_AS` (`ulimit -v`); `None` = unlimited.
    pub rlimit_as: Fact<u64>,
    /// Soft `RLIMIT_DATA` (`ulimit -d`); `None` = unlimited. Since Linux 4.7 it also
    /// counts private writable mappings such as GAP's pool.
    pub rlimit_data: Fact<u64>,
    /// Whether this build can add `MAP_NORESERVE` to GAP's pool (a static libgap's
    /// renamed `mmap`, or the `mmap` interposer with a shared libgap). Told by the caller.
    pub hook_available: bool,
    /// How many worker processes will be forked from the initialised parent.
    pub planned_workers: u32,
    /// Linux transparent huge pages mode (`always`, `madvise` or `never`),
    /// from /sys/kernel/mm/transparent_hugepage/enabled.
    #[serde(default = "unknown_thp")]
    pub transparent_hugepages: Fact<ThpMode>,
}

fn unknown_thp() -> Fact<ThpMode> {
    Fact::unknown("not recorded")
}

/// The kernel's transparent-huge-page mode.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ThpMode {
    /// Huge pages for every suitable mapping.
    Always,
    /// Huge pages only where `madvise(MADV_HUGEPAGE)` asks (the hook can).
    Madvise,
    /// No transparent huge pages.
    Never,
}

/// Parse the `enabled` file: the bracketed word is the active mode.
pub fn parse_thp_mode(text: &str) -> Option<ThpMode> {
    let start = text.find('[')?;
    let end = text[start..].find(']')? + start;
    match &text[start + 1..end] {
        "always" => Some(ThpMode::Always),
        "madvise" => Some(ThpMode::Madvise),
        "never" => Some(ThpMode::Never),
        _ => None,
    }
}

impl MachineFacts {
    /// Facts with every value unknown, for callers (and tests) that fill in
    /// what they know with [`Fact::injected`].
    pub fn injected(platform: Platform) -> Self {
        let u = || Fact::unknown(INJECTED);
        MachineFacts {
            platform,
            total_ram: u(),
            available_ram: u(),
            total_swap: u(),
            free_swap: u(),
            overcommit_memory: Fact::unknown(INJECTED),
            overcommit_ratio: u(),
            overcommit_kbytes: u(),
            commit_limit: u(),
            committed_as: u(),
            cgroup_memory_max: u(),
            cgroup_memory_high: u(),
            rlimit_as: u(),
            rlimit_data: u(),
            hook_available: false,
            planned_workers: 0,
            transparent_hugepages: Fact::unknown(INJECTED),
        }
    }

    /// The tighter of the cgroup's `memory.max` and `memory.high`, if any.
    pub fn cgroup_limit(&self) -> Option<u64> {
        min_opt(self.cgroup_memory_max.get(), self.cgroup_memory_high.get())
    }

    /// Read the facts of this machine and process. Cheap: a few small files and
    /// two `getrlimit` calls; unknown values are `None` with the reason as source.
    pub fn gather(planned_workers: u32, hook_available: bool) -> Self {
        let platform = Platform::current();
        let na = "not available on this platform";
        let mut f = MachineFacts {
            total_ram: Fact::unknown(na),
            available_ram: Fact::unknown(na),
            total_swap: Fact::unknown(na),
            free_swap: Fact::unknown(na),
            overcommit_memory: Fact::unknown(na),
            overcommit_ratio: Fact::unknown(na),
            overcommit_kbytes: Fact::unknown(na),
            commit_limit: Fact::unknown(na),
            committed_as: Fact::unknown(na),
            cgroup_memory_max: Fact::unknown(na),
            cgroup_memory_high: Fact::unknown(na),
            rlimit_as: Fact::unknown(na),
            rlimit_data: Fact::unknown(na),
            hook_available,
            planned_workers,
            transparent_hugepages: Fact::unknown(na),
            platform,
        };
        if matches!(f.platform, Platform::Linux | Platform::Cygwin) {
            f.read_meminfo();
        }
        if f.platform == Platform::Linux {
            f.read_overcommit();
            f.read_cgroup();
            const THP: &str = "/sys/kernel/mm/transparent_hugepage/enabled";
            f.transparent_hugepages = match std::fs::read_to_string(THP) {
                Ok(text) => Fact::new(parse_thp_mode(&text), THP),
                Err(_) => Fact::unknown(format!("{THP} not readable")),
            };
        }
        #[cfg(target_os = "macos")]
        {
            f.total_ram = Fact::new(macos_memsize(), "sysctl hw.memsize");
        }
        f.read_rlimits();
        f
    }

    fn read_meminfo(&mut self) {
        const PATH: &str = "/proc/meminfo";
        let Ok(text) = std::fs::read_to_string(PATH) else {
            let why = format!("{PATH} not readable");
            self.total_ram = Fact::unknown(why.clone());
            self.available_ram = Fact::unknown(why.clone());
            self.total_swap = Fact::unknown(why.clone());
            self.free_swap = Fact::unknown(why.clone());
            self.commit_limit = Fact::unknown(why.clone());
            self.committed_as = Fact::unknown(why);
            return;
        };
        let m = parse_meminfo(&text);
        let src = |key: &str| format!("{PATH} {key}");
        self.total_ram = Fact::new(m.mem_total, src("MemTotal"));
        // Kernels before 3.14 have no MemAvailable; MemFree underestimates, which
        // is the safe direction.
        self.available_ram = match m.mem_available {
            Some(v) => Fact::new(Some(v), src("MemAvailable")),
            None => Fact::new(m.mem_free, src("MemFree (no MemAvailable)")),
        };
        self.total_swap = Fact::new(m.swap_total, src("SwapTotal"));
        self.free_swap = Fact::new(m.swap_free, src("SwapFree"));
        self.commit_limit = Fact::new(m.commit_limit, src("CommitLimit"));
        self.committed_as = Fact::new(m.committed_as, src("Committed_AS"));
    }

    fn read_overcommit(&mut self) {
        fn knob(name: &str) -> (Option<u64>, String) {
            let path = format!("/proc/sys/vm/{name}");
            match std::fs::read_to_string(&path) {
                Ok(text) => (parse_u64(&text), path),
                Err(_) => (None, format!("{path} not readable")),
            }
        }
        let (mode, src) = knob("overcommit_memory");
        self.overcommit_memory = Fact::new(mode.and_then(|m| u8::try_from(m).ok()), src);
        let (ratio, src) = knob("overcommit_ratio");
        self.overcommit_ratio = Fact::new(ratio, src);
        let (kbytes, src) = knob("overcommit_kbytes");
        self.overcommit_kbytes = Fact::new(kbytes, src);
    }

    fn read_cgroup(&mut self) {
        const SELF_CGROUP: &str = "/proc/self/cgroup";
        let Ok(text) = std::fs::read_to_string(SELF_CGROUP) else {
            let why = format!("{SELF_CGROUP} not readable");
            self.cgroup_memory_max = Fact::unknown(why.clone());
            self.cgroup_memory_high = Fact::unknown(why);
            return;
        };
        let membership = parse_proc_self_cgroup(&text);
        let files = cgroup_limit_files(&membership, Path::new(CGROUP_ROOT));
        let none = if files.is_empty() {
            "no cgroup memory controller"
        } else {
            "no cgroup memory limit"
        };
        let mut max = Fact::unknown(none);
        let mut high = Fact::unknown(none);
        for (path, knob) in files {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Some(limit) = parse_limit_value(&text) else {
                continue;
            };
            let slot = match knob {
                CgroupKnob::Max => &mut max,
                CgroupKnob::High => &mut high,
            };
            // `Option::is_none_or` would need Rust 1.82; the crate supports 1.80.
            if slot.value.map_or(true, |v| limit < v) {
                *slot = Fact::new(Some(limit), path.display().to_string());
            }
        }
        self.cgroup_memory_max = max;
        self.cgroup_memory_high = high;
    }

    fn read_rlimits(&mut self) {
        #[cfg(any(target_os = "linux", target_os = "android", target_os = "macos"))]
        {
            use nix::sys::resource::{getrlimit, Resource};
            let read = |res: Resource, name: &str| -> Fact<u64> {
                let src = format!("getrlimit({name})");
                match getrlimit(res) {
                    Ok((soft, _hard)) => {
                        // rlim_t is 32 bits on some 32-bit targets.
                        #[allow(clippy::unnecessary_cast)]
                        let unlimited =
                            soft == libc::RLIM_INFINITY || soft as u64 >= UNLIMITED_THRESHOLD;
                        #[allow(clippy::unnecessary_cast)]
                        let soft = soft as u64;
                        if unlimited {
                            Fact::unknown(format!("{src}: unlimited"))
                        } else {
                            Fact::new(Some(soft), src)
                        }
                    }
                    Err(e) => Fact::unknown(format!("{src} failed: {e}")),
                }
            };
            self.rlimit_as = read(Resource::RLIMIT_AS, "RLIMIT_AS");
            self.rlimit_data = read(Resource::RLIMIT_DATA, "RLIMIT_DATA");
        }
    }
}

#[cfg(target_os = "macos")]
fn macos_memsize() -> Option<u64> {
    let mut value: u64 = 0;
    let mut len = std::mem::size_of::<u64>();
    // SAFETY: hw.memsize is a 64-bit integer; we pass a buffer of exactly that
    // size and its length, and no new value.
    let rc = unsafe {
        libc::sysctlbyname(
            c"hw.memsize".as_ptr(),
            (&mut value as *mut u64).cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    (rc == 0 && len == std::mem::size_of::<u64>()).then_some(value)
}

fn min_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Where cgroup hierarchies are mounted on every mainstream distribution.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The values of /proc/meminfo that matter here, in bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meminfo {
    /// `MemTotal`
    pub mem_total: Option<u64>,
    /// `MemFree`
    pub mem_free: Option<u64>,
    /// `MemAvailable`
    pub mem_available: Option<u64>,
    /// `SwapTotal`
    pub swap_total: Option<u64>,
    /// `SwapFree`
    pub swap_free: Option<u64>,
    /// `CommitLimit`: what mode 2 lets all processes commit together.
    pub commit_limit: Option<u64>,
    /// `Committed_AS`: what is committed now.
    pub committed_as: Option<u64>,
}

/// Parse /proc/meminfo text (`Key:   123 kB` lines; Cygwin writes the same format).
pub fn parse_meminfo(text: &str) -> Meminfo {
    let mut m = Meminfo::default();
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let Some(number) = words.next().and_then(|w| w.parse::<u64>().ok()) else {
            continue;
        };
        let bytes = match words.next() {
            Some(unit) if unit.eq_ignore_ascii_case("kb") => number.saturating_mul(1024),
            _ => number,
        };
        let slot = match key.trim() {
            "MemTotal" => &mut m.mem_total,
            "MemFree" => &mut m.mem_free,
            "MemAvailable" => &mut m.mem_available,
            "SwapTotal" => &mut m.swap_total,
            "SwapFree" => &mut m.swap_free,
            "CommitLimit" => &mut m.commit_limit,
            "Committed_AS" => &mut m.committed_as,
            _ => continue,
        };
        *slot = Some(bytes);
    }
    m
}

/// Which cgroups this process is in, from /proc/self/cgroup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CgroupMembership {
    /// Path in the unified (v2) hierarchy, from the `0::PATH` line.
    pub v2: Option<String>,
    /// Path in the v1 hierarchy that has the `memory` controller.
    pub v1_memory: Option<String>,
}

/// Parse /proc/self/cgroup (`ID:CONTROLLERS:PATH` lines).
pub fn parse_proc_self_cgroup(text: &str) -> CgroupMembership {
    let mut m = CgroupMembership::default();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if id == "0" && controllers.is_empty() {
            m.v2 = Some(path.to_string());
        } else if controllers.split(',').any(|c| c == "memory") {
            m.v1_memory = Some(path.to_string());
        }
    }
    m
}

/// Which limit a cgroup file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupKnob {
    /// v2 `memory.max` or v1 `memory.limit_in_bytes`: exceeding it means OOM kill.
    Max,
    /// v2 `memory.high`: exceeding it means heavy throttling and reclaim.
    High,
}

/// The limit files to read, from the process's own cgroup up to the root
/// (ancestors' limits bind too). Walking up also finds the limit in a container
/// without a cgroup namespace, where /proc/self/cgroup shows the host's path but
/// the container's own cgroup is mounted as the root. A v1 memory controller wins
/// over the v2 line, because on hybrid systems v2 carries no memory controller.
pub fn cgroup_limit_files(m: &CgroupMembership, root: &Path) -> Vec<(PathBuf, CgroupKnob)> {
    let (base, rel, knobs): (PathBuf, &str, &[(&str, CgroupKnob)]) = if let Some(p) = &m.v1_memory {
        (
            root.join("memory"),
            p,
            &[("memory.limit_in_bytes", CgroupKnob::Max)],
        )
    } else if let Some(p) = &m.v2 {
        (
            root.to_path_buf(),
            p,
            &[
                ("memory.max", CgroupKnob::Max),
                ("memory.high", CgroupKnob::High),
            ],
        )
    } else {
        return Vec::new();
    };
    let parts: Vec<&str> = rel.split('/').filter(|s| !s.is_empty()).collect();
    // A path outside our mount (cgroup namespace) has ".." parts: only the root
    // of the mount is meaningful then.
    let depth = if parts.iter().any(|p| *p == ".." || *p == ".") {
        0
    } else {
        parts.len()
    };
    let mut out = Vec::with_capacity((depth + 1) * knobs.len());
    for level in (0..=depth).rev() {
        let mut dir = base.clone();
        dir.extend(&parts[..level]);
        for (file, knob) in knobs {
            out.push((dir.join(file), *knob));
        }
    }
    out
}

/// Parse a cgroup limit file: a byte count, or `max` (v2) / a huge number (v1)
/// for "no limit", which gives `None`.
pub fn parse_limit_value(text: &str) -> Option<u64> {
    parse_u64(text).filter(|&v| v < UNLIMITED_THRESHOLD)
}

/// Parse a single unsigned number such as a /proc/sys value.
pub fn parse_u64(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMINFO: &str = "\
MemTotal:       24683656 kB
MemFree:        24147924 kB
MemAvailable:   24398648 kB
Buffers:           20404 kB
Cached:           460716 kB
SwapCached:            0 kB
Active:           159028 kB
SwapTotal:       8388604 kB
SwapFree:        8388000 kB
Dirty:                 8 kB
CommitLimit:    20730432 kB
Committed_AS:      46252 kB
VmallocTotal:   34359738367 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
";

    #[test]
    fn meminfo_parses_kb_to_bytes() {
        let m = parse_meminfo(MEMINFO);
        assert_eq!(m.mem_total, Some(24683656 * 1024));
        assert_eq!(m.mem_free, Some(24147924 * 1024));
        assert_eq!(m.mem_available, Some(24398648 * 1024));
        assert_eq!(m.swap_total, Some(8388604 * 1024));
        assert_eq!(m.swap_free, Some(8388000 * 1024));
        assert_eq!(m.commit_limit, Some(20730432 * 1024));
        assert_eq!(m.committed_as, Some(46252 * 1024));
    }

    #[test]
    fn meminfo_old_kernel_without_memavailable_and_garbage() {
        let m = parse_meminfo("MemTotal: 1000 kB\nMemFree: 500 kB\nbogus line\nSwapTotal: x kB\n");
        assert_eq!(m.mem_total, Some(1000 * 1024));
        assert_eq!(m.mem_available, None);
        assert_eq!(m.swap_total, None);
        assert_eq!(parse_meminfo(""), Meminfo::default());
    }

    #[test]
    fn proc_self_cgroup_v1_hybrid() {
        let text = "\
9:name=systemd:/
8:pids:/
4:memory:/process_api/d67984a68928a584fd35b83cc41d68fd
2:cpu,cpuacct:/
0::/
";
        let m = parse_proc_self_cgroup(text);
        assert_eq!(
            m.v1_memory.as_deref(),
            Some("/process_api/d67984a68928a584fd35b83cc41d68fd")
        );
        assert_eq!(m.v2.as_deref(), Some("/"));
        let files = cgroup_limit_files(&m, Path::new("/sys/fs/cgroup"));
        let want: Vec<(PathBuf, CgroupKnob)> = [
            "/sys/fs/cgroup/memory/process_api/d67984a68928a584fd35b83cc41d68fd/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/process_api/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        ]
        .iter()
        .map(|p| (PathBuf::from(p), CgroupKnob::Max))
        .collect();
        assert_eq!(files, want);
    }

    #[test]
    fn proc_self_cgroup_v2_unified() {
        let m = parse_proc_self_cgroup("0::/user.slice/user-1000.slice/session-2.scope\n");
        assert_eq!(m.v1_memory, None);
        let files = cgroup_limit_files(&m, Path::new("/sys/fs/cgroup"));
        assert_eq!(files.len(), 8);
        assert_eq!(
            files[0],
            (
                PathBuf::from(
                    "/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope/memory.max"
                ),
                CgroupKnob::Max
            )
        );
        assert_eq!(
            files[1],
            (
                PathBuf::from(
                    "/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope/memory.high"
                ),
                CgroupKnob::High
            )
        );
        assert_eq!(files[7].0, PathBuf::from("/sys/fs/cgroup/memory.high"));
    }

    #[test]
    fn proc_self_cgroup_outside_namespace_and_empty() {
        let m = parse_proc_self_cgroup("0::/../../system.slice/docker.service\n");
        let files = cgroup_limit_files(&m, Path::new("/sys/fs/cgroup"));
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].0, PathBuf::from("/sys/fs/cgroup/memory.max"));
        let none = parse_proc_self_cgroup("");
        assert!(cgroup_limit_files(&none, Path::new("/sys/fs/cgroup")).is_empty());
    }

    #[test]
    fn limit_values() {
        assert_eq!(parse_limit_value("max\n"), None);
        assert_eq!(parse_limit_value("9223372036854771712\n"), None);
        assert_eq!(parse_limit_value("1152921504606846976"), None); // 2^60
        assert_eq!(parse_limit_value("2147483648\n"), Some(2 << 30));
        assert_eq!(parse_limit_value("  536870912 "), Some(512 << 20));
        assert_eq!(parse_limit_value("lots"), None);
        assert_eq!(parse_u64("2\n"), Some(2));
    }

    #[test]
    fn platform_names() {
        assert_eq!(Platform::from_os_name("linux"), Platform::Linux);
        assert_eq!(Platform::from_os_name("macos"), Platform::MacOs);
        assert_eq!(Platform::from_os_name("cygwin"), Platform::Cygwin);
        assert_eq!(Platform::from_os_name("windows"), Platform::Windows);
        assert_eq!(
            Platform::from_os_name("freebsd"),
            Platform::Other("freebsd".into())
        );
    }

    #[test]
    fn facts_round_trip_through_json() {
        let mut f = MachineFacts::injected(Platform::Other("haiku".into()));
        f.total_ram = Fact::injected(1 << 30);
        f.overcommit_memory = Fact::injected(2);
        f.planned_workers = 3;
        let json = serde_json::to_string(&f).unwrap();
        assert!(json.contains("\"source\":\"injected\""));
        let back: MachineFacts = serde_json::from_str(&json).unwrap();
        assert_eq!(back, f);
        let mac = serde_json::to_string(&Platform::MacOs).unwrap();
        assert_eq!(mac, "\"macos\"");
    }

    #[test]
    fn cgroup_limit_is_tighter_of_max_and_high() {
        let mut f = MachineFacts::injected(Platform::Linux);
        assert_eq!(f.cgroup_limit(), None);
        f.cgroup_memory_high = Fact::injected(3 << 30);
        assert_eq!(f.cgroup_limit(), Some(3 << 30));
        f.cgroup_memory_max = Fact::injected(2 << 30);
        assert_eq!(f.cgroup_limit(), Some(2 << 30));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn gather_on_this_machine_is_sane_and_cheap() {
        let f = MachineFacts::gather(4, true);
        assert_eq!(f.platform, Platform::Linux);
        assert!(matches!(f.overcommit_memory.get(), Some(0..=2)), "{f:?}");
        assert!(f.total_ram.get().unwrap_or(0) > 0, "{f:?}");
        assert_eq!(f.total_ram.source, "/proc/meminfo MemTotal");
        assert_eq!(f.planned_workers, 4);
        assert!(f.hook_available);
        let n = 100;
        let start = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(MachineFacts::gather(0, false));
        }
        let avg = start.elapsed() / n;
        assert!(avg.as_micros() < 5000, "gather took {avg:?} on average");
    }

    #[test]
    fn thp_mode_is_the_bracketed_word() {
        assert_eq!(
            parse_thp_mode("always [madvise] never\n"),
            Some(ThpMode::Madvise)
        );
        assert_eq!(
            parse_thp_mode("[always] madvise never"),
            Some(ThpMode::Always)
        );
        assert_eq!(
            parse_thp_mode("always madvise [never]"),
            Some(ThpMode::Never)
        );
        assert_eq!(parse_thp_mode("garbage"), None);
    }
}
