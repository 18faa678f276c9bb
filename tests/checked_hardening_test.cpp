// Checked mode against calls that break Go's accounting without breaking
// the page-state rules it checked before: sysUnreserve of Ready or Prepared
// memory, a release of the wrong size, an exact-mode release inside the
// first page of a reservation, sysFree of memory that is not all Ready, and
// the tracker's memory cost on a huge reservation.  Every refusal must have
// no effect (page states, the sysMemStat and mapped-ready unchanged).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#if defined(__SANITIZE_ADDRESS__)
// ASan's allocator statistics (libasan exports it; its header is not
// always installed).
extern "C" size_t __sanitizer_get_current_allocated_bytes(void);
#define MWT_ASAN 1
#elif defined(__GLIBC__)
#include <malloc.h>
#endif

#include "test_util.h"

using namespace mwt;

namespace {

// What a refused call must leave alone.
struct Picture {
    uint32_t state0, state1;
    uint64_t ready, stat;
    bool operator==(const Picture &o) const
    {
        return state0 == o.state0 && state1 == o.state1 && ready == o.ready && stat == o.stat;
    }
};

Picture Take(const void *p, uintptr_t second, const sysMemStat &stat)
{
    return {state_of(U(p)), state_of(U(p) + second), memwin_mapped_ready(),
            memwin_stat_load(&stat)};
}

std::string LastMessage()
{
    return memwin_last_error_message();
}

std::string Hex(uintptr_t a)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)a);
    return buf;
}

// Issue 14.2: Go's sysUnreserve is Reserved -> None only.  Accepting it on
// Ready or Prepared pages leaves their bytes in the sysMemStat (and the
// Ready ones in mapped-ready) with nothing behind them.
TEST(CheckedHardening, UnreserveOfReadyOrPreparedPagesIsRefused)
{
    MappedReadyGuard guard;
    ModeScope mode(MEMWIN_MODE_RECOVERABLE);
    sysMemStat stat = 0;
    const uint64_t mr0 = memwin_mapped_ready();
    char *p = static_cast<char *>(sysReserve(nullptr, kGranule));
    ASSERT_NE(p, nullptr) << LastMessage();
    sysMap(p, 2 * kPage, &stat);
    sysUsed(p, kPage, kPage); // page 0 Ready, page 1 Prepared, the rest Reserved
    ASSERT_EQ(memwin_last_error(), 0u) << LastMessage();

    Picture before = Take(p, kPage, stat);
    sysUnreserve(p, kGranule);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_STATE)) << LastMessage();
    EXPECT_NE(LastMessage().find("runtime: sysUnreserve(" + Hex(U(p)) + ", 65536): page " +
                                 Hex(U(p)) + " is Ready; the call needs Reserved\n"
                                 "fatal error: memwin: illegal state transition"),
              std::string::npos)
        << LastMessage();
    EXPECT_TRUE(before == Take(p, kPage, stat)) << "a refused call changed something";

    sysUnused(p, kPage); // page 0 Prepared too
    ASSERT_EQ(memwin_last_error(), 0u) << LastMessage();
    before = Take(p, kPage, stat);
    sysUnreserve(p, kGranule);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_STATE)) << LastMessage();
    EXPECT_NE(LastMessage().find("page " + Hex(U(p)) + " is Prepared; the call needs Reserved"),
              std::string::npos)
        << LastMessage();
    EXPECT_TRUE(before == Take(p, kPage, stat)) << "a refused call changed something";

    // Giving it back as the README says: the mapped bytes leave the stat by
    // hand, then the OS layer releases pages in any state.
    memwin_stat_add(&stat, -int64_t(2 * kPage));
    sysFreeOS(p, kGranule);
    EXPECT_EQ(memwin_last_error(), 0u) << LastMessage();
    EXPECT_EQ(state_of(U(p)), MEMWIN_MEM_FREE);
    EXPECT_EQ(stat, 0u);
    EXPECT_EQ(memwin_mapped_ready(), mr0);

    // Reserved pages only: accepted.
    p = static_cast<char *>(sysReserve(nullptr, kGranule));
    ASSERT_NE(p, nullptr);
    sysMap(p, kPage, &stat);
    sysUsed(p, kPage, kPage);
    sysFault(p, kPage); // Ready -> Reserved
    sysUnreserve(p, kGranule);
    EXPECT_EQ(memwin_last_error(), 0u) << LastMessage();
    EXPECT_EQ(state_of(U(p)), MEMWIN_MEM_FREE);
    memwin_stat_add(&stat, -int64_t(kPage));
    EXPECT_EQ(memwin_mapped_ready(), mr0);
}

