// Windows' rules at two edges of the user address space, as the Linux
// emulation (src/emu/prim_linux.c) keeps them, through Go's own calls
// (sysReserveOS, sysUsedOS, sysUnusedOS, sysFreeOS):
// - a reservation whose base is smaller than its size, at 0x10000: page
//   numbers are offsets from the base, and only offsets of at least the
//   base tell "address - base" from "address % base";
// - the last 64 KiB granule, 0x7ffffffe0000, whose last page ends at the
//   top of the user address space (0x7fffffff0000).
// The conformance scenarios cannot hold these: under Wine 8 the Go
// harnesses of 1.21 to 1.27 (amd64) refused every hint tried from 0x10000
// to 0x38000000 and from 0x7ffffff00000 up, so no golden records what Go
// does there.  Each case runs in a fresh process (child_check.h): where Go
// would throw, the child ends instead of the test program.  Linux only.
#if !defined(_WIN32)

#include <cstdint>
#include <cstdio>
#include <cstring>

#include <sys/mman.h>

#include "child_check.h"
#include "test_util.h"

using namespace mwt;

namespace {

constexpr uintptr_t kLow = 0x10000;          // the lowest granule Linux maps
constexpr uintptr_t kTop = 0x7ffffffe0000ull; // the last granule below 0x7fffffff0000

// sysReserveOS at want, or "skip: ..." and false when the process has
// something there (a sanitizer's shadow, a non-PIE program).  When the
// host can map the whole range itself, the emulation had no reason to
// refuse it: the child fails instead of skipping.
bool reserve_exactly(uintptr_t want, uintptr_t n)
{
    void *p = sysReserveOS(P(want), n);
    if (U(p) == want)
        return true;
    if (p)
        sysFreeOS(p, n);
    void *h = mmap(P(want), n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (h != MAP_FAILED) {
        munmap(h, n);
        CHILD_CHECK(holds(U(h) != want, "sysReserveOS did not reserve a range the host has free"));
    }
    std::fprintf(stderr, "skip: address %#zx is not free in this process", size_t(want));
    return false;
}

} // namespace

// A 256 KiB reservation at 64 KiB: commits and decommits at offsets past its
// base land on the right pages and are recorded for them; a page filled,
// decommitted and committed again reads zero; a decommit that passes the
// reservation's end by a page fails and changes nothing.
MEMWIN_CHILD(emu_edges_low_base)
{
    exact_mode();
    const uintptr_t a = kLow, n = 4 * kGranule;
    if (!reserve_exactly(a, n))
        return;
    sysUsedOS(P(a + 2 * kGranule), kGranule);
    CHILD_CHECK(region_is(a, MEMWIN_MEM_RESERVE, 0, a, 2 * kGranule));
    CHILD_CHECK(region_is(a + 2 * kGranule, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE, a, kGranule));
    CHILD_CHECK(region_is(a + 3 * kGranule, MEMWIN_MEM_RESERVE, 0, a, kGranule));
    // The whole of it: a commit longer than its own address.
    sysUsedOS(P(a), n);
    CHILD_CHECK(region_is(a, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE, a, n));
    std::memset(P(a + 3 * kGranule), 0x5a, kPage);
    // Decommit of three granules from the second: longer than the address.
    sysUnusedOS(P(a + kGranule), 3 * kGranule);
    CHILD_CHECK(region_is(a, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE, a, kGranule));
    CHILD_CHECK(region_is(a + kGranule, MEMWIN_MEM_RESERVE, 0, a, 3 * kGranule));
    sysUsedOS(P(a + 3 * kGranule), kPage);
    CHILD_CHECK(region_is(a + 3 * kGranule, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE, a, kPage));
    CHILD_CHECK(holds(all_zero(a + 3 * kGranule, kPage), "the page committed again does not read zero"));
    // Past the end: the primitive refuses, the pages stay as they were.
    const memwin_prim *h = memwin_prim_host();
    CHILD_CHECK(holds(!h->virtual_free(P(a + 3 * kGranule), kGranule + kPage, MEMWIN_MEM_DECOMMIT),
                      "a decommit past the reservation's end succeeded"));
    CHILD_CHECK(region_is(a + 3 * kGranule, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE, a, kPage));
    sysFreeOS(P(a), n);
    CHILD_CHECK(holds(state_of(a) == MEMWIN_MEM_FREE, "released reservation not free"));
}

TEST(EmuEdges, ReservationLargerThanItsBase)
{
    run_emu_child("emu_edges_low_base");
}

// Two adjacent reservations, the first at 64 KiB and larger than its base:
// a commit over both is refused by the OS, and Go's halving loop commits the
// part in each; a reservation anywhere bigger than the first one's address
// is not refused for it.
MEMWIN_CHILD(emu_edges_low_two)
{
    exact_mode();
    const uintptr_t a = kLow, b = kLow + 4 * kGranule;
    if (!reserve_exactly(a, 4 * kGranule))
        return;
    if (!reserve_exactly(b, kGranule))
        return;
    sysUsedOS(P(a + 3 * kGranule), 2 * kGranule);
    CHILD_CHECK(region_is(a + 3 * kGranule, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE, a, kGranule));
    CHILD_CHECK(region_is(b, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE, b, kGranule));
    void *c = sysReserveOS(nullptr, kMiB);
    CHILD_CHECK(holds(c != nullptr, "a reservation anywhere was refused"));
    sysFreeOS(c, kMiB);
    sysFreeOS(P(b), kGranule);
    sysFreeOS(P(a), 4 * kGranule);
}

TEST(EmuEdges, CommitOverTwoLowReservations)
{
    run_emu_child("emu_edges_low_two");
}

// The last granule: a commit of its last page, which ends at the top of the
// user address space, and of all of it; a decommit of its upper half.
MEMWIN_CHILD(emu_edges_top)
{
    exact_mode();
    if (!reserve_exactly(kTop, kGranule))
        return;
    sysUsedOS(P(kTop + kGranule - kPage), kPage);
    CHILD_CHECK(region_is(kTop + kGranule - kPage, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE, kTop, kPage));
    sysUsedOS(P(kTop), kGranule);
    CHILD_CHECK(region_is(kTop, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE, kTop, kGranule));
    sysUnusedOS(P(kTop + kGranule / 2), kGranule / 2);
    CHILD_CHECK(region_is(kTop + kGranule / 2, MEMWIN_MEM_RESERVE, 0, kTop, kGranule / 2));
    sysFreeOS(P(kTop), kGranule);
}

TEST(EmuEdges, LastGranule)
{
    run_emu_child("emu_edges_top");
}

#endif // !_WIN32
