/*
 * memwin: the Go runtime's Windows OS-memory layer as a C library.
 *
 * The Go-named functions below have the names and parameter lists of Go's
 * runtime/mem_windows.go (OS layer) and runtime/mem.go (generic layer) as of
 * Go 1.19-1.24, and behave as the Go runtime does on Windows: measured
 * identical to every Go release line from 1.19 to 1.27 on windows/amd64 and
 * windows/386 (docs/conformance.md, tools/conformance.sh): same Win32 calls,
 * same fallback loops, same accounting, same fatal messages and exit status.  Go's uintptr is uintptr_t, unsafe.Pointer is void *.
 *
 * Region states (Go's runtime/mem.go):
 *   None      not reserved; any access faults.
 *   Reserved  address space owned, not usable (MEM_RESERVE).
 *   Prepared  Reserved but accounted as mapped; on Windows identical to
 *             Reserved, because sysMapOS does nothing there.
 *   Ready     committed and readable/writable (MEM_COMMIT, PAGE_READWRITE).
 *
 *   None --sysReserve--> Reserved --sysMap--> Prepared --sysUsed--> Ready
 *   Ready --sysUnused--> Prepared       Ready --sysFault--> Reserved
 *   any --sysFree--> None               None --sysAlloc--> Ready
 *
 * Fatal errors: where Go throws, memwin prints what Go prints to stderr (the
 * "runtime: ..." line, then "fatal error: ...") and exits with status 2,
 * unless a fatal handler is installed (memwin_set_fatal_handler).
 *
 * Every function is thread-safe.  The header is plain C11 (no compiler
 * extensions); the export list is memwin.def.
 *
 * Deliberate or inherent differences from Go (docs/conformance.md lists
 * them too):
 *   - A NULL sysMemStat: Go dereferences nil, a nil-pointer panic its
 *     caller can recover; C has no such panic, so memwin throws "fatal
 *     error: memwin: nil sysMemStat" (refused as MEMWIN_ERR_NULL in checked
 *     modes) instead of crashing.
 *   - A sysMemStat in memory that cannot be written: Go reports "unexpected
 *     fault address 0x..." and "fatal error: fault" (exit 2); memwin, a C
 *     library, faults like any C code (SIGSEGV on Linux, an access
 *     violation on Windows).
 *   - debug.SetCrashOutput (Go 1.23+): Go writes its crash report to that
 *     file as well; memwin cannot see Go's setting, and its default fatal
 *     handler writes to stderr only (a fatal handler can write elsewhere).
 *   - memwin_mapped_ready() is memwin's own counter (Go's rules), not the
 *     Go runtime's gcController.mappedReady.
 */
#ifndef MEMWIN_H
#define MEMWIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Go's sysMemStat: a uint64 counter of bytes.  A Go *sysMemStat may point at
 * one.  Updated atomically; the generic layer checks it for overflow and
 * underflow exactly as Go does ("sysMemStat overflow"). */
typedef uint64_t sysMemStat;

/* ---- OS layer (runtime/mem_windows.go) --------------------------------- */

/* None -> Ready: VirtualAlloc(NULL, n, MEM_COMMIT|MEM_RESERVE, RW).
 * Returns NULL on failure; never fatal. */
void *sysAllocOS(uintptr_t n);
/* Ready -> Prepared: VirtualFree(v, n, MEM_DECOMMIT); on failure retries in
 * halving pieces (4096-byte floor); fatal "runtime: failed to decommit pages". */
void sysUnusedOS(void *v, uintptr_t n);
/* Prepared -> Ready: VirtualAlloc(v, n, MEM_COMMIT, RW); on failure retries in
 * halving pieces; fatal "out of memory" (errno 8, 1455) or
 * "runtime: failed to commit pages". */
void sysUsedOS(void *v, uintptr_t n);
/* No state change: huge-page hints do nothing on Windows. */
void sysHugePageOS(void *v, uintptr_t n);
void sysNoHugePageOS(void *v, uintptr_t n);
void sysHugePageCollapseOS(void *v, uintptr_t n);
/* any -> None for the whole reservation starting at v:
 * VirtualFree(v, 0, MEM_RELEASE); n is only reported in the message;
 * fatal "runtime: failed to release pages". */
void sysFreeOS(void *v, uintptr_t n);
/* Ready -> Reserved: decommits (as sysUnusedOS); later access faults. */
void sysFaultOS(void *v, uintptr_t n);
/* None -> Reserved: VirtualAlloc(v, n, MEM_RESERVE, RW), then anywhere if the
 * hint fails.  Returns NULL when both fail; never fatal. */
