/*
 * gaprun interrupt shim: GAP stops a running computation when
 * InterruptExecStat() is called (what GAP's own SIGINT handler does); these
 * functions call it from signal handlers that run on the GAP thread.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef GAPRUN_INTERRUPT_H
#define GAPRUN_INTERRUPT_H

#include <stdint.h>

#include "gaprun_shim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Ask GAP to stop the running computation at its next statement, raising
 * "user interrupt". Async-signal-safe (GAP's own SIGINT handler does the
 * same); only call it on the GAP thread or from a signal handler. */
void gaprun_interrupt(void);
/* Forget an interrupt that was requested but not yet taken (also an
 * expired deadline's). */
int gaprun_interrupt_clear(void);
/* SIGINT handler for the command line: the first Ctrl-C interrupts, a
 * second one before GAP noticed the first exits with status 130. */
int gaprun_sigint_install(void);
/* Take back a Ctrl-C that handler holds for GAP's next statement: 1 if
 * one was pending (now forgotten), else 0. A batch of forked workers asks
 * once its own SIGINT handler is in place, so that Ctrl-C stops the batch
 * instead of failing the first statement of every worker. */
int gaprun_interrupt_take_held(void);
/* Install the handler for `signo` that calls gaprun_interrupt(). A signal
 * from a deadline timer (SI_TIMER) stays in force until the deadline is
 * disarmed; any other (an InterruptHandle, kill) that arrives while GAP is
 * idle is dropped when the next entry point starts, so it cannot fail an
 * unrelated later call. */
int gaprun_interrupt_install(int signo);
/* Arm a one-shot timer that sends `signo` to the calling thread after
 * `nanos`; returns 0 or -errno. */
int gaprun_deadline_arm(int signo, uint64_t nanos);
/* Disarm and delete the timer armed by gaprun_deadline_arm (and forget
 * that it fired). */
void gaprun_deadline_disarm(void);

#ifdef __cplusplus
}
#endif

#endif /* GAPRUN_INTERRUPT_H */
