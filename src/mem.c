/* Go's runtime/mem.go: the OS-independent layer.  Each function does Go's
 * accounting (sysMemStat, mapped-ready), then the OS step. */
#include <stdio.h>

#include "atomics.h"
#include "fatal.h"
#include "mem_internal.h"
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

/* A nil stat is Go's nil dereference: the same fatal error as
 * memwin_stat_add's ("memwin: nil sysMemStat"); 0 if the handler returns
 * (recoverable mode: memwin_last_error() is MEMWIN_ERR_OS). */
uint64_t memwin_stat_load(const sysMemStat *s)
{
    if (!s) {
        memwin_throw("", "memwin: nil sysMemStat");
        return 0;
    }
    return mw_load64(s);
}

/* Adds first, then checks the result the way Go does: the stored value
 * stays wrapped when the check fires.  Go dereferences a nil stat and
 * panics; memwin reports it as a fatal error instead of faulting. */
int memwin_stat_add_ok(sysMemStat *s, int64_t n)
{
    uint64_t val;
    if (!s) {
        memwin_throw("", "memwin: nil sysMemStat");
        return 0;
    }
    val = mw_add64(s, n);
    if ((n > 0 && (int64_t)val < n) || (n < 0 && (int64_t)(val + (uint64_t)n) < n)) {
        char line[96];
        snprintf(line, sizeof line, "runtime: val=%llu n=%lld\n", (unsigned long long)val,
                 (long long)n);
        memwin_throw(line, "sysMemStat overflow");
        return 0;
    }
    return 1;
}

void memwin_stat_add(sysMemStat *s, int64_t n)
{
    memwin_stat_add_ok(s, n);
}

/* ---- Go's logic -------------------------------------------------------- */

/* None -> Ready.  Accounts before the OS call, even if it fails. */
void *memwin_gen_alloc(uintptr_t n, sysMemStat *stat)
{
    if (!memwin_stat_add_ok(stat, (int64_t)n))
        return NULL;
    mapped_ready_add((int64_t)n);
    return memwin_os_alloc(n);
}

/* Ready -> Prepared. */
int memwin_gen_unused(void *v, uintptr_t n)
{
    mapped_ready_add(memwin_neg(n));
    return memwin_os_unused(v, n);
}

/* Prepared -> Ready.  Only the prepared bytes become newly mapped-ready;
 * the whole range is committed. */
int memwin_gen_used(void *v, uintptr_t n, uintptr_t prepared)
{
    mapped_ready_add((int64_t)prepared);
    return memwin_os_used(v, n);
}

/* any -> None. */
int memwin_gen_free(void *v, uintptr_t n, sysMemStat *stat)
{
    if (!memwin_stat_add_ok(stat, memwin_neg(n)))
        return 0;
    mapped_ready_add(memwin_neg(n));
    return memwin_os_free(v, n);
}

/* Ready -> Reserved. */
int memwin_gen_fault(void *v, uintptr_t n)
{
    mapped_ready_add(memwin_neg(n));
    return memwin_os_unused(v, n);
}

/* Reserved -> Prepared: only accounting, sysMapOS does nothing. */
int memwin_gen_map(void *v, uintptr_t n, sysMemStat *stat)
{
    (void)v;
    return memwin_stat_add_ok(stat, (int64_t)n);
}

/* None -> Reserved at an align boundary.  Windows cannot release part of a
 * reservation, so an unaligned one is released whole and the aligned part
 * re-reserved, which another thread may take first: then start again. */
