/* Unit test of memwin's interposers (src/instrument/interpose.c), run natively against
 * libmemwin.so (the Linux emulation underneath) and under Wine against
 * memwin.dll (kernel32 underneath).  Built and run by check.sh.
 * Usage: interpose_test TRACEFILE   (prints "ok" lines; exit 1 on failure) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memwin_interpose.h"

#if defined(_WIN32)
#include <windows.h>
static void set_env(const char *k, const char *v) { SetEnvironmentVariableA(k, v); }
static uint32_t gle(void) { return (uint32_t)GetLastError(); }
static void sle(uint32_t e) { SetLastError(e); }
#else
#include <pthread.h>
static void set_env(const char *k, const char *v) { setenv(k, v, 1); }
static uint32_t gle(void) { return memwin_prim_host()->get_last_error(); }
static void sle(uint32_t e) { memwin_prim_host()->set_last_error(e); }
#endif

#define MEM_COMMIT_ MEMWIN_MEM_COMMIT
#define MEM_RESERVE_ MEMWIN_MEM_RESERVE
#define MEM_DECOMMIT_ MEMWIN_MEM_DECOMMIT
#define MEM_RELEASE_ MEMWIN_MEM_RELEASE
#define RW 4u
#define KB(n) ((uintptr_t)(n) << 10)

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                 \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static memwin_interpose_stats stats(void)
{
    memwin_interpose_stats s;
    memwin_interpose_get_stats(&s, sizeof s);
    return s;
}

static void test_counting(void)
{
    memwin_interpose_stats s0 = stats(), s;
    char *r = (char *)memwin_VirtualAlloc(NULL, KB(1024), MEM_RESERVE_, RW);
    CHECK(r != NULL, "reserve failed: %u", gle());
    CHECK(memwin_VirtualAlloc(r, KB(64), MEM_COMMIT_, RW) == r, "commit");
    CHECK(memwin_VirtualAlloc(r, KB(64), MEM_COMMIT_, RW) == r, "recommit");
    CHECK(memwin_VirtualAlloc(r + KB(32), KB(64), MEM_COMMIT_, RW) == r + KB(32), "overlapping commit");
    r[0] = 1;
    r[KB(95)] = 2;
    s = stats();
    CHECK(s.committed - s0.committed == KB(96), "committed %llu", (unsigned long long)(s.committed - s0.committed));
    CHECK(s.reserved - s0.reserved == KB(1024), "reserved");
    CHECK(s.op[MEMWIN_IOP_COMMIT].calls - s0.op[MEMWIN_IOP_COMMIT].calls == 3, "commit calls");
    CHECK(s.op[MEMWIN_IOP_COMMIT].size_class[4] - s0.op[MEMWIN_IOP_COMMIT].size_class[4] == 3,
          "size class of 64 KiB is 4");
    CHECK(memwin_VirtualFree(r, KB(16), MEM_DECOMMIT_), "decommit");
    s = stats();
    CHECK(s.committed - s0.committed == KB(80), "after decommit");
    CHECK(memwin_VirtualFree(r, 0, MEM_RELEASE_), "release");
    s = stats();
    CHECK(s.committed == s0.committed, "after release: committed");
    CHECK(s.reserved == s0.reserved, "after release: reserved");
    CHECK(s.released - s0.released == KB(1024), "released");
    CHECK(s.op[MEMWIN_IOP_RELEASE].bytes - s0.op[MEMWIN_IOP_RELEASE].bytes == KB(1024), "release bytes");
    CHECK(s.committed_peak >= s0.committed + KB(96), "peak");
    r = (char *)memwin_VirtualAlloc(NULL, KB(200), MEM_RESERVE_ | MEM_COMMIT_, RW);
    CHECK(r != NULL, "alloc");
    s = stats();
    CHECK(s.committed - s0.committed == KB(200), "alloc committed");
    CHECK(memwin_VirtualFree(r, 0, MEM_RELEASE_), "release alloc");
    s = stats();
    CHECK(s.committed == s0.committed && s.reserved == s0.reserved, "back to start");
    printf("ok counting\n");
}

/* An address no reservation holds: 64 KiB reserved and released at once by
 * the host's calls (a fixed one such as 0x7ff000000000 is 0 on 32 bits,
 * where a commit at 0 reserves anywhere and succeeds). */
