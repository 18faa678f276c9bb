/* The kernel's memory calls of this program counted and timed (Linux x86-64,
 * not under a sanitizer): see kcalls.c.  Elsewhere kc_available() is 0 and the rest does
 * nothing. */
#ifndef MEMWIN_BENCH_KCALLS_H
#define MEMWIN_BENCH_KCALLS_H

#include <stdint.h>

/* Whether this build counts (mmap, mprotect, munmap and madvise are its own). */
int kc_available(void);
/* Zeroes the calling thread's counts; with timed, each call's time in the
 * kernel is added up too (two clock reads a call: only for the untimed
 * profiling passes). */
void kc_begin(int timed);
/* The calling thread's calls since kc_begin, and (if timed) the nanoseconds
 * spent in them, less one clock read's cost per call. */
void kc_end(uint64_t *calls, uint64_t *ns);

#endif