// Issue 14.3: Go's releases need the reservation's exact size; a size that
// rounds up to it is refused like any other wrong size.
TEST(CheckedHardening, ReleaseSizeMustBeExact)
{
    ModeScope mode(MEMWIN_MODE_RECOVERABLE);
    sysMemStat stat = 0;
    const uint64_t mr0 = memwin_mapped_ready();
    char *p = static_cast<char *>(sysAlloc(2 * kPage, &stat));
    ASSERT_NE(p, nullptr) << LastMessage();
    Picture before = Take(p, kPage, stat);
    sysFree(p, 4097, &stat);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_NOT_BASE)) << LastMessage();
    EXPECT_NE(LastMessage().find("size is not the reservation's (8192 bytes)"), std::string::npos)
        << LastMessage();
    EXPECT_TRUE(before == Take(p, kPage, stat)) << "a refused call changed something";
    sysFree(p, 8191, &stat);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_NOT_BASE)) << LastMessage();
    sysFreeOS(p, 4097);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_NOT_BASE)) << LastMessage();
    EXPECT_TRUE(before == Take(p, kPage, stat)) << "a refused call changed something";
    sysFree(p, 2 * kPage, &stat);
    EXPECT_EQ(memwin_last_error(), 0u) << LastMessage();
    EXPECT_EQ(stat, 0u);
    EXPECT_EQ(memwin_mapped_ready(), mr0);

    char *r = static_cast<char *>(sysReserve(nullptr, kGranule));
    ASSERT_NE(r, nullptr);
    sysUnreserve(r, kGranule - 1);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_NOT_BASE)) << LastMessage();
    EXPECT_EQ(state_of(U(r)), MEMWIN_MEM_RESERVE);
    sysUnreserve(r, kGranule);
    EXPECT_EQ(memwin_last_error(), 0u) << LastMessage();
}

// Issue 14.4: an exact-mode release at base+k (0 < k < 4096) releases the
// reservation (the OS rounds the address down to its page); the tracker must
// forget it too, or checked calls on the freed range are accepted.
TEST(CheckedHardening, ExactReleaseInsideTheFirstPageIsForgotten)
{
    for (int how = 0; how < 3; how++) {
        SCOPED_TRACE(how == 0 ? "sysFreeOS" : how == 1 ? "sysUnreserve" : "sysFree");
        sysMemStat stat = 0;
        char *p;
        {
            ModeScope mode(MEMWIN_MODE_RECOVERABLE);
            p = static_cast<char *>(how == 2 ? sysAlloc(kGranule, &stat)
                                             : sysReserve(nullptr, kGranule));
            ASSERT_NE(p, nullptr) << LastMessage();
        }
        {
            ModeScope mode(MEMWIN_MODE_EXACT);
            if (how == 0)
                sysFreeOS(p + 100, kGranule);
            else if (how == 1)
                sysUnreserve(p + 100, kGranule);
            else
                sysFree(p + 100, kGranule, &stat);
        }
        ASSERT_EQ(state_of(U(p)), MEMWIN_MEM_FREE) << "the OS did not release it";
        ModeScope mode(MEMWIN_MODE_RECOVERABLE);
        sysMap(p, kPage, &stat);
        EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_NOT_MANAGED)) << LastMessage();
        EXPECT_EQ(stat, 0u) << "a refused sysMap accounted";
        sysFreeOS(p, kGranule);
        EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_NOT_BASE)) << LastMessage();
    }
}

