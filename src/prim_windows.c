/* The primitive table over kernel32 (included by prim.c on Windows). */
#include <string.h>
#include <windows.h>

#include "vm.h"

static void *win_virtual_alloc(void *addr, uintptr_t size, uint32_t type, uint32_t protect)
{
    return VirtualAlloc(addr, (SIZE_T)size, type, protect);
}

/* VirtualAlloc2's address requirement (Windows 10 1803+; Wine has it), with
 * memwin's own declarations so older SDK headers build too. */
typedef struct mw_addr_req {
    void *lowest, *highest;
    SIZE_T alignment;
} mw_addr_req;
typedef struct mw_ext_param {
    unsigned long long type; /* low 8 bits: the type; 1 = address requirements */
    union {
        unsigned long long u64;
        void *pointer;
    } value;
} mw_ext_param;
typedef void *(WINAPI *mw_va2_fn)(HANDLE, void *, SIZE_T, ULONG, ULONG, mw_ext_param *, ULONG);

static mw_va2_fn win_va2;
static LONG win_va2_state; /* 0 not looked up, 1 found, 2 missing */

static mw_va2_fn win_va2_get(void)
{
    LONG st = InterlockedCompareExchange(&win_va2_state, 0, 0);
    if (st == 0) {
        /* Looked up at run time: memwin.dll must load on systems without it. */
        HMODULE k = GetModuleHandleW(L"kernelbase.dll");
        FARPROC f = k ? GetProcAddress(k, "VirtualAlloc2") : NULL;
        if (f)
            memcpy(&win_va2, &f, sizeof win_va2);
        InterlockedExchange(&win_va2_state, f ? 1 : 2);
        st = f ? 1 : 2;
    }
    return st == 1 ? win_va2 : NULL;
}

static void *win_virtual_alloc_aligned(uintptr_t size, uintptr_t align, uint32_t type,
                                       uint32_t protect)
{
    mw_addr_req req;
    mw_ext_param param;
    mw_va2_fn va2 = win_va2_get();
    if (!va2) {
        SetLastError(MEMWIN_ERROR_CALL_NOT_IMPLEMENTED);
        return NULL;
    }
    memset(&req, 0, sizeof req);
    memset(&param, 0, sizeof param);
    req.alignment = (SIZE_T)align;
    param.type = 1; /* MemExtendedParameterAddressRequirements */
    param.value.pointer = &req;
    return va2(GetCurrentProcess(), NULL, (SIZE_T)size, type, protect, &param, 1);
}

static int win_virtual_free(void *addr, uintptr_t size, uint32_t type)
{
    return VirtualFree(addr, (SIZE_T)size, type) ? 1 : 0;
}

static uint32_t win_virtual_query(const void *addr, memwin_region_info *info)
{
    MEMORY_BASIC_INFORMATION mbi;
    if (!info)
        return MEMWIN_ERROR_INVALID_PARAMETER;
    if (VirtualQuery(addr, &mbi, sizeof mbi) == 0)
        return (uint32_t)GetLastError();
    info->base = mbi.BaseAddress;
    info->allocation_base = mbi.AllocationBase;
    info->allocation_protect = mbi.AllocationProtect;
    info->state = mbi.State;
    info->protect = mbi.Protect;
    info->region_size = (uintptr_t)mbi.RegionSize;
    return 0;
}

static uint32_t win_get_last_error(void)
{
    return (uint32_t)GetLastError();
}

static void win_set_last_error(uint32_t code)
{
    SetLastError(code);
}

static void win_write_stderr(const char *bytes, size_t len)
{
    HANDLE h = GetStdHandle(STD_ERROR_HANDLE);
    while (len > 0) {
        DWORD chunk = len > 0x40000000u ? 0x40000000u : (DWORD)len, done = 0;
        if (!WriteFile(h, bytes, chunk, &done, NULL) || done == 0)
            return;
        bytes += done;
        len -= done;
    }
}

typedef VOID(WINAPI *fail_fast_fn)(PEXCEPTION_RECORD, PCONTEXT, DWORD);

/* Ends the process; MEMWIN_EXIT_FAIL_FAST ends it the way Go >= 1.21's
 * crash() does on Windows: a fail-fast exception with code 2 that no
 * handler sees (memwin_default_fatal has set WER as Go leaves it).  Under
 * Wine the exit code is then STATUS_FAIL_FAST_EXCEPTION. */
static void win_exit_process(int status)
{
    if (status == MEMWIN_EXIT_FAIL_FAST) {
        fail_fast_fn ff = (fail_fast_fn)(void (*)(void))GetProcAddress(
            GetModuleHandleW(L"kernel32.dll"), "RaiseFailFastException");
        EXCEPTION_RECORD rec;
        memset(&rec, 0, sizeof rec);
        rec.ExceptionCode = 2; /* Go's code when the throw came from no exception */
        if (ff)
            ff(&rec, NULL, FAIL_FAST_GENERATE_EXCEPTION_ADDRESS);
    }
    ExitProcess((UINT)status);
}

void memwin_host_yield(void)
{
    SwitchToThread();
}

const memwin_prim memwin_host_prim = {
    win_virtual_alloc, win_virtual_free, win_virtual_query, win_get_last_error,
    win_set_last_error, win_write_stderr, win_exit_process, win_virtual_alloc_aligned,
};
