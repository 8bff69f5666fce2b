/*
 * GAP's pool mapping: MAP_NORESERVE and huge-page advice for it, whichever
 * way libgap is linked.
 *
 * GAP maps its whole workspace pool (`-s`, 4 GiB by default) private and
 * reserved, so Linux charges all of it to Committed_AS at start and again
 * for every forked child. This file gives the pool MAP_NORESERVE when asked,
 * in three builds:
 *
 *  - static libgap (GAPRUN_POOL_HOOK): build.rs renames libgap.a's `mmap`
 *    to `gaprun_pool_mmap`, so only GAP's calls arrive there; every
 *    anonymous one is GAP's allocator (sysmem.c), as before.
 *  - shared libgap linked into gaprun (GAPRUN_MMAP_INTERPOSER): the
 *    executable defines `mmap`; libgap.so's undefined `mmap` binds to it
 *    (the executable comes first in the lookup scope, and the linker
 *    exports the definition because libgap.so refers to it). Every `mmap`
 *    of the process arrives here, so only calls that match GAP's pool rule
 *    (below) are changed; all others pass through untouched.
 *  - the preload library (GAPRUN_PRELOAD, `gaprun preload`): the same
 *    interposer in a shared object for LD_PRELOAD under any host of libgap
 *    (SageMath's), configured by environment variables.
 *
 * GAP's pool rule (sysmem.c, the same in GAP 4.12.1 and 4.16.1: SyAnonMMap
 * and SyTryToIncreasePool; checked in the disassembly of Debian's libgap.a
 * 4.12.1 and of passagemath-gap's libgap.so.11):
 *   every pool call is mmap(ADDR, LEN, PROT_READ|PROT_WRITE,
 *   MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) with LEN a whole number of pages, and
 *   ADDR one of
 *   1. start:    the fixed hint 16 TiB (0x100000000000), LEN = -s + 1 page;
 *   2. fallback: NULL, straight after a start call *of the same thread and
 *                the same LEN* that failed (GAP retries without the hint;
 *                when that fails too it halves -s and begins again at 1.);
 *   3. growth:   exactly the end of the pool mapped so far, with LEN = half
 *                the pool's current size rounded up to pages (GAP grows by
 *                half and keeps the chunk only if it lands right there).
 * Why nothing else matches: a call must carry GAP's exact protection,
 * flags (no MAP_FIXED, no file, no MAP_SHARED/STACK/…) and offset, and in
 * addition either GAP's private 16 TiB hint, or repeat the length of a
 * hinted call that just failed on the same thread, or ask for the one
 * address right after the pool with the one length GAP's growth uses.
 * Allocators that map anonymous memory (glibc malloc's internal mmap does
 * not even come through here; Python's arenas, Rust's std, JITs) pass NULL
 * or their own hints.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include "gaprun_shim.h"
#include "pool_hook.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static volatile int pool_noreserve = 0;
static volatile int pool_hugepages = 0;
static gaprun_pool_stats pool_stats = { 0, 0, 0, 0, 0 };

/* ---- the rule (pure) ---------------------------------------------------- */

#define GAP_POOL_HINT ((uintptr_t)16 << 40)

int gaprun_pool_classify(uintptr_t addr, size_t len, int prot, int flags,
                         int fd, int64_t offset, size_t page,
                         uintptr_t pool_start, uintptr_t pool_end,
                         size_t failed_start_len)
{
    if (prot != (PROT_READ | PROT_WRITE) || fd != -1 || offset != 0)
        return GAPRUN_POOL_CALL_OTHER;
    if ((flags & ~MAP_NORESERVE) != (MAP_PRIVATE | MAP_ANONYMOUS))
        return GAPRUN_POOL_CALL_OTHER;
    if (page == 0 || len == 0 || len % page != 0)
        return GAPRUN_POOL_CALL_OTHER;
    if (addr == GAP_POOL_HINT)
        return GAPRUN_POOL_CALL_START;
    if (addr == 0 && failed_start_len != 0 && len == failed_start_len)
        return GAPRUN_POOL_CALL_FALLBACK;
    if (pool_end != 0 && addr == pool_end && pool_end > pool_start) {
        size_t half = (pool_end - pool_start) / 2;
        size_t chunk = half % page == 0 ? half : half - half % page + page;
        if (len == chunk)
            return GAPRUN_POOL_CALL_GROWTH;
    }
    return GAPRUN_POOL_CALL_OTHER;
}

/* ---- what the process-wide interposer needs ---------------------------- */

