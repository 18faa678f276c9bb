// The Linux emulation when the kernel refuses or shortens its calls, and the
// system calls each transition costs (src/emu/prim_linux.c).  The program's
// mmap, munmap, mprotect, madvise, write and sched_yield come from
// failing_syscalls.h (pass-through unless a test asks for a refusal, on its
// own thread), its malloc from failing_malloc.h; each test is run in a
// process of its own (see CMakeLists.txt).  The tests look at the results
// through the public API (include/memwin.h, the host table of
// include/memwin_prim.h) and at the kernel's view of the address space
// through raw system calls, which nothing here intercepts.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>
#include <cstdint>
#include <cstring>
#include <string>

#include "failing_malloc.h"
#include "failing_syscalls.h"
#include "memwin.h"
#include "memwin_heap.h"
#include "memwin_prim.h"

namespace {

namespace fs = failing_syscalls;

constexpr uintptr_t kPage = 4096;
constexpr uintptr_t kGranule = 65536;

const memwin_prim *Os()
{
    return memwin_prim_host();
}

void *P(uintptr_t a)
{
    return reinterpret_cast<void *>(a);
}

uintptr_t U(const void *p)
{
    return reinterpret_cast<uintptr_t>(p);
}

// The kernel's own calls, past the program's interposed ones.
void *RawMmap(uintptr_t a, uintptr_t n, int flags)
{
    return reinterpret_cast<void *>(
        syscall(SYS_mmap, a, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | flags, -1, 0));
}

void RawMunmap(void *p, uintptr_t n)
{
    syscall(SYS_munmap, p, n);
}

// The start of a range of `size` bytes at a multiple of `align` that nothing
// in the process maps: mapped by the kernel, then given back.
uintptr_t FreeArea(uintptr_t size, uintptr_t align = kGranule)
{
    void *p = RawMmap(0, size + align, 0);
    if (p == MAP_FAILED)
        return 0;
    RawMunmap(p, size + align);
    return (U(p) + align - 1) & ~(align - 1);
}

// No mapping at all on [a, a+n): the kernel's view, not memwin's.
bool Unmapped(uintptr_t a, uintptr_t n)
{
    void *p = RawMmap(a, n, MAP_FIXED_NOREPLACE);
    if (p == MAP_FAILED)
        return false;
    RawMunmap(p, n);
    return p == P(a);
}

// Whether the process can read the byte at a (the kernel copies it into a
// pipe, or refuses with EFAULT).
bool Readable(uintptr_t a)
{
    int fds[2];
    if (pipe(fds) != 0)
        return false;
    long n = syscall(SYS_write, fds[1], P(a), 1);
    close(fds[0]);
    close(fds[1]);
    return n == 1;
}

// The bytes at [a, a+n) as the kernel holds them, whatever their protection
// (/proc/self/mem): "" if the range cannot be read at all.
std::string KernelBytes(uintptr_t a, size_t n)
{
    int fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return "";
    std::string s(n, '\0');
    ssize_t got = pread(fd, &s[0], n, static_cast<off_t>(a));
    close(fd);
    return got == static_cast<ssize_t>(n) ? s : "";
}

memwin_region_info Query(uintptr_t a)
{
    memwin_region_info info{};
    EXPECT_EQ(Os()->virtual_query(P(a), &info), 0u);
    return info;
}

// A reservation of n bytes at a free hint, n committed read-write if commit.
uintptr_t Reserve(uintptr_t n, bool commit)
{
    uintptr_t hint = FreeArea(n);
    if (!hint)
        return 0;
    uint32_t type = MEMWIN_MEM_RESERVE | (commit ? MEMWIN_MEM_COMMIT : 0);
    return U(Os()->virtual_alloc(P(hint), n, type, MEMWIN_PAGE_READWRITE));
}

// Counts of every kind of call made by f on this thread, after plan() has
// set up the refusals.
struct Counts {
    long mmap, munmap, mprotect, madvise, write;
    long Total() const
    {
        return mmap + munmap + mprotect + madvise;
    }
};

template <class Plan, class F> Counts Armed(Plan plan, F f)
{
    fs::Arm();
    plan();
    f();
    Counts c{fs::Count(fs::kMmap), fs::Count(fs::kMunmap), fs::Count(fs::kMprotect),
             fs::Count(fs::kMadvise), fs::Count(fs::kWrite)};
    fs::Disarm();
    return c;
}

template <class F> Counts Counted(F f)
{
    return Armed([] {}, f);
}

// Standard error captured in a file while f runs (fd 2 points at a memfd).
template <class F> std::string Stderr(F f)
{
    int fd = static_cast<int>(syscall(SYS_memfd_create, "stderr", 0));
    if (fd < 0)
        return "<no memfd>";
    int saved = dup(2);
    dup2(fd, 2);
    f();
    dup2(saved, 2);
    close(saved);
    std::string s;
    char buf[256];
    ssize_t n;
    lseek(fd, 0, SEEK_SET);
    while ((n = read(fd, buf, sizeof buf)) > 0)
        s.append(buf, static_cast<size_t>(n));
    close(fd);
    return s;
}

const char kMessage[] = "fatal error: runtime: cannot allocate memory\n"; // 45 bytes

void WriteMessage()
{
    Os()->write_stderr(kMessage, sizeof kMessage - 1);
}

} // namespace

// ---- write_stderr ------------------------------------------------------

// The host table's write_stderr writes the whole message, however short the
// kernel's writes are: each write takes what is left after the ones before,
// so a message of n bytes written k at a time costs ceil(n / k) calls.  An
// empty message makes no call.
TEST(SyscallFail, WriteStderrWholeThroughShortWrites)
{
    const size_t n = sizeof kMessage - 1;
    for (size_t k : {size_t(1), size_t(2), size_t(3), size_t(7), size_t(44), n, n + 1}) {
        SCOPED_TRACE("writes of at most " + std::to_string(k) + " bytes");
        Counts c{};
        std::string out = Stderr([&] { c = Armed([&] { fs::ShortWrites(k); }, WriteMessage); });
        EXPECT_EQ(out, kMessage);
        EXPECT_EQ(c.write, long((n + k - 1) / k));
    }
    Counts c{};
    std::string out = Stderr([&] { c = Counted([] { Os()->write_stderr(kMessage, 0); }); });
    EXPECT_EQ(out, "");
    EXPECT_EQ(c.write, 0);
}

// A write interrupted by a signal before writing anything (-1, EINTR) is
// made again: the message is still written whole, once.
TEST(SyscallFail, WriteStderrRetriesEintr)
{
    Counts c{};
    std::string out = Stderr([&] { c = Armed([] { fs::Fail(fs::kWrite, 1, EINTR, 2); }, WriteMessage); });
    EXPECT_EQ(out, kMessage);
    EXPECT_EQ(c.write, 3);
    // Between short writes too.
    out = Stderr([&] {
        c = Armed(
            [] {
                fs::ShortWrites(10);
                fs::Fail(fs::kWrite, 2, EINTR, 3);
            },
            WriteMessage);
    });
    EXPECT_EQ(out, kMessage);
    EXPECT_EQ(c.write, 5 + 3);
}

