// State transitions of every OS-layer and generic-layer function, observed
// with memwin_query: state, protection, allocation base and the size of the
// run of identical pages.  Also the primitive calls each makes (through a
// recording table), including Go's halving fallback over adjacent
// reservations (go-runtime.md §1.2 and §2 "Straddling commits").
#include <cstring>

#include "test_util.h"

using namespace mwt;

namespace {

constexpr uint32_t kCommit = MEMWIN_MEM_COMMIT, kReserve = MEMWIN_MEM_RESERVE,
                   kFree = MEMWIN_MEM_FREE, kRW = MEMWIN_PAGE_READWRITE,
                   kNoAccess = MEMWIN_PAGE_NOACCESS;

// Reserves n bytes through the library (None -> Reserved) and registers the
// reservation for cleanup.
uintptr_t reserve(Reservations &rs, uintptr_t n, uintptr_t hint = 0)
{
    uintptr_t p = U(sysReserveOS(P(hint), n));
    EXPECT_NE(p, 0u) << "sysReserveOS(" << hint << ", " << n << ")";
    return rs.add(p);
}

// Reserves adjacent reservations of the given sizes (each a multiple of
// 64 KiB), placed with hints at a free range; returns their bases.
std::vector<uintptr_t> reserve_adjacent(Reservations &rs, std::vector<uintptr_t> sizes)
{
    uintptr_t total = 0;
    for (uintptr_t s : sizes)
        total += s;
    uintptr_t at = free_area(total);
    std::vector<uintptr_t> bases;
    for (uintptr_t s : sizes) {
        uintptr_t p = reserve(rs, s, at);
        EXPECT_EQ(p, at) << "hint for an adjacent reservation not honoured";
        bases.push_back(p);
        at += s;
    }
    return bases;
}

// True if [a, a+n) lies inside one of the reservations.
struct InOne {
    std::vector<uintptr_t> bases, sizes;
    bool operator()(uintptr_t a, uintptr_t n) const
    {
        uintptr_t lo = a & ~(kPage - 1), hi = (a + n + kPage - 1) & ~(kPage - 1);
        for (size_t i = 0; i < bases.size(); i++)
            if (lo >= bases[i] && hi <= bases[i] + sizes[i])
                return true;
        return false;
    }
};

} // namespace

// ---- sysReserveOS / sysReserve -------------------------------------------

TEST(Reserve, NullHintGivesAlignedReservedRegion)
{
    Reservations rs;
    PrimRecorder rec;
    uintptr_t p = reserve(rs, 0x30000);
    ASSERT_NE(p, 0u);
    EXPECT_EQ(p % kGranule, 0u);
    EXPECT_TRUE(region_is(p, kReserve, 0, p, 0x30000));
    EXPECT_EQ(query(p).allocation_protect, kRW) << "Go reserves with PAGE_READWRITE";
    EXPECT_TRUE(region_is(p + 0x2f000, kReserve, 0, p, 0x1000));
    auto calls = rec.calls();
    ASSERT_EQ(calls.size(), 1u) << to_string(calls);
    EXPECT_EQ(calls[0].op, PrimCall::kAlloc);
    EXPECT_EQ(calls[0].addr, 0u);
    EXPECT_EQ(calls[0].size, 0x30000u);
    EXPECT_EQ(calls[0].type, kReserve);
}

TEST(Reserve, HintHonoured)
{
    Reservations rs;
    uintptr_t h = free_area(0x20000);
    ASSERT_NE(h, 0u);
    EXPECT_EQ(reserve(rs, 0x20000, h), h);
    EXPECT_TRUE(region_is(h, kReserve, 0, h, 0x20000));
    uintptr_t h2 = free_area(0x10000);
    EXPECT_EQ(rs.add(U(sysReserve(P(h2), 0x10000))), h2) << "generic sysReserve";
    EXPECT_TRUE(region_is(h2, kReserve, 0, h2, 0x10000));
}

