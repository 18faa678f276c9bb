// The Windows virtual-memory rules of windows-vm-rules.md, checked directly
// on memwin_prim_host(): real kernel32 under Wine, the emulation on Linux.
// The same assertions pass on both, which holds the emulation to Windows
// (as Wine implements it: where Wine and Windows differ, Wine's code is
// expected, e.g. 87 for VirtualFree on free memory).
#include <cstdio>
#include <cstring>
#include <vector>
#include <atomic>
#include <thread>

#include "test_util.h"

#if defined(_WIN32)
#include <windows.h>
#endif

#if !defined(_WIN32)
#include <sys/resource.h>
#endif

using namespace mwt;

namespace {

constexpr uint32_t kCommit = MEMWIN_MEM_COMMIT, kReserve = MEMWIN_MEM_RESERVE,
                   kFree = MEMWIN_MEM_FREE, kDecommit = MEMWIN_MEM_DECOMMIT,
                   kRelease = MEMWIN_MEM_RELEASE, kRW = MEMWIN_PAGE_READWRITE,
                   kRO = MEMWIN_PAGE_READONLY, kNoAccess = MEMWIN_PAGE_NOACCESS;
constexpr uint32_t E87 = MEMWIN_ERROR_INVALID_PARAMETER, E487 = MEMWIN_ERROR_INVALID_ADDRESS;

const memwin_prim *H()
{
    return memwin_prim_host();
}

// A VirtualAlloc / VirtualFree result with the last error of a failure.
struct Res {
    uintptr_t value;
    uint32_t err;
};

Res va(uintptr_t addr, uintptr_t size, uint32_t type, uint32_t protect = kRW)
{
    H()->set_last_error(0);
    void *p = H()->virtual_alloc(P(addr), size, type, protect);
    return {U(p), p ? 0u : H()->get_last_error()};
}

Res vf(uintptr_t addr, uintptr_t size, uint32_t type)
{
    H()->set_last_error(0);
    int ok = H()->virtual_free(P(addr), size, type);
    return {uintptr_t(ok), ok ? 0u : H()->get_last_error()};
}

memwin_region_info hq(uintptr_t addr)
{
    memwin_region_info i;
    std::memset(&i, 0, sizeof i);
    EXPECT_EQ(H()->virtual_query(P(addr), &i), 0u) << std::hex << addr;
    return i;
}

::testing::AssertionResult fails_with(Res r, uint32_t err)
{
    if (r.value == 0 && r.err == err)
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "result " << std::hex << "0x" << r.value << std::dec << ", error " << r.err
           << "; want failure with " << err;
}

uintptr_t reserve(Reservations &rs, uintptr_t n, uintptr_t at = 0, uint32_t protect = kRW)
{
    Res r = va(at, n, kReserve, protect);
    EXPECT_NE(r.value, 0u) << "reserve failed with " << r.err;
    if (at) {
        EXPECT_EQ(r.value, at & ~(kGranule - 1));
    }
    return rs.add(r.value);
}

// Two adjacent 64 KiB reservations A, B.
void adjacent(Reservations &rs, uintptr_t *a, uintptr_t *b)
{
    uintptr_t at = free_area(0x20000);
    *a = reserve(rs, 0x10000, at);
    *b = reserve(rs, 0x10000, at + 0x10000);
}

} // namespace

// ---- the table observed under Wine 8.0 --------------------------------------

TEST(VmRules, CommitSpanningTwoAdjacentReservationsFails487)
{
    Reservations rs;
    uintptr_t a, b;
    adjacent(rs, &a, &b);
    EXPECT_TRUE(fails_with(va(a + 0xf000, 0x2000, kCommit), E487));
    EXPECT_TRUE(fails_with(va(a, 0x20000, kCommit), E487));
    EXPECT_EQ(hq(a + 0xf000).state, kReserve) << "nothing committed on failure";
    EXPECT_EQ(hq(b).state, kReserve);
}

TEST(VmRules, DecommitSpanningTwoAdjacentReservationsFails87)
{
    Reservations rs;
    uintptr_t a, b;
    adjacent(rs, &a, &b);
    ASSERT_NE(va(a, 0x10000, kCommit).value, 0u);
    ASSERT_NE(va(b, 0x10000, kCommit).value, 0u);
    EXPECT_TRUE(fails_with(vf(a + 0xf000, 0x2000, kDecommit), E87));
    EXPECT_TRUE(fails_with(vf(a, 0x20000, kDecommit), E87));
    EXPECT_EQ(hq(a + 0xf000).state, kCommit) << "nothing decommitted on failure";
    EXPECT_EQ(hq(b).state, kCommit);
}

TEST(VmRules, ReleaseWithNonZeroSizeFails87)
{
    Reservations rs;
    uintptr_t a = reserve(rs, 0x10000);
    EXPECT_TRUE(fails_with(vf(a, 1, kRelease), E87));      // rule 11
    EXPECT_TRUE(fails_with(vf(a, 0x10000, kRelease), E87));
    EXPECT_EQ(hq(a).state, kReserve);
    EXPECT_EQ(vf(a, 0, kRelease).value, 1u); // rule 11: size 0 succeeds
    EXPECT_EQ(hq(a).state, kFree);
}

TEST(VmRules, ReleaseAtNonBaseFails487)
{
    Reservations rs;
    uintptr_t a = reserve(rs, 0x20000);
    EXPECT_TRUE(fails_with(vf(a + 0x1000, 0, kRelease), E487));
    EXPECT_TRUE(fails_with(vf(a + 0x10000, 0, kRelease), E487));
    EXPECT_EQ(hq(a).state, kReserve);
}