// Only the failed write's own errno counts: an EINTR left in errno by some
// earlier call does not make a successful or empty write be taken for an
// interrupted one (which would write the message again, or forever).
TEST(SyscallFail, WriteStderrStaleEintrIsNotARetry)
{
    Counts c{};
    std::string out = Stderr([&] {
        c = Armed([] {}, [] {
            errno = EINTR;
            WriteMessage();
        });
    });
    EXPECT_EQ(out, kMessage);
    EXPECT_EQ(c.write, 1);
    out = Stderr([&] {
        c = Armed([] { fs::WriteZeroFrom(1); },
                  [] {
                      errno = EINTR;
                      WriteMessage();
                  });
    });
    EXPECT_EQ(out, "");
    EXPECT_EQ(c.write, 1);
}

// A write that writes nothing (0) ends the message: no further write, what
// was written before stays.
TEST(SyscallFail, WriteStderrStopsAtZero)
{
    Counts c{};
    std::string out = Stderr([&] {
        c = Armed(
            [] {
                fs::ShortWrites(4);
                fs::WriteZeroFrom(3);
            },
            WriteMessage);
    });
    EXPECT_EQ(out, std::string(kMessage, 8));
    EXPECT_EQ(c.write, 3);
}

// A write that fails with any error but EINTR ends the message: no further
// write (whatever the errno's value: EPERM is below EINTR, the others above).
TEST(SyscallFail, WriteStderrStopsAtError)
{
    for (int e : {EPERM, EIO, EBADF, EAGAIN, ENOSPC, EPIPE}) {
        SCOPED_TRACE("errno " + std::to_string(e));
        Counts c{};
        std::string out = Stderr([&] {
            c = Armed(
                [&] {
                    fs::ShortWrites(4);
                    fs::Fail(fs::kWrite, 2, e);
                },
                WriteMessage);
        });
        EXPECT_EQ(out, std::string(kMessage, 4));
        EXPECT_EQ(c.write, 2);
    }
}

// ---- decommit ------------------------------------------------------------

// "Each transition costs at most one system call": a decommit of pages that
// are all reserved already changes nothing and makes no call; a decommit of
// committed pages makes one (a fresh PROT_NONE mapping over them, so they
// read zero when committed again); that holds for pages committed
// PAGE_NOACCESS too, which are committed all the same and do become
// reserved.
TEST(SyscallFail, DecommitCostsOneCallOrNone)
{
    const uintptr_t n = 4 * kGranule;
    uintptr_t a = Reserve(n, false);
    ASSERT_NE(a, 0u);
    Counts c = Counted([&] { EXPECT_TRUE(Os()->virtual_free(P(a + kPage), 2 * kPage, MEMWIN_MEM_DECOMMIT)); });
    EXPECT_EQ(c.Total(), 0);
    c = Counted([&] { EXPECT_TRUE(Os()->virtual_free(P(a), 0, MEMWIN_MEM_DECOMMIT)); });
    EXPECT_EQ(c.Total(), 0);

    ASSERT_EQ(Os()->virtual_alloc(P(a), 3 * kPage, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE), P(a));
    static_cast<char *>(P(a))[kPage] = 42;
    // Part committed, part reserved: one call for the whole range.
    c = Counted([&] { EXPECT_TRUE(Os()->virtual_free(P(a + kPage), 4 * kPage, MEMWIN_MEM_DECOMMIT)); });
    EXPECT_EQ(c.mmap, 1);
    EXPECT_EQ(c.Total(), 1);
    EXPECT_EQ(Query(a).state, MEMWIN_MEM_COMMIT);
    EXPECT_EQ(Query(a).region_size, kPage);
    EXPECT_EQ(Query(a + kPage).state, MEMWIN_MEM_RESERVE);
    EXPECT_EQ(Query(a + kPage).region_size, n - kPage);

    // Committed PAGE_NOACCESS, then decommitted: reserved again.
    for (uintptr_t size : {uintptr_t(0), 2 * kPage}) {
        SCOPED_TRACE("decommit size " + std::to_string(size));
        ASSERT_EQ(Os()->virtual_alloc(P(a), n, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_NOACCESS), P(a));
        c = Counted([&] { EXPECT_TRUE(Os()->virtual_free(P(a), size, MEMWIN_MEM_DECOMMIT)); });
        EXPECT_EQ(c.Total(), 1);
        EXPECT_EQ(Query(a).state, MEMWIN_MEM_RESERVE);
        EXPECT_EQ(Query(a).region_size, size ? size : n);
        Os()->virtual_free(P(a), 0, MEMWIN_MEM_DECOMMIT);
    }
    EXPECT_TRUE(Os()->virtual_free(P(a), 0, MEMWIN_MEM_RELEASE));
}

// A decommit the kernel refuses (its mmap over the pages fails) fails with
// ERROR_NOT_ENOUGH_MEMORY and changes nothing: the pages stay committed
// with their contents; the same call succeeds once the kernel allows it.
TEST(SyscallFail, DecommitRefusedChangesNothing)
{
    const uintptr_t n = 4 * kGranule;
    uintptr_t a = Reserve(n, true);
    ASSERT_NE(a, 0u);
    std::memset(P(a), 0x5A, n);
    for (uintptr_t size : {uintptr_t(0), 2 * kPage}) {
        SCOPED_TRACE("decommit size " + std::to_string(size));
        for (int e : {ENOMEM, EINVAL, EEXIST}) {
            Os()->set_last_error(0);
            Counts c = Armed([&] { fs::Fail(fs::kMmap, 1, e); },
                             [&] { EXPECT_FALSE(Os()->virtual_free(P(a), size, MEMWIN_MEM_DECOMMIT)); });
            EXPECT_EQ(c.mmap, 1);
            EXPECT_EQ(Os()->get_last_error(), MEMWIN_ERROR_NOT_ENOUGH_MEMORY);
            memwin_region_info q = Query(a);
            EXPECT_EQ(q.state, MEMWIN_MEM_COMMIT);
            EXPECT_EQ(q.protect, MEMWIN_PAGE_READWRITE);
            EXPECT_EQ(q.region_size, n);
            EXPECT_EQ(static_cast<unsigned char *>(P(a))[0], 0x5A);
            EXPECT_EQ(static_cast<unsigned char *>(P(a))[n - 1], 0x5A);
        }
        EXPECT_TRUE(Os()->virtual_free(P(a), size, MEMWIN_MEM_DECOMMIT));
        EXPECT_EQ(Query(a).state, MEMWIN_MEM_RESERVE);
        ASSERT_EQ(Os()->virtual_alloc(P(a), n, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE), P(a));
        EXPECT_EQ(static_cast<unsigned char *>(P(a))[0], 0);
        std::memset(P(a), 0x5A, n);
    }
    EXPECT_TRUE(Os()->virtual_free(P(a), 0, MEMWIN_MEM_RELEASE));
}

