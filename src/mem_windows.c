/* Go's runtime/mem_windows.go: the OS layer, written against the primitive
 * table.  Same calls, flags, fallback loops and messages as Go 1.19-1.27. */
#include "fatal.h"
#include "memwin.h"
#include "prim.h"
#include "sysinfo.h"

/* Go's retry granularity is the literal 4096, not the physical page size. */
#define GO_RETRY_FLOOR ((uintptr_t)4096)

/* Go's stdcall clears the thread's last error before every call, so a
 * message printed after a successful call reports errno=0 as Go does. */
static void *os_alloc(const memwin_prim *p, uintptr_t v, uintptr_t n, uint32_t type)
{
    p->set_last_error(0);
    return p->virtual_alloc((void *)v, n, type, MW_PAGE_READWRITE);
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
void *sysAllocOS(uintptr_t n)
{
    return os_alloc(memwin_prim_current(), 0, n, MW_MEM_COMMIT | MW_MEM_RESERVE);
}

/* Ready -> Prepared.  A decommit may not cross reservations on Windows, so
 * when the whole range fails, it is decommitted in the largest pieces that
 * succeed (O(n log n) calls at worst). */
void sysUnusedOS(void *v, uintptr_t n)
{
    const memwin_prim *p = memwin_prim_current();
    uintptr_t a = (uintptr_t)v;
    if (os_free(p, a, n, MW_MEM_DECOMMIT))
        return;
    while (n > 0) {
        uintptr_t small = n;
        while (small >= GO_RETRY_FLOOR && !os_free(p, a, small, MW_MEM_DECOMMIT))
            small = halve(small);
        if (small < GO_RETRY_FLOOR) {
            char line[MEMWIN_LINE_MAX];
            memwin_format_failed(line, "VirtualFree", small, p->get_last_error());
            memwin_throw(line, "runtime: failed to decommit pages");
            return;
        }
        a += small;
        n -= small;
    }
}

/* Prepared -> Ready.  Same piecewise fallback as sysUnusedOS; out of commit
 * (errno 8 or 1455) reports the whole size, other errors the failing piece. */
void sysUsedOS(void *v, uintptr_t n)
{
    const memwin_prim *p = memwin_prim_current();
    uintptr_t a = (uintptr_t)v, k = n;
    if ((uintptr_t)os_alloc(p, a, n, MW_MEM_COMMIT) == a)
        return;
    while (k > 0) {
        uintptr_t small = k;
        while (small >= GO_RETRY_FLOOR && os_alloc(p, a, small, MW_MEM_COMMIT) == NULL)
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
            return;
        }
        a += small;
        k -= small;
    }
}

/* No state change: Windows has no huge-page hints. */
void sysHugePageOS(void *v, uintptr_t n)
{
    (void)v;
    (void)n;
}

void sysNoHugePageOS(void *v, uintptr_t n)
{
    (void)v;
    (void)n;
}

void sysHugePageCollapseOS(void *v, uintptr_t n)
{
    (void)v;
    (void)n;
}

/* any -> None for the whole reservation at v; n only goes in the message. */
void sysFreeOS(void *v, uintptr_t n)
{
    const memwin_prim *p = memwin_prim_current();
    if (!os_free(p, (uintptr_t)v, 0, MW_MEM_RELEASE)) {
        char line[MEMWIN_LINE_MAX];
        memwin_format_failed(line, "VirtualFree", n, p->get_last_error());
        memwin_throw(line, "runtime: failed to release pages");
    }
}

/* Ready -> Reserved: decommitted pages fault when touched. */
void sysFaultOS(void *v, uintptr_t n)
{
    sysUnusedOS(v, n);
}

/* None -> Reserved: at the hint v if possible, else anywhere. */
void *sysReserveOS(void *v, uintptr_t n)
{
    const memwin_prim *p = memwin_prim_current();
    void *r = os_alloc(p, (uintptr_t)v, n, MW_MEM_RESERVE);
    if (r)
        return r;
    return os_alloc(p, 0, n, MW_MEM_RESERVE);
}

/* Reserved -> Prepared: nothing to do; sysUsedOS commits. */
void sysMapOS(void *v, uintptr_t n)
{
    (void)v;
    (void)n;
}

/* Decommitted pages come back zeroed on Windows, but Go still answers true. */
bool needZeroAfterSysUnusedOS(void)
{
    return true;
}