void *memwin_gen_reserve_aligned(void *v, uintptr_t size, uintptr_t align, uintptr_t *reserved)
{
    int retries = 0;
    *reserved = 0;
    for (;;) {
        uintptr_t p = (uintptr_t)memwin_os_reserve(v, size + align), p2;
        if (p == 0)
            return NULL;
        if ((p & (align - 1)) == 0) {
            *reserved = size + align;
            return (void *)p;
        }
        if (!memwin_os_free((void *)p, size + align))
            return NULL;
        p = (p + align - 1) & ~(align - 1);
        p2 = (uintptr_t)memwin_os_reserve((void *)p, size);
        if (p2 == p) {
            *reserved = size;
            return (void *)p2;
        }
        if (!memwin_os_free((void *)p2, size))
            return NULL;
        if (++retries == 100) {
            memwin_throw("", "failed to allocate aligned heap memory; too many retries");
            return NULL;
        }
    }
}

/* ---- the exports: checked mode, or Go's logic as is -------------------- */

/* None -> Ready. */
void *sysAlloc(uintptr_t n, sysMemStat *sysStat)
{
    if (memwin_checking())
        return memwin_checked(MW_ALLOC, NULL, n, 0, sysStat, NULL);
    return memwin_gen_alloc(n, sysStat);
}

/* Ready -> Prepared. */
void sysUnused(void *v, uintptr_t n)
{
    if (memwin_checking())
        memwin_checked(MW_UNUSED, v, n, 0, NULL, NULL);
    else
        memwin_gen_unused(v, n);
}

bool needZeroAfterSysUnused(void)
{
    return needZeroAfterSysUnusedOS();
}

/* Prepared -> Ready. */
void sysUsed(void *v, uintptr_t n, uintptr_t prepared)
{
    if (memwin_checking())
        memwin_checked(MW_USED, v, n, prepared, NULL, NULL);
    else
        memwin_gen_used(v, n, prepared);
}

/* No state change. */
void sysHugePage(void *v, uintptr_t n)
{
    if (memwin_checking())
        memwin_checked(MW_HUGE, v, n, 0, NULL, NULL);
}

void sysNoHugePage(void *v, uintptr_t n)
{
    if (memwin_checking())
        memwin_checked(MW_NOHUGE, v, n, 0, NULL, NULL);
}

void sysHugePageCollapse(void *v, uintptr_t n)
{
    if (memwin_checking())
        memwin_checked(MW_COLLAPSE, v, n, 0, NULL, NULL);
}

/* any -> None. */
void sysFree(void *v, uintptr_t n, sysMemStat *sysStat)
{
    if (memwin_checking())
        memwin_checked(MW_FREE, v, n, 0, sysStat, NULL);
    else if (memwin_gen_free(v, n, sysStat))
        memwin_tracker_forget(v);
}

/* Ready -> Reserved. */
void sysFault(void *v, uintptr_t n)
{
    if (memwin_checking())
        memwin_checked(MW_FAULT, v, n, 0, NULL, NULL);
    else
        memwin_gen_fault(v, n);
}

/* None -> Reserved. */
void *sysReserve(void *v, uintptr_t n)
{
    if (memwin_checking())
        return memwin_checked(MW_RESERVE, v, n, 0, NULL, NULL);
    return memwin_os_reserve(v, n);
}

/* Reserved -> None (Go 1.25). */
void sysUnreserve(void *v, uintptr_t n)
{
    if (memwin_checking())
        memwin_checked(MW_UNRESERVE, v, n, 0, NULL, NULL);
    else if (memwin_os_free(v, n))
        memwin_tracker_forget(v);
}

/* Reserved -> Prepared. */
void sysMap(void *v, uintptr_t n, sysMemStat *sysStat)
{
    if (memwin_checking())
        memwin_checked(MW_MAP, v, n, 0, sysStat, NULL);
    else
        memwin_gen_map(v, n, sysStat);
}

/* None -> Reserved, aligned. */
void *sysReserveAligned(void *v, uintptr_t size, uintptr_t align, uintptr_t *reserved)
{
    uintptr_t ignored;
    if (!reserved)
        reserved = &ignored;
    if (memwin_checking())
        return memwin_checked(MW_RESERVE_ALIGNED, v, size, align, NULL, reserved);
    return memwin_reserve_aligned_policy(v, size, align, reserved);
}
