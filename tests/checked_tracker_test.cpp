// Checked mode's page-state tracker itself: its records (one per
// reservation, found by address, dropped when the OS hands their range out
// again) and each record's runs of pages in one state.  Every case is a
// sequence of legal and illegal calls whose verdicts depend on the tracker
// knowing the right state of the right page.
#include <cstdint>
#include <string>

#include "test_util.h"

using namespace mwt;

namespace {

std::string Last()
{
    return memwin_last_error_message();
}

// A child's report: raw bytes (stdio would write "\r\n" on Windows).
void say(const std::string &s)
{
    memwin_prim_host()->write_stderr(s.data(), s.size());
}

} // namespace

// Records of memory released behind memwin's back (Ready reservations) are
// dropped when a new reservation covers their range, whether they start at
// its base or further in, and only those: a record below the new range (L,
// below a free gap) stays.
TEST(CheckedRecord, StaleRecordsUnderANewReservationAreDropped)
{
    MappedReadyGuard guard; // the stale Ready pages stay in mapped-ready
    ModeScope mode(MEMWIN_MODE_RECOVERABLE);
    sysMemStat stat = 0;
    // L, a gap, R1, R2, R3: 64 KiB each, at their hints.
    uintptr_t x = 0;
    char *L = nullptr, *r[3] = {};
    for (int tries = 0; tries < 16 && !x; tries++) {
        x = free_area(5 * kGranule);
        ASSERT_NE(x, 0u);
        L = static_cast<char *>(sysReserve(P(x), kGranule));
        for (int i = 0; i < 3; i++)
            r[i] = static_cast<char *>(sysReserve(P(x + (2 + i) * kGranule), kGranule));
        bool placed = U(L) == x;
        for (int i = 0; i < 3; i++)
            placed = placed && U(r[i]) == x + (2 + i) * kGranule;
        if (!placed) {
            for (void *q : {static_cast<void *>(L), static_cast<void *>(r[0]),
                            static_cast<void *>(r[1]), static_cast<void *>(r[2])})
                if (q)
                    sysFreeOS(q, kGranule);
            x = 0;
        }
    }
    ASSERT_NE(x, 0u) << "no 320 KiB of free address space at a hint";
    for (int i = 1; i < 3; i++) {
        sysMap(r[i], kGranule, &stat);
        sysUsed(r[i], kGranule, kGranule);
        ASSERT_EQ(memwin_last_error(), 0u) << Last();
    }
    // R2 and R3 released through the host table: their Ready records stay.
    ASSERT_TRUE(memwin_prim_host()->virtual_free(r[1], 0, MEMWIN_MEM_RELEASE));
    ASSERT_TRUE(memwin_prim_host()->virtual_free(r[2], 0, MEMWIN_MEM_RELEASE));
    sysFreeOS(r[0], kGranule);
    ASSERT_EQ(memwin_last_error(), 0u) << Last();

    char *n = static_cast<char *>(sysReserve(P(x + 2 * kGranule), 3 * kGranule));
    ASSERT_EQ(U(n), x + 2 * kGranule) << Last();
    // The pages of old R2 and R3 are the new reservation's Reserved ones.
    sysUsedOS(n + kGranule, kPage);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_STATE)) << Last();
    sysUsedOS(n + 2 * kGranule, kPage);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_STATE)) << Last();
    EXPECT_EQ(state_of(U(n) + 2 * kGranule), uint32_t(MEMWIN_MEM_RESERVE));
    // L is still tracked.
    sysMapOS(L, kPage);
    EXPECT_EQ(memwin_last_error(), 0u) << Last();
    // The new reservation is one record: its release leaves nothing there.
    sysFreeOS(n, 3 * kGranule);
    EXPECT_EQ(memwin_last_error(), 0u) << Last();
    sysHugePageOS(n + kGranule, kPage);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_NOT_MANAGED)) << Last();
    sysHugePageOS(n + 2 * kGranule, kPage);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_NOT_MANAGED)) << Last();

    // A stale record at the very base of the new reservation goes too (the
    // OS often hands the same address out again).
    char *m = static_cast<char *>(sysReserve(n, 2 * kGranule));
    ASSERT_EQ(m, n) << Last();
    sysMap(m, 2 * kGranule, &stat);
    sysUsed(m, 2 * kGranule, 2 * kGranule);
    ASSERT_EQ(memwin_last_error(), 0u) << Last();
    ASSERT_TRUE(memwin_prim_host()->virtual_free(m, 0, MEMWIN_MEM_RELEASE));
    m = static_cast<char *>(sysReserve(n, 3 * kGranule));
    ASSERT_EQ(m, n) << Last();
    sysUsedOS(m, kPage);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_STATE)) << Last();
    sysUsedOS(m + 2 * kGranule, kPage);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_STATE)) << Last();
    sysFreeOS(m, 3 * kGranule);
    EXPECT_EQ(memwin_last_error(), 0u) << Last();
    sysHugePageOS(m, kPage);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_NOT_MANAGED)) << Last();

    sysFreeOS(L, kGranule);
    EXPECT_EQ(memwin_last_error(), 0u) << Last();
    EXPECT_EQ(state_of(x), uint32_t(MEMWIN_MEM_FREE));
}