TEST(VmRules, CommitOfFreeMemoryFails487)
{
    uintptr_t f = free_area(0x10000);
    EXPECT_TRUE(fails_with(va(f, 0x1000, kCommit), E487)); // rule 18
    EXPECT_TRUE(fails_with(va(f + 0x3000, 10, kCommit), E487));
    EXPECT_EQ(hq(f).state, kFree);
}

TEST(VmRules, DecommitOfFreeMemoryFails87)
{
    // Wine's code; real Windows gives 487 (rule 20, golang/go #35465).
    uintptr_t f = free_area(0x10000);
    EXPECT_TRUE(fails_with(vf(f, 0x1000, kDecommit), E87));
    EXPECT_TRUE(fails_with(vf(f, 0, kDecommit), E87));
}

TEST(VmRules, ReleaseOfFreeMemoryFails87)
{
    uintptr_t a = va(0, 0x10000, kReserve).value;
    ASSERT_NE(a, 0u);
    EXPECT_EQ(vf(a, 0, kRelease).value, 1u);
    EXPECT_TRUE(fails_with(vf(a, 0, kRelease), E87)); // release twice
}

TEST(VmRules, ReserveOfSizeZeroFails87)
{
    EXPECT_TRUE(fails_with(va(0, 0, kReserve), E87)); // rule 1
    EXPECT_TRUE(fails_with(va(0, 0, kReserve | kCommit), E87));
}

TEST(VmRules, ReserveOfImpossibleSizesFails87)
{
    // More than the user address space: 128 TiB, or 2 GiB with a 32-bit
    // uintptr (Wine's WoW64 fails it with 87 too; smaller sizes that do not
    // fit fail with 8).
    const uintptr_t too_big = sizeof(void *) == 4 ? static_cast<uintptr_t>(0x80000000u)
                                                  : static_cast<uintptr_t>(uint64_t(1) << 47);
    EXPECT_TRUE(fails_with(va(0, too_big, kReserve), E87));
    EXPECT_TRUE(fails_with(va(0, uintptr_t(0) - 4096, kReserve), E87));
}

// A reservation at an address whose range wraps past 2^64, ends a byte
// past the last user address, starts in the top granule or below the
// first granule fails with 87 (Wine 8, measured with a mingw program).
TEST(VmRules, ReserveOutsideTheUserAddressSpaceFails87)
{
    if (sizeof(void *) == 4)
        GTEST_SKIP() << "64-bit address space";
    const struct {
        uint64_t addr, size;
    } cases[] = {{0xffffffffffff0000ull, 0x100000}, {0xfffffffffff00000ull, 0x100000},
                 {0x7fffffef0000ull, 0x100001},     {0x7fffffff0000ull, 0x1000},
                 {0x8000, 0x10000},                 {0x10000, 0xfffffffffffff000ull}};
    for (auto c : cases) {
        SCOPED_TRACE(testing::Message() << std::hex << "addr 0x" << c.addr << " size 0x" << c.size);
        Res r = va(uintptr_t(c.addr), uintptr_t(c.size), kReserve);
        EXPECT_TRUE(fails_with(r, E87));
        if (r.value)
            vf(r.value, 0, kRelease);
    }
}

// A reservation without an address that cannot fit fails with 8 up to
// 0x7fffffff0000 bytes and with 87 above (Wine 8, measured with a mingw
// program; the emulation has the same limit).
TEST(VmRules, ReserveWithoutAddressThatFindsNoRoomFails8)
{
    if (sizeof(void *) == 4)
        GTEST_SKIP() << "64-bit address space";
    if (under_valgrind())
        GTEST_SKIP() << "valgrind refuses the host mapping with EINVAL (87), not ENOMEM";
    for (uint64_t n : {0x7ffffffdffffull, 0x7ffffffe0000ull, 0x7fffffff0000ull}) {
        SCOPED_TRACE(testing::Message() << std::hex << "size 0x" << n);
        Res r = va(0, uintptr_t(n), kReserve);
        EXPECT_TRUE(fails_with(r, 8));
        if (r.value)
            vf(r.value, 0, kRelease);
    }
    Res r = va(0, uintptr_t(0x7fffffff0001ull), kReserve);
    EXPECT_TRUE(fails_with(r, E87));
    if (r.value)
        vf(r.value, 0, kRelease);
}

TEST(VmRules, DecommitWithSizeZeroAtBaseOrInFirstPageSucceeds)
{
    Reservations rs;
    uintptr_t a = reserve(rs, 0x30000);
    ASSERT_NE(va(a, 0x30000, kCommit).value, 0u);
    EXPECT_EQ(vf(a, 0, kDecommit).value, 1u);
    EXPECT_TRUE(region_is(a, kReserve, 0, a, 0x30000)) << "size 0 decommits the whole allocation";
    ASSERT_NE(va(a, 0x30000, kCommit).value, 0u);
    EXPECT_EQ(vf(a + 100, 0, kDecommit).value, 1u);
    EXPECT_TRUE(region_is(a, kReserve, 0, a, 0x30000));
}

TEST(VmRules, CommitOfTenBytesAtBasePlus100ReturnsTheBase)
{
    Reservations rs;
    uintptr_t a = reserve(rs, 0x10000);
    EXPECT_EQ(va(a + 100, 10, kCommit).value, a);
    EXPECT_TRUE(region_is(a, kCommit, kRW, a, 0x1000));
    Res r = va(a + 0x2ffe, 4, kCommit); // straddles pages 2 and 3
    EXPECT_EQ(r.value, a + 0x2000);
    EXPECT_TRUE(region_is(a + 0x2000, kCommit, kRW, a, 0x2000));
}

