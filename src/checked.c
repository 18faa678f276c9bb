/* Checked and recoverable modes: a tracker of Go's page states (None,
 * Reserved, Prepared, Ready) for every reservation made while checking is
 * on, and the checked path of every export: validate arguments and states,
 * run Go's logic, record the new states.
 *
 * Ranges may cover adjacent reservations for map/used/unused/fault (Go's
 * heap arenas are separate reservations used as one range, which is why
 * Go's fallback loops exist); release must name one whole reservation. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "fatal.h"
#include "mem_internal.h"
#include "prim.h"
#include "rtree.h"

#ifndef MEMWIN_DEFAULT_MODE
#define MEMWIN_DEFAULT_MODE MEMWIN_MODE_EXACT
#endif

#define PAGE ((uintptr_t)4096)

enum { ST_NONE = 0, ST_RESERVED = 1, ST_PREPARED = 2, ST_READY = 3 };
static const char *const state_names[] = {"None", "Reserved", "Prepared", "Ready"};

typedef struct trk_resv {
    rtree_node node; /* keyed by base; first member */
    uintptr_t base, size;
    uint8_t *state; /* one ST_* per page */
} trk_resv;

static rtree_node *trk_root;

/* Written under the tracker lock; stored atomically because
 * memwin_tracker_forget peeks at it without the lock. */
static void set_root(rtree_node *root)
{
    mw_swap_ptr((void **)&trk_root, root);
}

/* ---- the mode ----------------------------------------------------------- */

#define MODE_UNSET 0xffu
static uint64_t mode_word = MODE_UNSET;

static int mode_from_env(void)
{
    const char *e = getenv("MEMWIN_MODE");
    if (e && strcmp(e, "checked") == 0)
        return MEMWIN_MODE_CHECKED;
    if (e && strcmp(e, "recoverable") == 0)
        return MEMWIN_MODE_RECOVERABLE;
    if (e && strcmp(e, "exact") == 0)
        return MEMWIN_MODE_EXACT;
    return MEMWIN_DEFAULT_MODE;
}

int memwin_get_mode(void)
{
    uint64_t m = mw_load64(&mode_word);
    if (m == MODE_UNSET) {
        m = (uint64_t)mode_from_env();
        mw_store64(&mode_word, m);
    }
    return (int)m;
}

int memwin_set_mode(int mode)
{
    int old = memwin_get_mode();
    if (mode != MEMWIN_MODE_EXACT && mode != MEMWIN_MODE_CHECKED &&
        mode != MEMWIN_MODE_RECOVERABLE)
        return -1;
    mw_store64(&mode_word, (uint64_t)mode);
    return old;
}

int memwin_checking(void)
{
    return memwin_get_mode() != MEMWIN_MODE_EXACT;
}

/* ---- per-thread errors -------------------------------------------------- */

static _Thread_local uint32_t err_code;
static _Thread_local char err_text[512];

uint32_t memwin_last_error(void)
{
    return err_code;
}

const char *memwin_last_error_message(void)
{
    return err_code ? err_text : "";
}

static void clear_error(void)
{
    err_code = 0;
    err_text[0] = 0;
}

int memwin_recover(uint32_t code, const char *printed, const char *message)
{
    size_t len;
    if (memwin_get_mode() != MEMWIN_MODE_RECOVERABLE)
        return 0;
    err_code = code;
    snprintf(err_text, sizeof err_text, "%sfatal error: %s", printed, message);
    len = strlen(err_text);
    /* One line per printed line, without the final newline. */
    while (len > 0 && err_text[len - 1] == '\n')
        err_text[--len] = 0;
    return 1;
}

/* ---- the tracker lock (recursive: a fatal handler may call back) --------- */

static uint32_t trk_lock_word;
static void *trk_owner;
static unsigned trk_depth;
static _Thread_local char thread_identity;

static void trk_lock(void)
{
    if (mw_load_ptr(&trk_owner) == &thread_identity) {
        trk_depth++;
        return;
    }
    while (!mw_try_lock32(&trk_lock_word))
        memwin_host_yield();
    mw_swap_ptr(&trk_owner, &thread_identity);
    trk_depth = 1;
}

static void trk_unlock(void)
{
    if (--trk_depth > 0)
        return;
    mw_swap_ptr(&trk_owner, NULL);
    mw_unlock32(&trk_lock_word);
}

/* ---- violations ---------------------------------------------------------- */

