/* The VirtualAlloc / VirtualFree interposers (include/memwin_interpose.h):
 * fault policy, forwarding, per-page commit tracker, counters and trace.
 *
 * One spin lock guards the tracker, the counters and the trace buffer; it
 * is taken once per call after the forwarded call returns, and across the
 * call only for releases (so the reservation they free cannot be reused
 * under us) and while a budget is in force (so the budget holds under
 * concurrent commits). */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* syscall(SYS_gettid) */
#endif

#include "memwin_interpose.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../atomics.h"
#include "../env.h"
#include "../host.h"
#include "interpose.h"
#include "../vm.h"

#if defined(_WIN32)
#include <windows.h>
#else
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#endif

#define PAGE ((uint64_t)MW_PAGE) /* as uint64_t, for the 64-bit arithmetic below */
#define ERR_COMMITMENT_LIMIT 1455u
#define ERR_NOT_ENOUGH_MEMORY 8u

/* ---- platform ----------------------------------------------------------- */

/* Outcomes of plat_open. */
enum { OPEN_OK, OPEN_FAILED, OPEN_SYMLINK, OPEN_NOT_REGULAR };

#if defined(_WIN32)
typedef HANDLE plat_file;
#define PLAT_NO_FILE INVALID_HANDLE_VALUE
#define PATH_CAP 1024
typedef wchar_t plat_char;

static uint32_t plat_last_error(void)
{
    return (uint32_t)GetLastError();
}

static void plat_set_last_error(uint32_t e)
{
    SetLastError((DWORD)e);
}

static LARGE_INTEGER qpc_freq;

static uint64_t plat_now_ns(void)
{
    LARGE_INTEGER c;
    uint64_t f, t;
    QueryPerformanceCounter(&c);
    f = (uint64_t)qpc_freq.QuadPart;
    t = (uint64_t)c.QuadPart;
    if (f == 0)
        return 0;
    return (t / f) * 1000000000u + (t % f) * 1000000000u / f;
}

static unsigned long plat_tid(void)
{
    return (unsigned long)GetCurrentThreadId();
}

static unsigned long plat_pid(void)
{
    return (unsigned long)GetCurrentProcessId();
}

#define ERR_REFUSED 5u /* ERROR_ACCESS_DENIED: a file memwin will not write */

/* A path variable as a NUL-terminated wide string: 1, or 0 if unset, empty
 * or too long (then with a line on stderr). */
static int plat_env_path(const char *name, plat_char *buf, size_t cap, const char *then)
{
    wchar_t wname[64];
    size_t i;
    DWORD n;
    for (i = 0; name[i] && i + 1 < sizeof wname / sizeof wname[0]; i++)
        wname[i] = (wchar_t)(unsigned char)name[i];
    wname[i] = 0;
    n = GetEnvironmentVariableW(wname, buf, (DWORD)cap);
    if (n == 0)
        return 0;
    if (n >= cap) {
        char line[192];
        snprintf(line, sizeof line, "memwin: %s=(%lu characters): too long (at most %lu); %s\n", name,
                 (unsigned long)n - 1, (unsigned long)cap - 1, then);
        memwin_host_prim.write_stderr(line, strlen(line));
        return 0;
    }
    return 1;
}

/* The path for messages: ASCII, anything else as '?'. */
static void plat_path_text(const plat_char *path, char *out, size_t cap)
{
    size_t i;
    for (i = 0; path[i] && i + 1 < cap; i++)
        out[i] = path[i] < 0x80 ? (char)path[i] : '?';
    out[i] = 0;
}

/* Opens a regular file for writing (append: at its end, else emptied),
 * creating it if absent.  Never follows a final reparse point (symbolic
 * link) and never writes to anything but a disk file (a named pipe, a
 * console, NUL): those are refused with *why set. */