TEST(VmRules, ReserveInsideAnExistingReservationFails487)
{
    Reservations rs;
    uintptr_t a = reserve(rs, 0x20000);
    EXPECT_TRUE(fails_with(va(a + 0x1000, 0x1000, kReserve), E487)); // rule 4
    EXPECT_TRUE(fails_with(va(a + 0x10000, 0x10000, kReserve), E487));
    EXPECT_TRUE(fails_with(va(a, 0x1000, kReserve | kCommit), E487));
    // a reservation that would end inside a
    uintptr_t at = free_area(0x30000);
    uintptr_t c = reserve(rs, 0x20000, at + 0x10000);
    EXPECT_TRUE(fails_with(va(at, 0x20000, kReserve), E487));
    EXPECT_EQ(hq(at).state, kFree);
    EXPECT_EQ(hq(c).state, kReserve);
}

TEST(VmRules, AdjacentReservationsAtHintsSucceed)
{
    Reservations rs;
    uintptr_t at = free_area(0x30000);
    EXPECT_EQ(reserve(rs, 0x10000, at), at);
    EXPECT_EQ(reserve(rs, 0x10000, at + 0x10000), at + 0x10000);
    EXPECT_EQ(reserve(rs, 0x10000, at + 0x20000), at + 0x20000);
    EXPECT_TRUE(region_is(at + 0x10000, kReserve, 0, at + 0x10000, 0x10000));
}

// ---- rules 2-4: granularity ------------------------------------------------

TEST(VmRules, Rule2_SystemAddressesAre64KAlignedAndReusable)
{
    for (uintptr_t n : {uintptr_t(0x1000), uintptr_t(0x5000), uintptr_t(0x10000),
                        uintptr_t(0x11000)}) {
        uintptr_t a = va(0, n, kReserve).value;
        ASSERT_NE(a, 0u);
        EXPECT_EQ(a % kGranule, 0u) << n;
        EXPECT_EQ(vf(a, 0, kRelease).value, 1u);
        uintptr_t b = va(a, 0x1000, kReserve | kCommit).value;
        EXPECT_EQ(b, a) << "the released address is available again";
        EXPECT_TRUE(region_is(a, kCommit, kRW, a, 0x1000));
        release_if_reserved(b);
    }
    uintptr_t c = va(0, 0x3000, kReserve | kCommit).value;
    ASSERT_NE(c, 0u);
    EXPECT_EQ(c % kGranule, 0u);
    release_if_reserved(c);
}

TEST(VmRules, Rule3_SizesRoundUpToPages)
{
    Reservations rs;
    uintptr_t a = reserve(rs, 0xfffc);
    EXPECT_TRUE(region_is(a, kReserve, 0, a, 0x10000));
    uintptr_t b = reserve(rs, 0x1001);
    EXPECT_TRUE(region_is(b, kReserve, 0, b, 0x2000));
}

TEST(VmRules, Rule4_AReservationOwnsItsWholeGranule)
{
    Reservations rs;
    uintptr_t at = free_area(0x20000);
    uintptr_t a = reserve(rs, 0x5000, at);
    EXPECT_EQ(hq(a + 0x5000).state, kFree) << "pages past the size are not part of it";
    EXPECT_TRUE(fails_with(va(a + 0x5000, 0x1000, kReserve), E487)) << "but the granule is taken";
    EXPECT_TRUE(fails_with(va(a + 0x5000, 0x1000, kCommit), E487));
    EXPECT_EQ(reserve(rs, 0x1000, a + 0x10000), a + 0x10000) << "the next granule is free";
}

// ---- rules 7, 8: VirtualQuery -----------------------------------------------

TEST(VmRules, Rule7_QueryOfAReservedRegion)
{
    Reservations rs;
    uintptr_t a = reserve(rs, 0x30000);
    memwin_region_info i = hq(a);
    EXPECT_EQ(U(i.base), a);
    EXPECT_EQ(U(i.allocation_base), a);
    EXPECT_EQ(i.allocation_protect, kRW);
    EXPECT_EQ(i.state, kReserve);
    EXPECT_EQ(i.protect, 0u);
    EXPECT_EQ(i.region_size, 0x30000u);
    i = hq(a + 0x12345);
    EXPECT_EQ(U(i.base), a + 0x12000);
    EXPECT_EQ(U(i.allocation_base), a);
    EXPECT_EQ(i.region_size, 0x1e000u) << "from the queried page to the end of the run";

    uintptr_t b = reserve(rs, 0x10000, 0, kNoAccess);
    EXPECT_EQ(hq(b).allocation_protect, kNoAccess);
    EXPECT_EQ(hq(b).protect, 0u);
}

TEST(VmRules, Rule8_QueryAfterCommittingTheFirstPage)
{
    Reservations rs;
    uintptr_t a = reserve(rs, 0x10000, 0, kNoAccess);
    ASSERT_EQ(va(a, 0x1000, kCommit, kRW).value, a);
    memwin_region_info i = hq(a);
    EXPECT_EQ(i.state, kCommit);
    EXPECT_EQ(i.region_size, 0x1000u);
    EXPECT_EQ(i.protect, kRW);
    EXPECT_EQ(i.allocation_protect, kNoAccess) << "allocation protection unchanged";
    i = hq(a + 0x1000);
    EXPECT_EQ(i.state, kReserve);
    EXPECT_EQ(i.region_size, 0xf000u);
    EXPECT_EQ(i.protect, 0u);
    ASSERT_EQ(va(a + 0x4000, 0x2000, kCommit, kRO).value, a + 0x4000);
    EXPECT_TRUE(region_is(a + 0x1000, kReserve, 0, a, 0x3000));
    EXPECT_TRUE(region_is(a + 0x4000, kCommit, kRO, a, 0x2000));
    EXPECT_TRUE(region_is(a + 0x6000, kReserve, 0, a, 0xa000));
}

