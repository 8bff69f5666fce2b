/*
 * gaprun interrupt shim: stopping a running GAP computation from a signal
 * handler on the GAP thread (deadlines, Ctrl-C, InterruptHandle) for
 * src/interrupt.rs. See interrupt.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include "interrupt.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "libgap-api.h"
#include "protected.h"

#include "gapstate.h"
#include "stats.h"
#include "sysmem.h"

/* ---- interrupts ---------------------------------------------------------- */

/* An interrupt asked for by a signal that is not a deadline (an
 * InterruptHandle, a SIGINT sent by a session server) and not yet taken. */
static volatile sig_atomic_t request_pending = 0;
/* The armed deadline has expired: every statement until the deadline's
 * scope ends must stop, so entries do not drop this one. */
static volatile sig_atomic_t deadline_fired = 0;

/* The command line's Ctrl-C is held in a copy of IntrExecStatFuncs. GAP's
 * ClearError, which ReadEvalCommand calls before reading each statement,
 * resets only IntrExecStatFuncs: a Ctrl-C that arrived between two
 * statements (or during a kernel function after which no statement ran)
 * was dropped there and the next statement, an endless loop say, ran on.
 * The copy dispatches the same way, so the next statement GAP executes
 * takes the interrupt; gaprun_interrupt_taking hands it back to GAP's own
 * table first. */
static ExecStatFunc held_exec_stat_funcs[256];

void gaprun_interrupt_init_tables(void)
{
    memcpy(held_exec_stat_funcs, IntrExecStatFuncs,
           sizeof(held_exec_stat_funcs));
}

void gaprun_interrupt_taking(void)
{
    /* GAP's ExecIntrStat puts back the normal table only when it finds
     * its own interrupt table installed. */
    if (STATE(CurrExecStatFuncs) == held_exec_stat_funcs)
        STATE(CurrExecStatFuncs) = IntrExecStatFuncs;
}

int gaprun_interrupt_take_held(void)
{
    if (!gaprun_is_initialized() ||
        STATE(CurrExecStatFuncs) != held_exec_stat_funcs)
        return 0;
    STATE(CurrExecStatFuncs) = ExecStatFuncs;
    return 1;
}

/* An interrupt is set and not yet taken (GAP's or a held Ctrl-C). */
static int interrupt_pending(void)
{
    return STATE(CurrExecStatFuncs) == IntrExecStatFuncs ||
           STATE(CurrExecStatFuncs) == held_exec_stat_funcs;
}

void gaprun_interrupt(void)
{
    if (gaprun_is_initialized())
        InterruptExecStat();
}

/* Make GAP's next statement run normally again: what ClearError does
 * first, without its messages. A memory overrun still to be reported keeps
 * its interrupt (GAP reports it at the next statement). */
static void drop_interrupt(void)
{
    if (SyStorOverrun == SY_STOR_OVERRUN_CLEAR)
        STATE(CurrExecStatFuncs) = ExecStatFuncs;
}

int gaprun_interrupt_clear(void)
{
    if (!gaprun_is_initialized())
        return GAPRUN_MISUSE;
    request_pending = 0;
    deadline_fired = 0;
    drop_interrupt();
    return GAPRUN_OK;
}

void gaprun_entry_begin(void)
{
    /* A request that arrived while GAP was idle (between entries) was for
     * a computation that has ended: the next, unrelated call must not
     * fail. An expired deadline stays in force. */
    if (request_pending && !deadline_fired) {
        request_pending = 0;
        drop_interrupt();
    }
}

static void on_interrupt_signal(int signo, siginfo_t * info, void * ctx)
{
    (void)signo;
    (void)ctx;
    int saved = errno;
    if (info && info->si_code == SI_TIMER)
        deadline_fired = 1;
    else
        request_pending = 1;
    gaprun_interrupt();
    errno = saved;
}

/* Install `handler` for `signo` (restarting interrupted system calls);
 * 0 or -errno. */
static int install_handler(int signo, void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    return sigaction(signo, &sa, 0) == 0 ? 0 : -errno;
}

int gaprun_interrupt_install(int signo)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_interrupt_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_SIGINFO;
    return sigaction(signo, &sa, 0) == 0 ? 0 : -errno;
}

static timer_t deadline_timer;
static int     deadline_armed = 0;

int gaprun_deadline_arm(int signo, uint64_t nanos)
{
    if (deadline_armed)
        gaprun_deadline_disarm();
    struct sigevent sev;
    memset(&sev, 0, sizeof(sev));
    /* deliver to this (the GAP) thread only, not to any thread of the
     * process */
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = signo;
    sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
    if (timer_create(CLOCK_MONOTONIC, &sev, &deadline_timer) != 0)
        return -errno;
    deadline_armed = 1;
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    if (nanos == 0)
        nanos = 1;
    its.it_value.tv_sec = (time_t)(nanos / 1000000000u);
    its.it_value.tv_nsec = (long)(nanos % 1000000000u);
    if (timer_settime(deadline_timer, 0, &its, 0) != 0) {
        int e = errno;
        gaprun_deadline_disarm();
        return -e;
    }
    return 0;
}

void gaprun_deadline_disarm(void)
{
    if (deadline_armed) {
        timer_delete(deadline_timer);
        deadline_armed = 0;
    }
    deadline_fired = 0;
}

/* SIGINT: first Ctrl-C interrupts the running statement, or the next one
 * GAP executes (held: see held_exec_stat_funcs); a second one before GAP
 * took the first (it may be stuck in a kernel function, or waiting for
 * input) ends the process like a shell would kill it. */
static void on_sigint(int signo)
{
    (void)signo;
    int saved = errno;
    if (!gaprun_is_initialized())
        return;
    if (interrupt_pending()) {
        static const char msg[] = "\ngaprun: interrupted twice, exiting\n";
        ssize_t w = write(2, msg, sizeof(msg) - 1);
        (void)w;
        _exit(130);
    }
    STATE(CurrExecStatFuncs) = held_exec_stat_funcs;
    errno = saved;
}

int gaprun_sigint_install(void)
{
    return install_handler(SIGINT, on_sigint);
}

