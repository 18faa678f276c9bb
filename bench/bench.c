/*
 * memwin's C benchmark: memwin's exports against the raw primitives with the
 * same effect, in one process, timed side by side.
 *
 *   Linux   libmemwin.so (the Windows VM emulation) against mmap, mprotect
 *           and munmap called directly.
 *   Windows memwin.dll against kernel32's VirtualAlloc / VirtualFree called
 *           directly (run under Wine: that raw column is also Wine's own
 *           cost, which the report sets against the Linux emulation).
 *
 * Every figure is a batch of operations timed as a whole; the sides of one
 * case run interleaved, A B A B ..., for every repetition, after two
 * warm-up rounds.  No page is touched: the figures are the cost of the
 * virtual-memory bookkeeping (the system calls and memwin's own work), not
 * of page faults or zeroing, which would be the same on both sides.
 *
 * Output, one record a line, tab separated (bench/README.md):
 *   I key value                                  run information
 *   R suite case param side rep value            ns per operation
 *   C suite case param side metric value         counts per operation
 *
 * Usage: bench [--reps N] [--long] [suite ...] [--trace FILE ...]
 *   suites: trans calls scale threads fallback aligned components proposals
 *   (default: all of them), trace (syscall markers for strace; not in the
 *   default), replay (real programs' traces, tests/traces, uncompressed,
 *   each named by --trace: memwin exact, memwin checked and the raw calls
 *   with Go's effect; not in the default).  trans also takes --case NAME, --size N, --side memwin|raw and
 *   --order ab|ba|abba, to look at one case (e.g. under perf record).
 */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memwin.h"
#include "memwin_prim.h"
#include "kcalls.h"
#include "trace_replay.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "rtree.h" /* src/rtree.h: the emulation's tree, for the aligned prototype */
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#endif

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)
#define GRANULE (64 * KiB)

/* ---- parameters ----------------------------------------------------------- */

static int opt_reps = 21;     /* timed repetitions per case and side */
static int opt_long = 0;      /* --long: more repetitions and work */
static const char *opt_case;  /* --case NAME: trans runs only this transition */
static size_t opt_size;       /* --size N: trans runs only this size */
static int opt_side = -1;     /* --side memwin|raw: trans runs only this side */
static int opt_order = 0;     /* --order ab|ba|abba: side order in each repetition */
static const int warmup = 2;  /* untimed rounds before the timed ones */

static const size_t sizes[] = {4 * KiB, 64 * KiB, 1 * MiB, 16 * MiB, 64 * MiB};
#define NSIZES (sizeof sizes / sizeof sizes[0])

/* ---- output --------------------------------------------------------------- */

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void rec(const char *suite, const char *cas, uint64_t param, const char *side, int rep,
                double ns)
{
    printf("R\t%s\t%s\t%llu\t%s\t%d\t%.2f\n", suite, cas, (unsigned long long)param, side, rep, ns);
}

static void count(const char *suite, const char *cas, uint64_t param, const char *side,
                  const char *metric, double v)
{
    printf("C\t%s\t%s\t%llu\t%s\t%s\t%.4f\n", suite, cas, (unsigned long long)param, side, metric,
           v);
}

/* ---- the host: clock, raw primitives, threads, markers -------------------- */

#ifdef _WIN32
static LARGE_INTEGER qpf;
static uint64_t now_ns(void)
{
    LARGE_INTEGER c;
    uint64_t s, r;
    QueryPerformanceCounter(&c);
    s = (uint64_t)c.QuadPart / (uint64_t)qpf.QuadPart;
    r = (uint64_t)c.QuadPart % (uint64_t)qpf.QuadPart;
    return s * 1000000000ull + r * 1000000000ull / (uint64_t)qpf.QuadPart;
}
static void host_init(void)
{
    QueryPerformanceFrequency(&qpf);
}
static const char host_name[] = "windows";

static void *raw_reserve(size_t n)
{
    return VirtualAlloc(NULL, n, MEM_RESERVE, PAGE_READWRITE);
}
static void *raw_reserve_at(void *v, size_t n) /* v or NULL */
{
    void *p = VirtualAlloc(v, n, MEM_RESERVE, PAGE_READWRITE);
    if (p && p != v) {
        VirtualFree(p, 0, MEM_RELEASE);
        return NULL;
    }
    return p;
}
static int raw_commit(void *v, size_t n)
{
    return VirtualAlloc(v, n, MEM_COMMIT, PAGE_READWRITE) == v;
}
static int raw_decommit(void *v, size_t n)
{
    return VirtualFree(v, n, MEM_DECOMMIT) != 0;
}
static int raw_release(void *v, size_t n)
{
    (void)n;
    return VirtualFree(v, 0, MEM_RELEASE) != 0;
}
/* A marker strace can see: Wine looks the path up on the Unix side. */
static void marker(const char *label)
{
    char path[256];
    snprintf(path, sizeof path, "Z:\\memwin-bench-mark\\%s", label);
    GetFileAttributesA(path);
}

typedef HANDLE thread_t;
static DWORD WINAPI thread_tramp(LPVOID arg);
typedef void (*thread_fn)(void *);
struct tramp {
    thread_fn fn;
    void *arg;
};
static DWORD WINAPI thread_tramp(LPVOID arg)
{
    struct tramp *t = (struct tramp *)arg;
    t->fn(t->arg);
    return 0;
}
static struct tramp tramps[64];
static thread_t thread_start(int i, thread_fn fn, void *arg)
{
    HANDLE h;
    tramps[i].fn = fn;
    tramps[i].arg = arg;
    h = CreateThread(NULL, 0, thread_tramp, &tramps[i], 0, NULL);
    if (!h)
        die("CreateThread failed");
    return h;
}
static void thread_join(thread_t t)
{
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
}
static void cpu_yield(void)
{
    SwitchToThread();
}
#else
static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
static void host_init(void)
{
}
static const char host_name[] = "linux";

