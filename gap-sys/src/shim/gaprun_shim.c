/*
 * gaprun C shim: the only code in gaprun that enters GAP.
 *
 * Every entry point follows one pattern, written out where the body is long
 * and through GAPRUN_PROTECTED (protected.h) where it is short:
 *
 *     gaprun_entry_begin();     // drop an interrupt sent while idle
 *     int ok = GAP_Enter();      // setjmp: GAP errors come back here
 *     if (ok) { ... work ... }
 *     GAP_Leave();
 *     return gaprun_entry_status(ok);  // OK, ERROR, QUIT, INTERRUPTED, …
 *
 * so a GAP error never unwinds through Rust. Values that live across the
 * setjmp are `volatile`. Loops that read several statements use GAP's own
 * read-eval step (ReadEvalCommand), which catches errors per statement.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include "gaprun_shim.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include "libgap-api.h"
#include "protected.h"
#include "workspace.h"

#include "ariths.h"
#include "calls.h"
#include "error.h"
#include "gap.h"
#include "gapstate.h"
#include "gasman.h"
#include "gvars.h"
#include "io.h"
#include "opers.h"
#include "plist.h"
#include "precord.h"
#include "read.h"
#include "records.h"
#include "stats.h"
#include "stringobj.h"
#include "sysmem.h"
#include "trycatch.h"
#include "code.h"

/* The pool hook (MAP_NORESERVE for GAP's pool) is in pool_hook.c. */

/* ---- output hook --------------------------------------------------------
 * libgap's `write` is renamed to this function too, so gaprun knows whether
 * GAP's standard output ended mid-line (the REPL then ends the line before
 * drawing its prompt, which would otherwise overdraw `Print(1);`'s output). */

static volatile int stdout_mid_line = 0;

ssize_t gaprun_gap_write(int fd, const void * buf, size_t count)
{
    ssize_t n = write(fd, buf, count);
    if (n > 0 && fd == 1)
        stdout_mid_line = ((const char *)buf)[n - 1] != '\n';
    return n;
}

int gaprun_stdout_mid_line(void)
{
    int was = stdout_mid_line;
    stdout_mid_line = 0;
    return was;
}

/* ---- start-up ----------------------------------------------------------- */

static int          initialized = 0;
static uint64_t     error_count = 0;
static Obj          error_buffer = 0;   /* GAP string the error stream fills */
static Obj          error_stream = 0;   /* OutputTextString on error_buffer */
static Obj          errout_name = 0;    /* the string "*errout*" */
static UInt         gvar_error_output = 0;

/* ---- how a GAP error jump ended a call -----------------------------------
 * GAP raises "user interrupt" and "reached the pre-set memory limit" (-o)
 * from one place: ExecIntrStat, the pseudo-executor InterruptExecStat
 * installs for every statement type. The shim puts its own executor in
 * front of it (IntrExecStatFuncs) that notes which of the two is about to
 * be raised from SyStorOverrun, as ExecIntrStat decides it; the error
 * callback (JUMP_TO_CATCH, which every GAP error with the break loop off
 * ends in) moves that note to `thrown_kind`. So the last error thrown
 * carries its kind, without reading its message. QUIT_GAP is recognised by
 * STATE(UserHasQUIT), which GAP sets before it jumps. */
enum { THROWN_ERROR = 0, THROWN_INTERRUPT, THROWN_MEMORY };
static volatile int intr_kind = THROWN_ERROR;   /* set by exec_intr_stat */
static volatile int thrown_kind = THROWN_ERROR; /* the last error thrown */
static int          quit_code = 0;
static ExecStatFunc gap_exec_intr_stat[256];

static ExecStatus exec_intr_stat(Stat stat)
{
    /* ExecIntrStat raises the memory error when an overrun is still to be
     * reported, nothing for one already reported, else "user interrupt". */
    if (SyStorOverrun == SY_STOR_OVERRUN_TO_REPORT)
        intr_kind = THROWN_MEMORY;
    else if (SyStorOverrun == SY_STOR_OVERRUN_CLEAR)
        intr_kind = THROWN_INTERRUPT;
    gaprun_interrupt_taking();
    ExecStatus r = gap_exec_intr_stat[TNUM_STAT(stat)](stat);
    intr_kind = THROWN_ERROR;
    return r;
}

