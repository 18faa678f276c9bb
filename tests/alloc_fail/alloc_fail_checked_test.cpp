// Checked mode's own allocations refused (see alloc_fail_test.cpp for the
// failing malloc): a refusal by the tracker has no effect at all, neither
// on the pages nor on Go's accounting; a failure of Go's own OS call keeps
// Go's accounting (sysAlloc accounts n before it calls the OS).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "failing_malloc.h"
#include "memwin.h"

namespace {

constexpr uintptr_t kPage = 4096, kGranule = 65536;

uint32_t State(const void *p)
{
    memwin_region_info info{};
    memwin_query(p, &info);
    return info.state;
}

// The tracker's refusal of op(v, n) for want of memory, word for word, after
// failed allocations were refused during the call.
void ExpectTrackerRefusal(const char *op, const void *v, uintptr_t n, long failed)
{
    char want[160];
    std::snprintf(want, sizeof want,
                  "runtime: %s(0x%llx, %llu): out of memory for the tracker\n"
                  "fatal error: out of memory",
                  op, (unsigned long long)(uintptr_t)v, (unsigned long long)n);
    EXPECT_EQ(failed, 1);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_OS));
    EXPECT_STREQ(memwin_last_error_message(), want);
}

// The emulation keeps its own list of page states (on Linux the OS calls
// are its), which grows too: call on every other page of r's granule, then
// undo, in exact mode, which the tracker does not see, leaves it room, so
// that only the tracker's growth meets the failing malloc.
void GiveEmulationRoom(char *r, void (*call)(void *, uintptr_t), void (*undo)(void *, uintptr_t))
{
    const int old = memwin_set_mode(MEMWIN_MODE_EXACT);
    for (long i = 0; i < 16; i += 2)
        call(r + i * kPage, kPage);
    for (long i = 0; i < 16; i += 2)
        undo(r + i * kPage, kPage);
    memwin_set_mode(old);
}

} // namespace

// Issue 14.11: sysAlloc refused because the tracker cannot record the new
// memory used to keep Go's +n in the sysMemStat and mapped-ready.  The sweep
// refuses the first allocation, then the second, ... until the call works.
TEST(AllocFail, CheckedAllocTrackerRefusalHasNoEffect)
{
    ASSERT_NE(memwin_set_mode(MEMWIN_MODE_RECOVERABLE), -1);
    long tracker_refusals = 0, os_failures = 0;
    for (long k = 0;; k++) {
        ASSERT_LT(k, 16) << "sysAlloc never succeeded";
        SCOPED_TRACE("allocations granted: " + std::to_string(k));
        sysMemStat stat = 0;
        const uint64_t mr0 = memwin_mapped_ready();
        failing_malloc::Arm(k);
        void *p = sysAlloc(kGranule, &stat);
        failing_malloc::Disarm();
        if (p) {
            EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
            EXPECT_EQ(stat, kGranule);
            EXPECT_EQ(memwin_mapped_ready() - mr0, kGranule);
            sysFree(p, kGranule, &stat);
            EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
            EXPECT_EQ(stat, 0u);
            EXPECT_EQ(memwin_mapped_ready(), mr0);
            break;
        }
        if (memwin_last_error() != 0) {
            // The tracker's refusal: nothing happened.
            tracker_refusals++;
            EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_OS));
            EXPECT_STREQ(memwin_last_error_message(),
                         "runtime: sysAlloc(0x0, 65536): out of memory for the tracker\n"
                         "fatal error: out of memory");
            EXPECT_EQ(stat, 0u) << "a refused sysAlloc accounted";
            EXPECT_EQ(memwin_mapped_ready(), mr0) << "a refused sysAlloc accounted";
        } else {
            // The OS call failed (the emulation's own record): Go's nil, with
            // Go's accounting, as Go's sysAlloc does.
            os_failures++;
            EXPECT_EQ(stat, kGranule);
            EXPECT_EQ(memwin_mapped_ready() - mr0, kGranule);
        }
    }
    EXPECT_GE(tracker_refusals, 1);
}

