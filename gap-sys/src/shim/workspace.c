/*
 * gaprun workspace shim: save GAP's workspace from an initialised GAP, and
 * repair what GAP 4.12's restore leaves different from a normal start.
 *
 * Follows the shim's one pattern (GAP_Enter ... GAP_Leave, status code), so
 * a GAP error never unwinds through Rust.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include "workspace.h"
#include "gaprun_shim.h"

#include "libgap-api.h"

#include "ariths.h"
#include "bool.h"
#include "calls.h"
#include "code.h"
#include "exprs.h"
#include "gasman.h"
#include "gvars.h"
#include "lists.h"
#include "objects.h"
#include "plist.h"
#include "precord.h"
#include "records.h"
#include "stats.h"
#include "stringobj.h"
#include "version.h"

#include <dlfcn.h>
#include <stdint.h>
#include <string.h>

/* GAP 4.12 keeps early methods in a C slot of each operation that
 * SaveWorkspace does not write (gap-system/gap#5400, fixed in 4.13.0).
 * Record them as ordinary GAP data, which is saved, and reinstall them
 * first thing after a restore (before the post-restore functions that
 * autoload packages, which call `First`). Compiled only for GAP 4.12's
 * kernel (kv8): later kernels save them themselves. */
#if GAP_KERNEL_MAJOR_VERSION < 9
#define GAPRUN_REPAIR_EARLY_METHODS 1
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
#endif

/* ---- the kernel's dispatch tables -----------------------------------------
 *
 * The kernel dispatches `=`, `<`, `+`, list access, printing, ... through C
 * tables of function pointers indexed by TNUM. Most entries are set by each
 * module's InitKernel, which also runs before a restore; a few are set in
 * InitLibrary, which a restore skips (GAP 4.12's opers.c sets
 * EqFuncs[T_FLAGS][T_FLAGS] there, so `=` on two flags lists compares
 * identity after a restore). Rather than patch known cases, gaprun records
 * every entry of every exported table in the workspace when saving (as an
 * offset from a function of libgap, valid in any process running the same
 * binary; run-length encoded, a few KB) and after a restore rewrites every
 * entry that differs. Entries outside libgap (none in GAP 4.12's tables)
 * cannot be recorded; the trial load compares them. */

struct table {
    void ** entries;
    size_t  count;
};

#define TABLE1(t) { (void **)(t), sizeof(t) / sizeof((t)[0]) }
#define TABLE2(t) { (void **)(t), sizeof(t) / sizeof((t)[0][0]) }

static const struct table tables[] = {
    TABLE2(EqFuncs), TABLE2(LtFuncs), TABLE2(InFuncs),
    TABLE2(SumFuncs), TABLE2(DiffFuncs), TABLE2(ProdFuncs),
    TABLE2(QuoFuncs), TABLE2(LQuoFuncs), TABLE2(PowFuncs),
    TABLE2(CommFuncs), TABLE2(ModFuncs),
    TABLE1(ZeroSameMutFuncs), TABLE1(ZeroMutFuncs), TABLE1(AInvSameMutFuncs),
    TABLE1(AInvMutFuncs), TABLE1(OneFuncs), TABLE1(OneSameMut),
    TABLE1(InvFuncs), TABLE1(InvSameMutFuncs),
    TABLE1(TypeObjFuncs), TABLE1(IsMutableObjFuncs), TABLE1(IsCopyableObjFuncs),
    TABLE1(ShallowCopyObjFuncs), TABLE1(CopyObjFuncs), TABLE1(CleanObjFuncs),
    TABLE1(MakeImmutableObjFuncs), TABLE1(PrintObjFuncs),
    TABLE1(SaveObjFuncs), TABLE1(LoadObjFuncs),
    TABLE1(IsListFuncs), TABLE1(IsSmallListFuncs), TABLE1(LenListFuncs),
    TABLE1(LengthFuncs), TABLE1(IsbListFuncs), TABLE1(Elm0ListFuncs),
    TABLE1(Elm0vListFuncs), TABLE1(ElmDefListFuncs), TABLE1(ElmListFuncs),
    TABLE1(ElmvListFuncs), TABLE1(ElmwListFuncs), TABLE1(ElmsListFuncs),
    TABLE1(UnbListFuncs), TABLE1(AssListFuncs), TABLE1(AsssListFuncs),
    TABLE1(IsDenseListFuncs), TABLE1(IsHomogListFuncs), TABLE1(IsTableListFuncs),
    TABLE1(IsSSortListFuncs), TABLE1(IsPossListFuncs), TABLE1(PosListFuncs),
    TABLE1(PlainListFuncs), TABLE1(IsStringFuncs),
    TABLE1(IsRecFuncs), TABLE1(ElmRecFuncs), TABLE1(IsbRecFuncs),
    TABLE1(AssRecFuncs), TABLE1(UnbRecFuncs),
    TABLE1(EvalExprFuncs), TABLE1(EvalBoolFuncs),
    TABLE1(ExecStatFuncs), TABLE1(IntrExecStatFuncs),
#if GAP_KERNEL_MAJOR_VERSION < 9
    /* Exported by GAP 4.12's kernel (kv8); GAP 4.16's (kv11) keeps the
     * printing tables private (filled by InitKernel, which a restore runs)
     * and has no PrintPath. Built and tested with 4.12.1 and 4.16.1 only. */
    TABLE1(PrintPathFuncs), TABLE1(PrintExprFuncs), TABLE1(PrintStatFuncs),
#endif
    TABLE1(TabMarkFuncBags),
};

