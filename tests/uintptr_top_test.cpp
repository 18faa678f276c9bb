// Sizes at the top of uintptr_t's range, on either width.  The conformance
// vectors that need them are written with 64-bit numbers and skip on a
// 32-bit port (vectors_replay_test.cpp); these are the same scenarios with
// UINTPTR_MAX-relative sizes, so windows/386 checks its wrap-around, halving
// and accounting arithmetic too.  Where Go's result depends on the width
// (int64(n) is negative for n >= 2^63 only on 64-bit), both are spelled out.
#include <cinttypes>
#include <string>

#include "test_util.h"

using namespace mwt;

namespace {

constexpr uintptr_t kMaxPages = UINTPTR_MAX & ~(kPage - 1); // 2^N - 4096
constexpr uintptr_t kHalf = UINTPTR_MAX / 2 + 1;            // 2^(N-1)
constexpr bool k32 = sizeof(void *) == 4;

// Go's int64(n) for a uintptr n: zero-extended on 32-bit.
int64_t go_int64(uintptr_t n)
{
    return static_cast<int64_t>(static_cast<uint64_t>(n));
}

// Go's exact behaviour, whatever MEMWIN_MODE says.
class UintptrTop : public ::testing::Test {
    ModeScope mode_{MEMWIN_MODE_EXACT};
};

// Go's "runtime: val=<u> n=<d>\n" line of sysMemStat overflow.
std::string overflow_line(uint64_t val, int64_t n)
{
    char b[96];
    std::snprintf(b, sizeof b, "runtime: val=%" PRIu64 " n=%" PRId64 "\n", val, n);
    return b;
}

// As gen_alloc_max_fatal: sysAlloc(UINTPTR_MAX).  64-bit: int64(n) = -1, the
// stat wraps to 2^64-1 and Go throws.  32-bit: +4294967295 is a plain
// addition; mapped-ready grows by n too, and the OS refuses the size: nil.
TEST_F(UintptrTop, AllocOfMaxSize)
{
    MappedReadyGuard mr;
    FatalCapture fc;
    sysMemStat stat = 0;
    const uint64_t m0 = memwin_mapped_ready();
    EXPECT_EQ(sysAlloc(UINTPTR_MAX, &stat), nullptr);
    EXPECT_EQ(stat, uint64_t(go_int64(UINTPTR_MAX))) << "the stat keeps n";
    if (k32) {
        EXPECT_EQ(fc.count(), 0u);
        EXPECT_EQ(stat, 0xFFFFFFFFull);
        EXPECT_EQ(memwin_mapped_ready() - m0, 0xFFFFFFFFull);
    } else {
        ASSERT_EQ(fc.count(), 1u);
        EXPECT_EQ(fc.events()[0].printed, overflow_line(UINT64_MAX, -1));
        EXPECT_EQ(fc.events()[0].message, "sysMemStat overflow");
        EXPECT_EQ(memwin_mapped_ready(), m0) << "the throw comes first";
    }
}

// As gen_map_signbit / gen_free_signbit: 2^(N-1) bytes in and out of a stat.
// 32-bit: 2^31 is positive as int64, no check fires.  64-bit: int64(2^63)
// is negative, the stat wraps to 2^63 and back to 0 and Go's check, which
// wraps too, does not fire either.
TEST_F(UintptrTop, StatOfHalfTheRangeInAndOut)
{
    MappedReadyGuard mr;
    FatalCapture fc;
    NullPrim np;
    sysMemStat stat = 0;
    sysMap(P(0x10000), kHalf, &stat);
    EXPECT_EQ(stat, uint64_t(kHalf));
    EXPECT_EQ(memwin_stat_load(&stat), k32 ? 0x80000000ull : 0x8000000000000000ull);
    sysFree(P(0x10000), kHalf, &stat);
    EXPECT_EQ(stat, 0u);
    EXPECT_EQ(fc.count(), 0u);
}

// sysFree of more than the stat holds: Go's -int64(n) of a 32-bit n is the
// negative of the zero-extended size, so the check fires with that n.
TEST_F(UintptrTop, FreeOfMoreThanTheStatHolds)
{
    MappedReadyGuard mr;
    FatalCapture fc;
    NullPrim np;
    sysMemStat stat = 0x1000;
    sysFree(P(0x10000), kMaxPages, &stat);
    const int64_t n = -go_int64(kMaxPages); // -int64(n) (2^64 - 4096 on 64-bit: +4096)
    EXPECT_EQ(stat, uint64_t(0x1000) + uint64_t(n));
    if (k32) {
        ASSERT_EQ(fc.count(), 1u);
        EXPECT_EQ(fc.events()[0].printed, overflow_line(0x1000 - 0xFFFFF000ull, -0xFFFFF000ll));
        EXPECT_EQ(fc.events()[0].message, "sysMemStat overflow");
    } else {
        EXPECT_EQ(fc.count(), 0u) << "-int64(2^64-4096) is +4096";
        EXPECT_EQ(stat, 0x2000u);
    }
}

// As gen_used_prepared_wrap: prepared = UINTPTR_MAX goes into mapped-ready
// as Go's int64(prepared): -1 on 64-bit, +4294967295 on 32-bit.
TEST_F(UintptrTop, UsedWithMaxPrepared)
{
    MappedReadyGuard mr;
    FatalCapture fc;
    NullPrim np;
    const uint64_t m0 = memwin_mapped_ready();
    sysUsed(P(0x10000), 0x10000, UINTPTR_MAX);
    EXPECT_EQ(memwin_mapped_ready() - m0, k32 ? 0xFFFFFFFFull : UINT64_MAX);
    EXPECT_EQ(fc.count(), 0u);
}

// As os_alloc_max and os_reserve_max: no memory for 2^N - 4096 bytes; one
// VirtualAlloc for sysAllocOS, the hint then anywhere for sysReserveOS.
TEST_F(UintptrTop, AllocAndReserveOfMaxSizeReturnNil)
{
    PrimRecorder rec;
    EXPECT_EQ(sysAllocOS(kMaxPages), nullptr);
    EXPECT_EQ(rec.count(PrimCall::kAlloc), 1u) << to_string(rec.calls());
    rec.clear();
    EXPECT_EQ(sysReserveOS(nullptr, kMaxPages), nullptr);
    EXPECT_EQ(rec.count(PrimCall::kAlloc, MEMWIN_MEM_RESERVE), 2u) << to_string(rec.calls());
}

// As ra_size_wrap: size + align wraps to 0 (2^N - 64 KiB + 64 KiB): both
// reservations of Go's sequence fail, nil and reserved 0.
TEST_F(UintptrTop, ReserveAlignedSizePlusAlignWraps)
{
    PrimRecorder rec;
    uintptr_t reserved = 7;
    EXPECT_EQ(sysReserveAligned(nullptr, UINTPTR_MAX & ~(kGranule - 1), kGranule, &reserved),
              nullptr);
    EXPECT_EQ(reserved, 0u);
    EXPECT_EQ(rec.count(PrimCall::kAlloc, MEMWIN_MEM_RESERVE), 2u) << to_string(rec.calls());
}

// As edge_used_max_fatal: committing 2^N - 4096 bytes from a 1 MiB
// reservation's base.  base + size wraps; Go's halving loop commits the
// reservation piece by piece, then fails at its end down to the 4096 floor
// and throws with the last error (487: free memory there).
TEST_F(UintptrTop, UsedOfMaxSizeCommitsWhatItCanThenThrows)
{
    FatalCapture fc;
    uintptr_t x = free_area(2 * kMiB);
    Reservations rs;
    void *a = rs.add(sysReserveOS(P(x), kMiB));
    ASSERT_EQ(U(a), x);
    sysUsedOS(a, kMaxPages);
    ASSERT_EQ(fc.count(), 1u);
    EXPECT_EQ(fc.events()[0].printed, failed_line("VirtualAlloc", 0, MEMWIN_ERROR_INVALID_ADDRESS));
    EXPECT_EQ(fc.events()[0].message, "runtime: failed to commit pages");
    EXPECT_TRUE(region_is(x, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE, x, kMiB));
    EXPECT_EQ(state_of(x + kMiB), uint32_t(MEMWIN_MEM_FREE));
}

// As edge_unused_max_fatal: decommitting 2^N - 4096 bytes from a committed
// 1 MiB reservation: decommitted piece by piece, then 87 past its end.
TEST_F(UintptrTop, UnusedOfMaxSizeDecommitsWhatItCanThenThrows)
{
    FatalCapture fc;
    uintptr_t x = free_area(2 * kMiB);
    Reservations rs;
    void *a = rs.add(sysReserveOS(P(x), kMiB));
    ASSERT_EQ(U(a), x);
    sysUsedOS(a, kMiB);
    ASSERT_EQ(fc.count(), 0u);
    sysUnusedOS(a, kMaxPages);
    ASSERT_EQ(fc.count(), 1u);
    EXPECT_EQ(fc.events()[0].printed,
              failed_line("VirtualFree", 0, MEMWIN_ERROR_INVALID_PARAMETER));
    EXPECT_EQ(fc.events()[0].message, "runtime: failed to decommit pages");
    EXPECT_TRUE(region_is(x, MEMWIN_MEM_RESERVE, 0, x, kMiB));
}

} // namespace
