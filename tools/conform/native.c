/* C side of the conformance harness; see native.h. */
#include "native.h"

#include <stdio.h>
#include <string.h>
#include <windows.h>

#include "memwin_prim.h"

#include "calls.h"   /* tools/vecfmt: the letters of the calls field */
#include "content.h" /* tools/vecfmt: the contents word of mem lines */

/* ---- per-side recorder, Go-side injector, squatter --------------------- */

#define TRACE_CAP 65536

typedef struct side_state {
    volatile DWORD tid; /* thread being traced, 0: none */
    size_t n;
    char buf[TRACE_CAP];
    /* Go-side injection (the memwin side uses memwin_fault_set). */
    volatile uint32_t f_ops;
    uint64_t f_nth, f_count, f_seen;
    uint32_t f_error;
    /* squatter */
    uintptr_t s_align;
    uint64_t s_left;
    uintptr_t s_held;
    /* reservations made by the code under test, not yet released */
    size_t n_created;
    uintptr_t created[4096];
} side_state;

static side_state sides[2];

static void record(side_state *s, uint32_t cls, int ok)
{
    if (s->tid == 0 || s->tid != GetCurrentThreadId())
        return;
    if (s->n < TRACE_CAP)
        s->buf[s->n] = vf_call_letter(cls, ok);
    s->n++;
}

static int traced(side_state *s)
{
    return s->tid != 0 && s->tid == GetCurrentThreadId();
}

/* Bookkeeping of the reservations the code under test creates, so the
 * cleanup releases those and nothing else (the runtime's own allocations
 * can land in a scenario's address window). */
static void note_alloc(side_state *s, void *addr, uint32_t type, void *r)
{
    if (!r || !traced(s))
        return;
    if (!(type & MEM_RESERVE) && addr != NULL)
        return; /* a commit inside an existing reservation */
    if (s->n_created < sizeof s->created / sizeof s->created[0])
        s->created[s->n_created++] = (uintptr_t)r;
}

static void note_release(side_state *s, void *addr)
{
    size_t i;
    if (!traced(s))
        return;
    for (i = 0; i < s->n_created; i++)
        if (s->created[i] == (uintptr_t)addr) {
            s->created[i] = s->created[--s->n_created];
            return;
        }
}

size_t cf_created_take(int side, uintptr_t *out, size_t cap)
{
    side_state *s = &sides[side];
    size_t n = s->n_created, i;
    for (i = 0; i < n && i < cap; i++)
        out[i] = s->created[i];
    s->n_created = 0;
    return n;
}

/* ---- raw (unhooked) primitives of each side ---------------------------- */

typedef struct mw_exports {
    void *fn[CF_OP_COUNT];
    uint64_t (*mapped_ready)(void);
    const char *(*version)(void);
    const char *(*go_version)(void);
    uint32_t (*query)(const void *, memwin_region_info *);
    const memwin_prim *(*prim_host)(void);
    const memwin_prim *(*prim_current)(void);
    const memwin_prim *(*prim_set)(const memwin_prim *);
    uint32_t (*fault_set)(uint32_t, uint64_t, uint64_t, uint32_t);
    void (*fault_clear)(void);
    memwin_fatal_fn (*set_fatal)(memwin_fatal_fn, void *);
} mw_exports;

static mw_exports mw;

uintptr_t cf_raw_reserve(int side, uintptr_t addr, uintptr_t size)
{
    if (side == CF_SIDE_GO)
        return (uintptr_t)VirtualAlloc((void *)addr, size, MEM_RESERVE, PAGE_READWRITE);
    return (uintptr_t)mw.prim_host()->virtual_alloc((void *)addr, size, MEMWIN_MEM_RESERVE,
                                                    MEMWIN_PAGE_READWRITE);
}

int cf_raw_release(int side, uintptr_t addr)
{
    if (side == CF_SIDE_GO)
        return VirtualFree((void *)addr, 0, MEM_RELEASE) != 0;
    return mw.prim_host()->virtual_free((void *)addr, 0, MEMWIN_MEM_RELEASE) != 0;
}