#if (defined(GAPRUN_MMAP_INTERPOSER) || defined(GAPRUN_PRELOAD)) && \
    defined(__linux__) && __SIZEOF_POINTER__ == 8
#define GAPRUN_INTERPOSE 1
#endif

#ifdef GAPRUN_INTERPOSE

typedef void * (*mmap_fn)(void *, size_t, int, int, int, off_t);

/* The pool as mapped so far (GAP maps it from one thread; other threads
 * only read these to classify their own calls). */
static uintptr_t pool_start = 0;
static uintptr_t pool_end = 0;
/* LEN of this thread's last start call if it failed (rule 2). */
static __thread size_t failed_start_len = 0;
/* Set while this thread resolves the real mmap (dlsym may allocate). */
static __thread int resolving = 0;

static void * raw_mmap(void * addr, size_t len, int prot, int flags, int fd,
                       off_t offset)
{
    long r = syscall(SYS_mmap, addr, len, prot, flags, fd, offset);
    return (void *)r; /* -1 with errno set on failure: MAP_FAILED */
}

/* The next `mmap` in the lookup order (libc's, or another interposer's),
 * or the system call when it cannot be found (or while it is looked up). */
static void * real_mmap(void * addr, size_t len, int prot, int flags, int fd,
                        off_t offset)
{
    static mmap_fn next = NULL;
    mmap_fn fn = __atomic_load_n(&next, __ATOMIC_ACQUIRE);
    if (fn == NULL && !resolving) {
        resolving = 1;
        fn = (mmap_fn)dlsym(RTLD_NEXT, "mmap");
        resolving = 0;
        if (fn != NULL)
            __atomic_store_n(&next, fn, __ATOMIC_RELEASE);
    }
    if (fn == NULL)
        return raw_mmap(addr, len, prot, flags, fd, offset);
    return fn(addr, len, prot, flags, fd, offset);
}

#ifdef GAPRUN_PRELOAD
/* The preload library is configured by the environment, read once (GAP
 * maps its pool long after start-up, when the environment is settled):
 * GAPRUN_POOL_NORESERVE (default 1), GAPRUN_POOL_HUGEPAGES (default 0),
 * GAPRUN_PRELOAD_VERBOSE (default 0: 1 reports each pool call on stderr). */
static int preload_verbose = 0;

static int env_flag(const char * name, int fallback)
{
    const char * v = getenv(name);
    if (v == NULL || *v == 0)
        return fallback;
    return !(strcmp(v, "0") == 0 || strcmp(v, "no") == 0 ||
             strcmp(v, "false") == 0 || strcmp(v, "off") == 0);
}

static void configure_from_env(void)
{
    static int done = 0;
    if (__atomic_load_n(&done, __ATOMIC_ACQUIRE))
        return;
    pool_noreserve = env_flag("GAPRUN_POOL_NORESERVE", 1);
    pool_hugepages = env_flag("GAPRUN_POOL_HUGEPAGES", 0);
    preload_verbose = env_flag("GAPRUN_PRELOAD_VERBOSE", 0);
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
}

/* Digits of `v` in `base`, written backwards from `end` (no stdio: no
 * allocation inside mmap). */
