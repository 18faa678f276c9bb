/* base.c: a plain Linux implementation of Go's Windows OS-memory layer
 * (runtime/mem_windows.go, runtime/mem.go, sysReserveAligned) on mmap,
 * mprotect and madvise, exporting the Go names of tests/vectors/manifest.txt
 * and none of memwin's observation hooks.  Built as is, it is the correct
 * base of the deliberately wrong libraries in this folder (README.md); each
 * of them is this file built with one WRONG_* macro defined, which selects
 * exactly one defect (each macro appears in one #if only, marked DEFECT).
 *
 * Windows model: reserve = PROT_NONE mapping of whole 64K granules (the
 * unusable tail of the last granule is held too), commit = mprotect RW,
 * decommit = MADV_DONTNEED + PROT_NONE (pages read zero when committed
 * again), release = munmap of the whole reservation.  Win32 error codes are
 * Wine 8.0's (/work/shared/reference/windows-vm-rules.md). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PAGE ((uintptr_t)4096)
#define GRAN ((uintptr_t)65536)
#define USER_END ((uintptr_t)0x7fffffff0000) /* end of the user address space */
#define ERR_NOMEM 8u
#define ERR_PARAM 87u
#define ERR_ADDRESS 487u

/* One Windows allocation: [base, base+size) usable, [base, base+span) mapped. */
struct resv {
    uintptr_t base, size, span;
};
#define MAX_RESV 4096
static struct resv g_resv[MAX_RESV];
static int g_nresv;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local uint32_t g_last_error; /* GetLastError() */

static uintptr_t page_up(uintptr_t x) { return (x + PAGE - 1) & ~(PAGE - 1); }

/* The next, smaller piece of Go's halving retry (0 ends it). */
#if defined(WRONG_NO_HALVING)
/* DEFECT no_halving: no retry; the first failure throws. */
static uintptr_t halve(uintptr_t small) { return (void)small, 0; }
#else
static uintptr_t halve(uintptr_t small) { return (small / 2) & ~(PAGE - 1); }
#endif

/* The reservation whose usable pages contain a, or NULL.  Lock held. */
static struct resv *find(uintptr_t a)
{
    for (int i = 0; i < g_nresv; i++)
        if (a >= g_resv[i].base && a - g_resv[i].base < g_resv[i].size)
            return &g_resv[i];
    return NULL;
}