/* Called after a successful release by the code under test. */
static void squat_after_release(int side, uintptr_t base)
{
    side_state *s = &sides[side];
    DWORD err = GetLastError();
    if (s->s_held) {
        cf_raw_release(side, s->s_held);
        s->s_held = 0;
    } else if (s->s_left > 0) {
        uintptr_t a = (base + s->s_align - 1) & ~(s->s_align - 1);
        s->s_left--;
        s->s_held = cf_raw_reserve(side, a, 65536);
    }
    SetLastError(err);
}

void cf_squat_set(int side, uintptr_t align, uint64_t count)
{
    cf_squat_clear(side);
    sides[side].s_align = align ? align : 65536;
    sides[side].s_left = count;
}

void cf_squat_clear(int side)
{
    side_state *s = &sides[side];
    s->s_left = 0;
    if (s->s_held)
        cf_raw_release(side, s->s_held);
    s->s_held = 0;
}

/* ---- Go side: hooks on the runtime's procedure variables ---------------- */

typedef LPVOID(WINAPI *va_fn)(LPVOID, SIZE_T, DWORD, DWORD);
typedef BOOL(WINAPI *vf_fn)(LPVOID, SIZE_T, DWORD);

extern va_fn rt_VirtualAlloc __asm__("runtime._VirtualAlloc");
extern vf_fn rt_VirtualFree __asm__("runtime._VirtualFree");
extern char rt_gcController __asm__("runtime.gcController");

static va_fn orig_va;
static vf_fn orig_vf;

/* 1 if this call must fail (Go side), counting it like memwin_fault_set. */
static int go_inject(side_state *s, uint32_t cls)
{
    uint64_t i;
    if ((s->f_ops & cls) == 0 || !traced(s))
        return 0;
    i = ++s->f_seen;
    if (i < s->f_nth || (s->f_count != 0 && i - s->f_nth >= s->f_count))
        return 0;
    SetLastError(s->f_error);
    return 1;
}

static LPVOID WINAPI hook_va(LPVOID addr, SIZE_T size, DWORD type, DWORD protect)
{
    side_state *s = &sides[CF_SIDE_GO];
    uint32_t cls = vf_alloc_class(type);
    LPVOID r;
    if (go_inject(s, cls)) {
        record(s, cls, 0);
        return NULL;
    }
    r = orig_va(addr, size, type, protect);
    record(s, cls, r != NULL);
    note_alloc(s, addr, type, r);
    return r;
}

static BOOL WINAPI hook_vf(LPVOID addr, SIZE_T size, DWORD type)
{
    side_state *s = &sides[CF_SIDE_GO];
    uint32_t cls = vf_free_class(type);
    BOOL r;
    if (go_inject(s, cls)) {
        record(s, cls, 0);
        return FALSE;
    }
    r = orig_vf(addr, size, type);
    record(s, cls, r != 0);
    if (r && cls == VF_CALL_RELEASE && traced(s)) {
        note_release(s, addr);
        squat_after_release(CF_SIDE_GO, (uintptr_t)addr);
    }
    return r;
}

int cf_hook_install(void)
{
    if (orig_va)
        return 0;
    if (!rt_VirtualAlloc || !rt_VirtualFree)
        return 1;
    orig_va = rt_VirtualAlloc;
    orig_vf = rt_VirtualFree;
    rt_VirtualAlloc = hook_va;
    rt_VirtualFree = hook_vf;
    return 0;
}

uintptr_t cf_gccontroller_addr(void)
{
    return (uintptr_t)&rt_gcController;
}

uint64_t cf_load64(uintptr_t addr)
{
    return __atomic_load_n((uint64_t *)addr, __ATOMIC_SEQ_CST);
}

uint64_t cf_peek64(uintptr_t addr)
{
    uint64_t v;
    memcpy(&v, (const void *)addr, sizeof v);
    return v;
}

void cf_add64(uintptr_t addr, int64_t delta)
{
    __atomic_fetch_add((uint64_t *)addr, (uint64_t)delta, __ATOMIC_SEQ_CST);
}

/* ---- memwin side ------------------------------------------------------- */

