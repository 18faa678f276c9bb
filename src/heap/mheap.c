/* Go 1.5's heap layer: the contiguous heap (mheap with its spans
 * array and heap bitmap mapped on demand), on memwin's own handshake. */
#include <stdio.h>
#include <string.h>

#include "../atomics.h"
#include "../fatal.h"
#include "../mem.h"
#include "memwin_heap.h"
#include "../host.h"
#include "../vm.h"

#define HEAP_PAGE ((uintptr_t)8192)    /* Go's runtime page */
#define PHYS_PAGE MW_PAGE              /* the physical page (src/vm.h) */
#define BITMAP_CHUNK ((uintptr_t)8192) /* bitmap is mapped in these chunks */
/* Arena bytes described by one bitmap byte: 4 words (2 bits per word). */
#define BITMAP_SCALE ((uintptr_t)sizeof(void *) * 4)

static uintptr_t round_up(uintptr_t n, uintptr_t to)
{
    return (n + to - 1) & ~(to - 1);
}

static void heap_lock(memwin_mheap *h)
{
    while (!mw_try_lock32(&h->lock))
        memwin_host_yield();
}

static void heap_unlock(memwin_mheap *h)
{
    mw_unlock32(&h->lock);
}

const char *memwin_heap_strerror(int code)
{
    switch (code) {
    case MEMWIN_HEAP_OK:
        return "success";
    case MEMWIN_HEAP_EXHAUSTED:
        return "heap arena exhausted: growth would pass arena_end";
    case MEMWIN_HEAP_BAD_ARGUMENT:
        return "bad argument: null heap or statistics, zero or overflowing size";
    case MEMWIN_HEAP_NO_ADDRESS_SPACE:
        return "cannot reserve address space for the heap";
    case MEMWIN_HEAP_NOT_INITIALIZED:
        return "heap is not initialized";
    default:
        return "unknown heap result code";
    }
}

/* Reserved -> Prepared -> Ready for [v, v+n), accounted to stat and sys. */
static void map_ready(memwin_mheap *h, uintptr_t v, uintptr_t n, sysMemStat *stat)
{
    sysMap((void *)v, n, stat);
    memwin_stat_add(&h->stats->sys, (int64_t)n);
    sysUsed((void *)v, n, n);
}

/* Throws unless arena_used lies within the heap's arena. */
static int check_used(const memwin_mheap *h, uintptr_t arena_used, const char *who)
{
    char line[160];
    if (h->reservation != 0 && arena_used >= h->arena_start && arena_used <= h->arena_end)
        return 1;
    snprintf(line, sizeof line, "runtime: %s: arena_used=0x%llx outside [0x%llx, 0x%llx]\n", who,
             (unsigned long long)arena_used, (unsigned long long)h->arena_start,
             (unsigned long long)h->arena_end);
    memwin_throw(line, "memwin: arena_used outside the heap arena");
    return 0;
}

static void map_bits_locked(memwin_mheap *h, uintptr_t arena_used)
{
    uintptr_t n = (arena_used - h->arena_start) / BITMAP_SCALE;
    n = round_up(round_up(n, BITMAP_CHUNK), PHYS_PAGE);
    if (h->bitmap_mapped >= n)
        return;
    /* The bitmap grows down: map the new bytes just below the mapped part. */
    map_ready(h, h->arena_start - n, n - h->bitmap_mapped, &h->stats->gc_sys);
    h->bitmap_mapped = n;
}

static void map_spans_locked(memwin_mheap *h, uintptr_t arena_used)
{
    uintptr_t n = (arena_used - h->arena_start) / HEAP_PAGE * sizeof(void *);
    n = round_up(n, PHYS_PAGE);
    if (h->spans_mapped >= n)
        return;
    map_ready(h, h->spans + h->spans_mapped, n - h->spans_mapped, &h->stats->other_sys);
    h->spans_mapped = n;
}

