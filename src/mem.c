/* Go's runtime/mem.go: the OS-independent layer.  Each function does Go's
 * accounting (sysMemStat, mapped-ready), then the OS step. */
#include <stdio.h>

#include "atomics.h"
#include "fatal.h"
#include "memwin.h"

/* Go's gcController.mappedReady: bytes in the Ready state. */
static uint64_t mapped_ready;

static void mapped_ready_add(int64_t d)
{
    mw_add64(&mapped_ready, d);
}

uint64_t memwin_mapped_ready(void)
{
    return mw_load64(&mapped_ready);
}

uint64_t memwin_stat_load(const sysMemStat *s)
{
    return mw_load64(s);
}

/* Adds first, then checks the result the way Go does: the stored value
 * stays wrapped when the check fires. */
void memwin_stat_add(sysMemStat *s, int64_t n)
{
    uint64_t val = mw_add64(s, n);
    if ((n > 0 && (int64_t)val < n) || (n < 0 && (int64_t)(val + (uint64_t)n) < n)) {
        char line[96];
        snprintf(line, sizeof line, "runtime: val=%llu n=%lld\n", (unsigned long long)val,
                 (long long)n);
        memwin_throw(line, "sysMemStat overflow");
    }
}

/* None -> Ready.  Accounts before the OS call, even if it fails. */
void *sysAlloc(uintptr_t n, sysMemStat *sysStat)
{
    memwin_stat_add(sysStat, (int64_t)n);
    mapped_ready_add((int64_t)n);
    return sysAllocOS(n);
}

/* Ready -> Prepared. */
void sysUnused(void *v, uintptr_t n)
{
    mapped_ready_add(-(int64_t)n);
    sysUnusedOS(v, n);
}

bool needZeroAfterSysUnused(void)
{
    return needZeroAfterSysUnusedOS();
}

/* Prepared -> Ready.  Only the prepared bytes become newly mapped-ready;
 * the whole range is committed. */
void sysUsed(void *v, uintptr_t n, uintptr_t prepared)
{
    mapped_ready_add((int64_t)prepared);
    sysUsedOS(v, n);
}

/* No state change. */
void sysHugePage(void *v, uintptr_t n)
{
    sysHugePageOS(v, n);
}

void sysNoHugePage(void *v, uintptr_t n)
{
    sysNoHugePageOS(v, n);
}

void sysHugePageCollapse(void *v, uintptr_t n)
{
    sysHugePageCollapseOS(v, n);
}

/* any -> None. */
void sysFree(void *v, uintptr_t n, sysMemStat *sysStat)
{
    memwin_stat_add(sysStat, -(int64_t)n);
    mapped_ready_add(-(int64_t)n);
    sysFreeOS(v, n);
}

/* Ready -> Reserved. */
void sysFault(void *v, uintptr_t n)
{
    mapped_ready_add(-(int64_t)n);
    sysFaultOS(v, n);
}

/* None -> Reserved. */
void *sysReserve(void *v, uintptr_t n)
{
    return sysReserveOS(v, n);
}

/* Reserved -> None (Go 1.25). */
void sysUnreserve(void *v, uintptr_t n)
{
    sysFreeOS(v, n);
}

/* Reserved -> Prepared. */
void sysMap(void *v, uintptr_t n, sysMemStat *sysStat)
{
    memwin_stat_add(sysStat, (int64_t)n);
    sysMapOS(v, n);
}

/* None -> Reserved at an align boundary.  Windows cannot release part of a
 * reservation, so an unaligned one is released whole and the aligned part
 * re-reserved, which another thread may take first: then start again. */
void *sysReserveAligned(void *v, uintptr_t size, uintptr_t align, uintptr_t *reserved)
{
    int retries = 0;
    for (;;) {
        uintptr_t p = (uintptr_t)sysReserve(v, size + align), p2;
        if (p == 0) {
            *reserved = 0;
            return NULL;
        }
        if ((p & (align - 1)) == 0) {
            *reserved = size + align;
            return (void *)p;
        }
        sysUnreserve((void *)p, size + align);
        p = (p + align - 1) & ~(align - 1);
        p2 = (uintptr_t)sysReserve((void *)p, size);
        if (p2 == p) {
            *reserved = size;
            return (void *)p2;
        }
        sysUnreserve((void *)p2, size);
        if (++retries == 100) {
            memwin_throw("", "failed to allocate aligned heap memory; too many retries");
            *reserved = 0;
            return NULL;
        }
    }
}
