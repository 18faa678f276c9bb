// The Linux emulation's per-reservation page runs (src/emu/prim_linux.c:
// emu_all_pages, emu_pages_ready, emu_pages_set) when the C heap is
// exhausted: a call that needs no new room in the run list (it changes no
// page, covers the whole reservation, or fits the list's free slots) still
// succeeds; a call that needs more room fails with ERROR_NOT_ENOUGH_MEMORY
// and changes nothing.  Also the end of a reservation at an address:
// rounded up to a page, and refused past the top of the user address space.
// Linux only: on Windows the kernel keeps page states.
#if !defined(_WIN32)

#include <sys/resource.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "child_check.h"
#include "host_maps.h"
#include "test_util.h"

using namespace mwt;

// The sanitizers' allocators die rather than return NULL; valgrind's
// ignores the data limit.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MW_SANITIZED_HEAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                   \
    __has_feature(memory_sanitizer)
#define MW_SANITIZED_HEAP 1
#endif
#endif

namespace {

constexpr uintptr_t kPages = 16;
constexpr uint32_t kRO = MEMWIN_PAGE_READONLY, kRW = MEMWIN_PAGE_READWRITE;

// Makes malloc fail in this (child) process: RLIMIT_DATA of one byte stops
// brk and new writable private mappings, then every block malloc can still
// hand out (sizes up to 1 KiB: the run lists asked for here) is taken.
// Read-only commits and decommits (PROT_READ / PROT_NONE) still work.
class MallocDrought {
public:
    // False (with "skip: ..." printed) when malloc cannot be made to fail.
    bool start()
    {
        blocks_.reserve(size_t(1) << 21);
        if (getrlimit(RLIMIT_DATA, &old_) != 0)
            return skip("getrlimit failed");
        struct rlimit tight = old_;
        tight.rlim_cur = 1;
        if (setrlimit(RLIMIT_DATA, &tight) != 0)
            return skip("setrlimit(RLIMIT_DATA) failed");
        on_ = true;
        for (size_t n = 8; n <= 1032; n += 16)
            for (;;) {
                if (blocks_.size() == blocks_.capacity())
                    return skip("malloc did not run dry");
                void *p = std::malloc(n);
                if (!p)
                    break;
                blocks_.push_back(p);
            }
        for (size_t n : {size_t(32), size_t(64), size_t(128), size_t(256)}) {
            void *p = std::malloc(n);
            if (p) {
                std::free(p);
                return skip("malloc still succeeds");
            }
        }
        return true;
    }
    void stop()
    {
        if (on_)
            setrlimit(RLIMIT_DATA, &old_);
        on_ = false;
        for (void *p : blocks_)
            std::free(p);
        blocks_.clear();
    }
    ~MallocDrought()
    {
        stop();
    }

private:
    bool skip(const char *why)
    {
        stop();
        std::fprintf(stderr, "skip: %s", why);
        return false;
    }
    std::vector<void *> blocks_;
    struct rlimit old_ {};
    bool on_ = false;
};

// A 16-page reservation anywhere, with the type and protection given.
uintptr_t reserve16(uint32_t type, uint32_t protect)
{
    uintptr_t a = U(host()->virtual_alloc(nullptr, kPages * kPage, type, protect));
    CHILD_CHECK(holds(a != 0, "setup: reservation refused"));
    return a;
}

bool commit(uintptr_t a, uintptr_t first, uintptr_t count, uint32_t protect)
{
    return U(host()->virtual_alloc(P(a + first * kPage), count * kPage, MEMWIN_MEM_COMMIT,
                                   protect)) == a + first * kPage;
}

bool decommit(uintptr_t a, uintptr_t first, uintptr_t count)
{
    return host()->virtual_free(P(a + first * kPage), count * kPage, MEMWIN_MEM_DECOMMIT) != 0;
}

// The result of one call made while malloc fails, and the last error.
struct Outcome {
    bool ok = false;
    uint32_t error = 0;
};
Outcome outcome(bool ok)
{
    return {ok, ok ? 0u : host()->get_last_error()};
}

::testing::AssertionResult succeeded(const Outcome &o, const char *what)
{
    if (o.ok)
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << what << " failed with " << o.error
                                         << " while malloc fails";
}

void setup(const char *what, bool ok)
{
    CHILD_CHECK(holds(ok, what));
}

// Runs calls (which must not allocate) while malloc fails (the drought
// ends with it); false, with the child's skip printed, when malloc cannot
// be made to fail.
template <class Calls> bool in_drought(Calls calls)
{
    MallocDrought drought;
    if (!drought.start())
        return false;
    calls();
    return true;
}

// Runs a child scenario that makes malloc fail, where malloc can fail.
void run_drought_child(const char *name)
{
#if defined(MW_SANITIZED_HEAP)
    GTEST_SKIP() << "the sanitizer's allocator does not return NULL";
#endif
    run_emu_child(name);
}

} // namespace