#define RAW_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)
static void *raw_reserve(size_t n)
{
    void *p = mmap(NULL, n, PROT_NONE, RAW_FLAGS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}
static void *raw_reserve_at(void *v, size_t n)
{
    void *p = mmap(v, n, PROT_NONE, RAW_FLAGS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (p != v) {
        munmap(p, n);
        return NULL;
    }
    return p;
}
static int raw_commit(void *v, size_t n)
{
    return mprotect(v, n, PROT_READ | PROT_WRITE) == 0;
}
/* Decommit with the emulation's effect: fresh inaccessible pages that read
 * zero when committed again, in one call. */
static int raw_decommit(void *v, size_t n)
{
    return mmap(v, n, PROT_NONE, RAW_FLAGS | MAP_FIXED, -1, 0) == v;
}
static int raw_release(void *v, size_t n)
{
    return munmap(v, n) == 0;
}
static void marker(const char *label)
{
    char path[256];
    snprintf(path, sizeof path, "/memwin-bench-mark/%s", label);
    (void)access(path, F_OK);
}

typedef pthread_t thread_t;
typedef void (*thread_fn)(void *);
struct tramp {
    thread_fn fn;
    void *arg;
};
static struct tramp tramps[64];
static void *thread_tramp(void *arg)
{
    struct tramp *t = (struct tramp *)arg;
    t->fn(t->arg);
    return NULL;
}
static thread_t thread_start(int i, thread_fn fn, void *arg)
{
    pthread_t t;
    tramps[i].fn = fn;
    tramps[i].arg = arg;
    if (pthread_create(&t, NULL, thread_tramp, &tramps[i]) != 0)
        die("pthread_create failed");
    return t;
}
static void thread_join(thread_t t)
{
    pthread_join(t, NULL);
}
static void cpu_yield(void)
{
    sched_yield();
}
#endif

static int atomic_load_int(int *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static void atomic_store_int(int *p, int v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}
static int atomic_inc_int(int *p)
{
    return __atomic_add_fetch(p, 1, __ATOMIC_ACQ_REL);
}

/* ---- a counting primitive table (primitive calls per transition) ---------- */

static const memwin_prim *cnt_below;
static _Thread_local uint64_t cnt_alloc, cnt_free, cnt_watch;
static _Thread_local uintptr_t cnt_watch_size; /* counts virtual_alloc calls of this size */

static void *cnt_virtual_alloc(void *a, uintptr_t n, uint32_t t, uint32_t p)
{
    cnt_alloc++;
    if (n == cnt_watch_size)
        cnt_watch++;
    return cnt_below->virtual_alloc(a, n, t, p);
}
static int cnt_virtual_free(void *a, uintptr_t n, uint32_t t)
{
    cnt_free++;
    return cnt_below->virtual_free(a, n, t);
}
/* The host's table with the two VM calls counted; counting_on fills the
 * other entries from the host's the first time. */
static memwin_prim cnt_table = {.virtual_alloc = cnt_virtual_alloc, .virtual_free = cnt_virtual_free};
static void counting_on(void)
{
    if (!cnt_below) {
        cnt_below = memwin_prim_host();
        memwin_prim_forward(&cnt_table, cnt_below);
        /* Still without the one-call aligned reservation: every reservation
         * goes through virtual_alloc and is counted. */
        cnt_table.virtual_alloc_aligned = NULL;
    }
    memwin_prim_set(&cnt_table);
}
static void counting_off(void)
{
    memwin_prim_set(NULL);
}

/* ---- the transitions, per side -------------------------------------------- */

enum side { MEMWIN, RAW };
static const char *const side_name[] = {"memwin", "raw"};

enum op { OP_RESERVE, OP_MAP, OP_COMMIT, OP_DECOMMIT, OP_FAULT, OP_RELEASE, OP_CYCLE, OP_HANDSHAKE, NOPS };
static const char *const op_name[] = {"reserve", "map", "commit", "decommit", "fault", "release",
                                      "cycle", "handshake"};

static sysMemStat bench_stat;

static void *s_reserve(int side, size_t n)
{
    void *p = side == MEMWIN ? sysReserve(NULL, n) : raw_reserve(n);
    if (!p)
        die("%s reserve of %zu bytes failed", side_name[side], n);
    return p;
}
static void s_map(int side, void *v, size_t n)
{
    if (side == MEMWIN)
        sysMap(v, n, &bench_stat);
}
static void s_commit(int side, void *v, size_t n)
{
    if (side == MEMWIN)
        sysUsed(v, n, n);
    else if (!raw_commit(v, n))
        die("raw commit failed");
}
static void s_decommit(int side, void *v, size_t n)
{
    if (side == MEMWIN)
        sysUnused(v, n);
    else if (!raw_decommit(v, n))
        die("raw decommit failed");
}
static void s_fault(int side, void *v, size_t n)
{
    if (side == MEMWIN)
        sysFault(v, n);
    else if (!raw_decommit(v, n))
        die("raw decommit failed");
}
/* Releases a region that went through s_map/s_commit (Go's sysFree). */
static void s_free(int side, void *v, size_t n)
{
    if (side == MEMWIN)
        sysFree(v, n, &bench_stat);
    else if (!raw_release(v, n))
        die("raw release failed");
}
/* Untimed teardown: releases without accounting. */
static void s_drop(int side, void *v, size_t n)
{
    if (side == MEMWIN)
        sysFreeOS(v, n);
    else if (!raw_release(v, n))
        die("raw release failed");
}

/* Operations per batch: 64, fewer for big regions (at most 1 GiB live). */
static int batch_for(size_t n)
{
    size_t k = (1024 * MiB) / n;
    return k > 64 ? 64 : k < 8 ? 8 : (int)k;
}

static void *regs[64];

/* Minor page faults of the process (Linux): read around timed batches. */
#ifdef _WIN32
static uint64_t minflt(void)
{
    return 0;
}
#else
#include <sys/resource.h>
static uint64_t minflt(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)ru.ru_minflt;
}
#endif
static uint64_t batch_flt; /* faults during the last batch's timed part */

/* Voluntary context switches of the process (blocking waits, e.g. on a
 * contended lock), all threads included (Linux). */
#ifdef _WIN32
static uint64_t nvcsw(void)
{
    return 0;
}
#else
static uint64_t nvcsw(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)ru.ru_nvcsw;
}
#endif
static uint64_t threads_nvcsw; /* during the last run_threads */

/* A batch of k transitions of one kind is set up, run and torn down by the
 * three functions below (shared by the timed, counting and tracing suites).
 * The cycle runs k times over one region, every other kind over k regions. */
static int op_regions(int op, int k)
{
    return op == OP_CYCLE ? 1 : k;
}

/* Brings the regions into the state the transition starts from: none for
 * reserve and the handshake, Reserved for map, Prepared for commit, Ready
 * for the rest. */
static void op_setup(int side, int op, void **r, int k, size_t n)
{
    int i, cnt = op_regions(op, k);
    if (op == OP_RESERVE || op == OP_HANDSHAKE)
        return;
    for (i = 0; i < cnt; i++) {
        r[i] = s_reserve(side, n);
        if (op != OP_MAP)
            s_map(side, r[i], n);
        if (op != OP_MAP && op != OP_COMMIT)
            s_commit(side, r[i], n);
    }
}

/* The k transitions themselves. */
static void op_run(int side, int op, void **r, int k, size_t n)
{
    int i;
    for (i = 0; i < k; i++) {
        switch (op) {
        case OP_RESERVE: r[i] = s_reserve(side, n); break;
        case OP_MAP: s_map(side, r[i], n); break;
        case OP_COMMIT: s_commit(side, r[i], n); break;
        case OP_DECOMMIT: s_decommit(side, r[i], n); break;
        case OP_FAULT: s_fault(side, r[i], n); break;
        case OP_RELEASE: s_free(side, r[i], n); break;
        case OP_CYCLE: /* Ready -> Prepared -> Ready */
            s_decommit(side, r[0], n);
            s_commit(side, r[0], n);
            break;
        case OP_HANDSHAKE: { /* None -> Reserved -> Prepared -> Ready -> None */
            void *p = s_reserve(side, n);
            s_map(side, p, n);
            s_commit(side, p, n);
            s_free(side, p, n);
            break;
        }
        }
    }
}

/* Releases what the transitions left, with balanced accounting where
 * memwin's counters were moved (Ready regions go back through sysFree). */
static void op_teardown(int side, int op, void **r, int k, size_t n)
{
    int i, cnt = op_regions(op, k);
    if (op == OP_RELEASE || op == OP_HANDSHAKE)
        return;
    for (i = 0; i < cnt; i++) {
        if (op == OP_RESERVE || op == OP_MAP) {
            s_drop(side, r[i], n);
            continue;
        }
        if (op == OP_DECOMMIT || op == OP_FAULT)
            s_commit(side, r[i], n);
        s_free(side, r[i], n);
    }
}

/* Timed: k transitions of one kind; returns ns, and the minor faults of the
 * timed part in batch_flt. */
static uint64_t batch(int side, int op, size_t n, int k)
{
    uint64_t t0, t1, f0;
    op_setup(side, op, regs, k, n);
    f0 = minflt();
    t0 = now_ns();
    op_run(side, op, regs, k, n);
    t1 = now_ns();
    batch_flt = minflt() - f0;
    op_teardown(side, op, regs, k, n);
    return t1 - t0;
}

/* The side that runs at position pos of repetition rep: A B in even
 * repetitions and B A in odd ones (--order abba, the default), so that
 * neither side always runs first. */
static int order_side(int rep, int pos)
{
    switch (opt_order) {
    case 1: return pos;     /* ab */
    case 2: return 1 - pos; /* ba */
    }
    return (rep & 1) ? 1 - pos : pos;
}

/* The same for n sides: forward in even repetitions, backward in odd ones. */
static int order_n(int rep, int pos, int n)
{
    return (rep & 1) ? n - 1 - pos : pos;
}

/* trans: every transition at every size, memwin and raw interleaved. */
static void suite_trans(void)
{
    size_t si;
    int op, rep, side;
    for (op = 0; op < NOPS; op++) {
        for (si = 0; si < NSIZES; si++) {
            size_t n = sizes[si];
            int k = batch_for(n);
            int nsides = op == OP_MAP ? 1 : 2; /* raw has no map: nothing to call */
            if ((opt_case && strcmp(opt_case, op_name[op]) != 0) || (opt_size && opt_size != n))
                continue;
            uint64_t flt[2] = {0, 0}, nops = 0;
            for (rep = -warmup; rep < opt_reps; rep++) {
                int si2;
                for (si2 = 0; si2 < nsides; si2++) {
                    uint64_t t;
                    side = nsides == 1 ? 0 : order_side(rep, si2);
                    if (opt_side >= 0 && side != opt_side)
                        continue;
                    t = batch(side, op, n, k);
                    if (rep >= 0) {
                        rec("trans", op_name[op], n, side_name[side], rep, (double)t / k);
                        flt[side] += batch_flt;
                    }
                }
                if (rep >= 0)
                    nops += (uint64_t)k;
            }
            if (strcmp(host_name, "linux") == 0)
                for (side = 0; side < nsides; side++)
                    count("trans", op_name[op], n, side_name[side], "minflt", (double)flt[side] / nops);
        }
    }
}

/* calls: primitive calls (VirtualAlloc/VirtualFree) per memwin transition. */
static void suite_calls(void)
{
    size_t si;
    int op;
    const int n_ops = 16;
    for (op = 0; op < NOPS; op++) {
        for (si = 0; si < NSIZES; si++) {
            size_t n = sizes[si];
            uint64_t a0, f0;
            void *r[16];
            /* set up as batch() does, count only the transitions */
            op_setup(MEMWIN, op, r, n_ops, n);
            counting_on();
            a0 = cnt_alloc;
            f0 = cnt_free;
            op_run(MEMWIN, op, r, n_ops, n);
            count("calls", op_name[op], n, "memwin", "prim", (double)(cnt_alloc - a0 + cnt_free - f0) / n_ops);
            counting_off();
            op_teardown(MEMWIN, op, r, n_ops, n);
        }
    }
}

/* ---- trace: markers around n transitions, for strace ----------------------- */

static void trace_threads(void);

static void suite_trace(void)
{
    int op, side, rep;
    size_t si;
    const int counts[2] = {0, 32};
    for (op = 0; op < NOPS; op++)
        for (si = 0; si < NSIZES; si++)
            for (side = 0; side < 2; side++) {
                size_t n = sizes[si];
                if (op == OP_MAP && side == RAW)
                    continue;
                for (rep = 0; rep < 2; rep++) {
                    int k = counts[rep];
                    char label[128];
                    op_setup(side, op, regs, k, n);
                    snprintf(label, sizeof label, "begin-%s-%zu-%s-%d", op_name[op], n, side_name[side], k);
                    marker(label);
                    op_run(side, op, regs, k, n);
                    snprintf(label, sizeof label, "end-%s-%zu-%s-%d", op_name[op], n, side_name[side], k);
                    marker(label);
                    op_teardown(side, op, regs, k, n);
                }
            }
    trace_threads();
}

struct worker {
    int side, op, iters;
    size_t n;
    int *ready, *go;
    uint64_t t_end;
    uint64_t retries; /* aligned suite */
    int variant;      /* aligned suite */
    size_t align;     /* aligned suite */
};

/* threads: markers around 8 threads cycling (futex counts, for strace). */
static void worker_cycle(void *arg);
static uint64_t run_threads(struct worker *ws, int nthreads, thread_fn fn);
static void trace_threads(void)
{
    const int counts[2] = {0, 200};
    int side, rep, i;
    for (side = 0; side < 2; side++)
        for (rep = 0; rep < 2; rep++) {
            struct worker ws[8];
            char label[128];
            memset(ws, 0, sizeof ws);
            for (i = 0; i < 8; i++) {
                ws[i].side = side;
                ws[i].op = OP_CYCLE;
                ws[i].iters = counts[rep];
                ws[i].n = GRANULE;
            }
            snprintf(label, sizeof label, "begin-threads8-%zu-%s-%d", GRANULE, side_name[side], 8 * counts[rep]);
            marker(label);
            run_threads(ws, 8, worker_cycle);
            snprintf(label, sizeof label, "end-threads8-%zu-%s-%d", GRANULE, side_name[side], 8 * counts[rep]);
            marker(label);
        }
}

/* ---- scale: the cycle and the handshake with N live reservations ------------ */

#define SCALE_TARGETS 64

static void suite_scale(void)
{
    static const int pops[] = {10, 1000, 10000, 100000};
    const size_t n = GRANULE;
    size_t pi;
    int maxpop = 100000;
    void **fill = (void **)malloc(sizeof(void *) * (size_t)maxpop);
    void *tgt[SCALE_TARGETS];
    if (!fill)
        die("out of memory");
    for (pi = 0; pi < sizeof pops / sizeof pops[0]; pi++) {
        int pop = pops[pi], nt = pop < SCALE_TARGETS ? pop : SCALE_TARGETS, every = pop / nt;
        int i, t = 0, rep, side;
        uint64_t t0;
        /* The targets are memwin reservations spread over the population, the
         * same for both sides: commit then decommit, through memwin or with
         * the raw calls (which leave memwin's page state as it was, reserved),
         * so both sides meet the same kernel mappings. */
        t0 = now_ns();
        for (i = 0; i < pop; i++) {
            fill[i] = sysReserve(NULL, n);
            if (!fill[i]) { /* Wine: VirtualAlloc fails once the kernel's map count is reached */
                count("scale", "populate", (uint64_t)pop, "memwin", "failed_at", (double)i);
                while (i-- > 0)
                    s_drop(MEMWIN, fill[i], n);
                break;
            }
            if (i % every == 0 && t < nt)
                tgt[t++] = fill[i];
        }
        if (i < pop)
            continue;
        count("scale", "populate", (uint64_t)pop, "memwin", "ns_per_reserve", (double)(now_ns() - t0) / pop);
        for (i = 0; i < nt; i++)
            s_map(MEMWIN, tgt[i], n);
        for (rep = -warmup; rep < opt_reps; rep++) {
            for (int pos = 0; pos < 2; pos++) { /* cycle over the targets in turn */
                const int rounds = 4;
                int r;
                uint64_t a, b;
                side = order_n(rep, pos, 2);
                a = now_ns();
                for (r = 0; r < rounds; r++)
                    for (i = 0; i < nt; i++) {
                        s_commit(side, tgt[i], n);
                        s_decommit(side, tgt[i], n);
                    }
                b = now_ns();
                if (rep >= 0)
                    rec("scale", "cycle", (uint64_t)pop, side_name[side], rep, (double)(b - a) / (rounds * nt));
            }
            for (int pos = 0; pos < 2; pos++) {
                uint64_t tt;
                side = order_n(rep, pos, 2);
                tt = batch(side, OP_HANDSHAKE, n, 64);
                if (rep >= 0)
                    rec("scale", "handshake", (uint64_t)pop, side_name[side], rep, (double)tt / 64);
            }
        }
        for (i = 0; i < pop; i++)
            s_drop(MEMWIN, fill[i], n);
    }
    free(fill);
}

/* ---- threads: the cycle and the handshake with 1, 2 and 8 threads ----------- */



static void worker_cycle(void *arg)
{
    struct worker *w = (struct worker *)arg;
    void *p = NULL;
    int i;
    if (w->op == OP_CYCLE) {
        p = s_reserve(w->side, w->n);
        s_map(w->side, p, w->n);
        s_commit(w->side, p, w->n);
    }
    atomic_inc_int(w->ready);
    while (!atomic_load_int(w->go))
        cpu_yield();
    for (i = 0; i < w->iters; i++) {
        if (w->op == OP_CYCLE) {
            s_decommit(w->side, p, w->n);
            s_commit(w->side, p, w->n);
        } else {
            void *q = s_reserve(w->side, w->n);
            s_map(w->side, q, w->n);
            s_commit(w->side, q, w->n);
            s_free(w->side, q, w->n);
        }
    }
    w->t_end = now_ns();
    if (p)
        s_free(w->side, p, w->n);
}

/* Runs nthreads workers of fn; returns the wall time from the start signal
 * to the last worker's end. */
static uint64_t run_threads(struct worker *ws, int nthreads, thread_fn fn)
{
    thread_t th[64];
    int ready = 0, go = 0, i;
    uint64_t t0, end = 0;
    for (i = 0; i < nthreads; i++) {
        ws[i].ready = &ready;
        ws[i].go = &go;
        th[i] = thread_start(i, fn, &ws[i]);
    }
    while (atomic_load_int(&ready) < nthreads)
        cpu_yield();
    threads_nvcsw = nvcsw();
    t0 = now_ns();
    atomic_store_int(&go, 1);
    for (i = 0; i < nthreads; i++) {
        thread_join(th[i]);
        if (ws[i].t_end > end)
            end = ws[i].t_end;
    }
    threads_nvcsw = nvcsw() - threads_nvcsw;
    return end - t0;
}

static void suite_threads(void)
{
    static const int tcounts[] = {1, 2, 8};
    const int total = opt_long ? 32000 : 6000;
    const int reps = opt_reps < 9 ? opt_reps : 9;
    int ti, rep, side, opi;
    static const int ops[] = {OP_CYCLE, OP_HANDSHAKE};
    for (opi = 0; opi < 2; opi++)
        for (ti = 0; ti < 3; ti++) {
            int nt = tcounts[ti];
            uint64_t sw[2] = {0, 0}, nops[2] = {0, 0};
            for (rep = -1; rep < reps; rep++)
                for (int pos = 0; pos < 2; pos++) {
                    side = order_n(rep, pos, 2);
                    struct worker ws[8];
                    int i, per = total / nt / (ops[opi] == OP_HANDSHAKE ? 2 : 1);
                    uint64_t t;
                    memset(ws, 0, sizeof ws);
                    for (i = 0; i < nt; i++) {
                        ws[i].side = side;
                        ws[i].op = ops[opi];
                        ws[i].iters = per;
                        ws[i].n = GRANULE;
                    }
                    t = run_threads(ws, nt, worker_cycle);
                    if (rep >= 0) {
                        rec("threads", op_name[ops[opi]], (uint64_t)nt, side_name[side], rep,
                            (double)t / ((double)per * nt));
                        sw[side] += threads_nvcsw;
                        nops[side] += (uint64_t)per * nt;
                    }
                }
            if (strcmp(host_name, "linux") == 0)
                for (side = 0; side < 2; side++)
                    count("threads", op_name[ops[opi]], (uint64_t)nt, side_name[side], "nvcsw", (double)sw[side] / nops[side]);
        }
}

/* ---- fallback: Go's halving loops over k adjacent reservations ------------- */

#define FB_GROUPS 8
#define FB_PIECE GRANULE

/* Reserves k adjacent reservations of FB_PIECE bytes on side; returns the
 * base (each piece is its own reservation). */
static char *adjacent(int side, int k)
{
    int attempt;
    for (attempt = 0; attempt < 100; attempt++) {
        char *base = (char *)s_reserve(side, (size_t)k * FB_PIECE);
        int i;
        s_drop(side, base, (size_t)k * FB_PIECE);
        for (i = 0; i < k; i++) {
            char *want = base + (size_t)i * FB_PIECE, *got;
            got = side == MEMWIN ? (char *)sysReserve(want, FB_PIECE) : (char *)raw_reserve_at(want, FB_PIECE);
            if (got != want) {
                if (got)
                    s_drop(side, got, FB_PIECE);
                while (i-- > 0)
                    s_drop(side, base + (size_t)i * FB_PIECE, FB_PIECE);
                break;
            }
        }
        if (i == k)
            return base;
    }
    die("could not reserve %d adjacent reservations", k);
    return NULL;
}

enum fb_side { FB_MEMWIN, FB_RAW, FB_RAWONE };
static const char *const fb_side_name[] = {"memwin", "raw", "rawone"};

static void suite_fallback(void)
{
    static const int ks[] = {1, 2, 3, 4, 8, 16, 32, 64};
    int ki, rep, fs, g, i, opi;
    const int nfs = strcmp(host_name, "linux") == 0 ? 3 : 2;
    for (opi = 0; opi < 2; opi++) { /* 0: sysUnused across, 1: sysUsed across */
        const char *cas = opi == 0 ? "unused" : "used";
        for (ki = 0; ki < (int)(sizeof ks / sizeof ks[0]); ki++) {
            int k = ks[ki];
            size_t len = (size_t)k * FB_PIECE;
            for (rep = -warmup; rep <= opt_reps; rep++)
                for (int pos = 0; pos < nfs; pos++) {
                    fs = order_n(rep, pos, nfs);
                    int side = fs == FB_MEMWIN ? MEMWIN : RAW;
                    char *base[FB_GROUPS];
                    uint64_t t0, t1, a0 = 0, f0 = 0;
                    int counting = rep == opt_reps; /* an extra, untimed pass counts calls */
                    if (counting && fs != FB_MEMWIN)
                        continue;
                    for (g = 0; g < FB_GROUPS; g++) {
                        base[g] = adjacent(side, k);
                        for (i = 0; i < k; i++) {
                            s_map(side, base[g] + (size_t)i * FB_PIECE, FB_PIECE);
                            if (opi == 0)
                                s_commit(side, base[g] + (size_t)i * FB_PIECE, FB_PIECE);
                        }
                    }
                    if (counting) {
                        counting_on();
                        a0 = cnt_alloc;
                        f0 = cnt_free;
                    }
                    t0 = now_ns();
                    for (g = 0; g < FB_GROUPS; g++) {
                        if (fs == FB_MEMWIN) {
                            if (opi == 0)
                                sysUnused(base[g], len);
                            else
                                sysUsed(base[g], len, len);
                        } else if (fs == FB_RAW) {
                            for (i = 0; i < k; i++) {
                                char *p = base[g] + (size_t)i * FB_PIECE;
                                if (!(opi == 0 ? raw_decommit(p, FB_PIECE) : raw_commit(p, FB_PIECE)))
                                    die("raw fallback piece failed");
                            }
                        } else if (!(opi == 0 ? raw_decommit(base[g], len) : raw_commit(base[g], len))) {
                            die("raw fallback range failed");
                        }
                    }
                    t1 = now_ns();
                    if (counting) {
                        count("fallback", cas, (uint64_t)k, "memwin", "prim",
                              (double)(cnt_alloc - a0 + cnt_free - f0) / FB_GROUPS);
                        counting_off();
                    } else if (rep >= 0) {
                        rec("fallback", cas, (uint64_t)k, fb_side_name[fs], rep, (double)(t1 - t0) / FB_GROUPS);
                    }
                    for (g = 0; g < FB_GROUPS; g++)
                        for (i = 0; i < k; i++)
                            s_drop(side, base[g] + (size_t)i * FB_PIECE, FB_PIECE);
                }
        }
    }
}

/* ---- aligned: sysReserveAligned against memwin_reserve_aligned (one call) -- */

enum al_variant { AL_MEMWIN, AL_RAWLOOP, AL_RAWTRIM, AL_ONECALL, NAL };
static const char *const al_name[] = {"memwin", "rawloop", "rawtrim", "onecall"};

/* Go's Windows strategy over the raw primitives: reserve size+align; if
 * unaligned, release and re-reserve exactly size at the aligned address;
 * another thread may take it first, then start again. */
static void *rawloop_reserve(size_t size, size_t align, size_t *reserved, uint64_t *retries)
{
    for (;;) {
        uintptr_t p = (uintptr_t)raw_reserve(size + align), a;
        void *q;
        if (!p)
            die("rawloop reserve failed");
        if ((p & (align - 1)) == 0) {
            *reserved = size + align;
            return (void *)p;
        }
        raw_release((void *)p, size + align);
        a = (p + align - 1) & ~(uintptr_t)(align - 1);
        q = raw_reserve_at((void *)a, size);
        if (q) {
            *reserved = size;
            return q;
        }
        ++*retries;
    }
}

#ifdef _WIN32
static const int have_trim = 0;
static void *rawtrim_reserve(size_t size, size_t align)
{
    (void)size, (void)align;
    return NULL;
}
#else
static const int have_trim = 1;
/* Reserve size+align, unmap the unaligned head and the tail: no window in
 * which another thread can take the aligned range. */
static void *rawtrim_reserve(size_t size, size_t align)
{
    uintptr_t p = (uintptr_t)raw_reserve(size + align), a, head;
    if (!p)
        die("rawtrim reserve failed");
    a = (p + align - 1) & ~(uintptr_t)(align - 1);
    head = a - p;
    if (head)
        munmap((void *)p, head);
    if (align - head)
        munmap((void *)(a + size), align - head);
    return (void *)a;
}

#endif

static void worker_aligned(void *arg)
{
    struct worker *w = (struct worker *)arg;
    int i;
    if (w->variant == AL_MEMWIN && w->retries == 1) { /* counting pass */
        cnt_watch_size = w->n + w->align;
        cnt_watch = 0;
    }
    w->retries = 0;
    atomic_inc_int(w->ready);
    while (!atomic_load_int(w->go))
        cpu_yield();
    for (i = 0; i < w->iters; i++) {
        size_t reserved = 0;
        void *p;
        switch (w->variant) {
        case AL_MEMWIN:
            p = sysReserveAligned(NULL, w->n, w->align, &reserved);
            if (!p)
                die("sysReserveAligned failed");
            sysFreeOS(p, reserved);
            break;
        case AL_RAWLOOP:
            p = rawloop_reserve(w->n, w->align, &reserved, &w->retries);
            raw_release(p, reserved);
            break;
        case AL_RAWTRIM:
            p = rawtrim_reserve(w->n, w->align);
            raw_release(p, w->n);
            break;
        default:
            p = memwin_reserve_aligned(NULL, w->n, w->align, &reserved);
            if (!p || reserved != w->n)
                die("memwin_reserve_aligned failed");
            sysFreeOS(p, reserved);
            break;
        }
    }
    w->t_end = now_ns();
    if (cnt_watch_size) { /* loop rounds beyond the first = lost races */
        w->retries = cnt_watch - (uint64_t)w->iters;
        cnt_watch_size = 0;
    }
}

static void suite_aligned(void)
{
    static const size_t al_sizes[] = {4 * MiB, 64 * MiB};
    static const int tcounts[] = {1, 8};
    const int per = opt_long ? 1000 : 200;
    const int reps = opt_reps < 9 ? opt_reps : 9;
    size_t si;
    int ti, rep, v, i;
    for (si = 0; si < 2; si++)
        for (ti = 0; ti < 2; ti++) {
            int nt = tcounts[ti];
            size_t n = al_sizes[si];
            uint64_t retries[NAL] = {0}, ops[NAL] = {0};
            for (rep = -1; rep <= reps; rep++)
                for (int pos = 0; pos < NAL; pos++) {
                    v = order_n(rep, pos, NAL);
                    struct worker ws[8];
                    uint64_t t;
                    int counting = rep == reps;
                    if (v == AL_RAWTRIM && !have_trim)
                        continue;
                    memset(ws, 0, sizeof ws);
                    for (i = 0; i < nt; i++) {
                        ws[i].variant = v;
                        ws[i].iters = per;
                        ws[i].n = n;
                        ws[i].align = n;
                        ws[i].retries = counting ? 1 : 0;
                    }
                    if (counting && v == AL_MEMWIN)
                        counting_on();
                    t = run_threads(ws, nt, worker_aligned);
                    if (counting && v == AL_MEMWIN)
                        counting_off();
                    if (rep >= 0 && !counting)
                        rec("aligned", nt == 1 ? "t1" : "t8", n, al_name[v], rep, (double)t / ((double)per * nt));
                    if (rep >= 0 && (counting || v == AL_RAWLOOP))
                        for (i = 0; i < nt; i++) {
                            retries[v] += ws[i].retries;
                            ops[v] += (uint64_t)per;
                        }
                }
            for (v = 0; v < NAL; v++)
                if (ops[v])
                    count("aligned", nt == 1 ? "t1" : "t8", n, al_name[v], "retries", (double)retries[v] / ops[v]);
        }
}

/* ---- components: what memwin adds to each call --------------------------- */

/* A primitive table that does nothing and succeeds: memwin's own logic
 * (checks, accounting, Go's OS layer) timed without any system call. */
static void *null_virtual_alloc(void *a, uintptr_t n, uint32_t t, uint32_t p)
{
    (void)n, (void)t, (void)p;
    return a ? a : (void *)(uintptr_t)0x10000;
}
static int null_virtual_free(void *a, uintptr_t n, uint32_t t)
{
    (void)a, (void)n, (void)t;
    return 1;
}
/* The host's table with allocation and release doing nothing;
 * null_table_get fills the other entries from the host's the first time. */
static memwin_prim null_table = {.virtual_alloc = null_virtual_alloc, .virtual_free = null_virtual_free};
static const memwin_prim *null_table_get(void)
{
    static int filled;
    if (!filled) {
        memwin_prim_forward(&null_table, memwin_prim_host());
        null_table.virtual_alloc_aligned = NULL; /* reservations stay null_virtual_alloc's */
        filled = 1;
    }
    return &null_table;
}

static void components_logic(int rep)
{
    const int iters = 20000;
    void *v = (void *)(uintptr_t)0x10000;
    uint64_t t0;
    int i;
    memwin_prim_set(null_table_get());
    t0 = now_ns();
    for (i = 0; i < iters; i++)
        v = sysReserve(NULL, 65536);
    rec("components", "logic", 0, "reserve", rep, (double)(now_ns() - t0) / iters);
    t0 = now_ns();
    for (i = 0; i < iters; i++)
        sysMap(v, 65536, &bench_stat);
    rec("components", "logic", 0, "map", rep, (double)(now_ns() - t0) / iters);
    t0 = now_ns();
    for (i = 0; i < iters; i++)
        sysUsed(v, 65536, 65536);
    rec("components", "logic", 0, "commit", rep, (double)(now_ns() - t0) / iters);
    t0 = now_ns();
    for (i = 0; i < iters; i++)
        sysUnused(v, 65536);
    rec("components", "logic", 0, "decommit", rep, (double)(now_ns() - t0) / iters);
    t0 = now_ns();
    for (i = 0; i < iters; i++)
        sysFree(v, 65536, &bench_stat);
    rec("components", "logic", 0, "release", rep, (double)(now_ns() - t0) / iters);
    memwin_prim_set(NULL);
}

#ifndef _WIN32
static volatile uint8_t sink;
/* Through volatile pointers, so the compiler cannot elide the pairs. */
static void *(*volatile calloc_fn)(size_t, size_t) = calloc;
static void (*volatile free_fn)(void *) = free;
static void *(*volatile memset_fn)(void *, int, size_t) = memset;

/* A record as large as the emulation's (prim_linux.c's emu_resv). */
typedef struct comp_resv {
    rtree_node node;
    uintptr_t base, size, span;
    uint32_t alloc_protect;
    uint8_t *pages;
} comp_resv;

/* The alternative table: a two-level index of 64 KiB granules (47-bit
 * addresses: 2^15 leaves of 2^16 pointers, allocated when first used), as
 * Go's own heap arena index works: a lookup is two dependent loads. */
static comp_resv **gx_top[1 << 15];

static void gx_set(uintptr_t base, uintptr_t span, comp_resv *r)
{
    uintptr_t g;
    for (g = base >> 16; g < (base + span) >> 16; g++) {
        comp_resv **leaf = gx_top[(g >> 16) & 0x7fff];
        if (!leaf) {
            leaf = (comp_resv **)calloc((size_t)1 << 16, sizeof *leaf);
            if (!leaf)
                die("out of memory");
            gx_top[(g >> 16) & 0x7fff] = leaf;
        }
        leaf[g & 0xffff] = r;
    }
}

static comp_resv *gx_find(uintptr_t addr)
{
    comp_resv **leaf = gx_top[(addr >> 32) & 0x7fff];
    return leaf ? leaf[(addr >> 16) & 0xffff] : NULL;
}

static void gx_clear(void)
{
    size_t i;
    for (i = 0; i < sizeof gx_top / sizeof gx_top[0]; i++) {
        free(gx_top[i]);
        gx_top[i] = NULL;
    }
}

static void components_linux(int rep)
{
    static const int pops[] = {10, 1000, 10000, 100000};
    const int iters = 2000;
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    uint64_t t0;
    size_t si;
    int i, k;
    t0 = now_ns();
    for (i = 0; i < iters; i++) {
        pthread_mutex_lock(&m);
        pthread_mutex_unlock(&m);
    }
    rec("components", "mutex", 0, "lock+unlock", rep, (double)(now_ns() - t0) / iters);
    for (si = 0; si < NSIZES; si++) {
        size_t pages = sizes[si] / 4096, words = (pages + 63) / 64;
        uint8_t *st = (uint8_t *)calloc(pages, 1);
        uint64_t *bits = (uint64_t *)calloc(words, 8);
        void *a, *b;
        t0 = now_ns();
        for (k = 0; k < iters / 10; k++) { /* emu_reserve's record and page-state bytes */
            a = calloc_fn(1, sizeof(comp_resv));
            b = calloc_fn(pages, 1);
            sink = *(uint8_t *)a + *(uint8_t *)b;
            free_fn(b);
            free_fn(a);
        }
        rec("components", "calloc", sizes[si], "record+pages", rep, (double)(now_ns() - t0) / (iters / 10));
        t0 = now_ns();
        for (k = 0; k < iters / 10; k++) { /* emu_commit / emu_decommit: memset of the range */
            memset_fn(st, k & 1 ? 0 : 4, pages);
            sink = st[pages - 1];
        }
        rec("components", "pagestate", sizes[si], "bytes", rep, (double)(now_ns() - t0) / (iters / 10));
        t0 = now_ns();
        for (k = 0; k < iters / 10; k++) { /* the alternative: one bit a page, word-wise */
            size_t w;
            uint64_t fill = k & 1 ? 0 : ~(uint64_t)0;
            for (w = 0; w < words; w++)
                bits[w] = fill;
            sink = (uint8_t)bits[words - 1];
        }
        rec("components", "pagestate", sizes[si], "bitmap", rep, (double)(now_ns() - t0) / (iters / 10));
        free(bits);
        free(st);
    }
    for (k = 0; k < (int)(sizeof pops / sizeof pops[0]); k++) {
        int pop = pops[k], nt = pop < 64 ? pop : 64, every = pop / nt, r;
        comp_resv **nodes = (comp_resv **)malloc(sizeof *nodes * (size_t)pop);
        rtree_node *root = NULL;
        uintptr_t key = (uintptr_t)0x7f0000000000ull;
        const int rounds = 64;
        for (i = 0; i < pop; i++) { /* allocated and keyed as the emulation does */
            nodes[i] = (comp_resv *)calloc(1, sizeof(comp_resv));
            nodes[i]->node.key = key;
            key -= 65536;
            root = rtree_insert(root, &nodes[i]->node);
        }
        t0 = now_ns();
        for (r = 0; r < rounds; r++)
            for (i = 0; i < nt; i++)
                sink = (uint8_t)rtree_floor(root, nodes[i * every]->node.key + 4096)->key;
        rec("components", "tree-lookup", (uint64_t)pop, "rtree_floor", rep, (double)(now_ns() - t0) / (rounds * nt));
        {
            /* random reservations among all of them: the paths do not stay in cache */
            const int nr = pop < 4096 ? pop : 4096;
            uintptr_t *keys = (uintptr_t *)malloc(sizeof *keys * (size_t)nr);
            uint64_t x = 88172645463325252ull + (uint64_t)rep;
            for (i = 0; i < nr; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                keys[i] = nodes[x % (uint64_t)pop]->node.key + 4096;
            }
            t0 = now_ns();
            for (r = 0; r < 4; r++)
                for (i = 0; i < nr; i++)
                    sink = (uint8_t)rtree_floor(root, keys[i])->key;
            rec("components", "tree-random", (uint64_t)pop, "rtree_floor", rep, (double)(now_ns() - t0) / (4.0 * nr));
            for (i = 0; i < pop; i++)
                gx_set(nodes[i]->node.key, 65536, nodes[i]);
            t0 = now_ns();
            for (r = 0; r < 4; r++)
                for (i = 0; i < nr; i++)
                    sink = (uint8_t)gx_find(keys[i])->node.key;
            rec("components", "tree-random", (uint64_t)pop, "granule-index", rep, (double)(now_ns() - t0) / (4.0 * nr));
            gx_clear();
            free(keys);
        }
        t0 = now_ns();
        for (r = 0; r < rounds * 4; r++) {
            comp_resv extra;
            extra.node.key = key;
            root = rtree_insert(root, &extra.node);
            root = rtree_remove(root, key);
        }
        rec("components", "tree-insert-remove", (uint64_t)pop, "rtree", rep, (double)(now_ns() - t0) / (rounds * 4));
        if (k == 0) { /* the index's cost at insertion: one pointer per granule */
            comp_resv extra;
            size_t sj;
            for (sj = 0; sj < NSIZES; sj++) {
                uintptr_t span = (sizes[sj] + 65535) & ~(uintptr_t)65535;
                gx_set(key - span, span, &extra); /* leaf allocation outside the timing */
                t0 = now_ns();
                for (r = 0; r < rounds; r++) {
                    gx_set(key - span, span, &extra);
                    gx_set(key - span, span, NULL);
                }
                rec("components", "index-insert-remove", sizes[sj], "granule-index", rep, (double)(now_ns() - t0) / rounds);
            }
            gx_clear();
        }
        for (i = 0; i < pop; i++)
            free(nodes[i]);
        free(nodes);
    }
}
#else
static void components_linux(int rep)
{
    (void)rep;
}
#endif

static void suite_components(void)
{
    int rep;
    for (rep = 0; rep < opt_reps; rep++) {
        components_logic(rep);
        components_linux(rep);
    }
}

/* ---- proposals: the emulation's 64 KiB placement, today's and a hinted one -- */

#ifndef _WIN32
static uint64_t px_calls; /* system calls made by the placement strategies */

/* Today's strategy (prim_linux.c's emu_map for an address-free request):
 * mmap anywhere; if the result is not 64 KiB aligned, unmap it, map a
 * granule more and trim both ends. */
static uintptr_t place_today(size_t span)
{
    uintptr_t p = (uintptr_t)mmap(NULL, span, PROT_NONE, RAW_FLAGS, -1, 0), a, head;
    px_calls++;
    if (p == (uintptr_t)MAP_FAILED)
        die("mmap failed");
    if ((p & (GRANULE - 1)) == 0)
        return p;
    munmap((void *)p, span);
    p = (uintptr_t)mmap(NULL, span + GRANULE, PROT_NONE, RAW_FLAGS, -1, 0);
    px_calls += 2;
    if (p == (uintptr_t)MAP_FAILED)
        die("mmap failed");
    a = (p + GRANULE - 1) & ~(uintptr_t)(GRANULE - 1);
    head = a - p;
    if (head) {
        munmap((void *)p, head);
        px_calls++;
    }
    munmap((void *)(a + span), GRANULE - head);
    px_calls++;
    return a;
}

/* The proposal: remember where the last placement went (guarded by the
 * table's lock in the emulation) and first try directly below it with
 * MAP_FIXED_NOREPLACE, an aligned address the kernel's top-down layout
 * would hand out next anyway; a release of the lowest reservation moves the
 * hint back up so the hole is reused.  Falls back to today's strategy. */
static uintptr_t hint_low; /* lowest base placed; 0: none yet */

static uintptr_t place_hint(size_t span)
{
    uintptr_t a;
    if (hint_low > span + 0x100000000ull) {
        uintptr_t h = hint_low - span;
        void *p = mmap((void *)h, span, PROT_NONE, RAW_FLAGS | MAP_FIXED_NOREPLACE, -1, 0);
        px_calls++;
        if (p == (void *)h) {
            hint_low = h;
            return h;
        }
        if (p != MAP_FAILED) { /* a kernel without MAP_FIXED_NOREPLACE */
            munmap(p, span);
            px_calls++;
        }
    }
    a = place_today(span);
    hint_low = a;
    return a;
}

static void unplace_hint(uintptr_t base, size_t span)
{
    munmap((void *)base, span);
    px_calls++;
    if (base == hint_low)
        hint_low = base + span;
}

static void unplace_today(uintptr_t base, size_t span)
{
    munmap((void *)base, span);
    px_calls++;
}

enum { PX_MEMWIN, PX_TODAY, PX_HINT, PX_RAW, NPX };
static const char *const px_name[] = {"memwin", "emu-today", "emu-hint", "raw"};

/* The handshake (reserve, commit, release) with each placement; returns ns
 * for k handshakes and adds the system calls to *calls. */
static uint64_t px_handshake(int v, size_t n, int k, uint64_t *calls)
{
    size_t span = (n + GRANULE - 1) & ~(GRANULE - 1);
    uint64_t t0, t1, c0 = px_calls;
    int i;
    t0 = now_ns();
    for (i = 0; i < k; i++) {
        uintptr_t p;
        switch (v) {
        case PX_MEMWIN: {
            void *q = sysReserve(NULL, n);
            sysMap(q, n, &bench_stat);
            sysUsed(q, n, n);
            sysFree(q, n, &bench_stat);
            break;
        }
        case PX_TODAY:
            p = place_today(span);
            mprotect((void *)p, n, PROT_READ | PROT_WRITE);
            px_calls++;
            unplace_today(p, span);
            break;
        case PX_HINT:
            p = place_hint(span);
            mprotect((void *)p, n, PROT_READ | PROT_WRITE);
            px_calls++;
            unplace_hint(p, span);
            break;
        default:
            p = (uintptr_t)raw_reserve(n);
            raw_commit((void *)p, n);
            raw_release((void *)p, n);
            px_calls += 3;
            break;
        }
    }
    t1 = now_ns();
    *calls += px_calls - c0;
    return t1 - t0;
}

/* k reservations in a row (released afterwards, untimed). */
static uint64_t px_reserve(int v, size_t n, int k, uint64_t *calls)
{
    size_t span = (n + GRANULE - 1) & ~(GRANULE - 1);
    uint64_t t0, t1, c0;
    uintptr_t p[64];
    int i;
    c0 = px_calls;
    t0 = now_ns();
    for (i = 0; i < k; i++) {
        switch (v) {
        case PX_MEMWIN: p[i] = (uintptr_t)sysReserve(NULL, n); break;
        case PX_TODAY: p[i] = place_today(span); break;
        case PX_HINT: p[i] = place_hint(span); break;
        default: p[i] = (uintptr_t)raw_reserve(n); px_calls++; break;
        }
    }
    t1 = now_ns();
    *calls += px_calls - c0;
    for (i = k - 1; i >= 0; i--) {
        switch (v) {
        case PX_MEMWIN: sysFreeOS((void *)p[i], n); break;
        case PX_TODAY: unplace_today(p[i], span); break;
        case PX_HINT: unplace_hint(p[i], span); break;
        default: raw_release((void *)p[i], n); break;
        }
    }
    return t1 - t0;
}

/* The cost of the 64 KiB granule itself: a cycle on a 4 KiB region that is
 * its own mapping, against one whose mapping spans the granule (as every
 * emulated reservation does), so each commit and decommit splits it. */
static uint64_t px_granule(int v, int k)
{
    const size_t n = 4 * KiB;
    void *p = v == 0 ? sysReserve(NULL, n) : raw_reserve(v == 1 ? n : GRANULE);
    uint64_t t0, t1;
    int i;
    if (!p)
        die("reserve failed");
    if (v == 0)
        sysMap(p, n, &bench_stat);
    t0 = now_ns();
    for (i = 0; i < k; i++) {
        if (v == 0) {
            sysUsed(p, n, n);
            sysUnused(p, n);
        } else if (!raw_commit(p, n) || !raw_decommit(p, n)) {
            die("raw granule cycle failed");
        }
    }
    t1 = now_ns();
    if (v == 0)
        sysFreeOS(p, n);
    else
        raw_release(p, v == 1 ? n : GRANULE);
    return t1 - t0;
}

static void suite_proposals(void)
{
    static const char *const gname[] = {"memwin", "raw-4k-mapping", "raw-64k-mapping"};
    static const size_t psizes[] = {4 * KiB, 64 * KiB, 1 * MiB};
    size_t si;
    int rep, v, c;
    for (c = 0; c < 2; c++)
        for (si = 0; si < 3; si++) {
            size_t n = psizes[si];
            uint64_t calls[NPX] = {0}, ops = 0;
            const char *cas = c == 0 ? "place-handshake" : "place-reserve";
            for (rep = -warmup; rep < opt_reps; rep++) {
                for (int pos = 0; pos < NPX; pos++) {
                    v = order_n(rep, pos, NPX);
                    uint64_t cl = 0, t;
                    t = c == 0 ? px_handshake(v, n, 64, &cl) : px_reserve(v, n, 64, &cl);
                    if (rep >= 0) {
                        rec("proposals", cas, n, px_name[v], rep, (double)t / 64);
                        calls[v] += cl;
                    }
                }
                if (rep >= 0)
                    ops += 64;
            }
            for (v = PX_TODAY; v < NPX; v++)
                count("proposals", cas, n, px_name[v], "syscalls", (double)calls[v] / ops);
        }
    for (rep = -warmup; rep < opt_reps; rep++)
        for (int pos = 0; pos < 3; pos++) {
            uint64_t t;
            v = order_n(rep, pos, 3);
            t = px_granule(v, 64);
            if (rep >= 0)
                rec("proposals", "granule-cycle", 4 * KiB, gname[v], rep, (double)t / 64);
        }
}
#else
static void suite_proposals(void)
{
}
#endif

/* ---- main ----------------------------------------------------------------- */

/* ---- replay: real programs' traces (tools/tracefmt/trace_replay.c) ------- */

static const char *opt_traces[64];
static int n_traces;

static void *mw_alloc(uintptr_t n) { return sysAllocOS(n); }
static void *mw_reserve(void *v, uintptr_t n) { return sysReserveOS(v, n); }
static const tr_side mw_side = {
    mw_alloc, mw_reserve,
    {NULL, NULL, sysMapOS, sysUsedOS, sysUnusedOS, sysFaultOS, sysFreeOS, sysHugePageOS,
     sysNoHugePageOS, sysHugePageCollapseOS}};

/* The raw side: the system calls Go's Windows layer makes, with its effect. */
static void *rw_reserve(void *v, uintptr_t n)
{
    void *p = v ? raw_reserve_at(v, n) : NULL; /* the hint, then anywhere */
    return p ? p : raw_reserve(n);
}
static void rw_nothing(void *v, uintptr_t n) { (void)v, (void)n; }
static void rw_free(void *v, uintptr_t n)
{
    if (!raw_release(v, n))
        die("raw release failed");
}
#ifdef _WIN32
static void *rw_alloc(uintptr_t n) { return VirtualAlloc(NULL, n, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE); }
/* Go's loop for a range that spans reservations: halve until a piece goes
 * through, move on. */
static void rw_halving(void *v, uintptr_t n, int commit)
{
    char *p = v;
    while (n > 0) {
        uintptr_t k = n;
        while (k >= 4096 && !(commit ? raw_commit(p, k) : raw_decommit(p, k)))
            k = (k / 2) & ~(uintptr_t)4095;
        if (k < 4096)
            die("raw %s failed", commit ? "commit" : "decommit");
        p += k;
        n -= k;
    }
}
static void rw_used(void *v, uintptr_t n) { rw_halving(v, n, 1); }
static void rw_unused(void *v, uintptr_t n) { rw_halving(v, n, 0); }
#else
static void *rw_alloc(uintptr_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, RAW_FLAGS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}
/* The kernel does not care about reservations: one call for any range. */
static void rw_used(void *v, uintptr_t n)
{
    if (!raw_commit(v, n))
        die("raw commit failed");
}
static void rw_unused(void *v, uintptr_t n)
{
    if (!raw_decommit(v, n))
        die("raw decommit failed");
}
#endif
static const tr_side raw_side = {
    rw_alloc, rw_reserve,
    {NULL, NULL, rw_nothing, rw_used, rw_unused, rw_unused, rw_free, rw_nothing, rw_nothing,
     rw_nothing}};

/* replay: each trace replayed whole, per repetition, by the three sides in
 * turn (forward, then backward); ns per call.  On Linux (kcalls.c) also the
 * kernel's memory calls per call of each side and the ns per call spent in
 * them ("replay-kernel", from passes of their own, since timing each call
 * costs two clock reads).  Absolute hints move 64 GiB
 * up, as in every replay of the format.  Regions are released untimed. */
static void suite_replay(void)
{
    static const char *const names[] = {"memwin", "checked", "raw"};
    if (n_traces == 0)
        die("replay needs --trace FILE");
    for (int i = 0; i < n_traces; i++) {
        char err[256], name[128];
        tr_trace *t = tr_load(opt_traces[i], err, sizeof err);
        if (!t)
            die("%s: %s", opt_traces[i], err);
        const char *b = opt_traces[i];
        for (const char *q = b; *q; q++)
            if (*q == '/' || *q == '\\')
                b = q + 1;
        snprintf(name, sizeof name, "%s", b);
        char *dot = strstr(name, ".trace");
        if (dot)
            *dot = 0;
        const size_t steps = tr_steps(t);
        /* The timed repetitions, then (where kcalls.c counts) as many
         * untimed ones that count the kernel's memory calls of each side
         * and the time spent in them. */
        const int passes = kc_available() ? opt_reps : 0;
        for (int rep = -warmup; rep < opt_reps + passes; rep++)
            for (int pos = 0; pos < 3; pos++) {
                const int side = order_n(rep < 0 ? 0 : rep, pos, 3);
                const tr_side *s = side == 2 ? &raw_side : &mw_side;
                const int old = side == 1 ? memwin_set_mode(MEMWIN_MODE_CHECKED) : 0;
                const int profile = rep >= opt_reps;
                uint64_t calls, kns;
                kc_begin(profile);
                uint64_t t0 = now_ns();
                size_t odd = tr_replay(t, s, UINT64_C(0x1000000000));
                uint64_t t1 = now_ns();
                kc_end(&calls, &kns);
                tr_release(t, s);
                if (side == 1)
                    memwin_set_mode(old);
                if (odd)
                    count("replay", name, steps, names[side], "odd", (double)odd);
                if (profile) {
                    rec("replay-kernel", name, steps, names[side], rep - opt_reps,
                        (double)kns / (double)steps);
                    if (rep == opt_reps)
                        count("replay", name, steps, names[side], "kcalls",
                              (double)calls / (double)steps);
                } else if (rep >= 0) {
                    rec("replay", name, steps, names[side], rep, (double)(t1 - t0) / (double)steps);
                }
            }
        tr_destroy(t);
    }
}

int main(int argc, char **argv)
{
    int i, want[10] = {0}, any = 0;
    static const char *const names[] = {"trans",   "calls",      "scale",     "threads", "fallback",
                                        "aligned", "components", "proposals", "trace",   "replay"};
    host_init();
    for (i = 1; i < argc; i++) {
        int j;
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            opt_reps = atoi(argv[++i]);
            if (opt_reps < 3)
                die("--reps must be at least 3");
            continue;
        }
        if (strcmp(argv[i], "--case") == 0 && i + 1 < argc) {
            opt_case = argv[++i];
            continue;
        }
        if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
            opt_size = (size_t)strtoull(argv[++i], NULL, 0);
            continue;
        }
        if (strcmp(argv[i], "--side") == 0 && i + 1 < argc) {
            ++i;
            opt_side = strcmp(argv[i], "memwin") == 0 ? MEMWIN : strcmp(argv[i], "raw") == 0 ? RAW : -1;
            if (opt_side < 0)
                die("--side must be memwin or raw");
            continue;
        }
        if (strcmp(argv[i], "--order") == 0 && i + 1 < argc) {
            ++i;
            opt_order = strcmp(argv[i], "ab") == 0 ? 1 : strcmp(argv[i], "ba") == 0 ? 2 : 0;
            continue;
        }
        if (strcmp(argv[i], "--long") == 0) {
            opt_long = 1;
            continue;
        }
        if (strcmp(argv[i], "--trace") == 0 && i + 1 < argc) {
            if (n_traces == (int)(sizeof opt_traces / sizeof opt_traces[0]))
                die("too many --trace files");
            opt_traces[n_traces++] = argv[++i];
            continue;
        }
        for (j = 0; j < 10; j++)
            if (strcmp(argv[i], names[j]) == 0)
                break;
        if (j == 10)
            die("unknown argument %s", argv[i]);
        want[j] = any = 1;
    }
    if (!any)
        for (i = 0; i < 8; i++)
            want[i] = 1;
    if (memwin_get_mode() != MEMWIN_MODE_EXACT)
        die("run with MEMWIN_MODE unset or exact: the benchmark measures Go's behaviour");
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    printf("I\thost\t%s\nI\tmemwin\t%s\nI\treps\t%d\n", host_name, memwin_version(), opt_reps);
    if (want[0])
        suite_trans();
    if (want[1])
        suite_calls();
    if (want[2])
        suite_scale();
    if (want[3])
        suite_threads();
    if (want[4])
        suite_fallback();
    if (want[5])
        suite_aligned();
    if (want[6])
        suite_components();
    if (want[7])
        suite_proposals();
    if (want[8])
        suite_trace();
    if (want[9])
        suite_replay();
    fflush(stdout);
    return 0;
}
