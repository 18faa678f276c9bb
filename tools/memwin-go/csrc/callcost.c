/* Per-call cost of the swaps' extra layers, measured under Wine against
 * memwin.dll: the same commit/decommit pair (64 KiB in a reserved region)
 *   direct     through kernel32's VirtualAlloc/VirtualFree
 *   interposed through memwin_VirtualAlloc/memwin_VirtualFree (the primitive
 *              swap's path)
 *   memwin     through memwin's sysUsedOS/sysUnusedOS with the interposer
 *              table (the full swap's path, minus Go's stdcall)
 * Variants alternate in blocks; prints the median ns per pair of each and
 * the differences.  Usage: callcost [PAIRS_PER_BLOCK BLOCKS] */
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>

#include "memwin_interpose.h"

static double now_ns(void)
{
    static LARGE_INTEGER f;
    LARGE_INTEGER c;
    if (!f.QuadPart)
        QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    return (double)c.QuadPart * 1e9 / (double)f.QuadPart;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int pairs = argc > 1 ? atoi(argv[1]) : 2000, blocks = argc > 2 ? atoi(argv[2]) : 41, b, i, v;
    const SIZE_T n = 64 << 10;
    char *r = (char *)VirtualAlloc(NULL, 16 << 20, MEM_RESERVE, PAGE_READWRITE);
    double *t[3];
    static const char *names[3] = {"direct", "interposed", "memwin"};
    memwin_prim_set(memwin_interpose_prim());
    memwin_interpose_init();
    for (v = 0; v < 3; v++)
        t[v] = (double *)calloc((size_t)blocks, sizeof(double));
    for (b = 0; b < blocks; b++) {
        for (v = 0; v < 3; v++) {
            int vv = (v + b) % 3;
            double t0 = now_ns();
            for (i = 0; i < pairs; i++) {
                char *p = r + (size_t)(i % 128) * n;
                switch (vv) {
                case 0:
                    VirtualAlloc(p, n, MEM_COMMIT, PAGE_READWRITE);
                    p[0] = 1;
                    VirtualFree(p, n, MEM_DECOMMIT);
                    break;
                case 1:
                    memwin_VirtualAlloc(p, n, MEM_COMMIT, PAGE_READWRITE);
                    p[0] = 1;
                    memwin_VirtualFree(p, n, MEM_DECOMMIT);
                    break;
                default:
                    sysUsedOS(p, n);
                    p[0] = 1;
                    sysUnusedOS(p, n);
                    break;
                }
            }
            t[vv][b] = (now_ns() - t0) / pairs;
        }
    }
    for (v = 0; v < 3; v++)
        qsort(t[v], (size_t)blocks, sizeof(double), cmp);
    for (v = 0; v < 3; v++)
        printf("callcost %s ns_per_pair=%.0f\n", names[v], t[v][blocks / 2]);
    printf("callcost overhead interposed-direct ns_per_call=%.0f\n", (t[1][blocks / 2] - t[0][blocks / 2]) / 2);
    printf("callcost overhead memwin-direct ns_per_call=%.0f\n", (t[2][blocks / 2] - t[0][blocks / 2]) / 2);
    return 0;
}
