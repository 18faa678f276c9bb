/* Fatal errors in Go's format and the replaceable handler. */
#include "fatal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#endif

#include "atomics.h"
#include "env.h"
#include "mode.h"
#include "memwin.h"
#include "host.h"

/* The handler in force and its context.  Both are read and written only
 * under handler_lock, so a reader always gets a pair that was set together
 * (issue 14.1: two alternating slots rewritten in place let a thrower pair
 * one handler with another's context).  The lock is held for two loads or
 * two stores, never while a handler runs, so a handler may itself install
 * another one. */
static uint32_t handler_lock;
static memwin_fatal_fn handler_fn = memwin_default_fatal;
static void *handler_ctx;

static void handler_lock_take(void)
{
    while (!mw_try_lock32(&handler_lock))
        memwin_host_yield();
}

static memwin_fatal_fn handler_read(void **ctx)
{
    memwin_fatal_fn fn;
    handler_lock_take();
    fn = handler_fn;
    *ctx = handler_ctx;
    mw_unlock32(&handler_lock);
    return fn;
}

/* The process environment's value of name into buf; 0 if unset. */
static int env_value(const char *name, char *buf, size_t cap)
{
#if defined(_WIN32)
    /* The process environment block, not a C runtime's copy of it. */
    DWORD n = GetEnvironmentVariableA(name, buf, (DWORD)cap);
    if (n == 0) { /* unset, or set to "" */
        buf[0] = 0;
        return GetLastError() != ERROR_ENVVAR_NOT_FOUND;
    }
    if (n >= cap) { /* too long to be any value Go knows */
        buf[0] = '?';
        buf[1] = 0;
    }
    return 1;
#else
    /* A setuid or setgid program ignores it, as Go's runtime does (it sets
     * GOTRACEBACK=none in secure mode). */
    const char *v = memwin_env_secure() ? NULL : getenv(name);
    if (!v)
        return 0;
    snprintf(buf, cap, "%s", v);
    return 1;
#endif
}

int memwin_traceback_mode(void)
{
    /* Go >= 1.21 on Windows (runtime1.go setTraceback): "crash" and "wer"
     * set the crash bit, every other value (unset, none, single, all,
     * system, numbers, unknown words) does not.  Go compares exactly. */
    char v[32];
    if (!env_value("GOTRACEBACK", v, sizeof v))
        return MEMWIN_TRACEBACK_EXIT;
    if (strcmp(v, "crash") == 0)
        return MEMWIN_TRACEBACK_CRASH;
    if (strcmp(v, "wer") == 0)
        return MEMWIN_TRACEBACK_WER;
    return MEMWIN_TRACEBACK_EXIT;
}

/* Windows Error Reporting as Go leaves it for a crash: off for
 * GOTRACEBACK=crash, on for wer (the host table then raises the fail-fast
 * exception).  Nothing to do elsewhere. */
static void crash_error_mode(int tb)
{
#if defined(_WIN32)
    UINT mode = GetErrorMode();
    if (tb == MEMWIN_TRACEBACK_WER)
        SetErrorMode(mode & ~(UINT)SEM_NOGPFAULTERRORBOX);
    else
        SetErrorMode(mode | SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX | SEM_NOOPENFILEERRORBOX);
#else
    (void)tb;
#endif
}

void memwin_default_fatal(const char *printed, const char *message, void *ctx)
{
    /* One write of the whole text, so concurrent throws do not interleave. */
    char buf[1024];
    const memwin_prim *p = memwin_prim_current();
    int len = snprintf(buf, sizeof buf, "%sfatal error: %s\n", printed ? printed : "",
                       message ? message : "");
    (void)ctx;
    if (len < 0)
        len = 0;
    if ((size_t)len >= sizeof buf)
        len = (int)sizeof buf - 1;
    p->write_stderr(buf, (size_t)len);
    /* Go's fatalthrow: crash() when GOTRACEBACK has the crash bit (a
     * fail-fast exception on Windows since Go 1.21), else exit(2).  The
     * environment is read now; Go reads it at start-up. */
    int tb = memwin_traceback_mode();
    if (tb != MEMWIN_TRACEBACK_EXIT)
        crash_error_mode(tb);
    p->exit_process(tb != MEMWIN_TRACEBACK_EXIT ? MEMWIN_EXIT_FAIL_FAST : 2);
}

memwin_fatal_fn memwin_set_fatal_handler(memwin_fatal_fn handler, void *ctx)
{
    memwin_fatal_fn prev;
    handler_lock_take();
    prev = handler_fn;
    handler_fn = handler ? handler : memwin_default_fatal;
    handler_ctx = handler ? ctx : NULL;
    mw_unlock32(&handler_lock);
    return prev;
}

memwin_fatal_fn memwin_get_fatal_handler(void **ctx)
{
    void *c;
    memwin_fatal_fn fn = handler_read(&c);
    if (ctx)
        *ctx = c;
    return fn;
}

void memwin_throw(const char *printed, const char *message)
{
    void *ctx;
    memwin_fatal_fn fn = handler_read(&ctx);
    if (memwin_recover(MEMWIN_ERR_OS, printed ? printed : "", message))
        return; /* recoverable mode: the caller returns with the error */
    fn(printed ? printed : "", message, ctx);
}

void memwin_format_failed(char *buf, const char *what, uintptr_t n, uint32_t err)
{
    snprintf(buf, MEMWIN_LINE_MAX, "runtime: %s of %llu bytes failed with errno=%lu\n", what,
             (unsigned long long)n, (unsigned long)err);
}
