/* The kernel's memory calls counted and timed (Linux x86-64): this program
 * defines mmap, mprotect, munmap and madvise, which go to the kernel through
 * syscall(2).  The dynamic linker looks a symbol up in the executable before
 * the libraries, so libmemwin.so's calls come here as much as the bench's
 * own raw ones: both sides of a replay are counted by the same code.  Per
 * thread, so the threaded suites' calls do not mix.  Built so only with
 * MEMWIN_BENCH_KCALLS (bench/CMakeLists.txt: not under a sanitizer). */
#define _GNU_SOURCE
#include "kcalls.h"

#if defined(MEMWIN_BENCH_KCALLS) && defined(__linux__) && defined(__x86_64__)
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <stdint.h>
#include <unistd.h>

static _Thread_local uint64_t kc_calls, kc_ns;
static _Thread_local int kc_timed;

static uint64_t kc_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* One kernel call a, b, c, d, e, f of number nr, counted (and timed). */
static long kc_call(long nr, long a, long b, long c, long d, long e, long f)
{
    uint64_t t0 = kc_timed ? kc_now() : 0;
    long r = syscall(nr, a, b, c, d, e, f);
    if (kc_timed)
        kc_ns += kc_now() - t0;
    kc_calls++;
    return r;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return (void *)kc_call(SYS_mmap, (long)addr, (long)len, prot, flags, fd, (long)off);
}

int mprotect(void *addr, size_t len, int prot)
{
    return (int)kc_call(SYS_mprotect, (long)addr, (long)len, prot, 0, 0, 0);
}

int munmap(void *addr, size_t len)
{
    return (int)kc_call(SYS_munmap, (long)addr, (long)len, 0, 0, 0, 0);
}

int madvise(void *addr, size_t len, int advice)
{
    return (int)kc_call(SYS_madvise, (long)addr, (long)len, advice, 0, 0, 0);
}

int kc_available(void)
{
    return 1;
}

/* What one clock read adds to a timed call: the least of 1000 differences
 * of two reads in a row. */
static uint64_t kc_clock_cost(void)
{
    static _Thread_local uint64_t cost = UINT64_MAX;
    if (cost == UINT64_MAX)
        for (int i = 0; i < 1000; i++) {
            uint64_t a = kc_now(), b = kc_now();
            if (b - a < cost)
                cost = b - a;
        }
    return cost;
}

void kc_begin(int timed)
{
    if (timed)
        (void)kc_clock_cost();
    kc_calls = kc_ns = 0;
    kc_timed = timed;
}

void kc_end(uint64_t *calls, uint64_t *ns)
{
    const uint64_t clocks = kc_timed ? kc_calls * kc_clock_cost() : 0;
    *calls = kc_calls;
    *ns = kc_ns > clocks ? kc_ns - clocks : 0;
    kc_timed = 0;
}
#else
int kc_available(void)
{
    return 0;
}

void kc_begin(int timed)
{
    (void)timed;
}

void kc_end(uint64_t *calls, uint64_t *ns)
{
    *calls = *ns = 0;
}
#endif
