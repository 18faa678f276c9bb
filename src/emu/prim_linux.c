/* The Windows virtual-memory model over mmap/mprotect (included by prim.c on
 * Linux).  It reproduces what Windows, and Wine (the executable reference
 * here), do for the calls Go makes:
 *   - reservations start on 64 KiB boundaries and own whole 64 KiB granules;
 *     sizes are rounded up to 4 KiB pages;
 *   - every page of a reservation is reserved or committed (with a
 *     protection); committed pages read zero the first time;
 *   - commit must lie in one reservation (else 487), decommit too (else 87);
 *     release only at a reservation's base with size 0;
 *   - reserved and decommitted pages fault on access (PROT_NONE).
 * Reservations under 1 MiB are found through an index by 64 KiB granule,
 * bigger ones through an AVL tree keyed by base: lookups, reserve and release
 * cost the same whatever the number of live reservations.  A reservation whose pages all share
 * one state (0 = reserved, else the commit protection) records just that
 * state; after a partial commit or decommit (as Go's of an arena) it keeps
 * the runs of equal state, 8 bytes each, whatever its size.
 * Released address space of the zone is reused (see emu_released), and a
 * release never fails (see emu_pending).
 * Each transition costs at most one system call in the common case.
 * Only reservations made through this table are known: other mappings of
 * the process appear free to VirtualQuery, but a reservation never
 * overlaps them (MAP_FIXED_NOREPLACE). */
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../rtree.h"
#include "../vm.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* Windows x64 user address space: [MW_MIN_ADDR, 0x7FFFFFFEFFFF]. */
#define EMU_MAX_ADDR ((uintptr_t)0x7FFFFFFEFFFFull)
/* A reservation without an address larger than this fails with 87; one up
 * to it that finds no room fails with 8 (Wine 8, measured). */
#define EMU_NIL_MAX_SIZE ((uintptr_t)0x7FFFFFFF0000ull)

typedef struct emu_resv {
    rtree_node big;          /* in emu_big_root when span >= EMU_BIG_SPAN */
    struct emu_resv *spare;  /* next record in emu_spares once released */
    uintptr_t base;          /* 64 KiB aligned */
    uintptr_t size;          /* page multiple: the reservation proper */
    uintptr_t span;          /* 64 KiB multiple: the granules owned */
    uint32_t alloc_protect;  /* protection given at reservation */
    uint8_t uniform;         /* the state of every page while runs is NULL */
    uint64_t *runs;          /* page states (0 reserved, else PAGE_*) as runs */
    size_t nruns, cap;       /* runs in use, and room */
} emu_resv;

static pthread_mutex_t emu_lock = PTHREAD_MUTEX_INITIALIZER;
/* Reservations of 1 MiB or more are found through their own tree instead of
 * the granule index, so reserving and releasing them costs the same at any
 * size (a 64 MiB one would otherwise write 1024 index slots each time);
 * there are few of them, so the tree stays shallow. */
#define EMU_BIG_SPAN ((uintptr_t)1 << 20)
static rtree_node *emu_big_root;
/* Big reservations by the granule of their base, direct-mapped (a newer one
 * takes the slot of an older one): a lookup in a big reservation's first
 * granule (commit, decommit, release at its base) needs no tree walk.  A
 * slot holds a live reservation or NULL; fixed size, so it allocates
 * nothing. */
#define EMU_BIG_SLOTS 1024u
static emu_resv *emu_big_slot[EMU_BIG_SLOTS];

static unsigned emu_big_hash(uintptr_t addr)
{
    return (unsigned)(((uint64_t)(addr >> 16) * 0x9E3779B97F4A7C15ull) >> 54);
}
/* Records of released reservations, reused by the next reservations (at most
 * EMU_SPARES_MAX): a reserve/release pair then costs no malloc or free. */
#define EMU_SPARES_MAX 256
static emu_resv *emu_spares;
static unsigned emu_nspares;
/* The bottom of the zone: the lowest reservation placed there.  When no
 * released range fits, the next reservation is tried just below it, already
 * 64 KiB aligned, so a reservation costs one mmap instead of map-trim-trim.
 * Released ranges are not handed out again at once (a hint may be aimed at
 * them, as Go's arena hints are): see emu_released. */
static uintptr_t emu_low;
static _Thread_local uint32_t emu_last_error;

/* A record no longer in use: kept for the next reservation, or freed. */
static void emu_resv_drop(emu_resv *r)
{
    if (r->runs) {
        free(r->runs);
        r->runs = NULL;
    }
    if (emu_nspares < EMU_SPARES_MAX) {
        r->spare = emu_spares;
        emu_spares = r;
        emu_nspares++;
    } else {
        free(r);
    }
}

static emu_resv *emu_big_of(rtree_node *n)
{
    return n ? (emu_resv *)(void *)((char *)n - offsetof(emu_resv, big)) : NULL;
}

/* A two-level index from each 64 KiB granule of the user address space to
 * the reservation owning it, so lookups cost the same with 10 or 100k live
 * reservations.  2^31 granules: 2^19 leaves of 2^12 pointers (32 KiB each,
 * allocated when first used; small enough to come from the heap, not from
 * an mmap that could land in address space a caller has just released and
 * means to hint at), each with a bitmap of its owned granules so that the
 * ordered questions (overlap, the end of a free run) test 64 granules at a
 * time. */
#define EMU_LEAF_BITS 12
#define EMU_LEAF_SLOTS (1u << EMU_LEAF_BITS)
#define EMU_LEAVES (1u << (47 - 16 - EMU_LEAF_BITS))
typedef struct emu_leaf {
    emu_resv *slot[EMU_LEAF_SLOTS];
    uint64_t owned[EMU_LEAF_SLOTS / 64]; /* bit set: slot is not NULL */
    uint64_t used;                       /* slots not NULL */
} emu_leaf;
static emu_leaf *emu_index[EMU_LEAVES];
/* One bit per leaf that exists, and one per word of those bits that is not
 * zero, to skip empty stretches of address space quickly. */