#define NTABLES (sizeof(tables) / sizeof(tables[0]))

/* Recorded value of an empty entry, and of one outside libgap's object
 * (its address differs between processes, so it cannot be recorded). */
#define ENTRY_NULL    INT64_MIN
#define ENTRY_FOREIGN (INT64_MIN + 1)

static const char tables_gvar[] = "GAPRUN_KERNEL_TABLES";

static uintptr_t anchor(void)
{
    return (uintptr_t)&GAP_Initialize;
}

size_t gaprun_kernel_table_entries(void)
{
    size_t n = 0;
    for (size_t t = 0; t < NTABLES; t++)
        n += tables[t].count;
    return n;
}

size_t gaprun_kernel_tables_raw(uint64_t * out, size_t n)
{
    size_t k = 0;
    for (size_t t = 0; t < NTABLES; t++)
        for (size_t i = 0; i < tables[t].count; i++, k++)
            if (k < n)
                out[k] = (uint64_t)(uintptr_t)tables[t].entries[i];
    return k;
}

/* The recorded form of one entry (see ENTRY_NULL, ENTRY_FOREIGN). */
static int64_t record_entry(void * p, void * base)
{
    Dl_info info;
    if (!p)
        return ENTRY_NULL;
    if (base && dladdr(p, &info) && info.dli_fbase == base)
        return (int64_t)((uintptr_t)p - anchor());
    return ENTRY_FOREIGN;
}

/* Record every entry, run-length encoded as (value, count) pairs (the
 * binary tables are mostly one default function): into `out` when it is
 * not NULL; returns the number of pairs. */
static size_t record_tables(int64_t * out)
{
    Dl_info info;
    void *  base = dladdr((void *)anchor(), &info) ? info.dli_fbase : 0;
    void *  last = 0;
    int64_t value = 0;
    size_t  runs = 0;
    int     have = 0;
    for (size_t t = 0; t < NTABLES; t++) {
        for (size_t i = 0; i < tables[t].count; i++) {
            void * p = tables[t].entries[i];
            if (have && p == last) {
                if (out)
                    out[2 * runs - 1]++;
                continue;
            }
            last = p;
            value = record_entry(p, base);
            have = 1;
            if (out) {
                out[2 * runs] = value;
                out[2 * runs + 1] = 1;
            }
            runs++;
        }
    }
    return runs;
}

static int64_t tables_repaired = -1;
static int64_t tables_unrepairable = 0;

int gaprun_workspace_repair_tables(void)
{
    tables_repaired = -1;
    tables_unrepairable = 0;
    Obj saved = ValGVar(GVarName(tables_gvar));
    if (!saved)
        return GAPRUN_OK; /* not started from a gaprun workspace */
    size_t n = gaprun_kernel_table_entries();
    if (!IS_STRING_REP(saved) || GET_LEN_STRING(saved) % (2 * sizeof(int64_t))) {
        tables_unrepairable = (int64_t)n;
        return GAPRUN_ERROR;
    }
    const char * bytes = CONST_CSTR_STRING(saved);
    size_t       runs = GET_LEN_STRING(saved) / (2 * sizeof(int64_t));
    /* The recorded runs must cover exactly this kernel's tables. */
    size_t covered = 0;
    for (size_t r = 0; r < runs; r++) {
        int64_t count;
        memcpy(&count, bytes + (2 * r + 1) * sizeof(int64_t), sizeof count);
        covered += (size_t)count;
    }
    if (covered != n) {
        tables_unrepairable = (int64_t)n;
        return GAPRUN_ERROR;
    }
    int64_t repaired = 0;
    size_t  r = 0;
    int64_t want = 0, left = 0;
    for (size_t t = 0; t < NTABLES; t++) {
        for (size_t i = 0; i < tables[t].count; i++) {
            if (left == 0) {
                memcpy(&want, bytes + 2 * r * sizeof(int64_t), sizeof want);
                memcpy(&left, bytes + (2 * r + 1) * sizeof(int64_t), sizeof left);
                r++;
            }
            left--;
            if (want == ENTRY_FOREIGN)
                continue;
            void * p = want == ENTRY_NULL ? 0 : (void *)(anchor() + (uintptr_t)want);
            if (tables[t].entries[i] != p) {
                tables[t].entries[i] = p;
                repaired++;
            }
        }
    }
    tables_repaired = repaired;
    return GAPRUN_OK;
}

int64_t gaprun_workspace_tables_repaired(int64_t * unrepairable)
{
    if (unrepairable)
        *unrepairable = tables_unrepairable;
    return tables_repaired;
}

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
        int setup_ok = 1;
#ifdef GAPRUN_REPAIR_EARLY_METHODS
        Obj res = GAP_EvalString(early_methods_code);
        for (Int i = 1; i <= LEN_PLIST(res); i++) {
            if (ELM_PLIST(ELM_PLIST(res, i), 1) != True)
                setup_ok = 0;
        }
#endif
        size_t runs = record_tables(0);
        Obj    recorded = NEW_STRING(runs * 2 * sizeof(int64_t));
        record_tables((int64_t *)CSTR_STRING(recorded));
        AssGVar(GVarName(tables_gvar), recorded);
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
