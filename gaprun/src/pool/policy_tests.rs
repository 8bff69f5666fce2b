//! Table-driven and property tests of the pool policy on injected facts:
//! Linux overcommit modes 0/1/2, cgroup limits, rlimits, tiny and huge
//! machines, swap, macOS, Cygwin, Windows, planned workers.

use super::*;
use crate::pool::facts::Fact;
use crate::size::{format_bytes, gap_flag_value as gap_size};

/// The size parser, as the policy's tests read it.
fn parse_size(text: &str) -> Option<u64> {
    crate::size::parse_size(text).ok()
}
use proptest::prelude::*;

/// A Linux machine: 95% of RAM available, all swap free, CommitLimit as the
/// kernel computes it with ratio 50, 1% of RAM committed.
fn linux(ram: u64, swap: u64, mode: u8, hook: bool, workers: u32) -> MachineFacts {
    let mut f = MachineFacts::injected(Platform::Linux);
    f.total_ram = Fact::injected(ram);
    f.available_ram = Fact::injected(ram / 100 * 95);
    f.total_swap = Fact::injected(swap);
    f.free_swap = Fact::injected(swap);
    f.overcommit_memory = Fact::injected(mode);
    f.overcommit_ratio = Fact::injected(50);
    f.overcommit_kbytes = Fact::injected(0);
    f.commit_limit = Fact::injected(swap + ram / 2);
    f.committed_as = Fact::injected(ram / 100);
    f.hook_available = hook;
    f.planned_workers = workers;
    f
}

fn with(mut f: MachineFacts, change: impl FnOnce(&mut MachineFacts)) -> MachineFacts {
    change(&mut f);
    f
}

fn other(platform: Platform, ram: Option<u64>, hook: bool) -> MachineFacts {
    let mut f = MachineFacts::injected(platform);
    if let Some(r) = ram {
        f.total_ram = Fact::injected(r);
    }
    f.hook_available = hook;
    f
}

fn reason<'a>(d: &'a PoolDecision, field: &str) -> &'a str {
    match field {
        "pool_size" => &d.reasons.pool_size,
        "warn_limit" => &d.reasons.warn_limit,
        "hard_limit" => &d.reasons.hard_limit,
        "initial_workspace" => &d.reasons.initial_workspace,
        "noreserve" => &d.reasons.noreserve,
        _ => panic!("no field {field}"),
    }
}

struct Want {
    regime: Regime,
    noreserve: bool,
    /// Inclusive bounds on the pool.
    pool: (u64, u64),
    /// Inclusive bounds on the hard limit, `None` = no hard limit.
    hard: Option<(u64, u64)>,
    /// (field, text the reason must contain)
    said: &'static [(&'static str, &'static str)],
    extra: fn(&PoolDecision),
}

struct Row {
    name: &'static str,
    facts: MachineFacts,
    ov: Overrides,
    want: Result<Want, PolicyError>,
}

fn row(name: &'static str, facts: MachineFacts, want: Want) -> Row {
    Row {
        name,
        facts,
        ov: Overrides::default(),
        want: Ok(want),
    }
}

fn nothing(_: &PoolDecision) {}