static uint64_t emu_leaf_map[EMU_LEAVES / 64];
static uint64_t emu_leaf_sum[EMU_LEAVES / 64 / 64];

/* Sets (on) or clears bit i of a bitmap. */
static void emu_bit_put(uint64_t *words, uintptr_t i, int on)
{
    if (on)
        words[i / 64] |= (uint64_t)1 << (i % 64);
    else
        words[i / 64] &= ~((uint64_t)1 << (i % 64));
}

/* The first set bit at or after bit i of words[0, n), or n * 64. */
static uintptr_t emu_next_bit(const uint64_t *words, uintptr_t n, uintptr_t i)
{
    uintptr_t w = i / 64;
    uint64_t bits;
    if (w >= n)
        return n * 64;
    bits = words[w] & (~(uint64_t)0 << (i % 64));
    while (!bits) {
        if (++w == n)
            return n * 64;
        bits = words[w];
    }
    return w * 64 + (uintptr_t)__builtin_ctzll(bits);
}

static void emu_leaf_mark(uintptr_t l, int present)
{
    emu_bit_put(emu_leaf_map, l, present);
    emu_bit_put(emu_leaf_sum, l / 64, emu_leaf_map[l / 64] != 0);
}
/* A leaf whose granules are all unused again goes back to a small cache of
 * zeroed leaves (they are all NULL again, used 0), so reservations that keep
 * moving through the address space reuse warm memory instead of faulting in
 * fresh pages for every new leaf (at most 64 leaves, 2 MiB, are kept). */
#define EMU_LEAF_CACHE 64
static emu_leaf *emu_leaf_cache[EMU_LEAF_CACHE];
static unsigned emu_leaf_cached;

static emu_leaf *emu_leaf_new(void)
{
    if (emu_leaf_cached)
        return emu_leaf_cache[--emu_leaf_cached];
    return (emu_leaf *)calloc(1, sizeof(emu_leaf));
}

static void emu_leaf_drop(emu_leaf *leaf)
{
    if (emu_leaf_cached < EMU_LEAF_CACHE)
        emu_leaf_cache[emu_leaf_cached++] = leaf;
    else
        free(leaf);
}

static emu_resv *emu_index_get(uintptr_t addr)
{
    uintptr_t g = addr >> 16;
    emu_leaf *leaf;
    if (addr > EMU_MAX_ADDR)
        return NULL;
    leaf = emu_index[g >> EMU_LEAF_BITS];
    return leaf ? leaf->slot[g & (EMU_LEAF_SLOTS - 1)] : NULL;
}

/* Points the granules of [base, base+span) at r (NULL to clear).  Returns 0
 * when a leaf cannot be allocated (only possible when setting). */
static int emu_index_set(uintptr_t base, uintptr_t span, emu_resv *r)
{
    uintptr_t g, end = (base + span) >> 16;
    for (g = base >> 16; g < end; g++) {
        uintptr_t l = g >> EMU_LEAF_BITS, i = g & (EMU_LEAF_SLOTS - 1);
        emu_leaf **leaf = &emu_index[l];
        if (!*leaf) {
            if (!r)
                continue;
            *leaf = emu_leaf_new();
            if (!*leaf) {
                emu_index_set(base, (g << 16) - base, NULL);
                return 0;
            }
            emu_leaf_mark(l, 1);
        }
        if (!(*leaf)->slot[i] != !r)
            (*leaf)->used = r ? (*leaf)->used + 1 : (*leaf)->used - 1;
        (*leaf)->slot[i] = r;
        emu_bit_put((*leaf)->owned, i, r != NULL);
        if (!r && (*leaf)->used == 0) {
            emu_leaf_drop(*leaf);
            *leaf = NULL;
            emu_leaf_mark(l, 0);
        }
    }
    return 1;
}

/* The big reservation whose base lies in the granule of addr, or NULL. */
static emu_resv *emu_big_at(uintptr_t addr)
{
    emu_resv *r = emu_big_slot[emu_big_hash(addr)];
    if (r && r->base == (addr & ~(MW_GRANULE - 1)))
        return r;
    return emu_big_of(rtree_floor(emu_big_root, addr));
}

/* The reservation whose pages [base, base+size) contain addr. */
static emu_resv *emu_find(uintptr_t addr)
{
    emu_resv *r = emu_index_get(addr);
    if (!r && emu_big_root)
        r = emu_big_at(addr);
    return (r && addr - r->base < r->size) ? r : NULL;
}

/* The first leaf at or after leaf l (< EMU_LEAVES) that exists, or
 * EMU_LEAVES. */
static uintptr_t emu_next_leaf(uintptr_t l)
{
    const uintptr_t nmap = EMU_LEAVES / 64;
    uintptr_t w = l / 64;
    if (emu_leaf_map[w] >> (l % 64)) /* in l's own word of leaf bits */
        return emu_next_bit(emu_leaf_map, nmap, l);
    /* Else the next word of leaf bits that is not zero, from the summary. */
    w = emu_next_bit(emu_leaf_sum, nmap / 64, w + 1);
    return w == nmap ? EMU_LEAVES : emu_next_bit(emu_leaf_map, nmap, w * 64);
}

/* The first granule in [g, end) that the index gives an owner, or end. */
static uintptr_t emu_next_owned(uintptr_t g, uintptr_t end)
{
    while (g < end) {
        uintptr_t l = g >> EMU_LEAF_BITS, first, lim, i;
        if (!emu_index[l]) {
            if ((end - 1) >> EMU_LEAF_BITS == l)
                return end; /* the range ends in this absent leaf */
            l = emu_next_leaf(l);
        }
        first = l << EMU_LEAF_BITS;
        if (l >= EMU_LEAVES || first >= end)
            return end;
        if (first > g)
            g = first;
        /* Only the words of owned bits that [g, end) covers are read. */
        lim = end - first < EMU_LEAF_SLOTS ? end - first : EMU_LEAF_SLOTS;
        i = emu_next_bit(emu_index[l]->owned, (lim + 63) / 64, g - first);
        if (i < lim)
            return first + i;
        if (lim < EMU_LEAF_SLOTS)
            return end;
        g = first + EMU_LEAF_SLOTS; /* nothing owned in the rest of this leaf */
    }
    return end;
}