TEST(VmRules, QueryOfFreeMemoryAndOutsideTheAddressSpace)
{
    uintptr_t f = free_area(0x10000);
    memwin_region_info i = hq(f + 0x1234);
    EXPECT_EQ(i.state, kFree);
    EXPECT_EQ(U(i.base), f + 0x1000);
    EXPECT_EQ(i.allocation_base, nullptr);
    EXPECT_EQ(i.allocation_protect, 0u);
    EXPECT_EQ(i.protect, kNoAccess);
    EXPECT_GE(i.region_size, 0xf000u);

    memwin_region_info untouched;
    std::memset(&untouched, 0x5a, sizeof untouched);
    memwin_region_info copy = untouched;
    // Kernel space: 0xffff800000000000, or 0xffff0000 with a 32-bit uintptr.
    const uintptr_t kernel = sizeof(void *) == 4
                                 ? static_cast<uintptr_t>(0xFFFF0000u)
                                 : static_cast<uintptr_t>(0xffff800000000000ull);
    EXPECT_EQ(memwin_query(P(kernel), &untouched), E87);
    EXPECT_EQ(std::memcmp(&untouched, &copy, sizeof copy), 0) << "info changed on failure";
}

// The last byte of the 64-bit user address space (0x7ffffffeffff) can be
// queried, the first byte above it (0x7fffffff0000) cannot (87).  The page's
// state is not asserted: Wine keeps areas of its own near the top.
TEST(VmRules, QueryOfTheLastUserByteAndTheFirstAboveIt)
{
    if (sizeof(void *) == 4)
        GTEST_SKIP() << "64-bit address space";
    const uintptr_t last = static_cast<uintptr_t>(0x7ffffffeffffull);
    memwin_region_info i = hq(last);
    EXPECT_EQ(U(i.base), last & ~uintptr_t(0xfff));
    EXPECT_GE(i.region_size, 0x1000u);
    memwin_region_info above;
    std::memset(&above, 0, sizeof above);
    EXPECT_EQ(memwin_query(P(last + 1), &above), E87);
}

TEST(VmRules, FreeRunEndsAtTheNextReservationSmallOrLarge)
{
    // A free run reaches up to the next reservation, whatever its size; the
    // rest of a small reservation's last granule is free too.
    uintptr_t area = free_area(16 * kMiB);
    ASSERT_NE(area, 0u);
    uintptr_t small = area, mid = area + 4 * kMiB, big = area + 8 * kMiB;
    ASSERT_EQ(va(small, 0x3000, kReserve).value, small);
    ASSERT_EQ(va(mid, 0x10000, kReserve).value, mid);
    ASSERT_EQ(va(big, 2 * kMiB, kReserve).value, big);
    memwin_region_info i = hq(small + 0x5000);
    EXPECT_EQ(i.state, kFree);
    EXPECT_EQ(i.region_size, mid - (small + 0x5000));
    i = hq(small + 0x10000);
    EXPECT_EQ(i.state, kFree);
    EXPECT_EQ(i.region_size, mid - (small + 0x10000));
    i = hq(mid + 0x10000);
    EXPECT_EQ(i.state, kFree);
    EXPECT_EQ(i.region_size, big - (mid + 0x10000));
    EXPECT_TRUE(region_is(big + kMiB, kReserve, 0, big, kMiB));
    // Released, the big one no longer ends the run.
    ASSERT_EQ(vf(big, 0, kRelease).value, 1u);
    i = hq(mid + 0x10000);
    EXPECT_EQ(i.state, kFree);
    EXPECT_GE(i.region_size, big + 2 * kMiB - (mid + 0x10000));
    ASSERT_EQ(vf(mid, 0, kRelease).value, 1u);
    ASSERT_EQ(vf(small, 0, kRelease).value, 1u);
}

TEST(VmRules, CommitWithNoAccessIsCommittedButInaccessible)
{
    Reservations rs;
    uintptr_t a = rs.add(va(0, 0x10000, kReserve).value);
    ASSERT_NE(a, 0u);
    ASSERT_EQ(va(a, 0x2000, kCommit, kNoAccess).value, a);
    EXPECT_TRUE(region_is(a, kCommit, kNoAccess, a, 0x2000));
    // Recommitting read-write changes the protection of the same pages.
    ASSERT_EQ(va(a, 0x1000, kCommit, kRW).value, a);
    EXPECT_TRUE(region_is(a, kCommit, kRW, a, 0x1000));
    EXPECT_TRUE(region_is(a + 0x1000, kCommit, kNoAccess, a, 0x1000));
}

// Memory the process has mapped by other means (here: this program's own
// image) cannot be reserved again.
int image_anchor;

TEST(VmRules, ReserveOverOtherMappingsOfTheProcessFails487)
{
    uintptr_t at = U(&image_anchor) & ~(kGranule - 1);
    EXPECT_TRUE(fails_with(va(at, 0x10000, kReserve), E487));
    EXPECT_TRUE(fails_with(va(at, 0x10000, kReserve | kCommit), E487));
}