void *sysReserveOS(void *v, uintptr_t n);
/* Reserved -> Prepared: nothing to do on Windows (commit is in sysUsedOS). */
void sysMapOS(void *v, uintptr_t n);
/* Go 1.26: whether memory must be zeroed after sysUnusedOS; true on Windows. */
bool needZeroAfterSysUnusedOS(void);

/* ---- Generic layer (runtime/mem.go) ------------------------------------ */

/* A NULL sysStat is Go's nil dereference: in exact mode the fatal error
 * "memwin: nil sysMemStat" (the call returns, doing nothing, if a handler
 * returns); in checked and recoverable modes a refusal MEMWIN_ERR_NULL.
 * A NULL reserved (sysReserveAligned, memwin_reserve_aligned) is allowed:
 * the size is then not stored.  Address parameters are Go's: NULL is an
 * address like any other (Go's behaviour; refused in checked modes). */

/* None -> Ready.  *sysStat += n and mapped-ready += n before the OS call,
 * even when it fails (returns NULL). */
void *sysAlloc(uintptr_t n, sysMemStat *sysStat);
/* Ready -> Prepared.  mapped-ready -= n. */
void sysUnused(void *v, uintptr_t n);
/* Prepared -> Ready.  mapped-ready += prepared (not n); commits all n bytes. */
void sysUsed(void *v, uintptr_t n, uintptr_t prepared);
/* No state change, no accounting. */
void sysHugePage(void *v, uintptr_t n);
void sysNoHugePage(void *v, uintptr_t n);
void sysHugePageCollapse(void *v, uintptr_t n);
/* any -> None.  *sysStat -= n and mapped-ready -= n, then release.  Only
 * all-Ready memory balances the books (Go frees only sysAlloc memory);
 * checked modes refuse any other (README "Giving memory back"). */
void sysFree(void *v, uintptr_t n, sysMemStat *sysStat);
/* Ready -> Reserved.  mapped-ready -= n, then decommit. */
void sysFault(void *v, uintptr_t n);
/* None -> Reserved (v is a hint).  No accounting. */
void *sysReserve(void *v, uintptr_t n);
/* Reserved -> Prepared.  *sysStat += n; no OS call on Windows. */
void sysMap(void *v, uintptr_t n, sysMemStat *sysStat);
/* Go 1.25: Reserved -> None for a whole reservation.  No accounting;
 * checked modes refuse it unless every page is Reserved (sysFreeOS releases
 * pages in any state). */
void sysUnreserve(void *v, uintptr_t n);
/* None -> Reserved, aligned to align (a power of two).  Go returns two
 * values: the pointer is returned, the size reserved (size or size+align) is
 * stored in *reserved (0 on failure).  Windows strategy: reserve size+align;
 * if unaligned, release it and re-reserve exactly size at the aligned
 * address, retrying; fatal "failed to allocate aligned heap memory; too many
 * retries" after 100 lost races. */
void *sysReserveAligned(void *v, uintptr_t size, uintptr_t align, uintptr_t *reserved);

/* memwin's extra, not Go's: None -> Reserved, exactly size bytes at a
 * multiple of align, in one OS call where the OS offers one (VirtualAlloc2
 * with an address requirement on Windows 10 1803+ and Wine, looked up at run
 * time; natively in the Linux emulation).  No other thread can take the
 * aligned range between Go's release and re-reserve, so it never retries and
 * never fails for lost races.  A hint v that is a multiple of align is tried
 * first, as sysReserveOS does.  A hint that is a multiple of 4096 but not of
 * align is no error: with align <= 64 KiB it is passed on as sysReserveOS's
 * hint (the reservation starts at the 64 KiB boundary at or below it when
 * that range is free, else anywhere), with a larger align it is ignored (an
 * aligned reservation anywhere).  *reserved = size.  Where the OS has no
 * such call, Go's sequence runs instead (then *reserved may be size+align).
 * Returns NULL with *reserved = 0 when the OS refuses, and for bad arguments
 * (size 0 or not a multiple of 4096, a hint not a multiple of 4096, align
 * not a power of two >= 4096, overflow): never fatal in exact mode; refused
 * with an error in checked modes, and the reservation tracked like
 * sysReserveAligned's. */
void *memwin_reserve_aligned(void *v, uintptr_t size, uintptr_t align, uintptr_t *reserved);
/* 1 if memwin_reserve_aligned takes one OS call with the current primitive
 * table (it asks the OS: one reservation, released at once), else 0. */