TEST(Reserve, RefusedHintGoesElsewhere)
{
    Reservations rs;
    uintptr_t q = reserve(rs, 0x20000);
    ASSERT_NE(q, 0u);
    PrimRecorder rec;
    uintptr_t p = reserve(rs, 0x10000, q + 0x10000); // inside q: refused
    ASSERT_NE(p, 0u);
    EXPECT_NE(p, q + 0x10000);
    EXPECT_TRUE(region_is(p, kReserve, 0, p, 0x10000));
    EXPECT_TRUE(region_is(q, kReserve, 0, q, 0x20000)) << "the existing reservation changed";
    auto calls = rec.calls();
    ASSERT_EQ(calls.size(), 2u) << to_string(calls);
    EXPECT_EQ(calls[0].addr, q + 0x10000);
    EXPECT_FALSE(calls[0].ok());
    EXPECT_EQ(calls[0].error, MEMWIN_ERROR_INVALID_ADDRESS);
    EXPECT_EQ(calls[1].addr, 0u);
    EXPECT_EQ(calls[1].result, p);
}

TEST(Reserve, ReturnsNullWhenBothAttemptsFailAndIsNotFatal)
{
    FatalCapture fc;
    {
        PrimRecorder rec;
        // Larger than the user address space: 128 TiB, or 4 GiB - 64 KiB
        // with a 32-bit uintptr.
        const uintptr_t impossible = sizeof(void *) == 4
                                         ? static_cast<uintptr_t>(0xFFFF0000u)
                                         : static_cast<uintptr_t>(uint64_t(1) << 47);
        EXPECT_EQ(sysReserveOS(nullptr, impossible), nullptr);
        auto calls = rec.calls();
        ASSERT_EQ(calls.size(), 2u) << to_string(calls);
        EXPECT_EQ(calls[0].error, MEMWIN_ERROR_INVALID_PARAMETER);
        EXPECT_EQ(calls[1].error, MEMWIN_ERROR_INVALID_PARAMETER);
    }
    uintptr_t h = free_area(0x10000);
    {
        FaultGuard fg(MEMWIN_FAULT_RESERVE, 1, 0, MEMWIN_ERROR_NOT_ENOUGH_MEMORY);
        EXPECT_EQ(sysReserve(P(h), 0x10000), nullptr);
        EXPECT_EQ(memwin_fault_seen(), 2u) << "hint, then anywhere";
        EXPECT_EQ(memwin_fault_failed(), 2u);
    }
    EXPECT_EQ(state_of(h), kFree);
    EXPECT_EQ(fc.count(), 0u);
}

// ---- sysMapOS / sysMap ------------------------------------------------------

TEST(Map, ChangesNothingAndCallsNothing)
{
    Reservations rs;
    uintptr_t p = reserve(rs, 0x20000);
    sysUsedOS(P(p + 0x10000), 0x1000);
    sysMemStat stat = 0;
    PrimRecorder rec;
    sysMapOS(P(p), 0x20000);
    sysMap(P(p), 0x20000, &stat);
    EXPECT_EQ(rec.calls().size(), 0u);
    EXPECT_TRUE(region_is(p, kReserve, 0, p, 0x10000));
    EXPECT_TRUE(region_is(p + 0x10000, kCommit, kRW, p, 0x1000));
    EXPECT_TRUE(region_is(p + 0x11000, kReserve, 0, p, 0xf000));
}

// ---- sysUsedOS / sysUsed ----------------------------------------------------

TEST(Used, CommitsTheRangeReadWriteAndZeroed)
{
    Reservations rs;
    uintptr_t p = reserve(rs, 0x40000);
    PrimRecorder rec;
    sysUsedOS(P(p), 0x20000);
    EXPECT_TRUE(region_is(p, kCommit, kRW, p, 0x20000));
    EXPECT_TRUE(region_is(p + 0x20000, kReserve, 0, p, 0x20000));
    EXPECT_EQ(query(p).allocation_protect, kRW);
    EXPECT_TRUE(all_zero(p, 0x20000));
    fill_pattern(p, 0x20000, 1);
    EXPECT_TRUE(check_pattern(p, 0x20000, 1));
    auto calls = rec.calls();
    ASSERT_EQ(calls.size(), 1u) << to_string(calls);
    EXPECT_EQ(calls[0].addr, p);
    EXPECT_EQ(calls[0].size, 0x20000u);
    EXPECT_EQ(calls[0].type, kCommit);
}