// Issue 15.5: Go's sysFree subtracts n from mapped-ready whatever the pages'
// state, so memory that is not all Ready would take from mapped-ready what
// it never added (a C caller that commits, decommits and frees saw it wrap
// to 18446744073708503040).  Go's own callers free only sysAlloc'd, Ready
// memory; checked mode refuses the rest.
TEST(CheckedHardening, SysFreeOfPagesNotAllReadyIsRefused)
{
    MappedReadyGuard guard;
    ModeScope mode(MEMWIN_MODE_RECOVERABLE);
    sysMemStat stat = 0;
    const uint64_t mr0 = memwin_mapped_ready();
    const uintptr_t n = 16 * kPage;
    char *p = static_cast<char *>(sysReserve(nullptr, n));
    ASSERT_NE(p, nullptr);
    sysMap(p, n, &stat);
    sysUsed(p, n, n);
    sysUnused(p, n); // all Prepared: stat n, mapped-ready back to mr0
    ASSERT_EQ(memwin_last_error(), 0u) << LastMessage();
    Picture before = Take(p, kPage, stat);
    sysFree(p, n, &stat);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_STATE)) << LastMessage();
    EXPECT_NE(LastMessage().find("runtime: sysFree(" + Hex(U(p)) + ", 65536): page " + Hex(U(p)) +
                                 " is Prepared; the call needs Ready"),
              std::string::npos)
        << LastMessage();
    EXPECT_TRUE(before == Take(p, kPage, stat)) << "a refused call changed something";
    EXPECT_EQ(memwin_mapped_ready(), mr0) << "mapped-ready taken for pages never Ready";

    // Ready but one page faulted (Reserved): refused, naming that page.
    sysUsed(p, n, n);
    sysFault(p + 5 * kPage, kPage);
    ASSERT_EQ(memwin_last_error(), 0u) << LastMessage();
    before = Take(p, 5 * kPage, stat);
    sysFree(p, n, &stat);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_STATE)) << LastMessage();
    EXPECT_NE(LastMessage().find("page " + Hex(U(p) + 5 * kPage) + " is Reserved; the call needs Ready"),
              std::string::npos)
        << LastMessage();
    EXPECT_TRUE(before == Take(p, 5 * kPage, stat)) << "a refused call changed something";

    // All Ready again (fault made it Reserved: map, then use): accepted, and
    // the accounting comes back to where it started.
    sysMap(p + 5 * kPage, kPage, &stat);
    sysUsed(p + 5 * kPage, kPage, kPage);
    sysFree(p, n, &stat);
    EXPECT_EQ(memwin_last_error(), 0u) << LastMessage();
    EXPECT_EQ(stat, kPage) << "sysMap after sysFault counts the page twice, as in Go";
    EXPECT_EQ(memwin_mapped_ready(), mr0);
}