static const char *const op_names[CF_OP_COUNT] = {
    [CF_OP_sysAllocOS] = "sysAllocOS",
    [CF_OP_sysUnusedOS] = "sysUnusedOS",
    [CF_OP_sysUsedOS] = "sysUsedOS",
    [CF_OP_sysHugePageOS] = "sysHugePageOS",
    [CF_OP_sysNoHugePageOS] = "sysNoHugePageOS",
    [CF_OP_sysHugePageCollapseOS] = "sysHugePageCollapseOS",
    [CF_OP_sysFreeOS] = "sysFreeOS",
    [CF_OP_sysFaultOS] = "sysFaultOS",
    [CF_OP_sysReserveOS] = "sysReserveOS",
    [CF_OP_sysMapOS] = "sysMapOS",
    [CF_OP_needZeroAfterSysUnusedOS] = "needZeroAfterSysUnusedOS",
    [CF_OP_sysAlloc] = "sysAlloc",
    [CF_OP_sysUnused] = "sysUnused",
    [CF_OP_sysUsed] = "sysUsed",
    [CF_OP_sysHugePage] = "sysHugePage",
    [CF_OP_sysNoHugePage] = "sysNoHugePage",
    [CF_OP_sysHugePageCollapse] = "sysHugePageCollapse",
    [CF_OP_sysFree] = "sysFree",
    [CF_OP_sysFault] = "sysFault",
    [CF_OP_sysReserve] = "sysReserve",
    [CF_OP_sysMap] = "sysMap",
    [CF_OP_sysUnreserve] = "sysUnreserve",
    [CF_OP_sysReserveAligned] = "sysReserveAligned",
    [CF_OP_needZeroAfterSysUnused] = "needZeroAfterSysUnused",
};

static uint64_t mw_stat __attribute__((aligned(8)));
static const memwin_prim *mt_below;

static void *mt_virtual_alloc(void *addr, uintptr_t size, uint32_t type, uint32_t protect)
{
    side_state *s = &sides[CF_SIDE_MEMWIN];
    void *r = mt_below->virtual_alloc(addr, size, type, protect);
    record(s, vf_alloc_class(type), r != NULL);
    note_alloc(s, addr, type, r);
    return r;
}

static int mt_virtual_free(void *addr, uintptr_t size, uint32_t type)
{
    side_state *s = &sides[CF_SIDE_MEMWIN];
    uint32_t cls = vf_free_class(type);
    int r = mt_below->virtual_free(addr, size, type);
    record(s, cls, r != 0);
    if (r && cls == VF_CALL_RELEASE && traced(s)) {
        note_release(s, addr);
        squat_after_release(CF_SIDE_MEMWIN, (uintptr_t)addr);
    }
    return r;
}

/* The host's table with the two VM calls traced; cf_mw_trace_install fills
 * the other entries from the host's before installing it. */
static memwin_prim trace_table = {.virtual_alloc = mt_virtual_alloc,
                                  .virtual_free = mt_virtual_free};

int cf_mw_load(const uint16_t *path, char *err, size_t cap)
{
    HMODULE h = LoadLibraryW((const wchar_t *)path);
    int i;
    if (!h) {
        snprintf(err, cap, "LoadLibraryW failed with error %lu", GetLastError());
        return 1;
    }
    for (i = 1; i < CF_OP_COUNT; i++)
        mw.fn[i] = (void *)GetProcAddress(h, op_names[i]);
#define GET(field, name)                                                       \
    do {                                                                       \
        FARPROC p_ = GetProcAddress(h, name);                                  \
        memcpy(&mw.field, &p_, sizeof p_);                                     \
        if (!p_) {                                                             \
            snprintf(err, cap, "memwin.dll does not export %s", name);         \
            return 1;                                                          \
        }                                                                      \
    } while (0)
    GET(mapped_ready, "memwin_mapped_ready");
    GET(version, "memwin_version");
    GET(go_version, "memwin_go_version");
    GET(query, "memwin_query");
    GET(prim_host, "memwin_prim_host");
    GET(prim_current, "memwin_prim_current");
    GET(prim_set, "memwin_prim_set");
    GET(fault_set, "memwin_fault_set");
    GET(fault_clear, "memwin_fault_clear");
    GET(set_fatal, "memwin_set_fatal_handler");
#undef GET
    return 0;
}

int cf_mw_has(int op)
{
    return op > 0 && op < CF_OP_COUNT && mw.fn[op] != NULL;
}

