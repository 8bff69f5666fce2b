/*
 * gaprun conversion and interrupt shim (see convert.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include "convert.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "libgap-api.h"
#include "protected.h"

#include "ariths.h"
#include "bool.h"
#include "calls.h"
#include "cyclotom.h"
#include "error.h"
#include "gapstate.h"
#include "gasman.h"
#include "integer.h"
#include "lists.h"
#include "macfloat.h"
#include "permutat.h"
#include "plist.h"
#include "precord.h"
#include "range.h"
#include "rational.h"
#include "records.h"
#include "stats.h"
#include "stringobj.h"
#include "sysmem.h"

/* ---- kinds --------------------------------------------------------------- */

int gaprun_kind(gaprun_obj obj, int * kind)
{
    volatile int k = GAPRUN_KIND_OTHER;
    *kind = k;
    if (!gaprun_is_initialized() || !obj)
        return GAPRUN_MISUSE;
    gaprun_entry_begin();
    int ok = GAP_Enter();
    if (ok) {
        Obj  o = (Obj)obj;
        UInt t = TNUM_OBJ(o);
        if (t == T_INT || t == T_INTPOS || t == T_INTNEG)
            k = GAPRUN_KIND_INT;
        else if (t == T_RAT)
            k = GAPRUN_KIND_RAT;
        else if (t == T_CYC)
            k = GAPRUN_KIND_CYC;
        else if (t == T_FFE)
            k = GAPRUN_KIND_FFE;
        else if (t == T_MACFLOAT)
            k = GAPRUN_KIND_FLOAT;
        else if (t == T_PERM2 || t == T_PERM4)
            k = GAPRUN_KIND_PERM;
        else if (t == T_CHAR)
            k = GAPRUN_KIND_CHAR;
        else if (o == True || o == False)
            k = GAPRUN_KIND_BOOL;
        else if (o == Fail)
            k = GAPRUN_KIND_FAIL;
        else if (IS_STRING_REP(o))
            k = GAPRUN_KIND_STRING;
        else if (IS_PREC(o))
            k = GAPRUN_KIND_RECORD;
        else if (IS_FUNC(o))
            k = GAPRUN_KIND_FUNCTION;
        else if (t < FIRST_EXTERNAL_TNUM && IS_LIST(o)) {
            /* a plain list of characters is a string too ("abc" built
             * element by element) */
            if (LEN_LIST(o) > 0 && IS_STRING(o))
                k = GAPRUN_KIND_STRING;
            else
                k = GAPRUN_KIND_LIST;
        }
        else if (IS_LIST(o))
            k = GAPRUN_KIND_LIST;
        *kind = k;
    }
    GAP_Leave();
    return gaprun_entry_status(ok);
}

/* ---- integers ------------------------------------------------------------ */

int gaprun_int_size(gaprun_obj obj, int64_t * size)
{
    *size = 0;
    if (!obj || !GAP_IsInt((Obj)obj))
        return GAPRUN_MISUSE;
    /* GAP_SizeInt raises only for non-integers, excluded above */
    *size = (int64_t)GAP_SizeInt((Obj)obj);
    return GAPRUN_OK;
}

int gaprun_int_limbs(gaprun_obj obj, uint64_t * buf, size_t n)
{
    Obj o = (Obj)obj;
    if (!o || !GAP_IsInt(o))
        return GAPRUN_MISUSE;
    if (IS_INTOBJ(o)) {
        Int v = INT_INTOBJ(o);
        if (n >= 1)
            buf[0] = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
        return n <= 1 ? GAPRUN_OK : GAPRUN_MISUSE;
    }
    Int size = GAP_SizeInt(o);
    size_t have = (size_t)(size < 0 ? -size : size);
    if (have != n)
        return GAPRUN_MISUSE;
    memcpy(buf, GAP_AddrInt(o), n * sizeof(UInt));
    return GAPRUN_OK;
}

int gaprun_make_int_limbs(const uint64_t * limbs, int64_t size,
                          gaprun_obj * out)
{
    *out = 0;
    GAPRUN_PROTECTED(
        *out = GAP_MakeObjInt((const UInt *)limbs, (Int)size);
    );
}

