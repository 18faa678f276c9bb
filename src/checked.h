/* Internal: checked and recoverable modes' path of every export (checked.c).
 * Each function validates its arguments and the tracked page states, runs
 * Go's logic (mem.c, mem_windows.c, reserve_aligned.c) and records the new
 * states; a refused call has no effect and goes to the fatal handler, or in
 * recoverable mode to the thread's last error.  op names the export (for
 * the message) and picks Go's generic layer (sysX) or the OS layer (sysXOS). */
#ifndef MEMWIN_CHECKED_H
#define MEMWIN_CHECKED_H

#include "memwin.h"

typedef enum memwin_op {
    MW_ALLOC_OS, MW_RESERVE_OS, MW_MAP_OS, MW_USED_OS, MW_UNUSED_OS, MW_FAULT_OS, MW_FREE_OS,
    MW_HUGE_OS, MW_NOHUGE_OS, MW_COLLAPSE_OS,
    MW_ALLOC, MW_RESERVE, MW_MAP, MW_USED, MW_UNUSED, MW_FAULT, MW_FREE, MW_UNRESERVE,
    MW_HUGE, MW_NOHUGE, MW_COLLAPSE, MW_RESERVE_ALIGNED, MW_RESERVE_ALIGNED_ONE
} memwin_op;

/* None -> Ready (sysAllocOS; sysAlloc, which accounts n in stat). */
void *memwin_chk_alloc(memwin_op op, uintptr_t n, sysMemStat *stat);
/* None -> Reserved (sysReserveOS, sysReserve). */
void *memwin_chk_reserve(memwin_op op, void *v, uintptr_t n);
/* None -> Reserved at a multiple of align (sysReserveAligned: Go's sequence
 * or the one-call policy; memwin_reserve_aligned: the one call). */
void *memwin_chk_reserve_aligned(memwin_op op, void *v, uintptr_t size, uintptr_t align,
                          uintptr_t *reserved);
/* Reserved -> Prepared (sysMapOS; sysMap, which accounts n in stat). */
void memwin_chk_map(memwin_op op, void *v, uintptr_t n, sysMemStat *stat);
/* Prepared or Ready -> Ready (sysUsedOS; sysUsed, prepared <= n). */
void memwin_chk_used(memwin_op op, void *v, uintptr_t n, uintptr_t prepared);
/* Ready -> Prepared (sysUnusedOS, sysUnused). */
void memwin_chk_unused(memwin_op op, void *v, uintptr_t n);
/* Ready -> Reserved (sysFaultOS, sysFault). */
void memwin_chk_fault(memwin_op op, void *v, uintptr_t n);
/* One whole reservation -> None (sysFreeOS: any state; sysFree: all Ready,
 * accounted in stat; sysUnreserve: all Reserved). */
void memwin_chk_free(memwin_op op, void *v, uintptr_t n, sysMemStat *stat);
/* Huge-page hints: no state change, but the range must be memwin's. */
void memwin_chk_hint(memwin_op op, void *v, uintptr_t n);

/* Exact mode's release at v (after the OS released it): forgets the
 * tracked reservation holding v, if any, so a later checked call sees None
 * there.  One load while nothing is tracked. */
void memwin_chk_forget(void *v);

#endif
