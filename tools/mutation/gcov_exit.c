/* Preloaded into memwin-conform while tools/mutation measures which lines
 * the vectors execute (the "Go scope" of the mutation report).  A scenario
 * that ends the process (a throw, a fail-fast) leaves through _exit, which
 * skips the coverage counters' write-out; this _exit calls exit() instead, so
 * the counters of every run are written.  Only the line counts of this run
 * are used: its results and exit statuses are not judged. */
#include <stdlib.h>

void _exit(int status)
{
    exit(status);
}