// The README's recipes for giving memory back ("Giving memory back"), each
// accepted by checked mode and leaving the accounting where it started.
TEST(CheckedHardening, GivingMemoryBackAsTheReadmeShows)
{
    MappedReadyGuard guard;
    ModeScope mode(MEMWIN_MODE_CHECKED); // a refusal would be a test failure
    FatalCapture fatal;
    sysMemStat stat = 0;
    const uint64_t mr0 = memwin_mapped_ready();
    const uintptr_t n = 16 * kPage;

    // 1. All Ready (sysAlloc, or reserved, mapped and used whole): sysFree.
    void *a = sysAlloc(n, &stat);
    ASSERT_NE(a, nullptr);
    sysFree(a, n, &stat);
    void *b = sysReserve(nullptr, n);
    sysMap(b, n, &stat);
    sysUsed(b, n, n);
    sysFree(b, n, &stat);
    EXPECT_EQ(stat, 0u);
    EXPECT_EQ(memwin_mapped_ready(), mr0);

    // 2. All Reserved (never mapped): sysUnreserve (or sysFreeOS).
    void *c = sysReserve(nullptr, n);
    sysUnreserve(c, n);

    // 3. Mixed: Ready runs leave mapped-ready (sysFault or sysUnused), the
    //    mapped bytes leave the stat, then sysFreeOS releases any state.
    char *d = static_cast<char *>(sysReserve(nullptr, n));
    sysMap(d, 8 * kPage, &stat);  // pages 0-7 Prepared, 8-15 Reserved
    sysUsed(d, 4 * kPage, 4 * kPage); // pages 0-3 Ready
    sysFault(d, 4 * kPage);           // Ready -> Reserved: mapped-ready -= 4 pages
    memwin_stat_add(&stat, -int64_t(8 * kPage));
    sysFreeOS(d, n);
    EXPECT_EQ(fatal.count(), 0u) << (fatal.count() ? fatal.events()[0].printed : "");
    EXPECT_EQ(stat, 0u);
    EXPECT_EQ(memwin_mapped_ready(), mr0);
    EXPECT_EQ(state_of(U(d)), MEMWIN_MEM_FREE);
}

// sysAlloc whose OS call fails is Go's failure, not a refusal: nil, no
// error, and Go's accounting of n all the same (Go accounts before the call).
TEST(CheckedHardening, SysAllocOsFailureKeepsGosAccounting)
{
    MappedReadyGuard guard;
    ModeScope mode(MEMWIN_MODE_RECOVERABLE);
    sysMemStat stat = 0;
    const uint64_t mr0 = memwin_mapped_ready();
    {
        FaultGuard fault(MEMWIN_FAULT_ALLOC, 1, 1, 8);
        EXPECT_EQ(sysAlloc(kGranule, &stat), nullptr);
    }
    EXPECT_EQ(memwin_last_error(), 0u) << LastMessage();
    EXPECT_EQ(stat, kGranule);
    EXPECT_EQ(memwin_mapped_ready() - mr0, kGranule);
}

// Bytes the C allocator has handed out and not taken back.
bool AllocatedBytes(uint64_t *out)
{
#if defined(MWT_ASAN)
    *out = __sanitizer_get_current_allocated_bytes();
    return true;
#elif defined(__GLIBC__)
    *out = heap_in_use();
    return true;
#else
    (void)out;
    return false;
#endif
}

// Issue 14.10: the tracker's cost grows with the runs of distinct states, not
// with the reservation's size.  The same calls on a 4 TiB reservation in
// exact and in checked mode: the difference of the C heap's growth is the
// tracker's bookkeeping (the emulation's own is in both).
TEST(CheckedHardening, HugeReservationCostsTheTrackerLittle)
{
    if (sizeof(void *) == 4)
        GTEST_SKIP() << "a 4 TiB reservation needs a 64-bit address space (and a 32-bit one is "
                        "too small for a per-page tracker to cost more than the bound)";
    if (under_valgrind())
        GTEST_SKIP() << "valgrind refuses a 4 TiB reservation";
    uint64_t probe;
    if (!AllocatedBytes(&probe))
        GTEST_SKIP() << "no allocator statistics here";
    const uintptr_t kTiB = static_cast<uintptr_t>(uint64_t(1) << 40), n = 4 * kTiB;
    uint64_t cost[2] = {0, 0};
    for (int checked = 0; checked < 2; checked++) {
        MappedReadyGuard guard;
        ModeScope mode(checked ? MEMWIN_MODE_RECOVERABLE : MEMWIN_MODE_EXACT);
        sysMemStat stat = 0;
        uint64_t before = 0, after = 0;
        AllocatedBytes(&before);
        char *p = static_cast<char *>(sysReserve(nullptr, n));
        ASSERT_NE(p, nullptr) << "a 4 TiB reservation: " << LastMessage();
        sysMap(p, 16 * kMiB, &stat);
        sysUsed(p, kMiB, kMiB);
        sysMap(p + 2 * kTiB, kMiB, &stat);
        sysUsed(p + 2 * kTiB, 64 * kKiB, 64 * kKiB);
        sysUnused(p + 4 * kPage, kPage);
        sysFault(p + 2 * kTiB, kPage);
        p[0] = 1;
        p[2 * kTiB + kPage] = 2;
        if (checked) { // exact mode leaves the last error as an earlier test set it
            EXPECT_EQ(memwin_last_error(), 0u) << LastMessage();
        }
        AllocatedBytes(&after);
        cost[checked] = after - before;
        memwin_stat_add(&stat, -int64_t(stat));
        sysFreeOS(p, n);
        if (checked) { // a failed release in exact mode would have been fatal
            EXPECT_EQ(memwin_last_error(), 0u) << LastMessage();
        }
    }
    const uint64_t tracker = cost[1] > cost[0] ? cost[1] - cost[0] : 0;
    RecordProperty("tracker_bytes", std::to_string(tracker));
    std::printf("heap growth: exact %llu bytes, checked %llu bytes; tracker %llu bytes\n",
                (unsigned long long)cost[0], (unsigned long long)cost[1],
                (unsigned long long)tracker);
    EXPECT_LT(tracker, uint64_t(kMiB));
}