// A reservation at 2^63 + 4 KiB (2^31 + 4 KiB on 32 bits), whose base times
// its size wraps to 2^29, where no record is: a walk over its pages that
// does not step by base + size reads a record that does not exist.
MEMWIN_CHILD(checked_tracker_high_reservation)
{
    memwin_set_mode(MEMWIN_MODE_RECOVERABLE);
    NullPrim np;
    char *h = static_cast<char *>(sysReserve(P(UINTPTR_MAX / 2 + 1 + kPage), 2 * kGranule));
    say("reserve " + std::to_string(memwin_last_error()) + "\n");
    sysMapOS(h, kPage);
    say("map " + std::to_string(memwin_last_error()) + "\n");
    sysFreeOS(h, 2 * kGranule);
    say("free " + std::to_string(memwin_last_error()) + "\n");
}

// Reservations at low addresses (the null table's 0x10000, and hints), where
// an address's remainder by a base is small too (0x20000 % 0x10000 is 0):
// the tracker must take offsets from the base, or a call is judged by the
// wrong page or reservation.
TEST(CheckedNullPrim, LowAddressesKeepTheTrackerArithmetic)
{
    {
        ModeScope mode(MEMWIN_MODE_RECOVERABLE);
        NullPrim np;
        sysMemStat stat = 0;
        // An exact-mode release at 0x20000 forgets only a record holding
        // 0x20000, not the one at 0x10000.
        void *p = sysReserve(nullptr, kGranule);
        ASSERT_EQ(U(p), 0x10000u) << Last();
        {
            ModeScope exact(MEMWIN_MODE_EXACT);
            sysFreeOS(P(0x20000), kGranule);
        }
        sysMapOS(p, kPage);
        EXPECT_EQ(memwin_last_error(), 0u) << Last();
        sysFreeOS(p, kGranule);
        EXPECT_EQ(memwin_last_error(), 0u) << Last();

        // 256 KiB at 0x10000: page 0x30000 Prepared, the rest Reserved.
        p = sysReserve(nullptr, 4 * kGranule);
        ASSERT_EQ(U(p), 0x10000u) << Last();
        sysMap(P(0x30000), kPage, &stat);
        EXPECT_EQ(memwin_last_error(), 0u) << Last();
        sysUsedOS(P(0x30000), kPage);
        EXPECT_EQ(memwin_last_error(), 0u) << Last();
        sysMapOS(P(0x10000), kPage);
        EXPECT_EQ(memwin_last_error(), 0u) << Last();
        sysMapOS(P(0x30000), kPage);
        EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_STATE)) << Last();
        sysFreeOS(p, 4 * kGranule);
        EXPECT_EQ(memwin_last_error(), 0u) << Last();

        // One range over two adjacent reservations: both halves change.
        void *a = sysReserve(P(0x10000), kGranule), *b = sysReserve(P(0x20000), kGranule);
        ASSERT_EQ(U(a), 0x10000u) << Last();
        ASSERT_EQ(U(b), 0x20000u) << Last();
        sysMapOS(P(0x18000), kGranule);
        EXPECT_EQ(memwin_last_error(), 0u) << Last();
        sysUsedOS(P(0x20000), kPage);
        EXPECT_EQ(memwin_last_error(), 0u) << Last();
        sysUsedOS(P(0x28000), kPage);
        EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_STATE)) << Last();
        sysFreeOS(a, kGranule);
        sysFreeOS(b, kGranule);
        EXPECT_EQ(memwin_last_error(), 0u) << Last();
    }
    // High addresses, in a child: a wrong walk there crashes.
    EXPECT_TRUE(child_exits("checked_tracker_high_reservation", 0, "reserve 0\nmap 0\nfree 0\n"));
}

