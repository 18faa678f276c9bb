/* Memory status and large-page facts from the OS (extras: Go's sysUsedOS
 * and sysHugePageOS have none on Windows; the original description of
 * mem_windows.go credits them to those functions), and the opt-in
 * out-of-memory report.  The host part is chosen here, as prim.c chooses the table. */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif

#include <stdio.h>
#include <string.h>

#include "atomics.h"
#include "memwin_heap.h"
#include "sysinfo.h"

#if defined(_WIN32)
#include "sysinfo_windows.c"
#else
#include "sysinfo_linux.c"
#endif

static uint64_t oom_report;

bool memwin_set_oom_status_report(bool on)
{
    uint64_t old = mw_load64(&oom_report);
    mw_store64(&oom_report, on ? 1 : 0);
    return old != 0;
}

void memwin_append_oom_status(char *buf, size_t size)
{
    memwin_memory_status st;
    size_t len = strlen(buf);
    if (mw_load64(&oom_report) == 0 || len >= size)
        return;
    if (memwin_memory_status_get(&st) != 0) {
        snprintf(buf + len, size - len, "memwin: memory status: unavailable\n");
        return;
    }
    snprintf(buf + len, size - len,
             "memwin: memory status: physical %llu/%llu bytes available, commit %llu/%llu bytes, "
             "process commit %llu bytes\n",
             (unsigned long long)st.avail_phys, (unsigned long long)st.total_phys,
             (unsigned long long)st.commit_total, (unsigned long long)st.commit_limit,
             (unsigned long long)st.process_commit);
}
