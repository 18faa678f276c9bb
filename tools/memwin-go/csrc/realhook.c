/* A plain C hook on the Go runtime's own VirtualAlloc / VirtualFree, with
 * no memwin involved: the reference the fault-injection check compares
 * memwin against.  Linked into a Go program as an object file (like the
 * primitive swap's), its constructor replaces runtime._VirtualAlloc and
 * runtime._VirtualFree before the runtime starts.
 *
 * It applies the same commit policy as memwin's interposers, read from the
 * same variables, but computes committed bytes independently, with
 * VirtualQuery:
 *   MEMWIN_COMMIT_BUDGET=b    fail (1455) commits that would take the bytes
 *                             committed through the hook above b
 *   MEMWIN_FAIL_COMMIT_NTH=n  fail commits number n, n+1, ... (1455)
 *   MEMWIN_FAIL_COMMIT_COUNT=k only k of them
 *   MEMWIN_RESERVE_BUDGET=b   fail (8) reservations that would take the
 *                             address space reserved through the hook above b
 * REALHOOK_REPORT=1 prints a line on stderr when it is installed. */
#include <windows.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef LPVOID(WINAPI *va_fn)(LPVOID, SIZE_T, DWORD, DWORD);
typedef BOOL(WINAPI *vf_fn)(LPVOID, SIZE_T, DWORD);

extern va_fn realhook_rt_va __asm__("runtime._VirtualAlloc");
extern vf_fn realhook_rt_vf __asm__("runtime._VirtualFree");

static va_fn orig_va;
static vf_fn orig_vf;
static uint64_t budget, nth, count, seq, committed, rbudget, reserved, report;
static volatile LONG lock_word;

static void lock(void)
{
    while (InterlockedCompareExchange(&lock_word, 1, 0) != 0)
        SwitchToThread();
}

static void unlock(void)
{
    InterlockedExchange(&lock_word, 0);
}

static uint64_t env_size(const char *name)
{
    char buf[64], *end;
    unsigned long long v;
    DWORD n = GetEnvironmentVariableA(name, buf, sizeof buf);
    if (n == 0 || n >= sizeof buf)
        return 0;
    v = strtoull(buf, &end, 0);
    switch (*end) {
    case 'k': case 'K': v <<= 10; break;
    case 'm': case 'M': v <<= 20; break;
    case 'g': case 'G': v <<= 30; break;
    }
    return v;
}

/* Committed bytes in the pages touching [a, a+n). */
static uint64_t committed_in(uintptr_t a, uintptr_t n)
{
    uintptr_t p = a & ~(uintptr_t)4095, end = (a + n + 4095) & ~(uintptr_t)4095;
    uint64_t c = 0;
    while (p < end) {
        MEMORY_BASIC_INFORMATION m;
        uintptr_t rend;
        if (VirtualQuery((void *)p, &m, sizeof m) == 0)
            break;
        rend = (uintptr_t)m.BaseAddress + m.RegionSize;
        if (rend > end)
            rend = end;
        if (m.State == MEM_COMMIT)
            c += rend - p;
        p = rend;
    }
    return c;
}

/* Committed bytes and size of the whole reservation based at base. */
static uint64_t committed_in_reservation(uintptr_t base, uint64_t *size)
{
    uintptr_t p = base;
    uint64_t c = 0;
    *size = 0;
    for (;;) {
        MEMORY_BASIC_INFORMATION m;
        if (VirtualQuery((void *)p, &m, sizeof m) == 0 || (uintptr_t)m.AllocationBase != base ||
            m.State == MEM_FREE)
            break;
        if (m.State == MEM_COMMIT)
            c += m.RegionSize;
        *size += m.RegionSize;
        p = (uintptr_t)m.BaseAddress + m.RegionSize;
    }
    return c;
}

static LPVOID WINAPI hook_va(LPVOID addr, SIZE_T size, DWORD type, DWORD protect)
{
    uint64_t add = 0;
    DWORD err;
    LPVOID r;
    int commits = (type & MEM_COMMIT) != 0, fresh = (type & MEM_RESERVE) || addr == NULL;
    uint64_t rsize = ((uint64_t)size + 4095) & ~(uint64_t)4095;
    if (!commits && !(type & MEM_RESERVE))
        return orig_va(addr, size, type, protect);
    lock();
    if (fresh && rbudget && reserved + rsize > rbudget) {
        if (report) {
            char line[160];
            DWORD done;
            int n = snprintf(line, sizeof line, "realhook: reservation of %llu bytes refused, %llu reserved\n",
                             (unsigned long long)rsize, (unsigned long long)reserved);
            WriteFile(GetStdHandle(STD_ERROR_HANDLE), line, (DWORD)n, &done, NULL);
        }
        unlock();
        SetLastError(8);
        return NULL;
    }
    if (!commits) {
        r = orig_va(addr, size, type, protect);
        err = GetLastError();
        if (r)
            reserved += rsize;
        unlock();
        SetLastError(err);
        return r;
    }
    seq++;
    if (nth && seq >= nth && (count == 0 || seq - nth < count)) {
        unlock();
        SetLastError(1455);
        return NULL;
    }
    add = ((uint64_t)size + 4095) & ~(uint64_t)4095;
    if (!fresh)
        add -= committed_in((uintptr_t)addr, size);
    if (budget && committed + add > budget) {
        unlock();
        SetLastError(1455);
        return NULL;
    }
    r = orig_va(addr, size, type, protect);
    err = GetLastError();
    if (r) {
        committed += add;
        if (fresh)
            reserved += rsize;
    }
    unlock();
    SetLastError(err);
    return r;
}

static BOOL WINAPI hook_vf(LPVOID addr, SIZE_T size, DWORD type)
{
    uint64_t before, rsize = 0;
    DWORD err;
    BOOL r;
    lock();
    before = type == MEM_RELEASE ? committed_in_reservation((uintptr_t)addr, &rsize)
                                 : committed_in((uintptr_t)addr, size);
    r = orig_vf(addr, size, type);
    err = GetLastError();
    if (r) {
        committed = committed > before ? committed - before : 0;
        reserved = reserved > rsize ? reserved - rsize : 0;
    }
    unlock();
    SetLastError(err);
    return r;
}

__attribute__((constructor)) static void realhook_install(void)
{
    if (orig_va)
        return;
    budget = env_size("MEMWIN_COMMIT_BUDGET");
    nth = env_size("MEMWIN_FAIL_COMMIT_NTH");
    count = env_size("MEMWIN_FAIL_COMMIT_COUNT");
    rbudget = env_size("MEMWIN_RESERVE_BUDGET");
    orig_va = realhook_rt_va;
    orig_vf = realhook_rt_vf;
    realhook_rt_va = hook_va;
    realhook_rt_vf = hook_vf;
    report = env_size("REALHOOK_REPORT");
    if (report) {
        char line[160];
        DWORD done;
        int n = snprintf(line, sizeof line, "realhook: installed (budget %llu, nth %llu)\n",
                         (unsigned long long)budget, (unsigned long long)nth);
        WriteFile(GetStdHandle(STD_ERROR_HANDLE), line, (DWORD)n, &done, NULL);
    }
}