// Range transitions that split a reservation's runs of states may need a
// bigger run list: refused as out of memory before any effect, and the same
// call works once memory is back.
TEST(AllocFail, CheckedRangeTrackerGrowthRefusal)
{
    ASSERT_NE(memwin_set_mode(MEMWIN_MODE_RECOVERABLE), -1);
    sysMemStat stat = 0;
    char *p = static_cast<char *>(sysReserve(nullptr, kGranule));
    ASSERT_NE(p, nullptr);
    // Every other page mapped: runs Prepared, Reserved, ... until the next
    // split needs memory.
    long refused_at = -1;
    for (long i = 0; i < 16; i += 2) {
        uint64_t stat0 = stat;
        failing_malloc::Arm(0);
        sysMap(p + i * kPage, kPage, &stat);
        long failed = failing_malloc::Failed();
        failing_malloc::Disarm();
        if (memwin_last_error() == 0) {
            EXPECT_EQ(failed, 0);
            EXPECT_EQ(stat, stat0 + kPage);
            continue;
        }
        refused_at = i;
        ExpectTrackerRefusal("sysMap", p + i * kPage, kPage, failed);
        EXPECT_EQ(stat, stat0) << "a refused sysMap accounted";
        // Still Reserved for the tracker: the same call is accepted now.
        sysMap(p + i * kPage, kPage, &stat);
        EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
        EXPECT_EQ(stat, stat0 + kPage);
    }
    EXPECT_GT(refused_at, 0) << "no split needed memory";
    // The states are exact: page 1 is Reserved, page 0 Prepared.
    sysUsedOS(p + kPage, kPage);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_STATE));
    sysUsedOS(p, kPage);
    EXPECT_EQ(memwin_last_error(), 0u);
    EXPECT_EQ(State(p), MEMWIN_MEM_COMMIT);
    memwin_stat_add(&stat, -int64_t(stat));
    sysFreeOS(p, kGranule);
    EXPECT_EQ(memwin_last_error(), 0u);
}

// The same for the transitions out of Ready and into it, on every other page
// of a granule in one state: sysUsedOS (Prepared -> Ready), sysUnusedOS
// (Ready -> Prepared), sysFaultOS and sysFault (Ready -> Reserved).  Each
// split that needs a bigger run list of the tracker's is refused as out of
// memory with the page as it was, and accepted once memory is back.
TEST(AllocFail, CheckedRangeTrackerGrowthRefusalOfEveryTransition)
{
    ASSERT_NE(memwin_set_mode(MEMWIN_MODE_RECOVERABLE), -1);
    struct Op {
        const char *name;
        bool ready_first;       // the granule starts Ready (else Prepared)
        uint32_t before, after; // the page's state for memwin_query
        void (*call)(void *, uintptr_t);
    };
    const std::vector<Op> ops = {
        {"sysUsedOS", false, MEMWIN_MEM_RESERVE, MEMWIN_MEM_COMMIT, sysUsedOS},
        {"sysUnusedOS", true, MEMWIN_MEM_COMMIT, MEMWIN_MEM_RESERVE, sysUnusedOS},
        {"sysFaultOS", true, MEMWIN_MEM_COMMIT, MEMWIN_MEM_RESERVE, sysFaultOS},
        {"sysFault", true, MEMWIN_MEM_COMMIT, MEMWIN_MEM_RESERVE, sysFault},
    };
    for (const Op &op : ops) {
        SCOPED_TRACE(op.name);
        char *p = static_cast<char *>(sysReserveOS(nullptr, kGranule));
        ASSERT_NE(p, nullptr);
        sysMapOS(p, kGranule);
        if (op.ready_first)
            sysUsedOS(p, kGranule);
        ASSERT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
        GiveEmulationRoom(p, op.call, op.ready_first ? sysUsedOS : sysUnusedOS);
        ASSERT_EQ(State(p), op.before);
        long refused_at = -1;
        for (long i = 0; i < 16; i += 2) {
            char *v = p + i * kPage;
            failing_malloc::Arm(0);
            op.call(v, kPage);
            long failed = failing_malloc::Failed();
            failing_malloc::Disarm();
            if (memwin_last_error() == 0) {
                EXPECT_EQ(failed, 0);
                EXPECT_EQ(State(v), op.after);
                continue;
            }
            refused_at = i;
            ExpectTrackerRefusal(op.name, v, kPage, failed);
            EXPECT_EQ(State(v), op.before) << "a refused call changed the page";
            op.call(v, kPage); // memory is back: accepted
            EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
            EXPECT_EQ(State(v), op.after);
        }
        EXPECT_GT(refused_at, 0) << "no split needed memory";
        // The tracker's states are exact: the page between two changed ones
        // takes only the call of its own state.
        if (op.ready_first) {
            sysMapOS(p + kPage, kPage); // Ready: refused
            EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_STATE));
        } else {
            sysUnusedOS(p + kPage, kPage); // Prepared: refused
            EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_STATE));
        }
        sysFreeOS(p, kGranule);
        EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    }
}

