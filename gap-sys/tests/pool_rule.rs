//! The rule that picks GAP's pool out of every `mmap` of a process
//! (src/shim/pool_hook.c), call by call: the interposer changes only what
//! it classifies as the pool, so each row is a call the rule must (or must
//! not) take for GAP's.

// The shim (and the rule in it) is in gap-sys's native library.
extern crate gap_sys;

use libc::{MAP_ANONYMOUS, MAP_FIXED, MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED};
use libc::{PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE};

extern "C" {
    fn gaprun_pool_classify(
        addr: usize,
        len: usize,
        prot: i32,
        flags: i32,
        fd: i32,
        offset: i64,
        page: usize,
        pool_start: usize,
        pool_end: usize,
        failed_start_len: usize,
    ) -> i32;
}

const OTHER: i32 = 0;
const START: i32 = 1;
const FALLBACK: i32 = 2;
const GROWTH: i32 = 3;

const PAGE: usize = 4096;
const HINT: usize = 16 << 40;
const MIB: usize = 1 << 20;
const RW: i32 = PROT_READ | PROT_WRITE;
const GAP_FLAGS: i32 = MAP_PRIVATE | MAP_ANONYMOUS;

struct Call {
    why: &'static str,
    addr: usize,
    len: usize,
    prot: i32,
    flags: i32,
    fd: i32,
    offset: i64,
    pool: (usize, usize),
    failed_start_len: usize,
    expect: i32,
}

/// GAP's call with the given address and length and no pool yet.
const fn gap(why: &'static str, addr: usize, len: usize, expect: i32) -> Call {
    Call {
        why,
        addr,
        len,
        prot: RW,
        flags: GAP_FLAGS,
        fd: -1,
        offset: 0,
        pool: (0, 0),
        failed_start_len: 0,
        expect,
    }
}

// A 1 GiB pool (-s 1g, plus GAP's alignment page) mapped at the hint.
const POOL: (usize, usize) = (HINT, HINT + 1024 * MIB + PAGE);
// Growth by half, rounded up to pages.
const CHUNK: usize = (1024 * MIB + PAGE) / 2 + PAGE / 2;

#[test]
fn the_rule_takes_gaps_pool_calls_and_nothing_else() {
    let table = [
        gap(
            "start: -s 1g at the 16 TiB hint",
            HINT,
            1024 * MIB + PAGE,
            START,
        ),
        gap("start: GAP's smallest pool", HINT, 16 * MIB + PAGE, START),
        Call {
            flags: GAP_FLAGS | MAP_NORESERVE,
            ..gap(
                "start that already asks for MAP_NORESERVE",
                HINT,
                64 * MIB,
                START,
            )
        },
        Call {
            failed_start_len: 1024 * MIB + PAGE,
            ..gap(
                "fallback: same length without the hint after a failed start",
                0,
                1024 * MIB + PAGE,
                FALLBACK,
            )
        },
        Call {
            failed_start_len: 1024 * MIB + PAGE,
            ..gap(
                "NULL address, another length than the failed start",
                0,
                512 * MIB + PAGE,
                OTHER,
            )
        },
        gap(
            "NULL address with no failed start (an allocator's arena)",
            0,
            1024 * MIB + PAGE,
            OTHER,
        ),
        Call {
            pool: POOL,
            ..gap(
                "growth: half the pool, right after it",
                POOL.1,
                CHUNK,
                GROWTH,
            )
        },
        Call {
            pool: POOL,
            ..gap(
                "right after the pool, another length",
                POOL.1,
                2 * MIB,
                OTHER,
            )
        },
        Call {
            pool: POOL,
            ..gap("growth length elsewhere", POOL.1 + PAGE, CHUNK, OTHER)
        },
        gap("growth shape but no pool yet", POOL.1, CHUNK, OTHER),
        Call {
            flags: GAP_FLAGS | MAP_FIXED,
            ..gap("MAP_FIXED at the hint", HINT, 64 * MIB, OTHER)
        },
        Call {
            flags: MAP_SHARED | MAP_ANONYMOUS,
            ..gap("shared mapping at the hint", HINT, 64 * MIB, OTHER)
        },
        Call {
            prot: PROT_NONE,
            ..gap("PROT_NONE reservation at the hint", HINT, 64 * MIB, OTHER)
        },
        Call {
            prot: RW | PROT_EXEC,
            ..gap("executable mapping at the hint", HINT, 64 * MIB, OTHER)
        },
        Call {
            fd: 3,
            flags: MAP_PRIVATE,
            ..gap("a file at the hint", HINT, 64 * MIB, OTHER)
        },
        Call {
            offset: PAGE as i64,
            ..gap("an offset", HINT, 64 * MIB, OTHER)
        },
        gap(
            "length not a whole number of pages",
            HINT,
            64 * MIB + 1,
            OTHER,
        ),
        gap("zero length", HINT, 0, OTHER),
        gap("another hint", HINT + PAGE, 64 * MIB, OTHER),
    ];
    let mut wrong = Vec::new();
    for c in &table {
        // SAFETY: a pure function of its arguments.
        let got = unsafe {
            gaprun_pool_classify(
                c.addr,
                c.len,
                c.prot,
                c.flags,
                c.fd,
                c.offset,
                PAGE,
                c.pool.0,
                c.pool.1,
                c.failed_start_len,
            )
        };
        if got != c.expect {
            wrong.push(format!("{}: got {got}, want {}", c.why, c.expect));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
