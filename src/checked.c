/* Checked and recoverable modes: a tracker of Go's page states (None,
 * Reserved, Prepared, Ready) for every reservation made while checking is
 * on, and one checked function per transition: validate the arguments and
 * the states, run Go's logic (mem.c, mem_windows.c, reserve_aligned.c),
 * record the new states.  Each takes the tracker lock and releases it in
 * the same function; a refusal is reported after the lock is released.
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
#include "checked.h"
#include "fatal.h"
#include "mem.h"
#include "mem_windows.h"
#include "reserve_aligned.h"
#include "mode.h"
#include "host.h"
#include "rtree.h"
#include "vm.h"

enum { ST_NONE = 0, ST_RESERVED = 1, ST_PREPARED = 2, ST_READY = 3 };
static const char *const state_names[] = {"None", "Reserved", "Prepared", "Ready"};
#define ALLOWED_MANAGED ((1u << ST_RESERVED) | (1u << ST_PREPARED) | (1u << ST_READY))
#define ALLOWED_USABLE ((1u << ST_PREPARED) | (1u << ST_READY))

/* A reservation's page states as a sorted list of runs: run i is the word
 * (offset from base | state) and covers [its offset, the next run's offset),
 * the last one up to size; neighbouring runs differ in state.  The cost is
 * one word per run, whatever the size (a 4 TiB reservation in one state is
 * one run).  A few runs live in the record; more go to the heap. */
#define INLINE_RUNS 6
#define RUN(off, st) ((uintptr_t)(off) | (uintptr_t)(st))
#define RUN_OFF(w) ((w) & ~(MW_PAGE - 1))
#define RUN_ST(w) ((int)((w) & 3u))

typedef struct trk_resv {
    rtree_node node; /* keyed by base; first member */
    uintptr_t base, size; /* size: whole pages */
    uintptr_t asked;      /* the size the reservation was made with, which
                             its release must name (sysAlloc's n may end
                             inside a page) */
    size_t nruns, cap;
    uintptr_t *runs; /* inline_runs, or the heap when more are needed */
    uintptr_t inline_runs[INLINE_RUNS];
} trk_resv;

static rtree_node *trk_root;

/* Written under the tracker lock.  The mode word's MW_MODE_TRACKED says
 * whether the tree holds a record: set before the first insertion, cleared
 * after the last removal, so exact mode never skips a release it must
 * forget (memwin_chk_forget). */
