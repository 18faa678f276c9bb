/*
 * memwin: the Go runtime's Windows OS-memory layer as a C library.
 *
 * The Go-named functions below have the names and parameter lists of Go's
 * runtime/mem_windows.go (OS layer) and runtime/mem.go (generic layer) as of
 * Go 1.19-1.24, and behave as the Go runtime does on Windows (Go 1.19-1.27):
 * same Win32 calls, same fallback loops, same accounting, same fatal messages
 * and exit status.  Go's uintptr is uintptr_t, unsafe.Pointer is void *.
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
/* any -> None.  *sysStat -= n and mapped-ready -= n, then release. */
void sysFree(void *v, uintptr_t n, sysMemStat *sysStat);
/* Ready -> Reserved.  mapped-ready -= n, then decommit. */
void sysFault(void *v, uintptr_t n);
/* None -> Reserved (v is a hint).  No accounting. */
void *sysReserve(void *v, uintptr_t n);
/* Reserved -> Prepared.  *sysStat += n; no OS call on Windows. */
void sysMap(void *v, uintptr_t n, sysMemStat *sysStat);
/* Go 1.25: Reserved -> None for a whole reservation.  No accounting. */
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
 * first, as sysReserveOS does.  *reserved = size.  Where the OS has no such
 * call, Go's sequence runs instead (then *reserved may be size+align).
 * Returns NULL with *reserved = 0 when the OS refuses, and for bad arguments
 * (size 0 or not a multiple of 4096, unaligned hint, align not a power of two
 * >= 4096, overflow): never fatal in exact mode; refused with an error in
 * checked modes, and the reservation tracked like sysReserveAligned's. */
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

/* sysMemStat.load: atomic read. */
uint64_t memwin_stat_load(const sysMemStat *s);
/* sysMemStat.add: atomic add, then Go's overflow check; on overflow prints
 * "runtime: val=<new> n=<delta>" and throws "sysMemStat overflow". */
void memwin_stat_add(sysMemStat *s, int64_t delta);
/* Process-wide mapped-ready bytes (Go's gcController.mappedReady), kept
 * exactly as Go keeps it (no overflow check; wraps). */
uint64_t memwin_mapped_ready(void);

/* ---- Extras ------------------------------------------------------------ */

/* Library version, "MAJOR.MINOR.PATCH". */
const char *memwin_version(void);
/* The newest Go release whose Windows memory-layer behaviour memwin matches
 * (behaviour is identical from Go 1.19 to this one). */
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
 * address outside the user address space) and leaves *info untouched. */
uint32_t memwin_query(const void *addr, memwin_region_info *info);

/* Fatal handler.  printed: the "runtime: ..." lines Go prints before the
 * throw (may be empty; each line ends in '\n'); message: the throw text
 * ("out of memory", ...).  The default handler writes printed, then
 * "fatal error: <message>\n" to stderr and exits the process with status 2.
 * A handler that returns makes the failing memwin call return to its caller
 * at once, without completing its operation. */
typedef void (*memwin_fatal_fn)(const char *printed, const char *message, void *ctx);
/* Installs handler (NULL restores the default); returns the previous one. */
memwin_fatal_fn memwin_set_fatal_handler(memwin_fatal_fn handler, void *ctx);
/* The handler in force (memwin_default_fatal if none) and, if ctx is not
 * NULL, its context: lets a new handler chain to the one it replaces. */
memwin_fatal_fn memwin_get_fatal_handler(void **ctx);
/* The default handler (print and exit 2), for handlers that chain to it. */
void memwin_default_fatal(const char *printed, const char *message, void *ctx);

/* ---- Checked and recoverable modes ------------------------------------ */

/* Modes, per process, switchable at run time (memwin_set_mode), chosen at
 * start by the environment variable MEMWIN_MODE=exact|checked|recoverable,
 * else by the build (CMake MEMWIN_DEFAULT_MODE; default exact).
 *   EXACT        Go's behaviour: no checks, Go's fatal errors.
 *   CHECKED      memwin tracks Go's state (None, Reserved, Prepared, Ready)
 *                of every page it reserved while checking was on, and
 *                refuses calls that break the handshake, with a precise
 *                message to the fatal handler.
 *   RECOVERABLE  as CHECKED, but a refused call, and any of Go's fatal
 *                errors, returns at once: the caller reads the reason with
 *                memwin_last_error() / memwin_last_error_message().  A
 *                refused call has no effect; an OS failure in the middle of
 *                Go's fallback loop leaves the pieces done before it. */
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
#define MEMWIN_ERR_SIZE 3          /* zero size, or not a multiple of 4096 */
#define MEMWIN_ERR_OVERFLOW 4      /* v + n wraps around */
#define MEMWIN_ERR_NOT_MANAGED 5   /* range holds pages memwin has not reserved (None) */
#define MEMWIN_ERR_STATE 6         /* a page is in the wrong state for the transition */
#define MEMWIN_ERR_NOT_BASE 7      /* release not of one whole reservation (or a double release) */
#define MEMWIN_ERR_ALIGN 8         /* sysReserveAligned: align not a power of two >= 4096 */
#define MEMWIN_ERR_ACCOUNTING 9    /* sysMemStat would overflow or underflow; prepared > n */
#define MEMWIN_ERR_OS 10           /* one of Go's fatal errors (message holds Go's text) */

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
