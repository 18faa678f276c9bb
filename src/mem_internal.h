/* Internal: Go's logic of each layer without checked mode, for the exported
 * wrappers and for checked.c.  Functions returning int give 1 on success and
 * 0 when a fatal error was raised and its handler returned (recoverable mode
 * or an application handler): the caller must then return at once. */
#ifndef MEMWIN_MEM_INTERNAL_H
#define MEMWIN_MEM_INTERNAL_H

#include "memwin.h"
#include "memwin_prim.h"

/* -n as Go's int64(-n) computes it: wraps for n >= 2^63 (no signed overflow). */
static inline int64_t memwin_neg(uintptr_t n)
{
    return (int64_t)((uint64_t)0 - (uint64_t)n);
}

/* mem_windows.c: the OS layer.  memwin_os_valloc is VirtualAlloc through
 * table p with read-write protection, the last error cleared first as Go's
 * stdcall does. */
void *memwin_os_valloc(const memwin_prim *p, uintptr_t v, uintptr_t n, uint32_t type);
void *memwin_os_alloc(uintptr_t n);
int memwin_os_unused(void *v, uintptr_t n);
int memwin_os_used(void *v, uintptr_t n);
int memwin_os_free(void *v, uintptr_t n);
void *memwin_os_reserve(void *v, uintptr_t n);

/* mem.c: the generic layer (accounting, then the OS step). */
int memwin_stat_add_ok(sysMemStat *s, int64_t n);
void *memwin_gen_alloc(uintptr_t n, sysMemStat *stat);
int memwin_gen_unused(void *v, uintptr_t n);
int memwin_gen_used(void *v, uintptr_t n, uintptr_t prepared);
int memwin_gen_free(void *v, uintptr_t n, sysMemStat *stat);
int memwin_gen_fault(void *v, uintptr_t n);
int memwin_gen_map(void *v, uintptr_t n, sysMemStat *stat);
void *memwin_gen_reserve_aligned(void *v, uintptr_t size, uintptr_t align, uintptr_t *reserved);

/* reserve_aligned.c: the one-call aligned reservation and its policy. */
void *memwin_os_reserve_aligned(void *v, uintptr_t size, uintptr_t align, uintptr_t *reserved);
void *memwin_reserve_aligned_policy(void *v, uintptr_t size, uintptr_t align,
                                    uintptr_t *reserved);

/* checked.c: the mode, and the checked path of every export. */
int memwin_checking(void);
typedef enum memwin_op {
    MW_ALLOC_OS, MW_RESERVE_OS, MW_MAP_OS, MW_USED_OS, MW_UNUSED_OS, MW_FAULT_OS, MW_FREE_OS,
    MW_HUGE_OS, MW_NOHUGE_OS, MW_COLLAPSE_OS,
    MW_ALLOC, MW_RESERVE, MW_MAP, MW_USED, MW_UNUSED, MW_FAULT, MW_FREE, MW_UNRESERVE,
    MW_HUGE, MW_NOHUGE, MW_COLLAPSE, MW_RESERVE_ALIGNED, MW_RESERVE_ALIGNED_ONE
} memwin_op;
/* Runs op under checked mode: validates arguments and page states, runs
 * Go's logic, updates the tracker.  Returns the pointer result of reserve
 * and alloc operations (NULL otherwise or when refused). */
void *memwin_checked(memwin_op op, void *v, uintptr_t n, uintptr_t extra, sysMemStat *stat,
                     uintptr_t *reserved);
/* Exact-mode release at v: drops the tracker's record of it, if any. */
void memwin_tracker_forget(void *v);
/* Recoverable mode: records an error for the calling thread.  Returns 1 if
 * the mode is recoverable (the error was recorded), else 0. */
int memwin_recover(uint32_t code, const char *printed, const char *message);

#endif