void cf_mw_trace_install(void)
{
    if (mt_below)
        return;
    mt_below = mw.prim_host();
    memwin_prim_forward(&trace_table, mt_below);
    /* Still without the one-call aligned reservation: memwin reserves
     * aligned with Go's sequence under the trace. */
    trace_table.virtual_alloc_aligned = NULL;
    mw.prim_set(&trace_table);
}

typedef void *(*fn_p_n)(uintptr_t);
typedef void *(*fn_p_vn)(void *, uintptr_t);
typedef void (*fn_v_vn)(void *, uintptr_t);
typedef _Bool (*fn_b)(void);
typedef void *(*fn_p_ns)(uintptr_t, uint64_t *);
typedef void (*fn_v_vnn)(void *, uintptr_t, uintptr_t);
typedef void (*fn_v_vns)(void *, uintptr_t, uint64_t *);
typedef void *(*fn_ra)(void *, uintptr_t, uintptr_t, uintptr_t *);

uintptr_t cf_mw_call(int op, uintptr_t a, uintptr_t b, uintptr_t c, uintptr_t *ret2)
{
    void *f = mw.fn[op];
    /* sysReserveAligned must write it on every path (tools/vecfmt kOutSentinel). */
    *ret2 = (uintptr_t)0xA5A5A5A5A5A5A5A5ull;
    switch (op) {
    case CF_OP_sysAllocOS:
        return (uintptr_t)((fn_p_n)f)(a);
    case CF_OP_sysReserveOS:
    case CF_OP_sysReserve:
        return (uintptr_t)((fn_p_vn)f)((void *)a, b);
    case CF_OP_needZeroAfterSysUnusedOS:
    case CF_OP_needZeroAfterSysUnused:
        return ((fn_b)f)() ? 1 : 0;
    case CF_OP_sysAlloc:
        return (uintptr_t)((fn_p_ns)f)(a, &mw_stat);
    case CF_OP_sysUsed:
        ((fn_v_vnn)f)((void *)a, b, c);
        return 0;
    case CF_OP_sysFree:
    case CF_OP_sysMap:
        ((fn_v_vns)f)((void *)a, b, &mw_stat);
        return 0;
    case CF_OP_sysReserveAligned:
        return (uintptr_t)((fn_ra)f)((void *)a, b, c, ret2);
    default: /* (v, n) -> void */
        ((fn_v_vn)f)((void *)a, b);
        return 0;
    }
}

uint64_t cf_mw_stat_get(void)
{
    return __atomic_load_n(&mw_stat, __ATOMIC_SEQ_CST);
}

void cf_mw_stat_set(uint64_t v)
{
    __atomic_store_n(&mw_stat, v, __ATOMIC_SEQ_CST);
}

uint64_t cf_mw_mapped_ready(void)
{
    return mw.mapped_ready();
}

const char *cf_mw_version(void)
{
    return mw.version();
}

const char *cf_mw_go_version(void)
{
    return mw.go_version();
}

/* ---- both sides -------------------------------------------------------- */

void cf_trace_begin(int side)
{
    sides[side].n = 0;
    sides[side].tid = GetCurrentThreadId();
}

size_t cf_trace_end(int side, char *buf, size_t cap)
{
    side_state *s = &sides[side];
    size_t n = s->n, k = n < TRACE_CAP ? n : TRACE_CAP;
    s->tid = 0;
    if (cap == 0)
        return n;
    if (k > cap - 1)
        k = cap - 1;
    memcpy(buf, s->buf, k);
    buf[k] = 0;
    return n;
}

uint32_t cf_fault_set(int side, uint32_t ops, uint64_t nth, uint64_t count, uint32_t error)
{
    if (side == CF_SIDE_GO) {
        side_state *s = &sides[side];
        if (ops == 0 || nth == 0)
            return 87;
        s->f_ops = 0;
        s->f_nth = nth;
        s->f_count = count;
        s->f_error = error;
        s->f_seen = 0;
        s->f_ops = ops;
        return 0;
    } else {
        uint32_t r;
        /* The injector goes between the tracing table and the host's, so the
         * trace sees injected failures as the Go side's hook does. */
        cf_fault_clear(side);
        mw.prim_set(mw.prim_host());
        r = mw.fault_set(ops, nth, count, error);
        mt_below = mw.prim_current();
        mw.prim_set(&trace_table);
        return r;
    }
}

