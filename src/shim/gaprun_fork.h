/*
 * gaprun fork shim: what a forked worker child changes in its copy of GAP.
 *
 * GAP's memory flags (-o, -K) are read once at start-up, but a worker forked
 * from an initialised GAP needs its own per-task limit: these setters write
 * the kernel variables the flags fill (sysmem.h), in the child only.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef GAPRUN_FORK_H
#define GAPRUN_FORK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Set GAP's workspace limits in KiB: `warn_kb` as -o (GAP raises the
 * catchable error "exceeded the permitted memory"), `kill_kb` as -K (GAP
 * stops the process). 0 leaves a limit as it is. Never raises. */
void gaprun_fork_set_memory_limits(uint64_t warn_kb, uint64_t kill_kb);

#ifdef __cplusplus
}
#endif

#endif /* GAPRUN_FORK_H */