fn rows() -> Vec<Row> {
    use Regime::*;
    let g24 = 24 * GIB;
    vec![
        row(
            "mode 0, hook, 24 GiB, no workers",
            linux(g24, 0, 0, true, 0),
            Want {
                regime: LinuxNoreserve,
                noreserve: true,
                pool: (g24, g24),
                hard: None,
                said: &[
                    ("pool_size", "MAP_NORESERVE"),
                    ("noreserve", "hook"),
                    ("hard_limit", "none"),
                ],
                extra: |d| {
                    assert_eq!(d.warn_limit, 18 * GIB);
                    assert_eq!(d.initial_workspace, 128 * MIB);
                },
            },
        ),
        row(
            "mode 1, hook, 8 workers",
            linux(g24, 0, 1, true, 8),
            Want {
                regime: LinuxNoreserve,
                noreserve: true,
                pool: (g24, g24),
                hard: None,
                said: &[
                    ("pool_size", "MAP_NORESERVE"),
                    ("warn_limit", "8 planned workers"),
                ],
                extra: |d| assert_eq!(d.warn_limit, 18 * GIB / 8),
            },
        ),
        row(
            "mode 0, no hook, 8 workers: SageMath size",
            linux(g24, 0, 0, false, 8),
            Want {
                regime: LinuxReserved,
                noreserve: false,
                pool: (400 * MIB, 500 * MIB),
                hard: None,
                said: &[("pool_size", "SageMath"), ("noreserve", "no mmap hook")],
                extra: |d| assert!(9 * d.pool_size <= 24 * GIB),
            },
        ),
        row(
            "mode 0, no hook, 64 workers: shared RAM",
            linux(g24, 0, 0, false, 64),
            Want {
                regime: LinuxReserved,
                noreserve: false,
                pool: (250 * MIB, 24 * GIB / 4 * 3 / 65),
                hard: None,
                said: &[("pool_size", "65 processes share")],
                extra: |d| assert!(65 * d.pool_size <= 24 * GIB),
            },
        ),
        row(
            "mode 1, no hook: reserved but never refused",
            linux(g24, 0, 1, false, 8),
            Want {
                regime: LinuxAlwaysOvercommit,
                noreserve: false,
                pool: (g24, g24),
                hard: None,
                said: &[("pool_size", "mode 1")],
                extra: nothing,
            },
        ),
        row(
            "mode 2, measured machine, 4 workers",
            with(linux(g24, 0, 2, true, 4), |f| {
                f.commit_limit = Fact::injected(12 * GIB);
                f.committed_as = Fact::injected(46 * MIB);
            }),
            Want {
                regime: LinuxStrictOvercommit,
                noreserve: false,
                pool: (GIB, 2 * GIB),
                hard: None,
                said: &[
                    ("pool_size", "mode 2"),
                    ("noreserve", "mode 2"),
                    ("warn_limit", "GAP's default"),
                ],
                extra: |d| {
                    assert!(5 * (d.pool_size + FORK_OVERHEAD) <= 12 * GIB - 46 * MIB);
                    assert!(d.pool_size < 3 * GIB, "3g made the third fork fail");
                },
            },
        ),
        row(
            "mode 2, 1 worker",
            linux(g24, 0, 2, false, 1),
            Want {
                regime: LinuxStrictOvercommit,
                noreserve: false,
                pool: (4 * GIB, 5 * GIB),
                hard: None,
                said: &[("pool_size", "2 processes")],
                extra: |d| assert!(2 * d.pool_size <= 12 * GIB),
            },
        ),
        row(
            "mode 2, 64 workers, 2 GiB headroom: floor",
            with(linux(g24, 0, 2, true, 64), |f| {
                f.commit_limit = Fact::injected(2 * GIB);
                f.committed_as = Fact::injected(0);
            }),
            Want {
                regime: LinuxStrictOvercommit,
                noreserve: false,
                pool: (16 * MIB, 16 * MIB),
                hard: None,
                said: &[
                    ("pool_size", "forks may fail"),
                    ("initial_workspace", "lowered to the pool"),
                ],
                extra: |d| {
                    assert_eq!(d.initial_workspace, 16 * MIB);
                    assert!(d.warn_limit >= d.initial_workspace);
                },
            },
        ),
        row(
            "mode 2, 512 MiB machine, no swap",
            linux(512 * MIB, 0, 2, false, 0),
            Want {
                regime: LinuxStrictOvercommit,
                noreserve: false,
                pool: (100 * MIB, 130 * MIB),
                hard: None,
                said: &[("pool_size", "3/4 of the commit headroom")],
                extra: nothing,
            },
        ),
        row(
            "mode 2, headroom unknown",
            with(linux(g24, 0, 2, false, 3), |f| {
                f.committed_as = Fact::unknown("not readable");
            }),
            Want {
                regime: LinuxStrictOvercommit,
                noreserve: false,
                pool: (64 * MIB, 64 * MIB),
                hard: None,
                said: &[("pool_size", "unknown commit headroom")],
                extra: nothing,
            },
        ),
        row(
            "cgroup 2 GiB below 24 GiB RAM",
            with(linux(g24, 0, 0, true, 0), |f| {
                f.cgroup_memory_max = Fact::injected(2 * GIB);
            }),
            Want {
                regime: LinuxNoreserve,
                noreserve: true,
                pool: (GIB, 2 * GIB),
                hard: Some((3 * GIB / 2, 2 * GIB - 1)),
                said: &[
                    ("pool_size", "cgroup limit 2 GiB"),
                    ("hard_limit", "cgroup limit"),
                    ("warn_limit", "7/8 of the hard limit"),
                ],
                extra: |d| assert!(d.warn_limit < d.hard_limit.unwrap()),
            },
        ),
        row(
            "cgroup memory.high 4 GiB, 8 workers, no hook",
            with(linux(g24, 0, 0, false, 8), |f| {
                f.cgroup_memory_high = Fact::injected(4 * GIB);
            }),
            Want {
                regime: LinuxReserved,
                noreserve: false,
                pool: (300 * MIB, 400 * MIB),
                hard: Some((3 * GIB, 4 * GIB - 1)),
                said: &[("pool_size", "9 processes share")],
                extra: |d| assert!(9 * d.pool_size <= 4 * GIB),
            },
        ),
        row(
            "ulimit -v 4 GiB",
            with(linux(g24, 0, 0, true, 0), |f| {
                f.rlimit_as = Fact::injected(4 * GIB);
            }),
            Want {
                regime: LinuxNoreserve,
                noreserve: true,
                pool: (2 * GIB, 2 * GIB),
                hard: Some((3 * GIB, 4 * GIB - 1)),
                said: &[
                    ("pool_size", "half of RLIMIT_AS"),
                    ("hard_limit", "RLIMIT_AS"),
                ],
                extra: |d| assert_eq!(d.sagemath_baseline, 4 * GIB / 10 / KIB * KIB),
            },
        ),
        row(
            "ulimit -d 1 GiB",
            with(linux(g24, 0, 0, true, 0), |f| {
                f.rlimit_data = Fact::injected(GIB);
            }),
            Want {
                regime: LinuxNoreserve,
                noreserve: true,
                pool: (512 * MIB, 512 * MIB),
                hard: Some((512 * MIB, GIB - 1)),
                said: &[("pool_size", "RLIMIT_DATA")],
                extra: nothing,
            },
        ),
        row(
            "512 MiB machine, no swap, no hook",
            linux(512 * MIB, 0, 0, false, 0),
            Want {
                regime: LinuxReserved,
                noreserve: false,
                pool: (384 * MIB, 384 * MIB),
                hard: None,
                said: &[("pool_size", "3/4 of RAM+swap")],
                extra: |d| {
                    assert_eq!(d.initial_workspace, 128 * MIB);
                    assert_eq!(d.warn_limit, 2 * GIB);
                    assert_eq!(d.sagemath_baseline, 400 * MIB);
                },
            },
        ),
        row(
            "512 MiB machine, hook",
            linux(512 * MIB, 0, 0, true, 1),
            Want {
                regime: LinuxNoreserve,
                noreserve: true,
                pool: (512 * MIB, 512 * MIB),
                hard: None,
                said: &[("pool_size", "RAM 512 MiB")],
                extra: nothing,
            },
        ),
        row(
            "1 TiB machine, 2 TiB swap, no hook, 1 worker",
            linux(TIB, 2 * TIB, 0, false, 1),
            Want {
                regime: LinuxReserved,
                noreserve: false,
                pool: (200 * GIB, 205 * GIB),
                hard: None,
                said: &[("pool_size", "SageMath")],
                extra: |d| assert_eq!(d.pool_size / GIB, d.sagemath_baseline / GIB),
            },
        ),
        row(
            "1 TiB machine, hook, 64 workers",
            linux(TIB, 0, 0, true, 64),
            Want {
                regime: LinuxNoreserve,
                noreserve: true,
                pool: (TIB, TIB),
                hard: None,
                said: &[("warn_limit", "64 planned workers")],
                extra: |d| assert_eq!(d.warn_limit, 12 * GIB),
            },
        ),
        row(
            "big swap, mode 2, 8 workers",
            linux(16 * GIB, 64 * GIB, 2, true, 8),
            Want {
                regime: LinuxStrictOvercommit,
                noreserve: false,
                pool: (5 * GIB, 8 * GIB),
                hard: None,
                said: &[("pool_size", "9 processes")],
                extra: |d| assert!(9 * d.pool_size <= 72 * GIB),
            },
        ),
        row(
            "Linux, overcommit mode unknown",
            with(linux(8 * GIB, 0, 0, true, 0), |f| {
                f.overcommit_memory = Fact::unknown("not readable");
            }),
            Want {
                regime: LinuxNoreserve,
                noreserve: true,
                pool: (8 * GIB, 8 * GIB),
                hard: None,
                said: &[],
                extra: nothing,
            },
        ),
        row(
            "macOS 16 GiB",
            other(Platform::MacOs, Some(16 * GIB), false),
            Want {
                regime: MacOs,
                noreserve: false,
                pool: (16 * GIB, 16 * GIB),
                hard: None,
                said: &[("pool_size", "macOS"), ("noreserve", "macOS")],
                extra: nothing,
            },
        ),
        row(
            "Cygwin with hook",
            other(Platform::Cygwin, Some(8 * GIB), true),
            Want {
                regime: CygwinNoreserve,
                noreserve: true,
                pool: (8 * GIB, 8 * GIB),
                hard: None,
                said: &[("noreserve", "MAP_NORESERVE")],
                extra: nothing,
            },
        ),
        row(
            "Cygwin without hook",
            other(Platform::Cygwin, Some(8 * GIB), false),
            Want {
                regime: CygwinSbrk,
                noreserve: false,
                pool: (0, 0),
                hard: None,
                said: &[("pool_size", "-s 0")],
                extra: |d| {
                    assert_eq!(d.gap_args()[..2], ["-s", "0"]);
                    assert_eq!(d.initial_workspace, 128 * MIB);
                },
            },
        ),
        Row {
            name: "native Windows",
            facts: other(Platform::Windows, Some(8 * GIB), true),
            ov: Overrides::default(),
            want: Err(PolicyError::WindowsUnsupported),
        },
        row(
            "unknown platform, RAM unknown",
            other(Platform::Other("haiku".into()), None, false),
            Want {
                regime: OtherBaseline,
                noreserve: false,
                pool: (400 * MIB, 400 * MIB),
                hard: None,
                said: &[("pool_size", "SageMath"), ("warn_limit", "assumed")],
                extra: nothing,
            },
        ),
        Row {
            name: "override pool above override hard limit: clamped",
            facts: linux(g24, 0, 0, true, 0),
            ov: Overrides {
                pool_size: Some(3 * GIB),
                hard_limit: Some(2 * GIB),
                ..Default::default()
            },
            want: Ok(Want {
                regime: LinuxNoreserve,
                noreserve: true,
                pool: (2 * GIB, 2 * GIB),
                hard: Some((2 * GIB, 2 * GIB)),
                said: &[
                    ("pool_size", "override: 3 GiB"),
                    ("pool_size", "capped at the hard limit"),
                    ("hard_limit", "override"),
                ],
                extra: nothing,
            }),
        },
        Row {
            name: "override noreserve without hook",
            facts: linux(g24, 0, 0, false, 0),
            ov: Overrides {
                noreserve: Some(true),
                ..Default::default()
            },
            want: Err(PolicyError::NoreserveUnavailable),
        },
        Row {
            name: "override -s 0 on Linux",
            facts: linux(g24, 0, 0, true, 0),
            ov: Overrides {
                pool_size: Some(0),
                ..Default::default()
            },
            want: Err(PolicyError::SbrkOnLinux),
        },
        Row {
            name: "override -K below what GAP needs to start",
            facts: linux(g24, 0, 0, true, 0),
            ov: Overrides {
                hard_limit: Some(10 * MIB),
                ..Default::default()
            },
            want: Err(PolicyError::HardLimitTooSmall(10 * MIB)),
        },
        Row {
            name: "override -K at the minimum",
            facts: linux(g24, 0, 0, true, 0),
            ov: Overrides {
                hard_limit: Some(GAP_MIN_HARD_LIMIT),
                ..Default::default()
            },
            want: Ok(Want {
                regime: LinuxNoreserve,
                noreserve: true,
                pool: (GAP_MIN_HARD_LIMIT, GAP_MIN_HARD_LIMIT),
                hard: Some((GAP_MIN_HARD_LIMIT, GAP_MIN_HARD_LIMIT)),
                said: &[("hard_limit", "override")],
                extra: nothing,
            }),
        },
        Row {
            name: "override noreserve off with hook",
            facts: linux(g24, 0, 0, true, 8),
            ov: Overrides {
                noreserve: Some(false),
                ..Default::default()
            },
            want: Ok(Want {
                regime: LinuxReserved,
                noreserve: false,
                pool: (400 * MIB, 500 * MIB),
                hard: None,
                said: &[("noreserve", "override (off)")],
                extra: nothing,
            }),
        },
        Row {
            name: "override noreserve on in mode 2",
            facts: linux(g24, 0, 2, true, 0),
            ov: Overrides {
                noreserve: Some(true),
                ..Default::default()
            },
            want: Ok(Want {
                regime: LinuxStrictOvercommit,
                noreserve: true,
                pool: (GIB, 12 * GIB),
                hard: None,
                said: &[("noreserve", "ignores MAP_NORESERVE")],
                extra: nothing,
            }),
        },
        Row {
            name: "all overrides, consistent",
            facts: linux(g24, 0, 0, true, 0),
            ov: Overrides {
                pool_size: Some(GIB),
                warn_limit: Some(3 * GIB),
                hard_limit: Some(8 * GIB),
                initial_workspace: Some(64 * MIB),
                noreserve: None,
                hugepages: None,
            },
            want: Ok(Want {
                regime: LinuxNoreserve,
                noreserve: true,
                pool: (GIB, GIB),
                hard: Some((8 * GIB, 8 * GIB)),
                said: &[
                    ("pool_size", "override"),
                    ("warn_limit", "override"),
                    ("hard_limit", "override"),
                    ("initial_workspace", "override"),
                ],
                extra: |d| {
                    assert_eq!(
                        d.gap_args(),
                        ["-s", "1048576k", "-o", "3145728k", "-K", "8388608k", "-m", "65536k"]
                    );
                },
            }),
        },
        Row {
            name: "override pool too big for mode 2",
            facts: linux(g24, 0, 2, false, 4),
            ov: Overrides {
                pool_size: Some(3 * GIB),
                ..Default::default()
            },
            want: Ok(Want {
                regime: LinuxStrictOvercommit,
                noreserve: false,
                pool: (3 * GIB, 3 * GIB),
                hard: None,
                said: &[("pool_size", "forks may fail")],
                extra: nothing,
            }),
        },
        Row {
            name: "override warn limit above the cgroup's hard limit",
            facts: with(linux(g24, 0, 0, true, 0), |f| {
                f.cgroup_memory_max = Fact::injected(4 * GIB)
            }),
            ov: Overrides {
                warn_limit: Some(10 * GIB),
                ..Default::default()
            },
            want: Ok(Want {
                regime: LinuxNoreserve,
                noreserve: true,
                pool: (3 * GIB, 4 * GIB),
                hard: Some((3 * GIB, 4 * GIB)),
                said: &[("warn_limit", "lowered to the hard limit")],
                extra: |d| assert_eq!(Some(d.warn_limit), d.hard_limit),
            }),
        },
        Row {
            name: "override no hard limit despite a cgroup",
            facts: with(linux(g24, 0, 0, true, 0), |f| {
                f.cgroup_memory_max = Fact::injected(4 * GIB)
            }),
            ov: Overrides {
                hard_limit: Some(0),
                ..Default::default()
            },
            want: Ok(Want {
                regime: LinuxNoreserve,
                noreserve: true,
                pool: (4 * GIB, 4 * GIB),
                hard: None,
                said: &[("hard_limit", "override: no hard limit")],
                extra: nothing,
            }),
        },
    ]
}