static char * digits(char * end, uintptr_t v, unsigned base)
{
    *--end = 0;
    do {
        *--end = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    return end;
}

/* One line on stderr per pool call:
 * "gaprun-preload: GAP pool mapping of N bytes at 0xADDR: MAP_NORESERVE". */
static void report(const char * kind, size_t len, void * at, int noreserve)
{
    char line[200];
    char len_buf[24];
    char at_buf[24];
    const char * parts[] = {
        "gaprun-preload: GAP pool ", kind, " of ", digits(len_buf + 24, len, 10),
        " bytes at 0x", digits(at_buf + 24, (uintptr_t)at, 16),
        at == MAP_FAILED ? ": failed\n"
        : noreserve      ? ": MAP_NORESERVE\n"
                         : ": reserved\n",
        NULL
    };
    size_t n = 0;
    for (int k = 0; parts[k] != NULL; k++) {
        size_t l = strlen(parts[k]);
        if (n + l >= sizeof line)
            break;
        memcpy(line + n, parts[k], l);
        n += l;
    }
    ssize_t ignored = write(2, line, n);
    (void)ignored;
}
#endif

static void * interpose(void * addr, size_t len, int prot, int flags, int fd,
                        off_t offset)
{
    static size_t page = 0;
    if (page == 0)
        page = (size_t)sysconf(_SC_PAGESIZE);
    int kind = gaprun_pool_classify(
        (uintptr_t)addr, len, prot, flags, fd, (int64_t)offset, page,
        __atomic_load_n(&pool_start, __ATOMIC_ACQUIRE),
        __atomic_load_n(&pool_end, __ATOMIC_ACQUIRE), failed_start_len);
    if (kind == GAPRUN_POOL_CALL_OTHER)
        return real_mmap(addr, len, prot, flags, fd, offset);
    if (kind == GAPRUN_POOL_CALL_FALLBACK || kind == GAPRUN_POOL_CALL_START)
        failed_start_len = 0;

#ifdef GAPRUN_PRELOAD
    configure_from_env();
#endif
    int noreserve = pool_noreserve;
    if (noreserve)
        flags |= MAP_NORESERVE;
    void * p = real_mmap(addr, len, prot, flags, fd, offset);

#ifdef GAPRUN_PRELOAD
    if (preload_verbose)
        report(kind == GAPRUN_POOL_CALL_GROWTH ? "growth" : "mapping", len, p,
               noreserve);
#endif
    if (p == MAP_FAILED) {
        if (kind == GAPRUN_POOL_CALL_START)
            failed_start_len = len;
        return p;
    }
    if (kind == GAPRUN_POOL_CALL_GROWTH) {
        if (p != addr)
            return p; /* GAP unmaps a chunk that landed elsewhere */
        __atomic_store_n(&pool_end, (uintptr_t)p + len, __ATOMIC_RELEASE);
    }
    else {
        __atomic_store_n(&pool_start, (uintptr_t)p, __ATOMIC_RELEASE);
        __atomic_store_n(&pool_end, (uintptr_t)p + len, __ATOMIC_RELEASE);
    }
    pool_stats.mappings++;
    pool_stats.bytes += len;
    if (noreserve)
        pool_stats.noreserve++;
    if (pool_hugepages && madvise(p, len, MADV_HUGEPAGE) == 0)
        pool_stats.hugepages++;
    return p;
}

/* The interposers. On LP64 Linux `mmap64` is the same function as `mmap`
 * (off_t is 64 bits); code built with _FILE_OFFSET_BITS=64 calls it by that
 * name. */
void * mmap(void * addr, size_t len, int prot, int flags, int fd,
            off_t offset)
{
    return interpose(addr, len, prot, flags, fd, offset);
}

void * mmap64(void * addr, size_t len, int prot, int flags, int fd,
              off_t offset)
{
    return interpose(addr, len, prot, flags, fd, offset);
}

#ifndef GAPRUN_PRELOAD
/* Whether GAP's `mmap` calls reach the interposer: the first `mmap` in the
 * global lookup scope (where libgap.so's reference binds) is this one. */
static int interposer_active(void)
{
    return dlsym(RTLD_DEFAULT, "mmap") == (void *)&mmap;
}
#endif

#endif /* GAPRUN_INTERPOSE */

/* ---- the static hook ---------------------------------------------------- */

#if defined(GAPRUN_POOL_HOOK) && !defined(GAPRUN_PRELOAD)
void * gaprun_pool_mmap(void * addr, size_t len, int prot, int flags, int fd,
                        off_t offset)
{
    pool_stats.hooked = 1;
    if ((flags & MAP_ANONYMOUS) && fd == -1) {
        pool_stats.mappings++;
        pool_stats.bytes += len;
        if (pool_noreserve) {
            flags |= MAP_NORESERVE;
            pool_stats.noreserve++;
        }
    }
    void * p = mmap(addr, len, prot, flags, fd, offset);
    if (p != MAP_FAILED && pool_hugepages && (flags & MAP_ANONYMOUS) &&
        fd == -1) {
        /* Transparent huge pages: fork copies one page-table entry per
         * 2 MB instead of 512, which is most of the cost of forking a
         * ready GAP. Only advice: the kernel may ignore it. */
        if (madvise(p, len, MADV_HUGEPAGE) == 0)
            pool_stats.hugepages++;
    }
    return p;
}
#endif

/* ---- settings and statistics (gaprun's runtime) ------------------------ */

#ifndef GAPRUN_PRELOAD
void gaprun_pool_set_noreserve(int on)
{
    pool_noreserve = on ? 1 : 0;
}

void gaprun_pool_set_hugepages(int on)
{
    pool_hugepages = on ? 1 : 0;
}

void gaprun_pool_get_stats(gaprun_pool_stats * out)
{
    *out = pool_stats;
#if defined(GAPRUN_POOL_HOOK)
    out->hooked = 1;
#elif defined(GAPRUN_INTERPOSE)
    out->hooked = interposer_active();
#else
    out->hooked = 0;
#endif
}
#endif