/* Returns 1 if a reservation owns a granule of [base, base+span). */
static int emu_overlaps(uintptr_t base, uintptr_t span)
{
    emu_resv *b = emu_big_of(rtree_floor(emu_big_root, base + span - 1));
    uintptr_t end = (base + span) >> 16;
    if (b && b->base + b->span > base)
        return 1;
    return emu_next_owned(base >> 16, end) < end;
}

/* The smallest reservation base above addr, or EMU_MAX_ADDR + 1. */
static uintptr_t emu_next_base(uintptr_t addr)
{
    emu_resv *b = emu_big_of(rtree_above(emu_big_root, addr));
    uintptr_t limit = b ? b->base : EMU_MAX_ADDR + 1;
    /* Bases are granule-aligned: one above addr lies in a later granule,
     * and the first owned granule there is a base (owners are contiguous). */
    uintptr_t g = emu_next_owned((addr >> 16) + 1, limit >> 16);
    return g < (limit >> 16) ? g << 16 : limit;
}

/* Makes r findable by address (index or big tree); 0 if out of memory. */
static int emu_track(emu_resv *r)
{
    if (r->span < EMU_BIG_SPAN)
        return emu_index_set(r->base, r->span, r);
    r->big.key = r->base;
    emu_big_root = rtree_insert(emu_big_root, &r->big);
    emu_big_slot[emu_big_hash(r->base)] = r;
    return 1;
}

static void emu_untrack(emu_resv *r)
{
    if (r->span < EMU_BIG_SPAN) {
        emu_index_set(r->base, r->span, NULL);
    } else {
        emu_resv **slot = &emu_big_slot[emu_big_hash(r->base)];
        if (*slot == r)
            *slot = NULL;
        emu_big_root = rtree_remove(emu_big_root, r->base);
    }
}

/* ---- reuse of released address space ------------------------------------
 * Released ranges of the zone (see emu_zone) are handed out again, as
 * Windows reuses freed ranges: a long run of reserve/release stays within a
 * bounded stretch of address space (and of kernel and sanitizer mappings).
 * A range goes first through a quarantine of the last EMU_QUARANTINE
 * releases, so a release followed by a reservation at that address (Go's
 * arena hints, its aligned-reservation retry) does not find it taken by the
 * very next reservation anywhere; then it joins the free holes: an AVL tree
 * by address, each node knowing the longest hole below it, so the highest
 * hole that fits is found in O(log holes).  Holes never overlap a
 * reservation; any allocation refused here only loses reuse. */
typedef struct emu_hole {
    struct emu_hole *left, *right;
    uintptr_t lo, hi; /* [lo, hi): granule-aligned, owned by no reservation */
    uintptr_t max;    /* longest hole in this subtree */
    int height;
} emu_hole;
static emu_hole *emu_holes;
#define EMU_HOLE_CACHE 64
static emu_hole *emu_hole_cache[EMU_HOLE_CACHE];
static unsigned emu_hole_cached;
#define EMU_QUARANTINE 64
static struct {
    uintptr_t lo, hi;
    uint64_t stamp; /* emu_placed_anywhere when the range came in */
    int dirty;      /* a hole may have been made over part of it */
} emu_quar[EMU_QUARANTINE];
static unsigned emu_quar_next, emu_quar_n;
/* Counts the reservations placed other than in a hole or below the zone
 * (at an address asked for, or where the kernel chose, which moves the
 * zone): only these can take part of a quarantined range.  A range that
 * leaves the quarantine with the count unchanged since it came in, and not
 * dirty, is then owned by no reservation and needs no lookup.  64 bits: the
 * count cannot come round to an old stamp within a process's life. */
static uint64_t emu_placed_anywhere;
/* The top of the zone: [emu_low, emu_zone_hi) is where reservations without
 * an address have gone since the zone was placed (0: no zone yet). */
static uintptr_t emu_zone_hi;

static int emu_hole_h(const emu_hole *n)
{
    return n ? n->height : 0;
}

static void emu_hole_fix(emu_hole *n)
{
    int l = emu_hole_h(n->left), r = emu_hole_h(n->right);
    n->height = (l > r ? l : r) + 1;
    n->max = n->hi - n->lo;
    if (n->left && n->left->max > n->max)
        n->max = n->left->max;
    if (n->right && n->right->max > n->max)
        n->max = n->right->max;
}

static emu_hole *emu_hole_rot(emu_hole *n, int right)
{
    emu_hole *c = right ? n->left : n->right;
    if (right) {
        n->left = c->right;
        c->right = n;
    } else {
        n->right = c->left;
        c->left = n;
    }
    emu_hole_fix(n);
    emu_hole_fix(c);
    return c;
}

static emu_hole *emu_hole_balance(emu_hole *n)
{
    int bf;
    emu_hole_fix(n);
    bf = emu_hole_h(n->left) - emu_hole_h(n->right);
    if (bf > 1) {
        if (emu_hole_h(n->left->left) < emu_hole_h(n->left->right))
            n->left = emu_hole_rot(n->left, 0);
        return emu_hole_rot(n, 1);
    }
    if (bf < -1) {
        if (emu_hole_h(n->right->right) < emu_hole_h(n->right->left))
            n->right = emu_hole_rot(n->right, 1);
        return emu_hole_rot(n, 0);
    }
    return n;
}

static emu_hole *emu_hole_insert(emu_hole *n, emu_hole *item)
{
    if (!n) {
        item->left = item->right = NULL;
        emu_hole_fix(item);
        return item;
    }
    if (item->lo < n->lo)
        n->left = emu_hole_insert(n->left, item);
    else
        n->right = emu_hole_insert(n->right, item);
    return emu_hole_balance(n);
}