static plat_file plat_open(const plat_char *path, int append, uint32_t *err, int *why)
{
    BY_HANDLE_FILE_INFORMATION fi;
    HANDLE h = CreateFileW(path, (append ? FILE_APPEND_DATA : GENERIC_WRITE) | FILE_READ_ATTRIBUTES,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_ALWAYS,
                           FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
    *why = OPEN_FAILED;
    if (h == INVALID_HANDLE_VALUE) {
        *err = (uint32_t)GetLastError();
        return h;
    }
    *err = ERR_REFUSED;
    if (GetFileType(h) != FILE_TYPE_DISK) {
        *why = OPEN_NOT_REGULAR;
    } else if (GetFileInformationByHandle(h, &fi) &&
               (fi.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT)) {
        *why = OPEN_SYMLINK;
    } else if (GetFileInformationByHandle(h, &fi) &&
               (fi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)) {
        *why = OPEN_NOT_REGULAR;
    } else if (!append && (SetFilePointer(h, 0, NULL, FILE_BEGIN) == INVALID_SET_FILE_POINTER ||
                           !SetEndOfFile(h))) {
        *err = (uint32_t)GetLastError();
    } else {
        *why = OPEN_OK;
        *err = 0;
        return h;
    }
    CloseHandle(h);
    return INVALID_HANDLE_VALUE;
}

static int plat_write(plat_file f, const char *p, size_t n)
{
    while (n > 0) {
        DWORD done = 0, chunk = n > 0x40000000u ? 0x40000000u : (DWORD)n;
        if (!WriteFile(f, p, chunk, &done, NULL) || done == 0)
            return 0;
        p += done;
        n -= done;
    }
    return 1;
}

static void plat_close(plat_file f)
{
    CloseHandle(f);
}

static void plat_init_clock(void)
{
    QueryPerformanceFrequency(&qpc_freq);
}

/* The real functions. */
static void *MEMWIN_WINAPI real_alloc(void *a, uintptr_t n, uint32_t type, uint32_t protect)
{
    return VirtualAlloc(a, (SIZE_T)n, (DWORD)type, (DWORD)protect);
}

static int MEMWIN_WINAPI real_free(void *a, uintptr_t n, uint32_t type)
{
    return VirtualFree(a, (SIZE_T)n, (DWORD)type) ? 1 : 0;
}

#else /* Linux: the emulation is the "real" Windows */

typedef int plat_file;
#define PLAT_NO_FILE (-1)
#define PATH_CAP 4096
typedef char plat_char;

static uint32_t plat_last_error(void)
{
    return memwin_host_prim.get_last_error();
}

static void plat_set_last_error(uint32_t e)
{
    memwin_host_prim.set_last_error(e);
}

static uint64_t plat_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned long plat_tid(void)
{
    return (unsigned long)syscall(SYS_gettid);
}

static unsigned long plat_pid(void)
{
    return (unsigned long)getpid();
}

#define ERR_REFUSED ((uint32_t)EACCES) /* a file memwin will not write */

/* A path variable (ignored in secure execution: see env.h). */
static int plat_env_path(const char *name, plat_char *buf, size_t cap, const char *then)
{
    return memwin_env_get(name, buf, cap, then);
}

static void plat_path_text(const plat_char *path, char *out, size_t cap)
{
    snprintf(out, cap, "%s", path);
}

/* Opens a regular file for writing (append: at its end, else emptied),
 * creating it if absent.  Never follows a final symbolic link, never
 * blocks (a FIFO without a reader), never writes to anything but a
 * regular file: those are refused with *why set.  lstat first, so a device
 * is not even opened; fstat after, for what the path named by then. */
static plat_file plat_open(const plat_char *path, int append, uint32_t *err, int *why)
{
    struct stat sb;
    int fd;
    *why = OPEN_FAILED;
    *err = ERR_REFUSED;
    if (lstat(path, &sb) == 0) {
        if (S_ISLNK(sb.st_mode)) {
            *why = OPEN_SYMLINK;
            return -1;
        }
        if (!S_ISREG(sb.st_mode)) {
            *why = OPEN_NOT_REGULAR;
            return -1;
        }
    }
    fd = open(path,
              O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
                  (append ? O_APPEND : 0),
              0644);
    if (fd < 0) {
        int e = errno;
        if (lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode))
            *why = OPEN_SYMLINK; /* appeared since the first look */
        else if (lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
            *why = OPEN_NOT_REGULAR;
        else
            *err = (uint32_t)e;
        return -1;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        *why = OPEN_NOT_REGULAR;
    } else if (!append && ftruncate(fd, 0) != 0) {
        *err = (uint32_t)errno;
    } else {
        *why = OPEN_OK;
        *err = 0;
        return fd;
    }
    close(fd);
    return -1;
}

static int plat_write(plat_file f, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t done = write(f, p, n);
        if (done <= 0) {
            if (done < 0 && errno == EINTR)
                continue;
            return 0;
        }
        p += done;
        n -= (size_t)done;
    }
    return 1;
}

static void plat_close(plat_file f)
{
    close(f);
}

static void plat_init_clock(void)
{
}

static void *real_alloc(void *a, uintptr_t n, uint32_t type, uint32_t protect)
{
    return memwin_host_prim.virtual_alloc(a, n, type, protect);
}

static int real_free(void *a, uintptr_t n, uint32_t type)
{
    return memwin_host_prim.virtual_free(a, n, type);
}
#endif

/* ---- lock --------------------------------------------------------------- */

static uint32_t lock_word;

static void ip_lock(void)
{
    while (!mw_try_lock32(&lock_word))
        memwin_host_yield();
}

/* At process exit other threads are gone and may have died holding it. */
static int ip_lock_bounded(void)
{
    int i;
    for (i = 0; i < 2000; i++) {
        if (mw_try_lock32(&lock_word))
            return 1;
        memwin_host_yield();
    }
    return 0;
}

