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
 * Reservations live in an AVL tree keyed by base (logarithmic lookup), each
 * with one state byte per page (0 = reserved, else the commit protection).
 * Each transition costs at most one system call in the common case.
 * Only reservations made through this table are known: other mappings of
 * the process appear free to VirtualQuery, but a reservation never
 * overlaps them (MAP_FIXED_NOREPLACE). */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rtree.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define EMU_PAGE ((uintptr_t)4096)
#define EMU_GRANULE ((uintptr_t)65536)
/* Windows x64 user address space: [64 KiB, 0x7FFFFFFEFFFF]. */
#define EMU_MIN_ADDR ((uintptr_t)0x10000)
#define EMU_MAX_ADDR ((uintptr_t)0x7FFFFFFEFFFFull)

typedef struct emu_resv {
    rtree_node node;         /* keyed by base; first member */
    uintptr_t base;          /* 64 KiB aligned */
    uintptr_t size;          /* page multiple: the reservation proper */
    uintptr_t span;          /* 64 KiB multiple: what is mapped and owned */
    uint32_t alloc_protect;  /* protection given at reservation */
    uint8_t *pages;          /* per page: 0 reserved, else PAGE_* committed */
} emu_resv;

static pthread_mutex_t emu_lock = PTHREAD_MUTEX_INITIALIZER;
static rtree_node *emu_root;
/* Where the last reservation without an address went: the next one is
 * tried just below it, already 64 KiB aligned, so a reservation costs one
 * mmap instead of map-trim-trim.  Released ranges are not handed out again
 * at once (a hint may be aimed at them, as Go's arena hints are). */
static uintptr_t emu_low;
static _Thread_local uint32_t emu_last_error;

/* The reservation with the greatest base <= addr, or NULL. */
static emu_resv *emu_floor(uintptr_t addr)
{
    return (emu_resv *)rtree_floor(emu_root, addr);
}

/* The reservation with the smallest base > addr, or NULL. */
static emu_resv *emu_above(uintptr_t addr)
{
    return (emu_resv *)rtree_above(emu_root, addr);
}

/* A two-level index from each 64 KiB granule of the user address space to
 * the reservation owning it, so lookups cost the same with 10 or 100k live
 * reservations (the tree still answers ordered questions).  2^31 granules:
 * 2^19 leaves of 2^12 pointers (32 KiB each, allocated when first used;
 * small enough to come from the heap, not from an mmap that could land in
 * address space a caller has just released and means to hint at). */
#define EMU_LEAF_BITS 12
#define EMU_LEAVES (1u << (47 - 16 - EMU_LEAF_BITS))
static emu_resv **emu_index[EMU_LEAVES];

static emu_resv *emu_index_get(uintptr_t addr)
{
    uintptr_t g = addr >> 16;
    emu_resv **leaf;
    if (addr > EMU_MAX_ADDR)
        return NULL;
    leaf = emu_index[g >> EMU_LEAF_BITS];
    return leaf ? leaf[g & ((1u << EMU_LEAF_BITS) - 1)] : NULL;
}

/* Points the granules of [base, base+span) at r (NULL to clear).  Returns 0
 * when a leaf cannot be allocated (only possible when setting). */
static int emu_index_set(uintptr_t base, uintptr_t span, emu_resv *r)
{
    uintptr_t g, end = (base + span) >> 16;
    for (g = base >> 16; g < end; g++) {
        emu_resv ***leaf = &emu_index[g >> EMU_LEAF_BITS];
        if (!*leaf) {
            if (!r)
                continue;
            *leaf = (emu_resv **)calloc((size_t)1 << EMU_LEAF_BITS, sizeof **leaf);
            if (!*leaf) {
                emu_index_set(base, (g << 16) - base, NULL);
                return 0;
            }
        }
        (*leaf)[g & ((1u << EMU_LEAF_BITS) - 1)] = r;
    }
    return 1;
}