TEST(VmRules, AlignedReservePrimitiveRejectsBadArguments)
{
    // Not every host table has the one-call aligned reservation.
    if (!H()->virtual_alloc_aligned)
        GTEST_SKIP() << "host table without virtual_alloc_aligned";
    struct Case {
        uintptr_t size, align;
        uint32_t type, protect;
    } cases[] = {
        {0, 0x100000, kReserve, kRW},           // zero size
        {0x10000, 3 * 0x100000, kReserve, kRW}, // not a power of two
        {0x10000, 0x100000, 0, kRW},            // neither reserve nor commit
        {0x10000, 0x100000, kReserve, 0x12345}, // no such protection
    };
    for (const Case &c : cases) {
        H()->set_last_error(0);
        void *p = H()->virtual_alloc_aligned(c.size, c.align, c.type, c.protect);
        EXPECT_EQ(p, nullptr) << c.size << " " << c.align << " " << c.type;
        if (p)
            H()->virtual_free(p, 0, kRelease);
        EXPECT_EQ(H()->get_last_error(), E87) << c.size << " " << c.align << " " << c.type;
    }
    void *p = H()->virtual_alloc_aligned(0x10000, 0x400000, kReserve, kRW);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(U(p) % 0x400000, 0u);
    EXPECT_TRUE(region_is(U(p), kReserve, 0, U(p), 0x10000));
    EXPECT_EQ(vf(U(p), 0, kRelease).value, 1u);
    // Commit alone reserves too, as VirtualAlloc without an address does.
    p = H()->virtual_alloc_aligned(0x10000, 0x400000, kCommit, kRW);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(U(p) % 0x400000, 0u);
    EXPECT_TRUE(region_is(U(p), kCommit, kRW, U(p), 0x10000));
    EXPECT_EQ(vf(U(p), 0, kRelease).value, 1u);
}

TEST(VmRules, ReservationsFarApartAndFreeRunsBetweenThem)
{
    // 80 reservations 512 MiB apart (far enough apart for the emulation's
    // index to keep untouched stretches between them): a free run between
    // two ends at the next one, and all of it goes back when they are
    // released, in any order.  A 32-bit address space has no 40 GiB free:
    // there they are 4 MiB apart (320 MiB).
    constexpr int kN = 80;
    constexpr uintptr_t kStep = sizeof(void *) == 4 ? uintptr_t(4) << 20 : uintptr_t(512) << 20;
    uintptr_t area = free_area(kN * kStep);
    ASSERT_NE(area, 0u);
    std::vector<uintptr_t> bases;
    for (int i = 0; i < kN; i++) {
        uintptr_t want = area + uintptr_t(i) * kStep;
        Res r = va(want, 0x10000, kReserve);
        ASSERT_EQ(r.value, want) << i << " err " << r.err;
        bases.push_back(want);
    }
    for (int i = 0; i + 1 < kN; i += 7) {
        memwin_region_info f = hq(bases[size_t(i)] + 0x10000);
        EXPECT_EQ(f.state, kFree);
        EXPECT_EQ(f.region_size, kStep - 0x10000) << i;
    }
    for (int i = 0; i < kN; i += 2)
        ASSERT_EQ(vf(bases[size_t(i)], 0, kRelease).value, 1u) << i;
    for (int i = 1; i < kN; i += 2)
        EXPECT_TRUE(region_is(bases[size_t(i)], kReserve, 0, bases[size_t(i)], 0x10000)) << i;
    for (int i = kN - 1; i > 0; i -= 2)
        ASSERT_EQ(vf(bases[size_t(i)], 0, kRelease).value, 1u) << i;
    memwin_region_info f = hq(area);
    EXPECT_EQ(f.state, kFree);
    EXPECT_GE(f.region_size, kN * kStep);
    // Free memory near the top of the address space: a run to its end.
    // With a 32-bit uintptr: the last page of the 2 GiB user space (free
    // under Wine's WoW64, above the shared user data page at 0x7FFE0000).
    f = hq(sizeof(void *) == 4 ? static_cast<uintptr_t>(0x7FFEF000u)
                               : static_cast<uintptr_t>(0x7FFE00000000ull));
    EXPECT_EQ(f.state, kFree);
    EXPECT_GT(f.region_size, 0u);
}

// ---- rules 10-14: free, decommit, release -----------------------------------

TEST(VmRules, Rule10_VirtualFreeWithoutAValidTypeFails87)
{
    Reservations rs;
    uintptr_t a = reserve(rs, 0x10000);
    EXPECT_TRUE(fails_with(vf(a, 0x1000, 0), E87));
    EXPECT_TRUE(fails_with(vf(a, 0, 0x10000 /* MEM_FREE */), E87));
    EXPECT_TRUE(fails_with(vf(a, 0, kDecommit | kRelease), E87));
    EXPECT_EQ(hq(a).state, kReserve);
}

TEST(VmRules, Rule12_DecommitOfNeverCommittedPagesSucceeds)
{
    Reservations rs;
    uintptr_t a = reserve(rs, 0x10000);
    ASSERT_EQ(va(a, 0x1000, kCommit).value, a);
    EXPECT_EQ(vf(a, 0x10000, kDecommit).value, 1u);
    EXPECT_TRUE(region_is(a, kReserve, 0, a, 0x10000));
    EXPECT_EQ(vf(a + 0x4000, 0x4000, kDecommit).value, 1u) << "all reserved: still succeeds";
}

TEST(VmRules, Rule13_DecommitRangeIsWidenedToPages)
{
    Reservations rs;
    uintptr_t a = reserve(rs, 0x10000);
    ASSERT_EQ(va(a, 0x4000, kCommit).value, a);
    EXPECT_EQ(vf(a + 0x1fff, 2, kDecommit).value, 1u);
    EXPECT_TRUE(region_is(a, kCommit, kRW, a, 0x1000));
    EXPECT_TRUE(region_is(a + 0x1000, kReserve, 0, a, 0x2000));
    EXPECT_TRUE(region_is(a + 0x3000, kCommit, kRW, a, 0x1000));
}

TEST(VmRules, Rule14_SizeZeroOnlyAtTheBasePage)
{
    Reservations rs;
    uintptr_t a = reserve(rs, 0x10000);
    ASSERT_EQ(va(a, 0x10000, kCommit).value, a);
    EXPECT_TRUE(fails_with(vf(a + 0x1001, 0, kDecommit), E487));
    EXPECT_TRUE(fails_with(vf(a + 0x1001, 0, kRelease), E487));
    EXPECT_TRUE(region_is(a, kCommit, kRW, a, 0x10000));
    EXPECT_EQ(vf(a + 0xffe, 0, kDecommit).value, 1u);
    EXPECT_TRUE(region_is(a, kReserve, 0, a, 0x10000));
    EXPECT_EQ(vf(a + 0xfff, 0, kRelease).value, 1u);
    EXPECT_EQ(hq(a).state, kFree);
}