static void install_exec_intr_stat(void)
{
    for (int i = 0; i < 256; i++) {
        gap_exec_intr_stat[i] = IntrExecStatFuncs[i];
        IntrExecStatFuncs[i] = exec_intr_stat;
    }
}

static void on_gap_error(void)
{
    error_count++;
    thrown_kind = intr_kind;
    intr_kind = THROWN_ERROR;
}

static int gap_exit_code(void);

/* GAP's exit code, read inside a jump point of its own. */
static int read_exit_code(void)
{
    volatile int code = 0;
    int ok = GAP_Enter();
    if (ok)
        code = gap_exit_code();
    GAP_Leave();
    return code;
}

/* Status of an error jump (or a quit seen by a read-eval loop); resets
 * GAP's quit flags so that GAP stays usable. */
static int failure_status(void)
{
    int kind = thrown_kind;
    thrown_kind = THROWN_ERROR;
    if (STATE(UserHasQUIT)) {
        STATE(UserHasQUIT) = FALSE;
        STATE(UserHasQuit) = FALSE;
        quit_code = read_exit_code();
        return GAPRUN_QUIT;
    }
    if (kind == THROWN_MEMORY)
        return GAPRUN_MEMORY_LIMIT;
    if (kind == THROWN_INTERRUPT)
        return GAPRUN_INTERRUPTED;
    return GAPRUN_ERROR;
}

int gaprun_entry_status(int ok)
{
    if (ok) {
        thrown_kind = THROWN_ERROR;
        return GAPRUN_OK;
    }
    return failure_status();
}

int gaprun_quit_code(void)
{
    return quit_code;
}

/* GAP code run once after start-up: no break loop, tracebacks on errors. */
/* GAP code run once after start-up: no break loop, tracebacks on errors.
 *
 * ErrorInner is wrapped to remember each error's `lateMessage`: with the
 * break loop off GAP never prints it, but `gap` reading statements from a
 * pipe does (a string on the error stream, or OnBreakMessage() on the
 * current output), and the command line's statement mode reproduces that.
 * It also remembers `justQuit`: errors raised by ErrorQuit (an unbound
 * variable, say) return to the top level without a break loop, so `gap`'s
 * output stays on stdout after them and the next `quit;` ends the input.
 * The guard keeps a restored workspace from wrapping the wrapper. */
static const char setup_code[] =
    "BreakOnError := false;;\n"
    "AlwaysPrintTracebackOnError := true;;\n"
    "MakeReadWriteGlobal(\"ERROR_OUTPUT\");;\n"
    "if not IsBound(_GAPRUN_ERROR_INNER) then\n"
    "  BindGlobal(\"_GAPRUN_ERROR_INNER\", ErrorInner);\n"
    "  _GAPRUN_LATE_MESSAGE := false;\n"
    "  _GAPRUN_JUST_QUIT := false;\n"
    "  MakeReadWriteGlobal(\"ErrorInner\");\n"
    "  ErrorInner := function(options, earlyMessage)\n"
    "    if IsRecord(options) and IsBound(options.lateMessage) then\n"
    "      _GAPRUN_LATE_MESSAGE := options.lateMessage;\n"
    "    else\n"
    "      _GAPRUN_LATE_MESSAGE := \"\";\n"
    "    fi;\n"
    "    _GAPRUN_JUST_QUIT := IsRecord(options) and IsBound(options.justQuit)\n"
    "                         and options.justQuit = true;\n"
    "    return _GAPRUN_ERROR_INNER(options, earlyMessage);\n"
    "  end;\n"
    "  MakeReadOnlyGlobal(\"ErrorInner\");\n"
    "  BindGlobal(\"_GAPRUN_PRINT_LATE_MESSAGE\", function()\n"
    "    local late;\n"
    "    late := _GAPRUN_LATE_MESSAGE;\n"
    "    _GAPRUN_LATE_MESSAGE := false;\n"
    "    if IsString(late) then\n"
    "      PrintTo(ERROR_OUTPUT, late, \"\\n\");\n"
    "    elif late = true and IsBound(OnBreakMessage)\n"
    "         and IsFunction(OnBreakMessage) then\n"
    "      OnBreakMessage();\n"
    "    fi;\n"
    "  end);\n"
    "fi;\n";