/* The reservation whose pages [base, base+size) contain addr. */
static emu_resv *emu_find(uintptr_t addr)
{
    emu_resv *r = emu_index_get(addr);
    return (r && addr - r->base < r->size) ? r : NULL;
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

static int emu_overlaps(uintptr_t base, uintptr_t span)
{
    emu_resv *r = emu_floor(base + span - 1);
    return r && r->base + r->span > base;
}

/* Maps span bytes at a multiple of align (a power of two >= 64 KiB), at
 * want if nonzero.  Returns the address or 0 with *err set. */
static uintptr_t emu_map(uintptr_t want, uintptr_t span, uintptr_t align, int prot, uint32_t *err)
{
    const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    void *p;
    uintptr_t a, head;
    if (want) {
        p = mmap((void *)want, span, prot, flags | MAP_FIXED_NOREPLACE, -1, 0);
        if (p == MAP_FAILED) {
            *err = emu_errno_code(errno);
            return 0;
        }
        if ((uintptr_t)p != want) { /* a kernel that ignores the flag */
            munmap(p, span);
            *err = MEMWIN_ERROR_INVALID_ADDRESS;
            return 0;
        }
        return want;
    }
    if (emu_low > span && ((emu_low - span) & ~(align - 1)) >= EMU_MIN_ADDR) {
        a = (emu_low - span) & ~(align - 1);
        p = mmap((void *)a, span, prot, flags | MAP_FIXED_NOREPLACE, -1, 0);
        if (p != MAP_FAILED && (uintptr_t)p == a)
            return emu_low = a;
        if (p != MAP_FAILED) /* a kernel that ignores the flag */
            munmap(p, span);
    }
    p = mmap(NULL, span, prot, flags, -1, 0);
    if (p == MAP_FAILED) {
        *err = emu_errno_code(errno);
        return 0;
    }
    if (((uintptr_t)p & (align - 1)) == 0)
        return emu_low = (uintptr_t)p;
    /* Unaligned: map align more and trim both ends. */
    munmap(p, span);
    if (span + align < span) {
        *err = MEMWIN_ERROR_NOT_ENOUGH_MEMORY;
        return 0;
    }
    p = mmap(NULL, span + align, prot, flags, -1, 0);
    if (p == MAP_FAILED) {
        *err = emu_errno_code(errno);
        return 0;
    }
    a = ((uintptr_t)p + align - 1) & ~(align - 1);
    head = a - (uintptr_t)p;
    if (head)
        munmap(p, head);
    munmap((void *)(a + span), align - head);
    return emu_low = a;
}

/* Returns 1 if every page in [first, first+count) has state s. */
static int emu_all_pages(const emu_resv *r, uintptr_t first, uintptr_t count, uint8_t s)
{
    uintptr_t i;
    for (i = 0; i < count; i++)
        if (r->pages[first + i] != s)
            return 0;
    return 1;
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
        base = addr & ~(EMU_GRANULE - 1);
        if (addr + size < addr || addr + size > EMU_MAX_ADDR + 1 || base < EMU_MIN_ADDR) {
            emu_last_error = MEMWIN_ERROR_INVALID_PARAMETER;
            return NULL;
        }
        end = (addr + size + EMU_PAGE - 1) & ~(EMU_PAGE - 1);
    } else {
        if (size > EMU_MAX_ADDR - EMU_MIN_ADDR) {
            emu_last_error = MEMWIN_ERROR_INVALID_PARAMETER;
            return NULL;
        }
        base = 0;
        end = (size + EMU_PAGE - 1) & ~(EMU_PAGE - 1);
    }
    size = end - base;
    span = (size + EMU_GRANULE - 1) & ~(EMU_GRANULE - 1);
    r = (emu_resv *)calloc(1, sizeof *r);
    if (r)
        r->pages = (uint8_t *)calloc(size / EMU_PAGE, 1);
    if (!r || !r->pages) {
        free(r);
        emu_last_error = MEMWIN_ERROR_NOT_ENOUGH_MEMORY;
        return NULL;
    }
    pthread_mutex_lock(&emu_lock);
    if (base && emu_overlaps(base, span)) {
        err = MEMWIN_ERROR_INVALID_ADDRESS;
        got = 0;
    } else {
        /* Map committed directly when the whole span is the reservation. */
        int direct = commit && span == size;
        got = emu_map(base, span, align, direct ? emu_unix_prot(protect) : PROT_NONE, &err);
        if (got && commit && !direct && mprotect((void *)got, size, emu_unix_prot(protect)) != 0) {
            munmap((void *)got, span);
            err = MEMWIN_ERROR_NOT_ENOUGH_MEMORY;
            got = 0;
        }
    }
    if (got && !emu_index_set(got, span, r)) {
        munmap((void *)got, span);
        err = MEMWIN_ERROR_NOT_ENOUGH_MEMORY;
        got = 0;
    }
    if (got) {
        r->base = got;
        r->size = size;
        r->span = span;
        r->alloc_protect = protect;
        if (commit)
            memset(r->pages, (int)protect, size / EMU_PAGE);
        r->node.key = got;
        emu_root = rtree_insert(emu_root, &r->node);
    }
    pthread_mutex_unlock(&emu_lock);
    if (!got) {
        free(r->pages);
        free(r);
        emu_last_error = err;
        return NULL;
    }
    return (void *)got;
}