static void ip_unlock(void)
{
    mw_unlock32(&lock_word);
}

/* ---- where calls go ------------------------------------------------------ */

typedef struct next_fns {
    memwin_virtual_alloc_fn va;
    memwin_virtual_free_fn vf;
} next_fns;

static next_fns default_next = {real_alloc, real_free};
static next_fns next_slots[2];
static uint64_t next_generation;
static void *current_next = &default_next;

void memwin_interpose_set_next(memwin_virtual_alloc_fn va, memwin_virtual_free_fn vf)
{
    next_fns *n = &default_next;
    if (va || vf) {
        n = &next_slots[mw_add64(&next_generation, 1) & 1];
        n->va = va ? va : real_alloc;
        n->vf = vf ? vf : real_free;
    }
    mw_swap_ptr(&current_next, n);
}

static const next_fns *next(void)
{
    return (const next_fns *)mw_load_ptr(&current_next);
}

/* ---- configuration ------------------------------------------------------- */

static uint64_t init_done;
static uint32_t init_lock;
static uint32_t init_result;
static uint64_t t0;
static memwin_interpose_policy policy;
static uint64_t policy_on; /* any field of policy set */
static uint64_t commit_seq;

static plat_file trace_file = PLAT_NO_FILE;
static plat_char stats_path[PATH_CAP];
static int have_stats_path;

/* Opens the file a variable names, or says why not ("memwin: NAME=path:
 * why; then").  Returns the file or PLAT_NO_FILE with *err set. */
static plat_file open_named(const char *name, const plat_char *path, int append, const char *then,
                            uint32_t *err)
{
    char text[PATH_CAP * 3 + 1], why[64];
    int outcome;
    plat_file f = plat_open(path, append, err, &outcome);
    if (outcome == OPEN_OK)
        return f;
    if (outcome == OPEN_SYMLINK)
        snprintf(why, sizeof why, "a symbolic link, refused");
    else if (outcome == OPEN_NOT_REGULAR)
        snprintf(why, sizeof why, "not a regular file, refused");
    else
        snprintf(why, sizeof why, "cannot open (error %lu)", (unsigned long)*err);
    plat_path_text(path, text, sizeof text);
    memwin_env_say(name, text, why, then);
    return PLAT_NO_FILE;
}

/* Expands %p (process id) in a path. */
static void expand_pid(plat_char *path, size_t cap)
{
    plat_char out[PATH_CAP];
    size_t i, o = 0;
    for (i = 0; path[i] && o + 24 < cap && o + 24 < PATH_CAP; i++) {
        if (path[i] == '%' && path[i + 1] == 'p') {
            char num[24];
            int k, len = snprintf(num, sizeof num, "%lu", plat_pid());
            for (k = 0; k < len; k++)
                out[o++] = (plat_char)num[k];
            i++;
        } else {
            out[o++] = path[i];
        }
    }
    out[o] = 0;
    memcpy(path, out, (o + 1) * sizeof(plat_char));
}

static void write_trace_header(void);
static void apply_policy(const memwin_interpose_policy *p);

static void do_init(void)
{
    plat_char path[PATH_CAP];
    memwin_interpose_policy p;
    uint32_t err = 0;
    plat_init_clock();
    t0 = plat_now_ns();
    memset(&p, 0, sizeof p);
    /* Counts and codes are plain numbers, budgets sizes; anything malformed
     * or out of range is refused with a line and the default kept. */
    memwin_env_number("MEMWIN_FAIL_COMMIT_NTH", 0, UINT64_MAX, 0, &p.fail_commit_nth);
    memwin_env_number("MEMWIN_FAIL_COMMIT_COUNT", 0, UINT64_MAX, 0, &p.fail_commit_count);
    {
        uint64_t e;
        if (memwin_env_number("MEMWIN_FAIL_COMMIT_ERROR", 0, UINT32_MAX, ERR_COMMITMENT_LIMIT, &e))
            p.fail_commit_error = (uint32_t)e;
    }
    memwin_env_number("MEMWIN_COMMIT_BUDGET", 1, UINT64_MAX, 0, &p.commit_budget);
    memwin_env_number("MEMWIN_RESERVE_BUDGET", 1, UINT64_MAX, 0, &p.reserve_budget);
    apply_policy(&p);
    if (plat_env_path("MEMWIN_TRACE", path, PATH_CAP, "no trace")) {
        expand_pid(path, PATH_CAP);
        trace_file = open_named("MEMWIN_TRACE", path, 1, "no trace", &err);
        if (trace_file == PLAT_NO_FILE)
            init_result = err;
        else
            write_trace_header();
    }
    if (plat_env_path("MEMWIN_STATS", stats_path, PATH_CAP, "no stats")) {
        expand_pid(stats_path, PATH_CAP);
        have_stats_path = 1;
    }
#if !(defined(_WIN32) && defined(memwin_EXPORTS))
    /* memwin.dll flushes in DllMain instead (Go exits with ExitProcess). */
    atexit(memwin_interpose_at_exit);
#endif
}

