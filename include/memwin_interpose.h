/*
 * memwin's interposers: drop-in replacements for VirtualAlloc and
 * VirtualFree that count, trace and (on request) fail calls before passing
 * them on to the real functions.
 *
 * They have the Win32 signatures, so a Go program's own memory layer can be
 * pointed at them without rebuilding Go: go_bindings/swap stores their
 * addresses in the runtime's procedure variables runtime._VirtualAlloc and
 * runtime._VirtualFree before the runtime starts ("primitive swap").  They
 * can also serve memwin's own logic (memwin_interpose_prim), which is how
 * the "full swap" (the runtime's sys*OS functions forwarded to memwin.dll)
 * gets the same counters, trace and faults.
 *
 * Every call is forwarded to the next functions (kernel32's VirtualAlloc /
 * VirtualFree on Windows, the Linux emulation of memwin_prim_host()
 * otherwise, or what memwin_interpose_set_next installed), unless the fault
 * policy fails it.  The thread's last error on return is exactly what the
 * forwarded call left, or the injected code.  The interposers are
 * thread-safe, allocate only from the C heap and never call into Go.
 *
 * Configuration, read from the environment on first use (or by
 * memwin_interpose_init):
 *
 *   MEMWIN_TRACE=file          append one line per call to file (see below)
 *   MEMWIN_STATS=file          write the counters to file at process exit
 *   MEMWIN_FAIL_COMMIT_NTH=n   fail commits number n, n+1, ... (counting, from
 *                              1, every call that commits: MEM_COMMIT with or
 *                              without MEM_RESERVE)
 *   MEMWIN_FAIL_COMMIT_COUNT=k only k of them (default 0: all from the n-th)
 *   MEMWIN_FAIL_COMMIT_ERROR=e their error code (default 1455,
 *                              ERROR_COMMITMENT_LIMIT)
 *   MEMWIN_COMMIT_BUDGET=b     fail, with 1455, commits that would take the
 *                              committed bytes above b
 *   MEMWIN_RESERVE_BUDGET=b    fail, with 8 (ERROR_NOT_ENOUGH_MEMORY),
 *                              reservations that would take the reserved
 *                              address space above b
 *
 * Numbers are decimal or 0x hexadecimal, without sign or spaces; sizes
 * (the budgets) take an optional binary suffix k, m, g and then b (b=64m is
 * 64 MiB).  A malformed, negative, too large (counts and sizes: above
 * 2^64-1; e: above 2^32-1) or too long (over 255 characters) value is
 * refused with one line on stderr, "memwin: NAME=VALUE: <why>; using the
 * default <d>", and the default is used.  In file names, %p stands for the
 * process id.  The files must be regular files: memwin opens them without
 * following a final symbolic link, without blocking (close-on-exec, and
 * O_NONBLOCK on Linux) and refuses anything else (a FIFO, a device, a named
 * pipe, a console) with a line on stderr; the trace is appended to, the
 * stats file emptied and rewritten at every flush.  In secure execution
 * (Linux: a setuid or setgid program, or one with file capabilities, i.e.
 * AT_SECURE; read with secure_getenv) all these variables and MEMWIN_MODE
 * are ignored, each with a line on stderr.  Committed and reserved bytes are
 * those of the memory obtained through the interposers, tracked per 4 KiB
 * page: recommitting committed pages adds nothing, a release removes the
 * whole reservation.
 *
 * Trace format: a header line starting with '#', then per call
 *   time_ns pid tid op addr size flags result error committed reserved src
 * time_ns: nanoseconds since the interposers started; op: reserve, commit,
 * alloc (commit+reserve), decommit, release or other; addr, size, flags,
 * result in hex (result: the returned address, or 1/0 for VirtualFree);
 * error: the thread's last error after the call (decimal); committed and
 * reserved: bytes after the call (decimal); src: os (the real function
 * ran) or fault (failed by the policy).
 */
#ifndef MEMWIN_INTERPOSE_H
#define MEMWIN_INTERPOSE_H

#include <stddef.h>
#include <stdint.h>

#include "memwin_prim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The Win32 calling convention (the same as the C one on x64). */
#if defined(_WIN32)
#define MEMWIN_WINAPI __stdcall
#else
#define MEMWIN_WINAPI
#endif

typedef void *(MEMWIN_WINAPI *memwin_virtual_alloc_fn)(void *addr, uintptr_t size, uint32_t type,
                                                       uint32_t protect);
typedef int(MEMWIN_WINAPI *memwin_virtual_free_fn)(void *addr, uintptr_t size, uint32_t type);

/* The interposers: LPVOID VirtualAlloc(LPVOID, SIZE_T, DWORD, DWORD) and
 * BOOL VirtualFree(LPVOID, SIZE_T, DWORD). */
void *MEMWIN_WINAPI memwin_VirtualAlloc(void *addr, uintptr_t size, uint32_t type, uint32_t protect);
int MEMWIN_WINAPI memwin_VirtualFree(void *addr, uintptr_t size, uint32_t type);

