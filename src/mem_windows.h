/* Internal: Go's OS layer (runtime/mem_windows.go) in mem_windows.c, for
 * the layers above it.  Functions returning int give 1 on success and 0
 * when a fatal error was raised and its handler returned (recoverable mode
 * or an application handler): the caller must then return at once. */
#ifndef MEMWIN_MEM_WINDOWS_H
#define MEMWIN_MEM_WINDOWS_H

#include "memwin_prim.h"

/* VirtualAlloc through table p with read-write protection, the last error
 * cleared first as Go's stdcall does. */
void *memwin_os_valloc(const memwin_prim *p, uintptr_t v, uintptr_t n, uint32_t type);
void *memwin_os_alloc(uintptr_t n);            /* None -> Ready */
void *memwin_os_reserve(void *v, uintptr_t n); /* None -> Reserved */
int memwin_os_used(void *v, uintptr_t n);      /* Prepared -> Ready */
int memwin_os_unused(void *v, uintptr_t n);    /* Ready -> Prepared (and sysFaultOS) */
int memwin_os_free(void *v, uintptr_t n);      /* any -> None */

#endif