TEST(Used, RoundsAnUnalignedRangeOutToPages)
{
    Reservations rs;
    uintptr_t p = reserve(rs, 0x10000);
    PrimRecorder rec;
    sysUsedOS(P(p + 0x1800), 0x1000); // touches pages 1 and 2
    EXPECT_TRUE(region_is(p, kReserve, 0, p, 0x1000));
    EXPECT_TRUE(region_is(p + 0x1000, kCommit, kRW, p, 0x2000));
    EXPECT_TRUE(region_is(p + 0x3000, kReserve, 0, p, 0xd000));
    // VirtualAlloc returns the page base, which is not v, so Go retries the
    // range in its fallback loop once (and that succeeds).
    auto calls = rec.calls();
    ASSERT_EQ(calls.size(), 2u) << to_string(calls);
    EXPECT_EQ(calls[0].result, p + 0x1000);
    EXPECT_EQ(calls[1].addr, p + 0x1800);
    EXPECT_EQ(calls[1].size, 0x1000u);
    EXPECT_TRUE(calls[1].ok());
}

TEST(Used, PartialPagesAtBothEnds)
{
    Reservations rs;
    uintptr_t p = reserve(rs, 0x10000);
    sysUsedOS(P(p + 0x2fff), 0x2002); // last byte of page 2 .. first byte of page 5
    EXPECT_TRUE(region_is(p, kReserve, 0, p, 0x2000));
    EXPECT_TRUE(region_is(p + 0x2000, kCommit, kRW, p, 0x4000));
    EXPECT_TRUE(region_is(p + 0x6000, kReserve, 0, p, 0xa000));
}

TEST(Used, RecommitKeepsContents)
{
    Reservations rs;
    uintptr_t p = reserve(rs, 0x20000);
    sysUsedOS(P(p), 0x20000);
    fill_pattern(p, 0x20000, 7);
    PrimRecorder rec;
    sysUsedOS(P(p), 0x20000);
    EXPECT_EQ(rec.calls().size(), 1u);
    EXPECT_TRUE(check_pattern(p, 0x20000, 7));
    EXPECT_TRUE(region_is(p, kCommit, kRW, p, 0x20000));
}

TEST(Used, GenericCommitsAllNBytesWhateverPrepared)
{
    MappedReadyGuard mg;
    Reservations rs;
    uintptr_t p = reserve(rs, 0x40000);
    sysUsed(P(p), 0x30000, 0x1000);
    EXPECT_TRUE(region_is(p, kCommit, kRW, p, 0x30000));
    EXPECT_TRUE(region_is(p + 0x30000, kReserve, 0, p, 0x10000));
    sysUnused(P(p), 0x30000);
}

TEST(Used, NullAddressCommitsFreshMemoryElsewhere)
{
    // Go quirk (go-runtime.md §1.2): VirtualAlloc(NULL, MEM_COMMIT) makes a
    // new region, the result differs from v, the loop's call makes another
    // one and succeeds: two leaked regions, no throw.
    FatalCapture fc;
    Reservations rs;
    PrimRecorder rec;
    sysUsedOS(nullptr, 0x2000);
    auto calls = rec.calls();
    ASSERT_EQ(calls.size(), 2u) << to_string(calls);
    for (const PrimCall &c : calls) {
        EXPECT_EQ(c.addr, 0u);
        EXPECT_EQ(c.type, kCommit);
        ASSERT_TRUE(c.ok());
        rs.add(c.result);
        EXPECT_TRUE(region_is(c.result, kCommit, kRW, c.result, 0x2000));
    }
    EXPECT_NE(calls[0].result, calls[1].result);
    EXPECT_EQ(fc.count(), 0u);
}

// ---- sysUnusedOS / sysUnused / sysFaultOS / sysFault ------------------------