/* ---- rationals and floats ------------------------------------------------ */

int gaprun_rat_parts(gaprun_obj obj, gaprun_obj * num, gaprun_obj * den)
{
    Obj o = (Obj)obj;
    *num = 0;
    *den = 0;
    if (!o)
        return GAPRUN_MISUSE;
    if (GAP_IsInt(o)) {
        *num = o;
        *den = INTOBJ_INT(1);
        return GAPRUN_OK;
    }
    if (TNUM_OBJ(o) != T_RAT)
        return GAPRUN_MISUSE;
    *num = NUM_RAT(o);
    *den = DEN_RAT(o);
    return GAPRUN_OK;
}

int gaprun_float_value(gaprun_obj obj, double * out)
{
    *out = 0;
    if (!obj || !GAP_IsMacFloat((Obj)obj))
        return GAPRUN_MISUSE;
    *out = GAP_ValueMacFloat((Obj)obj);
    return GAPRUN_OK;
}

int gaprun_make_float(double value, gaprun_obj * out)
{
    *out = 0;
    GAPRUN_PROTECTED(
        *out = GAP_NewMacFloat(value);
    );
}

/* ---- booleans ------------------------------------------------------------ */

int gaprun_bool_value(gaprun_obj obj, int * out)
{
    Obj o = (Obj)obj;
    *out = 0;
    if (o && o == True)
        *out = 1;
    else if (o && o == False)
        *out = 0;
    else if (o && o == Fail)
        *out = 2;
    else
        return GAPRUN_MISUSE;
    return GAPRUN_OK;
}

gaprun_obj gaprun_bool_obj(int which)
{
    return which == 1 ? True : which == 0 ? False : Fail;
}

/* ---- lists --------------------------------------------------------------- */

int gaprun_make_list(size_t capacity, gaprun_obj * out)
{
    *out = 0;
    GAPRUN_PROTECTED(
        *out = GAP_NewPlist((Int)capacity);
    );
}

int gaprun_list_assign(gaprun_obj list, size_t pos, gaprun_obj value)
{
    if (!value || pos == 0)
        return GAPRUN_MISUSE;
    GAPRUN_PROTECTED(
        if (!GAP_IsList((Obj)list))
            ErrorQuit("gaprun: expected a list", 0, 0);
        GAP_AssList((Obj)list, pos, (Obj)value);
    );
}

int gaprun_make_int_list(const int64_t * values, size_t n, gaprun_obj * out)
{
    *out = 0;
    GAPRUN_PROTECTED(
        for (size_t i = 0; i < n; i++) {
            if (values[i] < INT_INTOBJ_MIN || values[i] > INT_INTOBJ_MAX)
                ErrorQuit("gaprun: integer does not fit a small integer", 0,
                          0);
        }
        Obj list = NEW_PLIST(n == 0 ? T_PLIST_EMPTY : T_PLIST_CYC, n);
        for (size_t i = 0; i < n; i++)
            SET_ELM_PLIST(list, i + 1, INTOBJ_INT(values[i]));
        SET_LEN_PLIST(list, n);
        *out = list;
    );
}

int gaprun_list_small_ints(gaprun_obj list, int64_t * buf, size_t n)
{
    Obj l = (Obj)list;
    if (!gaprun_is_initialized() || !l)
        return GAPRUN_MISUSE;
    /* only plain lists and ranges: reading them cannot raise or allocate */
    if (IS_PLIST(l)) {
        if ((size_t)LEN_PLIST(l) != n)
            return GAPRUN_MISUSE;
        for (size_t i = 0; i < n; i++) {
            Obj e = ELM_PLIST(l, i + 1);
            if (!e || !IS_INTOBJ(e))
                return GAPRUN_MISUSE;
            buf[i] = INT_INTOBJ(e);
        }
        return GAPRUN_OK;
    }
    if (IS_RANGE(l)) {
        if ((size_t)GET_LEN_RANGE(l) != n)
            return GAPRUN_MISUSE;
        Int low = GET_LOW_RANGE(l), inc = GET_INC_RANGE(l);
        for (size_t i = 0; i < n; i++)
            buf[i] = low + (Int)i * inc;
        return GAPRUN_OK;
    }
    return GAPRUN_MISUSE;
}

