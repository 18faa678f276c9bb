/* The primitive table over kernel32 (included by prim.c on Windows). */
#include <windows.h>

static void *win_virtual_alloc(void *addr, uintptr_t size, uint32_t type, uint32_t protect)
{
    return VirtualAlloc(addr, (SIZE_T)size, type, protect);
}

static int win_virtual_free(void *addr, uintptr_t size, uint32_t type)
{
    return VirtualFree(addr, (SIZE_T)size, type) ? 1 : 0;
}

static uint32_t win_virtual_query(const void *addr, memwin_region_info *info)
{
    MEMORY_BASIC_INFORMATION mbi;
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

static void win_exit_process(int status)
{
    ExitProcess((UINT)status);
}

void memwin_host_yield(void)
{
    SwitchToThread();
}

const memwin_prim memwin_host_prim = {
    win_virtual_alloc, win_virtual_free, win_virtual_query, win_get_last_error,
    win_set_last_error, win_write_stderr, win_exit_process,
};