TEST(Unused, DecommitsToReservedAndRecommitReadsZero)
{
    Reservations rs;
    uintptr_t p = reserve(rs, 0x40000);
    sysUsedOS(P(p), 0x40000);
    fill_pattern(p, 0x10000, 3);
    fill_pattern(p + 0x10000, 0x20000, 4);
    fill_pattern(p + 0x30000, 0x10000, 5);
    PrimRecorder rec;
    sysUnusedOS(P(p + 0x10000), 0x20000);
    EXPECT_TRUE(region_is(p, kCommit, kRW, p, 0x10000));
    EXPECT_TRUE(region_is(p + 0x10000, kReserve, 0, p, 0x20000));
    EXPECT_TRUE(region_is(p + 0x30000, kCommit, kRW, p, 0x10000));
    auto calls = rec.calls();
    ASSERT_EQ(calls.size(), 1u) << to_string(calls);
    EXPECT_EQ(calls[0].op, PrimCall::kFree);
    EXPECT_EQ(calls[0].addr, p + 0x10000);
    EXPECT_EQ(calls[0].size, 0x20000u);
    EXPECT_EQ(calls[0].type, MEMWIN_MEM_DECOMMIT);
    sysUsedOS(P(p + 0x10000), 0x20000);
    EXPECT_TRUE(region_is(p, kCommit, kRW, p, 0x40000));
    EXPECT_TRUE(all_zero(p + 0x10000, 0x20000)) << "recommitted pages must read zero";
    // bytes outside the decommitted range keep their values
    EXPECT_TRUE(check_pattern(p, 0x10000, 3));
    EXPECT_TRUE(check_pattern(p + 0x30000, 0x10000, 5));
}

TEST(Unused, RoundsAnUnalignedRangeOutToPages)
{
    Reservations rs;
    uintptr_t p = reserve(rs, 0x10000);
    sysUsedOS(P(p), 0x10000);
    sysUnusedOS(P(p + 0x1fff), 2); // pages 1 and 2
    EXPECT_TRUE(region_is(p, kCommit, kRW, p, 0x1000));
    EXPECT_TRUE(region_is(p + 0x1000, kReserve, 0, p, 0x2000));
    EXPECT_TRUE(region_is(p + 0x3000, kCommit, kRW, p, 0xd000));
}

TEST(Unused, GenericDecommits)
{
    MappedReadyGuard mg;
    Reservations rs;
    uintptr_t p = reserve(rs, 0x20000);
    sysUsed(P(p), 0x20000, 0x20000);
    sysUnused(P(p), 0x10000);
    EXPECT_TRUE(region_is(p, kReserve, 0, p, 0x10000));
    EXPECT_TRUE(region_is(p + 0x10000, kCommit, kRW, p, 0x10000));
    sysUnused(P(p + 0x10000), 0x10000);
    EXPECT_TRUE(region_is(p, kReserve, 0, p, 0x20000));
}

TEST(Fault, DecommitsToReserved)
{
    MappedReadyGuard mg;
    Reservations rs;
    uintptr_t p = reserve(rs, 0x30000);
    sysUsed(P(p), 0x30000, 0x30000);
    PrimRecorder rec;
    sysFaultOS(P(p), 0x10000);
    EXPECT_TRUE(region_is(p, kReserve, 0, p, 0x10000));
    EXPECT_TRUE(region_is(p + 0x10000, kCommit, kRW, p, 0x20000));
    sysFault(P(p + 0x20000), 0x10000);
    EXPECT_TRUE(region_is(p + 0x10000, kCommit, kRW, p, 0x10000));
    EXPECT_TRUE(region_is(p + 0x20000, kReserve, 0, p, 0x10000));
    EXPECT_EQ(rec.count(PrimCall::kFree, MEMWIN_MEM_DECOMMIT), 2u);
    EXPECT_EQ(rec.calls().size(), 2u);
    sysUnused(P(p + 0x10000), 0x10000);
}

// ---- sysFreeOS / sysFree / sysUnreserve -------------------------------------

TEST(Free, ReleasesTheWholeReservationWhateverN)
{
    Reservations rs;
    uintptr_t p = reserve(rs, 0x30000);
    sysUsedOS(P(p + 0x10000), 0x8000);
    PrimRecorder rec;
    sysFreeOS(P(p), 0x1000);
    for (uintptr_t off : {0x0u, 0x10000u, 0x17000u, 0x2f000u})
        EXPECT_EQ(state_of(p + off), kFree) << "offset " << off;
    memwin_region_info i = query(p);
    EXPECT_EQ(i.allocation_base, nullptr);
    EXPECT_EQ(i.protect, kNoAccess);
    auto calls = rec.calls();
    ASSERT_EQ(calls.size(), 1u) << to_string(calls);
    EXPECT_EQ(calls[0].op, PrimCall::kFree);
    EXPECT_EQ(calls[0].addr, p);
    EXPECT_EQ(calls[0].size, 0u) << "Go always passes size 0 to MEM_RELEASE";
    EXPECT_EQ(calls[0].type, MEMWIN_MEM_RELEASE);
}