// A transition over two adjacent reservations makes room in both run lists
// before it changes anything.  With both lists full (every other page made
// Ready until the next split needed memory), a sysUsedOS over A's last page
// and B's first with one allocation granted (A's list grows) is refused as
// out of memory when B's cannot, with neither page changed, and accepted
// once memory is back.
TEST(AllocFail, CheckedRangeTrackerGrowthRefusalAcrossReservations)
{
    ASSERT_NE(memwin_set_mode(MEMWIN_MODE_RECOVERABLE), -1);
    // A and B: a free 128K found, then its halves reserved at hints.
    char *a = nullptr, *b = nullptr;
    for (int i = 0; i < 16 && !b; i++) {
        char *p = static_cast<char *>(sysReserveOS(nullptr, 2 * kGranule));
        ASSERT_NE(p, nullptr);
        sysFreeOS(p, 2 * kGranule);
        a = static_cast<char *>(sysReserveOS(p, kGranule));
        b = static_cast<char *>(sysReserveOS(p + kGranule, kGranule));
        if (a != p || b != p + kGranule) {
            if (a)
                sysFreeOS(a, kGranule);
            if (b)
                sysFreeOS(b, kGranule);
            a = b = nullptr;
        }
    }
    ASSERT_NE(b, nullptr);
    sysMapOS(a, kGranule);
    sysMapOS(b, kGranule);
    ASSERT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    for (char *r : {a, b})
        GiveEmulationRoom(r, sysUsedOS, sysUnusedOS);
    // Each list filled: a split refused means the next one needs memory.
    auto fill = [](char *r, long from) {
        for (long i = from; i < 16; i += 2) {
            failing_malloc::Arm(0);
            sysUsedOS(r + i * kPage, kPage);
            failing_malloc::Disarm();
            if (memwin_last_error() != 0) {
                EXPECT_NE(std::string(memwin_last_error_message()).find("out of memory for the tracker"),
                          std::string::npos)
                    << memwin_last_error_message();
                return i;
            }
        }
        return -1L;
    };
    ASSERT_GT(fill(a, 0), 0) << "A's run list never filled";
    ASSERT_GT(fill(b, 2), 2) << "B's run list never filled";
    char *v = a + kGranule - kPage;
    failing_malloc::Arm(1);
    sysUsedOS(v, 2 * kPage);
    const long failed = failing_malloc::Failed();
    failing_malloc::Disarm();
    ExpectTrackerRefusal("sysUsedOS", v, 2 * kPage, failed);
    EXPECT_EQ(State(v), MEMWIN_MEM_RESERVE) << "A's last page changed";
    EXPECT_EQ(State(b), MEMWIN_MEM_RESERVE) << "B's first page changed";
    sysUsedOS(v, 2 * kPage); // memory is back: accepted
    EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    EXPECT_EQ(State(v), MEMWIN_MEM_COMMIT);
    EXPECT_EQ(State(b), MEMWIN_MEM_COMMIT);
    for (char *r : {a, b}) {
        sysFreeOS(r, kGranule);
        EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    }
}
