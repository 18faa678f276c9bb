// See failing_syscalls.h.  The pass-through is the raw system call, so the
// definitions below need nothing from glibc's own wrappers.
#include "failing_syscalls.h"

#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstdint>

namespace {

struct Plan {
    long from;  // 0: off
    long times; // -1: all from `from` on
    int err;
};

// Constant-initialised, so no TLS wrapper that could itself call anything.
thread_local bool armed = false;
thread_local long counts[failing_syscalls::kCallKinds] = {};
thread_local Plan plans[failing_syscalls::kCallKinds] = {};
thread_local size_t write_most = 0;
thread_local long write_zero_from = 0;
thread_local bool ignore_noreplace = false;
thread_local void *last_mmap = nullptr;
thread_local size_t last_mmap_len = 0;
thread_local long hook_at[failing_syscalls::kCallKinds] = {};
thread_local void (*hooks[failing_syscalls::kCallKinds])(void *) = {};
thread_local void *hook_ctx[failing_syscalls::kCallKinds] = {};

// Armed writes beyond this many end the program: a caller that retries
// forever (a test's failure, not a hang).
constexpr long kRunaway = 10000;

// Counts the call, runs its hook; true if it is to fail (errno set).
bool Refused(failing_syscalls::Call c)
{
    if (!armed)
        return false;
    long n = ++counts[c];
    if (hooks[c] && n == hook_at[c])
        hooks[c](hook_ctx[c]);
    const Plan &p = plans[c];
    if (p.from == 0 || n < p.from || (p.times >= 0 && n >= p.from + p.times))
        return false;
    errno = p.err;
    return true;
}


} // namespace

extern "C" void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) noexcept
{
    if (Refused(failing_syscalls::kMmap))
        return MAP_FAILED;
    if (armed && ignore_noreplace)
        flags &= ~MAP_FIXED_NOREPLACE;
    void *p = reinterpret_cast<void *>(syscall(SYS_mmap, addr, len, prot, flags, fd, off));
    if (p != MAP_FAILED) {
        last_mmap = p;
        last_mmap_len = len;
    }
    return p;
}

extern "C" int munmap(void *addr, size_t len) noexcept
{
    if (Refused(failing_syscalls::kMunmap))
        return -1;
    return static_cast<int>(syscall(SYS_munmap, addr, len));
}

extern "C" int mprotect(void *addr, size_t len, int prot) noexcept
{
    if (Refused(failing_syscalls::kMprotect))
        return -1;
    return static_cast<int>(syscall(SYS_mprotect, addr, len, prot));
}

extern "C" int madvise(void *addr, size_t len, int advice) noexcept
{
    if (Refused(failing_syscalls::kMadvise))
        return -1;
    return static_cast<int>(syscall(SYS_madvise, addr, len, advice));
}

extern "C" ssize_t write(int fd, const void *buf, size_t len)
{
    if (armed && counts[failing_syscalls::kWrite] >= kRunaway) {
        static const char m[] = "failing_syscalls: a write loop that does not end\n";
        syscall(SYS_write, 2, m, sizeof m - 1);
        abort();
    }
    if (Refused(failing_syscalls::kWrite))
        return -1;
    if (armed && write_zero_from && counts[failing_syscalls::kWrite] >= write_zero_from)
        return 0;
    if (armed && write_most && len > write_most)
        len = write_most;
    return syscall(SYS_write, fd, buf, len);
}

extern "C" int sched_yield() noexcept
{
    if (Refused(failing_syscalls::kSchedYield))
        return -1;
    return static_cast<int>(syscall(SYS_sched_yield));
}

namespace failing_syscalls {
void Arm()
{
    for (int c = 0; c < kCallKinds; c++) {
        counts[c] = 0;
        plans[c] = Plan{0, -1, 0};
        hooks[c] = nullptr;
    }
    write_most = 0;
    write_zero_from = 0;
    ignore_noreplace = false;
    armed = true;
}
void Disarm()
{
    armed = false;
    for (int c = 0; c < kCallKinds; c++)
        hooks[c] = nullptr;
}
long Count(Call call)
{
    return counts[call];
}
void Fail(Call call, long nth, int err, long times)
{
    plans[call] = Plan{nth, times, err};
}
void ShortWrites(size_t most)
{
    write_most = most;
}
void WriteZeroFrom(long nth)
{
    write_zero_from = nth;
}
void IgnoreFixedNoReplace(bool on)
{
    ignore_noreplace = on;
}
void LastMmap(void **addr, size_t *len)
{
    *addr = last_mmap;
    *len = last_mmap_len;
}
void OnCall(Call call, long nth, void (*hook)(void *), void *ctx)
{
    hook_at[call] = nth;
    hook_ctx[call] = ctx;
    hooks[call] = hook;
}
} // namespace failing_syscalls