static const char *const op_names[] = {
    "sysAllocOS", "sysReserveOS", "sysMapOS", "sysUsedOS", "sysUnusedOS", "sysFaultOS",
    "sysFreeOS", "sysHugePageOS", "sysNoHugePageOS", "sysHugePageCollapseOS",
    "sysAlloc", "sysReserve", "sysMap", "sysUsed", "sysUnused", "sysFault", "sysFree",
    "sysUnreserve", "sysHugePage", "sysNoHugePage", "sysHugePageCollapse", "sysReserveAligned",
    "memwin_reserve_aligned",
};

static const char *const error_titles[] = {
    "", "memwin: null argument", "memwin: unaligned address", "memwin: bad size",
    "memwin: range overflows", "memwin: memory not managed by memwin",
    "memwin: illegal state transition", "memwin: not a whole reservation",
    "memwin: bad alignment", "memwin: accounting violation",
    "out of memory", /* MEMWIN_ERR_OS: refused only when the tracker's record cannot be allocated */
};

/* Refuses the call: in recoverable mode the error is recorded for the
 * thread; otherwise it goes to the fatal handler.  Releases the lock. */
static void *refuse(memwin_op op, void *v, uintptr_t n, uint32_t code, const char *fmt, ...)
{
    char detail[256], line[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    snprintf(line, sizeof line, "runtime: %s(0x%llx, %llu): %s\n", op_names[op],
             (unsigned long long)(uintptr_t)v, (unsigned long long)n, detail);
    trk_unlock();
    if (!memwin_recover(code, line, error_titles[code]))
        memwin_throw(line, error_titles[code]);
    return NULL;
}

/* The tracked reservation containing addr, or NULL. */
static trk_resv *trk_find(uintptr_t addr)
{
    trk_resv *r = (trk_resv *)rtree_floor(trk_root, addr);
    return (r && addr - r->base < r->size) ? r : NULL;
}

static void trk_drop(trk_resv *r);

static int trk_add(uintptr_t base, uintptr_t size, uint8_t state)
{
    trk_resv *r, *stale;
    size = (size + PAGE - 1) & ~(PAGE - 1);
    /* The OS just gave us [base, base+size): any record still there is of
     * memory released while checking was off. */
    while ((stale = (trk_resv *)rtree_floor(trk_root, base + size - 1)) != NULL &&
           stale->base + stale->size > base)
        trk_drop(stale);
    r = (trk_resv *)calloc(1, sizeof *r);
    if (r)
        r->state = (uint8_t *)malloc(size / PAGE);
    if (!r || !r->state) {
        free(r);
        return 0;
    }
    r->base = r->node.key = base;
    r->size = size;
    memset(r->state, state, size / PAGE);
    set_root(rtree_insert(trk_root, &r->node));
    return 1;
}

static void trk_drop(trk_resv *r)
{
    set_root(rtree_remove(trk_root, r->base));
    free(r->state);
    free(r);
}

/* Finds the first page of [v, v+n) whose state is not allowed (allowed is a
 * bit set of ST_*); *found receives its state.  Returns 0 if all are allowed. */
static uintptr_t first_bad_page(uintptr_t v, uintptr_t n, unsigned allowed, int *found)
{
    uintptr_t a = v, end = v + n;
    while (a < end) {
        trk_resv *r = trk_find(a);
        uintptr_t stop, i;
        if (!r) {
            *found = ST_NONE;
            return a;
        }
        stop = r->base + r->size < end ? r->base + r->size : end;
        for (i = (a - r->base) / PAGE; a < stop; a += PAGE, i++) {
            if (!(allowed & (1u << r->state[i]))) {
                *found = r->state[i];
                return a;
            }
        }
    }
    return 0;
}

static void set_pages(uintptr_t v, uintptr_t n, uint8_t state)
{
    uintptr_t a = v, end = v + n;
    while (a < end) {
        trk_resv *r = trk_find(a);
        uintptr_t stop = r->base + r->size < end ? r->base + r->size : end;
        memset(r->state + (a - r->base) / PAGE, state, (stop - a) / PAGE);
        a = stop;
    }
}

/* Exact-mode release of memory the tracker knows (reserved while checking
 * was on): forget it, so later checked calls see None there.  Costs one
 * load while the tracker is empty. */
void memwin_tracker_forget(void *v)
{
    trk_resv *r;
    if (mw_load_ptr((void *const *)&trk_root) == NULL)
        return;
    trk_lock();
    r = trk_find((uintptr_t)v);
    if (r && r->base == (uintptr_t)v)
        trk_drop(r);
    trk_unlock();
}

/* ---- the checked path ----------------------------------------------------- */

static int is_generic(memwin_op op)
{
    return op >= MW_ALLOC;
}

static const char *want_text(unsigned allowed)
{
    switch (allowed) {
    case 1u << ST_RESERVED:
        return "Reserved";
    case (1u << ST_PREPARED) | (1u << ST_READY):
        return "Prepared or Ready";
    case 1u << ST_READY:
        return "Ready";
    default:
        return "Reserved, Prepared or Ready";
    }
}

/* Checks a range operation's arguments and page states. */
static int check_range(memwin_op op, void *v, uintptr_t n, unsigned allowed)
{
    uintptr_t a = (uintptr_t)v, bad;
    int found = ST_NONE;
    if (!v)
        return refuse(op, v, n, MEMWIN_ERR_NULL, "null address"), 0;
    if (a % PAGE)
        return refuse(op, v, n, MEMWIN_ERR_UNALIGNED, "address not a multiple of 4096"), 0;
    if (n == 0 || n % PAGE)
        return refuse(op, v, n, MEMWIN_ERR_SIZE,
                      "size is zero or not a multiple of 4096"), 0;
    if (a + n < a)
        return refuse(op, v, n, MEMWIN_ERR_OVERFLOW, "address + size wraps around"), 0;
    /* Unmanaged pages first: the range is not even ours. */
    bad = first_bad_page(a, n, (1u << ST_RESERVED) | (1u << ST_PREPARED) | (1u << ST_READY),
                         &found);
    if (!bad)
        bad = first_bad_page(a, n, allowed, &found);
    if (bad && found == ST_NONE)
        return refuse(op, v, n, MEMWIN_ERR_NOT_MANAGED,
                      "page 0x%llx is not reserved by memwin (None)", (unsigned long long)bad), 0;
    if (bad)
        return refuse(op, v, n, MEMWIN_ERR_STATE, "page 0x%llx is %s; the call needs %s",
                      (unsigned long long)bad, state_names[found], want_text(allowed)), 0;
    return 1;
}

/* The stat must be within Go's int64 view, [0, 2^63), and stay there after
 * adding (sub = 0) or subtracting (sub = 1) n; otherwise Go's check could
 * throw part-way through the call, so checked mode refuses it first. */
static int check_stat(memwin_op op, void *v, uintptr_t n, const sysMemStat *stat, int sub)
{
    const uint64_t max = (uint64_t)INT64_MAX;
    uint64_t cur;
    if (!stat)
        return refuse(op, v, n, MEMWIN_ERR_NULL, "null sysMemStat"), 0;
    cur = mw_load64(stat);
    if (cur > max)
        return refuse(op, v, n, MEMWIN_ERR_ACCOUNTING,
                      "sysMemStat holds %llu, outside Go's int64 range",
                      (unsigned long long)cur), 0;
    if (sub && n > cur)
        return refuse(op, v, n, MEMWIN_ERR_ACCOUNTING,
                      "sysMemStat would underflow (it holds %llu)", (unsigned long long)cur), 0;
    if (!sub && (n > max || cur > max - n))
        return refuse(op, v, n, MEMWIN_ERR_ACCOUNTING,
                      "sysMemStat would overflow (it holds %llu)", (unsigned long long)cur), 0;
    return 1;
}

/* Reserve-like operations: check sizes, run, track the new reservation. */
static void *checked_reserve(memwin_op op, void *v, uintptr_t n, uintptr_t align,
                             sysMemStat *stat, uintptr_t *reserved)
{
    void *p;
    uintptr_t size = n;
    if ((uintptr_t)v % PAGE)
        return refuse(op, v, n, MEMWIN_ERR_UNALIGNED, "hint not a multiple of 4096");
    if (n == 0 || n % PAGE)
        return refuse(op, v, n, MEMWIN_ERR_SIZE, "size is zero or not a multiple of 4096");
    if ((uintptr_t)v + n < (uintptr_t)v)
        return refuse(op, v, n, MEMWIN_ERR_OVERFLOW, "hint + size wraps around");
    if ((op == MW_RESERVE_ALIGNED || op == MW_RESERVE_ALIGNED_ONE) &&
        (align < PAGE || (align & (align - 1)) != 0 || n + align < n))
        return refuse(op, v, n, MEMWIN_ERR_ALIGN,
                      "align %llu is not a power of two >= 4096", (unsigned long long)align);
    if (op == MW_ALLOC && !check_stat(op, v, n, stat, 0))
        return NULL;
    switch (op) {
    case MW_ALLOC_OS:
        p = memwin_os_alloc(n);
        break;
    case MW_ALLOC:
        p = memwin_gen_alloc(n, stat);
        break;
    case MW_RESERVE_ALIGNED:
        p = memwin_reserve_aligned_policy(v, n, align, reserved);
        size = *reserved;
        break;
    case MW_RESERVE_ALIGNED_ONE:
        p = memwin_os_reserve_aligned(v, n, align, reserved);
        size = *reserved;
        break;
    default:
        p = memwin_os_reserve(v, n);
        break;
    }
    if (p && !trk_add((uintptr_t)p, size,
                      (op == MW_ALLOC_OS || op == MW_ALLOC) ? ST_READY : ST_RESERVED)) {
        /* Cannot track it: undo rather than hand out unchecked memory. */
        memwin_os_free(p, size);
        if (reserved)
            *reserved = 0;
        return refuse(op, v, n, MEMWIN_ERR_OS, "out of memory for the tracker");
    }
    trk_unlock();
    return p;
}

static void checked_free(memwin_op op, void *v, uintptr_t n, sysMemStat *stat)
{
    trk_resv *r;
    if (!v) {
        refuse(op, v, n, MEMWIN_ERR_NULL, "null address");
        return;
    }
    r = trk_find((uintptr_t)v);
    if (!r || r->base != (uintptr_t)v) {
        refuse(op, v, n, MEMWIN_ERR_NOT_BASE, "0x%llx is not the base of a reservation"
               " (released twice, or inside one)", (unsigned long long)(uintptr_t)v);
        return;
    }
    if (((n + PAGE - 1) & ~(PAGE - 1)) != r->size || n == 0) {
        refuse(op, v, n, MEMWIN_ERR_NOT_BASE, "size is not the reservation's (%llu bytes)",
               (unsigned long long)r->size);
        return;
    }
    if (op == MW_FREE && !check_stat(op, v, n, stat, 1))
        return;
    if (op == MW_FREE ? memwin_gen_free(v, n, stat) : memwin_os_free(v, n))
        trk_drop(r);
    trk_unlock();
}

void *memwin_checked(memwin_op op, void *v, uintptr_t n, uintptr_t extra, sysMemStat *stat,
                     uintptr_t *reserved)
{
    const unsigned managed = (1u << ST_RESERVED) | (1u << ST_PREPARED) | (1u << ST_READY);
    const unsigned usable = (1u << ST_PREPARED) | (1u << ST_READY);
    int ok = 0;
    clear_error();
    if (reserved)
        *reserved = 0; /* also when the call is refused */
    trk_lock();
    switch (op) {
    case MW_ALLOC_OS: case MW_ALLOC: case MW_RESERVE_OS: case MW_RESERVE: case MW_RESERVE_ALIGNED:
    case MW_RESERVE_ALIGNED_ONE:
        return checked_reserve(op, v, n, extra, stat, reserved);
    case MW_FREE_OS: case MW_FREE: case MW_UNRESERVE:
        checked_free(op, v, n, stat);
        return NULL;
    case MW_MAP_OS: case MW_MAP:
        if (!check_range(op, v, n, 1u << ST_RESERVED))
            return NULL;
        if (op == MW_MAP && !check_stat(op, v, n, stat, 0))
            return NULL;
        ok = op == MW_MAP ? memwin_gen_map(v, n, stat) : 1;
        if (ok)
            set_pages((uintptr_t)v, n, ST_PREPARED);
        break;
    case MW_USED_OS: case MW_USED:
        if (!check_range(op, v, n, usable))
            return NULL;
        if (extra > n)
            return refuse(op, v, n, MEMWIN_ERR_ACCOUNTING,
                          "prepared %llu exceeds the size", (unsigned long long)extra);
        if (is_generic(op) ? memwin_gen_used(v, n, extra) : memwin_os_used(v, n))
            set_pages((uintptr_t)v, n, ST_READY);
        break;
    case MW_UNUSED_OS: case MW_UNUSED: case MW_FAULT_OS: case MW_FAULT:
        if (!check_range(op, v, n, 1u << ST_READY))
            return NULL;
        if (op == MW_UNUSED)
            ok = memwin_gen_unused(v, n);
        else if (op == MW_FAULT)
            ok = memwin_gen_fault(v, n);
        else
            ok = memwin_os_unused(v, n);
        if (ok)
            set_pages((uintptr_t)v, n,
                      (op == MW_FAULT || op == MW_FAULT_OS) ? ST_RESERVED : ST_PREPARED);
        break;
    default: /* huge-page hints: no state change, but the range must be ours */
        if (!check_range(op, v, n, managed))
            return NULL;
        break;
    }
    trk_unlock();
    return NULL;
}