static char *unreserved_address(void)
{
    const memwin_prim *host = memwin_prim_host();
    char *p = host->virtual_alloc(NULL, KB(64), MEM_RESERVE_, RW);
    CHECK(p != NULL, "reserve for an unreserved address");
    host->virtual_free(p, 0, MEM_RELEASE_);
    return p;
}

/* The last error after each interposed call is the real function's. */
static void test_last_error(void)
{
    const memwin_prim *host = memwin_prim_host();
    uint32_t real, ours;
    void *r;
    char *bogus;
    /* success: whatever the real call leaves */
    sle(4242);
    r = host->virtual_alloc(NULL, KB(64), MEM_RESERVE_, RW);
    real = gle();
    host->virtual_free(r, 0, MEM_RELEASE_);
    sle(4242);
    r = memwin_VirtualAlloc(NULL, KB(64), MEM_RESERVE_, RW);
    ours = gle();
    CHECK(real == ours, "after a successful reserve: real %u, interposed %u", real, ours);
    memwin_VirtualFree(r, 0, MEM_RELEASE_);
    /* failures */
    bogus = unreserved_address();
    sle(0);
    host->virtual_free(bogus, 0, MEM_RELEASE_);
    real = gle();
    sle(0);
    CHECK(!memwin_VirtualFree(bogus, 0, MEM_RELEASE_), "bogus release succeeded");
    ours = gle();
    CHECK(real == ours && real != 0, "failed release: real %u, interposed %u", real, ours);
    sle(0);
    host->virtual_alloc(bogus, KB(64), MEM_COMMIT_, RW);
    real = gle();
    sle(0);
    CHECK(memwin_VirtualAlloc(bogus, KB(64), MEM_COMMIT_, RW) == NULL, "bogus commit succeeded");
    ours = gle();
    CHECK(real == ours && real != 0, "failed commit: real %u, interposed %u", real, ours);
    printf("ok last error (%u)\n", ours);
}

