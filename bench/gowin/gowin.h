/* The C half of bench/gowin: memwin.dll loaded by absolute path and
 * kernel32 called directly, both timed in C loops; the clock; counting
 * hooks for the Go runtime's and memwin's VirtualAlloc/VirtualFree calls. */
#ifndef GOWIN_H
#define GOWIN_H
#include <stdint.h>

enum { GW_MEMWIN = 1, GW_RAW = 2 };
enum { GW_RESERVE, GW_MAP, GW_COMMIT, GW_DECOMMIT, GW_FAULT, GW_RELEASE, GW_CYCLE, GW_HANDSHAKE };

/* Loads memwin.dll from path (UTF-16, absolute); 0 or an error text. */
int gw_load(const uint16_t *path, char *err, int errlen);
const char *gw_memwin_version(void);
uint64_t gw_now(void);
/* One timed batch of k operations op of n bytes on side; ns. */
uint64_t gw_batch(int side, int op, uintptr_t n, int k);
/* One counted batch of memwin operations: primitive calls per operation. */
double gw_count(int op, uintptr_t n, int k);

/* k adjacent reservations of piece bytes each, reserved directly; their
 * pieces committed when commit is set.  Returns the base, 0 on failure. */
void *gw_adjacent(int k, uintptr_t piece, int commit);
void gw_adjacent_free(void *base, int k, uintptr_t piece);
/* memwin.dll's sysUnusedOS / sysUsedOS over [base, base+len); ns. */
uint64_t gw_memwin_os(int used, void *base, uintptr_t len);
/* The same effect directly: one VirtualFree/VirtualAlloc per piece; ns. */
uint64_t gw_raw_pieces(int used, void *base, int k, uintptr_t piece);
/* Counting on memwin's primitive table (on/off) and its count. */
void gw_memwin_counting(int on);
uint64_t gw_memwin_calls(void);

/* memwin.dll's sysReserveAligned + sysFreeOS; ns per pair over iters. */
uint64_t gw_memwin_aligned(uintptr_t size, uintptr_t align, int iters);

/* Hooks for the runtime's _VirtualAlloc/_VirtualFree slots: the address of
 * the hook functions, the originals they forward to, the counts (only calls
 * made on the thread that called gw_hook_watch). */
uintptr_t gw_hook_va(void);
uintptr_t gw_hook_vf(void);
void gw_hook_set_real(uintptr_t va, uintptr_t vf);
void gw_hook_watch(void);
uint64_t gw_hook_calls(void);
#endif