static void ensure_init(void)
{
    if (mw_load64(&init_done))
        return;
    while (!mw_try_lock32(&init_lock))
        memwin_host_yield();
    if (!mw_load64(&init_done)) {
        do_init();
        mw_store64(&init_done, 1);
    }
    mw_unlock32(&init_lock);
}

uint32_t memwin_interpose_init(void)
{
    uint32_t e = plat_last_error();
    ensure_init();
    plat_set_last_error(e);
    return init_result;
}

static void apply_policy(const memwin_interpose_policy *p)
{
    ip_lock();
    if (p)
        policy = *p;
    else
        memset(&policy, 0, sizeof policy);
    mw_store64(&policy_on, (policy.fail_commit_nth | policy.commit_budget | policy.reserve_budget) != 0);
    mw_store64(&commit_seq, 0);
    ip_unlock();
}

void memwin_interpose_set_policy(const memwin_interpose_policy *p)
{
    ensure_init(); /* so the environment does not override p later */
    apply_policy(p);
}

void memwin_interpose_get_policy(memwin_interpose_policy *out)
{
    if (!out)
        return; /* nothing to fill */
    ensure_init();
    ip_lock();
    *out = policy;
    ip_unlock();
}

/* ---- per-page commit tracker ------------------------------------------- */

/* A bit per 4 KiB page, in 4 MiB chunks under a two-level directory that
 * covers the 47-bit user address space; pages above it are not tracked. */
#define CHUNK_PAGES_SHIFT 10
#define L2_BITS 12
#define L1_BITS 13
#define CHUNK_WORDS ((1u << CHUNK_PAGES_SHIFT) / 64u)

typedef struct chunk_bits {
    uint64_t w[CHUNK_WORDS];
} chunk_bits;

static chunk_bits **trk_dir[1u << L1_BITS];

static unsigned popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555u);
    x = (x & 0x3333333333333333u) + ((x >> 2) & 0x3333333333333333u);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fu;
    return (unsigned)((x * 0x0101010101010101u) >> 56);
}

/* The chunk with index ci; NULL if untracked, or absent and !create.
 * *absent is set when the chunk is in range but has no page committed. */
static chunk_bits *trk_chunk(uint64_t ci, int create, int *absent)
{
    uint64_t l1 = ci >> L2_BITS;
    chunk_bits **l2;
    *absent = 0;
    if (l1 >= (1u << L1_BITS))
        return NULL;
    l2 = trk_dir[l1];
    if (!l2) {
        if (!create) {
            *absent = 1;
            return NULL;
        }
        l2 = (chunk_bits **)calloc((size_t)1 << L2_BITS, sizeof *l2);
        if (!l2)
            return NULL;
        trk_dir[l1] = l2;
    }
    if (!l2[ci & ((1u << L2_BITS) - 1)]) {
        if (!create) {
            *absent = 1;
            return NULL;
        }
        l2[ci & ((1u << L2_BITS) - 1)] = (chunk_bits *)calloc(1, sizeof(chunk_bits));
    }
    return l2[ci & ((1u << L2_BITS) - 1)];
}

enum { TRK_COUNT_CLEAR, TRK_SET, TRK_CLEAR };

/* Over the pages touching [a, a+n): TRK_COUNT_CLEAR counts the pages not
 * committed, TRK_SET commits them and returns how many were not, TRK_CLEAR
 * uncommits them and returns how many were. */
static uint64_t trk_range(uintptr_t a, uintptr_t n, int mode)
{
    uint64_t p, end, changed = 0;
    if (n == 0)
        return 0;
    p = (uint64_t)a / PAGE;
    end = (uint64_t)a + n < (uint64_t)a ? UINT64_MAX / PAGE : ((uint64_t)a + n + PAGE - 1) / PAGE;
    while (p < end) {
        uint64_t ci = p >> CHUNK_PAGES_SHIFT, cend = (ci + 1) << CHUNK_PAGES_SHIFT;
        uint64_t stop = end < cend ? end : cend;
        int absent;
        chunk_bits *c = trk_chunk(ci, mode == TRK_SET, &absent);
        if (!c) {
            if (absent && mode == TRK_COUNT_CLEAR)
                changed += stop - p;
            p = stop;
            continue;
        }
        while (p < stop) {
            unsigned bit = (unsigned)(p & 63);
            size_t wi = (size_t)((p >> 6) & (CHUNK_WORDS - 1));
            uint64_t take = 64 - bit, mask, w;
            if (take > stop - p)
                take = stop - p;
            mask = (take == 64 ? ~(uint64_t)0 : (((uint64_t)1 << take) - 1)) << bit;
            w = c->w[wi];
            if (mode == TRK_CLEAR) {
                changed += popcount64(w & mask);
                c->w[wi] = w & ~mask;
            } else {
                changed += popcount64(~w & mask);
                if (mode == TRK_SET)
                    c->w[wi] = w | mask;
            }
            p += take;
        }
    }
    return changed;
}