static void test_policy(void)
{
    memwin_interpose_policy p;
    memwin_interpose_stats s0, s;
    char *r = (char *)memwin_VirtualAlloc(NULL, KB(1024), MEM_RESERVE_, RW);
    int i;
    CHECK(r != NULL, "reserve");
    memset(&p, 0, sizeof p);
    p.fail_commit_nth = 3;
    p.fail_commit_count = 2;
    memwin_interpose_set_policy(&p);
    s0 = stats();
    for (i = 1; i <= 5; i++) {
        void *c;
        sle(0);
        c = memwin_VirtualAlloc(r + KB(64) * (uintptr_t)i, KB(64), MEM_COMMIT_, RW);
        if (i == 3 || i == 4)
            CHECK(c == NULL && gle() == 1455, "commit %d must fail with 1455 (got %p, %u)", i, c, gle());
        else
            CHECK(c != NULL, "commit %d must succeed", i);
    }
    s = stats();
    CHECK(s.op[MEMWIN_IOP_COMMIT].injected - s0.op[MEMWIN_IOP_COMMIT].injected == 2, "injected");
    CHECK(s.committed - s0.committed == KB(64) * 3, "committed after injection");
    /* commit budget */
    memset(&p, 0, sizeof p);
    p.commit_budget = s.committed + KB(128);
    memwin_interpose_set_policy(&p);
    CHECK(memwin_VirtualAlloc(r + KB(64), KB(64), MEM_COMMIT_, RW) != NULL, "recommit is free");
    CHECK(memwin_VirtualAlloc(r + KB(384), KB(128), MEM_COMMIT_, RW) != NULL, "128 KiB fits");
    sle(0);
    CHECK(memwin_VirtualAlloc(r + KB(512), KB(4), MEM_COMMIT_, RW) == NULL && gle() == 1455,
          "4 KiB more is over the budget");
    CHECK(memwin_VirtualFree(r + KB(384), KB(64), MEM_DECOMMIT_), "decommit");
    CHECK(memwin_VirtualAlloc(r + KB(512), KB(64), MEM_COMMIT_, RW) != NULL, "fits again");
    sle(0);
    CHECK(memwin_VirtualAlloc(NULL, KB(64), MEM_COMMIT_ | MEM_RESERVE_, RW) == NULL && gle() == 1455,
          "alloc over the budget");
    /* reserve budget */
    memset(&p, 0, sizeof p);
    s = stats();
    p.reserve_budget = s.reserved + KB(256);
    memwin_interpose_set_policy(&p);
    {
        void *a = memwin_VirtualAlloc(NULL, KB(256), MEM_RESERVE_, RW);
        CHECK(a != NULL, "256 KiB reservation fits");
        sle(0);
        CHECK(memwin_VirtualAlloc(NULL, KB(64), MEM_RESERVE_, RW) == NULL && gle() == 8,
              "reservation over the budget fails with 8");
        memwin_VirtualFree(a, 0, MEM_RELEASE_);
        a = memwin_VirtualAlloc(NULL, KB(64), MEM_RESERVE_, RW);
        CHECK(a != NULL, "fits after a release");
        memwin_VirtualFree(a, 0, MEM_RELEASE_);
    }
    memwin_interpose_set_policy(NULL);
    memwin_interpose_get_policy(&p);
    CHECK(p.commit_budget == 0 && p.fail_commit_nth == 0 && p.reserve_budget == 0, "policy cleared");
    CHECK(memwin_VirtualFree(r, 0, MEM_RELEASE_), "release");
    printf("ok policy\n");
}

/* ---- threads ---- */

#define THREADS 4
#define ROUNDS 500

static void worker(void)
{
    int i;
    for (i = 0; i < ROUNDS; i++) {
        char *r = (char *)memwin_VirtualAlloc(NULL, KB(256), MEM_RESERVE_, RW);
        if (!r) {
            failures++;
            continue;
        }
        memwin_VirtualAlloc(r, KB(128), MEM_COMMIT_, RW);
        r[0] = 1;
        memwin_VirtualFree(r, KB(64), MEM_DECOMMIT_);
        memwin_VirtualFree(r, 0, MEM_RELEASE_);
    }
}

#if defined(_WIN32)
static DWORD WINAPI thread_main(LPVOID arg)
{
    (void)arg;
    worker();
    return 0;
}
#else
static void *thread_main(void *arg)
{
    (void)arg;
    worker();
    return NULL;
}
#endif