// A decommit of a whole reservation makes its pages uniform again: it needs
// no per-page bookkeeping, so it succeeds with every allocation refused
// (a partial one needs the room for its runs first).
TEST(SyscallFail, WholeDecommitNeedsNoAllocation)
{
    const uintptr_t n = 4 * kGranule;
    uintptr_t a = Reserve(n, true);
    ASSERT_NE(a, 0u);
    auto whole = failing_malloc::WithAllocations(
        0, [&] { return Os()->virtual_free(P(a), 0, MEMWIN_MEM_DECOMMIT); });
    EXPECT_TRUE(whole.result);
    EXPECT_EQ(whole.failed, 0);
    EXPECT_EQ(Query(a).state, MEMWIN_MEM_RESERVE);
    EXPECT_EQ(Query(a).region_size, n);
    // The same by size.
    ASSERT_EQ(Os()->virtual_alloc(P(a), n, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE), P(a));
    auto sized = failing_malloc::WithAllocations(
        0, [&] { return Os()->virtual_free(P(a), n, MEMWIN_MEM_DECOMMIT); });
    EXPECT_TRUE(sized.result);
    EXPECT_EQ(sized.failed, 0);
    EXPECT_EQ(Query(a).region_size, n);
    EXPECT_TRUE(Os()->virtual_free(P(a), 0, MEMWIN_MEM_RELEASE));
}

// ---- release ---------------------------------------------------------------

// A release costs one system call (munmap of the reservation's pages) and
// leaves nothing mapped, at once.
TEST(SyscallFail, ReleaseUnmapsAtOnce)
{
    const uintptr_t n = 4 * kGranule;
    for (bool commit : {false, true}) {
        uintptr_t a = Reserve(n, commit);
        ASSERT_NE(a, 0u);
        Counts c = Counted([&] { EXPECT_TRUE(Os()->virtual_free(P(a), 0, MEMWIN_MEM_RELEASE)); });
        EXPECT_EQ(c.munmap, 1);
        EXPECT_EQ(c.Total(), 1);
        EXPECT_TRUE(Unmapped(a, n));
        EXPECT_EQ(Query(a).state, MEMWIN_MEM_FREE);
    }
}

// A release whose munmap the kernel refuses (its mapping limit: the unmap
// needed a split) still succeeds: the reservation is gone from queries at
// once, its pages' contents are discarded (they read zero) and the pages are
// inaccessible; the mapping itself goes at a later call, here the next
// successful release.
TEST(SyscallFail, ReleaseThatCannotUnmapStillSucceeds)
{
    const uintptr_t n = 4 * kGranule;
    uintptr_t a = Reserve(n, true), b = Reserve(kGranule, false);
    ASSERT_NE(a, 0u);
    ASSERT_NE(b, 0u);
    std::memset(P(a), 0x5A, n);
    Counts c = Armed([] { fs::Fail(fs::kMunmap, 1, ENOMEM); },
                     [&] { EXPECT_TRUE(Os()->virtual_free(P(a), 0, MEMWIN_MEM_RELEASE)); });
    EXPECT_EQ(c.munmap, 1);
    EXPECT_EQ(Query(a).state, MEMWIN_MEM_FREE);
    EXPECT_EQ(Query(a + n - kPage).state, MEMWIN_MEM_FREE);
    EXPECT_FALSE(Unmapped(a, n)) << "the kernel refused the unmap: still mapped";
    EXPECT_FALSE(Readable(a));
    EXPECT_FALSE(Readable(a + n - kPage));
    EXPECT_EQ(KernelBytes(a, 16), std::string(16, '\0'));
    EXPECT_EQ(KernelBytes(a + n - 16, 16), std::string(16, '\0'));
    // A release that can unmap takes the pending one with it.
    c = Counted([&] { EXPECT_TRUE(Os()->virtual_free(P(b), 0, MEMWIN_MEM_RELEASE)); });
    EXPECT_EQ(c.munmap, 2);
    EXPECT_TRUE(Unmapped(b, kGranule));
    EXPECT_TRUE(Unmapped(a, n));
}

// The same, the pending mapping going at the next reservation; a pending
// release that the kernel still refuses stays pending, and the reservation
// is made all the same.
TEST(SyscallFail, PendingReleaseGoesAtTheNextReservation)
{
    const uintptr_t n = 2 * kGranule;
    uintptr_t a = Reserve(n, false);
    ASSERT_NE(a, 0u);
    Armed([] { fs::Fail(fs::kMunmap, 1, ENOMEM); },
          [&] { EXPECT_TRUE(Os()->virtual_free(P(a), 0, MEMWIN_MEM_RELEASE)); });
    EXPECT_FALSE(Unmapped(a, n));
    uintptr_t b = 0, c = 0;
    Armed([] { fs::Fail(fs::kMunmap, 1, ENOMEM); }, [&] { b = Reserve(kGranule, false); });
    EXPECT_NE(b, 0u);
    EXPECT_FALSE(Unmapped(a, n));
    c = Reserve(kGranule, false);
    EXPECT_NE(c, 0u);
    EXPECT_TRUE(Unmapped(a, n));
    EXPECT_EQ(Query(a).state, MEMWIN_MEM_FREE);
    EXPECT_TRUE(Os()->virtual_free(P(b), 0, MEMWIN_MEM_RELEASE));
    EXPECT_TRUE(Os()->virtual_free(P(c), 0, MEMWIN_MEM_RELEASE));
}

// Several releases pending: each later call retries every one, unmaps
// those the kernel now allows and keeps the others for later.  A retried
// range is free for a hint again (it was never given to anyone else).
TEST(SyscallFail, SeveralPendingReleases)
{
    const uintptr_t n = 2 * kGranule;
    uintptr_t a = Reserve(n, true), b = Reserve(n, true), c = Reserve(kGranule, false);
    ASSERT_NE(a, 0u);
    ASSERT_NE(b, 0u);
    ASSERT_NE(c, 0u);
    Armed([] { fs::Fail(fs::kMunmap, 1, ENOMEM); }, [&] {
        EXPECT_TRUE(Os()->virtual_free(P(a), 0, MEMWIN_MEM_RELEASE));
        EXPECT_TRUE(Os()->virtual_free(P(b), 0, MEMWIN_MEM_RELEASE));
    });
    EXPECT_FALSE(Unmapped(a, n));
    EXPECT_FALSE(Unmapped(b, n));
    // The next release: its own munmap and one retry succeed, the other
    // retry (the first one made) is refused, which does not stop the next.
    Counts k = Armed([] { fs::Fail(fs::kMunmap, 2, ENOMEM, 1); },
                     [&] { EXPECT_TRUE(Os()->virtual_free(P(c), 0, MEMWIN_MEM_RELEASE)); });
    EXPECT_EQ(k.munmap, 3);
    EXPECT_TRUE(Unmapped(c, kGranule));
    EXPECT_NE(Unmapped(a, n), Unmapped(b, n)) << "one retry succeeded, one was refused";
    uintptr_t still = Unmapped(a, n) ? b : a;
    // The next reservation retries the one left.
    void *p = nullptr;
    k = Counted([&] { p = Os()->virtual_alloc(P(still), n, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE); });
    EXPECT_EQ(p, P(still));
    EXPECT_EQ(k.munmap, 1);
    EXPECT_EQ(Query(still).state, MEMWIN_MEM_RESERVE);
    EXPECT_TRUE(Os()->virtual_free(P(still), 0, MEMWIN_MEM_RELEASE));
    // No retry left: a release makes one call.
    uintptr_t d = Reserve(kGranule, false);
    ASSERT_NE(d, 0u);
    k = Counted([&] { EXPECT_TRUE(Os()->virtual_free(P(d), 0, MEMWIN_MEM_RELEASE)); });
    EXPECT_EQ(k.munmap, 1);
    EXPECT_TRUE(Unmapped(a, n));
    EXPECT_TRUE(Unmapped(b, n));
}

