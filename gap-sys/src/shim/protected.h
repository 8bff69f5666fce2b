/*
 * The one pattern by which shim functions enter GAP (internal header, not
 * for bindgen).
 *
 * GAP reports errors with longjmp to the jump point GAP_Enter sets, so that
 * point must live in the frame of the function called from Rust: this is a
 * macro, expanded in that function, never a helper call. The body runs only
 * when GAP is initialised; a GAP error inside it lands back here and the
 * function returns GAPRUN_ERROR (the message is in gaprun_error_text()),
 * or GAPRUN_QUIT / GAPRUN_INTERRUPTED / GAPRUN_MEMORY_LIMIT.
 * The body must not `return` (GAP_Leave would be skipped).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef GAPRUN_PROTECTED_H
#define GAPRUN_PROTECTED_H

#include "gaprun_shim.h"
#include "libgap-api.h"

/* Called by every entry point before GAP_Enter: drops an interrupt
 * requested while GAP was idle (see interrupt.c). */
void gaprun_entry_begin(void);

/* Interrupt tables (interrupt.c): fill the table that holds the command
 * line's Ctrl-C, once GAP's IntrExecStatFuncs is final; and, in the
 * executor that raises "user interrupt", hand a held Ctrl-C back to GAP's
 * own table, which GAP's ExecIntrStat then resets. */
void gaprun_interrupt_init_tables(void);
void gaprun_interrupt_taking(void);

/* Called by every entry point after GAP_Leave with GAP_Enter's result:
 * GAPRUN_OK, or how GAP's error jump ended the call (GAPRUN_QUIT after
 * QUIT_GAP, GAPRUN_INTERRUPTED, GAPRUN_MEMORY_LIMIT, else GAPRUN_ERROR).
 * Resets GAP's quit flags. */
int gaprun_entry_status(int ok);

/* For read-eval steps outside this file (gaprun_fork.c), inside a jump
 * point: the status of the statement error just caught by ReadEvalCommand
 * (GAPRUN_ERROR, GAPRUN_INTERRUPTED or GAPRUN_MEMORY_LIMIT; the note is
 * consumed), and GAP's exit code as QuitGap(n) / QUIT_GAP(n) set it. */
int gaprun_thrown_status(void);
int gaprun_gap_exit_code(void);

#define GAPRUN_PROTECTED(...)                                                \
    do {                                                                     \
        if (!gaprun_is_initialized())                                        \
            return GAPRUN_MISUSE;                                            \
        gaprun_entry_begin();                                                \
        int gaprun_ok_ = GAP_Enter();                                        \
        if (gaprun_ok_) {                                                    \
            __VA_ARGS__                                                      \
        }                                                                    \
        GAP_Leave();                                                         \
        return gaprun_entry_status(gaprun_ok_);                              \
    } while (0)

#endif /* GAPRUN_PROTECTED_H */