static void *emu_commit(uintptr_t addr, uintptr_t size, uint32_t protect)
{
    uintptr_t start = addr & ~(EMU_PAGE - 1), end, first, count;
    emu_resv *r;
    uint32_t err = 0;
    if (addr + size < addr || addr + size > EMU_MAX_ADDR + 1) {
        emu_last_error = MEMWIN_ERROR_INVALID_PARAMETER;
        return NULL;
    }
    end = (addr + size + EMU_PAGE - 1) & ~(EMU_PAGE - 1);
    pthread_mutex_lock(&emu_lock);
    r = emu_find(start);
    if (!r || end - r->base > r->size) {
        err = MEMWIN_ERROR_INVALID_ADDRESS;
    } else {
        first = (start - r->base) / EMU_PAGE;
        count = (end - start) / EMU_PAGE;
        if (!emu_all_pages(r, first, count, (uint8_t)protect)) {
            if (mprotect((void *)start, end - start, emu_unix_prot(protect)) != 0)
                err = MEMWIN_ERROR_NOT_ENOUGH_MEMORY;
            else
                memset(r->pages + first, (int)protect, count);
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
        return emu_reserve((uintptr_t)addr, size, EMU_GRANULE, type, protect);
    return emu_commit((uintptr_t)addr, size, protect);
}

/* One reservation at a multiple of align: mapped there directly, so no
 * other thread can come between (Go's sequence releases and re-reserves). */
static void *emu_virtual_alloc_aligned(uintptr_t size, uintptr_t align, uint32_t type,
                                       uint32_t protect)
{
    const uint32_t known = MEMWIN_MEM_COMMIT | MEMWIN_MEM_RESERVE;
    if (size == 0 || (type & MEMWIN_MEM_RESERVE) == 0 || (type & ~known) != 0 ||
        !emu_valid_protect(protect) || align < EMU_GRANULE || (align & (align - 1)) != 0) {
        emu_last_error = MEMWIN_ERROR_INVALID_PARAMETER;
        return NULL;
    }
    return emu_reserve(0, size, align, type, protect);
}

/* Decommits [start, end) of r: fresh PROT_NONE pages, so they read zero
 * when committed again.  Called with the lock held. */
static uint32_t emu_decommit(emu_resv *r, uintptr_t start, uintptr_t end)
{
    uintptr_t first = (start - r->base) / EMU_PAGE, count = (end - start) / EMU_PAGE;
    void *p;
    if (emu_all_pages(r, first, count, 0))
        return 0;
    p = mmap((void *)start, end - start, PROT_NONE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED)
        return MEMWIN_ERROR_NOT_ENOUGH_MEMORY;
    memset(r->pages + first, 0, count);
    return 0;
}

static int emu_virtual_free(void *addr, uintptr_t size, uint32_t type)
{
    uintptr_t a = (uintptr_t)addr, start = a & ~(EMU_PAGE - 1), end;
    uint32_t err = 0;
    emu_resv *r, *gone = NULL;
    if ((type != MEMWIN_MEM_DECOMMIT && type != MEMWIN_MEM_RELEASE) ||
        (type == MEMWIN_MEM_RELEASE && size != 0) || addr == NULL || a + size < a) {
        emu_last_error = MEMWIN_ERROR_INVALID_PARAMETER;
        return 0;
    }
    pthread_mutex_lock(&emu_lock);
    r = emu_find(start);
    if (!r) {
        err = MEMWIN_ERROR_INVALID_PARAMETER; /* Wine's code; Windows: 487 */
    } else if (size == 0) {
        if (start != r->base) {
            err = MEMWIN_ERROR_INVALID_ADDRESS;
        } else if (type == MEMWIN_MEM_RELEASE) {
            if (munmap((void *)r->base, r->span) != 0) {
                err = MEMWIN_ERROR_NOT_ENOUGH_MEMORY;
            } else {
                emu_root = rtree_remove(emu_root, r->base);
                emu_index_set(r->base, r->span, NULL);
                gone = r;
            }
        } else {
            err = emu_decommit(r, r->base, r->base + r->size);
        }
    } else {
        end = (a + size + EMU_PAGE - 1) & ~(EMU_PAGE - 1);
        if (end - r->base > r->size)
            err = MEMWIN_ERROR_INVALID_PARAMETER;
        else
            err = emu_decommit(r, start, end);
    }
    pthread_mutex_unlock(&emu_lock);
    if (gone) {
        free(gone->pages);
        free(gone);
    }
    if (err) {
        emu_last_error = err;
        return 0;
    }
    return 1;
}

static uint32_t emu_virtual_query(const void *addr, memwin_region_info *info)
{
    uintptr_t page = (uintptr_t)addr & ~(EMU_PAGE - 1);
    emu_resv *r;
    if ((uintptr_t)addr > EMU_MAX_ADDR)
        return MEMWIN_ERROR_INVALID_PARAMETER;
    pthread_mutex_lock(&emu_lock);
    r = emu_find(page);
    info->base = (void *)page;
    if (r) {
        uintptr_t i = (page - r->base) / EMU_PAGE, n = r->size / EMU_PAGE, j = i;
        uint8_t s = r->pages[i];
        while (j < n && r->pages[j] == s)
            j++;
        info->allocation_base = (void *)r->base;
        info->allocation_protect = r->alloc_protect;
        info->state = s ? MEMWIN_MEM_COMMIT : MEMWIN_MEM_RESERVE;
        info->protect = s;
        info->region_size = (j - i) * EMU_PAGE;
    } else {
        emu_resv *next = emu_above(page);
        info->allocation_base = NULL;
        info->allocation_protect = 0;
        info->state = MEMWIN_MEM_FREE;
        info->protect = MEMWIN_PAGE_NOACCESS;
        info->region_size = (next ? next->base : EMU_MAX_ADDR + 1) - page;
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