/* ---- reservations (base -> size), open addressing ---------------------- */

typedef struct resv {
    uintptr_t base, size;
} resv;

static resv *rm_tab;
static size_t rm_cap, rm_len;

static size_t rm_slot(uintptr_t base)
{
    uint64_t h = (uint64_t)base * 0x9E3779B97F4A7C15u;
    return (size_t)(h >> 20) & (rm_cap - 1);
}

static int rm_get(uintptr_t base, uintptr_t *size)
{
    size_t i;
    if (!rm_cap || !base)
        return 0;
    for (i = rm_slot(base); rm_tab[i].base; i = (i + 1) & (rm_cap - 1))
        if (rm_tab[i].base == base) {
            *size = rm_tab[i].size;
            return 1;
        }
    return 0;
}

static void rm_put_raw(uintptr_t base, uintptr_t size)
{
    size_t i;
    for (i = rm_slot(base); rm_tab[i].base; i = (i + 1) & (rm_cap - 1))
        if (rm_tab[i].base == base) {
            rm_tab[i].size = size;
            return;
        }
    rm_tab[i].base = base;
    rm_tab[i].size = size;
    rm_len++;
}

static void rm_put(uintptr_t base, uintptr_t size)
{
    if (!base)
        return;
    if ((rm_len + 1) * 2 > rm_cap) {
        size_t old_cap = rm_cap, i, cap = rm_cap ? rm_cap * 2 : 256;
        resv *old = rm_tab, *t = (resv *)calloc(cap, sizeof *t);
        if (!t)
            return;
        rm_tab = t;
        rm_cap = cap;
        rm_len = 0;
        for (i = 0; i < old_cap; i++)
            if (old[i].base)
                rm_put_raw(old[i].base, old[i].size);
        free(old);
    }
    rm_put_raw(base, size);
}

static void rm_del(uintptr_t base)
{
    size_t i, j;
    if (!rm_cap || !base)
        return;
    for (i = rm_slot(base); rm_tab[i].base; i = (i + 1) & (rm_cap - 1))
        if (rm_tab[i].base == base)
            break;
    if (!rm_tab[i].base)
        return;
    /* Backward-shift deletion keeps every probe chain unbroken. */
    rm_tab[i].base = 0;
    rm_len--;
    for (j = (i + 1) & (rm_cap - 1); rm_tab[j].base; j = (j + 1) & (rm_cap - 1)) {
        size_t home = rm_slot(rm_tab[j].base);
        int movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            rm_tab[i] = rm_tab[j];
            rm_tab[j].base = 0;
            i = j;
        }
    }
}

/* ---- counters and trace -------------------------------------------------- */

static memwin_interpose_stats st;

#define TRACE_BUF (256u << 10)
static char trace_buf[TRACE_BUF];
static size_t trace_len;

static const char *const op_names[MEMWIN_IOP_COUNT] = {"reserve", "commit",  "alloc",
                                                       "decommit", "release", "other"};

static unsigned size_class(uint64_t n)
{
    unsigned k = 0;
    uint64_t lim = PAGE;
    while (n > lim && k + 1 < MEMWIN_INTERPOSE_SIZE_CLASSES) {
        lim <<= 1;
        k++;
    }
    return k;
}

static uint64_t page_round(uint64_t n)
{
    return n + PAGE - 1 < n ? UINT64_MAX & ~(PAGE - 1) : (n + PAGE - 1) & ~(PAGE - 1);
}

/* Called with the lock held. */
static void trace_flush_locked(void)
{
    if (trace_file != PLAT_NO_FILE && trace_len > 0)
        plat_write(trace_file, trace_buf, trace_len);
    trace_len = 0;
}

static void write_trace_header(void)
{
    char line[256];
    int n = snprintf(line, sizeof line,
                     "# memwin trace 1 pid=%lu: time_ns pid tid op addr size flags result error "
                     "committed reserved src\n",
                     plat_pid());
    if (n > 0 && trace_file != PLAT_NO_FILE)
        plat_write(trace_file, line, (size_t)n);
}

