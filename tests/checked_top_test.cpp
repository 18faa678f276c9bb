// Checked mode's tracker with a reservation that ends exactly at the top of
// the address space (2^64 or 2^32), where base + size is 0.  No real OS hands
// those pages out, so a primitive table that only answers places the
// reservations there; no page is touched.  Every call below must be judged by
// the pages' states as anywhere else (before the tracker walked ranges by
// their end address, sysUnreserve of such a reservation with a Ready page was
// accepted, its last page could not be mapped, and a stale record there
// outlived a new reservation over it).
#include "test_util.h"

#include <cstdio>
#include <string>

using namespace mwt;

namespace {

uintptr_t Top(uintptr_t n)
{
    return uintptr_t(0) - n;
}

// Reservations with no hint go to the top; every other call succeeds at the
// address asked and does nothing.
void *TopAlloc(void *addr, uintptr_t size, uint32_t, uint32_t)
{
    return addr ? addr : P(Top(size));
}
int TopFree(void *, uintptr_t, uint32_t)
{
    return 1;
}

class TopPrim {
public:
    TopPrim()
    {
        table_ = memwin_prim{};
        table_.virtual_alloc = TopAlloc;
        table_.virtual_free = TopFree;
        memwin_prim_forward(&table_, memwin_prim_host())->virtual_alloc_aligned = nullptr;
        prev_ = memwin_prim_set(&table_);
    }
    TopPrim(const TopPrim &) = delete;
    TopPrim &operator=(const TopPrim &) = delete;
    ~TopPrim()
    {
        memwin_prim_set(prev_);
    }

private:
    memwin_prim table_;
    const memwin_prim *prev_;
};

std::string Hex(uintptr_t a)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)a);
    return buf;
}

std::string Last()
{
    return memwin_last_error_message();
}

} // namespace

TEST(CheckedTop, ReservationEndingAtTheTopIsJudgedByItsPages)
{
    MappedReadyGuard guard;
    ModeScope mode(MEMWIN_MODE_RECOVERABLE);
    TopPrim top;
    sysMemStat stat = 0;
    char *p = static_cast<char *>(sysReserve(nullptr, kGranule));
    ASSERT_EQ(U(p), Top(kGranule)) << Last();

    // Reserved -> Prepared for every page, the last one included.
    sysMap(p, kGranule, &stat);
    EXPECT_EQ(memwin_last_error(), 0u) << Last();
    EXPECT_EQ(memwin_stat_load(&stat), uint64_t(kGranule));
    // Prepared -> Ready for the first page; hints anywhere in it.
    sysUsed(p, kPage, kPage);
    EXPECT_EQ(memwin_last_error(), 0u) << Last();
    sysHugePageOS(p + kGranule - kPage, kPage);
    EXPECT_EQ(memwin_last_error(), 0u) << Last();

    // Reserved -> None only: page 0 is Ready.
    sysUnreserve(p, kGranule);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_STATE)) << Last();
    EXPECT_EQ(Last(), "runtime: sysUnreserve(" + Hex(U(p)) + ", 65536): page " + Hex(U(p)) +
                          " is Ready; the call needs Reserved\n"
                          "fatal error: memwin: illegal state transition");
    // Ready -> None only: page 1 is Prepared.
    sysFree(p, kGranule, &stat);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_STATE)) << Last();
    EXPECT_EQ(Last(), "runtime: sysFree(" + Hex(U(p)) + ", 65536): page " + Hex(U(p) + kPage) +
                          " is Prepared; the call needs Ready\n"
                          "fatal error: memwin: illegal state transition");
    EXPECT_EQ(memwin_stat_load(&stat), uint64_t(kGranule)) << "a refused call changed the stat";

    // The last page: Prepared -> Ready -> Prepared -> Ready.
    sysUsed(p + kGranule - kPage, kPage, kPage);
    EXPECT_EQ(memwin_last_error(), 0u) << Last();
    sysUnused(p + kGranule - kPage, kPage);
    EXPECT_EQ(memwin_last_error(), 0u) << Last();
    sysUnused(p + kGranule - kPage, kPage);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_STATE)) << Last();
    EXPECT_EQ(Last(), "runtime: sysUnused(" + Hex(U(p) + kGranule - kPage) + ", 4096): page " +
                          Hex(U(p) + kGranule - kPage) +
                          " is Prepared; the call needs Ready\n"
                          "fatal error: memwin: illegal state transition");

    // Past the top is still refused.
    sysMapOS(p + kPage, kGranule);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_OVERFLOW)) << Last();

    // All Ready: the release is legal, and takes the bytes out of the stat.
    sysUsed(p, kGranule, kGranule);
    EXPECT_EQ(memwin_last_error(), 0u) << Last();
    sysFree(p, kGranule, &stat);
    EXPECT_EQ(memwin_last_error(), 0u) << Last();
    EXPECT_EQ(memwin_stat_load(&stat), 0u);
    sysMapOS(p, kPage);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_NOT_MANAGED)) << Last();
}

// A record of memory released behind memwin's back, ending at the top, is
// dropped when a new reservation covers it: its Ready pages are the new
// reservation's Reserved ones.
TEST(CheckedTop, StaleRecordAtTheTopIsDroppedByANewReservation)
{
    MappedReadyGuard guard;
    ModeScope mode(MEMWIN_MODE_RECOVERABLE);
    TopPrim top;
    sysMemStat stat = 0;
    char *old = static_cast<char *>(sysReserve(nullptr, kGranule));
    ASSERT_EQ(U(old), Top(kGranule)) << Last();
    sysMap(old, kGranule, &stat);
    sysUsed(old, kGranule, kGranule);
    ASSERT_EQ(memwin_last_error(), 0u) << Last();
    memwin_stat_add(&stat, -int64_t(kGranule)); // released by the table itself below
    memwin_prim_current()->virtual_free(old, 0, MEMWIN_MEM_RELEASE);

    char *p = static_cast<char *>(sysReserve(nullptr, 2 * kGranule));
    ASSERT_EQ(U(p), Top(2 * kGranule)) << Last();
    sysUsedOS(old, kPage);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_STATE)) << Last();
    EXPECT_EQ(Last(), "runtime: sysUsedOS(" + Hex(U(old)) + ", 4096): page " + Hex(U(old)) +
                          " is Reserved; the call needs Prepared or Ready\n"
                          "fatal error: memwin: illegal state transition");
    sysUnreserve(p, 2 * kGranule);
    EXPECT_EQ(memwin_last_error(), 0u) << Last();
    sysMapOS(old, kPage);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_NOT_MANAGED)) << Last();
}