int memwin_reserve_aligned_native(void);
/* Opt-in for sysReserveAligned as a whole (for callers that cannot change
 * their calls): nonzero makes it behave as memwin_reserve_aligned, zero
 * restores Go's sequence (the default).  Returns the previous setting. */
int memwin_set_reserve_aligned_one_call(int on);
/* Go 1.26: needZeroAfterSysUnusedOS() of this host (true). */
bool needZeroAfterSysUnused(void);

/* ---- Accounting -------------------------------------------------------- */

/* sysMemStat.load: atomic read.  s NULL: the fatal error "memwin: nil
 * sysMemStat", as memwin_stat_add, and 0 if the handler returns (recoverable
 * mode: memwin_last_error() is MEMWIN_ERR_OS). */
uint64_t memwin_stat_load(const sysMemStat *s);
/* sysMemStat.add: atomic add, then Go's overflow check; on overflow prints
 * "runtime: val=<new> n=<delta>" and throws "sysMemStat overflow".  s NULL:
 * throws "memwin: nil sysMemStat" (nothing added). */
void memwin_stat_add(sysMemStat *s, int64_t delta);
/* memwin's own process-wide count of mapped-ready bytes, changed at the
 * same calls and by the same amounts as Go's gcController.mappedReady (no
 * overflow check; wraps).  It is not the Go runtime's counter: a Go program
 * that links memwin keeps its own, which memwin neither reads nor changes. */
uint64_t memwin_mapped_ready(void);

/* ---- Extras ------------------------------------------------------------ */

/* Library version, "MAJOR.MINOR.PATCH". */
const char *memwin_version(void);
/* The newest Go release line memwin is measured against ("go1.27"); the
 * report measures every line from go1.19 to it.  Where those lines differ
 * among themselves (the exit status under GOTRACEBACK=crash or wer: 2 up to
 * Go 1.20, a fail-fast exception from 1.21), memwin follows this one. */
const char *memwin_go_version(void);

/* Page states reported by memwin_query (the Win32 MEM_* values). */
#define MEMWIN_MEM_COMMIT 0x1000u
#define MEMWIN_MEM_RESERVE 0x2000u
#define MEMWIN_MEM_FREE 0x10000u
/* Protection values (the Win32 PAGE_* values). */
#define MEMWIN_PAGE_NOACCESS 0x01u
#define MEMWIN_PAGE_READONLY 0x02u
#define MEMWIN_PAGE_READWRITE 0x04u

/* A VirtualQuery-style description of the run of identical pages that
 * starts at the page containing the queried address. */
typedef struct memwin_region_info {
    void *base;                  /* queried address rounded down to a page */
    void *allocation_base;       /* base of the reservation; NULL if free */
    uint32_t allocation_protect; /* protection given at reservation; 0 if free */
    uint32_t state;              /* MEMWIN_MEM_COMMIT, _RESERVE or _FREE */
    uint32_t protect;            /* protection of committed pages, 0 for
                                    reserved, PAGE_NOACCESS for free */
    uintptr_t region_size;       /* bytes from base with the same state and
                                    protection in the same reservation */
} memwin_region_info;

/* Describes the pages at addr (VirtualQuery on Windows, the emulation's own
 * tables on Linux).  Returns 0 on success, else a Win32 error code (87 for an
 * address outside the user address space, and for info NULL) and leaves
 * *info untouched. */
uint32_t memwin_query(const void *addr, memwin_region_info *info);

/* Fatal handler.  printed: the "runtime: ..." lines Go prints before the
 * throw (may be empty; each line ends in '\n'); message: the throw text
 * ("out of memory", ...).  The default handler writes printed, then
 * "fatal error: <message>\n" to stderr and exits the process with status 2.
 * A handler that returns makes the failing memwin call return to its caller
 * at once, without completing its operation.
 *
 * The default exit, like Go's, does not flush C stdio: it is _exit on Linux
 * and ExitProcess on Windows, so output still in a stdout buffer (stdout to
 * a pipe or file, without fflush) is lost on Linux; on Windows the C
 * runtime DLL may write it while it detaches, after the fatal text (it does
 * with mingw-w64 under Wine 8).  This keeps Go's behaviour for the runtime
 * swap: Go's own exit, at a throw or at the end of main, does not flush a
 * cgo program's C streams either (on Linux their buffered output is lost);
 * and flushing in a fatal path can block (a stream's lock held by this or
 * another thread) or need memory.  To flush, install a handler that does it
 * first (tests/fatal_stdio_test.cpp):
 *
 *     static void flush_then_die(const char *printed, const char *message,
 *                                void *ctx)
 *     {
 *         fflush(NULL);
 *         memwin_default_fatal(printed, message, ctx);
 *     }
 *     ...
 *     memwin_set_fatal_handler(flush_then_die, NULL);
 */