// A transition that starts where a run starts must merge with the run
// before it only when that run has the new state, whatever runs follow.
// Pages are numbered in a fresh 16-page reservation.
TEST(CheckedRuns, TransitionsAtARunStartKeepNeighbourStates)
{
    MappedReadyGuard guard; // sysUsed(prepared) and sysUnused need not balance here
    ModeScope mode(MEMWIN_MODE_RECOVERABLE);
    sysMemStat stat = 0;
    struct Case {
        const char *what;
        void (*setup)(char *p, sysMemStat *stat);
        uint32_t page3_used; // sysUsedOS of page 3 afterwards: 0 if Prepared
    };
    const Case cases[] = {
        // Runs: 0-3 Prepared, 4-7 Ready, 8-15 Reserved; then 4-5 Ready again.
        {"Ready to Ready after a Prepared run",
         [](char *p, sysMemStat *s) {
             sysMap(p, 8 * kPage, s);
             sysUsed(p + 4 * kPage, 4 * kPage, 4 * kPage);
             sysUsed(p + 4 * kPage, 2 * kPage, 0);
         },
         0},
        // Runs: 0-3 Reserved, 4-7 Prepared, 8-15 Ready; then 4-5 Ready.
        {"Prepared to Ready after a Reserved run, Ready further on",
         [](char *p, sysMemStat *s) {
             sysMap(p + 4 * kPage, 12 * kPage, s);
             sysUsed(p + 8 * kPage, 8 * kPage, 8 * kPage);
             sysUsed(p + 4 * kPage, 2 * kPage, 2 * kPage);
         },
         MEMWIN_ERR_STATE},
        // As above, then 4-11 Ready: the range ends inside the Ready run.
        {"Prepared to Ready across into the Ready run",
         [](char *p, sysMemStat *s) {
             sysMap(p + 4 * kPage, 12 * kPage, s);
             sysUsed(p + 8 * kPage, 8 * kPage, 8 * kPage);
             sysUsed(p + 4 * kPage, 8 * kPage, 4 * kPage);
         },
         MEMWIN_ERR_STATE},
    };
    for (const Case &c : cases) {
        SCOPED_TRACE(c.what);
        char *p = static_cast<char *>(sysReserve(nullptr, kGranule));
        ASSERT_NE(p, nullptr) << Last();
        c.setup(p, &stat);
        ASSERT_EQ(memwin_last_error(), 0u) << Last();
        // Page 4 is Ready, page 3 kept its state.
        sysUnused(p + 4 * kPage, kPage);
        EXPECT_EQ(memwin_last_error(), 0u) << Last();
        sysUsedOS(p + 3 * kPage, kPage);
        EXPECT_EQ(memwin_last_error(), c.page3_used) << Last();
        sysFreeOS(p, kGranule);
        EXPECT_EQ(memwin_last_error(), 0u) << Last();
    }
}

// Go's sysAlloc accounts n before it asks the OS, so a stat of 0 takes
// n = 2^63 - 1, the largest Go's int64 holds, and the OS's refusal is an
// ordinary nil.
TEST(CheckedStat, AllocOfInt64MaxIsAccountedNotRefused)
{
    if (sizeof(void *) < 8)
        GTEST_SKIP() << "a 32-bit uintptr_t cannot hold 2^63 - 1";
    MappedReadyGuard guard; // Go adds n to mapped-ready too
    ModeScope mode(MEMWIN_MODE_RECOVERABLE);
    sysMemStat stat = 0;
    EXPECT_EQ(sysAlloc(uintptr_t(INT64_MAX), &stat), nullptr);
    EXPECT_EQ(memwin_last_error(), 0u) << Last();
    EXPECT_EQ(memwin_stat_load(&stat), uint64_t(INT64_MAX));
    // One byte more is refused before anything is accounted.
    sysMemStat one = 1;
    EXPECT_EQ(sysAlloc(uintptr_t(INT64_MAX), &one), nullptr);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_ACCOUNTING)) << Last();
    EXPECT_EQ(memwin_stat_load(&one), 1u);
}
