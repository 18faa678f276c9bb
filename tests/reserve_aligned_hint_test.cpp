// memwin_reserve_aligned with a hint that is a multiple of 4096 but not of
// align (memwin.h): not an error.  With align <= 64 KiB the hint goes to
// sysReserveOS (the reservation starts at the 64 KiB boundary at or below
// it); with a larger align it is ignored.  A hint off the 4096 grid: NULL.
#include "test_util.h"

using namespace mwt;

namespace {

constexpr uintptr_t kHintMiB = 1024 * 1024;

bool aligned_to(const void *p, uintptr_t align)
{
    return p && (U(p) & (align - 1)) == 0;
}

} // namespace

TEST(ReserveAlignedHint, PageAlignedHintBelowGranuleAlignIsRoundedDown)
{
    uintptr_t area = free_area(kGranule, kGranule);
    ASSERT_NE(area, 0u);
    uintptr_t reserved = 0;
    void *p = memwin_reserve_aligned(P(area + 4096), kGranule, kGranule, &reserved);
    EXPECT_EQ(U(p), area);
    EXPECT_EQ(reserved, kGranule);
    if (p)
        sysFreeOS(p, reserved);
}

TEST(ReserveAlignedHint, PageAlignedHintOffLargeAlignIsIgnored)
{
    uintptr_t area = free_area(2 * kHintMiB, kHintMiB);
    ASSERT_NE(area, 0u);
    for (uintptr_t off : {uintptr_t(4096), kGranule}) {
        uintptr_t reserved = 0;
        void *p = memwin_reserve_aligned(P(area + off), kHintMiB, kHintMiB, &reserved);
        EXPECT_TRUE(aligned_to(p, kHintMiB)) << p << " hint +" << off;
        EXPECT_EQ(reserved, kHintMiB);
        if (p)
            sysFreeOS(p, reserved);
    }
}

TEST(ReserveAlignedHint, HintOffThePageGridIsRefused)
{
    uintptr_t area = free_area(kHintMiB, kHintMiB);
    ASSERT_NE(area, 0u);
    uintptr_t reserved = 7;
    EXPECT_EQ(memwin_reserve_aligned(P(area + 100), kHintMiB, kHintMiB, &reserved), nullptr);
    EXPECT_EQ(reserved, 0u);
}