// A size other than 0 is rounded to whole pages modulo 2^64: one whose rounded
// end wraps to the start page counts as 0, for a decommit and for a release
// (Wine 8; how Go's sysUnusedOS of 2^64-1 bytes succeeds in one call, vector
// edge_unused_wrap_reserved_fatal).
TEST(VmRules, Rule14_SizeRoundingToZeroPagesMeansTheWholeReservation)
{
    Reservations rs;
    uintptr_t a = reserve(rs, 0x10000);
    ASSERT_EQ(va(a, 0x10000, kCommit).value, a);
    EXPECT_TRUE(fails_with(vf(a + 0x1000, UINTPTR_MAX, kDecommit), E487));
    EXPECT_TRUE(fails_with(vf(a + 0x1001, uintptr_t(0) - 0x1000, kDecommit), E487));
    EXPECT_TRUE(fails_with(vf(a, uintptr_t(0) - 0x1000, kDecommit), E87));
    EXPECT_TRUE(fails_with(vf(a, uintptr_t(0) - 0x1000, kRelease), E87));
    EXPECT_TRUE(region_is(a, kCommit, kRW, a, 0x10000));
    EXPECT_EQ(vf(a + 0x10, uintptr_t(0) - 0x10, kDecommit).value, 1u);
    EXPECT_TRUE(region_is(a, kReserve, 0, a, 0x10000));
    ASSERT_EQ(va(a, 0x10000, kCommit).value, a);
    EXPECT_EQ(vf(a, UINTPTR_MAX, kDecommit).value, 1u);
    EXPECT_TRUE(region_is(a, kReserve, 0, a, 0x10000));
    EXPECT_EQ(vf(a + 0x10, uintptr_t(0) - 0x10, kRelease).value, 1u);
    EXPECT_EQ(hq(a).state, kFree);
}

// ---- rules 18-22 --------------------------------------------------------------

TEST(VmRules, Rule18_CommitPastTheEndOfAReservationFails487)
{
    Reservations rs;
    uintptr_t at = free_area(0x20000);
    uintptr_t a = reserve(rs, 0x10000, at); // followed by free space
    EXPECT_TRUE(fails_with(va(a + 0xf000, 0x2000, kCommit), E487));
    uintptr_t b = reserve(rs, 0x3000, at + 0x10000); // page-sized, inside its granule
    EXPECT_TRUE(fails_with(va(b + 0x2000, 0x2000, kCommit), E487));
    EXPECT_EQ(va(b + 0x2000, 0x1000, kCommit).value, b + 0x2000);
}

TEST(VmRules, Rule19_DecommitPastTheEndOfAReservationFails87)
{
    Reservations rs;
    uintptr_t at = free_area(0x20000);
    uintptr_t a = reserve(rs, 0x10000, at);
    ASSERT_EQ(va(a, 0x10000, kCommit).value, a);
    EXPECT_TRUE(fails_with(vf(a + 0xf000, 0x2000, kDecommit), E87));
    EXPECT_TRUE(fails_with(vf(a, 0x10001, kDecommit), E87));
    EXPECT_TRUE(region_is(a, kCommit, kRW, a, 0x10000));
}

TEST(VmRules, Rule21_CommittingCommittedPagesSucceedsAndKeepsContents)
{
    Reservations rs;
    uintptr_t a = reserve(rs, 0x10000);
    ASSERT_EQ(va(a, 0x3000, kCommit).value, a);
    fill_pattern(a, 0x3000, 21);
    EXPECT_EQ(va(a, 0x3000, kCommit).value, a);
    EXPECT_TRUE(check_pattern(a, 0x3000, 21));
    EXPECT_EQ(va(a + 0x1000, 0x1000, kCommit, kRO).value, a + 0x1000) << "other protection";
    EXPECT_TRUE(region_is(a + 0x1000, kCommit, kRO, a, 0x1000));
    EXPECT_TRUE(check_pattern(a, 0x3000, 21));
    EXPECT_EQ(va(a, 0x3000, kCommit, kRW).value, a);
    EXPECT_TRUE(region_is(a, kCommit, kRW, a, 0x3000));
    EXPECT_TRUE(check_pattern(a, 0x3000, 21));
}

TEST(VmRules, Rule22_ExplicitAddressReserveRounding)
{
    Reservations rs;
    uintptr_t x = free_area(0x20000);
    Res r = va(x + 0xffff, 0x3000, kReserve);
    rs.add(r.value);
    EXPECT_EQ(r.value, x) << "base rounded down to 64 KiB";
    EXPECT_TRUE(region_is(x, kReserve, 0, x, 0x13000)) << "size covers the original range";
    Reservations rs2;
    uintptr_t y = free_area(0x10000);
    Res c = va(y + 0x1234, 0x100, kReserve | kCommit);
    rs2.add(c.value);
    EXPECT_EQ(c.value, y);
    EXPECT_TRUE(region_is(y, kCommit, kRW, y, 0x2000));
}