static emu_hole *emu_hole_remove_min(emu_hole *n, emu_hole **min)
{
    if (!n->left) {
        *min = n;
        return n->right;
    }
    n->left = emu_hole_remove_min(n->left, min);
    return emu_hole_balance(n);
}

/* Removes the hole starting at lo (present). */
static emu_hole *emu_hole_remove(emu_hole *n, uintptr_t lo)
{
    if (lo < n->lo) {
        n->left = emu_hole_remove(n->left, lo);
    } else if (lo > n->lo) {
        n->right = emu_hole_remove(n->right, lo);
    } else {
        emu_hole *min;
        if (!n->right)
            return n->left;
        n->right = emu_hole_remove_min(n->right, &min);
        min->left = n->left;
        min->right = n->right;
        return emu_hole_balance(min);
    }
    return emu_hole_balance(n);
}

/* The hole with the greatest lo <= a, or NULL. */
static emu_hole *emu_hole_floor(uintptr_t a)
{
    emu_hole *n = emu_holes, *best = NULL;
    while (n) {
        if (n->lo <= a) {
            best = n;
            n = n->right;
        } else {
            n = n->left;
        }
    }
    return best;
}

/* The highest hole at least need bytes long, or NULL. */
static emu_hole *emu_hole_fit(uintptr_t need)
{
    emu_hole *n = emu_holes;
    if (!n || n->max < need)
        return NULL;
    for (;;) {
        if (n->right && n->right->max >= need)
            n = n->right;
        else if (n->hi - n->lo >= need)
            return n;
        else
            n = n->left; /* the longest one is there */
    }
}

static emu_hole *emu_hole_new(void)
{
    if (emu_hole_cached)
        return emu_hole_cache[--emu_hole_cached];
    return (emu_hole *)malloc(sizeof(emu_hole));
}

static void emu_hole_drop(emu_hole *h)
{
    if (emu_hole_cached < EMU_HOLE_CACHE)
        emu_hole_cache[emu_hole_cached++] = h;
    else
        free(h);
}

/* Adds [lo, hi) as a hole (node h, or a new one; without one the range is
 * just not reused). */
static void emu_hole_put(uintptr_t lo, uintptr_t hi, emu_hole *h)
{
    if (!h)
        h = emu_hole_new();
    if (!h)
        return;
    h->lo = lo;
    h->hi = hi;
    emu_holes = emu_hole_insert(emu_holes, h);
}

/* After the bounds of the hole found by key lo changed in place (keeping
 * the order of the tree): recomputes the lengths on the path to it. */
static void emu_hole_refresh(uintptr_t lo)
{
    emu_hole *path[96], *x = emu_holes;
    int n = 0;
    while (x && n < 96) {
        path[n++] = x;
        if (lo == x->lo)
            break;
        x = lo < x->lo ? x->left : x->right;
    }
    while (n)
        emu_hole_fix(path[--n]);
}

/* Takes [b, e) out of the holes: a reservation now owns it (or it is
 * unusable).  A hole around it keeps its two ends. */
static void emu_hole_carve(uintptr_t b, uintptr_t e)
{
    emu_hole *h;
    while ((h = emu_hole_floor(e - 1)) != NULL && h->hi > b) {
        uintptr_t lo = h->lo, hi = h->hi;
        if (lo < b && hi <= e) { /* its top goes: shrunk in place */
            h->hi = b;
            emu_hole_refresh(lo);
            return;
        }
        if (lo >= b && hi > e) { /* its bottom goes */
            h->lo = e;
            emu_hole_refresh(e);
            continue;
        }
        emu_holes = emu_hole_remove(emu_holes, lo);
        if (lo < b) { /* split in two */
            emu_hole_put(e, hi, NULL);
            emu_hole_put(lo, b, h);
        } else {
            emu_hole_drop(h);
        }
    }
}

/* Adds [lo, hi) (not overlapping any hole) to the holes, joined with l and
 * r: the holes ending at lo and starting at hi, or NULL. */
static void emu_hole_link(uintptr_t lo, uintptr_t hi, emu_hole *l, emu_hole *r)
{
    if (l && r) {
        uintptr_t top = r->hi;
        emu_holes = emu_hole_remove(emu_holes, r->lo);
        emu_hole_drop(r);
        l->hi = top;
        emu_hole_refresh(l->lo);
    } else if (l) {
        l->hi = hi;
        emu_hole_refresh(l->lo);
    } else if (r) {
        r->lo = lo;
        emu_hole_refresh(lo);
    } else {
        emu_hole_put(lo, hi, NULL);
    }
}

/* Adds [lo, hi) (not overlapping any hole) to the holes, joined with the
 * holes that touch it. */
static void emu_hole_join(uintptr_t lo, uintptr_t hi)
{
    emu_hole *l = emu_hole_floor(lo), *r = emu_hole_floor(hi);
    if (l && l->hi != lo)
        l = NULL;
    if (r && r->lo != hi)
        r = NULL;
    emu_hole_link(lo, hi, l, r);
}

/* Makes all of [lo, hi) a hole: emu_hole_carve then emu_hole_join, with one
 * walk down the tree when no hole overlaps it (the common case). */
static void emu_hole_free(uintptr_t lo, uintptr_t hi)
{
    emu_hole *n = emu_holes, *at = NULL, *lt = NULL; /* lo == hi; last lo < hi */
    while (n) {
        if (n->lo < hi) {
            lt = n;
            n = n->right;
        } else {
            if (n->lo == hi)
                at = n;
            n = n->left;
        }
    }
    if (lt && lt->hi > lo) { /* a hole overlaps it (released twice) */
        emu_hole_carve(lo, hi);
        emu_hole_join(lo, hi);
        return;
    }
    /* No hole starts inside [lo, hi): lt is the one below it, if any. */
    emu_hole_link(lo, hi, lt && lt->hi == lo ? lt : NULL, at);
}