TEST(Free, GenericFreeAndUnreserve)
{
    MappedReadyGuard mg;
    sysMemStat stat = 0x100000;
    uintptr_t a = U(sysAlloc(0x10000, &stat));
    ASSERT_NE(a, 0u);
    sysFree(P(a), 0x10000, &stat);
    EXPECT_EQ(state_of(a), kFree);

    uintptr_t r = U(sysReserve(nullptr, 0x20000));
    ASSERT_NE(r, 0u);
    sysUsedOS(P(r), 0x1000); // Unreserve releases whatever state the pages are in
    sysUnreserve(P(r), 0x20000);
    EXPECT_EQ(state_of(r), kFree);
    EXPECT_EQ(state_of(r + 0x1f000), kFree);
}

// ---- sysAllocOS / sysAlloc --------------------------------------------------

TEST(Alloc, CommitsAFreshReservation)
{
    Reservations rs;
    PrimRecorder rec;
    uintptr_t p = rs.add(U(sysAllocOS(0x12345)));
    ASSERT_NE(p, 0u);
    EXPECT_EQ(p % kGranule, 0u);
    EXPECT_TRUE(region_is(p, kCommit, kRW, p, 0x13000));
    EXPECT_EQ(query(p).allocation_protect, kRW);
    EXPECT_TRUE(all_zero(p, 0x13000));
    fill_pattern(p, 0x13000, 9);
    EXPECT_TRUE(check_pattern(p, 0x13000, 9));
    auto calls = rec.calls();
    ASSERT_EQ(calls.size(), 1u) << to_string(calls);
    EXPECT_EQ(calls[0].addr, 0u);
    EXPECT_EQ(calls[0].size, 0x12345u);
    EXPECT_EQ(calls[0].type, kCommit | kReserve);
}

TEST(Alloc, ReturnsNullOnFailure)
{
    FatalCapture fc;
    {
        FaultGuard fg(MEMWIN_FAULT_ALLOC, 1, 1, MEMWIN_ERROR_NOT_ENOUGH_MEMORY);
        EXPECT_EQ(sysAllocOS(0x10000), nullptr);
        EXPECT_EQ(memwin_fault_failed(), 1u);
    }
    EXPECT_EQ(sysAllocOS(0), nullptr) << "VirtualAlloc of 0 bytes fails";
    EXPECT_EQ(fc.count(), 0u);
}

// ---- sysReserveAligned ------------------------------------------------------

TEST(ReserveAligned, AlignedFirstReservationKeepsSizePlusAlign)
{
    Reservations rs;
    const uintptr_t size = 0x30000, align = 0x100000;
    uintptr_t a = free_area(size + align, align);
    PrimRecorder rec;
    uintptr_t got = 0;
    uintptr_t p = rs.add(U(sysReserveAligned(P(a), size, align, &got)));
    EXPECT_EQ(p, a);
    EXPECT_EQ(got, size + align);
    EXPECT_TRUE(region_is(p, kReserve, 0, p, size + align));
    auto calls = rec.calls();
    ASSERT_EQ(calls.size(), 1u) << to_string(calls);
    EXPECT_EQ(calls[0].size, size + align);
}

