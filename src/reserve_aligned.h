/* Internal: None -> Reserved at a multiple of align (reserve_aligned.c).
 * Go's release-and-re-reserve sequence (runtime/malloc.go); the one-call
 * variant (an extra); the policy sysReserveAligned follows (Go's sequence
 * unless memwin_set_reserve_aligned_one_call); and memwin_reserve_aligned's
 * exact-mode path, which refuses bad arguments plainly.  *reserved is
 * always written: the bytes reserved, 0 on failure. */
#ifndef MEMWIN_RESERVE_ALIGNED_H
#define MEMWIN_RESERVE_ALIGNED_H

#include <stdint.h>

void *memwin_reserve_aligned_go(void *v, uintptr_t size, uintptr_t align, uintptr_t *reserved);
void *memwin_reserve_aligned_one_call(void *v, uintptr_t size, uintptr_t align,
                                      uintptr_t *reserved);
void *memwin_reserve_aligned_policy(void *v, uintptr_t size, uintptr_t align,
                                    uintptr_t *reserved);
void *memwin_reserve_aligned_plain(void *v, uintptr_t size, uintptr_t align,
                                   uintptr_t *reserved);

#endif
