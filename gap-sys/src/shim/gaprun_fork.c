/*
 * gaprun fork shim: what a forked worker child changes in its copy of GAP,
 * and the statement stepper its tasks run through (see gaprun_fork.h).
 *
 * The stepper follows the shim's one pattern (gaprun_shim.c): GAP_Enter in
 * the function called from Rust, GAP's own ReadEvalCommand catching errors
 * per statement. Its input lives in static storage because GAP links an
 * open input into its input stack until CloseInput.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "gaprun_fork.h"
#include "gaprun_shim.h"
#include "protected.h"

#include <string.h>

#include "libgap-api.h"

#include "calls.h"
#include "common.h"
#include "gap.h"
#include "gapstate.h"
#include "gvars.h"
#include "io.h"
#include "read.h"
#include "stringobj.h"
#include "sysmem.h"
#include "sysroots.h"

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

/* ---- GAP's session input ------------------------------------------------ */

static TypInputFile session_input;
static int          session_open = 0;

int gaprun_fork_open_session_input(void)
{
    volatile int opened = 0;
    if (!gaprun_is_initialized() || session_open)
        return GAPRUN_MISUSE;
    gaprun_entry_begin();
    int ok = GAP_Enter();
    if (ok) {
        Char path[GAP_PATH_MAX];
        memset(&session_input, 0, sizeof(session_input));
        if (SyFindGapRootFile("lib/init.g", path, sizeof(path)) &&
            OpenInput(&session_input, path))
            opened = 1;
    }
    GAP_Leave();
    session_open = opened;
    if (!ok)
        return gaprun_entry_status(ok);
    return opened ? GAPRUN_OK : GAPRUN_MISUSE;
}

void gaprun_fork_close_session_input(void)
{
    if (!session_open)
        return;
    session_open = 0;
    /* CloseInput cannot raise: it only unlinks the input and closes its
     * file. */
    CloseInput(&session_input);
}

/* ---- statement stepper -------------------------------------------------- */

static TypInputFile step_input;
static int          step_open = 0;

int gaprun_fork_steps_open(const char * code, size_t len)
{
    volatile int opened = 0;
    if (!gaprun_is_initialized() || step_open)
        return GAPRUN_MISUSE;
    gaprun_entry_begin();
    int ok = GAP_Enter();
    if (ok) {
        memset(&step_input, 0, sizeof(step_input));
        Obj source = MakeStringWithLen(code, len);
        Obj instream =
            CALL_1ARGS(ValGVar(GVarName("InputTextString")), source);
        if (OpenInputStream(&step_input, instream, FALSE))
            opened = 1;
    }
    GAP_Leave();
    step_open = opened;
    if (!ok)
        return gaprun_entry_status(ok);
    return opened ? GAPRUN_OK : GAPRUN_MISUSE;
}

int gaprun_fork_step(gaprun_fork_step_result * result)
{
    memset(result, 0, sizeof(*result));
    if (!step_open)
        return GAPRUN_MISUSE;
    gaprun_entry_begin();
    int ok = GAP_Enter();
    if (ok) {
        (void)gaprun_thrown_status(); /* no stale note from earlier */
        Obj        value = 0;
        BOOL       dual = FALSE;
        ExecStatus st = ReadEvalCommand(0, &step_input, &value, &dual);
        if (STATE(UserHasQUIT) || st == STATUS_QUIT || st == STATUS_QQUIT) {
            /* GAP's quit flags stay set: the worker ends after this. */
            result->kind = GAPRUN_STEP_QUIT;
            result->exit_code = gaprun_gap_exit_code();
        }
        else if (st == STATUS_EOF)
            result->kind = GAPRUN_STEP_EOF;
        else if (st == STATUS_ERROR) {
            result->kind = GAPRUN_STEP_ERROR;
            result->error_status = gaprun_thrown_status();
        }
        else {
            result->kind = GAPRUN_STEP_DONE;
            if (value) {
                UpdateLast(value);
                result->value = (gaprun_obj)value;
                result->dual = dual ? 1 : 0;
            }
        }
        Pr("\03", 0, 0); /* flush GAP's buffered output to the pipe */
    }
    GAP_Leave();
    return gaprun_entry_status(ok);
}

void gaprun_fork_steps_close(void)
{
    if (!step_open)
        return;
    step_open = 0;
    CloseInput(&step_input);
}