static void test_threads(void)
{
    memwin_interpose_stats s0 = stats(), s;
    int i;
#if defined(_WIN32)
    HANDLE h[THREADS];
    for (i = 0; i < THREADS; i++)
        h[i] = CreateThread(NULL, 0, thread_main, NULL, 0, NULL);
    WaitForMultipleObjects(THREADS, h, TRUE, INFINITE);
    for (i = 0; i < THREADS; i++)
        CloseHandle(h[i]);
#else
    pthread_t t[THREADS];
    for (i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, thread_main, NULL);
    for (i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
#endif
    s = stats();
    CHECK(s.committed == s0.committed, "committed back to start");
    CHECK(s.reserved == s0.reserved, "reserved back to start");
    CHECK(s.op[MEMWIN_IOP_RESERVE].calls - s0.op[MEMWIN_IOP_RESERVE].calls == THREADS * ROUNDS, "reserves");
    CHECK(s.op[MEMWIN_IOP_RELEASE].calls - s0.op[MEMWIN_IOP_RELEASE].calls == THREADS * ROUNDS, "releases");
    CHECK(s.newly_committed - s0.newly_committed == (uint64_t)THREADS * ROUNDS * KB(128), "newly committed");
    CHECK(s.decommitted - s0.decommitted == (uint64_t)THREADS * ROUNDS * KB(128), "decommitted");
    printf("ok threads\n");
}

/* memwin's own logic through the interposers, and its fatal errors caught. */
static void test_prim_and_fatal(void)
{
    memwin_interpose_stats s0 = stats(), s;
    const memwin_prim *prev = memwin_prim_set(memwin_interpose_prim());
    const char *printed = NULL, *message = NULL;
    void *v = sysReserveOS(NULL, KB(4096));
    CHECK(v != NULL, "sysReserveOS");
    sysUsedOS(v, KB(512));
    sysUnusedOS(v, KB(256));
    sysFreeOS(v, KB(4096));
    s = stats();
    CHECK(s.op[MEMWIN_IOP_RESERVE].calls - s0.op[MEMWIN_IOP_RESERVE].calls == 1, "reserve via memwin");
    CHECK(s.op[MEMWIN_IOP_COMMIT].calls - s0.op[MEMWIN_IOP_COMMIT].calls == 1, "commit via memwin");
    CHECK(s.committed == s0.committed && s.reserved == s0.reserved, "balanced");
    CHECK(!*memwin_interpose_fatal_flag(), "no fatal yet");
    memwin_interpose_catch_fatal(1);
    sysUsedOS(unreserved_address(), KB(64)); /* unreserved: Go throws */
    CHECK(*memwin_interpose_fatal_flag(), "fatal recorded");
    CHECK(memwin_interpose_fatal_take(&printed, &message) == 1, "take");
    CHECK(printed && strncmp(printed, "runtime: VirtualAlloc of 0 bytes failed with errno=", 51) == 0,
          "printed: %s", printed ? printed : "(null)");
    CHECK(message && strcmp(message, "runtime: failed to commit pages") == 0, "message: %s",
          message ? message : "(null)");
    memwin_interpose_catch_fatal(0);
    memwin_prim_set(prev);
    printf("ok prim table and fatal capture\n");
}

static void test_trace(const char *path)
{
    FILE *f;
    char line[512];
    unsigned long lines = 0, header = 0, faults = 0;
    memwin_interpose_stats s;
    memwin_interpose_flush();
    s = stats();
    f = fopen(path, "r");
    CHECK(f != NULL, "open %s", path);
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') {
            header++;
            continue;
        }
        {
            unsigned long long t, pid, tid, addr, size, result, committed, reserved;
            unsigned long flags, err;
            char op[16], src[16];
            int n = sscanf(line, "%llu %llu %llu %15s %llx %llx %lx %llx %lu %llu %llu %15s", &t, &pid,
                           &tid, op, &addr, &size, &flags, &result, &err, &committed, &reserved, src);
            CHECK(n == 12, "trace line: %s", line);
            if (n == 12 && strcmp(src, "fault") == 0)
                faults++;
        }
        lines++;
    }
    fclose(f);
    CHECK(header == 1, "one header line, got %lu", header);
    CHECK(lines == s.trace_lines, "trace has %lu lines, stats say %llu", lines,
          (unsigned long long)s.trace_lines);
    CHECK(faults >= 5, "faults traced: %lu", faults);
    printf("ok trace (%lu lines)\n", lines);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: interpose_test TRACEFILE\n");
        return 2;
    }
    remove(argv[1]);
    set_env("MEMWIN_TRACE", argv[1]);
    CHECK(memwin_interpose_init() == 0, "init");
    test_counting();
    test_last_error();
    test_policy();
    test_threads();
    test_prim_and_fatal();
    test_trace(argv[1]);
    if (failures) {
        printf("%d failures\n", failures);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