TEST(ReserveAligned, UnalignedFirstReservationIsRedoneAtTheBoundary)
{
    Reservations rs;
    const uintptr_t size = 0x30000, align = 0x100000;
    uintptr_t a = free_area(size + 2 * align, align);
    uintptr_t v = a + kGranule; // free, 64 KiB aligned, not 1 MiB aligned
    PrimRecorder rec;
    uintptr_t got = 0;
    uintptr_t p = rs.add(U(sysReserveAligned(P(v), size, align, &got)));
    EXPECT_EQ(p, a + align);
    EXPECT_EQ(got, size);
    EXPECT_TRUE(region_is(p, kReserve, 0, p, size));
    EXPECT_EQ(state_of(v), kFree) << "the unaligned reservation was not released";
    auto calls = rec.calls();
    ASSERT_EQ(calls.size(), 3u) << to_string(calls);
    EXPECT_EQ(calls[0].op, PrimCall::kAlloc);
    EXPECT_EQ(calls[0].addr, v);
    EXPECT_EQ(calls[0].size, size + align);
    EXPECT_EQ(calls[0].result, v);
    EXPECT_EQ(calls[1].op, PrimCall::kFree);
    EXPECT_EQ(calls[1].addr, v);
    EXPECT_EQ(calls[1].type, MEMWIN_MEM_RELEASE);
    EXPECT_EQ(calls[2].op, PrimCall::kAlloc);
    EXPECT_EQ(calls[2].addr, a + align);
    EXPECT_EQ(calls[2].size, size);
    EXPECT_EQ(calls[2].type, kReserve);
}

TEST(ReserveAligned, NullHintGivesAlignedReservationOfReportedSize)
{
    const uintptr_t size = 8 * kMiB, align = 4 * kMiB;
    for (int i = 0; i < 4; i++) {
        Reservations rs;
        uintptr_t got = 0;
        uintptr_t p = rs.add(U(sysReserveAligned(nullptr, size, align, &got)));
        ASSERT_NE(p, 0u);
        EXPECT_EQ(p % align, 0u);
        EXPECT_TRUE(got == size || got == size + align) << got;
        EXPECT_TRUE(region_is(p, kReserve, 0, p, got));
    }
}

TEST(ReserveAligned, FailureReturnsNullAndZeroSize)
{
    FatalCapture fc;
    FaultGuard fg(MEMWIN_FAULT_RESERVE, 1, 0, MEMWIN_ERROR_NOT_ENOUGH_MEMORY);
    uintptr_t got = 12345;
    EXPECT_EQ(sysReserveAligned(nullptr, 0x10000, 0x100000, &got), nullptr);
    EXPECT_EQ(got, 0u);
    EXPECT_EQ(fc.count(), 0u);
}

// ---- huge pages, needZero ---------------------------------------------------

TEST(HugePage, AllSixAreNoOps)
{
    FatalCapture fc;
    Reservations rs;
    uintptr_t p = reserve(rs, 0x30000);
    sysUsedOS(P(p + 0x10000), 0x10000);
    PrimRecorder rec;
    for (uintptr_t v : {p, p + 0x10000, uintptr_t(0), free_area(0x10000)}) {
        sysHugePageOS(P(v), 0x30000);
        sysNoHugePageOS(P(v), 0x30000);
        sysHugePageCollapseOS(P(v), 0x30000);
        sysHugePage(P(v), 0x30000);
        sysNoHugePage(P(v), 0x30000);
        sysHugePageCollapse(P(v), 0x30000);
    }
    EXPECT_EQ(rec.calls().size(), 0u);
    EXPECT_TRUE(region_is(p, kReserve, 0, p, 0x10000));
    EXPECT_TRUE(region_is(p + 0x10000, kCommit, kRW, p, 0x10000));
    EXPECT_TRUE(region_is(p + 0x20000, kReserve, 0, p, 0x10000));
    EXPECT_EQ(fc.count(), 0u);
}

TEST(NeedZero, IsTrueOnWindows)
{
    EXPECT_TRUE(needZeroAfterSysUnusedOS());
    EXPECT_TRUE(needZeroAfterSysUnused());
}

// ---- the whole state machine through the generic layer ----------------------

