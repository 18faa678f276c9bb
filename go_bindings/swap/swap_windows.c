//go:build windows && cgo

/* The primitive swap: before the Go runtime starts, point its procedure
 * variables runtime._VirtualAlloc and runtime._VirtualFree at memwin.dll's
 * interposers (memwin_VirtualAlloc / memwin_VirtualFree), which count,
 * trace and fault the calls and forward them to what the variables held.
 *
 * The references below are resolved by the external linker against the Go
 * object, so no //go:linkname (and no -checklinkname=0) is involved; this
 * works on every Go release line from 1.19 to 1.27 (measured on 1.19.8,
 * 1.20.14, 1.21.13, 1.22.12, 1.23.5, 1.24.4, 1.25.12, 1.26.8 and 1.27.3 by
 * tools/memwin-go/matrix.sh, in both forms below).  The constructor runs
 * from the C runtime's start-up code, before Go's, so it sees every call
 * the runtime makes.
 *
 * Compiled by cgo as part of the package, or on its own with
 * -DMEMWIN_SWAP_OBJECT into an object file that a linker adds to any Go
 * program (tools/memwin-go); in that form everything but the constructor is
 * static, so both forms can be in one program (the second one to run finds
 * the swap done). */
#include <windows.h>

#include <stdio.h>
#include <string.h>

#include "memwin_interpose.h"

#ifdef MEMWIN_SWAP_OBJECT
#define SWAP_API static __attribute__((unused))
#else
#define SWAP_API
#include "swap_windows.h"
#endif

typedef LPVOID(WINAPI *va_fn)(LPVOID, SIZE_T, DWORD, DWORD);
typedef BOOL(WINAPI *vf_fn)(LPVOID, SIZE_T, DWORD);

extern va_fn memwin_swap_rt_va __asm__("runtime._VirtualAlloc");
extern vf_fn memwin_swap_rt_vf __asm__("runtime._VirtualFree");

typedef void (*get_stats_fn)(memwin_interpose_stats *, size_t);
typedef void (*policy_fn)(memwin_interpose_policy *);
typedef void (*set_policy_fn)(const memwin_interpose_policy *);
typedef uint32_t (*u32_fn)(void);
typedef void (*set_next_fn)(memwin_virtual_alloc_fn, memwin_virtual_free_fn);

/* MEMWIN_SWAP_* states, also in swap_windows.h. */
enum { ST_NONE = 0, ST_ACTIVE = 1, ST_FAILED = 2, ST_DISABLED = 3 };

static struct {
    int state;
    HMODULE dll;
    wchar_t path[1024];
    char message[1024];
    va_fn orig_va;
    vf_fn orig_vf;
    memwin_virtual_alloc_fn ia;
    memwin_virtual_free_fn ifree;
    get_stats_fn get_stats;
    set_policy_fn set_policy;
    policy_fn get_policy;
    u32_fn flush;
} sw;

static void swap_say(const char *msg)
{
    HANDLE h = GetStdHandle(STD_ERROR_HANDLE);
    DWORD done;
    if (h && h != INVALID_HANDLE_VALUE)
        WriteFile(h, msg, (DWORD)strlen(msg), &done, NULL);
}

static void path_utf8(char *out, size_t cap)
{
    if (WideCharToMultiByte(CP_UTF8, 0, sw.path, -1, out, (int)cap, NULL, NULL) <= 0)
        snprintf(out, cap, "?");
}

static int is_absolute(const wchar_t *p)
{
    return (p[0] && p[1] == L':' && (p[2] == L'\\' || p[2] == L'/')) ||
           (p[0] == L'\\' && p[1] == L'\\');
}

/* memwin.dll's absolute path: $MEMWIN_DLL, else beside the executable. */
static int dll_path(void)
{
    DWORD n = GetEnvironmentVariableW(L"MEMWIN_DLL", sw.path, 1024);
    wchar_t *slash;
    if (n > 0 && n < 1024) {
        if (is_absolute(sw.path))
            return 1;
        snprintf(sw.message, sizeof sw.message,
                 "MEMWIN_DLL must be an absolute path (a bare name would be searched for)");
        return 0;
    }
    n = GetModuleFileNameW(NULL, sw.path, 1024 - 16);
    if (n == 0 || n >= 1024 - 16) {
        snprintf(sw.message, sizeof sw.message, "GetModuleFileNameW failed with error %lu",
                 (unsigned long)GetLastError());
        return 0;
    }
    slash = wcsrchr(sw.path, L'\\');
    if (!slash)
        slash = wcsrchr(sw.path, L'/');
    if (!slash) {
        snprintf(sw.message, sizeof sw.message, "the executable's path has no directory");
        return 0;
    }
    wcscpy(slash + 1, L"memwin.dll");
    return 1;
}

