/* memwin-record.dll: records a Go program's OS memory calls for
 * `memwin-go record` (issue 17), in front of any DLL with memwin's exports.
 *
 * The full swap's runtime loads the DLL named by MEMWIN_DLL and calls its
 * sysAllocOS, sysReserveOS, ... .  Pointed at this DLL, it gets the same
 * exports: each forwards to the DLL named by MEMWIN_RECORD_NEXT (an
 * absolute path; memwin.dll or any other implementation) and appends one
 * line to the file named by MEMWIN_RECORD:
 *
 *     TID OP V N R        (hex numbers without 0x; V is 0 for sysAllocOS,
 *                          R is the returned address of sysAllocOS and
 *                          sysReserveOS, else 0)
 *
 * A lock held across the forwarded call and its line makes the file's order
 * an order in which the calls took effect.  Lines are buffered and written
 * when the buffer fills and at process exit (DLL_PROCESS_DETACH).  The
 * other exports the swap needs (needZeroAfterSysUnusedOS and the
 * interposer controls) are forwarded without a line.  memwin-go turns the
 * file into a trace (tools/conform/trace, tests/traces/FORMAT.md).
 *
 * Windows only (mingw-w64); it never calls into Go and allocates nothing. */
#include <stdint.h>
#include <windows.h>

#define EXPORT __declspec(dllexport)

enum {
    F_ALLOC, F_UNUSED, F_USED, F_HUGE, F_NOHUGE, F_COLLAPSE, F_FREE, F_FAULT, F_RESERVE, F_MAP,
    F_NEEDZERO, F_PRIMSET, F_IPRIM, F_IINIT, F_ICATCH, F_IFLAG, F_ITAKE, F_COUNT
};
static const char *const names[F_COUNT] = {
    "sysAllocOS", "sysUnusedOS", "sysUsedOS", "sysHugePageOS", "sysNoHugePageOS",
    "sysHugePageCollapseOS", "sysFreeOS", "sysFaultOS", "sysReserveOS", "sysMapOS",
    "needZeroAfterSysUnusedOS", "memwin_prim_set", "memwin_interpose_prim",
    "memwin_interpose_init", "memwin_interpose_catch_fatal", "memwin_interpose_fatal_flag",
    "memwin_interpose_fatal_take",
};
static FARPROC next[F_COUNT];
static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
static SRWLOCK lock = SRWLOCK_INIT;
static HANDLE out = INVALID_HANDLE_VALUE;
static char buf[1 << 16];
static DWORD used;

static void die(const char *msg)
{
    DWORD w;
    HANDLE e = GetStdHandle(STD_ERROR_HANDLE);
    WriteFile(e, "memwin-record: ", 15, &w, NULL);
    WriteFile(e, msg, (DWORD)lstrlenA(msg), &w, NULL);
    WriteFile(e, "\n", 1, &w, NULL);
    ExitProcess(3);
}

static BOOL CALLBACK init(PINIT_ONCE o, PVOID p, PVOID *c)
{
    WCHAR path[1024];
    (void)o, (void)p, (void)c;
    DWORD n = GetEnvironmentVariableW(L"MEMWIN_RECORD_NEXT", path, 1024);
    if (n == 0 || n >= 1024)
        die("MEMWIN_RECORD_NEXT must name the DLL to forward to (an absolute path)");
    HMODULE h = LoadLibraryExW(path, NULL, LOAD_WITH_ALTERED_SEARCH_PATH);
    if (!h)
        die("cannot load the DLL named by MEMWIN_RECORD_NEXT");
    for (int i = 0; i < F_COUNT; i++)
        if (!(next[i] = GetProcAddress(h, names[i])))
            die("the DLL named by MEMWIN_RECORD_NEXT lacks an export the swap needs");
    n = GetEnvironmentVariableW(L"MEMWIN_RECORD", path, 1024);
    if (n == 0 || n >= 1024)
        die("MEMWIN_RECORD must name the file to record to");
    out = CreateFileW(path, GENERIC_WRITE, FILE_SHARE_READ, NULL, CREATE_ALWAYS,
                      FILE_ATTRIBUTE_NORMAL, NULL);
    if (out == INVALID_HANDLE_VALUE)
        die("cannot create the file named by MEMWIN_RECORD");
    return TRUE;
}

static void ready(void)
{
    InitOnceExecuteOnce(&once, init, NULL, NULL);
}

/* Writes the buffered lines; the lock is held. */
static void flush(void)
{
    DWORD w, off = 0;
    while (off < used && WriteFile(out, buf + off, used - off, &w, NULL) && w > 0)
        off += w;
    used = 0;
}