// Why the heap tests below skip: fixed hints above 4 GiB, and statistics
// of the C allocator that this program's malloc shows up in (valgrind's
// and TSan's replace glibc's malloc, whose statistics then stay still).
std::string HeapTestSkipReason()
{
    if (sizeof(void *) == 4)
        return "its fixed hints need a 64-bit address space";
    if (under_valgrind())
        return "valgrind's malloc keeps no glibc statistics";
    uint64_t before = 0, after = 0;
    if (!AllocatedBytes(&before))
        return "no allocator statistics here";
    void *volatile block = std::malloc(256 * kKiB);
    AllocatedBytes(&after);
    std::free(block);
    if (after - before < 256 * kKiB)
        return "the allocator statistics do not see this program's malloc";
    return "";
}

// The tracker's cost follows the runs of pages in one state, whatever the
// transitions that led there: a Ready page used again, and a page unused and
// used again, end in the state they started in, so 8192 of each on two
// 64 MiB reservations (one Ready run each) leave the C heap as it was.  A
// record that kept a run per transition would grow by tens of KiB.
TEST(CheckedHardening, TrackerCostFollowsStateRunsNotTransitions)
{
    const std::string skip = HeapTestSkipReason();
    if (!skip.empty())
        GTEST_SKIP() << skip;
    MappedReadyGuard guard;
    ModeScope mode(MEMWIN_MODE_RECOVERABLE);
    NullPrim np; // no OS work and no emulation allocations
    const uintptr_t pages = 16384, n = pages * kPage;
    sysMemStat stat = 0;
    const uintptr_t hint_x = static_cast<uintptr_t>(uint64_t(1) << 44), hint_y = 2 * hint_x;
    char *x = static_cast<char *>(sysReserve(P(hint_x), n));
    char *y = static_cast<char *>(sysReserve(P(hint_y), n));
    ASSERT_EQ(U(x), hint_x) << LastMessage();
    ASSERT_EQ(U(y), hint_y) << LastMessage();
    sysMap(x, n, &stat);
    sysUsed(x, n, n);
    sysMap(y, n, &stat);
    sysUsed(y, n, n);
    ASSERT_EQ(memwin_last_error(), 0u) << LastMessage();

    uint64_t h0 = 0, h1 = 0, h2 = 0;
    int errors = 0;
    AllocatedBytes(&h0);
    for (uintptr_t k = 1; k < pages; k += 2) { // Ready -> Ready
        sysUsed(x + k * kPage, kPage, 0);
        errors += memwin_last_error() != 0;
    }
    AllocatedBytes(&h1);
    for (uintptr_t k = 1; k < pages; k += 2) { // Ready -> Prepared -> Ready
        sysUnused(y + k * kPage, kPage);
        errors += memwin_last_error() != 0;
        sysUsed(y + k * kPage, kPage, kPage);
        errors += memwin_last_error() != 0;
    }
    AllocatedBytes(&h2);
    EXPECT_EQ(errors, 0) << LastMessage();
    EXPECT_LT(int64_t(h1 - h0), int64_t(16 * kKiB)) << "heap growth of Ready pages used again";
    EXPECT_LT(int64_t(h2 - h1), int64_t(16 * kKiB)) << "heap growth of pages unused and used again";
    // All Ready still: sysFree takes them.
    sysFree(x, n, &stat);
    EXPECT_EQ(memwin_last_error(), 0u) << LastMessage();
    sysFree(y, n, &stat);
    EXPECT_EQ(memwin_last_error(), 0u) << LastMessage();
    EXPECT_EQ(stat, 0u);
}