static int run_setup_code(void)
{
    volatile int status = GAPRUN_OK;
    int ok = GAP_Enter();
    if (ok) {
        Obj res = GAP_EvalString(setup_code);
        for (Int i = 1; i <= LEN_PLIST(res); i++) {
            Obj entry = ELM_PLIST(res, i);
            if (ELM_PLIST(entry, 1) != True)
                status = GAPRUN_ERROR;
        }
        error_buffer = NEW_STRING(0);
        error_stream = DoOperation2Args(
            ValGVar(GVarName("OutputTextString")), error_buffer, True);
        /* no 80-column line breaks ("\\\n") inside captured messages */
        CALL_2ARGS(ValGVar(GVarName("SetPrintFormattingStatus")),
                   error_stream, False);
        errout_name = MakeImmString("*errout*");
        gvar_error_output = GVarName("ERROR_OUTPUT");
        AssGVar(gvar_error_output, error_stream);
    }
    GAP_Leave();
    return ok ? status : GAPRUN_ERROR;
}

static void mark_shim_roots(void);
static gaprun_mark_fn host_mark = 0;

static void mark_all(void)
{
    mark_shim_roots();
    if (host_mark)
        host_mark();
}

int gaprun_initialize(int argc, char ** argv, gaprun_mark_fn mark)
{
    if (initialized)
        return GAPRUN_MISUSE;
    host_mark = mark;
    GAP_Initialize(argc, argv, mark_all, on_gap_error, 0);
    install_exec_intr_stat();
    initialized = 1;
    /* A restored workspace: put back the kernel table entries the restore
     * skipped, before any caller's code runs (src/shim/workspace.c). */
    gaprun_workspace_repair_tables();
    /* a copy of IntrExecStatFuncs as it now stays (interrupt.c) */
    gaprun_interrupt_init_tables();
    return run_setup_code();
}

int gaprun_is_initialized(void)
{
    return initialized;
}

void gaprun_mark(gaprun_obj obj)
{
    if (obj)
        GAP_MarkBag((Obj)obj);
}

static void mark_shim_roots(void)
{
    if (error_buffer)
        GAP_MarkBag(error_buffer);
    if (error_stream)
        GAP_MarkBag(error_stream);
    if (errout_name)
        GAP_MarkBag(errout_name);
}

/* ---- errors ------------------------------------------------------------- */

const char * gaprun_error_text(size_t * len)
{
    if (!error_buffer) {
        *len = 0;
        return "";
    }
    *len = GET_LEN_STRING(error_buffer);
    return CONST_CSTR_STRING(error_buffer);
}

void gaprun_error_clear(void)
{
    if (error_buffer)
        SET_LEN_STRING(error_buffer, 0);
}

int gaprun_error_capture(int on)
{
    /* AssGVar raises when ERROR_OUTPUT was made read-only again */
    GAPRUN_PROTECTED(
        AssGVar(gvar_error_output, on ? error_stream : errout_name);
    );
}


/* ---- evaluation --------------------------------------------------------- */

static Obj make_output_string_stream(Obj buffer)
{
    return DoOperation2Args(ValGVar(GVarName("OutputTextString")), buffer,
                            True);
}

/* Copy a capture buffer into a fresh string and empty the buffer. */
static Obj take_buffer(Obj buffer)
{
    Obj copy = CopyToStringRep(buffer);
    SET_LEN_STRING(buffer, 0);
    return copy;
}