TEST(VmRules, LastErrorIsPerThread)
{
    // Only spinning on atomics between the two threads' calls: thread
    // creation and joining make API calls that may touch the last error.
    std::atomic<int> stage{0};
    uint32_t other = 0, other_after = 0;
    std::thread t([&] {
        uintptr_t f = free_area(0x10000); // after this thread's stack was allocated
        while (stage.load() != 1) {
        }
        H()->set_last_error(0);
        Res r = va(f, 0x1000, kCommit); // fails with 487 in this thread
        other = r.err;
        other_after = H()->get_last_error();
        stage.store(2);
        while (stage.load() != 3) {
        }
        other_after = H()->get_last_error();
    });
    H()->set_last_error(1234);
    stage.store(1);
    while (stage.load() != 2) {
    }
    uint32_t mine = H()->get_last_error();
    H()->set_last_error(5678);
    stage.store(3);
    t.join();
    EXPECT_EQ(other, E487);
    EXPECT_EQ(mine, 1234u) << "another thread's failure changed this thread's last error";
    EXPECT_EQ(other_after, E487) << "this thread's SetLastError changed the other's";
}

// ---- zero fill and faults --------------------------------------------------------

TEST(VmRules, ZeroFillAfterDecommitAndRecommit)
{
    Reservations rs;
    uintptr_t a = reserve(rs, 0x10000);
    ASSERT_EQ(va(a, 0x4000, kCommit).value, a);
    EXPECT_TRUE(all_zero(a, 0x4000)) << "fresh commit reads zero";
    std::memset(P(a), 0xab, 0x4000);
    ASSERT_EQ(vf(a + 0x1000, 0x2000, kDecommit).value, 1u);
    ASSERT_EQ(va(a + 0x1000, 0x2000, kCommit).value, a + 0x1000);
    EXPECT_TRUE(all_zero(a + 0x1000, 0x2000));
    const uint8_t *b = static_cast<const uint8_t *>(P(a));
    EXPECT_EQ(b[0], 0xab);
    EXPECT_EQ(b[0xfff], 0xab);
    EXPECT_EQ(b[0x3000], 0xab);
    EXPECT_EQ(b[0x3fff], 0xab);
    // and after release + a new reservation at the same address
    ASSERT_EQ(vf(a, 0, kRelease).value, 1u);
    ASSERT_EQ(va(a, 0x4000, kReserve | kCommit).value, a);
    EXPECT_TRUE(all_zero(a, 0x4000));
}

namespace {

#if defined(_WIN32)
// An unhandled exception would start Wine's debugger (slow, and it writes a
// crash report to the terminal); a top-level filter that lets the process
// die keeps the child's ending that of an access violation: exit status
// 0xC0000005.
LONG WINAPI die_quietly(EXCEPTION_POINTERS *)
{
    return EXCEPTION_EXECUTE_HANDLER;
}
#endif

// Child helper: reports, touches addr, reports again (never reached).
void touch(uintptr_t addr, bool write)
{
#if defined(_WIN32)
    SetUnhandledExceptionFilter(die_quietly);
#endif
    H()->write_stderr("touching\n", 9);
    volatile uint8_t *p = reinterpret_cast<volatile uint8_t *>(addr);
    if (write) {
        *p = 1;
    } else {
        volatile uint8_t sink = *p;
        (void)sink;
    }
    H()->write_stderr("survived\n", 9);
}

::testing::AssertionResult child_faults(const char *name)
{
    memwin_test::ChildResult r = child_result(name);
    bool status_ok = r.status != 0 && r.status != 97;
#if defined(_WIN32)
    status_ok = status_ok && uint32_t(r.status) == 0xC0000005u; // EXCEPTION_ACCESS_VIOLATION
#endif
    if (status_ok && r.stderr_.rfind("touching\n", 0) == 0 &&
        r.stderr_.find("survived") == std::string::npos)
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "child " << name << " exited " << r.status << " with stderr [" << r.stderr_ << "]";
}

} // namespace

MEMWIN_CHILD(vm_touch_reserved)
{
    uintptr_t a = U(H()->virtual_alloc(nullptr, 0x10000, kReserve, kRW));
    touch(a + 0x1000, false);
}

MEMWIN_CHILD(vm_touch_decommitted)
{
    uintptr_t a = U(H()->virtual_alloc(nullptr, 0x10000, kReserve | kCommit, kRW));
    std::memset(P(a), 1, 0x10000);
    H()->virtual_free(P(a + 0x4000), 0x1000, kDecommit);
    touch(a + 0x4800, true);
}

MEMWIN_CHILD(vm_write_readonly)
{
    uintptr_t a = U(H()->virtual_alloc(nullptr, 0x10000, kReserve, kRW));
    H()->virtual_alloc(P(a), 0x1000, kCommit, kRO);
    touch(a + 8, true);
}

MEMWIN_CHILD(vm_touch_committed)
{
    uintptr_t a = U(H()->virtual_alloc(nullptr, 0x10000, kReserve, kRW));
    H()->virtual_alloc(P(a), 0x1000, kCommit, kRW);
    H()->write_stderr("touching\n", 9);
    *reinterpret_cast<volatile uint8_t *>(a + 8) = 1;
}

MEMWIN_CHILD(vm_touch_noaccess_commit)
{
    uintptr_t a = U(H()->virtual_alloc(nullptr, 0x10000, kReserve, kRW));
    H()->virtual_alloc(P(a), 0x1000, kCommit, kNoAccess);
    touch(a + 8, false);
}