/* The reservation owning the granule of a, or NULL. */
static emu_resv *emu_owner(uintptr_t a)
{
    emu_resv *r = emu_index_get(a);
    if (!r && emu_big_root) {
        r = emu_big_at(a);
        if (r && a - r->base >= r->span)
            r = NULL;
    }
    return r;
}

/* A range leaves the quarantine: its parts no reservation owns become
 * holes. */
static void emu_hole_add_free(uintptr_t lo, uintptr_t hi)
{
    if (!emu_overlaps(lo, hi - lo)) { /* the common case: all of it */
        emu_hole_free(lo, hi);
        return;
    }
    while (lo < hi) {
        emu_resv *r = emu_owner(lo);
        uintptr_t e;
        if (r) {
            lo = r->base + r->span;
            continue;
        }
        e = emu_next_base(lo);
        if (e > hi)
            e = hi;
        emu_hole_free(lo, e); /* already a hole in part (released twice) */
        lo = e;
    }
}

/* Quarantined range i leaves for the holes.  Holes only ever come from
 * here, and reservations placed in a hole or below the zone cannot meet a
 * quarantined range that no hole overlaps: so a range with no placement
 * elsewhere since it came in, and no hole made over it, is all free.
 * Otherwise its free parts are looked up, and the ranges still quarantined
 * that the new holes may overlap are marked for the same. */
static void emu_quar_leave(unsigned i)
{
    uintptr_t lo = emu_quar[i].lo, hi = emu_quar[i].hi;
    unsigned j;
    if (emu_quar[i].stamp == emu_placed_anywhere && !emu_quar[i].dirty) {
        emu_hole_free(lo, hi);
        return;
    }
    emu_hole_add_free(lo, hi);
    for (j = 0; j < emu_quar_n; j++)
        if (j != i && emu_quar[j].lo < hi && lo < emu_quar[j].hi)
            emu_quar[j].dirty = 1;
}

/* [lo, hi) has been unmapped: if it lies in the zone it is quarantined,
 * and the oldest quarantined range becomes free for reuse. */
static void emu_released(uintptr_t lo, uintptr_t hi)
{
    unsigned i = emu_quar_next;
    if (!emu_zone_hi || lo < emu_low || hi > emu_zone_hi)
        return;
    if (emu_quar_n == EMU_QUARANTINE)
        emu_quar_leave(i);
    else
        emu_quar_n++;
    emu_quar[i].lo = lo;
    emu_quar[i].hi = hi;
    emu_quar[i].stamp = emu_placed_anywhere;
    emu_quar[i].dirty = 0;
    emu_quar_next = (i + 1) % EMU_QUARANTINE;
}

/* Released reservations whose unmapping failed (the kernel's mapping limit:
 * unmapping the middle of a mapping splits it): already gone from the
 * tables, their pages discarded and inaccessible where the kernel allowed,
 * unmapped at a later call. */
static emu_resv *emu_pending;

/* Retries the unmapping of the pending releases. */
static void emu_retry_pending(void)
{
    emu_resv **pp = &emu_pending, *r;
    while ((r = *pp) != NULL) {
        if (munmap((void *)r->base, r->size) == 0) {
            *pp = r->spare;
            emu_released(r->base, r->base + r->span);
            emu_resv_drop(r);
        } else {
            pp = &r->spare;
        }
    }
}

/* ---- helpers ------------------------------------------------------------ */

static int emu_unix_prot(uint32_t protect)
{
    switch (protect) {
    case MEMWIN_PAGE_READWRITE:
        return PROT_READ | PROT_WRITE;
    case MEMWIN_PAGE_READONLY:
        return PROT_READ;
    default:
        return PROT_NONE;
    }
}

static int emu_valid_protect(uint32_t protect)
{
    return protect == MEMWIN_PAGE_NOACCESS || protect == MEMWIN_PAGE_READONLY ||
           protect == MEMWIN_PAGE_READWRITE;
}

static uint32_t emu_errno_code(int e)
{
    return e == EEXIST ? MEMWIN_ERROR_INVALID_ADDRESS
           : e == EINVAL ? MEMWIN_ERROR_INVALID_PARAMETER
                         : MEMWIN_ERROR_NOT_ENOUGH_MEMORY;
}

/* After a reservation the kernel placed at a: the next ones are tried from
 * 64 GiB away from it, away from where the process's other mappings go, which
 * would otherwise take the very address tried next (costing a failed call
 * plus a trimmed placement) or a range just released.  The kernel places
 * top-down, just below its latest mappings: the zone starts 64 GiB below a.
 * An address low in the address space means a first-fit allocator that
 * grows upwards (valgrind's, for one): the zone starts 64 GiB above a and
 * reservations descend towards it from there (a is at most 256 GiB then, so
 * the zone starts far below the top of the address space).  Returns a. */
#define EMU_ZONE_GAP ((uintptr_t)64 << 30)
static uintptr_t emu_zone(uintptr_t a)
{
    emu_placed_anywhere++;
    if (a > 4 * EMU_ZONE_GAP)
        emu_low = a - EMU_ZONE_GAP;
    else
        emu_low = a + EMU_ZONE_GAP;
    emu_zone_hi = emu_low;
    return a;
}

/* Maps len bytes (a page multiple) at a multiple of align (a power of two
 * >= 64 KiB) whose granules, span bytes, no reservation owns; at want if
 * nonzero.  Only the reservation's own pages are mapped, not the rest of its
 * last granule: a commit of a small reservation then changes a whole kernel
 * mapping instead of splitting one.  The rest of the granule can hold no
 * other reservation (bases are granule-aligned and that granule's first page
 * is mapped), only unrelated mappings of the process, which Windows would
 * not have and which no call here touches.  Returns the address or 0 with
 * *err set. */
