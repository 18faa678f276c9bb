/* An aligned reservation in one OS call: an extra (Go has only
 * sysReserveAligned's release-and-re-reserve sequence, see mem.c), opt-in
 * per call (memwin_reserve_aligned) or for sysReserveAligned as a whole
 * (memwin_set_reserve_aligned_one_call). */
#include "atomics.h"
#include "mem_internal.h"
#include "memwin.h"
#include "prim.h"

#define OS_GRANULE ((uintptr_t)65536)

static uint64_t one_call_policy; /* 0: Go's sequence (default), 1: one call */

int memwin_set_reserve_aligned_one_call(int on)
{
    uint64_t old = mw_load64(&one_call_policy);
    mw_store64(&one_call_policy, on ? 1u : 0u);
    return (int)old;
}

int memwin_reserve_aligned_native(void)
{
    const memwin_prim *p = memwin_prim_current();
    void *r;
    if (!p->virtual_alloc_aligned)
        return 0;
    /* Ask the OS once: on Windows the entry exists but VirtualAlloc2 may not. */
    r = p->virtual_alloc_aligned(OS_GRANULE, OS_GRANULE * 2, MW_MEM_RESERVE, MW_PAGE_READWRITE);
    if (!r)
        return 0;
    p->virtual_free(r, 0, MW_MEM_RELEASE);
    return 1;
}

/* None -> Reserved: exactly size bytes at a multiple of align, in one OS
 * call; Go's sequence where the OS has no such call.  Arguments are valid
 * (checked by the caller). */
void *memwin_os_reserve_aligned(void *v, uintptr_t size, uintptr_t align, uintptr_t *reserved)
{
    const memwin_prim *p = memwin_prim_current();
    void *r;
    *reserved = 0;
    if (align <= OS_GRANULE) {
        /* Every reservation starts at a 64 KiB boundary already. */
        r = memwin_os_reserve(v, size);
        if (r)
            *reserved = size;
        return r;
    }
    if (v && ((uintptr_t)v & (align - 1)) == 0) {
        /* The hint first, as sysReserveOS does. */
        r = memwin_os_valloc(p, (uintptr_t)v, size, MW_MEM_RESERVE);
        if (r) {
            *reserved = size;
            return r;
        }
    }
    if (p->virtual_alloc_aligned) {
        p->set_last_error(0);
        r = p->virtual_alloc_aligned(size, align, MW_MEM_RESERVE, MW_PAGE_READWRITE);
        if (r) {
            *reserved = size;
            return r;
        }
        if (p->get_last_error() != MEMWIN_ERROR_CALL_NOT_IMPLEMENTED)
            return NULL;
    }
    return memwin_gen_reserve_aligned(v, size, align, reserved);
}

/* What sysReserveAligned runs: Go's sequence unless the one-call policy is on. */
void *memwin_reserve_aligned_policy(void *v, uintptr_t size, uintptr_t align,
                                    uintptr_t *reserved)
{
    if (mw_load64(&one_call_policy))
        return memwin_os_reserve_aligned(v, size, align, reserved);
    return memwin_gen_reserve_aligned(v, size, align, reserved);
}

/* None -> Reserved, aligned, in one call where the OS allows. */
void *memwin_reserve_aligned(void *v, uintptr_t size, uintptr_t align, uintptr_t *reserved)
{
    uintptr_t ignored;
    if (!reserved)
        reserved = &ignored;
    *reserved = 0;
    if (memwin_checking())
        return memwin_checked(MW_RESERVE_ALIGNED_ONE, v, size, align, NULL, reserved);
    /* Not Go's function: bad arguments fail plainly instead of reaching the OS. */
    if (size == 0 || size % 4096 || (uintptr_t)v % 4096 || align < 4096 ||
        (align & (align - 1)) != 0 || size + align < size || (uintptr_t)v + size < (uintptr_t)v)
        return NULL;
    return memwin_os_reserve_aligned(v, size, align, reserved);
}