#if !defined(_WIN32)
// Out of address space (an address-space limit): reservations fail with
// ERROR_NOT_ENOUGH_MEMORY, the code Go reports as "out of memory".
MEMWIN_CHILD(vm_address_space_limit)
{
    struct rlimit old_rl, rl;
    getrlimit(RLIMIT_AS, &old_rl);
    rl = old_rl;
    rl.rlim_cur = rlim_t(1) << 32; // 4 GiB: far less than asked below
    H()->set_last_error(0); // thread-local storage in place before the limit
    setrlimit(RLIMIT_AS, &rl);
    void *p1 = H()->virtual_alloc(nullptr, uintptr_t(64) << 30, kReserve, kRW);
    uint32_t e1 = H()->get_last_error();
    void *p2 = H()->virtual_alloc(nullptr, uintptr_t(64) << 30, kReserve, kRW);
    uint32_t e2 = H()->get_last_error();
    // Back to the old limit before anything else maps memory (a sanitizer's
    // runtime would fail at exit otherwise).
    setrlimit(RLIMIT_AS, &old_rl);
    std::fprintf(stderr, "reserve %s %u\n", p1 ? "ok" : "failed", e1);
    std::fprintf(stderr, "again %s %u\n", p2 ? "ok" : "failed", e2);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MEMWIN_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define MEMWIN_TEST_SANITIZED 1
#endif
#endif

TEST(VmRules, ReserveBeyondTheAddressSpaceLimitFails8)
{
#if defined(MEMWIN_TEST_SANITIZED)
    GTEST_SKIP() << "an address-space limit starves the sanitizer's own runtime";
#endif
    memwin_test::ChildResult r = child_result("vm_address_space_limit");
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.stderr_, "reserve failed 8\nagain failed 8\n");
}
#endif

static const ChildPrefetch prefetch_noaccess("vm_touch_noaccess_commit",
                                             "VmRules.NoAccessCommitFaultsOnRead");
static const ChildPrefetch prefetch_reserved("vm_touch_reserved",
                                             "VmRules.ReservedPagesFaultOnAccess");
static const ChildPrefetch prefetch_decommitted("vm_touch_decommitted",
                                                "VmRules.DecommittedPagesFaultOnAccess");
static const ChildPrefetch prefetch_readonly("vm_write_readonly",
                                             "VmRules.ReadOnlyPagesFaultOnWrite");
static const ChildPrefetch prefetch_committed("vm_touch_committed",
                                              "VmRules.CommittedPagesDoNotFault");

TEST(VmRules, ReservedPagesFaultOnAccess)
{
    EXPECT_TRUE(child_faults("vm_touch_reserved"));
}

TEST(VmRules, DecommittedPagesFaultOnAccess)
{
    EXPECT_TRUE(child_faults("vm_touch_decommitted"));
}

TEST(VmRules, ReadOnlyPagesFaultOnWrite)
{
    EXPECT_TRUE(child_faults("vm_write_readonly"));
}

TEST(VmRules, NoAccessCommitFaultsOnRead)
{
    EXPECT_TRUE(child_faults("vm_touch_noaccess_commit"));
}

TEST(VmRules, CommittedPagesDoNotFault)
{
    // the control case: the same child code exits 0 when the page is committed
    memwin_test::ChildResult r = child_result("vm_touch_committed");
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.stderr_, "touching\n");
}

// ---- memwin_prim_forward (include/memwin_prim.h) ----------------------------

namespace {
// Entries told apart by identity: "t_" ones stand for a wrapper's own, "b_"
// ones for the table below.
void *t_alloc(void *, uintptr_t, uint32_t, uint32_t) { return nullptr; }
uint32_t t_query(const void *, memwin_region_info *) { return 0; }
void t_set_last_error(uint32_t) {}
void t_exit_process(int) {}
void *b_alloc(void *, uintptr_t, uint32_t, uint32_t) { return nullptr; }
int b_free(void *, uintptr_t, uint32_t) { return 0; }
uint32_t b_query(const void *, memwin_region_info *) { return 0; }
uint32_t b_get_last_error() { return 0; }
void b_set_last_error(uint32_t) {}
void b_write_stderr(const char *, size_t) {}
void b_exit_process(int) {}
void *b_alloc_aligned(uintptr_t, uintptr_t, uint32_t, uint32_t) { return nullptr; }
} // namespace

TEST(PrimTable, ForwardFillsExactlyTheNullEntries)
{
    const memwin_prim below = {b_alloc,        b_free,         b_query,        b_get_last_error,
                               b_set_last_error, b_write_stderr, b_exit_process, b_alloc_aligned};
    memwin_prim t{};
    t.virtual_alloc = t_alloc;
    t.virtual_query = t_query;
    t.set_last_error = t_set_last_error;
    t.exit_process = t_exit_process;
    EXPECT_EQ(memwin_prim_forward(&t, &below), &t);
    // Set entries stay; NULL ones take below's.
    EXPECT_TRUE(t.virtual_alloc == t_alloc);
    EXPECT_TRUE(t.virtual_free == b_free);
    EXPECT_TRUE(t.virtual_query == t_query);
    EXPECT_TRUE(t.get_last_error == b_get_last_error);
    EXPECT_TRUE(t.set_last_error == t_set_last_error);
    EXPECT_TRUE(t.write_stderr == b_write_stderr);
    EXPECT_TRUE(t.exit_process == t_exit_process);
    EXPECT_TRUE(t.virtual_alloc_aligned == b_alloc_aligned);

    // A table with every entry set is left as it is.
    memwin_prim full = below;
    full.virtual_alloc = t_alloc;
    EXPECT_EQ(memwin_prim_forward(&full, H()), &full);
    EXPECT_TRUE(full.virtual_alloc == t_alloc && full.virtual_free == b_free &&
                full.virtual_query == b_query && full.get_last_error == b_get_last_error &&
                full.set_last_error == b_set_last_error && full.write_stderr == b_write_stderr &&
                full.exit_process == b_exit_process && full.virtual_alloc_aligned == b_alloc_aligned);
    // An entry NULL in both stays NULL.
    memwin_prim none{}, empty_below{};
    EXPECT_EQ(memwin_prim_forward(&none, &empty_below), &none);
    EXPECT_TRUE(none.virtual_alloc == nullptr && none.virtual_free == nullptr &&
                none.virtual_query == nullptr && none.get_last_error == nullptr &&
                none.set_last_error == nullptr && none.write_stderr == nullptr &&
                none.exit_process == nullptr && none.virtual_alloc_aligned == nullptr);
}