TEST(StateMachine, GenericLayerWalk)
{
    MappedReadyGuard mg;
    sysMemStat stat = 0;
    const uintptr_t n = 0x20000;
    uintptr_t p = U(sysReserve(nullptr, n)); // None -> Reserved
    ASSERT_NE(p, 0u);
    EXPECT_TRUE(region_is(p, kReserve, 0, p, n));
    sysMap(P(p), n, &stat); // Reserved -> Prepared (= reserved on Windows)
    EXPECT_TRUE(region_is(p, kReserve, 0, p, n));
    sysUsed(P(p), n, n); // Prepared -> Ready
    EXPECT_TRUE(region_is(p, kCommit, kRW, p, n));
    fill_pattern(p, n, 11);
    sysUnused(P(p), n); // Ready -> Prepared
    EXPECT_TRUE(region_is(p, kReserve, 0, p, n));
    sysUsed(P(p), n, n);
    EXPECT_TRUE(all_zero(p, n));
    sysFault(P(p), n); // Ready -> Reserved
    EXPECT_TRUE(region_is(p, kReserve, 0, p, n));
    sysFree(P(p), n, &stat); // any -> None
    EXPECT_EQ(state_of(p), kFree);
    EXPECT_EQ(stat, 0u);

    uintptr_t a = U(sysAlloc(n, &stat)); // None -> Ready
    ASSERT_NE(a, 0u);
    EXPECT_TRUE(region_is(a, kCommit, kRW, a, n));
    sysFree(P(a), n, &stat);
    EXPECT_EQ(state_of(a), kFree);
    EXPECT_EQ(stat, 0u);
}

// ---- fallback loops over adjacent reservations ------------------------------

TEST(Straddle, UsedAndUnusedOverTwoAdjacentReservations)
{
    Reservations rs;
    auto b = reserve_adjacent(rs, {0x10000, 0x10000});
    ASSERT_EQ(b.size(), 2u);
    const uintptr_t A = b[0], B = b[1];
    ASSERT_EQ(B, A + 0x10000);
    InOne one{{A, B}, {0x10000, 0x10000}};

    PrimRecorder rec;
    sysUsedOS(P(A), 0x20000);
    EXPECT_TRUE(region_is(A, kCommit, kRW, A, 0x10000));
    EXPECT_TRUE(region_is(B, kCommit, kRW, B, 0x10000));
    auto calls = rec.calls();
    std::vector<Step> want = {
        {A, 0x20000, false}, {A, 0x20000, false}, {A, 0x10000, true}, {B, 0x10000, true}};
    EXPECT_EQ(steps_of(calls), want) << "got:\n" << to_string(calls);
    EXPECT_EQ(go_halving_model(A, 0x20000, one), want);
    ASSERT_GE(calls.size(), 2u);
    EXPECT_EQ(calls[0].error, MEMWIN_ERROR_INVALID_ADDRESS);
    for (const PrimCall &c : calls)
        EXPECT_EQ(c.type, kCommit);

    fill_pattern(A, 0x20000, 5);
    rec.clear();
    sysUnusedOS(P(A), 0x20000);
    EXPECT_TRUE(region_is(A, kReserve, 0, A, 0x10000));
    EXPECT_TRUE(region_is(B, kReserve, 0, B, 0x10000));
    calls = rec.calls();
    EXPECT_EQ(steps_of(calls), want) << "got:\n" << to_string(calls);
    ASSERT_GE(calls.size(), 2u);
    EXPECT_EQ(calls[0].error, MEMWIN_ERROR_INVALID_PARAMETER);
    for (const PrimCall &c : calls)
        EXPECT_EQ(c.type, MEMWIN_MEM_DECOMMIT);

    sysUsedOS(P(A), 0x20000);
    EXPECT_TRUE(all_zero(A, 0x20000));
}

TEST(Straddle, GoRuntimeExampleFourMiBSpanAcrossArenas)
{
    // go-runtime.md §2: a 4 MiB span at +1 MiB of a 4 MiB reservation
    // followed by another: fail 4M, fail 4M, ok 2M, fail 2M, ok 1M, ok 1M.
    Reservations rs;
    auto b = reserve_adjacent(rs, {4 * kMiB, 4 * kMiB});
    ASSERT_EQ(b.size(), 2u);
    const uintptr_t A = b[0], v = A + kMiB;
    PrimRecorder rec;
    sysUsedOS(P(v), 4 * kMiB);
    std::vector<Step> want = {{v, 4 * kMiB, false},           {v, 4 * kMiB, false},
                              {v, 2 * kMiB, true},            {v + 2 * kMiB, 2 * kMiB, false},
                              {v + 2 * kMiB, kMiB, true},     {v + 3 * kMiB, kMiB, true}};
    EXPECT_EQ(steps_of(rec.calls()), want) << "got:\n" << to_string(rec.calls());
    EXPECT_TRUE(region_is(A, kReserve, 0, A, kMiB));
    EXPECT_TRUE(region_is(v, kCommit, kRW, A, 3 * kMiB));
    EXPECT_TRUE(region_is(b[1], kCommit, kRW, b[1], kMiB));
    EXPECT_TRUE(region_is(b[1] + kMiB, kReserve, 0, b[1], 3 * kMiB));

    rec.clear();
    sysUnusedOS(P(v), 4 * kMiB);
    // Decommit tries the full range once more before the loop.
    EXPECT_EQ(steps_of(rec.calls()), want) << "got:\n" << to_string(rec.calls());
    EXPECT_TRUE(region_is(A, kReserve, 0, A, 4 * kMiB));
    EXPECT_TRUE(region_is(b[1], kReserve, 0, b[1], 4 * kMiB));
}