static void hex(uint64_t v)
{
    char t[16];
    int k = 0;
    do {
        t[k++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    while (k)
        buf[used++] = t[--k];
}

/* Appends one line; the lock is held. */
static void line(int op, uintptr_t v, uintptr_t n, uintptr_t r)
{
    if (used > sizeof buf - 128)
        flush();
    hex(GetCurrentThreadId());
    buf[used++] = ' ';
    for (const char *s = names[op]; *s; s++)
        buf[used++] = *s;
    buf[used++] = ' ';
    hex(v);
    buf[used++] = ' ';
    hex(n);
    buf[used++] = ' ';
    hex(r);
    buf[used++] = '\n';
}

typedef void *(*alloc_fn)(uintptr_t);
typedef void *(*reserve_fn)(void *, uintptr_t);
typedef void (*range_fn)(void *, uintptr_t);

EXPORT void *sysAllocOS(uintptr_t n)
{
    ready();
    AcquireSRWLockExclusive(&lock);
    void *r = ((alloc_fn)(void *)next[F_ALLOC])(n);
    line(F_ALLOC, 0, n, (uintptr_t)r);
    ReleaseSRWLockExclusive(&lock);
    return r;
}

EXPORT void *sysReserveOS(void *v, uintptr_t n)
{
    ready();
    AcquireSRWLockExclusive(&lock);
    void *r = ((reserve_fn)(void *)next[F_RESERVE])(v, n);
    line(F_RESERVE, (uintptr_t)v, n, (uintptr_t)r);
    ReleaseSRWLockExclusive(&lock);
    return r;
}

static void range(int op, void *v, uintptr_t n)
{
    ready();
    AcquireSRWLockExclusive(&lock);
    ((range_fn)(void *)next[op])(v, n);
    line(op, (uintptr_t)v, n, 0);
    ReleaseSRWLockExclusive(&lock);
}

EXPORT void sysUnusedOS(void *v, uintptr_t n) { range(F_UNUSED, v, n); }
EXPORT void sysUsedOS(void *v, uintptr_t n) { range(F_USED, v, n); }
EXPORT void sysHugePageOS(void *v, uintptr_t n) { range(F_HUGE, v, n); }
EXPORT void sysNoHugePageOS(void *v, uintptr_t n) { range(F_NOHUGE, v, n); }
EXPORT void sysHugePageCollapseOS(void *v, uintptr_t n) { range(F_COLLAPSE, v, n); }
EXPORT void sysFreeOS(void *v, uintptr_t n) { range(F_FREE, v, n); }
EXPORT void sysFaultOS(void *v, uintptr_t n) { range(F_FAULT, v, n); }
EXPORT void sysMapOS(void *v, uintptr_t n) { range(F_MAP, v, n); }

/* Forwarded without a line. */
EXPORT _Bool needZeroAfterSysUnusedOS(void)
{
    ready();
    return ((_Bool (*)(void))(void *)next[F_NEEDZERO])();
}
EXPORT const void *memwin_prim_set(const void *t)
{
    ready();
    return ((const void *(*)(const void *))(void *)next[F_PRIMSET])(t);
}
EXPORT const void *memwin_interpose_prim(void)
{
    ready();
    return ((const void *(*)(void))(void *)next[F_IPRIM])();
}
EXPORT uint32_t memwin_interpose_init(void)
{
    ready();
    return ((uint32_t (*)(void))(void *)next[F_IINIT])();
}
EXPORT void memwin_interpose_catch_fatal(int on)
{
    ready();
    ((void (*)(int))(void *)next[F_ICATCH])(on);
}
EXPORT const volatile uint32_t *memwin_interpose_fatal_flag(void)
{
    ready();
    return ((const volatile uint32_t *(*)(void))(void *)next[F_IFLAG])();
}
EXPORT int memwin_interpose_fatal_take(const char **printed, const char **message)
{
    ready();
    return ((int (*)(const char **, const char **))(void *)next[F_ITAKE])(printed, message);
}

BOOL WINAPI DllMain(HINSTANCE h, DWORD why, LPVOID r)
{
    (void)h, (void)r;
    /* At process exit every other thread is gone, possibly one that held
     * the lock, and this one may hold it (an exit inside a forwarded call):
     * flush without it.  A line is never half-written then, since lines are
     * appended after the forwarded call returns. */
    if (why == DLL_PROCESS_DETACH && out != INVALID_HANDLE_VALUE) {
        flush();
        FlushFileBuffers(out);
    }
    return TRUE;
}
