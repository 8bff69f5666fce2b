/*
 * gaprun workspace shim: save GAP's workspace from an initialised GAP.
 *
 * Follows the shim's one pattern (GAP_Enter ... GAP_Leave, status code), so
 * a GAP error never unwinds through Rust.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "workspace.h"
#include "gaprun_shim.h"

#include "libgap-api.h"

#include "bool.h"
#include "calls.h"
#include "gvars.h"
#include "plist.h"
#include "stringobj.h"

/* GAP 4.12 keeps early methods in a C slot of each operation that
 * SaveWorkspace does not write (gap-system/gap#5400, fixed in 4.13.0).
 * Record them as ordinary GAP data, which is saved, and reinstall them
 * first thing after a restore (before the post-restore functions that
 * autoload packages, which call `First`). Guarded so that a workspace saved
 * by a GAP that already keeps them (4.13+) is left alone. */
static const char early_methods_code[] =
    "if not IsBound(GAPRUN_EARLY_METHODS) then\n"
    "  BindGlobal(\"GAPRUN_EARLY_METHODS\", Immutable(Concatenation(\n"
    "    List([0..6], k -> List(Filtered(OPERATIONS,\n"
    "      op -> EARLY_METHOD(op, k) <> fail),\n"
    "        op -> [op, k, EARLY_METHOD(op, k)])))));\n"
    "  Add(GAPInfo.PostRestoreFuncs, function()\n"
    "    local e;\n"
    "    for e in GAPRUN_EARLY_METHODS do\n"
    "      if EARLY_METHOD(e[1], e[2]) = fail then\n"
    "        INSTALL_EARLY_METHOD(e[1], e[3]);\n"
    "      fi;\n"
    "    od;\n"
    "  end, 1);\n"
    "fi;\n";

int gaprun_save_workspace(const char * path)
{
    volatile int status = GAPRUN_ERROR;
    if (!gaprun_is_initialized())
        return GAPRUN_MISUSE;
    /* Our error-capture stream is an OutputTextString; keep it out of the
     * way of the save (and of the saved ERROR_OUTPUT). */
    gaprun_error_capture(0);
    int ok = GAP_Enter();
    if (ok) {
        Obj res = GAP_EvalString(early_methods_code);
        int setup_ok = 1;
        for (Int i = 1; i <= LEN_PLIST(res); i++) {
            if (ELM_PLIST(ELM_PLIST(res, i), 1) != True)
                setup_ok = 0;
        }
        if (setup_ok) {
            Obj save = ValGVar(GVarName("SaveWorkspace"));
            Obj result = CALL_1ARGS(save, MakeString(path));
            if (result == True)
                status = GAPRUN_OK;
        }
    }
    GAP_Leave();
    return ok ? status : GAPRUN_ERROR;
}