int gaprun_make_range(int64_t len, int64_t low, int64_t inc, gaprun_obj * out)
{
    *out = 0;
    GAPRUN_PROTECTED(
        Obj r;
        if (len == 0)
            r = NEW_PLIST(T_PLIST_EMPTY, 0);
        else
            r = GAP_NewRange((Int)len, (Int)low, (Int)inc);
        if (r == Fail)
            ErrorQuit("gaprun: range bounds must be small integers and the "
                      "step non-zero",
                      0, 0);
        *out = r;
    );
}

/* ---- records ------------------------------------------------------------- */

int gaprun_make_record(gaprun_obj * out)
{
    *out = 0;
    GAPRUN_PROTECTED(
        *out = NEW_PREC(0);
    );
}

int gaprun_record_assign(gaprun_obj rec, const char * name, size_t len,
                         gaprun_obj value)
{
    if (!value)
        return GAPRUN_MISUSE;
    GAPRUN_PROTECTED(
        if (!IS_PREC((Obj)rec))
            ErrorQuit("gaprun: expected a plain record", 0, 0);
        Obj n = MakeStringWithLen(name, len);
        ASS_REC((Obj)rec, RNamObj(n), (Obj)value);
    );
}

int gaprun_record_len(gaprun_obj rec, size_t * len)
{
    *len = 0;
    if (!rec || !IS_PREC((Obj)rec))
        return GAPRUN_MISUSE;
    *len = LEN_PREC((Obj)rec);
    return GAPRUN_OK;
}

int gaprun_record_entry(gaprun_obj rec, size_t i, gaprun_obj * name,
                        gaprun_obj * value)
{
    *name = 0;
    *value = 0;
    if (!rec || !IS_PREC((Obj)rec) || i == 0 || i > LEN_PREC((Obj)rec))
        return GAPRUN_MISUSE;
    Int rnam = GET_RNAM_PREC((Obj)rec, i);
    /* the name table keeps these strings alive */
    *name = NAME_RNAM(rnam < 0 ? -rnam : rnam);
    *value = GET_ELM_PREC((Obj)rec, i);
    return GAPRUN_OK;
}

/* ---- memory -------------------------------------------------------------- */

int gaprun_memory_get_stats(gaprun_memory_stats * out)
{
    memset(out, 0, sizeof(*out));
    if (!gaprun_is_initialized())
        return GAPRUN_MISUSE;
    out->pool_bytes = (uint64_t)SyAllocPool;
    out->allocated_total = (uint64_t)SizeAllBags;
    return GAPRUN_OK;
}

/* ---- view strings without line breaks ------------------------------------ */

#include "io.h"
#include "opers.h"
#include "gvars.h"
#include "trycatch.h"

int gaprun_view_string_flat(gaprun_obj obj, int print, gaprun_obj * out)
{
    *out = 0;
    if (!gaprun_is_initialized() || !obj)
        return GAPRUN_MISUSE;
    /* volatile: GAP_TRY below sets a second jump point in this frame */
    gaprun_entry_begin();
    volatile int ok = GAP_Enter();
    if (ok) {
        Obj buf = NEW_STRING(0);
        Obj stream = DoOperation2Args(ValGVar(GVarName("OutputTextString")),
                                      buf, True);
        /* no line breaking: a big integer must read back as digits only */
        CALL_2ARGS(ValGVar(GVarName("SetPrintFormattingStatus")), stream,
                   False);
        TypOutputFile output = { 0 };
        OpenOutputStream(&output, stream);
        GAP_TRY
        {
            if (print)
                PrintObj((Obj)obj);
            else
                ViewObj((Obj)obj);
        }
        GAP_CATCH
        {
            CloseOutput(&output);
            GAP_THROW();
        }
        CloseOutput(&output);
        *out = CopyToStringRep(buf);
    }
    GAP_Leave();
    return gaprun_entry_status(ok);
}
