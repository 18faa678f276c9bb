/* C side of the conformance harness (windows/amd64, cgo, mingw-w64).
 *
 * Two "sides" run the same scenario in one process:
 *   CF_SIDE_GO     the Go runtime's own functions (called from Go through
 *                  //go:linkname); its Win32 calls go through the runtime's
 *                  procedure variables runtime._VirtualAlloc/_VirtualFree,
 *                  which cf_hook_install points at the hooks in native.c;
 *   CF_SIDE_MEMWIN memwin.dll, loaded by absolute path, called through its
 *                  exports; its Win32 calls go through memwin's primitive
 *                  table, in which the harness installs a tracing table.
 * For both, the harness records the class of every Win32 memory call the
 * step makes (on the scenario thread), injects failures the same way (the
 * Go side by its hook, the memwin side by memwin_fault_set) and can "squat"
 * an address right after a release to simulate a lost race. */
#ifndef CONFORM_NATIVE_H
#define CONFORM_NATIVE_H

#include <stddef.h>
#include <stdint.h>

enum { CF_SIDE_GO = 0, CF_SIDE_MEMWIN = 1 };

/* Operation codes for cf_mw_call (memwin's exports). */
enum {
    CF_OP_sysAllocOS = 1, CF_OP_sysUnusedOS, CF_OP_sysUsedOS, CF_OP_sysHugePageOS,
    CF_OP_sysNoHugePageOS, CF_OP_sysHugePageCollapseOS, CF_OP_sysFreeOS, CF_OP_sysFaultOS,
    CF_OP_sysReserveOS, CF_OP_sysMapOS, CF_OP_needZeroAfterSysUnusedOS,
    CF_OP_sysAlloc, CF_OP_sysUnused, CF_OP_sysUsed, CF_OP_sysHugePage, CF_OP_sysNoHugePage,
    CF_OP_sysHugePageCollapse, CF_OP_sysFree, CF_OP_sysFault, CF_OP_sysReserve, CF_OP_sysMap,
    CF_OP_sysUnreserve, CF_OP_sysReserveAligned, CF_OP_needZeroAfterSysUnused,
    CF_OP_COUNT
};

typedef struct cf_info {
    uintptr_t base, alloc_base, size;
    uint32_t alloc_protect, state, protect, err;
} cf_info;

/* ---- Go side ---------------------------------------------------------- */
/* Points runtime._VirtualAlloc/_VirtualFree at the hooks; 0 on success. */
int cf_hook_install(void);
/* Address of runtime.gcController (for reading mappedReady). */
uintptr_t cf_gccontroller_addr(void);
uint64_t cf_load64(uintptr_t addr);
/* A plain 8-byte read at any address (no alignment needed). */
uint64_t cf_peek64(uintptr_t addr);
void cf_add64(uintptr_t addr, int64_t delta);

/* ---- memwin.dll ------------------------------------------------------- */
/* Loads the DLL (wide absolute path) and resolves its exports; returns 0 or
 * writes a message to err. */
int cf_mw_load(const uint16_t *path, char *err, size_t cap);
/* 1 if the export of op was found. */
int cf_mw_has(int op);
/* Calls memwin's op; a,b,c are the arguments in Go's order without the
 * sysMemStat (which is memwin's side stat, see cf_mw_stat_*).  *ret2 gets
 * sysReserveAligned's reserved size. */
uintptr_t cf_mw_call(int op, uintptr_t a, uintptr_t b, uintptr_t c, uintptr_t *ret2);
uint64_t cf_mw_stat_get(void);
void cf_mw_stat_set(uint64_t v);
uint64_t cf_mw_mapped_ready(void);
const char *cf_mw_version(void);
/* The newest Go whose behaviour memwin.dll matches (memwin_go_version). */
const char *cf_mw_go_version(void);
/* Installs the tracing table under memwin (once). */
void cf_mw_trace_install(void);

/* ---- both sides -------------------------------------------------------- */
/* Starts recording the calls of this thread (clears the record). */
void cf_trace_begin(int side);
/* Stops recording; writes up to cap-1 class letters (lowercase succeeded,
 * uppercase failed: r reserve, c commit, a commit+reserve, d decommit,
 * f release) and returns the number of calls. */
size_t cf_trace_end(int side, char *buf, size_t cap);
/* Fails calls of the classes in ops (MEMWIN_FAULT_* bits) nth..nth+count-1
 * (count 0: all from nth) with error; as memwin_fault_set.  0 or 87. */
uint32_t cf_fault_set(int side, uint32_t ops, uint64_t nth, uint64_t count, uint32_t error);
void cf_fault_clear(int side);
/* After each of the next count releases made by the code under test,
 * reserve 64 KiB at the released base rounded up to align; the next release
 * frees that squatter instead of placing a new one. */
void cf_squat_set(int side, uintptr_t align, uint64_t count);
void cf_squat_clear(int side);
/* Reservations created by the code under test (successful MEM_RESERVE
 * calls, and MEM_COMMIT at NULL, on the scenario thread) and not yet
 * released by it: cf_created_take copies up to cap of them, forgets them
 * and returns how many there were. */
size_t cf_created_take(int side, uintptr_t *out, size_t cap);

/* The side's own VirtualQuery (kernel32 for Go, memwin_query for memwin). */
void cf_query(int side, uintptr_t addr, cf_info *out);
/* Unhooked reserve / release (kernel32, or memwin's host table). */
uintptr_t cf_raw_reserve(int side, uintptr_t addr, uintptr_t size);
int cf_raw_release(int side, uintptr_t addr);

/* Accessibility of one byte without faulting: bit 1 readable, bit 2
 * writable (the byte is written back unchanged). */
int cf_probe(uintptr_t addr);
/* What [addr, addr+n) reads (caller checked access): 0 every byte zero,
 * 1 every byte 0xA5 (the fill pattern), 2 anything else. */
int cf_content_class(uintptr_t addr, uintptr_t n);
void cf_fill(uintptr_t addr, uintptr_t n, int byte);

#endif

/* Parent process, memwin side: a fatal handler that records the text and
 * returns, so an unexpected memwin throw is reported as a difference instead
 * of ending the harness.  cf_mw_fatal_take copies "printed" + "fatal error:
 * message\n" and clears the record; returns 1 if there was a throw. */
int cf_mw_catch_fatal(int on);
int cf_mw_fatal_take(char *buf, size_t cap);

/* Wine's version ("" when not running under Wine). */
const char *cf_wine_version(void);