static uintptr_t emu_map(uintptr_t want, uintptr_t len, uintptr_t span, uintptr_t align, int prot,
                         uint32_t *err)
{
    const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    void *p;
    uintptr_t a, head;
    if (want) {
        p = mmap((void *)want, len, prot, flags | MAP_FIXED_NOREPLACE, -1, 0);
        if (p == MAP_FAILED) {
            *err = emu_errno_code(errno);
            return 0;
        }
        if ((uintptr_t)p != want) { /* a kernel that ignores the flag */
            munmap(p, len);
            *err = MEMWIN_ERROR_INVALID_ADDRESS;
            return 0;
        }
        emu_placed_anywhere++;
        return want;
    }
    /* The highest hole of the zone that fits, if any: its top end. */
    for (;;) {
        emu_hole *h = emu_hole_fit(span + (align - MW_GRANULE));
        if (!h)
            break;
        a = (h->hi - span) & ~(align - 1);
        p = mmap((void *)a, len, prot, flags | MAP_FIXED_NOREPLACE, -1, 0);
        if (p != MAP_FAILED && (uintptr_t)p == a)
            return a;
        if (p != MAP_FAILED) { /* a kernel that ignores the flag */
            munmap(p, len);
            break;
        }
        if (errno != EEXIST)
            break;
        emu_hole_carve(h->lo, h->hi); /* something else maps there now */
    }
    if (emu_low > span && ((emu_low - span) & ~(align - 1)) >= MW_MIN_ADDR) {
        a = (emu_low - span) & ~(align - 1);
        p = mmap((void *)a, len, prot, flags | MAP_FIXED_NOREPLACE, -1, 0);
        if (p != MAP_FAILED && (uintptr_t)p == a)
            return emu_low = a;
        if (p != MAP_FAILED) /* a kernel that ignores the flag */
            munmap(p, len);
    }
    p = mmap(NULL, len, prot, flags, -1, 0);
    if (p == MAP_FAILED) {
        *err = emu_errno_code(errno);
        return 0;
    }
    if (((uintptr_t)p & (align - 1)) == 0)
        return emu_zone((uintptr_t)p);
    /* Unaligned: map align more and trim both ends. */
    munmap(p, len);
    if (len + align < len) {
        *err = MEMWIN_ERROR_NOT_ENOUGH_MEMORY;
        return 0;
    }
    p = mmap(NULL, len + align, prot, flags, -1, 0);
    if (p == MAP_FAILED) {
        *err = emu_errno_code(errno);
        return 0;
    }
    a = ((uintptr_t)p + align - 1) & ~(align - 1);
    head = a - (uintptr_t)p;
    if (head)
        munmap(p, head);
    munmap((void *)(a + len), align - head);
    return emu_zone(a);
}

/* Page states as runs: runs[k] = (first page << 8) | state, sorted, runs[0]
 * starting at page 0, neighbours of different states.  The cost follows the
 * number of runs an operation has left, not the reservation's size (a 4 TiB
 * reservation with a few commits keeps a few runs). */
#define EMU_RUN(first, s) (((uint64_t)(first) << 8) | (uint8_t)(s))
#define EMU_RUN_FIRST(v) ((uintptr_t)((v) >> 8))
#define EMU_RUN_STATE(v) ((uint8_t)((v)&0xff))