TEST(Straddle, UnalignedSplitMatchesGosHalvingModel)
{
    Reservations rs;
    auto b = reserve_adjacent(rs, {0x10000, 0x10000});
    ASSERT_EQ(b.size(), 2u);
    const uintptr_t A = b[0], B = b[1];
    InOne one{{A, B}, {0x10000, 0x10000}};
    const uintptr_t v = A + 0x3000, n = 0x12000; // ends at B + 0x5000
    auto want = go_halving_model(v, n, one);
    // 0x12000 fails twice, 0x9000 fits A, then 0x9000 fails and its halving
    // 0x4800 rounds down to 0x4000, then the last 0x5000 lies in B.
    std::vector<Step> expected = {{v, n, false},           {v, n, false},
                                  {v, 0x9000, true},       {v + 0x9000, 0x9000, false},
                                  {v + 0x9000, 0x4000, true}, {B, 0x5000, true}};
    EXPECT_EQ(want, expected) << to_string(want);
    PrimRecorder rec;
    sysUsedOS(P(v), n);
    EXPECT_EQ(steps_of(rec.calls()), want) << "got:\n" << to_string(rec.calls());
    EXPECT_TRUE(region_is(A, kReserve, 0, A, 0x3000));
    EXPECT_TRUE(region_is(v, kCommit, kRW, A, 0xd000));
    EXPECT_TRUE(region_is(B, kCommit, kRW, B, 0x5000));
    EXPECT_TRUE(region_is(B + 0x5000, kReserve, 0, B, 0xb000));
    rec.clear();
    sysUnusedOS(P(v), n);
    EXPECT_EQ(steps_of(rec.calls()), want) << "got:\n" << to_string(rec.calls());
    EXPECT_TRUE(region_is(A, kReserve, 0, A, 0x10000));
    EXPECT_TRUE(region_is(B, kReserve, 0, B, 0x10000));
}

TEST(Straddle, ThreeReservationsOfDifferentSizes)
{
    Reservations rs;
    auto b = reserve_adjacent(rs, {0x20000, 0x10000, 0x30000});
    ASSERT_EQ(b.size(), 3u);
    InOne one{b, {0x20000, 0x10000, 0x30000}};
    const uintptr_t v = b[0] + 0x8000, n = 0x48000; // to b[2] + 0x20000
    auto want = go_halving_model(v, n, one);
    ASSERT_GT(want.size(), 4u);
    PrimRecorder rec;
    sysUsedOS(P(v), n);
    EXPECT_EQ(steps_of(rec.calls()), want) << "got:\n" << to_string(rec.calls());
    EXPECT_TRUE(region_is(v, kCommit, kRW, b[0], 0x18000));
    EXPECT_TRUE(region_is(b[1], kCommit, kRW, b[1], 0x10000));
    EXPECT_TRUE(region_is(b[2], kCommit, kRW, b[2], 0x20000));
    rec.clear();
    sysUnusedOS(P(v), n);
    EXPECT_EQ(steps_of(rec.calls()), want) << "got:\n" << to_string(rec.calls());
    for (size_t i = 0; i < 3; i++)
        EXPECT_EQ(state_of(b[i] + 0x8000), kReserve);
    EXPECT_TRUE(region_is(b[2], kReserve, 0, b[2], 0x30000));
}

TEST(Extras, VersionStrings)
{
    EXPECT_STREQ(memwin_version(), "0.1.0");
    std::string go = memwin_go_version();
    EXPECT_EQ(go.rfind("go1.", 0), 0u) << go;
}