static void trace_locked(int op, uintptr_t addr, uintptr_t size, uint32_t flags, uintptr_t result,
                         uint32_t err, int injected, uint64_t now)
{
    char line[256];
    int n;
    if (trace_file == PLAT_NO_FILE)
        return;
    n = snprintf(line, sizeof line, "%llu %lu %lu %s 0x%llx 0x%llx 0x%lx 0x%llx %lu %llu %llu %s\n",
                 (unsigned long long)(now - t0), plat_pid(), plat_tid(), op_names[op],
                 (unsigned long long)addr, (unsigned long long)size, (unsigned long)flags,
                 (unsigned long long)result, (unsigned long)err,
                 (unsigned long long)st.committed, (unsigned long long)st.reserved,
                 injected ? "fault" : "os");
    if (n <= 0)
        return;
    if (trace_len + (size_t)n > TRACE_BUF)
        trace_flush_locked();
    memcpy(trace_buf + trace_len, line, (size_t)n);
    trace_len += (size_t)n;
    st.trace_lines++;
}

static void add_committed(uint64_t pages)
{
    st.committed += pages * PAGE;
    st.newly_committed += pages * PAGE;
    if (st.committed > st.committed_peak)
        st.committed_peak = st.committed;
}

static void sub_committed(uint64_t pages)
{
    uint64_t b = pages * PAGE;
    st.committed = st.committed >= b ? st.committed - b : 0;
    st.decommitted += b;
}

static void add_reservation(uintptr_t base, uintptr_t size)
{
    uintptr_t old;
    uint64_t sz = page_round(size);
    if (rm_get(base, &old))
        st.reserved = st.reserved >= old ? st.reserved - old : 0;
    rm_put(base, (uintptr_t)sz);
    st.reserved += sz;
    if (st.reserved > st.reserved_peak)
        st.reserved_peak = st.reserved;
}

static void count_locked(int op, uint64_t size, int ok, int injected)
{
    memwin_interpose_op_stats *o = &st.op[op];
    o->calls++;
    o->size_class[size_class(size)]++;
    if (!ok)
        o->failed++;
    if (injected)
        o->injected++;
    if (ok)
        o->bytes += size;
}

/* ---- the interposers ------------------------------------------------------ */

static int alloc_op(uint32_t type)
{
    uint32_t both = MEMWIN_MEM_COMMIT | MEMWIN_MEM_RESERVE;
    if ((type & both) == both)
        return MEMWIN_IOP_ALLOC;
    if (type & MEMWIN_MEM_COMMIT)
        return MEMWIN_IOP_COMMIT;
    if (type & MEMWIN_MEM_RESERVE)
        return MEMWIN_IOP_RESERVE;
    return MEMWIN_IOP_OTHER;
}

void *MEMWIN_WINAPI memwin_VirtualAlloc(void *addr, uintptr_t size, uint32_t type, uint32_t protect)
{
    int op, commits, reserves, locked = 0, injected = 0;
    uint32_t err = 0;
    void *r = NULL;
    uint64_t now;
    ensure_init();
    op = alloc_op(type);
    commits = op == MEMWIN_IOP_COMMIT || op == MEMWIN_IOP_ALLOC;
    /* MEM_COMMIT without MEM_RESERVE at NULL reserves a new region too. */
    reserves = op == MEMWIN_IOP_RESERVE || op == MEMWIN_IOP_ALLOC ||
               (op == MEMWIN_IOP_COMMIT && addr == NULL);
    if (mw_load64(&policy_on)) {
        ip_lock();
        locked = 1;
        if (commits && policy.fail_commit_nth) {
            uint64_t k = mw_add64(&commit_seq, 1);
            if (k >= policy.fail_commit_nth &&
                (policy.fail_commit_count == 0 || k - policy.fail_commit_nth < policy.fail_commit_count)) {
                injected = 1;
                err = policy.fail_commit_error ? policy.fail_commit_error : ERR_COMMITMENT_LIMIT;
            }
        }
        if (!injected && commits && policy.commit_budget) {
            uint64_t add = reserves ? page_round(size) / PAGE
                                    : trk_range((uintptr_t)addr, size, TRK_COUNT_CLEAR);
            if (st.committed + add * PAGE > policy.commit_budget) {
                injected = 1;
                err = ERR_COMMITMENT_LIMIT;
            }
        }
        if (!injected && reserves && policy.reserve_budget &&
            st.reserved + page_round(size) > policy.reserve_budget) {
            injected = 1;
            err = ERR_NOT_ENOUGH_MEMORY;
        }
        if (!injected && !policy.commit_budget && !policy.reserve_budget) {
            ip_unlock(); /* only the n-th-commit rule: no need to hold it */
            locked = 0;
        }
    }
    if (!injected) {
        r = next()->va(addr, size, type, protect);
        err = plat_last_error();
    }
    now = trace_file != PLAT_NO_FILE ? plat_now_ns() : 0;
    if (!locked)
        ip_lock();
    if (r) {
        if (reserves)
            add_reservation((uintptr_t)r, size);
        if (commits)
            add_committed(trk_range((uintptr_t)r, size, TRK_SET));
    }
    count_locked(op, size, r != NULL, injected);
    trace_locked(op, (uintptr_t)addr, size, type, (uintptr_t)r, err, injected, now);
    ip_unlock();
    plat_set_last_error(err);
    return r;
}