// Calls that change no page state (a decommit of reserved pages, a commit
// of pages that already have the protection) take emu_all_pages' fast
// path and touch no bookkeeping: with malloc failing they still succeed,
// also for a range that ends where its run ends.
MEMWIN_CHILD(page_runs_no_op_calls_in_drought)
{
    const uintptr_t c = reserve16(MEMWIN_MEM_RESERVE, kRW);
    const uintptr_t d = reserve16(MEMWIN_MEM_RESERVE | MEMWIN_MEM_COMMIT, kRO);
    Outcome o[4];
    const bool dry = in_drought([&] {
        o[0] = outcome(decommit(c, 4, 4));
        o[1] = outcome(decommit(c, 4, kPages - 4));
        o[2] = outcome(commit(d, 4, 4, kRO));
        o[3] = outcome(commit(d, 4, kPages - 4, kRO));
    });
    if (!dry)
        return;
    CHILD_CHECK(succeeded(o[0], "decommit of reserved pages 4-7"));
    CHILD_CHECK(succeeded(o[1], "decommit of reserved pages 4-15"));
    CHILD_CHECK(succeeded(o[2], "read-only commit of read-only pages 4-7"));
    CHILD_CHECK(succeeded(o[3], "read-only commit of read-only pages 4-15"));
    CHILD_CHECK(region_is(c, MEMWIN_MEM_RESERVE, 0, c, kPages * kPage));
    CHILD_CHECK(region_is(d, MEMWIN_MEM_COMMIT, kRO, d, kPages * kPage));
}

TEST(EmuPageRuns, NoOpCallsSucceedWhenMallocFails)
{
    run_drought_child("page_runs_no_op_calls_in_drought");
}

// A call over the whole reservation makes its pages one run again and
// needs no room in a run list: with malloc failing it succeeds, whether the
// reservation has runs (a full list of three) or is uniform.
MEMWIN_CHILD(page_runs_whole_calls_in_drought)
{
    const uintptr_t a = reserve16(MEMWIN_MEM_RESERVE, kRW);
    setup("setup: commit of page 2", commit(a, 2, 1, kRO)); // runs R C R: the list of 4 is full
    const uintptr_t e = reserve16(MEMWIN_MEM_RESERVE, kRW);
    const uintptr_t f = reserve16(MEMWIN_MEM_RESERVE | MEMWIN_MEM_COMMIT, kRW);
    Outcome o[3];
    const bool dry = in_drought([&] {
        o[0] = outcome(host()->virtual_free(P(a), 0, MEMWIN_MEM_DECOMMIT) != 0);
        o[1] = outcome(commit(e, 0, kPages, kRO));
        o[2] = outcome(decommit(f, 0, kPages));
    });
    if (!dry)
        return;
    CHILD_CHECK(succeeded(o[0], "decommit of a reservation with runs"));
    CHILD_CHECK(succeeded(o[1], "commit of a whole uniform reservation"));
    CHILD_CHECK(succeeded(o[2], "decommit of a whole uniform reservation"));
    CHILD_CHECK(region_is(a, MEMWIN_MEM_RESERVE, 0, a, kPages * kPage));
    CHILD_CHECK(region_is(e, MEMWIN_MEM_COMMIT, kRO, e, kPages * kPage));
    CHILD_CHECK(region_is(f, MEMWIN_MEM_RESERVE, 0, f, kPages * kPage));
}

TEST(EmuPageRuns, WholeReservationCallsSucceedWhenMallocFails)
{
    run_drought_child("page_runs_whole_calls_in_drought");
}

// The run list grows by doubling from 4, before a call that could leave
// more runs than it holds (a partial call adds at most two).  With 5 runs
// in a list of 8, a call adding one run and then one adding two fit
// (6 + 2 <= 8): with malloc failing both succeed.
MEMWIN_CHILD(page_runs_calls_within_room_in_drought)
{
    const uintptr_t b = reserve16(MEMWIN_MEM_RESERVE, kRW);
    setup("setup: commit of page 2", commit(b, 2, 1, kRO)); // 3 runs, list of 4
    setup("setup: commit of page 6", commit(b, 6, 1, kRO)); // 5 runs, list of 8
    Outcome o[2];
    const bool dry = in_drought([&] {
        o[0] = outcome(commit(b, 15, 1, kRO)); // 6 runs
        o[1] = outcome(commit(b, 10, 1, kRO)); // 8 runs
    });
    if (!dry)
        return;
    CHILD_CHECK(succeeded(o[0], "commit of the last page (5 runs, room for 8)"));
    CHILD_CHECK(succeeded(o[1], "commit of page 10 (6 runs, room for 8)"));
    const uintptr_t committed[] = {2, 6, 10, 15};
    uintptr_t i = 0;
    for (uintptr_t c : committed) {
        if (c > i)
            CHILD_CHECK(region_is(b + i * kPage, MEMWIN_MEM_RESERVE, 0, b, (c - i) * kPage));
        CHILD_CHECK(region_is(b + c * kPage, MEMWIN_MEM_COMMIT, kRO, b, kPage));
        i = c + 1;
    }
}