/* View `value` as GAP's REPL does into `viewbuf` (through `viewstream`);
 * 0 when viewing raised an error (a user ViewObj method, GAP's memory
 * limit): its kind is then in thrown_kind and its text on the error
 * stream. ViewObjHandler catches errors of ViewObj itself, so they are
 * seen in the error count; anything else it lets through is caught here,
 * so the output opened here is closed either way. */
static Obj view_into(Obj value, Obj viewstream, Obj viewbuf)
{
    volatile int  failed = 0;
    uint64_t      raised_before = error_count;
    TypOutputFile vout = { 0 };
    OpenOutputStream(&vout, viewstream);
    GAP_TRY
    {
        ViewObjHandler(value);
    }
    GAP_CATCH
    {
        failed = 1;
    }
    CloseOutput(&vout);
    Obj view = take_buffer(viewbuf);
    if (failed || error_count != raised_before)
        return 0;
    /* ViewObjHandler ends with a newline; drop it */
    UInt vlen = GET_LEN_STRING(view);
    if (vlen > 0 && CHARS_STRING(view)[vlen - 1] == '\n')
        SET_LEN_STRING(view, vlen - 1);
    return view;
}

/* Status of a statement that raised an error, from the kind noted when it
 * was thrown. */
static int thrown_status(void)
{
    int kind = thrown_kind;
    thrown_kind = THROWN_ERROR;
    return kind == THROWN_MEMORY      ? GAPRUN_MEMORY_LIMIT
           : kind == THROWN_INTERRUPT ? GAPRUN_INTERRUPTED
                                      : GAPRUN_ERROR;
}

/* The statement loop of gaprun_eval_capture, on an open input. */
static void eval_capture_loop(TypInputFile * input, int want_view,
                              Obj results)
{
    Obj outbuf = NEW_STRING(0);
    Obj outstream = make_output_string_stream(outbuf);
    Obj viewbuf = NEW_STRING(0);
    Obj viewstream = make_output_string_stream(viewbuf);
    while (1) {
        Obj           value = 0;
        BOOL          dual = FALSE;
        Int           status;
        TypOutputFile output = { 0 };
        OpenOutputStream(&output, outstream);
        SET_LEN_STRING(error_buffer, 0);
        thrown_kind = THROWN_ERROR;
        /* ReadEvalCommand catches every error of the statement itself */
        ExecStatus st = ReadEvalCommand(0, input, &value, &dual);
        CloseOutput(&output);
        if (st == STATUS_EOF && GET_LEN_STRING(outbuf) == 0)
            break;
        Obj exit_code = 0; /* only for QUIT;, QuitGap(n) */
        if (STATE(UserHasQUIT) || st == STATUS_QQUIT) {
            STATE(UserHasQUIT) = FALSE;
            STATE(UserHasQuit) = FALSE;
            status = GAPRUN_QUIT;
            exit_code = INTOBJ_INT(gap_exit_code());
        }
        else if (st == STATUS_QUIT)
            status = GAPRUN_QUIT;
        else if (st == STATUS_ERROR)
            status = thrown_status();
        else
            status = GAPRUN_OK;
        thrown_kind = THROWN_ERROR;
        Obj entry = NEW_PLIST(T_PLIST, 7);
        AssPlist(entry, 2, dual ? True : False);
        if (status == GAPRUN_OK && value) {
            AssPlist(entry, 3, value);
            if (want_view && !dual) {
                Obj view = view_into(value, viewstream, viewbuf);
                if (view)
                    AssPlist(entry, 4, view);
                else
                    status = thrown_status();
            }
        }
        AssPlist(entry, 1, INTOBJ_INT(status));
        AssPlist(entry, 5, take_buffer(outbuf));
        AssPlist(entry, 6, take_buffer(error_buffer));
        if (exit_code)
            AssPlist(entry, 7, exit_code);
        PushPlist(results, entry);
        if (status == GAPRUN_QUIT || st == STATUS_EOF)
            break;
    }
}

