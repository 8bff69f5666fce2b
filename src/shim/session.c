/*
 * gaprun session shim: interrupting GAP from a signal handler.
 *
 * GAP's own SIGINT handler (not installed: gaprun starts GAP with
 * handleSignals off) calls InterruptExecStat(), which swaps the statement
 * executors for ones that raise "user interrupt" at the next statement.
 * That is all this file does, for any signal the host chooses; the error is
 * then caught by the shim entry point that is running (GAP_Enter), so no
 * jump crosses Rust.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include "session.h"

#include <signal.h>
#include <string.h>

#include "libgap-api.h"

#include "gapstate.h"
#include "stats.h"

static volatile sig_atomic_t interrupt_requested = 0;

static void on_interrupt_signal(int signum)
{
    (void)signum;
    interrupt_requested = 1;
    /* What GAP's own SIGINT handler does: only swaps a dispatch table. */
    InterruptExecStat();
}

int gaprun_session_install_interrupt(int signum)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_interrupt_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    return sigaction(signum, &sa, 0) == 0 ? 0 : -1;
}

void gaprun_session_interrupt(void)
{
    interrupt_requested = 1;
    InterruptExecStat();
}

int gaprun_session_clear_interrupt(void)
{
    int was = interrupt_requested ? 1 : 0;
    interrupt_requested = 0;
    /* Put the normal statement executors back (no GAP error possible:
     * SyIsIntr() is false because GAP's own handler never ran). */
    int ok = GAP_Enter();
    if (ok)
        ClearError();
    GAP_Leave();
    return was;
}
