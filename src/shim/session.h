/*
 * gaprun session shim: interrupting a running GAP computation from a signal
 * handler (Ctrl-C in the REPL, `interrupt` and eval timeouts in the session
 * server).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef GAPRUN_SESSION_H
#define GAPRUN_SESSION_H

#ifdef __cplusplus
extern "C" {
#endif

/* Install a handler for `signum` (e.g. SIGINT, SIGALRM) that asks GAP to
 * stop at the next statement it executes: GAP then raises the error
 * "user interrupt", which the evaluation entry points report. Returns 0,
 * or -1 when sigaction failed. */
int gaprun_session_install_interrupt(int signum);

/* Ask GAP to stop at its next statement (what the handler does). */
void gaprun_session_interrupt(void);

/* Drop an interrupt request that arrived after the computation ended, so
 * that it does not hit the next evaluation. Returns 1 if one was pending. */
int gaprun_session_clear_interrupt(void);

#ifdef __cplusplus
}
#endif

#endif /* GAPRUN_SESSION_H */
