/* Reproduction: a reservation made while checking is on but released while
 * it is off (exact mode) stays in checked mode's tracker.  When the address
 * is reserved again with checking on, the tracker holds two records with the
 * same base (rtree_insert accepts duplicate keys); releasing the new one
 * frees one record but unlinks the other from the tree (rtree_remove takes
 * the first node with the key on the search path), so the tree keeps a
 * pointer to freed memory.
 *
 *   cc -g -fsanitize=address,undefined -I include fuzz/repro/stale_tracker.c \
 *      -L build/asan/memwin -lmemwin -Wl,-rpath,$PWD/build/asan/memwin -o /tmp/stale
 * Expected (per include/memwin.h): every step reports error 0 or the
 * refusal named below, and no sanitizer report.
 * Seen with src/ at 4965cf1: AddressSanitizer heap-use-after-free in
 * first_bad_page (src/checked.c), or, without ASan, a leaked record
 * (valgrind: "definitely lost", calloc in trk_add). */
#include <stdio.h>

#include "memwin.h"

int main(void)
{
    sysMemStat stat = 0;
    char *p, *q;
    int i;
    memwin_set_mode(MEMWIN_MODE_RECOVERABLE);
    p = sysReserve(NULL, 1 << 16);
    memwin_set_mode(MEMWIN_MODE_EXACT);
    sysFreeOS(p, 1 << 16); /* the tracker keeps [p, p+64K) */
    memwin_set_mode(MEMWIN_MODE_RECOVERABLE);
    /* The same address again, with checking on: a second record with base p. */
    for (i = 0; i < 3; i++) {
        q = sysReserve(p, 1 << 16);
        printf("reserve at the old base: %p (old %p), error %u\n", (void *)q, (void *)p,
               memwin_last_error());
        sysFreeOS(q, 1 << 16);
        printf("release: error %u\n", memwin_last_error());
        /* q is free now: the tracker must say so (MEMWIN_ERR_NOT_MANAGED = 5). */
        sysMap(q, 4096, &stat);
        printf("map after release: error %u (want 5) %s\n", memwin_last_error(),
               memwin_last_error_message());
    }
    return 0;
}
