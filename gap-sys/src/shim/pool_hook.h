/*
 * GAP's pool mapping rule, exposed for tests (see pool_hook.c). Not part of
 * the bindings: Rust declares the one function it tests by hand.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef GAPRUN_POOL_HOOK_H
#define GAPRUN_POOL_HOOK_H

#include <stddef.h>
#include <stdint.h>

/* What an mmap call is to GAP's pool. */
enum {
    GAPRUN_POOL_CALL_OTHER = 0,    /* not GAP's pool: passed through */
    GAPRUN_POOL_CALL_START = 1,    /* the pool, at GAP's 16 TiB hint */
    GAPRUN_POOL_CALL_FALLBACK = 2, /* the pool again, without the hint */
    GAPRUN_POOL_CALL_GROWTH = 3,   /* a chunk right after the pool */
};

/* Classify one mmap call. `pool_start`/`pool_end`: the pool mapped so far
 * (0 when none); `failed_start_len`: LEN of this thread's last start call
 * when it failed, else 0. */
int gaprun_pool_classify(uintptr_t addr, size_t len, int prot, int flags,
                         int fd, int64_t offset, size_t page,
                         uintptr_t pool_start, uintptr_t pool_end,
                         size_t failed_start_len);

#endif /* GAPRUN_POOL_HOOK_H */
