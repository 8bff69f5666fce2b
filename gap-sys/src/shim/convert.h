/*
 * gaprun conversion shim: typed access to GAP values for src/convert.rs
 * (and GASMAN statistics for src/memory.rs).
 *
 * Same rule as gaprun_shim.h: anything that may allocate or raise enters GAP
 * (GAP_Enter/GAP_Leave) and returns a GAPRUN_* status; results come back
 * through out-parameters and the caller roots them at once.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef GAPRUN_CONVERT_H
#define GAPRUN_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "gaprun_shim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What kind of value an object is, as far as conversions care. */
enum {
    GAPRUN_KIND_OTHER = 0,
    GAPRUN_KIND_INT = 1,
    GAPRUN_KIND_RAT = 2,      /* a non-integer rational */
    GAPRUN_KIND_FLOAT = 3,    /* a machine float (IsIEEE754FloatRep) */
    GAPRUN_KIND_STRING = 4,   /* a string in string representation */
    GAPRUN_KIND_BOOL = 5,     /* true or false */
    GAPRUN_KIND_FAIL = 6,
    GAPRUN_KIND_LIST = 7,     /* any other list (plain list, range, blist...) */
    GAPRUN_KIND_RECORD = 8,   /* a plain record */
    GAPRUN_KIND_PERM = 9,
    GAPRUN_KIND_FFE = 10,     /* finite field element (internal rep) */
    GAPRUN_KIND_CYC = 11,     /* cyclotomic that is not rational */
    GAPRUN_KIND_FUNCTION = 12,
    GAPRUN_KIND_CHAR = 13,
};
int gaprun_kind(gaprun_obj obj, int *kind);

/* Integers through GMP limbs (64-bit, least significant first).
 * `*size` = number of limbs times the sign (0 for zero). */
int gaprun_int_size(gaprun_obj obj, int64_t *size);
/* Copy the absolute value's limbs into buf (n = |size| limbs). */
int gaprun_int_limbs(gaprun_obj obj, uint64_t *buf, size_t n);
/* Build an integer from |size| limbs with the sign of size. */
int gaprun_make_int_limbs(const uint64_t *limbs, int64_t size,
                          gaprun_obj *out);

/* Numerator and denominator of a rational (an integer has denominator 1). */
int gaprun_rat_parts(gaprun_obj obj, gaprun_obj *num, gaprun_obj *den);

/* Machine floats. */
int gaprun_float_value(gaprun_obj obj, double *out);
int gaprun_make_float(double value, gaprun_obj *out);

/* true 1, false 0, fail 2. */
int gaprun_bool_value(gaprun_obj obj, int *out);
/* 0 false, 1 true, 2 fail. */
gaprun_obj gaprun_bool_obj(int which);

/* Lists. */
int gaprun_make_list(size_t capacity, gaprun_obj *out);
/* list[pos] := value (1-based; value must not be NULL). */
int gaprun_list_assign(gaprun_obj list, size_t pos, gaprun_obj value);
/* A plain list of small integers; an error when a value does not fit a GAP
 * small integer (use limbs then). */
int gaprun_make_int_list(const int64_t *values, size_t n, gaprun_obj *out);
/* Copy a list of small integers into buf (n = length); GAPRUN_MISUSE when
 * an entry is unbound or not a small integer. */
int gaprun_list_small_ints(gaprun_obj list, int64_t *buf, size_t n);
/* The range [low, low+inc .. low+(len-1)*inc]; ERROR when out of bounds. */
int gaprun_make_range(int64_t len, int64_t low, int64_t inc, gaprun_obj *out);

/* Records. */
int gaprun_make_record(gaprun_obj *out);
int gaprun_record_assign(gaprun_obj rec, const char *name, size_t len,
                         gaprun_obj value);
/* Number of components of a plain record. */
int gaprun_record_len(gaprun_obj rec, size_t *len);
/* The i-th component (1-based): its name (a GAP string) and value. */
int gaprun_record_entry(gaprun_obj rec, size_t i, gaprun_obj *name,
                        gaprun_obj *value);

/* Memory statistics of GASMAN. */
typedef struct {
    uint64_t pool_bytes;        /* size of the memory pool GAP mapped */
    uint64_t allocated_total;   /* bytes allocated since start-up */
} gaprun_memory_stats;
int gaprun_memory_get_stats(gaprun_memory_stats *out);

/* View (print = 0) or print string of an object without GAP's line
 * breaking (formatting status off), for Display/Debug. */
int gaprun_view_string_flat(gaprun_obj obj, int print, gaprun_obj *out);

#ifdef __cplusplus
}
#endif

#endif /* GAPRUN_CONVERT_H */
