/* Go's runtime/mem.go: the OS-independent layer.  Each function does Go's
 * accounting (sysMemStat, mapped-ready), then the OS step (mem_windows.c).
 * The exports that run it are in api.c. */
#include <stdio.h>

#include "atomics.h"
#include "fatal.h"
#include "mem.h"
#include "mem_windows.h"
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

/* ---- Go's logic: one function per transition -------------------------- */

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