// Pending releases, once unmapped, are released address space like any
// other: reused by later reservations (after the quarantine), so a long run
// of reservations whose releases all go pending stays within a bounded
// stretch of address space, and allocates nothing once warm (their records
// serve again).
TEST(SyscallFail, PendingReleasesAreReused)
{
    const int cycles = 300;
    // Warm-up with releases that unmap: the zone placed, older holes used.
    for (int i = 0; i < cycles; i++) {
        void *p = Os()->virtual_alloc(nullptr, kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
        ASSERT_NE(p, nullptr);
        EXPECT_TRUE(Os()->virtual_free(p, 0, MEMWIN_MEM_RELEASE));
    }
    std::vector<uintptr_t> seen;
    for (int i = 0; i < cycles; i++) {
        void *p = Os()->virtual_alloc(nullptr, kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
        ASSERT_NE(p, nullptr);
        seen.push_back(U(p));
        Armed([] { fs::Fail(fs::kMunmap, 1, ENOMEM); },
              [&] { EXPECT_TRUE(Os()->virtual_free(p, 0, MEMWIN_MEM_RELEASE)); });
    }
    std::sort(seen.begin(), seen.end());
    long distinct = std::unique(seen.begin(), seen.end()) - seen.begin();
    EXPECT_LT(distinct, 100) << "released address space was not reused";
    // Warm: at a hint, every allocation refused.
    uintptr_t hint = FreeArea(kGranule);
    ASSERT_NE(hint, 0u);
    int reserved = 0;
    failing_malloc::Arm(0);
    for (int i = 0; i < cycles; i++) {
        void *p = Os()->virtual_alloc(P(hint), kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
        if (p != P(hint))
            break;
        reserved++;
        fs::Arm();
        fs::Fail(fs::kMunmap, 1, ENOMEM);
        int ok = Os()->virtual_free(p, 0, MEMWIN_MEM_RELEASE);
        fs::Disarm();
        if (!ok)
            break;
    }
    long failed = failing_malloc::Failed();
    failing_malloc::Disarm();
    EXPECT_EQ(reserved, cycles);
    EXPECT_EQ(failed, 0);
    void *last = Os()->virtual_alloc(nullptr, kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
    EXPECT_TRUE(Unmapped(hint, kGranule));
    if (last) {
        EXPECT_TRUE(Os()->virtual_free(last, 0, MEMWIN_MEM_RELEASE));
    }
}

// "A reserve/release pair then costs no malloc or free": a released
// reservation's record serves the next reservation, so reserve/release
// cycles at one address allocate nothing, however many (more than the 256
// spare records the emulation keeps).
TEST(SyscallFail, ReserveReleaseCyclesAllocateNothing)
{
    uintptr_t hint = FreeArea(kGranule);
    ASSERT_NE(hint, 0u);
    ASSERT_EQ(Os()->virtual_alloc(P(hint), kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE), P(hint));
    ASSERT_TRUE(Os()->virtual_free(P(hint), 0, MEMWIN_MEM_RELEASE));
    int reserved = 0;
    failing_malloc::Arm(0);
    for (int i = 0; i < 300; i++) {
        void *p = Os()->virtual_alloc(P(hint), kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
        if (p != P(hint))
            break;
        reserved++;
        if (!Os()->virtual_free(p, 0, MEMWIN_MEM_RELEASE))
            break;
    }
    long failed = failing_malloc::Failed();
    failing_malloc::Disarm();
    EXPECT_EQ(reserved, 300);
    EXPECT_EQ(failed, 0);
}

// A refused reservation leaves no record behind: many reservations refused
// (their range is taken) leave the heap as it was.
TEST(SyscallFail, RefusedReservationsLeaveNoRecord)
{
    uintptr_t a = Reserve(kGranule, false);
    ASSERT_NE(a, 0u);
    for (int i = 0; i < 8; i++) // warm: spares, leaves
        Os()->virtual_alloc(P(a), kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
    size_t before = mallinfo2().uordblks;
    for (int i = 0; i < 2000; i++)
        EXPECT_EQ(Os()->virtual_alloc(P(a), kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE), nullptr);
    size_t after = mallinfo2().uordblks;
    EXPECT_EQ(Os()->get_last_error(), MEMWIN_ERROR_INVALID_ADDRESS);
    EXPECT_LT(after, before + 4096) << "the heap grew by " << (after - before) << " bytes";
    EXPECT_TRUE(Os()->virtual_free(P(a), 0, MEMWIN_MEM_RELEASE));
}

// A reservation whose record cannot be allocated fails with
// ERROR_NOT_ENOUGH_MEMORY and leaves nothing mapped, at a hint or anywhere.
// (The records of released reservations, at most 256, are used first: 300
// live reservations take them all.)
TEST(SyscallFail, ReservationWithoutRecordFails)
{
    std::vector<void *> held;
    for (int i = 0; i < 300; i++) {
        void *p = Os()->virtual_alloc(nullptr, kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
        ASSERT_NE(p, nullptr);
        held.push_back(p);
    }
    uintptr_t hint = FreeArea(kGranule);
    ASSERT_NE(hint, 0u);
    for (void *want : {P(hint), static_cast<void *>(nullptr)}) {
        Os()->set_last_error(0);
        failing_malloc::Arm(0);
        void *p = Os()->virtual_alloc(want, kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
        failing_malloc::Disarm();
        EXPECT_EQ(p, nullptr);
        EXPECT_EQ(Os()->get_last_error(), MEMWIN_ERROR_NOT_ENOUGH_MEMORY);
    }
    EXPECT_TRUE(Unmapped(hint, kGranule));
    for (void *p : held)
        EXPECT_TRUE(Os()->virtual_free(p, 0, MEMWIN_MEM_RELEASE));
}

// The last granule of the user address space, [0x7FFFFFFE0000,
// 0x7FFFFFFF0000), can be reserved, committed up to its end and decommitted
// (where the host has a mapping there, the reservation is refused and the
// test checks nothing more: a skip would count as no test run for the
// mutation tool's judge).
TEST(SyscallFail, TopGranule)
{
    const uintptr_t top = 0x7FFFFFFE0000ull;
    void *p = Os()->virtual_alloc(P(top), kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
    if (!p) {
        EXPECT_EQ(Os()->get_last_error(), MEMWIN_ERROR_INVALID_ADDRESS);
        return;
    }
    ASSERT_EQ(p, P(top));
    EXPECT_EQ(Os()->virtual_alloc(P(top + kGranule - kPage), kPage, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE),
              P(top + kGranule - kPage));
    EXPECT_EQ(Os()->virtual_alloc(P(top), kGranule, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE), P(top));
    EXPECT_EQ(Query(top).state, MEMWIN_MEM_COMMIT);
    EXPECT_EQ(Query(top).region_size, kGranule);
    EXPECT_TRUE(Os()->virtual_free(P(top + kGranule / 2), kGranule / 2, MEMWIN_MEM_DECOMMIT));
    EXPECT_EQ(Query(top + kGranule / 2).state, MEMWIN_MEM_RESERVE);
    EXPECT_TRUE(Os()->virtual_free(P(top), 0, MEMWIN_MEM_RELEASE));
}

// A reservation made anywhere owns whole 64 KiB granules and no more: the
// page after a 64 KiB one is not part of it.
TEST(SyscallFail, AnywhereReservationOwnsItsGranulesOnly)
{
    for (uintptr_t n : {kGranule, 2 * kGranule, kGranule - kPage}) {
        void *p = Os()->virtual_alloc(nullptr, n, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
        ASSERT_NE(p, nullptr);
        uintptr_t a = U(p), next = (a + n + kGranule - 1) & ~(kGranule - 1);
        EXPECT_EQ(Query(a).region_size, n);
        EXPECT_NE(U(Query(next).allocation_base), a);
        EXPECT_NE(U(Query(a + n).allocation_base), a);
        EXPECT_TRUE(Os()->virtual_free(p, 0, MEMWIN_MEM_RELEASE));
    }
}

// A reservation at an address whose granules another reservation owns is
// refused with ERROR_INVALID_ADDRESS before any system call; one made
// anywhere is not refused for reservations at lower addresses than its size.
TEST(SyscallFail, OverlappingHintRefusedWithoutCall)
{
    const uintptr_t n = 4 * kGranule;
    uintptr_t a = Reserve(n, false);
    ASSERT_NE(a, 0u);
    for (uintptr_t hint : {a, a + kGranule, a + n - kPage, a - kGranule}) {
        void *p = P(1);
        Os()->set_last_error(0);
        Counts c = Counted([&] { p = Os()->virtual_alloc(P(hint), 2 * kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE); });
        EXPECT_EQ(p, nullptr);
        EXPECT_EQ(Os()->get_last_error(), MEMWIN_ERROR_INVALID_ADDRESS);
        EXPECT_EQ(c.Total(), 0);
    }
    // A reservation low in the address space, then one anywhere bigger than
    // its address.
    uintptr_t low = 0;
    for (uintptr_t h = 0x100000; h < 0x10000000 && !low; h += 0x100000)
        if (Unmapped(h, kGranule))
            low = U(Os()->virtual_alloc(P(h), kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE));
    ASSERT_NE(low, 0u);
    void *big = Os()->virtual_alloc(nullptr, 2 * low, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
    EXPECT_NE(big, nullptr);
    if (big) {
        EXPECT_TRUE(Os()->virtual_free(big, 0, MEMWIN_MEM_RELEASE));
    }
    EXPECT_TRUE(Os()->virtual_free(P(low), 0, MEMWIN_MEM_RELEASE));
    EXPECT_TRUE(Os()->virtual_free(P(a), 0, MEMWIN_MEM_RELEASE));
}

// A reservation the kernel refuses fails with the code Windows gives for the
// same cause (emu_errno_code): the range is taken (EEXIST) ->
// ERROR_INVALID_ADDRESS, a bad argument (EINVAL) -> ERROR_INVALID_PARAMETER,
// anything else (ENOMEM: no memory, the mapping limit) ->
// ERROR_NOT_ENOUGH_MEMORY.  Nothing is left mapped or recorded, and the
// same reservation succeeds once the kernel allows it.
TEST(SyscallFail, ReservationRefusedByTheKernel)
{
    struct Case {
        int err;
        uint32_t code;
    };
    // The zone placed (the first reservation anywhere is the kernel's
    // choice: there is nothing else to try).
    void *warm = Os()->virtual_alloc(nullptr, kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
    ASSERT_NE(warm, nullptr);
    uintptr_t hint = FreeArea(2 * kGranule);
    ASSERT_NE(hint, 0u);
    for (Case k : {Case{EEXIST, MEMWIN_ERROR_INVALID_ADDRESS}, Case{EINVAL, MEMWIN_ERROR_INVALID_PARAMETER},
                   Case{ENOMEM, MEMWIN_ERROR_NOT_ENOUGH_MEMORY}, Case{EAGAIN, MEMWIN_ERROR_NOT_ENOUGH_MEMORY},
                   Case{EPERM, MEMWIN_ERROR_NOT_ENOUGH_MEMORY}, Case{EOVERFLOW, MEMWIN_ERROR_NOT_ENOUGH_MEMORY},
                   Case{EMFILE, MEMWIN_ERROR_NOT_ENOUGH_MEMORY}, Case{EACCES, MEMWIN_ERROR_NOT_ENOUGH_MEMORY}}) {
        SCOPED_TRACE("errno " + std::to_string(k.err));
        for (bool at_hint : {true, false}) {
            SCOPED_TRACE(at_hint ? "at a hint" : "anywhere");
            void *p = P(1);
            Os()->set_last_error(0);
            Counts c = Armed([&] { fs::Fail(fs::kMmap, 1, k.err); }, [&] {
                p = Os()->virtual_alloc(at_hint ? P(hint) : nullptr, 2 * kGranule, MEMWIN_MEM_RESERVE,
                                        MEMWIN_PAGE_READWRITE);
            });
            EXPECT_EQ(p, nullptr);
            EXPECT_EQ(Os()->get_last_error(), k.code);
            EXPECT_GE(c.mmap, 1);
            EXPECT_EQ(c.munmap, 0);
            EXPECT_TRUE(Unmapped(hint, 2 * kGranule));
            EXPECT_EQ(Query(hint).state, MEMWIN_MEM_FREE);
        }
        // The kernel refuses only the first attempt of a reservation
        // anywhere (in the zone): it is placed elsewhere.
        void *p = nullptr;
        Armed([&] { fs::Fail(fs::kMmap, 1, k.err, 1); },
              [&] { p = Os()->virtual_alloc(nullptr, 2 * kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE); });
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(U(p) % kGranule, 0u);
        EXPECT_EQ(Query(U(p)).region_size, 2 * kGranule);
        EXPECT_TRUE(Os()->virtual_free(p, 0, MEMWIN_MEM_RELEASE));
    }
    void *p = Os()->virtual_alloc(P(hint), 2 * kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
    EXPECT_EQ(p, P(hint));
    EXPECT_TRUE(Os()->virtual_free(p, 0, MEMWIN_MEM_RELEASE));
    EXPECT_TRUE(Os()->virtual_free(warm, 0, MEMWIN_MEM_RELEASE));
}

// On a kernel that ignores MAP_FIXED_NOREPLACE (before Linux 4.17) a hint
// that something else maps is only a hint: the kernel maps elsewhere, and
// the reservation gives that mapping back and fails with
// ERROR_INVALID_ADDRESS, as Windows does for a hint that is not free.
TEST(SyscallFail, HintOnAKernelWithoutNoReplace)
{
    uintptr_t x = FreeArea(kGranule);
    ASSERT_NE(x, 0u);
    void *squat = RawMmap(x, kPage, MAP_FIXED_NOREPLACE);
    ASSERT_EQ(squat, P(x));
    void *p = P(1), *got = nullptr;
    size_t got_len = 0;
    Os()->set_last_error(0);
    Counts c = Armed([] { fs::IgnoreFixedNoReplace(true); }, [&] {
        p = Os()->virtual_alloc(P(x), kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
        fs::LastMmap(&got, &got_len);
    });
    EXPECT_EQ(p, nullptr);
    EXPECT_EQ(Os()->get_last_error(), MEMWIN_ERROR_INVALID_ADDRESS);
    EXPECT_EQ(c.mmap, 1);
    EXPECT_EQ(c.munmap, 1);
    ASSERT_NE(got, nullptr);
    EXPECT_NE(got, P(x));
    EXPECT_TRUE(Unmapped(U(got), got_len)) << "the kernel's other mapping was kept";
    EXPECT_EQ(Query(x).state, MEMWIN_MEM_FREE);
    RawMunmap(squat, kPage);
}

// "A reservation costs one mmap instead of map-trim-trim": once the zone is
// placed, reservations anywhere (64 KiB aligned) and aligned ones cost one
// system call each, and their releases one; an aligned reservation the
// kernel places unaligned costs at most three (map, trim both ends) and
// leaves only its own range mapped.
TEST(SyscallFail, ReservationCostsOneCall)
{
    void *warm = Os()->virtual_alloc(nullptr, kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
    ASSERT_NE(warm, nullptr);
    for (uintptr_t n : {kGranule, 3 * kGranule + kPage, uintptr_t(1) << 20}) {
        void *p = nullptr;
        Counts c = Counted([&] { p = Os()->virtual_alloc(nullptr, n, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE); });
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(c.mmap, 1);
        EXPECT_EQ(c.Total(), 1);
        EXPECT_EQ(U(p) % kGranule, 0u);
        c = Counted([&] { EXPECT_TRUE(Os()->virtual_free(p, 0, MEMWIN_MEM_RELEASE)); });
        EXPECT_EQ(c.Total(), 1);
    }
    for (uintptr_t align : {uintptr_t(1) << 20, uintptr_t(1) << 26}) {
        void *p = nullptr;
        Counts c = Counted(
            [&] { p = Os()->virtual_alloc_aligned(2 * kGranule, align, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE); });
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(U(p) % align, 0u);
        EXPECT_LE(c.Total(), 3);
        EXPECT_EQ(c.Total() - c.mmap, c.munmap);
        EXPECT_TRUE(Unmapped(U(p) - kGranule, kGranule));
        EXPECT_TRUE(Unmapped(U(p) + 2 * kGranule, kGranule));
        EXPECT_FALSE(Unmapped(U(p), kPage));
        EXPECT_TRUE(Os()->virtual_free(p, 0, MEMWIN_MEM_RELEASE));
    }
    EXPECT_TRUE(Os()->virtual_free(warm, 0, MEMWIN_MEM_RELEASE));
}

// ---- arguments -------------------------------------------------------------

// virtual_alloc_aligned refuses what it cannot do, with
// ERROR_INVALID_PARAMETER and before any system call: size 0, an
// allocation type with other bits than MEM_RESERVE and MEM_COMMIT, an
// alignment below 64 KiB or not a power of two.  A size of one byte is a
// page; 64 KiB is an alignment.
TEST(SyscallFail, AlignedReserveArguments)
{
    struct Bad {
        uintptr_t size, align;
        uint32_t type;
    };
    const uint32_t reserve = MEMWIN_MEM_RESERVE;
    for (Bad b : {Bad{0, kGranule, reserve}, Bad{0, 2 * kGranule, reserve},
                  Bad{kGranule, kGranule, reserve | 0x100000u}, Bad{kGranule, kGranule, reserve | 0x80000u},
                  Bad{kGranule, kPage, reserve}, Bad{kGranule, kGranule / 2, reserve},
                  Bad{kGranule, 3 * kGranule, reserve}, Bad{kGranule, 0, reserve}}) {
        SCOPED_TRACE("size " + std::to_string(b.size) + " align " + std::to_string(b.align) + " type " +
                     std::to_string(b.type));
        void *p = nullptr;
        Os()->set_last_error(0);
        Counts c = Counted([&] { p = Os()->virtual_alloc_aligned(b.size, b.align, b.type, MEMWIN_PAGE_READWRITE); });
        EXPECT_EQ(p, nullptr);
        EXPECT_EQ(Os()->get_last_error(), MEMWIN_ERROR_INVALID_PARAMETER);
        EXPECT_EQ(c.Total(), 0);
        if (p)
            Os()->virtual_free(p, 0, MEMWIN_MEM_RELEASE);
    }
    for (uintptr_t align : {kGranule, 4 * kGranule}) {
        void *p = Os()->virtual_alloc_aligned(1, align, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(U(p) % align, 0u);
        EXPECT_EQ(Query(U(p)).state, MEMWIN_MEM_RESERVE);
        EXPECT_EQ(Query(U(p)).region_size, kPage);
        EXPECT_TRUE(Os()->virtual_free(p, 0, MEMWIN_MEM_RELEASE));
    }
}

// ---- query -----------------------------------------------------------------

// VirtualQuery of a free page gives the free run up to the next
// reservation's base (or the end of the user address space); the last user
// byte, 0x7FFFFFFEFFFF, can be queried too.
TEST(SyscallFail, QueryFreeRuns)
{
    uintptr_t a = Reserve(kGranule, false);
    ASSERT_NE(a, 0u);
    const uintptr_t low = 0x10000;
    ASSERT_LT(low, a);
    memwin_region_info q = Query(low);
    EXPECT_EQ(q.state, MEMWIN_MEM_FREE);
    EXPECT_EQ(U(q.base), low);
    EXPECT_GT(q.region_size, 0u);
    EXPECT_LE(low + q.region_size, a);
    EXPECT_EQ(Query(low + q.region_size).state, MEMWIN_MEM_RESERVE);
    EXPECT_EQ(U(Query(low + q.region_size).allocation_base), low + q.region_size);
    // Up to the reservation queried from just below it.
    q = Query(a - 3 * kPage);
    EXPECT_EQ(q.region_size, 3 * kPage);

    const uintptr_t last = 0x7FFFFFFEFFFFull;
    memwin_region_info top{};
    ASSERT_EQ(Os()->virtual_query(P(last), &top), 0u);
    EXPECT_EQ(top.state, MEMWIN_MEM_FREE);
    EXPECT_EQ(U(top.base), last & ~(kPage - 1));
    EXPECT_EQ(top.region_size, kPage);
    EXPECT_EQ(Os()->virtual_query(P(last + 1), &top), MEMWIN_ERROR_INVALID_PARAMETER);
    EXPECT_TRUE(Os()->virtual_free(P(a), 0, MEMWIN_MEM_RELEASE));
}

// ---- commit ----------------------------------------------------------------

// A commit of pages already committed with that protection changes nothing
// and makes no call; any other commit makes one (mprotect), over the pages
// asked for only.
TEST(SyscallFail, CommitCostsOneCallOrNone)
{
    const uintptr_t n = 4 * kGranule;
    uintptr_t a = Reserve(n, false);
    ASSERT_NE(a, 0u);
    Counts c = Counted([&] {
        EXPECT_EQ(Os()->virtual_alloc(P(a + kPage), 2 * kPage, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE),
                  P(a + kPage));
    });
    EXPECT_EQ(c.mprotect, 1);
    EXPECT_EQ(c.Total(), 1);
    c = Counted([&] {
        EXPECT_EQ(Os()->virtual_alloc(P(a + kPage), 2 * kPage, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE),
                  P(a + kPage));
    });
    EXPECT_EQ(c.Total(), 0);
    c = Counted([&] {
        EXPECT_EQ(Os()->virtual_alloc(P(a + 2 * kPage), kPage, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READONLY),
                  P(a + 2 * kPage));
    });
    EXPECT_EQ(c.Total(), 1);
    EXPECT_EQ(Query(a).region_size, kPage);
    EXPECT_EQ(Query(a + kPage).protect, MEMWIN_PAGE_READWRITE);
    EXPECT_EQ(Query(a + kPage).region_size, kPage);
    EXPECT_EQ(Query(a + 2 * kPage).protect, MEMWIN_PAGE_READONLY);
    EXPECT_EQ(Query(a + 3 * kPage).state, MEMWIN_MEM_RESERVE);
    EXPECT_EQ(Query(a + 3 * kPage).region_size, n - 3 * kPage);
    EXPECT_TRUE(Os()->virtual_free(P(a), 0, MEMWIN_MEM_RELEASE));
}

// A commit the kernel refuses (mprotect fails: its mapping limit, or no
// memory) fails with ERROR_NOT_ENOUGH_MEMORY and changes nothing.
TEST(SyscallFail, CommitRefusedChangesNothing)
{
    const uintptr_t n = 4 * kGranule;
    uintptr_t a = Reserve(n, false);
    ASSERT_NE(a, 0u);
    for (uintptr_t size : {n, 2 * kPage}) {
        SCOPED_TRACE("commit size " + std::to_string(size));
        for (int e : {ENOMEM, EACCES}) {
            void *p = P(1);
            Os()->set_last_error(0);
            Counts c = Armed([&] { fs::Fail(fs::kMprotect, 1, e); },
                             [&] { p = Os()->virtual_alloc(P(a), size, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE); });
            EXPECT_EQ(p, nullptr);
            EXPECT_EQ(c.mprotect, 1);
            EXPECT_EQ(Os()->get_last_error(), MEMWIN_ERROR_NOT_ENOUGH_MEMORY);
            EXPECT_EQ(Query(a).state, MEMWIN_MEM_RESERVE);
            EXPECT_EQ(Query(a).region_size, n);
            EXPECT_FALSE(Readable(a));
        }
    }
    EXPECT_EQ(Os()->virtual_alloc(P(a), 2 * kPage, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE), P(a));
    EXPECT_EQ(Query(a).region_size, 2 * kPage);
    EXPECT_TRUE(Os()->virtual_free(P(a), 0, MEMWIN_MEM_RELEASE));
}

// A commit of a whole reservation needs no per-page bookkeeping: it
// succeeds with every allocation refused.
TEST(SyscallFail, WholeCommitNeedsNoAllocation)
{
    const uintptr_t n = 4 * kGranule;
    uintptr_t a = Reserve(n, false);
    ASSERT_NE(a, 0u);
    auto commit = failing_malloc::WithAllocations(
        0, [&] { return Os()->virtual_alloc(P(a), n, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE); });
    EXPECT_EQ(commit.result, P(a));
    EXPECT_EQ(commit.failed, 0);
    EXPECT_EQ(Query(a).state, MEMWIN_MEM_COMMIT);
    EXPECT_EQ(Query(a).region_size, n);
    EXPECT_TRUE(Os()->virtual_free(P(a), 0, MEMWIN_MEM_RELEASE));
}

// VirtualAlloc and VirtualFree refuse what they cannot do with
// ERROR_INVALID_PARAMETER, before any system call: an allocation type
// without MEM_RESERVE or MEM_COMMIT or with other bits, a protection other
// than PAGE_NOACCESS, PAGE_READONLY and PAGE_READWRITE, a range whose end
// wraps around the address space or lies above the last user address
// 0x7FFFFFFEFFFF.  Nothing is reserved or changed.
TEST(SyscallFail, VirtualAllocAndFreeArguments)
{
    const uintptr_t n = 4 * kGranule;
    uintptr_t a = Reserve(n, false);
    ASSERT_NE(a, 0u);
    struct Bad {
        uintptr_t addr, size;
        uint32_t type, protect;
    };
    const uint32_t rw = MEMWIN_PAGE_READWRITE, commit = MEMWIN_MEM_COMMIT, reserve = MEMWIN_MEM_RESERVE;
    for (Bad b : {Bad{0, kGranule, 0, rw}, Bad{0, kGranule, 0x100000u, rw}, Bad{0, kGranule, reserve | 0x100000u, rw},
                  Bad{a, kPage, commit | 0x80000u, rw}, Bad{a, kPage, 0x4000u, rw}, Bad{a, kPage, 1u, rw},
                  Bad{0, kGranule, reserve, 0x10u}, Bad{0, kGranule, reserve, 0x40u}, Bad{a, kPage, commit, 0x08u},
                  Bad{a, kPage, commit, 0}, Bad{0, kGranule, commit | reserve, 0x104u},
                  Bad{a + 2 * kPage, ~uintptr_t(0) - kPage + 1, commit, rw},
                  Bad{a, ~uintptr_t(0) - a + kPage, commit, rw}, Bad{0x7FFFFFFF0000ull, kPage, commit, rw},
                  Bad{0x7FFFFFFEF000ull, 2 * kPage, commit, rw}, Bad{0x7FFFFFFEF000ull, kPage + 1, commit, rw},
                  Bad{0x7FFFFFFEF000ull, kPage + 2, commit, rw}}) {
        SCOPED_TRACE("addr " + std::to_string(b.addr) + " size " + std::to_string(b.size) + " type " +
                     std::to_string(b.type) + " protect " + std::to_string(b.protect));
        void *p = P(1);
        Os()->set_last_error(0);
        Counts c = Counted([&] { p = Os()->virtual_alloc(P(b.addr), b.size, b.type, b.protect); });
        EXPECT_EQ(p, nullptr);
        EXPECT_EQ(Os()->get_last_error(), MEMWIN_ERROR_INVALID_PARAMETER);
        EXPECT_EQ(c.Total(), 0);
        if (p && p != P(a))
            Os()->virtual_free(p, 0, MEMWIN_MEM_RELEASE);
    }
    EXPECT_EQ(Query(a).state, MEMWIN_MEM_RESERVE);
    EXPECT_EQ(Query(a).region_size, n);
    // A decommit whose end wraps past 2^64 (87), or whose size rounds to 0
    // pages, the whole reservation, away from its base (487), as Wine.
    for (auto sz : {std::pair<uintptr_t, uint32_t>{~uintptr_t(0) - kPage + 1, MEMWIN_ERROR_INVALID_PARAMETER},
                    std::pair<uintptr_t, uint32_t>{~uintptr_t(0) - kPage, MEMWIN_ERROR_INVALID_PARAMETER},
                    std::pair<uintptr_t, uint32_t>{~uintptr_t(0), MEMWIN_ERROR_INVALID_ADDRESS}}) {
        Os()->set_last_error(0);
        Counts c = Counted([&] { EXPECT_FALSE(Os()->virtual_free(P(a + 2 * kPage), sz.first, MEMWIN_MEM_DECOMMIT)); });
        EXPECT_EQ(Os()->get_last_error(), sz.second);
        EXPECT_EQ(c.Total(), 0);
    }
    EXPECT_EQ(Query(a).region_size, n);
    EXPECT_TRUE(Os()->virtual_free(P(a), 0, MEMWIN_MEM_RELEASE));
}

// ---- other threads ---------------------------------------------------------

namespace {

// A gate one thread waits at (with a bound) until another opens it.
struct Gate {
    std::mutex m;
    std::condition_variable cv;
    bool open = false;
    void Open()
    {
        std::lock_guard<std::mutex> g(m);
        open = true;
        cv.notify_all();
    }
    // True if opened within the bound.
    bool Wait(std::chrono::milliseconds bound)
    {
        std::unique_lock<std::mutex> g(m);
        return cv.wait_for(g, bound, [&] { return open; });
    }
};

// While this thread is inside `inside`'s system call `call` (and so inside
// whatever lock the emulation holds around it), another thread runs `other`.
// Returns whether `other` returned before this thread's call went on (the
// wait for it is bounded: 150 ms).
template <class Inside, class Other>
bool OtherFinishesMeanwhile(fs::Call call, Inside inside, Other other)
{
    struct Ctx {
        Gate entered, done;
        std::atomic<bool> meanwhile{false};
    } ctx;
    std::thread t([&] {
        ctx.entered.Wait(std::chrono::seconds(10));
        other();
        ctx.done.Open();
    });
    fs::Arm();
    fs::OnCall(
        call, 1,
        [](void *p) {
            Ctx *c = static_cast<Ctx *>(p);
            c->entered.Open();
            c->meanwhile = c->done.Wait(std::chrono::milliseconds(150));
        },
        &ctx);
    inside();
    fs::Disarm();
    ctx.entered.Open();
    t.join();
    return ctx.meanwhile;
}

} // namespace

// The emulation's calls are atomic with respect to each other: a query, or
// a commit of another reservation, made by another thread while a decommit
// or commit is inside its system call waits for it to end (and then sees
// its result), as under Windows' address-space lock.
TEST(SyscallFail, CallsOfOtherThreadsWait)
{
    const uintptr_t n = 4 * kGranule;
    uintptr_t a = Reserve(n, true), b = Reserve(n, false);
    ASSERT_NE(a, 0u);
    ASSERT_NE(b, 0u);
    memwin_region_info seen{};
    bool meanwhile = OtherFinishesMeanwhile(
        fs::kMmap, [&] { EXPECT_TRUE(Os()->virtual_free(P(a), kPage, MEMWIN_MEM_DECOMMIT)); },
        [&] { Os()->virtual_query(P(a), &seen); });
    EXPECT_FALSE(meanwhile) << "a query went through during a decommit";
    EXPECT_EQ(seen.state, MEMWIN_MEM_RESERVE) << "the query saw the pages before the decommit";
    void *p = nullptr;
    meanwhile = OtherFinishesMeanwhile(
        fs::kMprotect,
        [&] {
            EXPECT_EQ(Os()->virtual_alloc(P(a), kPage, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE), P(a));
        },
        [&] { p = Os()->virtual_alloc(P(b), kPage, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE); });
    EXPECT_FALSE(meanwhile) << "a commit went through during a commit";
    EXPECT_EQ(p, P(b));
    EXPECT_TRUE(Os()->virtual_free(P(a), 0, MEMWIN_MEM_RELEASE));
    EXPECT_TRUE(Os()->virtual_free(P(b), 0, MEMWIN_MEM_RELEASE));
}

// memwin's spin locks (the heap's, the tracker's, the fatal handler's) give
// the processor away while they wait (memwin_host_yield: sched_yield on
// Linux), so a holder that is not running gets it back: a heap growth that
// finds another thread's growth in progress yields until it ends.
TEST(SyscallFail, SpinningThreadsYield)
{
    memwin_memstats stats{};
    memwin_mheap h{};
    ASSERT_EQ(memwin_mheap_init(&h, 64 * 65536, &stats), MEMWIN_HEAP_OK);
    struct Ctx {
        Gate entered, yielded;
        std::atomic<bool> saw_yield{false};
    } ctx;
    std::thread t([&] {
        ctx.entered.Wait(std::chrono::seconds(10));
        fs::Arm();
        fs::OnCall(fs::kSchedYield, 1, [](void *p) { static_cast<Ctx *>(p)->yielded.Open(); }, &ctx);
        EXPECT_EQ(memwin_mheap_grow(&h, 8192, nullptr), MEMWIN_HEAP_OK);
        fs::Disarm();
    });
    fs::Arm();
    fs::OnCall(
        fs::kMprotect, 1,
        [](void *p) {
            Ctx *c = static_cast<Ctx *>(p);
            c->entered.Open();
            c->saw_yield = c->yielded.Wait(std::chrono::milliseconds(2000));
        },
        &ctx);
    EXPECT_EQ(memwin_mheap_grow(&h, 8192, nullptr), MEMWIN_HEAP_OK);
    fs::Disarm();
    ctx.entered.Open();
    t.join();
    EXPECT_TRUE(ctx.saw_yield) << "the waiting thread never yielded";
    EXPECT_EQ(h.arena_used - h.arena_start, 2 * 8192u);
    EXPECT_EQ(memwin_mheap_destroy(&h), MEMWIN_HEAP_OK);
}