// Runs functions on a thread of its own, one at a time, on request.
class OtherThread {
public:
    OtherThread() : thread_([this] { Serve(); })
    {
    }
    ~OtherThread()
    {
        {
            std::lock_guard<std::mutex> lk(mu_);
            quit_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    // Runs fn there and waits for it to return.
    void Run(const std::function<void()> &fn)
    {
        std::unique_lock<std::mutex> lk(mu_);
        fn_ = &fn;
        cv_.notify_all();
        cv_.wait(lk, [this] { return fn_ == nullptr; });
    }

private:
    void Serve()
    {
        std::unique_lock<std::mutex> lk(mu_);
        for (;;) {
            cv_.wait(lk, [this] { return quit_ || fn_ != nullptr; });
            if (quit_)
                return;
            (*fn_)();
            fn_ = nullptr;
            cv_.notify_all();
        }
    }
    std::mutex mu_;
    std::condition_variable cv_;
    const std::function<void()> *fn_ = nullptr;
    bool quit_ = false;
    std::thread thread_; // last: starts once the rest is set up
};

// Single Ready pages 1, 3, ..., 2k-1 of Prepared memory at p: 2k+1 runs.
// Counts the calls refused in *errors.
void SinglePages(char *p, int k, std::atomic<int> *errors)
{
    for (int i = 0; i < k; i++) {
        sysUsed(p + (2 * i + 1) * kPage, kPage, kPage);
        *errors += memwin_last_error() != 0;
    }
}

const uintptr_t kHeapTestHint = static_cast<uintptr_t>(uint64_t(3) << 44);
const int kHeapTestCycles = 2000;

// Parts B and C of TrackerGivesBackItsMemory: a reservation made on one
// thread and its run list grown on another, so that list and record come
// from different malloc arenas (glibc gives the other thread one above the
// main heap): the list lies below its record in B, above it in C.  A child,
// as a tracker lock left held would hang the other thread: a watchdog then
// ends it with status 3.
MEMWIN_CHILD(checked_heap_two_threads)
{
    std::atomic<bool> done{false};
    std::thread watchdog([&done] {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
        while (!done) {
            if (std::chrono::steady_clock::now() > deadline) {
                const std::string line = "watchdog: not done after 15 s\n";
                memwin_prim_host()->write_stderr(line.data(), line.size());
                memwin_prim_host()->exit_process(3);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    });
    memwin_set_mode(MEMWIN_MODE_RECOVERABLE);
    {
        NullPrim np;
        const uintptr_t n = 64 * kPage;
        sysMemStat stat = 0;
        std::atomic<int> errors{0};
        std::atomic<char *> a{nullptr};
        OtherThread other;
        const std::function<void()> reserve = [&] {
            a = static_cast<char *>(sysReserve(P(kHeapTestHint), n));
            errors += memwin_last_error() != 0;
        };
        const std::function<void()> grow = [&] {
            sysMap(a, n, &stat);
            SinglePages(a, 13, &errors); // 27 runs: to the heap, then twice larger
        };
        for (int part = 0; part < 2; part++) {
            uint64_t h0 = 0, h1 = 0;
            errors = 0;
            for (int c = 0; c <= kHeapTestCycles; c++) {
                if (c == 1) // after a first cycle, which may set up the arena
                    AllocatedBytes(&h0);
                if (part == 0) {
                    other.Run(reserve);
                    grow();
                } else {
                    reserve();
                    other.Run(grow);
                }
                sysFreeOS(a, n);
                errors += memwin_last_error() != 0;
                memwin_stat_add(&stat, -int64_t(n));
            }
            AllocatedBytes(&h1);
            const int64_t growth = int64_t(h1 - h0);
            const std::string line =
                std::string(part == 0 ? "B (records on another thread)"
                                      : "C (run lists on another thread)") +
                ": errors " + std::to_string(errors.load()) + ", heap growth " +
                (growth < int64_t(64 * kKiB) ? std::string("below 64 KiB")
                                             : std::to_string(growth) + " bytes") +
                "\n";
            memwin_prim_host()->write_stderr(line.data(), line.size());
        }
    }
    done = true;
    watchdog.join();
}

// Records and run lists go back to the heap.  Part A: 2000 cycles of
// reservations whose run lists move to the heap, grow, move back into the
// record and go to the heap again, released with heap lists, and of a
// reservation the OS refuses, leave the C heap as it was (a few KiB of
// allocator noise; a leak of one record or list per cycle is hundreds of
// KiB).  Parts B and C (checked_heap_two_threads): the same with the
// record and its run list from different malloc arenas.
TEST(CheckedHardening, TrackerGivesBackItsMemory)
{
    const std::string skip = HeapTestSkipReason();
    if (!skip.empty())
        GTEST_SKIP() << skip;
    {
        MappedReadyGuard guard;
        ModeScope mode(MEMWIN_MODE_RECOVERABLE);
        NullPrim np;
        const uintptr_t n = 64 * kPage;
        sysMemStat stat = 0;
        std::atomic<int> errors{0};
        uint64_t h0 = 0, h1 = 0;
        for (int c = 0; c <= kHeapTestCycles; c++) {
            if (c == 1) // after a first cycle, which may set up the allocator
                AllocatedBytes(&h0);
            char *a = static_cast<char *>(sysReserve(P(kHeapTestHint), n));
            errors += memwin_last_error() != 0;
            sysMap(a, n, &stat);
            SinglePages(a, 13, &errors); // 27 runs: to the heap, then twice larger
            sysUsed(a, n, 0);             // one run: back into the record
            errors += memwin_last_error() != 0;
            char *b = static_cast<char *>(sysReserve(P(kHeapTestHint + kMiB), n));
            errors += memwin_last_error() != 0;
            sysMap(b, n, &stat);
            SinglePages(b, 3, &errors); // 7 runs: to the heap
            sysUnused(a, n);
            errors += memwin_last_error() != 0;
            SinglePages(a, 13, &errors); // to the heap again
            sysFreeOS(a, n);
            errors += memwin_last_error() != 0;
            sysFreeOS(b, n);
            errors += memwin_last_error() != 0;
            memwin_stat_add(&stat, -int64_t(2 * n));
            {
                FaultGuard fault(MEMWIN_FAULT_RESERVE, 1, 0, 8);
                if (sysReserve(nullptr, n) != nullptr)
                    errors++;
            }
        }
        AllocatedBytes(&h1);
        EXPECT_EQ(errors.load(), 0) << LastMessage();
        EXPECT_EQ(stat, 0u);
        EXPECT_LT(int64_t(h1 - h0), int64_t(64 * kKiB))
            << "A: heap growth over " << kHeapTestCycles << " cycles";
    }
    const std::string ok = ": errors 0, heap growth below 64 KiB\n";
    EXPECT_TRUE(child_exits("checked_heap_two_threads", 0,
                            "B (records on another thread)" + ok +
                                "C (run lists on another thread)" + ok));
}

// Many runs in one reservation: every other page mapped, then all of it
// used, decommitted and faulted in pieces; the states stay exact.
TEST(CheckedHardening, ManyRunsKeepExactStates)
{
    MappedReadyGuard guard;
    ModeScope mode(MEMWIN_MODE_RECOVERABLE);
    sysMemStat stat = 0;
    const uintptr_t pages = 64, n = pages * kPage;
    char *p = static_cast<char *>(sysReserve(nullptr, n));
    ASSERT_NE(p, nullptr);
    for (uintptr_t i = 0; i < pages; i += 2)
        sysMap(p + i * kPage, kPage, &stat);
    ASSERT_EQ(memwin_last_error(), 0u) << LastMessage();
    for (uintptr_t i = 1; i < pages; i += 2) {
        sysMapOS(p + i * kPage, kPage); // Reserved pages only
        ASSERT_EQ(memwin_last_error(), 0u) << i << ": " << LastMessage();
        sysMapOS(p + (i - 1) * kPage, kPage); // Prepared: refused
        ASSERT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_STATE)) << i;
    }
    memwin_stat_add(&stat, int64_t(n / 2)); // what sysMapOS did not account
    sysUsed(p, n, n);
    for (uintptr_t i = 0; i < pages; i += 3)
        sysUnused(p + i * kPage, kPage);
    for (uintptr_t i = 0; i < pages; i++) {
        bool prepared = i % 3 == 0;
        sysUnused(p + i * kPage, kPage); // Ready only
        ASSERT_EQ(memwin_last_error(), prepared ? uint32_t(MEMWIN_ERR_STATE) : 0u) << i;
        if (!prepared)
            sysUsed(p + i * kPage, kPage, kPage);
    }
    sysUsed(p, n, 22 * kPage); // pages 0, 3, ..., 63 were Prepared
    ASSERT_EQ(memwin_last_error(), 0u) << LastMessage();
    sysFree(p, n, &stat); // all Ready: one run again
    EXPECT_EQ(memwin_last_error(), 0u) << LastMessage();
    EXPECT_EQ(stat, 0u);
}

// The checked path's cost against exact mode: sysUsed/sysUnused of one page
// of a 64 KiB reservation, with the host's table (what a caller pays) and
// over a do-nothing table (memwin's logic alone).  Run it with
// memwin_tests --gtest_also_run_disabled_tests --gtest_filter='*CheckedAgainstExact*'
TEST(CheckedHardening, DISABLED_CheckedAgainstExact)
{
    for (int null_os = 0; null_os < 2; null_os++) {
        const int rounds = null_os ? 2000000 : 200000;
        double ns[2];
        for (int checked = 0; checked < 2; checked++) {
            MappedReadyGuard guard;
            ModeScope mode(checked ? MEMWIN_MODE_CHECKED : MEMWIN_MODE_EXACT);
            sysMemStat stat = 0;
            char *p = static_cast<char *>(sysReserve(nullptr, kGranule));
            sysMap(p, kGranule, &stat);
            {
                std::unique_ptr<NullPrim> np(null_os ? new NullPrim : nullptr);
                auto t0 = std::chrono::steady_clock::now();
                for (int i = 0; i < rounds; i++) {
                    uintptr_t off = uintptr_t(i % 16) * kPage;
                    sysUsed(p + off, kPage, kPage);
                    sysUnused(p + off, kPage);
                }
                auto t1 = std::chrono::steady_clock::now();
                ns[checked] = std::chrono::duration<double, std::nano>(t1 - t0).count() / (2.0 * rounds);
            }
            memwin_stat_add(&stat, -int64_t(kGranule));
            sysFreeOS(p, kGranule);
        }
        std::printf("sysUsed/sysUnused of one page, %s: exact %.1f ns, checked %.1f ns per call "
                    "(%.2fx)\n",
                    null_os ? "do-nothing OS table" : "host OS table", ns[0], ns[1], ns[1] / ns[0]);
    }
}

} // namespace