/* Operations, as counted and traced. */
#define MEMWIN_IOP_RESERVE 0  /* VirtualAlloc, MEM_RESERVE */
#define MEMWIN_IOP_COMMIT 1   /* VirtualAlloc, MEM_COMMIT */
#define MEMWIN_IOP_ALLOC 2    /* VirtualAlloc, MEM_COMMIT|MEM_RESERVE */
#define MEMWIN_IOP_DECOMMIT 3 /* VirtualFree, MEM_DECOMMIT */
#define MEMWIN_IOP_RELEASE 4  /* VirtualFree, MEM_RELEASE */
#define MEMWIN_IOP_OTHER 5    /* any other type (MEM_RESET, ...) */
#define MEMWIN_IOP_COUNT 6

/* Size classes of calls: class 0 is sizes up to 4 KiB, class k (1..22)
 * sizes in (2^(11+k), 2^(12+k)], class 23 everything above 16 GiB.  A
 * release counts the size of the reservation it frees. */
#define MEMWIN_INTERPOSE_SIZE_CLASSES 24

typedef struct memwin_interpose_op_stats {
    uint64_t calls;    /* calls seen */
    uint64_t failed;   /* of which failed (by the OS or the policy) */
    uint64_t injected; /* of which failed by the policy */
    uint64_t bytes;    /* sizes of the successful calls (release: of the reservation) */
    uint64_t size_class[MEMWIN_INTERPOSE_SIZE_CLASSES]; /* calls by size */
} memwin_interpose_op_stats;

typedef struct memwin_interpose_stats {
    memwin_interpose_op_stats op[MEMWIN_IOP_COUNT];
    uint64_t committed;       /* bytes committed now */
    uint64_t committed_peak;  /* highest value of committed */
    uint64_t reserved;        /* bytes of live reservations */
    uint64_t reserved_peak;   /* highest value of reserved */
    uint64_t newly_committed; /* bytes that went from not committed to committed */
    uint64_t decommitted;     /* bytes that went from committed to not (decommit or release) */
    uint64_t released;        /* bytes of reservations released */
    uint64_t trace_lines;     /* lines written to the trace */
    uint64_t time_ns;         /* nanoseconds since the interposers started */
} memwin_interpose_stats;

/* The fault policy (0 fields: off). */
typedef struct memwin_interpose_policy {
    uint64_t fail_commit_nth;   /* first commit to fail (1-based); 0: none */
    uint64_t fail_commit_count; /* how many from there; 0: all */
    uint32_t fail_commit_error; /* their error; 0 means 1455 */
    uint64_t commit_budget;     /* bytes; 0: unlimited */
    uint64_t reserve_budget;    /* bytes of address space; 0: unlimited */
} memwin_interpose_policy;

/* Reads the configuration from the environment, once (later calls do
 * nothing).  The interposers call it on first use.  Returns 0, or, if the
 * trace file cannot be opened, the error (the OS's: a Win32 code on
 * Windows, an errno on Linux; a file refused as not regular or a symbolic
 * link: 5, ERROR_ACCESS_DENIED, on Windows, EACCES on Linux); a message
 * goes to stderr, counting and faults still work. */
uint32_t memwin_interpose_init(void);
/* Makes the interposers forward to these functions (NULL: the defaults).
 * Lets a hook chain to what it replaced; both must stay callable. */
void memwin_interpose_set_next(memwin_virtual_alloc_fn va, memwin_virtual_free_fn vf);
/* Copies the counters (up to size bytes of them: pass sizeof *out); out
 * NULL: does nothing. */
void memwin_interpose_get_stats(memwin_interpose_stats *out, size_t size);
/* Replaces the fault policy (NULL: none) / reads it (out NULL: does
 * nothing). */
void memwin_interpose_set_policy(const memwin_interpose_policy *policy);
void memwin_interpose_get_policy(memwin_interpose_policy *out);
/* Writes out the buffered trace lines and, if MEMWIN_STATS names a file,
 * the counters (also done at process exit).  Returns 0 or an error code
 * (a stats file refused as above: 5 / EACCES, said once, then forgotten). */
uint32_t memwin_interpose_flush(void);
/* A primitive table whose virtual_alloc / virtual_free are the
 * interposers (everything else is the host's): memwin_prim_set() it to
 * count, trace and fault memwin's own calls. */
const memwin_prim *memwin_interpose_prim(void);

/* For a caller with its own way to die (the full swap, where Go's runtime
 * throws): catch_fatal(1) installs a fatal handler that records memwin's
 * fatal error and returns, so the failing call returns to its caller;
 * catch_fatal(0) restores the handler that was there before.  *flag
 * (memwin_interpose_fatal_flag) becomes nonzero, process-wide, when an error
 * was recorded; fatal_take, on the thread whose call raised it, gives its
 * two texts (Go's printed lines, each ending in '\n', and the throw message)
 * and returns 1; it returns 0 on every other thread, and if none, so the
 * error is thrown once.  Only the first error is recorded: a later one of
 * the same thread is dropped (its call returns), a later one of another
 * thread blocks that thread until the process ends (its call must neither
 * return without its memory nor print a second fatal error).  printed and
 * message may be NULL. */
void memwin_interpose_catch_fatal(int on);
const volatile uint32_t *memwin_interpose_fatal_flag(void);
int memwin_interpose_fatal_take(const char **printed, const char **message);

#ifdef __cplusplus
}
#endif

#endif /* MEMWIN_INTERPOSE_H */
