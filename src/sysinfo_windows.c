/* Memory status and large pages on Windows (included by sysinfo.c). */
#include <windows.h>
#include <psapi.h>

uint32_t memwin_memory_status_get(memwin_memory_status *st)
{
    MEMORYSTATUSEX ms;
    PROCESS_MEMORY_COUNTERS_EX pmc;
    ms.dwLength = sizeof ms;
    if (!st)
        return ERROR_INVALID_PARAMETER;
    if (!GlobalMemoryStatusEx(&ms))
        return (uint32_t)GetLastError();
    memset(&pmc, 0, sizeof pmc);
    pmc.cb = sizeof pmc;
    if (!K32GetProcessMemoryInfo(GetCurrentProcess(), (PROCESS_MEMORY_COUNTERS *)&pmc, sizeof pmc))
        return (uint32_t)GetLastError();
    st->total_phys = ms.ullTotalPhys;
    st->avail_phys = ms.ullAvailPhys;
    st->commit_limit = ms.ullTotalPageFile;
    st->commit_total = ms.ullTotalPageFile - ms.ullAvailPageFile;
    /* PagefileUsage is the commit charge (equal to PrivateUsage on Windows;
       Wine fills only the former). */
    st->process_commit = pmc.PagefileUsage;
    st->memory_load = ms.dwMemoryLoad;
    return 0;
}

uint32_t memwin_large_pages_get(memwin_large_pages *lp)
{
    HANDLE token;
    LUID luid;
    if (!lp)
        return ERROR_INVALID_PARAMETER;
    memset(lp, 0, sizeof *lp);
    lp->minimum = (uintptr_t)GetLargePageMinimum();
    lp->thp_mode = MEMWIN_THP_NONE;
    if (!LookupPrivilegeValueW(NULL, L"SeLockMemoryPrivilege", &luid))
        return 0; /* the privilege is unknown here: not held */
    if (OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token)) {
        DWORD need = 0, i;
        TOKEN_PRIVILEGES *tp;
        char buf[4096];
        if (GetTokenInformation(token, TokenPrivileges, buf, sizeof buf, &need)) {
            tp = (TOKEN_PRIVILEGES *)buf;
            for (i = 0; i < tp->PrivilegeCount; i++) {
                if (tp->Privileges[i].Luid.LowPart == luid.LowPart &&
                    tp->Privileges[i].Luid.HighPart == luid.HighPart) {
                    lp->privilege_held = true;
                    lp->usable = lp->minimum != 0 &&
                                 (tp->Privileges[i].Attributes & SE_PRIVILEGE_ENABLED) != 0;
                }
            }
        }
        CloseHandle(token);
    }
    return 0;
}