/* The index of the run holding page i (runs present). */
static size_t emu_run_at(const emu_resv *r, uintptr_t i)
{
    size_t lo = 0, hi = r->nruns; /* runs[lo] starts at or before i */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (EMU_RUN_FIRST(r->runs[mid]) <= i)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* The page after run k. */
static uintptr_t emu_run_end(const emu_resv *r, size_t k)
{
    return k + 1 < r->nruns ? EMU_RUN_FIRST(r->runs[k + 1]) : r->size / MW_PAGE;
}

/* The state of page i of r, and (if end) the page where its run ends. */
static uint8_t emu_page(const emu_resv *r, uintptr_t i, uintptr_t *end)
{
    size_t k;
    if (!r->runs) {
        if (end)
            *end = r->size / MW_PAGE;
        return r->uniform;
    }
    k = emu_run_at(r, i);
    if (end)
        *end = emu_run_end(r, k);
    return EMU_RUN_STATE(r->runs[k]);
}

/* Returns 1 if every page in [first, first+count) has state s. */
static int emu_all_pages(const emu_resv *r, uintptr_t first, uintptr_t count, uint8_t s)
{
    uintptr_t end;
    return emu_page(r, first, &end) == s && end >= first + count;
}

/* Before a system call on pages [first, first+count) of r: makes room for
 * the runs the call can add (two) if it covers only part of r.  Returns 0
 * when the room cannot be allocated (nothing is changed then). */
static int emu_pages_ready(emu_resv *r, uintptr_t first, uintptr_t count)
{
    size_t cap;
    uint64_t *runs;
    if (first == 0 && count == r->size / MW_PAGE)
        return 1;
    if (r->runs && r->nruns + 2 <= r->cap)
        return 1;
    cap = r->runs ? 2 * r->cap : 4;
    runs = (uint64_t *)malloc(cap * sizeof *runs); /* malloc: what the alloc_fail tests refuse */
    if (!runs)
        return 0;
    if (r->runs) {
        memcpy(runs, r->runs, r->nruns * sizeof *runs);
        free(r->runs);
    } else {
        runs[0] = EMU_RUN(0, r->uniform);
        r->nruns = 1;
    }
    r->runs = runs;
    r->cap = cap;
    return 1;
}

/* After the system call: records state s on [first, first+count).  A call
 * over the whole reservation makes its pages uniform again. */
static void emu_pages_set(emu_resv *r, uintptr_t first, uintptr_t count, uint8_t s)
{
    uintptr_t end = first + count;
    size_t k0, k1, lo, hi, m = 0, i;
    uint64_t piece[3], out[3];
    unsigned prev, n = 0;
    if (first == 0 && count == r->size / MW_PAGE) {
        if (r->runs) {
            free(r->runs);
            r->runs = NULL;
            r->nruns = r->cap = 0;
        }
        r->uniform = s;
        return;
    }
    /* Runs k0..k1 become: the part of k0 before first, [first, end) in s,
     * the part of k1 after end; then neighbours of one state are joined. */
    k0 = emu_run_at(r, first);
    k1 = emu_run_at(r, end - 1);
    if (EMU_RUN_FIRST(r->runs[k0]) < first)
        piece[m++] = r->runs[k0];
    piece[m++] = EMU_RUN(first, s);
    if (emu_run_end(r, k1) > end)
        piece[m++] = EMU_RUN(end, EMU_RUN_STATE(r->runs[k1]));
    lo = k0;
    hi = k1 + 1;
    prev = lo > 0 ? EMU_RUN_STATE(r->runs[lo - 1]) : 0x100u;
    for (i = 0; i < m; i++) {
        if (EMU_RUN_STATE(piece[i]) == prev)
            continue;
        out[n++] = piece[i];
        prev = EMU_RUN_STATE(piece[i]);
    }
    if (hi < r->nruns && EMU_RUN_STATE(r->runs[hi]) == prev)
        hi++; /* the next run joins the last one */
    memmove(r->runs + lo + n, r->runs + hi, (r->nruns - hi) * sizeof *r->runs);
    memcpy(r->runs + lo, out, n * sizeof *out);
    r->nruns = lo + n + (r->nruns - hi);
}

/* ---- the primitives ----------------------------------------------------- */

static void *emu_reserve(uintptr_t addr, uintptr_t size, uintptr_t align, uint32_t type,
                         uint32_t protect)
{
    uintptr_t base, end, span, got;
    uint32_t err = 0;
    int commit = (type & MEMWIN_MEM_COMMIT) != 0;
    emu_resv *r;
    if (addr) {
        base = addr & ~(MW_GRANULE - 1);
        if (addr + size < addr || addr + size > EMU_MAX_ADDR + 1 || base < MW_MIN_ADDR) {
            emu_last_error = MEMWIN_ERROR_INVALID_PARAMETER;
            return NULL;
        }
        end = (addr + size + MW_PAGE - 1) & ~(MW_PAGE - 1);
    } else {
        if (size > EMU_NIL_MAX_SIZE) {
            emu_last_error = MEMWIN_ERROR_INVALID_PARAMETER;
            return NULL;
        }
        base = 0;
        end = (size + MW_PAGE - 1) & ~(MW_PAGE - 1);
    }
    size = end - base;
    span = (size + MW_GRANULE - 1) & ~(MW_GRANULE - 1);
    pthread_mutex_lock(&emu_lock);
    if (emu_pending)
        emu_retry_pending();
    r = emu_spares;
    if (r) {
        emu_spares = r->spare;
        emu_nspares--;
    } else {
        r = (emu_resv *)malloc(sizeof *r); /* every field is set below */
    }
    if (!r) {
        err = MEMWIN_ERROR_NOT_ENOUGH_MEMORY;
        got = 0;
    } else if (base && emu_overlaps(base, span)) {
        err = MEMWIN_ERROR_INVALID_ADDRESS;
        got = 0;
    } else {
        got = emu_map(base, size, span, align, commit ? emu_unix_prot(protect) : PROT_NONE, &err);
    }
    if (got) {
        r->base = got;
        r->size = size;
        r->span = span;
        emu_hole_carve(got, got + span);
        if (!emu_track(r)) {
            munmap((void *)got, size);
            err = MEMWIN_ERROR_NOT_ENOUGH_MEMORY;
            got = 0;
        }
    }
    if (got) {
        r->alloc_protect = protect;
        r->uniform = commit ? (uint8_t)protect : 0;
        r->runs = NULL;
        r->nruns = r->cap = 0;
    }
    pthread_mutex_unlock(&emu_lock);
    if (!got) {
        free(r);
        emu_last_error = err;
        return NULL;
    }
    return (void *)got;
}

static void *emu_commit(uintptr_t addr, uintptr_t size, uint32_t protect)
{
    uintptr_t start = addr & ~(MW_PAGE - 1), end, first, count;
    emu_resv *r;
    uint32_t err = 0;
    if (addr + size < addr || addr + size > EMU_MAX_ADDR + 1) {
        emu_last_error = MEMWIN_ERROR_INVALID_PARAMETER;
        return NULL;
    }
    end = (addr + size + MW_PAGE - 1) & ~(MW_PAGE - 1);
    pthread_mutex_lock(&emu_lock);
    r = emu_find(start);
    if (!r || end - r->base > r->size) {
        err = MEMWIN_ERROR_INVALID_ADDRESS;
    } else {
        first = (start - r->base) / MW_PAGE;
        count = (end - start) / MW_PAGE;
        if (!emu_all_pages(r, first, count, (uint8_t)protect)) {
            if (!emu_pages_ready(r, first, count) ||
                mprotect((void *)start, end - start, emu_unix_prot(protect)) != 0)
                err = MEMWIN_ERROR_NOT_ENOUGH_MEMORY;
            else
                emu_pages_set(r, first, count, (uint8_t)protect);
        }
    }
    pthread_mutex_unlock(&emu_lock);
    if (err) {
        emu_last_error = err;
        return NULL;
    }
    return (void *)start;
}

static void *emu_virtual_alloc(void *addr, uintptr_t size, uint32_t type, uint32_t protect)
{
    const uint32_t known = MEMWIN_MEM_COMMIT | MEMWIN_MEM_RESERVE;
    if (size == 0 || (type & known) == 0 || (type & ~known) != 0 || !emu_valid_protect(protect)) {
        emu_last_error = MEMWIN_ERROR_INVALID_PARAMETER;
        return NULL;
    }
    /* Commit without an address reserves too, as Windows does. */
    if ((type & MEMWIN_MEM_RESERVE) || addr == NULL)
        return emu_reserve((uintptr_t)addr, size, MW_GRANULE, type, protect);
    return emu_commit((uintptr_t)addr, size, protect);
}

/* One reservation at a multiple of align: mapped there directly, so no
 * other thread can come between (Go's sequence releases and re-reserves). */
static void *emu_virtual_alloc_aligned(uintptr_t size, uintptr_t align, uint32_t type,
                                       uint32_t protect)
{
    const uint32_t known = MEMWIN_MEM_COMMIT | MEMWIN_MEM_RESERVE;
    /* Commit alone reserves too, as without an address in VirtualAlloc. */
    if (size == 0 || (type & known) == 0 || (type & ~known) != 0 ||
        !emu_valid_protect(protect) || align < MW_GRANULE || (align & (align - 1)) != 0) {
        emu_last_error = MEMWIN_ERROR_INVALID_PARAMETER;
        return NULL;
    }
    return emu_reserve(0, size, align, type, protect);
}

/* Decommits [start, end) of r: fresh PROT_NONE pages, so they read zero
 * when committed again.  Called with the lock held. */
static uint32_t emu_decommit(emu_resv *r, uintptr_t start, uintptr_t end)
{
    uintptr_t first = (start - r->base) / MW_PAGE, count = (end - start) / MW_PAGE;
    void *p;
    if (emu_all_pages(r, first, count, 0))
        return 0;
    if (!emu_pages_ready(r, first, count))
        return MEMWIN_ERROR_NOT_ENOUGH_MEMORY;
    p = mmap((void *)start, end - start, PROT_NONE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED)
        return MEMWIN_ERROR_NOT_ENOUGH_MEMORY;
    emu_pages_set(r, first, count, 0);
    return 0;
}

static int emu_virtual_free(void *addr, uintptr_t size, uint32_t type)
{
    uintptr_t a = (uintptr_t)addr, start = a & ~(MW_PAGE - 1);
    /* A size other than 0 in whole pages from start, rounded as Wine does,
     * modulo 2^64: one whose rounded end wraps to exactly start becomes 0,
     * "the whole reservation" (a decommit of 2^64-1 bytes at a base
     * succeeds, and so does a release of 2^64-1 bytes); a size of 0 stays
     * 0, wherever in its page addr is. */
    uintptr_t len = size ? ((a - start) + size + MW_PAGE - 1) & ~(MW_PAGE - 1) : 0;
    uint32_t err = 0;
    emu_resv *r, *gone = NULL;
    if ((type != MEMWIN_MEM_DECOMMIT && type != MEMWIN_MEM_RELEASE) ||
        (type == MEMWIN_MEM_RELEASE && len != 0) || addr == NULL) {
        emu_last_error = MEMWIN_ERROR_INVALID_PARAMETER;
        return 0;
    }
    pthread_mutex_lock(&emu_lock);
    r = emu_find(start);
    if (!r) {
        err = MEMWIN_ERROR_INVALID_PARAMETER; /* Wine's code; Windows: 487 */
    } else if (len == 0) {
        if (start != r->base) {
            err = MEMWIN_ERROR_INVALID_ADDRESS;
        } else if (type == MEMWIN_MEM_RELEASE) {
            /* Any -> free: a release of a reservation cannot fail. */
            emu_untrack(r);
            if (munmap((void *)r->base, r->size) == 0) {
                emu_released(r->base, r->base + r->span);
                gone = r;
                if (emu_pending)
                    emu_retry_pending(); /* a mapping fewer: they may go now */
            } else {
                /* At the kernel's mapping limit (the unmap needed a
                 * split): the pages' contents go now (madvise never
                 * splits), their access where the kernel allows (already
                 * none for reserved pages), the mapping at a later call. */
                madvise((void *)r->base, r->size, MADV_DONTNEED);
                mprotect((void *)r->base, r->size, PROT_NONE);
                r->spare = emu_pending;
                emu_pending = r;
            }
        } else {
            err = emu_decommit(r, r->base, r->base + r->size);
        }
    } else if (len > r->size - (start - r->base)) {
        /* Runs past the reservation's end, also a length that wraps past
         * 2^64 (longer than any reservation). */
        err = MEMWIN_ERROR_INVALID_PARAMETER;
    } else {
        err = emu_decommit(r, start, start + len);
    }
    if (gone)
        emu_resv_drop(gone);
    pthread_mutex_unlock(&emu_lock);
    if (err) {
        emu_last_error = err;
        return 0;
    }
    return 1;
}

static uint32_t emu_virtual_query(const void *addr, memwin_region_info *info)
{
    uintptr_t page = (uintptr_t)addr & ~(MW_PAGE - 1);
    emu_resv *r;
    if ((uintptr_t)addr > EMU_MAX_ADDR || !info)
        return MEMWIN_ERROR_INVALID_PARAMETER;
    pthread_mutex_lock(&emu_lock);
    r = emu_find(page);
    info->base = (void *)page;
    if (r) {
        uintptr_t i = (page - r->base) / MW_PAGE, j;
        uint8_t s = emu_page(r, i, &j);
        info->allocation_base = (void *)r->base;
        info->allocation_protect = r->alloc_protect;
        info->state = s ? MEMWIN_MEM_COMMIT : MEMWIN_MEM_RESERVE;
        info->protect = s;
        info->region_size = (j - i) * MW_PAGE;
    } else {
        uintptr_t next = emu_next_base(page);
        info->allocation_base = NULL;
        info->allocation_protect = 0;
        info->state = MEMWIN_MEM_FREE;
        info->protect = MEMWIN_PAGE_NOACCESS;
        info->region_size = next - page;
    }
    pthread_mutex_unlock(&emu_lock);
    return 0;
}

static uint32_t emu_get_last_error(void)
{
    return emu_last_error;
}

static void emu_set_last_error(uint32_t code)
{
    emu_last_error = code;
}

static void emu_write_stderr(const char *bytes, size_t len)
{
    while (len > 0) {
        ssize_t n = write(2, bytes, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        bytes += n;
        len -= (size_t)n;
    }
}

static void emu_exit_process(int status)
{
    _exit(status);
}

void memwin_host_yield(void)
{
    sched_yield();
}

const memwin_prim memwin_host_prim = {
    emu_virtual_alloc, emu_virtual_free, emu_virtual_query, emu_get_last_error,
    emu_set_last_error, emu_write_stderr, emu_exit_process, emu_virtual_alloc_aligned,
};
