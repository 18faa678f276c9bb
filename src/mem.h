/* Internal: Go's generic layer (runtime/mem.go) in mem.c: accounting, then
 * the OS step.  Same return convention as mem_windows.h. */
#ifndef MEMWIN_MEM_H
#define MEMWIN_MEM_H

#include "memwin.h"

/* -n as Go's int64(-n) computes it: wraps for n >= 2^63 (no signed overflow). */
static inline int64_t memwin_neg(uintptr_t n)
{
    return (int64_t)((uint64_t)0 - (uint64_t)n);
}

/* sysMemStat.add: 0 if Go's overflow check fired and its handler returned. */
int memwin_stat_add_ok(sysMemStat *s, int64_t n);

void *memwin_gen_alloc(uintptr_t n, sysMemStat *stat);          /* None -> Ready */
int memwin_gen_map(void *v, uintptr_t n, sysMemStat *stat);      /* Reserved -> Prepared */
int memwin_gen_used(void *v, uintptr_t n, uintptr_t prepared);   /* Prepared -> Ready */
int memwin_gen_unused(void *v, uintptr_t n);                     /* Ready -> Prepared */
int memwin_gen_fault(void *v, uintptr_t n);                      /* Ready -> Reserved */
int memwin_gen_free(void *v, uintptr_t n, sysMemStat *stat);     /* any -> None */

#endif
