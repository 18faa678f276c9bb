/* The exports of Go's layers: runtime/mem_windows.go's sysXxxOS, runtime/
 * mem.go's sysXxx, sysReserveAligned, and memwin_reserve_aligned.  The only
 * place that asks which mode is on: exact mode runs Go's logic as is (one
 * load of the mode word), checked and recoverable modes go through
 * checked.c.  Each comment states the region-state transition. */
#include "checked.h"
#include "mem.h"
#include "mem_windows.h"
#include "reserve_aligned.h"
#include "memwin.h"
#include "mode.h"

/* ---- runtime/mem_windows.go ---------------------------------------------- */

/* None -> Ready. */
void *sysAllocOS(uintptr_t n)
{
    if (memwin_checking())
        return memwin_chk_alloc(MW_ALLOC_OS, n, NULL);
    return memwin_os_alloc(n);
}

/* None -> Reserved: at the hint v if possible, else anywhere. */
void *sysReserveOS(void *v, uintptr_t n)
{
    if (memwin_checking())
        return memwin_chk_reserve(MW_RESERVE_OS, v, n);
    return memwin_os_reserve(v, n);
}

/* Reserved -> Prepared: nothing to do on Windows; sysUsedOS commits. */
void sysMapOS(void *v, uintptr_t n)
{
    if (memwin_checking())
        memwin_chk_map(MW_MAP_OS, v, n, NULL);
}

/* Prepared -> Ready. */
void sysUsedOS(void *v, uintptr_t n)
{
    if (memwin_checking())
        memwin_chk_used(MW_USED_OS, v, n, 0);
    else
        memwin_os_used(v, n);
}

/* Ready -> Prepared. */
void sysUnusedOS(void *v, uintptr_t n)
{
    if (memwin_checking())
        memwin_chk_unused(MW_UNUSED_OS, v, n);
    else
        memwin_os_unused(v, n);
}

/* Ready -> Reserved: decommitted pages fault when touched. */
void sysFaultOS(void *v, uintptr_t n)
{
    if (memwin_checking())
        memwin_chk_fault(MW_FAULT_OS, v, n);
    else
        memwin_os_unused(v, n);
}

/* any -> None for the whole reservation at v. */
void sysFreeOS(void *v, uintptr_t n)
{
    uint64_t m = memwin_mode_now();
    if (MW_CHECKING(m))
        memwin_chk_free(MW_FREE_OS, v, n, NULL);
    else if (memwin_os_free(v, n) && (m & MW_MODE_TRACKED))
        memwin_chk_forget(v);
}

/* No state change: Windows has no huge-page hints (checked mode still
 * verifies the range is memwin's). */
void sysHugePageOS(void *v, uintptr_t n)
{
    if (memwin_checking())
        memwin_chk_hint(MW_HUGE_OS, v, n);
}

void sysNoHugePageOS(void *v, uintptr_t n)
{
    if (memwin_checking())
        memwin_chk_hint(MW_NOHUGE_OS, v, n);
}

void sysHugePageCollapseOS(void *v, uintptr_t n)
{
    if (memwin_checking())
        memwin_chk_hint(MW_COLLAPSE_OS, v, n);
}

/* Decommitted pages come back zeroed on Windows, but Go still answers true. */
bool needZeroAfterSysUnusedOS(void)
{
    return true;
}

/* ---- runtime/mem.go -------------------------------------------------------- */

/* None -> Ready. */
void *sysAlloc(uintptr_t n, sysMemStat *sysStat)
{
    if (memwin_checking())
        return memwin_chk_alloc(MW_ALLOC, n, sysStat);
    return memwin_gen_alloc(n, sysStat);
}

/* None -> Reserved. */
void *sysReserve(void *v, uintptr_t n)
{
    if (memwin_checking())
        return memwin_chk_reserve(MW_RESERVE, v, n);
    return memwin_os_reserve(v, n);
}

/* Reserved -> Prepared. */
void sysMap(void *v, uintptr_t n, sysMemStat *sysStat)
{
    if (memwin_checking())
        memwin_chk_map(MW_MAP, v, n, sysStat);
    else
        memwin_gen_map(v, n, sysStat);
}

/* Prepared -> Ready. */
void sysUsed(void *v, uintptr_t n, uintptr_t prepared)
{
    if (memwin_checking())
        memwin_chk_used(MW_USED, v, n, prepared);
    else
        memwin_gen_used(v, n, prepared);
}

/* Ready -> Prepared. */
void sysUnused(void *v, uintptr_t n)
{
    if (memwin_checking())
        memwin_chk_unused(MW_UNUSED, v, n);
    else
        memwin_gen_unused(v, n);
}

/* Ready -> Reserved. */
void sysFault(void *v, uintptr_t n)
{
    if (memwin_checking())
        memwin_chk_fault(MW_FAULT, v, n);
    else
        memwin_gen_fault(v, n);
}

/* any -> None. */
void sysFree(void *v, uintptr_t n, sysMemStat *sysStat)
{
    uint64_t m = memwin_mode_now();
    if (MW_CHECKING(m))
        memwin_chk_free(MW_FREE, v, n, sysStat);
    else if (memwin_gen_free(v, n, sysStat) && (m & MW_MODE_TRACKED))
        memwin_chk_forget(v);
}

/* Reserved -> None (Go 1.25). */
void sysUnreserve(void *v, uintptr_t n)
{
    uint64_t m = memwin_mode_now();
    if (MW_CHECKING(m))
        memwin_chk_free(MW_UNRESERVE, v, n, NULL);
    else if (memwin_os_free(v, n) && (m & MW_MODE_TRACKED))
        memwin_chk_forget(v);
}

/* No state change. */
void sysHugePage(void *v, uintptr_t n)
{
    if (memwin_checking())
        memwin_chk_hint(MW_HUGE, v, n);
}

void sysNoHugePage(void *v, uintptr_t n)
{
    if (memwin_checking())
        memwin_chk_hint(MW_NOHUGE, v, n);
}

void sysHugePageCollapse(void *v, uintptr_t n)
{
    if (memwin_checking())
        memwin_chk_hint(MW_COLLAPSE, v, n);
}

bool needZeroAfterSysUnused(void)
{
    return needZeroAfterSysUnusedOS();
}

/* ---- aligned reservations ---------------------------------------------------- */

/* None -> Reserved, aligned (runtime/malloc.go's sequence by default). */
void *sysReserveAligned(void *v, uintptr_t size, uintptr_t align, uintptr_t *reserved)
{
    uintptr_t ignored;
    if (!reserved)
        reserved = &ignored;
    if (memwin_checking())
        return memwin_chk_reserve_aligned(MW_RESERVE_ALIGNED, v, size, align, reserved);
    return memwin_reserve_aligned_policy(v, size, align, reserved);
}

/* None -> Reserved, aligned, in one call where the OS allows. */
void *memwin_reserve_aligned(void *v, uintptr_t size, uintptr_t align, uintptr_t *reserved)
{
    uintptr_t ignored;
    if (!reserved)
        reserved = &ignored;
    if (memwin_checking())
        return memwin_chk_reserve_aligned(MW_RESERVE_ALIGNED_ONE, v, size, align, reserved);
    return memwin_reserve_aligned_plain(v, size, align, reserved);
}
