/*
 * Go 1.5's heap layer and the memory-status and large-page extras: what the
 * original description of mem_windows.go names beside the OS functions, built
 * on memwin's own handshake.
 *
 *  - mheap / memstats / mHeapMapBits / mHeapMapSpans: the contiguous heap of
 *    Go 1.4-1.5, the first user of the sysReserve/sysMap handshake.  One
 *    reservation holds [spans array | heap bitmap | arena]; the bitmap grows
 *    down from arena_start and the spans array up from its start, both
 *    mapped on demand as arena_used grows.
 *  - memory status (what the description credits sysUsedOS with) and
 *    large-page support (what it credits sysHugePageOS with): separate
 *    functions, because Go's functions do neither.
 *
 * Thread-safe: growth of one heap is serialised by the heap's own lock.
 *
 * Null pointers: a NULL heap or stats gives MEMWIN_HEAP_BAD_ARGUMENT (for
 * mHeapMapBits / mHeapMapSpans, which return nothing, the fatal error
 * "memwin: nil mheap", as Go's nil dereference); grown may be NULL; a NULL
 * st or lp gives 87 (ERROR_INVALID_PARAMETER).
 */
#ifndef MEMWIN_HEAP_H
#define MEMWIN_HEAP_H

#include "memwin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The sys counters the handshake feeds (Go 1.5's mstats). */
typedef struct memwin_memstats {
    sysMemStat heap_sys;  /* arena mapped */
    sysMemStat gc_sys;    /* heap bitmap mapped */
    sysMemStat other_sys; /* spans array mapped */
    sysMemStat sys;       /* the total of the three */
} memwin_memstats;

/* Go 1.5's mheap fields for the heap's address range.  Read the fields
 * freely; change them only through the functions below. */
typedef struct memwin_mheap {
    uintptr_t spans;          /* start of the spans array (one pointer per 8 KiB arena page) */
    uintptr_t spans_mapped;   /* bytes of the spans array that are Ready */
    uintptr_t bitmap;         /* one byte past the end of the bitmap (= arena_start) */
    uintptr_t bitmap_mapped;  /* bytes of the bitmap, below arena_start, that are Ready */
    uintptr_t arena_start;    /* first arena byte */
    uintptr_t arena_used;     /* end of the Ready part of the arena */
    uintptr_t arena_end;      /* end of the reservation */
    bool arena_reserved;      /* the arena is a reservation of ours */
    uintptr_t reservation;    /* base of the one reservation (spans array start) */
    uintptr_t reserved;       /* its size */
    memwin_memstats *stats;   /* counters this heap feeds */
    uint32_t lock;            /* serialises growth; internal */
} memwin_mheap;

/* Result codes of the heap functions. */
#define MEMWIN_HEAP_OK 0
#define MEMWIN_HEAP_EXHAUSTED 1   /* growth would pass arena_end; nothing changed */
#define MEMWIN_HEAP_BAD_ARGUMENT 2
#define MEMWIN_HEAP_NO_ADDRESS_SPACE 3 /* the reservation failed */
#define MEMWIN_HEAP_NOT_INITIALIZED 4
/* A sentence describing a result code. */
const char *memwin_heap_strerror(int code);

/* Reserves (None -> Reserved) one region for the spans array, the bitmap and
 * arena_size bytes of arena (rounded up to 8 KiB), and sets the fields with
 * arena_used = arena_start.  stats must outlive the heap. */
int memwin_mheap_init(memwin_mheap *h, uintptr_t arena_size, memwin_memstats *stats);
/* Maps bitmap for arena [arena_start, arena_used): one byte per 32 arena bytes
 * on 64-bit (16 on 32-bit), rounded up to 8 KiB and to the physical page,
 * only what is not mapped yet, growing down from arena_start.  The new part
 * goes Reserved -> Prepared -> Ready, accounted to gc_sys. */
void mHeapMapBits(memwin_mheap *h, uintptr_t arena_used);
/* Maps the spans array for arena_used: one pointer per 8 KiB arena page,
 * rounded to the physical page, only the unmapped tail; Reserved -> Prepared
 * -> Ready, accounted to other_sys. */
void mHeapMapSpans(memwin_mheap *h, uintptr_t arena_used);
/* Grows the arena by n bytes (rounded up to 8 KiB): the new arena goes
 * Reserved -> Prepared -> Ready (heap_sys), then the bitmap and spans array
 * are mapped for it, then arena_used advances.  Returns the new memory in
 * *grown.  Past arena_end: MEMWIN_HEAP_EXHAUSTED and nothing changes. */
int memwin_mheap_grow(memwin_mheap *h, uintptr_t n, void **grown);
/* Ready parts -> Prepared (mapped-ready and the counters go back down),
 * then the reservation -> None; the fields are zeroed. */
int memwin_mheap_destroy(memwin_mheap *h);

/* ---- Memory status ----------------------------------------------------- */

typedef struct memwin_memory_status {
    uint64_t total_phys;     /* physical memory */
    uint64_t avail_phys;     /* physical memory available */
    uint64_t commit_limit;   /* system commit limit (Windows: page file + RAM; Linux: CommitLimit) */
    uint64_t commit_total;   /* system commit in use (Linux: Committed_AS) */
    uint64_t process_commit; /* this process's committed private bytes (Windows:
                                PagefileUsage, the commit charge - Wine counts
                                touched pages only; Linux: VmData) */
    uint32_t memory_load;    /* percent of physical memory in use */
} memwin_memory_status;

/* Fills *st from the OS (GlobalMemoryStatusEx and GetProcessMemoryInfo on
 * Windows; /proc/meminfo and /proc/self/status on Linux).  Returns 0, or a
 * Win32-style error code. */
uint32_t memwin_memory_status_get(memwin_memory_status *st);

/* When on, the out-of-memory fatal path (sysUsedOS with errno 8 or 1455)
 * prints one more line after Go's, with these figures (golang/go #70558):
 *   memwin: memory status: physical <avail>/<total> bytes available, commit <total>/<limit> bytes, process commit <bytes> bytes
 * Off by default, so the default output stays Go's.  Returns the old mode. */
bool memwin_set_oom_status_report(bool on);

/* ---- Large pages ------------------------------------------------------- */

typedef struct memwin_large_pages {
    uintptr_t minimum;     /* large-page size (GetLargePageMinimum; Linux Hugepagesize); 0 if none */
    bool privilege_held;   /* Windows: SeLockMemoryPrivilege in the token; Linux: hugetlb pages reserved */
    bool usable;           /* this process may allocate large pages now (Windows: privilege
                              enabled; Linux: free hugetlb pages or THP not "never") */
    uint32_t thp_mode;     /* Linux transparent huge pages: MEMWIN_THP_*; Windows: MEMWIN_THP_NONE */
} memwin_large_pages;

#define MEMWIN_THP_NONE 0   /* not applicable or unknown */
#define MEMWIN_THP_NEVER 1
#define MEMWIN_THP_MADVISE 2
#define MEMWIN_THP_ALWAYS 3

/* Fills *lp from the OS.  Returns 0, or a Win32-style error code. */
uint32_t memwin_large_pages_get(memwin_large_pages *lp);

#ifdef __cplusplus
}
#endif

#endif /* MEMWIN_HEAP_H */
