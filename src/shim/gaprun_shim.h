/*
 * gaprun C shim: the only code in gaprun that enters GAP.
 *
 * GAP reports errors with longjmp. Every function here sets GAP's error jump
 * point itself (GAP_Enter) and returns a status code, so a jump never crosses
 * a Rust frame. Objects are passed back through out-parameters; the caller
 * roots them before the next call into GAP.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef GAPRUN_SHIM_H
#define GAPRUN_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An opaque GAP object (GAP's `Obj`). */
typedef void *gaprun_obj;

/* Status codes returned by every entry point. */
enum {
    GAPRUN_OK = 0,
    /* GAP raised an error; its text is in gaprun_error_text(). */
    GAPRUN_ERROR = 1,
    /* GAP quit: `QUIT;`, QuitGap(n) / QUIT_GAP(n) (or, for the loops,
     * `quit;` at the top level). The exit code GAP would exit with is in
     * gaprun_quit_code(). GAP's quit flags are reset: GAP stays usable and
     * the caller decides whether to exit. */
    GAPRUN_QUIT = 2,
    /* The shim was misused (GAP not initialised, bad argument). */
    GAPRUN_MISUSE = 3,
    /* The computation was interrupted (InterruptExecStat: Ctrl-C, a
     * deadline, an InterruptHandle); GAP stays usable. */
    GAPRUN_INTERRUPTED = 4,
    /* GAP's pre-set memory limit (`-o`) was reached; GAP stays usable.
     * (`-K` is not reported: GAP ends the process there.) */
    GAPRUN_MEMORY_LIMIT = 5,
};

/* ---- start-up ---------------------------------------------------------- */

/* Called by GASMAN during every collection to mark host-held objects. */
typedef void (*gaprun_mark_fn)(void);

/* Initialise GAP from a command line; then route GAP's error messages into
 * a capture buffer and switch the break loop off. Must be called once. */
int gaprun_initialize(int argc, char **argv, gaprun_mark_fn mark);
int gaprun_is_initialized(void);

/* Mark one object from inside the mark callback. */
void gaprun_mark(gaprun_obj obj);

/* ---- errors ------------------------------------------------------------ */

/* Text GAP printed on its error stream since the last clear (NUL-terminated,
 * valid until the next call into GAP). */
const char *gaprun_error_text(size_t *len);
void gaprun_error_clear(void);
/* 1: capture error messages (library use); 0: let GAP print them on stderr
 * itself, as `gap` does (command-line use). */
int gaprun_error_capture(int on);
/* The exit code set by the QuitGap(n) / QUIT_GAP(n) that produced the last
 * GAPRUN_QUIT (0 for `QUIT;` and QuitGap()). */
int gaprun_quit_code(void);

/* ---- evaluation -------------------------------------------------------- */

/* Evaluate GAP statements from a string, capturing per statement: a list of
 * lists [status, dual, value?, view?, output, error, exit code] (positions 3
 * and 4 may be unbound). status is a GAPRUN_* code: GAPRUN_OK, GAPRUN_ERROR,
 * GAPRUN_QUIT (`quit;`, `QUIT;`, QuitGap(n): evaluation stops there; for
 * the last two the exit code is at position 7), GAPRUN_INTERRUPTED, GAPRUN_MEMORY_LIMIT.
 * With `want_view`, each value not suppressed by `;;` is viewed as GAP's
 * read-eval-print loop shows it. */
int gaprun_eval_capture(const char *code, size_t len, int want_view,
                        gaprun_obj *out);

/* Flags for the streaming read-eval loops used by the command line. */
enum {
    /* Show each value as GAP's REPL does (`;;` suppresses). */
    GAPRUN_LOOP_ECHO = 1,
    /* Stop at the first error (file mode, like --quitonbreak). */
    GAPRUN_LOOP_STOP_ON_ERROR = 2,
    /* After an error, send output to *errout* until `quit;`, as GAP's break
     * loop does when reading statements from a pipe. */
    GAPRUN_LOOP_BREAK_OUTPUT = 4,
};