int gaprun_eval_capture(const char * code, size_t len, int want_view,
                        gaprun_obj * out)
{
    *out = 0;
    if (!initialized)
        return GAPRUN_MISUSE;
    gaprun_entry_begin();
    /* volatile: GAP_TRY below sets a second jump point in this frame */
    volatile int ok = GAP_Enter();
    if (ok) {
        Obj source = MakeStringWithLen(code, len);
        Obj instream =
            CALL_1ARGS(ValGVar(GVarName("InputTextString")), source);
        Obj results = NEW_PLIST(T_PLIST, 4);
        TypInputFile input = { 0 };
        if (OpenInputStream(&input, instream, FALSE)) {
            /* whatever raises outside ReadEvalCommand must not leave the
             * input open on this (soon dead) stack frame */
            GAP_TRY
            {
                eval_capture_loop(&input, want_view, results);
            }
            GAP_CATCH
            {
                CloseInput(&input);
                GAP_THROW();
            }
            CloseInput(&input);
        }
        STATE(UserHasQuit) = FALSE;
        STATE(UserHasQUIT) = FALSE;
        *out = results;
    }
    GAP_Leave();
    return gaprun_entry_status(ok);
}

/* GAP's exit code as set by QuitGap(n) / QUIT_GAP(n). */
static int gap_exit_code(void)
{
    Obj func = ValGVar(GVarName("GapExitCode"));
    if (!func || !IS_FUNC(func))
        return 0;
    Obj code = CALL_0ARGS(func);
    if (code && IS_INTOBJ(code))
        return (int)INT_INTOBJ(code);
    return 0;
}

/* The read-eval loop of the command line: like GAP's own main loop (last,
 * value echo) but without a break loop. */
static void read_eval_input(TypInputFile * input, int flags,
                            gaprun_loop_report * report)
{
    /* volatile: they live across the GAP_TRY's setjmp below. They do not
     * change between that setjmp and a longjmp to it, but volatile makes
     * that independent of the compiler's register use (-Wclobbered). */
    volatile int in_break = 0;
    while (1) {
        Obj           value = 0;
        BOOL          dual = FALSE;
        TypOutputFile errout = { 0 };
        volatile int  redirected = 0;
        if (in_break && (flags & GAPRUN_LOOP_BREAK_OUTPUT))
            redirected = OpenOutput(&errout, "*errout*", FALSE) ? 1 : 0;
        uint64_t   raised_before = error_count;
        thrown_kind = THROWN_ERROR;
        ExecStatus st = ReadEvalCommand(0, input, &value, &dual);
        /* Runtime errors go through JUMP_TO_CATCH (counted by on_gap_error)
         * and would enter GAP's break loop; syntax errors do not. */
        volatile int raised = error_count != raised_before;
        volatile int just_quit = 0;
        if (raised) {
            Obj jq = ValGVar(GVarName("_GAPRUN_JUST_QUIT"));
            just_quit = jq == True;
        }
        /* The late message runs user code (OnBreakMessage) and the echo
         * runs ViewObj methods: either may raise (or reach GAP's memory
         * limit). Caught here, so that the redirection opened above is
         * closed; the statement then counts as failed. */
        volatile int post_failed = 0;
        uint64_t     post_before = error_count;
        GAP_TRY
        {
            if (st == STATUS_ERROR && raised &&
                (flags & GAPRUN_LOOP_BREAK_OUTPUT)) {
                /* What GAP's break loop prints on entry (see setup_code). */
                Obj late = ValGVar(GVarName("_GAPRUN_PRINT_LATE_MESSAGE"));
                if (late && IS_FUNC(late))
                    CALL_0ARGS(late);
            }
            if (st == STATUS_END && value != 0) {
                UpdateLast(value);
                if ((flags & GAPRUN_LOOP_ECHO) && !dual)
                    ViewObjHandler(value);
            }
            else if (st == STATUS_RETURN) {
                Pr("'return' must not be used in file read-eval loop\n", 0,
                   0);
            }
        }
        GAP_CATCH
        {
            post_failed = 1;
        }
        if (redirected)
            CloseOutput(&errout);
        /* ViewObjHandler catches errors of ViewObj itself: count them */
        if (error_count != post_before)
            post_failed = 1;
        if (post_failed && st != STATUS_ERROR) {
            st = STATUS_ERROR;
            raised = 1;
            just_quit = 0;
        }
        if (STATE(UserHasQUIT) || st == STATUS_QQUIT) {
            report->quit = 2;
            quit_code = report->exit_code = gap_exit_code();
            break;
        }
        if (st == STATUS_EOF)
            break;
        report->statements++;
        if (st == STATUS_QUIT) {
            if (in_break) {
                in_break = 0;
                continue;
            }
            report->quit = 1;
            break;
        }
        if (st == STATUS_ERROR) {
            report->errors++;
            /* The kind noted when the error was thrown (a syntax error
             * leaves THROWN_ERROR): interrupts and memory-limit errors are
             * told apart without reading GAP's message. */
            int kind = raised ? thrown_status() : GAPRUN_ERROR;
            if (kind == GAPRUN_INTERRUPTED)
                report->interrupted++;
            else if (kind == GAPRUN_MEMORY_LIMIT)
                report->memory_limit++;
            if (flags & GAPRUN_LOOP_STOP_ON_ERROR)
                break;
            if (raised && !just_quit)
                in_break = 1;
        }
    }
    STATE(UserHasQuit) = FALSE;
    STATE(UserHasQUIT) = FALSE;
}