#[test]
fn table() {
    for Row {
        name,
        facts,
        ov,
        want,
    } in rows()
    {
        let got = decide(&facts, &ov);
        let want = match want {
            Err(e) => {
                assert_eq!(got, Err(e), "{name}");
                continue;
            }
            Ok(w) => w,
        };
        let d = got.unwrap_or_else(|e| panic!("{name}: {e}"));
        let ctx = || format!("{name}: {d:#?}");
        assert_eq!(d.regime, want.regime, "{}", ctx());
        assert_eq!(d.noreserve, want.noreserve, "{}", ctx());
        assert!(
            (want.pool.0..=want.pool.1).contains(&d.pool_size),
            "pool {} not in {}..={}: {}",
            fb(d.pool_size),
            fb(want.pool.0),
            fb(want.pool.1),
            ctx()
        );
        match (want.hard, d.hard_limit) {
            (None, None) => {}
            (Some((lo, hi)), Some(k)) => assert!((lo..=hi).contains(&k), "{}", ctx()),
            _ => panic!("hard limit: {}", ctx()),
        }
        for (field, text) in want.said {
            assert!(
                reason(&d, field).contains(text),
                "{field} should say {text:?}: {}",
                ctx()
            );
        }
        assert!(d.initial_workspace <= d.warn_limit, "{}", ctx());
        (want.extra)(&d);
    }
}