TEST(EmuPageRuns, CallsWithinTheRunListsRoomSucceedWhenMallocFails)
{
    run_drought_child("page_runs_calls_within_room_in_drought");
}

// A partial call that can add runs past the list's room (3 runs in a list
// of 4, plus two) must grow it first: with malloc failing it fails with
// ERROR_NOT_ENOUGH_MEMORY and leaves every page as it was.
MEMWIN_CHILD(page_runs_call_needing_room_in_drought)
{
    const uintptr_t a = reserve16(MEMWIN_MEM_RESERVE, kRW);
    setup("setup: commit of page 2", commit(a, 2, 1, kRO)); // 3 runs, list of 4
    Outcome o[1];
    const bool dry = in_drought([&] {
        o[0] = outcome(commit(a, 8, 1, kRO));
    });
    if (!dry)
        return;
    CHILD_CHECK(holds(!o[0].ok, "commit of page 8 (3 runs, room for 4) succeeded while malloc fails"));
    CHILD_CHECK(holds(o[0].error == MEMWIN_ERROR_NOT_ENOUGH_MEMORY, "its error is not 8"));
    CHILD_CHECK(region_is(a, MEMWIN_MEM_RESERVE, 0, a, 2 * kPage));
    CHILD_CHECK(region_is(a + 2 * kPage, MEMWIN_MEM_COMMIT, kRO, a, kPage));
    CHILD_CHECK(region_is(a + 3 * kPage, MEMWIN_MEM_RESERVE, 0, a, (kPages - 3) * kPage));
}

TEST(EmuPageRuns, CallNeedingRoomFailsCleanlyWhenMallocFails)
{
    run_drought_child("page_runs_call_needing_room_in_drought");
}

// The list doubles: with 7 runs in a list of 8 a partial call that can add
// two needs a list of 16, so with malloc failing it fails with
// ERROR_NOT_ENOUGH_MEMORY and changes nothing (a list grown otherwise, to
// 12 say, would have had the room).
MEMWIN_CHILD(page_runs_second_growth_in_drought)
{
    const uintptr_t a = reserve16(MEMWIN_MEM_RESERVE, kRW);
    setup("setup: commit of page 2", commit(a, 2, 1, kRO));   // 3 runs, list of 4
    setup("setup: commit of page 6", commit(a, 6, 1, kRO));   // 5 runs, list of 8
    setup("setup: commit of page 10", commit(a, 10, 1, kRO)); // 7 runs, list of 8
    Outcome o[1];
    const bool dry = in_drought([&] {
        o[0] = outcome(commit(a, 13, 1, kRO));
    });
    if (!dry)
        return;
    CHILD_CHECK(holds(!o[0].ok, "commit of page 13 (7 runs, room for 8) succeeded while malloc fails"));
    CHILD_CHECK(holds(o[0].error == MEMWIN_ERROR_NOT_ENOUGH_MEMORY, "its error is not 8"));
    CHILD_CHECK(region_is(a + 11 * kPage, MEMWIN_MEM_RESERVE, 0, a, (kPages - 11) * kPage));
}

TEST(EmuPageRuns, SecondGrowthNeedsMallocAndFailsCleanlyWithout)
{
    run_drought_child("page_runs_second_growth_in_drought");
}

// A reservation at an address covers every page its bytes touch, from the
// granule below the address: one byte into the next page takes that page
// too, also from an address inside a page.
TEST(EmuPageRuns, ReservationAtAnAddressEndsOnThePageAfterItsLastByte)
{
    if (under_valgrind())
        GTEST_SKIP() << "valgrind does not let the emulation place reservations at hints";
    const memwin_prim *h = host();
    const uintptr_t g = free_area(kGranule);
    Reservations guard;
    ASSERT_EQ(U(guard.add(h->virtual_alloc(P(g), kPage + 1, MEMWIN_MEM_RESERVE, kRW))), g);
    EXPECT_TRUE(region_is(g, MEMWIN_MEM_RESERVE, 0, g, 2 * kPage));
    EXPECT_TRUE(region_is(g + kPage, MEMWIN_MEM_RESERVE, 0, g, kPage));
    EXPECT_EQ(state_of(g + 2 * kPage), uint32_t(MEMWIN_MEM_FREE));

    const uintptr_t g2 = free_area(kGranule);
    ASSERT_EQ(U(guard.add(h->virtual_alloc(P(g2 + 0x1800), 0x801,
                                           MEMWIN_MEM_RESERVE | MEMWIN_MEM_COMMIT, kRW))),
              g2);
    EXPECT_TRUE(region_is(g2, MEMWIN_MEM_COMMIT, kRW, g2, 3 * kPage));
    EXPECT_TRUE(region_is(g2 + 2 * kPage, MEMWIN_MEM_COMMIT, kRW, g2, kPage));
    EXPECT_EQ(state_of(g2 + 3 * kPage), uint32_t(MEMWIN_MEM_FREE));
}

#endif // !_WIN32
