/*
 * gaprun fork shim: what a forked worker child changes in its copy of GAP,
 * and how it runs a task's statements.
 *
 * GAP's memory flags (-o, -K) are read once at start-up, but a worker forked
 * from an initialised GAP needs its own per-task limit: these setters write
 * the kernel variables the flags fill (sysmem.h), in the child only.
 *
 * A task's statements run one at a time through a stepper whose output goes
 * straight to GAP's current output (the worker's stdout pipe), so what a
 * task printed survives a timeout, a crash or a quit and is capped by the
 * parent as it arrives; the caller sees each statement's status and value.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef GAPRUN_FORK_H
#define GAPRUN_FORK_H

#include <stddef.h>
#include <stdint.h>

#include "gaprun_shim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Set GAP's workspace limits in KiB: `warn_kb` as -o (GAP raises the
 * catchable error "exceeded the permitted memory"), `kill_kb` as -K (GAP
 * stops the process). 0 leaves a limit as it is. Never raises. */
void gaprun_fork_set_memory_limits(uint64_t warn_kb, uint64_t kill_kb);

/* Open GAP's lib/init.g as an input file below everything a task reads, as
 * `gap` has it open while its session (and so a `Test()`) runs: GAP code
 * sees the same open file ids (POSITION_FILE(4) is an integer). GAPRUN_OK,
 * GAPRUN_MISUSE (not found, or already open) or GAPRUN_ERROR. */
int gaprun_fork_open_session_input(void);
/* Close it again (after every input opened above it was closed). */
void gaprun_fork_close_session_input(void);

/* What one statement did. */
enum {
    GAPRUN_STEP_DONE = 0,  /* ran; `value` set when it had one */
    GAPRUN_STEP_ERROR = 1, /* raised a GAP error (text: gaprun_error_text) */
    GAPRUN_STEP_QUIT = 2,  /* quit; QUIT; QuitGap(n); `exit_code` is GAP's */
    GAPRUN_STEP_EOF = 3    /* no statement left */
};

typedef struct {
    int        kind;      /* GAPRUN_STEP_* */
    int        dual;      /* the statement ended in `;;` */
    int        exit_code; /* GAPRUN_STEP_QUIT: GapExitCode() */
    int        error_status; /* GAPRUN_STEP_ERROR: GAPRUN_ERROR,
                                GAPRUN_INTERRUPTED or GAPRUN_MEMORY_LIMIT */
    gaprun_obj value;     /* unrooted: root it before the next GAP call */
} gaprun_fork_step_result;

/* Open GAP statements for stepping (one stepper at a time). */
int gaprun_fork_steps_open(const char *code, size_t len);
/* Read and evaluate the next statement; its output goes to GAP's current
 * output and is flushed. GAPRUN_OK with `result` filled, or how GAP
 * failed outside the statement (as every entry point reports it). */
int gaprun_fork_step(gaprun_fork_step_result *result);
/* Close the stepper's input. */
void gaprun_fork_steps_close(void);

#ifdef __cplusplus
}
#endif

#endif /* GAPRUN_FORK_H */
