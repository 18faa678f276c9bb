/* None -> Reserved at a multiple of align: Go's sysReserveAligned sequence
 * (runtime/malloc.go), memwin's one-call variant (an extra, opt-in per call
 * through memwin_reserve_aligned or for sysReserveAligned as a whole through
 * memwin_set_reserve_aligned_one_call), and the policy between them.  The
 * exports that run it are in api.c. */
#include "atomics.h"
#include "fatal.h"
#include "mem_windows.h"
#include "reserve_aligned.h"
#include "memwin.h"
#include "memwin_prim.h"
#include "vm.h"

static uint64_t one_call_policy; /* 0: Go's sequence (default), 1: one call */

int memwin_set_reserve_aligned_one_call(int on)
{
    uint64_t old = mw_load64(&one_call_policy);
    mw_store64(&one_call_policy, on ? 1u : 0u);
    return (int)old;
}

/* Go's sequence.  Windows cannot release part of a reservation, so an
 * unaligned one is released whole and the aligned part re-reserved, which
 * another thread may take first: then start again. */
void *memwin_reserve_aligned_go(void *v, uintptr_t size, uintptr_t align, uintptr_t *reserved)
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

int memwin_reserve_aligned_native(void)
{
    const memwin_prim *p = memwin_prim_current();
    void *r;
    if (!p->virtual_alloc_aligned)
        return 0;
    /* Ask the OS once: on Windows the entry exists but VirtualAlloc2 may not. */
    r = p->virtual_alloc_aligned(MW_GRANULE, MW_GRANULE * 2, MEMWIN_MEM_RESERVE,
                                 MEMWIN_PAGE_READWRITE);
    if (!r)
        return 0;
    p->virtual_free(r, 0, MEMWIN_MEM_RELEASE);
    return 1;
}

/* Exactly size bytes at a multiple of align, in one OS call; Go's sequence
 * where the OS has no such call.  Arguments are valid (checked by the
 * caller). */
void *memwin_reserve_aligned_one_call(void *v, uintptr_t size, uintptr_t align,
                                      uintptr_t *reserved)
{
    const memwin_prim *p = memwin_prim_current();
    void *r;
    *reserved = 0;
    if (align <= MW_GRANULE) {
        /* Every reservation starts at a granule boundary already. */
        r = memwin_os_reserve(v, size);
        if (r)
            *reserved = size;
        return r;
    }
    if (v && ((uintptr_t)v & (align - 1)) == 0) {
        /* The hint first, as sysReserveOS does. */
        r = memwin_os_valloc(p, (uintptr_t)v, size, MEMWIN_MEM_RESERVE);
        if (r) {
            *reserved = size;
            return r;
        }
    }
    if (p->virtual_alloc_aligned) {
        p->set_last_error(0);
        r = p->virtual_alloc_aligned(size, align, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
        if (r) {
            *reserved = size;
            return r;
        }
        if (p->get_last_error() != MEMWIN_ERROR_CALL_NOT_IMPLEMENTED)
            return NULL;
    }
    return memwin_reserve_aligned_go(v, size, align, reserved);
}

/* What sysReserveAligned runs: Go's sequence unless the one-call policy is on. */
void *memwin_reserve_aligned_policy(void *v, uintptr_t size, uintptr_t align,
                                    uintptr_t *reserved)
{
    if (mw_load64(&one_call_policy))
        return memwin_reserve_aligned_one_call(v, size, align, reserved);
    return memwin_reserve_aligned_go(v, size, align, reserved);
}

/* memwin_reserve_aligned in exact mode.  Not Go's function: bad arguments
 * fail plainly (NULL, *reserved 0) instead of reaching the OS. */
void *memwin_reserve_aligned_plain(void *v, uintptr_t size, uintptr_t align,
                                   uintptr_t *reserved)
{
    *reserved = 0;
    if (size == 0 || size % MW_PAGE || (uintptr_t)v % MW_PAGE || align < MW_PAGE ||
        (align & (align - 1)) != 0 || size + align < size || (uintptr_t)v + size < (uintptr_t)v)
        return NULL;
    return memwin_reserve_aligned_one_call(v, size, align, reserved);
}