/* VirtualAlloc(addr, n, MEM_RESERVE): None -> Reserved.  Lock held. */
static uintptr_t os_reserve(uintptr_t addr, uintptr_t n)
{
    uintptr_t base, size, span;
    void *p;
    if (n == 0 || n > USER_END) {
        g_last_error = ERR_PARAM;
        return 0;
    }
    if (addr) {
        base = addr & ~(GRAN - 1);
        if (addr + n < addr || addr + n > USER_END || base < GRAN) {
            g_last_error = ERR_PARAM;
            return 0;
        }
        size = page_up(addr + n) - base;
    } else {
        base = 0;
        size = page_up(n);
    }
    span = (size + GRAN - 1) & ~(GRAN - 1);
    if (g_nresv == MAX_RESV) {
        g_last_error = ERR_NOMEM;
        return 0;
    }
    if (addr) {
        p = mmap((void *)base, span, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
        if (p != MAP_FAILED && (uintptr_t)p != base) {
            munmap(p, span); /* a kernel that took the address as a hint only */
            p = MAP_FAILED;
        }
        if (p == MAP_FAILED) {
            g_last_error = ERR_ADDRESS;
            return 0;
        }
    } else {
        /* Anywhere, 64K-aligned: map a granule more and trim both ends. */
        uintptr_t a, head;
        p = mmap(NULL, span + GRAN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) {
            g_last_error = ERR_NOMEM;
            return 0;
        }
        a = (uintptr_t)p;
        base = (a + GRAN - 1) & ~(GRAN - 1);
        head = base - a;
        if (head)
            munmap(p, head);
        if (GRAN - head)
            munmap((void *)(base + span), GRAN - head);
    }
    g_resv[g_nresv].base = base;
    g_resv[g_nresv].size = size;
    g_resv[g_nresv].span = span;
    g_nresv++;
    return base;
}

/* VirtualAlloc(v, n, MEM_COMMIT): Reserved -> Ready; returns the page-rounded
 * start.  A NULL v makes a new committed reservation (Windows does).  Lock held. */
static uintptr_t os_commit(uintptr_t v, uintptr_t n)
{
    uintptr_t start = v & ~(PAGE - 1), end = page_up(v + n);
    struct resv *r;
    if (n == 0 || v + n < v || v + n > USER_END) { /* past the user address space: 87, as Wine */
        g_last_error = ERR_PARAM;
        return 0;
    }
    if (v == 0) {
        start = os_reserve(0, n);
        end = start + page_up(n);
        if (start == 0)
            return 0;
    }
    r = find(start);
    if (r == NULL || end - r->base > r->size) {
        g_last_error = ERR_ADDRESS;
        return 0;
    }
    if (mprotect((void *)start, end - start, PROT_READ | PROT_WRITE) != 0) {
        g_last_error = ERR_NOMEM;
        return 0;
    }
    return start;
}

/* VirtualFree(v, n, MEM_DECOMMIT): Ready -> Reserved; n 0 = the whole
 * allocation (only at its base), and so is an n whose page-rounded end wraps
 * to v's page (Wine rounds n to pages modulo 2^64).  Lock held. */
static bool os_decommit(uintptr_t v, uintptr_t n)
{
    uintptr_t start = v & ~(PAGE - 1);
    uintptr_t len = n ? ((v - start) + n + PAGE - 1) & ~(PAGE - 1) : 0, end = start + len;
    struct resv *r = v ? find(start) : NULL;
    if (r == NULL) {
        g_last_error = ERR_PARAM;
        return false;
    }
    if (len == 0) {
        if (start != r->base) {
            g_last_error = ERR_ADDRESS;
            return false;
        }
        end = r->base + r->size;
    }
    if (end < start || end - r->base > r->size) {
        g_last_error = ERR_PARAM;
        return false;
    }
#if defined(WRONG_NO_DECOMMIT)
    /* DEFECT no_decommit: the pages stay committed. */
#elif defined(WRONG_DECOMMIT_KEEPS_CONTENTS)
    /* DEFECT decommit_keeps_contents: the access goes, the contents stay. */
    mprotect((void *)start, end - start, PROT_NONE);
#else
    madvise((void *)start, end - start, MADV_DONTNEED);
    mprotect((void *)start, end - start, PROT_NONE);
#endif
    return true;
}

/* VirtualFree(v, 0, MEM_RELEASE): any -> None, the whole reservation that
 * starts at v (n is only for Go's message).  Lock held. */
static bool os_release(uintptr_t v, uintptr_t n)
{
    struct resv *r = v ? find(v) : NULL;
    (void)n;
    if (r == NULL) {
        g_last_error = ERR_PARAM;
        return false;
    }
    if ((v & ~(PAGE - 1)) != r->base) {
        g_last_error = ERR_ADDRESS;
        return false;
    }
#if defined(WRONG_PARTIAL_RELEASE)
    /* DEFECT partial_release: only the n bytes given are unmapped. */
    munmap((void *)r->base, page_up(n) < r->span ? page_up(n) : r->span);
#else
    munmap((void *)r->base, r->span);
#endif
    *r = g_resv[--g_nresv];
    return true;
}

/* Go's throw: the message, then exit status 2. */
static void go_throw(const char *msg)
{
    fprintf(stderr, "fatal error: %s\n", msg);
    fflush(stderr);
    _exit(2);
}

/* Each Win32 call clears the last error first, as Go's stdcall does. */
static uintptr_t w_reserve(uintptr_t v, uintptr_t n)
{
    uintptr_t r;
    pthread_mutex_lock(&g_lock);
    g_last_error = 0;
    r = os_reserve(v, n);
    pthread_mutex_unlock(&g_lock);
    return r;
}
static uintptr_t w_commit(uintptr_t v, uintptr_t n)
{
    uintptr_t r;
    pthread_mutex_lock(&g_lock);
    g_last_error = 0;
    r = os_commit(v, n);
    pthread_mutex_unlock(&g_lock);
    return r;
}
static bool w_decommit(uintptr_t v, uintptr_t n)
{
    bool r;
    pthread_mutex_lock(&g_lock);
    g_last_error = 0;
    r = os_decommit(v, n);
    pthread_mutex_unlock(&g_lock);
    return r;
}
static bool w_release(uintptr_t v, uintptr_t n)
{
    bool r;
    pthread_mutex_lock(&g_lock);
    g_last_error = 0;
    r = os_release(v, n);
    pthread_mutex_unlock(&g_lock);
    return r;
}

/* ---- OS layer (mem_windows.go) ---- */

/* None -> Ready. */
void *sysAllocOS(uintptr_t n)
{
    uintptr_t p = w_reserve(0, n);
    if (p && w_commit(p, n) == 0) {
        w_release(p, n);
        p = 0;
    }
    return (void *)p;
}

/* Ready -> Prepared: decommit; on failure, in halving pieces (4096 floor). */
void sysUnusedOS(void *v, uintptr_t n)
{
    uintptr_t a = (uintptr_t)v;
    if (w_decommit(a, n))
        return;
    while (n > 0) {
        uintptr_t small = n;
        while (small >= PAGE && !w_decommit(a, small))
            small = halve(small);
        if (small < PAGE) {
            fprintf(stderr, "runtime: VirtualFree of %ju bytes failed with errno=%u\n",
                    (uintmax_t)small, g_last_error);
            go_throw("runtime: failed to decommit pages");
        }
        a += small;
        n -= small;
    }
}

/* Prepared -> Ready: commit; on failure, in halving pieces (4096 floor). */
void sysUsedOS(void *v, uintptr_t n)
{
    uintptr_t a = (uintptr_t)v, k = n;
    if (w_commit(a, n) == a)
        return;
    while (k > 0) {
        uintptr_t small = k;
        while (small >= PAGE && w_commit(a, small) == 0)
            small = halve(small);
        if (small < PAGE) {
            uint32_t e = g_last_error;
            if (e == ERR_NOMEM || e == 1455) {
                fprintf(stderr, "runtime: VirtualAlloc of %ju bytes failed with errno=%u\n",
                        (uintmax_t)n, e);
                go_throw("out of memory");
            }
            fprintf(stderr, "runtime: VirtualAlloc of %ju bytes failed with errno=%u\n",
                    (uintmax_t)small, e);
            go_throw("runtime: failed to commit pages");
        }
        a += small;
        k -= small;
    }
}

void sysHugePageOS(void *v, uintptr_t n) { (void)v, (void)n; }
void sysNoHugePageOS(void *v, uintptr_t n) { (void)v, (void)n; }
void sysHugePageCollapseOS(void *v, uintptr_t n) { (void)v, (void)n; }

/* any -> None: the whole reservation at v. */
void sysFreeOS(void *v, uintptr_t n)
{
    if (!w_release((uintptr_t)v, n)) {
        fprintf(stderr, "runtime: VirtualFree of %ju bytes failed with errno=%u\n",
                (uintmax_t)n, g_last_error);
        go_throw("runtime: failed to release pages");
    }
}

/* Ready -> Reserved. */
void sysFaultOS(void *v, uintptr_t n) { sysUnusedOS(v, n); }

/* None -> Reserved: at the hint if it is free, else anywhere. */
void *sysReserveOS(void *v, uintptr_t n)
{
#if defined(WRONG_IGNORES_HINTS)
    /* DEFECT ignores_hints: the hint v is dropped. */
    uintptr_t p = w_reserve(0, n);
    (void)v;
#else
    uintptr_t p = w_reserve((uintptr_t)v, n);
#endif
    if (p)
        return (void *)p;
    return (void *)w_reserve(0, n);
}

/* Reserved -> Prepared: nothing on Windows. */
void sysMapOS(void *v, uintptr_t n) { (void)v, (void)n; }

bool needZeroAfterSysUnusedOS(void) { return true; }

/* ---- generic layer (mem.go) ---- */

/* sysMemStat.add with Go's overflow check. */
static void stat_add(uint64_t *stat, int64_t d)
{
    uint64_t v = __atomic_add_fetch(stat, (uint64_t)d, __ATOMIC_SEQ_CST);
    if ((d > 0 && (int64_t)v < d) || (d < 0 && (int64_t)(v + (uint64_t)d) < d)) {
        fprintf(stderr, "runtime: val=%ju n=%jd\n", (uintmax_t)v, (intmax_t)d);
        go_throw("sysMemStat overflow");
    }
}

void *sysAlloc(uintptr_t n, uint64_t *stat)
{
    stat_add(stat, (int64_t)n);
    return sysAllocOS(n);
}
void sysUnused(void *v, uintptr_t n) { sysUnusedOS(v, n); }
void sysUsed(void *v, uintptr_t n, uintptr_t prepared)
{
    (void)prepared; /* only mapped-ready accounting, which this library does not keep */
    sysUsedOS(v, n);
}
void sysHugePage(void *v, uintptr_t n) { sysHugePageOS(v, n); }
void sysNoHugePage(void *v, uintptr_t n) { sysNoHugePageOS(v, n); }
void sysHugePageCollapse(void *v, uintptr_t n) { sysHugePageCollapseOS(v, n); }
void sysFree(void *v, uintptr_t n, uint64_t *stat)
{
    stat_add(stat, (int64_t)(0 - (uint64_t)n));
    sysFreeOS(v, n);
}
void sysFault(void *v, uintptr_t n) { sysFaultOS(v, n); }
void *sysReserve(void *v, uintptr_t n) { return sysReserveOS(v, n); }
void sysMap(void *v, uintptr_t n, uint64_t *stat)
{
    stat_add(stat, (int64_t)n);
    sysMapOS(v, n);
}
void sysUnreserve(void *v, uintptr_t n) { sysFreeOS(v, n); }
bool needZeroAfterSysUnused(void) { return needZeroAfterSysUnusedOS(); }

/* None -> Reserved, aligned: reserve size+align; if that is not aligned,
 * release it and reserve size at the aligned address inside, which a racing
 * thread may take (then retry, 100 times at most). */
void *sysReserveAligned(void *v, uintptr_t size, uintptr_t align, uintptr_t *reserved)
{
    for (int tries = 0;;) {
        uintptr_t p = (uintptr_t)sysReserve(v, size + align), q;
        if (p == 0) {
            *reserved = 0;
            return NULL;
        }
        if ((p & (align - 1)) == 0) {
            *reserved = size + align;
            return (void *)p;
        }
        sysFreeOS((void *)p, size + align);
        p = (p + align - 1) & ~(align - 1);
        q = (uintptr_t)sysReserve((void *)p, size);
        if (q == p) {
            *reserved = size;
            return (void *)q;
        }
        sysFreeOS((void *)q, size);
        if (++tries == 100)
            go_throw("failed to allocate aligned heap memory; too many retries");
    }
}