static void set_root(rtree_node *root)
{
    if (root && !trk_root)
        memwin_mode_tracked(1);
    mw_swap_ptr((void **)&trk_root, root);
    if (!root)
        memwin_mode_tracked(0);
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

/* ---- refusals ------------------------------------------------------------- */

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

/* A refused call's error code and printed line, kept until the tracker
 * lock is released. */
typedef struct refusal {
    uint32_t code; /* 0: not refused */
    char line[400];
} refusal;

/* Records the refusal of op; returns 0 so checks read "ok = check(...)". */
static int refuse(refusal *rf, memwin_op op, void *v, uintptr_t n, uint32_t code,
                  const char *fmt, ...)
{
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    snprintf(rf->line, sizeof rf->line, "runtime: %s(0x%llx, %llu): %s\n", op_names[op],
             (unsigned long long)(uintptr_t)v, (unsigned long long)n, detail);
    rf->code = code;
    return 0;
}

/* After the lock is released: a refusal goes to the thread's last error in
 * recoverable mode, to the fatal handler otherwise. */
static void report(const refusal *rf)
{
    if (rf->code && !memwin_recover(rf->code, rf->line, error_titles[rf->code]))
        memwin_throw(rf->line, error_titles[rf->code]);
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

/* None -> state for [base, base+size), which the OS just gave us for a
 * request of asked bytes: any record still there is of memory released while
 * checking was off. */
static void trk_insert(trk_resv *r, uintptr_t base, uintptr_t size, uintptr_t asked, int state)
{
    trk_resv *stale;
    while ((stale = (trk_resv *)rtree_floor(trk_root, base + size - 1)) != NULL &&
           stale->base + (stale->size - 1) >= base) /* it may end at the top */
        trk_drop(stale);
    r->base = r->node.key = base;
    r->size = size;
    r->asked = asked;
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

/* The range walks below name a range [v, v+n) by its last byte, v + n - 1
 * (n > 0): a range or reservation may end exactly at the top of the address
 * space, where v + n is 0. */

/* Finds the first page of [v, v+n) whose state is not allowed (allowed is a
 * bit set of ST_*); *found receives its state.  Returns 0 if all are allowed. */
static uintptr_t first_bad_page(uintptr_t v, uintptr_t n, unsigned allowed, int *found)
{
    uintptr_t a = v, last = v + (n - 1);
    while (a <= last) {
        trk_resv *r = trk_find(a);
        size_t i;
        if (!r) {
            *found = ST_NONE;
            return a;
        }
        for (i = run_index(r, a - r->base); i < r->nruns && r->base + RUN_OFF(r->runs[i]) <= last;
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
    uintptr_t a = v, last = v + (n - 1);
    while (a <= last) {
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
    uintptr_t a = v, last = v + (n - 1);
    while (a <= last) {
        trk_resv *r = trk_find(a);
        uintptr_t stop = last - r->base < r->size ? last + 1 : r->base + r->size;
        set_runs(r, a - r->base, stop - r->base, st);
        a = stop;
        if (a == 0)
            break;
    }
}

/* ---- checks ------------------------------------------------------------------ */

static const char *want_text(unsigned allowed)
{
    switch (allowed) {
    case 1u << ST_RESERVED:
        return "Reserved";
    case ALLOWED_USABLE:
        return "Prepared or Ready";
    case 1u << ST_READY:
        return "Ready";
    default:
        return "Reserved, Prepared or Ready";
    }
}

/* A range operation's arguments and page states. */
static int check_range(refusal *rf, memwin_op op, void *v, uintptr_t n, unsigned allowed)
{
    uintptr_t a = (uintptr_t)v, bad;
    int found = ST_NONE;
    if (!v)
        return refuse(rf, op, v, n, MEMWIN_ERR_NULL, "null address");
    if (a % MW_PAGE)
        return refuse(rf, op, v, n, MEMWIN_ERR_UNALIGNED, "address not a multiple of 4096");
    if (n == 0 || n % MW_PAGE)
        return refuse(rf, op, v, n, MEMWIN_ERR_SIZE, "size is zero or not a multiple of 4096");
    if (a + (n - 1) < a) /* a range may end at the top, not past it */
        return refuse(rf, op, v, n, MEMWIN_ERR_OVERFLOW, "address + size wraps around");
    /* One pass when all is well; otherwise unmanaged pages are reported
     * first (the range is not even ours), then the first page in a wrong
     * state. */
    bad = first_bad_page(a, n, allowed, &found);
    if (bad) {
        uintptr_t none = first_bad_page(a, n, ALLOWED_MANAGED, &found);
        if (none)
            bad = none; /* found is None */
    }
    if (bad && found == ST_NONE)
        return refuse(rf, op, v, n, MEMWIN_ERR_NOT_MANAGED,
                      "page 0x%llx is not reserved by memwin (None)", (unsigned long long)bad);
    if (bad)
        return refuse(rf, op, v, n, MEMWIN_ERR_STATE, "page 0x%llx is %s; the call needs %s",
                      (unsigned long long)bad, state_names[found], want_text(allowed));
    return 1;
}

/* The stat must be within Go's int64 view, [0, 2^63), and stay there after
 * adding (sub = 0) or subtracting (sub = 1) n; otherwise Go's check could
 * throw part-way through the call, so checked mode refuses it first. */
static int check_stat(refusal *rf, memwin_op op, void *v, uintptr_t n, const sysMemStat *stat,
                      int sub)
{
    const uint64_t max = (uint64_t)INT64_MAX;
    uint64_t cur;
    if (!stat)
        return refuse(rf, op, v, n, MEMWIN_ERR_NULL, "null sysMemStat");
    cur = mw_load64(stat);
    if (cur > max)
        return refuse(rf, op, v, n, MEMWIN_ERR_ACCOUNTING,
                      "sysMemStat holds %llu, outside Go's int64 range", (unsigned long long)cur);
    if (sub && n > cur)
        return refuse(rf, op, v, n, MEMWIN_ERR_ACCOUNTING,
                      "sysMemStat would underflow (it holds %llu)", (unsigned long long)cur);
    if (!sub && (n > max || cur > max - n))
        return refuse(rf, op, v, n, MEMWIN_ERR_ACCOUNTING,
                      "sysMemStat would overflow (it holds %llu)", (unsigned long long)cur);
    return 1;
}

/* The tracker's own refusal when it cannot allocate: before any effect. */
static int refuse_no_memory(refusal *rf, memwin_op op, void *v, uintptr_t n)
{
    return refuse(rf, op, v, n, MEMWIN_ERR_OS, "out of memory for the tracker");
}

/* Room for set_pages over [v, v+n), or the tracker's own refusal. */
static int check_room(refusal *rf, memwin_op op, void *v, uintptr_t n)
{
    return make_room((uintptr_t)v, n) || refuse_no_memory(rf, op, v, n);
}

/* A reservation's hint and size. */
static int check_reserve(refusal *rf, memwin_op op, void *v, uintptr_t n)
{
    if ((uintptr_t)v % MW_PAGE)
        return refuse(rf, op, v, n, MEMWIN_ERR_UNALIGNED, "hint not a multiple of 4096");
    if (n == 0 || n % MW_PAGE)
        return refuse(rf, op, v, n, MEMWIN_ERR_SIZE, "size is zero or not a multiple of 4096");
    if ((uintptr_t)v + (n - 1) < (uintptr_t)v)
        return refuse(rf, op, v, n, MEMWIN_ERR_OVERFLOW, "hint + size wraps around");
    return 1;
}

/* sysAlloc's size: any n but 0, as Windows commits the pages that hold n
 * bytes and Go asks for such sizes (0x210d0 bytes under Go 1.19, 0x15f8f8
 * under 1.19 and 1.26: tests/traces); tracked as the whole pages. */
static int check_alloc(refusal *rf, memwin_op op, uintptr_t n)
{
    if (n == 0)
        return refuse(rf, op, NULL, n, MEMWIN_ERR_SIZE, "size is zero");
    if (n > UINTPTR_MAX - (MW_PAGE - 1))
        return refuse(rf, op, NULL, n, MEMWIN_ERR_SIZE,
                      "size rounds up past the end of the address space");
    return 1;
}

/* The record a new reservation will get, allocated before the OS call. */
static trk_resv *record_new(refusal *rf, memwin_op op, void *v, uintptr_t n)
{
    trk_resv *rec = trk_new();
    if (!rec)
        refuse_no_memory(rf, op, v, n);
    return rec;
}

/* Tracks what the OS gave (p: the pages holding asked bytes, in state st),
 * or drops the record when it gave nothing. */
static void record_place(trk_resv *rec, void *p, uintptr_t asked, int st)
{
    if (p)
        trk_insert(rec, (uintptr_t)p, (asked + (MW_PAGE - 1)) & ~(uintptr_t)(MW_PAGE - 1), asked,
                   st);
    else
        trk_free(rec);
}

/* ---- one checked function per transition ---------------------------------- */

/* None -> Ready.  A failure of the OS call is Go's (nil, and for sysAlloc
 * Go's accounting of n all the same). */
void *memwin_chk_alloc(memwin_op op, uintptr_t n, sysMemStat *stat)
{
    refusal rf = {0};
    trk_resv *rec;
    void *p = NULL;
    memwin_error_clear();
    trk_lock();
    if (check_alloc(&rf, op, n) &&
        (op != MW_ALLOC || check_stat(&rf, op, NULL, n, stat, 0)) &&
        (rec = record_new(&rf, op, NULL, n)) != NULL) {
        p = op == MW_ALLOC ? memwin_gen_alloc(n, stat) : memwin_os_alloc(n);
        record_place(rec, p, n, ST_READY);
    }
    trk_unlock();
    report(&rf);
    return p;
}

/* None -> Reserved. */
void *memwin_chk_reserve(memwin_op op, void *v, uintptr_t n)
{
    refusal rf = {0};
    trk_resv *rec;
    void *p = NULL;
    memwin_error_clear();
    trk_lock();
    if (check_reserve(&rf, op, v, n) && (rec = record_new(&rf, op, v, n)) != NULL) {
        p = memwin_os_reserve(v, n);
        record_place(rec, p, n, ST_RESERVED);
    }
    trk_unlock();
    report(&rf);
    return p;
}

/* None -> Reserved at a multiple of align; *reserved is 0 when refused. */
void *memwin_chk_reserve_aligned(memwin_op op, void *v, uintptr_t size, uintptr_t align,
                                 uintptr_t *reserved)
{
    refusal rf = {0};
    trk_resv *rec;
    void *p = NULL;
    memwin_error_clear();
    *reserved = 0;
    trk_lock();
    if (check_reserve(&rf, op, v, size) &&
        ((align >= MW_PAGE && (align & (align - 1)) == 0 && size + align >= size) ||
         refuse(&rf, op, v, size, MEMWIN_ERR_ALIGN, "align %llu is not a power of two >= 4096",
                (unsigned long long)align)) &&
        (rec = record_new(&rf, op, v, size)) != NULL) {
        p = op == MW_RESERVE_ALIGNED ? memwin_reserve_aligned_policy(v, size, align, reserved)
                                     : memwin_reserve_aligned_one_call(v, size, align, reserved);
        record_place(rec, p, *reserved, ST_RESERVED);
    }
    trk_unlock();
    report(&rf);
    return p;
}

/* Reserved -> Prepared. */
void memwin_chk_map(memwin_op op, void *v, uintptr_t n, sysMemStat *stat)
{
    refusal rf = {0};
    memwin_error_clear();
    trk_lock();
    if (check_range(&rf, op, v, n, 1u << ST_RESERVED) &&
        (op != MW_MAP || check_stat(&rf, op, v, n, stat, 0)) && check_room(&rf, op, v, n) &&
        (op != MW_MAP || memwin_gen_map(v, n, stat)))
        set_pages((uintptr_t)v, n, ST_PREPARED);
    trk_unlock();
    report(&rf);
}

/* Prepared or Ready -> Ready. */
void memwin_chk_used(memwin_op op, void *v, uintptr_t n, uintptr_t prepared)
{
    refusal rf = {0};
    memwin_error_clear();
    trk_lock();
    if (check_range(&rf, op, v, n, ALLOWED_USABLE) &&
        (prepared <= n || refuse(&rf, op, v, n, MEMWIN_ERR_ACCOUNTING,
                                 "prepared %llu exceeds the size", (unsigned long long)prepared)) &&
        check_room(&rf, op, v, n) &&
        (op == MW_USED ? memwin_gen_used(v, n, prepared) : memwin_os_used(v, n)))
        set_pages((uintptr_t)v, n, ST_READY);
    trk_unlock();
    report(&rf);
}

/* Ready -> Prepared. */
void memwin_chk_unused(memwin_op op, void *v, uintptr_t n)
{
    refusal rf = {0};
    memwin_error_clear();
    trk_lock();
    if (check_range(&rf, op, v, n, 1u << ST_READY) && check_room(&rf, op, v, n) &&
        (op == MW_UNUSED ? memwin_gen_unused(v, n) : memwin_os_unused(v, n)))
        set_pages((uintptr_t)v, n, ST_PREPARED);
    trk_unlock();
    report(&rf);
}

/* Ready -> Reserved. */
void memwin_chk_fault(memwin_op op, void *v, uintptr_t n)
{
    refusal rf = {0};
    memwin_error_clear();
    trk_lock();
    if (check_range(&rf, op, v, n, 1u << ST_READY) && check_room(&rf, op, v, n) &&
        (op == MW_FAULT ? memwin_gen_fault(v, n) : memwin_os_unused(v, n)))
        set_pages((uintptr_t)v, n, ST_RESERVED);
    trk_unlock();
    report(&rf);
}

/* One whole reservation -> None.  The size must be the reservation's
 * exactly, as Go's sysFree and sysUnreserve require.  sysFree subtracts n
 * from mapped-ready, so its pages must all be Ready (as Go's callers' are:
 * memory from sysAlloc); a release of pages in other states, without
 * accounting, is sysFreeOS. */
void memwin_chk_free(memwin_op op, void *v, uintptr_t n, sysMemStat *stat)
{
    refusal rf = {0};
    trk_resv *r = NULL;
    uintptr_t bad;
    int found = ST_NONE, need = op == MW_UNRESERVE ? ST_RESERVED : ST_READY;
    memwin_error_clear();
    trk_lock();
    if (!v)
        refuse(&rf, op, v, n, MEMWIN_ERR_NULL, "null address");
    else if ((r = trk_find((uintptr_t)v)) == NULL || r->base != (uintptr_t)v)
        refuse(&rf, op, v, n, MEMWIN_ERR_NOT_BASE,
               "0x%llx is not the base of a reservation (released twice, or inside one)",
               (unsigned long long)(uintptr_t)v);
    else if (n != r->asked)
        refuse(&rf, op, v, n, MEMWIN_ERR_NOT_BASE, "size is not the reservation's (%llu bytes)",
               (unsigned long long)r->asked);
    else if (op == MW_FREE && !check_stat(&rf, op, v, n, stat, 1))
        ;
    else if (op != MW_FREE_OS && (bad = first_bad_page((uintptr_t)v, r->size, 1u << need, &found)) != 0)
        refuse(&rf, op, v, n, MEMWIN_ERR_STATE, "page 0x%llx is %s; the call needs %s",
               (unsigned long long)bad, state_names[found], state_names[need]);
    else if (op == MW_FREE ? memwin_gen_free(v, n, stat) : memwin_os_free(v, n))
        trk_drop(r);
    trk_unlock();
    report(&rf);
}

/* Huge-page hints: no state change, but the range must be memwin's. */
void memwin_chk_hint(memwin_op op, void *v, uintptr_t n)
{
    refusal rf = {0};
    memwin_error_clear();
    trk_lock();
    check_range(&rf, op, v, n, ALLOWED_MANAGED);
    trk_unlock();
    report(&rf);
}

/* Exact mode's release at v: the OS releases the reservation of the page
 * that holds v (Windows rounds v down to its page), so v need not be the
 * base itself. */
void memwin_chk_forget(void *v)
{
    trk_resv *r;
    trk_lock();
    r = trk_find((uintptr_t)v);
    if (r)
        trk_drop(r);
    trk_unlock();
}