/* read_eval_input, then close the input, also when something raises
 * outside ReadEvalCommand (the input lives on the caller's stack frame,
 * which the error jump leaves). */
static void read_eval_input_closing(TypInputFile * input, int flags,
                                    gaprun_loop_report * report)
{
    GAP_TRY
    {
        read_eval_input(input, flags, report);
    }
    GAP_CATCH
    {
        CloseInput(input);
        GAP_THROW();
    }
    CloseInput(input);
}

int gaprun_loop_file(const char * path, int flags,
                     gaprun_loop_report * report)
{
    volatile int opened = 0;
    memset(report, 0, sizeof(*report));
    if (!initialized)
        return GAPRUN_MISUSE;
    gaprun_entry_begin();
    volatile int ok = GAP_Enter();
    if (ok) {
        TypInputFile input = { 0 };
        if (OpenInput(&input, path)) {
            opened = 1;
            read_eval_input_closing(&input, flags, report);
        }
        Pr("\03", 0, 0); /* flush GAP's buffered output */
    }
    GAP_Leave();
    if (!ok)
        return gaprun_entry_status(ok);
    if (!opened)
        return GAPRUN_MISUSE;
    return report->quit == 2 ? GAPRUN_QUIT : GAPRUN_OK;
}

int gaprun_loop_string(const char * code, size_t len, int flags,
                       gaprun_loop_report * report)
{
    memset(report, 0, sizeof(*report));
    if (!initialized)
        return GAPRUN_MISUSE;
    gaprun_entry_begin();
    int ok = GAP_Enter();
    if (ok) {
        Obj source = MakeStringWithLen(code, len);
        Obj instream =
            CALL_1ARGS(ValGVar(GVarName("InputTextString")), source);
        TypInputFile input = { 0 };
        if (OpenInputStream(&input, instream, FALSE))
            read_eval_input_closing(&input, flags, report);
        Pr("\03", 0, 0);
    }
    GAP_Leave();
    if (!ok)
        return gaprun_entry_status(ok);
    return report->quit == 2 ? GAPRUN_QUIT : GAPRUN_OK;
}

/* ---- globals, calls and values ------------------------------------------ */

int gaprun_global_get(const char * name, gaprun_obj * out)
{
    *out = 0;
    GAPRUN_PROTECTED(
        *out = GAP_ValueGlobalVariable(name);
    );
}

int gaprun_global_set(const char * name, gaprun_obj value)
{
    GAPRUN_PROTECTED(
        if (!GAP_CanAssignGlobalVariable(name)) {
            ErrorQuit("Variable: '%s' is read only", (Int)name, 0);
        }
        GAP_AssignGlobalVariable(name, (Obj)value);
    );
}

