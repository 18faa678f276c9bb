/* Memory status and large pages on Linux (included by sysinfo.c): the
 * figures come from /proc and /sys. */
#include <errno.h>
#include <stdlib.h>

/* Reads "<key>: <number> kB" (or a bare number) from a /proc file.
 * Returns 1 and the value in bytes (or as is, when not in kB). */
static int proc_value(const char *path, const char *key, uint64_t *out)
{
    char line[256];
    size_t klen = strlen(key);
    FILE *f = fopen(path, "r");
    int found = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            char *end;
            unsigned long long v = strtoull(line + klen + 1, &end, 10);
            *out = strstr(end, "kB") ? v * 1024ull : v;
            found = 1;
            break;
        }
    }
    fclose(f);
    return found;
}

uint32_t memwin_memory_status_get(memwin_memory_status *st)
{
    uint64_t total, avail, limit, committed, data;
    if (!st)
        return 87;
    if (!proc_value("/proc/meminfo", "MemTotal", &total) ||
        !proc_value("/proc/meminfo", "MemAvailable", &avail) ||
        !proc_value("/proc/meminfo", "CommitLimit", &limit) ||
        !proc_value("/proc/meminfo", "Committed_AS", &committed) ||
        !proc_value("/proc/self/status", "VmData", &data))
        return 2; /* ERROR_FILE_NOT_FOUND */
    st->total_phys = total;
    st->avail_phys = avail;
    st->commit_limit = limit;
    st->commit_total = committed;
    st->process_commit = data;
    st->memory_load = total ? (uint32_t)((total - avail) * 100 / total) : 0;
    return 0;
}

uint32_t memwin_large_pages_get(memwin_large_pages *lp)
{
    uint64_t size = 0, total = 0, free_pages = 0;
    char mode[128] = "";
    FILE *f;
    if (!lp)
        return 87;
    memset(lp, 0, sizeof *lp);
    proc_value("/proc/meminfo", "Hugepagesize", &size);
    proc_value("/proc/meminfo", "HugePages_Total", &total);
    proc_value("/proc/meminfo", "HugePages_Free", &free_pages);
    lp->minimum = (uintptr_t)size;
    lp->privilege_held = total > 0;
    f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f) {
        if (!fgets(mode, sizeof mode, f))
            mode[0] = 0;
        fclose(f);
    }
    lp->thp_mode = strstr(mode, "[always]")    ? MEMWIN_THP_ALWAYS
                   : strstr(mode, "[madvise]") ? MEMWIN_THP_MADVISE
                   : strstr(mode, "[never]")   ? MEMWIN_THP_NEVER
                                               : MEMWIN_THP_NONE;
    lp->usable = size != 0 && (free_pages > 0 || lp->thp_mode == MEMWIN_THP_ALWAYS ||
                               lp->thp_mode == MEMWIN_THP_MADVISE);
    return 0;
}