typedef struct {
    uint64_t statements; /* statements read and executed */
    uint64_t errors;     /* statements that raised an error */
    int quit;            /* 0 none, 1 `quit;`, 2 `QUIT;` or QuitGap() */
    int exit_code;       /* GAP's exit code after QUIT (GapExitCode()) */
} gaprun_loop_report;

/* Read and execute statements from a file ("*stdin*" for standard input),
 * output going straight to GAP's standard output. Returns GAPRUN_OK when the
 * input was read to its end (errors are counted in the report),
 * GAPRUN_QUIT after QUIT, GAPRUN_ERROR when the file cannot be opened. */
int gaprun_loop_file(const char *path, int flags, gaprun_loop_report *report);
/* The same, reading statements from a string. */
int gaprun_loop_string(const char *code, size_t len, int flags,
                       gaprun_loop_report *report);

/* ---- globals, calls and values ----------------------------------------- */

/* Value of a global variable (NULL in *out when unbound). */
int gaprun_global_get(const char *name, gaprun_obj *out);
/* Assign a global variable (error when it is read-only). */
int gaprun_global_set(const char *name, gaprun_obj value);
/* Call a GAP function with `nargs` arguments; *out is NULL when the call
 * returned no value. */
int gaprun_call(gaprun_obj func, size_t nargs, const gaprun_obj *args,
                gaprun_obj *out);

/* Binary operations of GAP's arithmetic. */
enum {
    GAPRUN_OP_SUM = 0,
    GAPRUN_OP_DIFF,
    GAPRUN_OP_PROD,
    GAPRUN_OP_QUO,
    GAPRUN_OP_POW,
    GAPRUN_OP_MOD,
    GAPRUN_OP_LQUO,
    GAPRUN_OP_COMM,
};
int gaprun_binop(int op, gaprun_obj a, gaprun_obj b, gaprun_obj *out);
/* Comparisons: 0 `=`, 1 `<`, 2 `in`; result 0/1 in *out. */
int gaprun_compare(int op, gaprun_obj a, gaprun_obj b, int *out);

/* Plain data in and out (no GAP errors possible, but allocation may
 * trigger a collection, so they enter GAP too). */
int gaprun_make_string(const char *bytes, size_t len, gaprun_obj *out);
int gaprun_string_bytes(gaprun_obj obj, const char **bytes, size_t *len);
/* Length of a GAP list and its element at 1-based `pos` (NULL in *out when
 * unbound or out of range); an error when `list` is not a list. */
int gaprun_list_length(gaprun_obj list, size_t *len);
int gaprun_list_elm(gaprun_obj list, size_t pos, gaprun_obj *out);
int gaprun_make_int(int64_t value, gaprun_obj *out);
int gaprun_int_value(gaprun_obj obj, int64_t *out); /* ERROR if not small */

/* ---- memory ------------------------------------------------------------ */

/* Full (1) or partial (0) garbage collection. */
int gaprun_collect(int full);

/* ---- pool hook (see src/pool) ------------------------------------------ */

typedef struct {
    uint64_t mappings;      /* anonymous mappings made by GAP's allocator */
    uint64_t bytes;         /* their total size */
    uint64_t noreserve;     /* how many got MAP_NORESERVE */
    int hooked;             /* 1 when libgap's mmap calls reach this hook */
    uint64_t hugepages;     /* how many were advised MADV_HUGEPAGE */
} gaprun_pool_stats;

/* 1 when GAP's last write to standard output did not end with a newline
 * (static builds only; always 0 otherwise); reading it resets it. */
int gaprun_stdout_mid_line(void);

void gaprun_pool_set_noreserve(int on);
/* Advise transparent huge pages for GAP's pool (cheaper fork). */
void gaprun_pool_set_hugepages(int on);
void gaprun_pool_get_stats(gaprun_pool_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* GAPRUN_SHIM_H */
