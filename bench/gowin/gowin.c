/* The C half of bench/gowin (see gowin.h). */
#include "gowin.h"

#include <stdio.h>
#include <windows.h>

#include "memwin_prim.h" /* the primitive table's layout, for counting */

/* ---- memwin.dll, by absolute path ---------------------------------------- */

static void *(*mw_sysReserve)(void *, uintptr_t);
static void (*mw_sysMap)(void *, uintptr_t, uint64_t *);
static void (*mw_sysUsed)(void *, uintptr_t, uintptr_t);
static void (*mw_sysUnused)(void *, uintptr_t);
static void (*mw_sysFault)(void *, uintptr_t);
static void (*mw_sysFree)(void *, uintptr_t, uint64_t *);
static void (*mw_sysFreeOS)(void *, uintptr_t);
static void (*mw_sysUsedOS)(void *, uintptr_t);
static void (*mw_sysUnusedOS)(void *, uintptr_t);
static void *(*mw_sysReserveAligned)(void *, uintptr_t, uintptr_t, uintptr_t *);
static const char *(*mw_version)(void);
static const memwin_prim *(*mw_prim_host)(void);
static const memwin_prim *(*mw_prim_set)(const memwin_prim *);

static uint64_t stat; /* the sysMemStat memwin's sysMap / sysFree update */

int gw_load(const uint16_t *path, char *err, int errlen)
{
    HMODULE h = LoadLibraryExW((LPCWSTR)path, NULL, LOAD_WITH_ALTERED_SEARCH_PATH);
    if (!h) {
        snprintf(err, (size_t)errlen, "LoadLibraryExW failed, error %lu", GetLastError());
        return 1;
    }
#define GET(var, name)                                                       \
    do {                                                                     \
        FARPROC f = GetProcAddress(h, name);                                 \
        if (!f) {                                                            \
            snprintf(err, (size_t)errlen, "memwin.dll lacks %s", name);      \
            return 1;                                                        \
        }                                                                    \
        memcpy(&var, &f, sizeof var);                                        \
    } while (0)
    GET(mw_sysReserve, "sysReserve");
    GET(mw_sysMap, "sysMap");
    GET(mw_sysUsed, "sysUsed");
    GET(mw_sysUnused, "sysUnused");
    GET(mw_sysFault, "sysFault");
    GET(mw_sysFree, "sysFree");
    GET(mw_sysFreeOS, "sysFreeOS");
    GET(mw_sysUsedOS, "sysUsedOS");
    GET(mw_sysUnusedOS, "sysUnusedOS");
    GET(mw_sysReserveAligned, "sysReserveAligned");
    GET(mw_version, "memwin_version");
    GET(mw_prim_host, "memwin_prim_host");
    GET(mw_prim_set, "memwin_prim_set");
#undef GET
    return 0;
}

const char *gw_memwin_version(void)
{
    return mw_version();
}

uint64_t gw_now(void)
{
    static LARGE_INTEGER f;
    LARGE_INTEGER c;
    uint64_t s, r;
    if (!f.QuadPart)
        QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    s = (uint64_t)c.QuadPart / (uint64_t)f.QuadPart;
    r = (uint64_t)c.QuadPart % (uint64_t)f.QuadPart;
    return s * 1000000000ull + r * 1000000000ull / (uint64_t)f.QuadPart;
}

/* ---- the transitions, per side ------------------------------------------- */

static void die(const char *what)
{
    fprintf(stderr, "gowin: %s failed (error %lu)\n", what, GetLastError());
    ExitProcess(1);
}

static void *s_reserve(int side, uintptr_t n)
{
    void *p = side == GW_MEMWIN ? mw_sysReserve(NULL, n) : VirtualAlloc(NULL, n, MEM_RESERVE, PAGE_READWRITE);
    if (!p)
        die("reserve");
    return p;
}
static void s_map(int side, void *v, uintptr_t n)
{
    if (side == GW_MEMWIN)
        mw_sysMap(v, n, &stat);
}
static void s_commit(int side, void *v, uintptr_t n)
{
    if (side == GW_MEMWIN)
        mw_sysUsed(v, n, n);
    else if (VirtualAlloc(v, n, MEM_COMMIT, PAGE_READWRITE) != v)
        die("VirtualAlloc commit");
}
static void s_decommit(int side, void *v, uintptr_t n)
{
    if (side == GW_MEMWIN)
        mw_sysUnused(v, n);
    else if (!VirtualFree(v, n, MEM_DECOMMIT))
        die("VirtualFree decommit");
}
static void s_fault(int side, void *v, uintptr_t n)
{
    if (side == GW_MEMWIN)
        mw_sysFault(v, n);
    else if (!VirtualFree(v, n, MEM_DECOMMIT))
        die("VirtualFree decommit");
}
static void s_free(int side, void *v, uintptr_t n)
{
    if (side == GW_MEMWIN)
        mw_sysFree(v, n, &stat);
    else if (!VirtualFree(v, 0, MEM_RELEASE))
        die("VirtualFree release");
}
static void s_drop(int side, void *v, uintptr_t n)
{
    if (side == GW_MEMWIN)
        mw_sysFreeOS(v, n);
    else if (!VirtualFree(v, 0, MEM_RELEASE))
        die("VirtualFree release");
}

