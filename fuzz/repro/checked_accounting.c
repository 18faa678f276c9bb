/* Reproductions of the accounting and argument divergences memwin_fuzz
 * found (fuzz/README.md, "Known divergences").  Each case prints what memwin
 * did and what include/memwin.h asks for; the exit status is the number of
 * cases that still diverge.  Cases 1 and 2 are undefined behaviour: run them
 * one at a time (argument 1 or 2) against an ASan+UBSan library, whose
 * -fno-sanitize-recover stops at the report; without an argument, cases 3-5.
 *
 *   cc -g -fsanitize=address,undefined -I include fuzz/repro/checked_accounting.c \
 *      -L build/asan -lmemwin -Wl,-rpath,$PWD/build/asan -o /tmp/acct
 *   /tmp/acct; /tmp/acct 1; /tmp/acct 2
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "memwin.h"

static int bad;

static void report(const char *what, int ok, const char *fmt, unsigned long long a,
                   unsigned long long b)
{
    printf("%s %s: ", ok ? "ok  " : "BUG ", what);
    printf(fmt, a, b);
    printf("\n");
    bad += !ok;
}

int main(int argc, char **argv)
{
    sysMemStat stat;
    uintptr_t reserved;
    void *p;
    int only = argc > 1 ? atoi(argv[1]) : 0;

    /* 1. src/checked.c check_stat: sysAlloc(2^63) makes delta INT64_MIN and
     *    negates it (UBSan: "negation of -9223372036854775808"). */
    if (only == 1) {
        memwin_set_mode(MEMWIN_MODE_RECOVERABLE);
        stat = 0;
        p = sysAlloc((uintptr_t)1 << 63, &stat);
        report("1 sysAlloc(2^63) [UB in check_stat; see UBSan above]", p == NULL,
               "p=%#llx error=%llu", (unsigned long long)(uintptr_t)p, memwin_last_error());
        return bad;
    }

    /* 2. src/mem.c memwin_gen_free (also _unused, _fault): exact mode
     *    negates (int64_t)n; n = 2^63 is INT64_MIN (UBSan). */
    if (only == 2) {
        memwin_set_mode(MEMWIN_MODE_EXACT);
        p = sysReserve(NULL, 1 << 16);
        stat = 0;
        sysFree(p, (uintptr_t)1 << 63, &stat);
        report("2 exact sysFree(p, 2^63) [UB in memwin_gen_free; see UBSan above]", 1,
               "stat=%#llx%.0llu", (unsigned long long)stat, 0ull);
        return bad;
    }

    /* 3. sysAlloc(2^64 - 8192) with a stat of 12288 is not refused: int64(n)
     *    is -8192, so the "allocation" takes 8192 from the stat (and from
     *    mapped-ready).  Checked mode should refuse it (stat + n overflows). */
    memwin_set_mode(MEMWIN_MODE_RECOVERABLE);
    stat = 12288;
    p = sysAlloc(~(uintptr_t)0 - 8191, &stat);
    report("3 sysAlloc(2^64-8192) with stat 12288", memwin_last_error() == MEMWIN_ERR_ACCOUNTING &&
           stat == 12288, "error=%llu stat=%llu (want error 9, stat 12288)",
           memwin_last_error(), (unsigned long long)stat);

    /* 4. sysFree with a stat Go reads as negative (2^64 - 8192): the precheck
     *    (stat < n) passes, then Go's sysMemStat.add check fires part-way: the
     *    call returns MEMWIN_ERR_OS after changing the stat, instead of being
     *    refused (MEMWIN_ERR_ACCOUNTING) with no effect. */
    p = sysReserve(NULL, 1 << 16);
    stat = ~(sysMemStat)0 - 8191;
    sysFree(p, 1 << 16, &stat);
    report("4 sysFree(p, 64K) with stat 2^64-8192", memwin_last_error() == MEMWIN_ERR_ACCOUNTING &&
           stat == ~(sysMemStat)0 - 8191, "error=%llu stat=%#llx (want error 9, stat unchanged)",
           memwin_last_error(), (unsigned long long)stat);
    sysFreeOS(p, 1 << 16);

    /* 5. A refused sysReserveAligned leaves *reserved as it was; the header
     *    says it holds 0 on failure. */
    reserved = 12345;
    p = sysReserveAligned(NULL, 1 << 16, 3, &reserved);
    report("5 sysReserveAligned(NULL, 64K, 3) refused", reserved == 0,
           "error=%llu reserved=%llu (want reserved 0)", memwin_last_error(),
           (unsigned long long)reserved);

    printf("%d case(s) diverge (cases 1 and 2 show as UBSan reports)\n", bad);
    return bad;
}