int MEMWIN_WINAPI memwin_VirtualFree(void *addr, uintptr_t size, uint32_t type)
{
    int op, ok;
    uint32_t err;
    uintptr_t a = (uintptr_t)addr, rsize = 0;
    uint64_t counted = size, now;
    ensure_init();
    op = type == MEMWIN_MEM_RELEASE ? MEMWIN_IOP_RELEASE
         : type == MEMWIN_MEM_DECOMMIT ? MEMWIN_IOP_DECOMMIT
                                       : MEMWIN_IOP_OTHER;
    if (op == MEMWIN_IOP_RELEASE) {
        /* Held across the call: the freed base must not be reserved again
         * (and recorded) by another thread before it leaves the table. */
        ip_lock();
        ok = next()->vf(addr, size, type) != 0;
        err = plat_last_error();
    } else {
        ok = next()->vf(addr, size, type) != 0;
        err = plat_last_error();
        ip_lock();
    }
    now = trace_file != PLAT_NO_FILE ? plat_now_ns() : 0;
    if (op == MEMWIN_IOP_RELEASE) {
        if (rm_get(a, &rsize)) {
            counted = rsize;
            if (ok) {
                sub_committed(trk_range(a, rsize, TRK_CLEAR));
                st.reserved = st.reserved >= rsize ? st.reserved - rsize : 0;
                st.released += rsize;
                rm_del(a);
            }
        }
    } else if (op == MEMWIN_IOP_DECOMMIT && ok) {
        uintptr_t n = size;
        if (n == 0 && rm_get(a, &rsize))
            n = rsize; /* size 0 at a base: the whole reservation */
        counted = n;
        sub_committed(trk_range(a, n, TRK_CLEAR));
    }
    count_locked(op, counted, ok, 0);
    trace_locked(op, a, size, type, (uintptr_t)ok, err, 0, now);
    ip_unlock();
    plat_set_last_error(err);
    return ok;
}

/* ---- reading and writing out --------------------------------------------- */

void memwin_interpose_get_stats(memwin_interpose_stats *out, size_t size)
{
    memwin_interpose_stats copy;
    if (!out)
        return; /* nothing to fill */
    ensure_init();
    ip_lock();
    copy = st;
    ip_unlock();
    copy.time_ns = plat_now_ns() - t0;
    memcpy(out, &copy, size < sizeof copy ? size : sizeof copy);
}

static uint32_t write_stats_locked(void)
{
    char *buf;
    size_t cap = 16384, len = 0;
    int op;
    unsigned k;
    uint32_t err = 0;
    plat_file f;
    if (!have_stats_path)
        return 0;
    buf = (char *)malloc(cap);
    if (!buf)
        return ERR_NOT_ENOUGH_MEMORY;
#define PUT(...) \
    (len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, __VA_ARGS__), len = len < cap ? len : cap)
    PUT("# memwin interposer stats 1\npid %lu\ntime_ns %llu\n", plat_pid(),
        (unsigned long long)(plat_now_ns() - t0));
    for (op = 0; op < MEMWIN_IOP_COUNT; op++) {
        const memwin_interpose_op_stats *o = &st.op[op];
        PUT("op %s calls %llu failed %llu injected %llu bytes %llu classes", op_names[op],
            (unsigned long long)o->calls, (unsigned long long)o->failed,
            (unsigned long long)o->injected, (unsigned long long)o->bytes);
        for (k = 0; k < MEMWIN_INTERPOSE_SIZE_CLASSES; k++)
            PUT("%c%llu", k ? ',' : ' ', (unsigned long long)o->size_class[k]);
        PUT("\n");
    }
    PUT("committed %llu\ncommitted_peak %llu\nreserved %llu\nreserved_peak %llu\n"
        "newly_committed %llu\ndecommitted %llu\nreleased %llu\ntrace_lines %llu\n",
        (unsigned long long)st.committed, (unsigned long long)st.committed_peak,
        (unsigned long long)st.reserved, (unsigned long long)st.reserved_peak,
        (unsigned long long)st.newly_committed, (unsigned long long)st.decommitted,
        (unsigned long long)st.released, (unsigned long long)st.trace_lines);
#undef PUT
    f = open_named("MEMWIN_STATS", stats_path, 0, "no stats", &err);
    if (f != PLAT_NO_FILE) {
        if (!plat_write(f, buf, len))
            err = 5; /* ERROR_ACCESS_DENIED-like: the write failed */
        plat_close(f);
    } else if (err == ERR_REFUSED) {
        have_stats_path = 0; /* said once; not again at exit */
    }
    free(buf);
    return err;
}