int gaprun_call(gaprun_obj func, size_t nargs, const gaprun_obj * args,
                gaprun_obj * out)
{
    *out = 0;
    GAPRUN_PROTECTED(
        *out = GAP_CallFuncArray((Obj)func, nargs, (Obj *)args);
    );
}

int gaprun_binop(int op, gaprun_obj a, gaprun_obj b, gaprun_obj * out)
{
    *out = 0;
    GAPRUN_PROTECTED(
        Obj x = (Obj)a, y = (Obj)b, r = 0;
        switch (op) {
        case GAPRUN_OP_SUM: r = SUM(x, y); break;
        case GAPRUN_OP_DIFF: r = DIFF(x, y); break;
        case GAPRUN_OP_PROD: r = PROD(x, y); break;
        case GAPRUN_OP_QUO: r = QUO(x, y); break;
        case GAPRUN_OP_POW: r = POW(x, y); break;
        case GAPRUN_OP_MOD: r = MOD(x, y); break;
        case GAPRUN_OP_LQUO: r = LQUO(x, y); break;
        case GAPRUN_OP_COMM: r = COMM(x, y); break;
        default: ErrorQuit("gaprun: unknown operation %d", op, 0);
        }
        *out = r;
    );
}

int gaprun_compare(int op, gaprun_obj a, gaprun_obj b, int * out)
{
    *out = 0;
    GAPRUN_PROTECTED(
        Obj x = (Obj)a, y = (Obj)b;
        switch (op) {
        case 0: *out = EQ(x, y) ? 1 : 0; break;
        case 1: *out = LT(x, y) ? 1 : 0; break;
        case 2: *out = IN(x, y) ? 1 : 0; break;
        default: ErrorQuit("gaprun: unknown comparison %d", op, 0);
        }
    );
}

int gaprun_make_string(const char * bytes, size_t len, gaprun_obj * out)
{
    *out = 0;
    GAPRUN_PROTECTED(
        *out = MakeStringWithLen(bytes, len);
    );
}

int gaprun_string_bytes(gaprun_obj obj, const char ** bytes, size_t * len)
{
    *bytes = 0;
    *len = 0;
    if (!initialized)
        return GAPRUN_MISUSE;
    if (!obj || !IS_STRING_REP((Obj)obj))
        return GAPRUN_MISUSE;
    *bytes = CONST_CSTR_STRING((Obj)obj);
    *len = GET_LEN_STRING((Obj)obj);
    return GAPRUN_OK;
}

int gaprun_list_length(gaprun_obj list, size_t * out)
{
    *out = 0;
    GAPRUN_PROTECTED(
        if (!GAP_IsList((Obj)list))
            ErrorQuit("gaprun: expected a list", 0, 0);
        *out = GAP_LenList((Obj)list);
    );
}

int gaprun_list_elm(gaprun_obj list, size_t pos, gaprun_obj * out)
{
    *out = 0;
    GAPRUN_PROTECTED(
        if (!GAP_IsList((Obj)list))
            ErrorQuit("gaprun: expected a list", 0, 0);
        if (pos >= 1 && pos <= GAP_LenList((Obj)list))
            *out = GAP_ElmList((Obj)list, pos);
    );
}

int gaprun_make_int(int64_t value, gaprun_obj * out)
{
    *out = 0;
    GAPRUN_PROTECTED(
        *out = GAP_NewObjIntFromInt((Int)value);
    );
}

int gaprun_int_value(gaprun_obj obj, int64_t * out)
{
    *out = 0;
    if (!obj || !IS_INTOBJ((Obj)obj))
        return GAPRUN_MISUSE;
    *out = (int64_t)INT_INTOBJ((Obj)obj);
    return GAPRUN_OK;
}

/* ---- memory ------------------------------------------------------------- */

int gaprun_collect(int full)
{
    GAPRUN_PROTECTED(
        GAP_CollectBags(full ? 1 : 0);
    );
}

/* ---- for the fork shim's statement stepper (protected.h) ---------------- */

int gaprun_thrown_status(void)
{
    return thrown_status();
}

int gaprun_gap_exit_code(void)
{
    return gap_exit_code();
}