static void *regs[64];

static void setup(int side, int op, uintptr_t n, int k)
{
    int i;
    if (op == GW_RESERVE || op == GW_HANDSHAKE)
        return;
    for (i = 0; i < k; i++) {
        regs[i] = s_reserve(side, n);
        if (op != GW_MAP)
            s_map(side, regs[i], n);
        if (op == GW_DECOMMIT || op == GW_FAULT || op == GW_RELEASE || op == GW_CYCLE)
            s_commit(side, regs[i], n);
    }
}

static void run(int side, int op, uintptr_t n, int k)
{
    int i;
    for (i = 0; i < k; i++)
        switch (op) {
        case GW_RESERVE: regs[i] = s_reserve(side, n); break;
        case GW_MAP: s_map(side, regs[i], n); break;
        case GW_COMMIT: s_commit(side, regs[i], n); break;
        case GW_DECOMMIT: s_decommit(side, regs[i], n); break;
        case GW_FAULT: s_fault(side, regs[i], n); break;
        case GW_RELEASE: s_free(side, regs[i], n); break;
        case GW_CYCLE: s_decommit(side, regs[0], n); s_commit(side, regs[0], n); break;
        case GW_HANDSHAKE: {
            void *p = s_reserve(side, n);
            s_map(side, p, n);
            s_commit(side, p, n);
            s_free(side, p, n);
            break;
        }
        }
}

static void teardown(int side, int op, uintptr_t n, int k)
{
    int i;
    for (i = 0; i < k; i++)
        switch (op) {
        case GW_RESERVE:
        case GW_MAP: s_drop(side, regs[i], n); break;
        case GW_COMMIT: s_free(side, regs[i], n); break;
        case GW_DECOMMIT:
        case GW_FAULT: s_commit(side, regs[i], n); s_free(side, regs[i], n); break;
        case GW_CYCLE: s_free(side, regs[i], n); break;
        default: break;
        }
}

uint64_t gw_batch(int side, int op, uintptr_t n, int k)
{
    uint64_t t0, t1;
    int nset = op == GW_CYCLE ? 1 : k;
    setup(side, op, n, nset);
    t0 = gw_now();
    run(side, op, n, k);
    t1 = gw_now();
    teardown(side, op, n, nset);
    return t1 - t0;
}

/* ---- counting memwin's primitive calls ----------------------------------- */

static const memwin_prim *below;
static volatile LONG64 mw_calls;
static void *c_va(void *a, uintptr_t n, uint32_t t, uint32_t p)
{
    InterlockedIncrement64(&mw_calls);
    return below->virtual_alloc(a, n, t, p);
}
static int c_vf(void *a, uintptr_t n, uint32_t t)
{
    InterlockedIncrement64(&mw_calls);
    return below->virtual_free(a, n, t);
}
/* The host's table with the two VM calls counted; gw_memwin_counting fills
 * the other entries from the host's the first time. */
static memwin_prim counting = {.virtual_alloc = c_va, .virtual_free = c_vf};

void gw_memwin_counting(int on)
{
    if (on && !below) {
        below = mw_prim_host();
        memwin_prim_forward(&counting, below);
        /* Still without the one-call aligned reservation: every reservation
         * goes through virtual_alloc and is counted. */
        counting.virtual_alloc_aligned = NULL;
    }
    mw_prim_set(on ? &counting : NULL);
}

uint64_t gw_memwin_calls(void)
{
    return (uint64_t)mw_calls;
}