uint32_t memwin_interpose_flush(void)
{
    uint32_t e = plat_last_error(), r;
    ensure_init();
    ip_lock();
    trace_flush_locked();
    r = write_stats_locked();
    ip_unlock();
    plat_set_last_error(e);
    return r;
}

void memwin_interpose_at_exit(void)
{
    int locked;
    if (!mw_load64(&init_done))
        return;
    locked = ip_lock_bounded();
    trace_flush_locked();
    write_stats_locked();
    if (locked)
        ip_unlock();
}


/* ---- the interposers as a memwin primitive table ----------------------- */

static void *ipr_alloc(void *a, uintptr_t n, uint32_t type, uint32_t protect)
{
    return memwin_VirtualAlloc(a, n, type, protect);
}

static int ipr_free(void *a, uintptr_t n, uint32_t type)
{
    return memwin_VirtualFree(a, n, type) ? 1 : 0;
}

static void ipr_exit_process(int status)
{
    /* The trace and counters of a dying process are the interesting ones. */
    memwin_interpose_at_exit();
    memwin_host_prim.exit_process(status);
}

/* The interposers' table: alloc, free and exit are theirs, the rest the
 * host's; filled once, before the first caller gets it. */
static memwin_prim interpose_table;
static uint32_t table_lock;
static uint64_t table_ready;

const memwin_prim *memwin_interpose_prim(void)
{
    if (mw_load64(&table_ready))
        return &interpose_table;
    while (!mw_try_lock32(&table_lock))
        memwin_host_yield();
    if (!mw_load64(&table_ready)) {
        interpose_table.virtual_alloc = ipr_alloc;
        interpose_table.virtual_free = ipr_free;
        interpose_table.exit_process = ipr_exit_process;
        memwin_prim_forward(&interpose_table, &memwin_host_prim);
        /* No one-call aligned reservation: every reservation goes through
         * VirtualAlloc, where the interposers see it. */
        interpose_table.virtual_alloc_aligned = NULL;
        mw_store64(&table_ready, 1);
    }
    mw_unlock32(&table_lock);
    return &interpose_table;
}

/* ---- catching memwin's fatal errors ---------------------------------------- */

static char fc_printed[2048], fc_message[512];
static uint32_t fc_claimed;
static uint32_t fc_flag;
static uint64_t fc_tid; /* the thread whose error was recorded (never 0) */
static memwin_fatal_fn fc_prev;
static void *fc_prev_ctx;
static uint32_t fc_installed;

/* Blocks the calling thread until the process ends. */
static void wait_for_exit(void)
{
    for (;;) {
#if defined(_WIN32)
        Sleep(INFINITE);
#else
        pause();
#endif
    }
}

/* The first error is recorded for the thread that raised it; only that
 * thread takes it (memwin_interpose_fatal_take) and throws, so the runtime
 * throws once.  A later error of the same thread is dropped (it is about to
 * throw the first); one of another thread waits here for the process to
 * end: returning would let its caller run on without the memory it asked
 * for, and throwing would print a second fatal error. */
static void capture_fatal(const char *printed, const char *message, void *ctx)
{
    (void)ctx;
    if (!mw_try_lock32(&fc_claimed)) {
        if (mw_load64(&fc_tid) == (uint64_t)plat_tid())
            return;
        wait_for_exit();
    }
    mw_store64(&fc_tid, (uint64_t)plat_tid());
    snprintf(fc_printed, sizeof fc_printed, "%s", printed ? printed : "");
    snprintf(fc_message, sizeof fc_message, "%s", message ? message : "");
    (void)mw_try_lock32(&fc_flag); /* publishes: 0 -> 1, a full barrier */
}

void memwin_interpose_catch_fatal(int on)
{
    if (on) {
        if (!mw_try_lock32(&fc_installed))
            return;
        fc_prev = memwin_get_fatal_handler(&fc_prev_ctx);
        memwin_set_fatal_handler(capture_fatal, NULL);
    } else if (fc_installed) {
        memwin_set_fatal_handler(fc_prev == memwin_default_fatal ? NULL : fc_prev, fc_prev_ctx);
        mw_unlock32(&fc_installed);
    }
}

const volatile uint32_t *memwin_interpose_fatal_flag(void)
{
    return &fc_flag;
}

int memwin_interpose_fatal_take(const char **printed, const char **message)
{
    /* Only for the thread that raised it: another thread never re-throws it. */
    if (!fc_flag || mw_load64(&fc_tid) != (uint64_t)plat_tid())
        return 0;
    if (printed)
        *printed = fc_printed;
    if (message)
        *message = fc_message;
    return 1;
}