static FARPROC get(const char *name)
{
    FARPROC p = GetProcAddress(sw.dll, name);
    if (!p && !sw.message[0]) {
        char path[1024];
        path_utf8(path, sizeof path);
        snprintf(sw.message, sizeof sw.message, "%s does not export %s (an older memwin.dll?)", path,
                 name);
    }
    return p;
}

static void fail(void)
{
    char line[1200];
    sw.state = ST_FAILED;
    snprintf(line, sizeof line,
             "memwin/swap: %s; the Go runtime keeps its own VirtualAlloc and VirtualFree\n",
             sw.message);
    swap_say(line);
}

static void swap_install(void)
{
    wchar_t env[16];
    DWORD n;
    FARPROC p;
    uint32_t (*init)(void);
    set_next_fn set_next;
    if (sw.state != ST_NONE)
        return;
    n = GetEnvironmentVariableW(L"MEMWIN_SWAP", env, 16);
    if (n > 0 && n < 16 && (wcscmp(env, L"off") == 0 || wcscmp(env, L"0") == 0)) {
        sw.state = ST_DISABLED;
        snprintf(sw.message, sizeof sw.message, "disabled by MEMWIN_SWAP=off");
        return;
    }
    if (!dll_path()) {
        fail();
        return;
    }
    /* Absolute path; its own imports (system DLLs only) from its directory
     * and the system's. */
    sw.dll = LoadLibraryExW(sw.path, NULL, LOAD_WITH_ALTERED_SEARCH_PATH);
    if (!sw.dll) {
        char path[1024];
        DWORD e = GetLastError();
        path_utf8(path, sizeof path);
        snprintf(sw.message, sizeof sw.message, "cannot load %s (error %lu)", path, (unsigned long)e);
        fail();
        return;
    }
#define GET(field, name)                                                                           \
    do {                                                                                           \
        p = get(name);                                                                             \
        memcpy(&sw.field, &p, sizeof p);                                                           \
    } while (0)
    GET(ia, "memwin_VirtualAlloc");
    GET(ifree, "memwin_VirtualFree");
    GET(get_stats, "memwin_interpose_get_stats");
    GET(set_policy, "memwin_interpose_set_policy");
    GET(get_policy, "memwin_interpose_get_policy");
    GET(flush, "memwin_interpose_flush");
    p = get("memwin_interpose_init");
    memcpy(&init, &p, sizeof p);
    p = get("memwin_interpose_set_next");
    memcpy(&set_next, &p, sizeof p);
#undef GET
    if (!sw.ia || !sw.ifree || !sw.get_stats || !sw.set_policy || !sw.get_policy || !sw.flush ||
        !init || !set_next) {
        FreeLibrary(sw.dll);
        sw.dll = NULL;
        fail();
        return;
    }
    sw.state = ST_ACTIVE;
    if ((void *)memwin_swap_rt_va == (void *)sw.ia)
        return; /* another copy of this code swapped already */
    init();
    sw.orig_va = memwin_swap_rt_va;
    sw.orig_vf = memwin_swap_rt_vf;
    /* The interposers forward to what the runtime would have called. */
    set_next((memwin_virtual_alloc_fn)(void *)sw.orig_va, (memwin_virtual_free_fn)(void *)sw.orig_vf);
    memwin_swap_rt_va = (va_fn)(void *)sw.ia;
    memwin_swap_rt_vf = (vf_fn)(void *)sw.ifree;
}

__attribute__((constructor)) static void memwin_swap_ctor(void)
{
    swap_install();
}

SWAP_API int memwin_swap_state(void)
{
    return sw.state;
}

SWAP_API const char *memwin_swap_message(void)
{
    return sw.message;
}

SWAP_API void memwin_swap_path(char *out, size_t cap)
{
    path_utf8(out, cap);
}

SWAP_API int memwin_swap_stats(memwin_interpose_stats *out)
{
    if (sw.state != ST_ACTIVE)
        return 0;
    sw.get_stats(out, sizeof *out);
    return 1;
}

SWAP_API int memwin_swap_get_policy(memwin_interpose_policy *out)
{
    if (sw.state != ST_ACTIVE)
        return 0;
    sw.get_policy(out);
    return 1;
}

SWAP_API int memwin_swap_set_policy(const memwin_interpose_policy *p)
{
    if (sw.state != ST_ACTIVE)
        return 0;
    sw.set_policy(p);
    return 1;
}

SWAP_API uint32_t memwin_swap_flush(void)
{
    if (sw.state != ST_ACTIVE)
        return 0;
    return sw.flush();
}