typedef void (*memwin_fatal_fn)(const char *printed, const char *message, void *ctx);
/* Installs handler (NULL restores the default); returns the previous one. */
memwin_fatal_fn memwin_set_fatal_handler(memwin_fatal_fn handler, void *ctx);
/* The handler in force (memwin_default_fatal if none) and, if ctx is not
 * NULL, its context: lets a new handler chain to the one it replaces. */
memwin_fatal_fn memwin_get_fatal_handler(void **ctx);
/* The default handler (print and exit 2, C stdio not flushed: see above),
 * for handlers that chain to it.  printed or message NULL: taken as "". */
void memwin_default_fatal(const char *printed, const char *message, void *ctx);

/* ---- Checked and recoverable modes ------------------------------------ */

/* Modes, per process, switchable at run time (memwin_set_mode), chosen at
 * start by the environment variable MEMWIN_MODE=exact|checked|recoverable,
 * else by the build (CMake MEMWIN_DEFAULT_MODE; default exact).
 *   EXACT        Go's behaviour: no checks, Go's fatal errors.
 *   CHECKED      memwin tracks Go's state (None, Reserved, Prepared, Ready)
 *                of every page it reserved while checking was on, and
 *                refuses calls that break the handshake or Go's accounting
 *                (sysFree of pages not all Ready, sysUnreserve of pages not
 *                all Reserved, a release not of one whole reservation with
 *                its exact size), with a precise message to the fatal
 *                handler.  The tracker's cost follows the runs of pages in
 *                one state, not the reservations' sizes.
 *   RECOVERABLE  as CHECKED, but a refused call, and any of Go's fatal
 *                errors, returns at once: the caller reads the reason with
 *                memwin_last_error() / memwin_last_error_message().  A
 *                refused call has no effect at all (pages, sysMemStat and
 *                mapped-ready unchanged, no OS memory kept), also when the
 *                tracker itself is out of memory.  A failure inside Go's
 *                logic keeps Go's accounting: sysAlloc whose OS call fails
 *                returns NULL with +n accounted, as in Go; an OS failure in
 *                the middle of Go's fallback loop leaves the pieces done
 *                before it. */
#define MEMWIN_MODE_EXACT 0
#define MEMWIN_MODE_CHECKED 1
#define MEMWIN_MODE_RECOVERABLE 2
/* Sets the mode; returns the previous one, or -1 (and changes nothing) for
 * an unknown mode.  Memory reserved while checking was off is unknown to
 * the tracker: checked calls on it are refused as MEMWIN_ERR_NOT_MANAGED. */
int memwin_set_mode(int mode);
int memwin_get_mode(void);

/* Error codes of checked and recoverable modes. */
#define MEMWIN_OK 0
#define MEMWIN_ERR_NULL 1          /* null address or null sysMemStat */
#define MEMWIN_ERR_UNALIGNED 2     /* address not a multiple of 4096 */
#define MEMWIN_ERR_SIZE 3          /* zero size, or not a multiple of 4096
                                      (sysAlloc, sysAllocOS: any but 0 that
                                      whole pages can hold) */
#define MEMWIN_ERR_OVERFLOW 4      /* [v, v+n) goes past the top of the address space */
#define MEMWIN_ERR_NOT_MANAGED 5   /* range holds pages memwin has not reserved (None) */
#define MEMWIN_ERR_STATE 6         /* a page is in the wrong state for the transition */
#define MEMWIN_ERR_NOT_BASE 7      /* release not of one whole reservation (exact size), or twice */
#define MEMWIN_ERR_ALIGN 8         /* sysReserveAligned: align not a power of two >= 4096 */
#define MEMWIN_ERR_ACCOUNTING 9    /* sysMemStat would overflow or underflow; prepared > n */
#define MEMWIN_ERR_OS 10           /* Go's fatal error (Go's text), or the tracker out of memory */

/* The calling thread's last error in checked or recoverable mode: 0 when
 * its last memwin call succeeded (calls in exact mode leave it alone). */
uint32_t memwin_last_error(void);
/* A sentence naming the rule, the call, the range and the state found;
 * "" when memwin_last_error() is 0.  Valid until the thread's next call. */
const char *memwin_last_error_message(void);

#ifdef __cplusplus
}
#endif

#endif /* MEMWIN_H */