#[test]
fn decision_json_has_stable_names() {
    let d = decide(&linux(8 * GIB, 0, 0, true, 2), &Overrides::default()).unwrap();
    let v = serde_json::to_value(&d).unwrap();
    for key in [
        "pool_size",
        "warn_limit",
        "hard_limit",
        "initial_workspace",
        "noreserve",
        "regime",
        "sagemath_baseline",
        "reasons",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    assert_eq!(v["regime"], "linux_noreserve");
    assert!(v["reasons"]["pool_size"].is_string());
    let back: PoolDecision = serde_json::from_value(v).unwrap();
    assert_eq!(back, d);
}

#[test]
fn overrides_from_partial_json_and_precedence() {
    let env: Overrides =
        serde_json::from_str(r#"{"pool_size": 1024, "noreserve": false}"#).unwrap();
    let cli = Overrides {
        pool_size: Some(2048),
        ..Default::default()
    };
    let merged = cli.or(env);
    assert_eq!(merged.pool_size, Some(2048));
    assert_eq!(merged.noreserve, Some(false));
    assert_eq!(merged.hard_limit, None);
}

#[test]
fn sizes_format_and_parse() {
    assert_eq!(format_bytes(0), "0 B");
    assert_eq!(format_bytes(300), "300 B");
    assert_eq!(format_bytes(512 * MIB), "512 MiB");
    assert_eq!(format_bytes(3 * GIB / 2), "1.5 GiB");
    assert_eq!(format_bytes(TIB), "1 TiB");
    assert_eq!(parse_size("3145728k"), Some(3 * GIB));
    assert_eq!(parse_size("3g"), Some(3 * GIB));
    assert_eq!(parse_size("64M"), Some(64 * MIB));
    assert_eq!(parse_size("1t"), Some(TIB));
    assert_eq!(parse_size("4096"), Some(4096));
    assert_eq!(parse_size("0"), Some(0));
    for bad in ["", "k", "-1k", "1.5g", "12q", "99999999999999999999g"] {
        assert_eq!(parse_size(bad), None, "{bad}");
    }
    assert_eq!(gap_size(0), "0");
    assert_eq!(gap_size(GIB), "1048576k");
}

#[test]
fn errors_explain_themselves() {
    let msg = PolicyError::WindowsUnsupported.to_string();
    assert!(msg.contains("Windows") && msg.contains("Cygwin"), "{msg}");
}

/// Read `-s -o -K -m` back from GAP arguments.
fn parse_args(args: &[String]) -> (u64, u64, Option<u64>, u64) {
    let (mut s, mut o, mut k, mut m) = (None, None, None, None);
    for pair in args.chunks(2) {
        let v = parse_size(&pair[1]).expect("size");
        match pair[0].as_str() {
            "-s" => s = Some(v),
            "-o" => o = Some(v),
            "-K" => k = Some(v),
            "-m" => m = Some(v),
            f => panic!("unexpected flag {f}"),
        }
    }
    (s.unwrap(), o.unwrap(), k, m.unwrap())
}

fn arb_linux() -> impl Strategy<Value = MachineFacts> {
    (
        (
            64 * MIB..=2 * TIB,
            0u64..=100,
            prop::option::of(0..=4 * TIB),
        ),
        (0u8..=2, 0u64..=150),
        (
            prop::option::of(32 * MIB..=4 * TIB),
            prop::option::of(32 * MIB..=4 * TIB),
            prop::option::of(32 * MIB..=4 * TIB),
            prop::option::of(32 * MIB..=4 * TIB),
        ),
        (any::<bool>(), 0u32..=128),
    )
        .prop_map(
            |(
                (ram, avail_pct, swap),
                (mode, used_pct),
                (cg_max, cg_high, r_as, r_data),
                (hook, workers),
            )| {
                let swap = swap.unwrap_or(0);
                let mut f = linux(ram, swap, mode, hook, workers);
                f.available_ram = Fact::injected(ram / 100 * avail_pct);
                let limit = swap + ram / 2;
                f.committed_as = Fact::injected(limit / 100 * used_pct);
                f.cgroup_memory_max = Fact::new(cg_max, "injected");
                f.cgroup_memory_high = Fact::new(cg_high, "injected");
                f.rlimit_as = Fact::new(r_as, "injected");
                f.rlimit_data = Fact::new(r_data, "injected");
                f
            },
        )
}

fn arb_facts() -> impl Strategy<Value = MachineFacts> {
    prop_oneof![
        4 => arb_linux(),
        1 => (prop::option::of(64 * MIB..=TIB), any::<bool>(), 0usize..3).prop_map(|(ram, hook, p)| {
            let platform = [Platform::MacOs, Platform::Cygwin, Platform::Other("x".into())][p].clone();
            other(platform, ram, hook)
        }),
    ]
}

fn arb_overrides() -> impl Strategy<Value = Overrides> {
    let size = || prop::option::of(prop_oneof![Just(0u64), 1u64..=4 * KIB, 1u64..=TIB]);
    (
        size(),
        size(),
        size(),
        size(),
        prop::option::of(any::<bool>()),
    )
        .prop_map(
            |(pool_size, warn_limit, hard_limit, initial_workspace, noreserve)| Overrides {
                pool_size,
                warn_limit,
                hard_limit,
                initial_workspace,
                noreserve,
                hugepages: None,
            },
        )
}

#[test]
fn hugepages_follow_the_kernel_mode_and_the_hook() {
    use crate::pool::facts::ThpMode;
    let with = |mode: Option<ThpMode>, hook: bool, platform: Platform| {
        let mut f = MachineFacts::injected(platform);
        f.total_ram = Fact::injected(8 * GIB);
        f.available_ram = Fact::injected(8 * GIB);
        f.overcommit_memory = Fact::injected(0);
        f.hook_available = hook;
        f.transparent_hugepages = Fact::new(mode, crate::pool::facts::INJECTED);
        f
    };
    let none = Overrides::default();
    let d = |f: &MachineFacts, ov: &Overrides| decide(f, ov).unwrap();
    assert!(d(&with(Some(ThpMode::Madvise), true, Platform::Linux), &none).hugepages);
    assert!(d(&with(Some(ThpMode::Always), true, Platform::Linux), &none).hugepages);
    assert!(!d(&with(Some(ThpMode::Never), true, Platform::Linux), &none).hugepages);
    assert!(!d(&with(None, true, Platform::Linux), &none).hugepages);
    assert!(!d(&with(Some(ThpMode::Madvise), false, Platform::Linux), &none).hugepages);
    assert!(!d(&with(Some(ThpMode::Madvise), true, Platform::MacOs), &none).hugepages);
    let off = Overrides {
        hugepages: Some(false),
        ..Default::default()
    };
    let dec = d(&with(Some(ThpMode::Madvise), true, Platform::Linux), &off);
    assert!(!dec.hugepages);
    assert!(dec.reasons.hugepages.contains("override"));
    let on = Overrides {
        hugepages: Some(true),
        ..Default::default()
    };
    assert!(!d(&with(Some(ThpMode::Madvise), false, Platform::Linux), &on).hugepages);
}

/// The relations every decision keeps, overrides or not.
fn check_consistent(f: &MachineFacts, d: &PoolDecision) -> Result<(), TestCaseError> {
    if let Some(k) = d.hard_limit {
        prop_assert!(d.pool_size <= k);
        prop_assert!(d.warn_limit <= k);
        prop_assert!(d.initial_workspace <= k);
    }
    for r in [f.rlimit_as.get(), f.rlimit_data.get()]
        .into_iter()
        .flatten()
    {
        prop_assert!(d.pool_size <= r / 2, "pool {} vs rlimit {}", d.pool_size, r);
    }
    if d.pool_size > 0 {
        prop_assert!(d.initial_workspace <= d.pool_size);
    }
    prop_assert!(d.initial_workspace <= d.warn_limit);
    for v in [
        d.pool_size,
        d.warn_limit,
        d.initial_workspace,
        d.hard_limit.unwrap_or(0),
    ] {
        prop_assert_eq!(v % KIB, 0);
    }
    Ok(())
}

proptest! {
    #[test]
    fn derived_values_stay_within_their_limits(f in arb_linux()) {
        let d = decide(&f, &Overrides::default()).unwrap();
        check_consistent(&f, &d)?;
        prop_assert!(d.pool_size > 0, "never -s 0 on Linux");
        let bounds = [f.cgroup_limit(), f.rlimit_as.get(), f.rlimit_data.get()];
        for b in bounds.into_iter().flatten() {
            let k = d.hard_limit.expect("a bound gives a hard limit");
            prop_assert!(k <= b);
            prop_assert!(d.pool_size <= b && d.warn_limit <= b);
        }
        if bounds.iter().all(Option::is_none) {
            prop_assert_eq!(d.hard_limit, None);
        }
        let smallest_cap = [d.hard_limit, f.rlimit_as.get().map(|r| r / 2), f.rlimit_data.get().map(|r| r / 2)]
            .into_iter().flatten().min().unwrap_or(u64::MAX);
        if smallest_cap >= GAP_MIN_POOL + MIB {
            prop_assert!(d.pool_size >= GAP_MIN_POOL);
        }
    }

    #[test]
    fn mode2_pools_fit_the_commit_headroom(f in arb_linux()) {
        let mut f = f;
        f.overcommit_memory = Fact::injected(2);
        let d = decide(&f, &Overrides::default()).unwrap();
        prop_assert!(!d.noreserve);
        let headroom = f.commit_limit.get().unwrap().saturating_sub(f.committed_as.get().unwrap());
        let procs = u64::from(f.planned_workers) + 1;
        if procs * GAP_MIN_POOL <= headroom {
            prop_assert!(procs * d.pool_size <= headroom,
                "{} × {} > {}", procs, d.pool_size, headroom);
        } else {
            prop_assert!(d.reasons.pool_size.contains("forks may fail") || d.pool_size < GAP_MIN_POOL);
        }
    }

    #[test]
    fn overrides_keep_the_relations_and_args_parse_back(f in arb_facts(), ov in arb_overrides()) {
        let Ok(d) = decide(&f, &ov) else {
            // Only the documented refusals.
            prop_assert!(
                (ov.noreserve == Some(true) && !f.hook_available)
                    || (ov.pool_size == Some(0) && f.platform == Platform::Linux)
                    || ov.hard_limit.is_some_and(|k| k != 0 && k < GAP_MIN_HARD_LIMIT)
            );
            return Ok(());
        };
        check_consistent(&f, &d)?;
        if f.platform == Platform::Linux {
            prop_assert!(d.pool_size > 0, "never -s 0 on Linux");
        }
        if ov.hard_limit.is_some_and(|k| k > 0) {
            prop_assert!(d.hard_limit.is_some_and(|k| k > 0));
        }
        let (s, o, k, m) = parse_args(&d.gap_args());
        prop_assert_eq!(s, d.pool_size);
        prop_assert_eq!(o, d.warn_limit);
        prop_assert_eq!(k, d.hard_limit);
        prop_assert_eq!(m, d.initial_workspace);
        if ov.pool_size.is_some_and(|p| p > 0) {
            prop_assert!(d.reasons.pool_size.contains("override"));
        }
        if ov.noreserve.is_some() {
            prop_assert!(d.reasons.noreserve.contains("override"));
        }
    }
}

#[test]
fn decide_is_cheap() {
    let f = linux(24 * GIB, 0, 2, true, 8);
    let start = std::time::Instant::now();
    for _ in 0..1000 {
        std::hint::black_box(decide(std::hint::black_box(&f), &Overrides::default()).unwrap());
    }
    assert!(start.elapsed().as_millis() < 500);
}
