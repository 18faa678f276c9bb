/* Go's runtime/mem_windows.go: the OS layer, written against the primitive
 * table (prim.c).  Same calls, flags, fallback loops and messages as Go
 * 1.19-1.27.  The exports that run it are in api.c. */
#include "fatal.h"
#include "mem_windows.h"
#include "memwin.h"
#include "memwin_prim.h"
#include "sysinfo.h"

/* Go's retry granularity is the literal 4096 of its loops, not the page
 * size (MW_PAGE), though both are 4096 on Windows. */
#define GO_RETRY_FLOOR ((uintptr_t)4096)

/* Go's stdcall clears the thread's last error before every call, so a
 * message printed after a successful call reports errno=0 as Go does. */
void *memwin_os_valloc(const memwin_prim *p, uintptr_t v, uintptr_t n, uint32_t type)
{
    p->set_last_error(0);
    return p->virtual_alloc((void *)v, n, type, MEMWIN_PAGE_READWRITE);
}

static int os_free(const memwin_prim *p, uintptr_t v, uintptr_t n, uint32_t type)
{
    p->set_last_error(0);
    return p->virtual_free((void *)v, n, type);
}

/* Halves small and rounds it down to the retry floor, as Go's loops do. */
static uintptr_t halve(uintptr_t small)
{
    return (small / 2) & ~(GO_RETRY_FLOOR - 1);
}

/* None -> Ready. */
void *memwin_os_alloc(uintptr_t n)
{
    return memwin_os_valloc(memwin_prim_current(), 0, n, MEMWIN_MEM_COMMIT | MEMWIN_MEM_RESERVE);
}

/* Ready -> Prepared.  A decommit may not cross reservations on Windows, so
 * when the whole range fails, it is decommitted in the largest pieces that
 * succeed (O(n log n) calls at worst). */
int memwin_os_unused(void *v, uintptr_t n)
{
    const memwin_prim *p = memwin_prim_current();
    uintptr_t a = (uintptr_t)v;
    if (os_free(p, a, n, MEMWIN_MEM_DECOMMIT))
        return 1;
    while (n > 0) {
        uintptr_t small = n;
        while (small >= GO_RETRY_FLOOR && !os_free(p, a, small, MEMWIN_MEM_DECOMMIT))
            small = halve(small);
        if (small < GO_RETRY_FLOOR) {
            char line[MEMWIN_LINE_MAX];
            memwin_format_failed(line, "VirtualFree", small, p->get_last_error());
            memwin_throw(line, "runtime: failed to decommit pages");
            return 0;
        }
        a += small;
        n -= small;
    }
    return 1;
}

/* Prepared -> Ready.  Same piecewise fallback as sysUnusedOS; out of commit
 * (errno 8 or 1455) reports the whole size, other errors the failing piece. */
int memwin_os_used(void *v, uintptr_t n)
{
    const memwin_prim *p = memwin_prim_current();
    uintptr_t a = (uintptr_t)v, k = n;
    if ((uintptr_t)memwin_os_valloc(p, a, n, MEMWIN_MEM_COMMIT) == a)
        return 1;
    while (k > 0) {
        uintptr_t small = k;
        while (small >= GO_RETRY_FLOOR && memwin_os_valloc(p, a, small, MEMWIN_MEM_COMMIT) == NULL)
            small = halve(small);
        if (small < GO_RETRY_FLOOR) {
            char line[MEMWIN_LINE_MAX * 3];
            uint32_t err = p->get_last_error();
            if (err == MEMWIN_ERROR_NOT_ENOUGH_MEMORY || err == MEMWIN_ERROR_COMMITMENT_LIMIT) {
                memwin_format_failed(line, "VirtualAlloc", n, err);
                memwin_append_oom_status(line, sizeof line); /* opt-in, off by default */
                memwin_throw(line, "out of memory");
            } else {
                memwin_format_failed(line, "VirtualAlloc", small, err);
                memwin_throw(line, "runtime: failed to commit pages");
            }
            return 0;
        }
        a += small;
        k -= small;
    }
    return 1;
}

/* any -> None for the whole reservation at v; n only goes in the message. */
int memwin_os_free(void *v, uintptr_t n)
{
    const memwin_prim *p = memwin_prim_current();
    if (!os_free(p, (uintptr_t)v, 0, MEMWIN_MEM_RELEASE)) {
        char line[MEMWIN_LINE_MAX];
        memwin_format_failed(line, "VirtualFree", n, p->get_last_error());
        memwin_throw(line, "runtime: failed to release pages");
        return 0;
    }
    return 1;
}

/* None -> Reserved: at the hint v if possible, else anywhere. */
void *memwin_os_reserve(void *v, uintptr_t n)
{
    const memwin_prim *p = memwin_prim_current();
    void *r = memwin_os_valloc(p, (uintptr_t)v, n, MEMWIN_MEM_RESERVE);
    if (r)
        return r;
    return memwin_os_valloc(p, 0, n, MEMWIN_MEM_RESERVE);
}