void cf_fault_clear(int side)
{
    if (side == CF_SIDE_GO) {
        sides[side].f_ops = 0;
        return;
    }
    if (mt_below != mw.prim_host()) {
        mw.prim_set(mt_below);
        mw.fault_clear();
    }
    mt_below = mw.prim_host();
    mw.prim_set(&trace_table);
}

void cf_query(int side, uintptr_t addr, cf_info *out)
{
    memset(out, 0, sizeof *out);
    if (side == CF_SIDE_GO) {
        MEMORY_BASIC_INFORMATION mbi;
        if (VirtualQuery((void *)addr, &mbi, sizeof mbi) == 0) {
            out->err = GetLastError();
            return;
        }
        out->base = (uintptr_t)mbi.BaseAddress;
        out->alloc_base = (uintptr_t)mbi.AllocationBase;
        out->alloc_protect = mbi.AllocationProtect;
        out->state = mbi.State;
        out->protect = mbi.Protect;
        out->size = mbi.RegionSize;
    } else {
        memwin_region_info info;
        uint32_t e = mw.query((const void *)addr, &info);
        if (e) {
            out->err = e;
            return;
        }
        out->base = (uintptr_t)info.base;
        out->alloc_base = (uintptr_t)info.allocation_base;
        out->alloc_protect = info.allocation_protect;
        out->state = info.state;
        out->protect = info.protect;
        out->size = info.region_size;
    }
}

int cf_probe(uintptr_t addr)
{
    /* IsBadReadPtr/IsBadWritePtr touch the byte under an exception handler
     * (IsBadWritePtr writes it back unchanged).  ReadProcessMemory cannot be
     * used: Wine serves it through /proc/<pid>/mem, which ignores page
     * protection. */
    /* A page the system calls inaccessible is not touched: touching a
     * guard page raises STATUS_GUARD_PAGE_VIOLATION, which IsBadReadPtr
     * does not catch under Wine: a CI run's go1.21-386 harness died so in
     * cf_probe (exception 0x80000001 at 0xc0a1000, observing a scenario's
     * region; where the guard page came from is not known, and the same
     * harness passed when run again).  Such a page now reads inaccessible. */
    MEMORY_BASIC_INFORMATION mbi;
    int r = 0;
    if (VirtualQuery((const void *)addr, &mbi, sizeof mbi) == 0 || mbi.State != MEM_COMMIT ||
        (mbi.Protect & (PAGE_GUARD | PAGE_NOACCESS)) != 0)
        return 0;
    if (!IsBadReadPtr((const void *)addr, 1))
        r |= 1;
    if (!IsBadWritePtr((void *)addr, 1))
        r |= 2;
    return r;
}

int cf_content_class(uintptr_t addr, uintptr_t n)
{
    return vf_content_class(addr, n);
}

void cf_fill(uintptr_t addr, uintptr_t n, int byte)
{
    memset((void *)addr, byte, n);
}

/* ---- recording fatal handler (parent process, memwin side) ------------- */

static char fatal_text[4096];
static volatile int fatal_hit;

static void record_fatal(const char *printed, const char *message, void *ctx)
{
    (void)ctx;
    snprintf(fatal_text, sizeof fatal_text, "%sfatal error: %s\n", printed ? printed : "",
             message ? message : "");
    fatal_hit = 1;
}

int cf_mw_catch_fatal(int on)
{
    mw.set_fatal(on ? record_fatal : NULL, NULL);
    return 0;
}

int cf_mw_fatal_take(char *buf, size_t cap)
{
    if (!fatal_hit)
        return 0;
    snprintf(buf, cap, "%s", fatal_text);
    fatal_hit = 0;
    return 1;
}

const char *cf_wine_version(void)
{
    typedef const char *(CDECL * fn)(void);
    HMODULE h = GetModuleHandleA("ntdll.dll");
    fn f = h ? (fn)(void *)GetProcAddress(h, "wine_get_version") : NULL;
    return f ? f() : "";
}
