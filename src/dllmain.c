/* memwin.dll's entry point: at process detach (a Go program ends with
 * ExitProcess) it writes the interposers' trace and counters, which the
 * other builds write from an atexit handler.  Empty elsewhere. */
#if defined(_WIN32) && defined(memwin_EXPORTS)
#include <windows.h>

#include "instrument/interpose.h"

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved);

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
    (void)inst;
    (void)reserved;
    if (reason == DLL_PROCESS_DETACH)
        memwin_interpose_at_exit();
    return TRUE;
}
#else
typedef int memwin_dllmain_unused; /* ISO C has no empty translation unit */
#endif