double gw_count(int op, uintptr_t n, int k)
{
    uint64_t c0;
    int nset = op == GW_CYCLE ? 1 : k;
    setup(GW_MEMWIN, op, n, nset);
    gw_memwin_counting(1);
    c0 = gw_memwin_calls();
    run(GW_MEMWIN, op, n, k);
    c0 = gw_memwin_calls() - c0;
    gw_memwin_counting(0);
    teardown(GW_MEMWIN, op, n, nset);
    return (double)c0 / k;
}

/* ---- fallback loops over adjacent reservations --------------------------- */

void *gw_adjacent(int k, uintptr_t piece, int commit)
{
    int attempt, i;
    for (attempt = 0; attempt < 100; attempt++) {
        char *base = (char *)VirtualAlloc(NULL, (SIZE_T)k * piece, MEM_RESERVE, PAGE_READWRITE);
        if (!base)
            return NULL;
        VirtualFree(base, 0, MEM_RELEASE);
        for (i = 0; i < k; i++) {
            char *want = base + (SIZE_T)i * piece;
            char *got = (char *)VirtualAlloc(want, piece, MEM_RESERVE, PAGE_READWRITE);
            if (got != want) {
                if (got)
                    VirtualFree(got, 0, MEM_RELEASE);
                while (i-- > 0)
                    VirtualFree(base + (SIZE_T)i * piece, 0, MEM_RELEASE);
                break;
            }
            if (commit && !VirtualAlloc(want, piece, MEM_COMMIT, PAGE_READWRITE))
                die("commit piece");
        }
        if (i == k)
            return base;
    }
    return NULL;
}

void gw_adjacent_free(void *base, int k, uintptr_t piece)
{
    int i;
    for (i = 0; i < k; i++)
        VirtualFree((char *)base + (SIZE_T)i * piece, 0, MEM_RELEASE);
}

uint64_t gw_memwin_os(int used, void *base, uintptr_t len)
{
    uint64_t t0 = gw_now();
    if (used)
        mw_sysUsedOS(base, len);
    else
        mw_sysUnusedOS(base, len);
    return gw_now() - t0;
}

uint64_t gw_raw_pieces(int used, void *base, int k, uintptr_t piece)
{
    uint64_t t0 = gw_now();
    int i;
    for (i = 0; i < k; i++) {
        char *p = (char *)base + (SIZE_T)i * piece;
        if (used ? !VirtualAlloc(p, piece, MEM_COMMIT, PAGE_READWRITE) : !VirtualFree(p, piece, MEM_DECOMMIT))
            die("piece");
    }
    return gw_now() - t0;
}

uint64_t gw_memwin_aligned(uintptr_t size, uintptr_t align, int iters)
{
    uint64_t t0 = gw_now();
    int i;
    for (i = 0; i < iters; i++) {
        uintptr_t reserved = 0;
        void *p = mw_sysReserveAligned(NULL, size, align, &reserved);
        if (!p)
            die("sysReserveAligned");
        mw_sysFreeOS(p, reserved);
    }
    return gw_now() - t0;
}

/* ---- hooks on the runtime's VirtualAlloc / VirtualFree slots ------------- */

typedef LPVOID(WINAPI *va_fn)(LPVOID, SIZE_T, DWORD, DWORD);
typedef BOOL(WINAPI *vf_fn)(LPVOID, SIZE_T, DWORD);
static va_fn real_va;
static vf_fn real_vf;
static volatile DWORD watched;
static volatile LONG64 hook_calls;

/* No Win32 call here that could change the thread's last error before the
 * runtime reads it (GetCurrentThreadId reads the TEB only). */
static LPVOID WINAPI hook_va(LPVOID a, SIZE_T n, DWORD t, DWORD p)
{
    if (GetCurrentThreadId() == watched)
        InterlockedIncrement64(&hook_calls);
    return real_va(a, n, t, p);
}
static BOOL WINAPI hook_vf(LPVOID a, SIZE_T n, DWORD t)
{
    if (GetCurrentThreadId() == watched)
        InterlockedIncrement64(&hook_calls);
    return real_vf(a, n, t);
}

uintptr_t gw_hook_va(void) { return (uintptr_t)hook_va; }
uintptr_t gw_hook_vf(void) { return (uintptr_t)hook_vf; }
void gw_hook_set_real(uintptr_t va, uintptr_t vf)
{
    real_va = (va_fn)va;
    real_vf = (vf_fn)vf;
}
void gw_hook_watch(void) { watched = GetCurrentThreadId(); }
uint64_t gw_hook_calls(void) { return (uint64_t)hook_calls; }