int memwin_mheap_init(memwin_mheap *h, uintptr_t arena_size, memwin_memstats *stats)
{
    uintptr_t spans_size, bitmap_size, total;
    void *base;
    if (!h || !stats || arena_size == 0 || arena_size > (uintptr_t)-1 / 2)
        return MEMWIN_HEAP_BAD_ARGUMENT;
    arena_size = round_up(arena_size, HEAP_PAGE);
    spans_size = round_up(arena_size / HEAP_PAGE * sizeof(void *), PHYS_PAGE);
    bitmap_size = round_up(round_up(arena_size / BITMAP_SCALE, BITMAP_CHUNK), PHYS_PAGE);
    total = spans_size + bitmap_size + arena_size;
    base = sysReserve(NULL, total);
    memset(h, 0, sizeof *h);
    if (!base)
        return MEMWIN_HEAP_NO_ADDRESS_SPACE;
    h->reservation = (uintptr_t)base;
    h->reserved = total;
    h->spans = h->reservation;
    h->arena_start = h->reservation + spans_size + bitmap_size;
    h->bitmap = h->arena_start;
    h->arena_used = h->arena_start;
    h->arena_end = h->reservation + total;
    h->arena_reserved = true;
    h->stats = stats;
    return MEMWIN_HEAP_OK;
}

void mHeapMapBits(memwin_mheap *h, uintptr_t arena_used)
{
    if (!h) {
        memwin_throw("runtime: mHeapMapBits: nil mheap\n", "memwin: nil mheap");
        return;
    }
    heap_lock(h);
    if (check_used(h, arena_used, "mHeapMapBits"))
        map_bits_locked(h, arena_used);
    heap_unlock(h);
}

void mHeapMapSpans(memwin_mheap *h, uintptr_t arena_used)
{
    if (!h) {
        memwin_throw("runtime: mHeapMapSpans: nil mheap\n", "memwin: nil mheap");
        return;
    }
    heap_lock(h);
    if (check_used(h, arena_used, "mHeapMapSpans"))
        map_spans_locked(h, arena_used);
    heap_unlock(h);
}

int memwin_mheap_grow(memwin_mheap *h, uintptr_t n, void **grown)
{
    uintptr_t v;
    if (!h || n == 0 || n > (uintptr_t)-1 - HEAP_PAGE)
        return MEMWIN_HEAP_BAD_ARGUMENT;
    n = round_up(n, HEAP_PAGE);
    heap_lock(h);
    if (h->reservation == 0) {
        heap_unlock(h);
        return MEMWIN_HEAP_NOT_INITIALIZED;
    }
    v = h->arena_used;
    if (n > h->arena_end - v) {
        heap_unlock(h);
        return MEMWIN_HEAP_EXHAUSTED;
    }
    map_ready(h, v, n, &h->stats->heap_sys);
    map_bits_locked(h, v + n);
    map_spans_locked(h, v + n);
    h->arena_used = v + n;
    heap_unlock(h);
    if (grown)
        *grown = (void *)v;
    return MEMWIN_HEAP_OK;
}

/* Ready -> Prepared for [v, v+n) and its accounting undone. */
static void unmap_ready(memwin_mheap *h, uintptr_t v, uintptr_t n, sysMemStat *stat)
{
    if (n == 0)
        return;
    sysUnused((void *)v, n);
    memwin_stat_add(stat, memwin_neg(n));
    memwin_stat_add(&h->stats->sys, memwin_neg(n));
}

int memwin_mheap_destroy(memwin_mheap *h)
{
    if (!h)
        return MEMWIN_HEAP_BAD_ARGUMENT;
    heap_lock(h);
    if (h->reservation == 0) {
        heap_unlock(h);
        return MEMWIN_HEAP_NOT_INITIALIZED;
    }
    unmap_ready(h, h->arena_start, h->arena_used - h->arena_start, &h->stats->heap_sys);
    unmap_ready(h, h->arena_start - h->bitmap_mapped, h->bitmap_mapped, &h->stats->gc_sys);
    unmap_ready(h, h->spans, h->spans_mapped, &h->stats->other_sys);
    sysUnreserve((void *)h->reservation, h->reserved);
    memset(h, 0, sizeof *h);
    return MEMWIN_HEAP_OK;
}
