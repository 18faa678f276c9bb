/* Checked and recoverable modes: a tracker of Go's page states (None,
 * Reserved, Prepared, Ready) for every reservation made while checking is
 * on, and the checked path of every export: validate arguments and states,
 * run Go's logic, record the new states.
 *
 * Ranges may cover adjacent reservations for map/used/unused/fault (Go's
 * heap arenas are separate reservations used as one range, which is why
 * Go's fallback loops exist); release must name one whole reservation with
 * its exact size, all Ready for sysFree and all Reserved for sysUnreserve,
 * so that Go's accounting stays right.  A refused call has no effect: what
 * the tracker needs is allocated before Go's logic runs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "env.h"
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

/* A reservation's page states as a sorted list of runs: run i is the word
 * (offset from base | state) and covers [its offset, the next run's offset),
 * the last one up to size; neighbouring runs differ in state.  The cost is
 * one word per run, whatever the size (a 4 TiB reservation in one state is
 * one run).  A few runs live in the record; more go to the heap. */
#define INLINE_RUNS 6
#define RUN(off, st) ((uintptr_t)(off) | (uintptr_t)(st))
#define RUN_OFF(w) ((w) & ~(PAGE - 1))
#define RUN_ST(w) ((int)((w) & 3u))

typedef struct trk_resv {
    rtree_node node; /* keyed by base; first member */
    uintptr_t base, size;
    size_t nruns, cap;
    uintptr_t *runs; /* inline_runs, or the heap when more are needed */
    uintptr_t inline_runs[INLINE_RUNS];
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

/* MEMWIN_MODE, read once per process (so a refusal is said once): ignored
 * in secure execution, an unknown value refused with a line on stderr. */
static int mode_from_env(void)
{
    static uint32_t once_lock;
    static uint64_t env_mode = MODE_UNSET;
    char e[MEMWIN_ENV_VALUE_MAX + 1];
    const char *then = MEMWIN_DEFAULT_MODE == MEMWIN_MODE_CHECKED       ? "using the default checked"
                       : MEMWIN_DEFAULT_MODE == MEMWIN_MODE_RECOVERABLE ? "using the default recoverable"
                                                                        : "using the default exact";
    if (mw_load64(&env_mode) != MODE_UNSET)
        return (int)mw_load64(&env_mode);
    while (!mw_try_lock32(&once_lock))
        memwin_host_yield();
    if (mw_load64(&env_mode) == MODE_UNSET) {
        uint64_t m = MEMWIN_DEFAULT_MODE;
        if (memwin_env_get("MEMWIN_MODE", e, sizeof e, then)) {
            if (strcmp(e, "checked") == 0)
                m = MEMWIN_MODE_CHECKED;
            else if (strcmp(e, "recoverable") == 0)
                m = MEMWIN_MODE_RECOVERABLE;
            else if (strcmp(e, "exact") == 0)
                m = MEMWIN_MODE_EXACT;
            else
                memwin_env_say("MEMWIN_MODE", e, "not exact, checked or recoverable", then);
        }
        mw_store64(&env_mode, m);
    }
    mw_unlock32(&once_lock);
    return (int)mw_load64(&env_mode);
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

/* A record not yet in the tree, allocated before the OS call it will
 * describe, so that a tracker without memory refuses the call before it has
 * any effect.  NULL when out of memory. */
static trk_resv *trk_new(void)
{
    trk_resv *r = (trk_resv *)calloc(1, sizeof *r);
    if (r) {
        r->runs = r->inline_runs;
        r->cap = INLINE_RUNS;
    }
    return r;
}

static void trk_free(trk_resv *r)
{
    if (r->runs != r->inline_runs)
        free(r->runs);
    free(r);
}

static void trk_drop(trk_resv *r)
{
    set_root(rtree_remove(trk_root, r->base));
    trk_free(r);
}

/* None -> state for [base, base+size), which the OS just gave us: any record
 * still there is of memory released while checking was off. */
static void trk_insert(trk_resv *r, uintptr_t base, uintptr_t size, int state)
{
    trk_resv *stale;
    while ((stale = (trk_resv *)rtree_floor(trk_root, base + size - 1)) != NULL &&
           stale->base + stale->size > base)
        trk_drop(stale);
    r->base = r->node.key = base;
    r->size = size;
    r->nruns = 1;
    r->runs[0] = RUN(0, state);
    set_root(rtree_insert(trk_root, &r->node));
}

/* The index of the run containing offset off (binary search). */
static size_t run_index(const trk_resv *r, uintptr_t off)
{
    size_t lo = 0, hi = r->nruns; /* runs[lo] <= off < runs[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (RUN_OFF(r->runs[mid]) <= off)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static uintptr_t run_end(const trk_resv *r, size_t i)
{
    return i + 1 < r->nruns ? RUN_OFF(r->runs[i + 1]) : r->size;
}

/* Finds the first page of [v, v+n) whose state is not allowed (allowed is a
 * bit set of ST_*); *found receives its state.  Returns 0 if all are allowed. */
static uintptr_t first_bad_page(uintptr_t v, uintptr_t n, unsigned allowed, int *found)
{
    uintptr_t a = v, end = v + n;
    while (a < end) {
        trk_resv *r = trk_find(a);
        size_t i;
        if (!r) {
            *found = ST_NONE;
            return a;
        }
        for (i = run_index(r, a - r->base); i < r->nruns && r->base + RUN_OFF(r->runs[i]) < end;
             i++) {
            if (!(allowed & (1u << RUN_ST(r->runs[i])))) {
                uintptr_t at = r->base + RUN_OFF(r->runs[i]);
                *found = RUN_ST(r->runs[i]);
                return at > a ? at : a;
            }
        }
        a = r->base + r->size;
        if (a == 0) /* the reservation ends at the top of the address space */
            break;
    }
    return 0;
}

/* Makes sure set_pages(v, n, ...) cannot need memory: every reservation the
 * range touches gets room for two more runs (one range splits one run in
 * three at most).  0 when out of memory; nothing has changed then. */
static int make_room(uintptr_t v, uintptr_t n)
{
    uintptr_t a = v, end = v + n;
    while (a < end) {
        trk_resv *r = trk_find(a);
        if (r->nruns + 2 > r->cap) {
            size_t cap = r->cap * 2;
            uintptr_t *runs;
            if (r->runs == r->inline_runs) {
                runs = (uintptr_t *)malloc(cap * sizeof *runs);
                if (runs)
                    memcpy(runs, r->runs, r->nruns * sizeof *runs);
            } else {
                runs = (uintptr_t *)realloc(r->runs, cap * sizeof *runs);
            }
            if (!runs)
                return 0;
            r->runs = runs;
            r->cap = cap;
        }
        a = r->base + r->size;
        if (a == 0)
            break;
    }
    return 1;
}

/* Gives [lo, hi) of r (offsets) the state st; room was made beforehand. */
static void set_runs(trk_resv *r, uintptr_t lo, uintptr_t hi, int st)
{
    size_t i = run_index(r, lo), j = run_index(r, hi - 1), k0 = i, k1 = j + 1, m = 0, t;
    uintptr_t repl[3];
    int prev = k0 > 0 ? RUN_ST(r->runs[k0 - 1]) : -1;
    /* The replacement of runs [k0, k1): what stays of run i before lo, the
     * new run, what stays of run j after hi; a run in the state of the one
     * before it is dropped (merged). */
    if (RUN_OFF(r->runs[i]) < lo) {
        repl[m++] = r->runs[i];
        prev = RUN_ST(r->runs[i]);
    }
    if (st != prev) {
        repl[m++] = RUN(lo, st);
        prev = st;
    }
    if (hi < run_end(r, j) && RUN_ST(r->runs[j]) != prev) {
        repl[m++] = RUN(hi, RUN_ST(r->runs[j]));
        prev = RUN_ST(r->runs[j]);
    }
    if (k1 < r->nruns && RUN_ST(r->runs[k1]) == prev)
        k1++; /* the run after the range continues the last one */
    t = r->nruns - k1;
    memmove(r->runs + k0 + m, r->runs + k1, t * sizeof *r->runs);
    memcpy(r->runs + k0, repl, m * sizeof *repl);
    r->nruns = k0 + m + t;
    /* Back to the record when few runs are left. */
    if (r->runs != r->inline_runs && r->nruns + 2 <= INLINE_RUNS) {
        memcpy(r->inline_runs, r->runs, r->nruns * sizeof *r->runs);
        free(r->runs);
        r->runs = r->inline_runs;
        r->cap = INLINE_RUNS;
    }
}

/* Gives every page of [v, v+n) the state st (the pages are tracked, and
 * make_room has run for the range). */
static void set_pages(uintptr_t v, uintptr_t n, int st)
{
    uintptr_t a = v, end = v + n;
    while (a < end) {
        trk_resv *r = trk_find(a);
        uintptr_t stop = end - r->base < r->size ? end : r->base + r->size;
        set_runs(r, a - r->base, stop - r->base, st);
        a = stop;
        if (a == 0)
            break;
    }
}

/* Exact-mode release at v (after the OS released it): forget the tracked
 * reservation containing v, if any, so later checked calls see None there.
 * The OS releases the reservation of the page that holds v (Windows rounds
 * v down to its page), so v need not be the base itself.  Costs one load
 * while the tracker is empty. */
void memwin_tracker_forget(void *v)
{
    trk_resv *r;
    if (mw_load_ptr((void *const *)&trk_root) == NULL)
        return;
    trk_lock();
    r = trk_find((uintptr_t)v);
    if (r)
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
    /* One pass when all is well; otherwise unmanaged pages are reported
     * first (the range is not even ours), then the first page in a wrong
     * state. */
    bad = first_bad_page(a, n, allowed, &found);
    if (bad) {
        uintptr_t none = first_bad_page(
            a, n, (1u << ST_RESERVED) | (1u << ST_PREPARED) | (1u << ST_READY), &found);
        if (none)
            bad = none; /* found is None */
    }
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

/* The tracker's own refusal when it cannot allocate: before any effect. */
static void *refuse_no_memory(memwin_op op, void *v, uintptr_t n)
{
    return refuse(op, v, n, MEMWIN_ERR_OS, "out of memory for the tracker");
}

/* Reserve-like operations (None -> Reserved, or None -> Ready for alloc):
 * check the arguments, allocate the tracker's record, run Go's logic, track
 * the new reservation.  A refusal has no effect at all; a failure of the OS
 * call is Go's (nil, and for sysAlloc Go's accounting of n all the same). */
static void *checked_reserve(memwin_op op, void *v, uintptr_t n, uintptr_t align,
                             sysMemStat *stat, uintptr_t *reserved)
{
    void *p;
    uintptr_t size = n;
    trk_resv *rec;
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
    rec = trk_new();
    if (!rec)
        return refuse_no_memory(op, v, n);
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
    if (p)
        trk_insert(rec, (uintptr_t)p, size,
                   (op == MW_ALLOC_OS || op == MW_ALLOC) ? ST_READY : ST_RESERVED);
    else
        trk_free(rec);
    trk_unlock();
    return p;
}

/* Release of one whole reservation (any -> None; sysUnreserve: Reserved ->
 * None).  The size must be the reservation's exactly, as Go's sysFree and
 * sysUnreserve require.  sysFree subtracts n from mapped-ready, so its pages
 * must all be Ready (as Go's callers' are: memory from sysAlloc); a release
 * of pages in other states, without accounting, is sysFreeOS. */
static void checked_free(memwin_op op, void *v, uintptr_t n, sysMemStat *stat)
{
    trk_resv *r;
    uintptr_t bad;
    int found = ST_NONE;
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
    if (n != r->size) {
        refuse(op, v, n, MEMWIN_ERR_NOT_BASE, "size is not the reservation's (%llu bytes)",
               (unsigned long long)r->size);
        return;
    }
    if (op == MW_FREE && !check_stat(op, v, n, stat, 1))
        return;
    if (op != MW_FREE_OS &&
        (bad = first_bad_page((uintptr_t)v, n,
                              1u << (op == MW_UNRESERVE ? ST_RESERVED : ST_READY), &found)) != 0) {
        refuse(op, v, n, MEMWIN_ERR_STATE, "page 0x%llx is %s; the call needs %s",
               (unsigned long long)bad, state_names[found],
               op == MW_UNRESERVE ? "Reserved" : "Ready");
        return;
    }
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
        if (!make_room((uintptr_t)v, n))
            return refuse_no_memory(op, v, n);
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
        if (!make_room((uintptr_t)v, n))
            return refuse_no_memory(op, v, n);
        if (is_generic(op) ? memwin_gen_used(v, n, extra) : memwin_os_used(v, n))
            set_pages((uintptr_t)v, n, ST_READY);
        break;
    case MW_UNUSED_OS: case MW_UNUSED: case MW_FAULT_OS: case MW_FAULT:
        if (!check_range(op, v, n, 1u << ST_READY))
            return NULL;
        if (!make_room((uintptr_t)v, n))
            return refuse_no_memory(op, v, n);
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
