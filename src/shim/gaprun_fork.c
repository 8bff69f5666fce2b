/*
 * gaprun fork shim: per-child memory limits (see gaprun_fork.h).
 *
 * Plain assignments to GAP kernel variables: nothing here can raise a GAP
 * error, so no GAP_Enter is needed.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "gaprun_fork.h"

#include "common.h"
#include "sysmem.h"

void gaprun_fork_set_memory_limits(uint64_t warn_kb, uint64_t kill_kb)
{
    if (warn_kb > 0) {
        SyStorMax = (Int)warn_kb;
        /* a report pending from the parent must not fire in the child */
        SyStorOverrun = SY_STOR_OVERRUN_CLEAR;
    }
    if (kill_kb > 0)
        SyStorKill = (Int)kill_kb;
}
