// The Linux emulation's lookup structures (src/emu/prim_linux.c): the 64 KiB
// granule index with its 256 MiB leaves and the bitmaps of leaves (one bit
// per leaf, one summary bit per 16 GiB word of them), the tree of
// reservations of 1 MiB or more, and the caches of spare records and leaves.
// They must answer every question the Windows model asks exactly whatever
// the layout: who owns a granule (a commit inside a reservation, a hint
// refused where a reservation owns a granule), and where the next
// reservation starts (VirtualQuery of free address space reports the free
// run up to it).  A model kept by the test is compared with every answer.
// Linux only: on Windows these are the kernel's own properties.
#if !defined(_WIN32)

#include <malloc.h>
#include <sys/mman.h>

#include <cstdio>
#include <iterator>
#include <map>
#include <string>
#include <random>
#include <vector>

#include "child_check.h"
#include "host_maps.h"
#include "test_util.h"

using namespace mwt;

// The sanitizers replace malloc (mallinfo2 then says nothing of it).
#if defined(__SANITIZE_ADDRESS__)
#define MW_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MW_ASAN 1
#endif
#endif

namespace {

constexpr uintptr_t kGiB = 1024 * kMiB;
constexpr uintptr_t kLeaf = 256 * kMiB;   // granules of one index leaf
constexpr uintptr_t kWord = 64 * kLeaf;    // leaves of one word of leaf bits: 16 GiB
constexpr uint32_t kInvalidAddress = 487;  // ERROR_INVALID_ADDRESS
constexpr uint32_t kInvalidParameter = 87; // ERROR_INVALID_PARAMETER

uintptr_t round_up(uintptr_t n, uintptr_t to)
{
    return (n + to - 1) & ~(to - 1);
}

// The reservations the test made in its window, by base: size (a page
// multiple) and whether all its pages are committed read-write.
struct Model {
    struct Resv {
        uintptr_t size;
        bool committed;
        uintptr_t span() const
        {
            return round_up(size, kGranule);
        }
    };
    std::map<uintptr_t, Resv> live;
    uintptr_t lo = 0, hi = 0; // the window

    // True if a live reservation owns a granule of [base, base+span).
    bool overlaps(uintptr_t base, uintptr_t span) const
    {
        auto it = live.lower_bound(base + span);
        if (it == live.begin())
            return false;
        --it;
        return it->first + it->second.span() > base;
    }
    // The live reservation whose pages hold a, or end().
    std::map<uintptr_t, Resv>::const_iterator holder(uintptr_t a) const
    {
        auto it = live.upper_bound(a);
        if (it == live.begin())
            return live.end();
        --it;
        return a - it->first < it->second.size ? it : live.end();
    }
    // The first base above a (granule-aligned), or 0.
    uintptr_t next_base(uintptr_t a) const
    {
        auto it = live.upper_bound(a);
        return it == live.end() ? 0 : it->first;
    }
};

// Checks VirtualQuery at a against the model: the page's state, its
// reservation, and the run: to the end of the reservation for uniform pages,
// to the next reservation's base for free address space (to the window's
// end at least when none follows in the window).
::testing::AssertionResult query_matches(const Model &m, uintptr_t a)
{
    const uintptr_t page = a & ~(kPage - 1);
    memwin_region_info i{};
    if (host()->virtual_query(P(a), &i) != 0)
        return ::testing::AssertionFailure() << "query failed at " << std::hex << a;
    auto h = m.holder(page);
    if (h != m.live.end()) {
        const uintptr_t end = h->first + h->second.size;
        const uint32_t st = h->second.committed ? MEMWIN_MEM_COMMIT : MEMWIN_MEM_RESERVE;
        if (i.state != st || U(i.allocation_base) != h->first || U(i.base) != page ||
            i.region_size != end - page)
            return ::testing::AssertionFailure()
                   << std::hex << "at " << a << " (reservation " << h->first << "+" << h->second.size
                   << "): state " << i.state << " base " << U(i.allocation_base) << " size "
                   << i.region_size << ", want state " << st << " size " << end - page;
        return ::testing::AssertionSuccess();
    }
    const uintptr_t next = m.next_base(page);
    bool ok = i.state == MEMWIN_MEM_FREE && i.allocation_base == nullptr && U(i.base) == page;
    if (next && next < m.hi)
        ok = ok && i.region_size == next - page;
    else
        ok = ok && page + i.region_size >= m.hi;
    if (!ok)
        return ::testing::AssertionFailure()
               << std::hex << "at " << a << " (free, next base " << next << ", window end " << m.hi
               << "): state " << i.state << " base " << U(i.allocation_base) << " size "
               << i.region_size;
    return ::testing::AssertionSuccess();
}

// Walks the window run by run as VirtualQuery reports it (as Go's and the
// vectors' observers do) and checks each run and a page inside it.
::testing::AssertionResult window_matches(const Model &m, std::mt19937_64 &rng)
{
    for (uintptr_t a = m.lo; a < m.hi;) {
        ::testing::AssertionResult r = query_matches(m, a);
        if (!r)
            return r;
        memwin_region_info i{};
        host()->virtual_query(P(a), &i);
        uintptr_t end = a + i.region_size;
        if (end > m.hi)
            end = m.hi;
        const uintptr_t pages = (end - a) / kPage;
        r = query_matches(m, a + (rng() % pages) * kPage);
        if (!r)
            return r;
        r = query_matches(m, end - kPage);
        if (!r)
            return r;
        a = end;
    }
    return ::testing::AssertionSuccess();
}

// Reserves [a, a+n) by hint and checks the answer against the model: the
// hint honoured exactly when no live reservation owns a granule of its span,
// else refused with ERROR_INVALID_ADDRESS.
::testing::AssertionResult reserve_at(Model &m, uintptr_t a, uintptr_t n, bool commit)
{
    const uintptr_t base = a & ~(kGranule - 1), size = round_up(a + n, kPage) - base;
    const bool want = !m.overlaps(base, round_up(size, kGranule));
    host()->set_last_error(0);
    void *p = host()->virtual_alloc(P(a), n, commit ? MEMWIN_MEM_RESERVE | MEMWIN_MEM_COMMIT
                                                    : MEMWIN_MEM_RESERVE,
                                    MEMWIN_PAGE_READWRITE);
    const uint32_t err = host()->get_last_error();
    if (p)
        m.live[U(p)] = {size, commit};
    if (want && U(p) != base)
        return ::testing::AssertionFailure() << std::hex << "reserve " << a << "+" << n
                                             << " refused (error " << std::dec << err << ")";
    if (!want && (p != nullptr || err != kInvalidAddress))
        return ::testing::AssertionFailure()
               << std::hex << "reserve " << a << "+" << n << " over a live reservation: got "
               << U(p) << ", error " << std::dec << err;
    return ::testing::AssertionSuccess();
}

::testing::AssertionResult release(Model &m, uintptr_t base)
{
    m.live.erase(base);
    if (!host()->virtual_free(P(base), 0, MEMWIN_MEM_RELEASE))
        return ::testing::AssertionFailure() << std::hex << "release of " << base << " failed";
    return ::testing::AssertionSuccess();
}

// Commits inside reservations succeed and are seen; a commit that starts in
// free address space (a free granule, the unreserved tail of an owned one)
// or runs past its reservation's end is refused with ERROR_INVALID_ADDRESS,
// a decommit there with ERROR_INVALID_PARAMETER.
::testing::AssertionResult commit_checks(Model &m, uintptr_t a, uintptr_t n)
{
    const uintptr_t page = a & ~(kPage - 1), end = round_up(a + n, kPage);
    auto h = m.holder(page);
    const bool inside = h != m.live.end() && end - h->first <= h->second.size;
    host()->set_last_error(0);
    void *p = host()->virtual_alloc(P(a), n, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE);
    uint32_t err = host()->get_last_error();
    if (inside != (p != nullptr) || (!inside && err != kInvalidAddress))
        return ::testing::AssertionFailure()
               << std::hex << "commit " << a << "+" << n << ": got " << U(p) << " error " << std::dec
               << err << ", inside=" << inside;
    if (!inside) {
        host()->set_last_error(0);
        int ok = host()->virtual_free(P(a), n, MEMWIN_MEM_DECOMMIT);
        err = host()->get_last_error();
        if (ok || err != kInvalidParameter)
            return ::testing::AssertionFailure()
                   << std::hex << "decommit " << a << "+" << n << " outside: got " << ok
                   << " error " << std::dec << err;
        return ::testing::AssertionSuccess();
    }
    // Back to one state: the whole reservation committed.
    Model::Resv &r = m.live[h->first];
    if (!host()->virtual_alloc(P(h->first), r.size, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE))
        return ::testing::AssertionFailure() << "commit of a whole reservation failed";
    r.committed = true;
    return ::testing::AssertionSuccess();
}

// The offsets in a window of nwords 16 GiB words where the index changes:
// the edges of leaves and of words of leaf bits, and a few inside.
std::vector<uintptr_t> edges(uintptr_t nwords)
{
    std::vector<uintptr_t> out;
    for (uintptr_t w = 0; w < nwords; w++) {
        for (uintptr_t l : {uintptr_t(0), uintptr_t(1), uintptr_t(2), uintptr_t(31), uintptr_t(62),
                            uintptr_t(63)}) {
            const uintptr_t leaf = w * kWord + l * kLeaf;
            for (uintptr_t off : {uintptr_t(0), kGranule, 2 * kGranule, kLeaf / 2, kLeaf - 2 * kGranule,
                                  kLeaf - kGranule})
                out.push_back(leaf + off);
        }
    }
    return out;
}

// These tests run in a fresh process (MEMWIN_CHILD, child_check.h): their
// windows of tens of GiB, released, would otherwise stay in the emulation's
// zone as holes and change where later tests' reservations go.

} // namespace

// A fixed layout across four 16 GiB words of leaf bits, then the free
// address space between reservations queried from every kind of place: a
// free granule before a reservation in the next leaf, the next word, a word
// further; the unreserved tail of a reservation's last granule; a leaf
// whose only neighbour is a big reservation.  Each answer is checked against
// the model, and so are hints at the granules around each reservation.
MEMWIN_CHILD(emu_index_fixed_layout)
{
    exact_mode();
    constexpr uintptr_t kWords = 4;
    Model m;
    m.lo = free_area(kWords * kWord, kWord);
    CHILD_CHECK(holds(m.lo != 0, "no free window"));
    m.hi = m.lo + kWords * kWord;
    std::mt19937_64 rng(1);
    const uintptr_t W = m.lo;
    struct Step {
        uintptr_t off, n;
    };
    // Word 0: a small reservation at a leaf's start followed at once by a
    // big one; a lone small one at the last granule of a leaf.  Word 1:
    // nothing in its first 62 leaves, a big one at the start of leaf 62.
    // Word 2: a small one at leaf 1's middle.  Word 3: a small one in its
    // last granule (the window's end).
    const Step layout[] = {
        {3 * kLeaf, 4 * kPage},             {3 * kLeaf + kGranule, kMiB},
        {10 * kLeaf - kGranule, 3 * kPage}, {kWord + 62 * kLeaf, 2 * kMiB + kPage},
        {2 * kWord + kLeaf + kLeaf / 2, 17 * kPage}, {4 * kWord - kGranule, kPage},
        {20 * kLeaf, 512 * kKiB},           {20 * kLeaf + 512 * kKiB, kMiB - kGranule},
    };
    for (const Step &s : layout)
        CHILD_CHECK(reserve_at(m, W + s.off, s.n, false));
    CHILD_CHECK(window_matches(m, rng));
    // Hints at the granules just around and inside every reservation.
    const std::map<uintptr_t, Model::Resv> snapshot = m.live;
    for (const auto &r : snapshot) {
        for (uintptr_t a : {r.first - kGranule, r.first, r.first + r.second.size - kPage,
                            r.first + r.second.span(), r.first + r.second.size}) {
            if (a < m.lo || a + kGranule > m.hi)
                continue;
            CHILD_CHECK(reserve_at(m, a, kGranule, false));
            if (m.live.count(a) && !snapshot.count(a)) {
                CHILD_CHECK(window_matches(m, rng));
                CHILD_CHECK(release(m, a));
            }
        }
        CHILD_CHECK(commit_checks(m, r.first + r.second.size - kPage, 2 * kPage));
        CHILD_CHECK(commit_checks(m, r.first + r.second.size, kPage));
        CHILD_CHECK(commit_checks(m, r.first, kPage));
    }
    CHILD_CHECK(window_matches(m, rng));
    // Released one by one, lowest first: the window is checked each time.
    while (!m.live.empty()) {
        CHILD_CHECK(release(m, m.live.begin()->first));
        CHILD_CHECK(window_matches(m, rng));
    }
}

TEST(EmuIndex, FixedLayoutAcrossLeavesAndWords)
{
    run_emu_child("emu_index_fixed_layout");
}

// Random reservations of mixed sizes (small ones through the index, 1 MiB
// and more through the tree, some spanning leaves and words) at hints on
// the index's edges and at random granules of a 64 GiB window, released in
// random order and hinted at again: every hint honoured or refused as the
// model says, every commit inside or outside a reservation answered as the
// model says, and the whole window read back run by run after each step.
MEMWIN_CHILD(emu_index_random_layouts)
{
    exact_mode();
    constexpr uintptr_t kWords = 4;
    Model m;
    m.lo = free_area(kWords * kWord, kWord);
    CHILD_CHECK(holds(m.lo != 0, "no free window"));
    m.hi = m.lo + kWords * kWord;
    const std::vector<uintptr_t> at = edges(kWords);
    std::mt19937_64 rng(18);
    for (int step = 0; step < 700; step++) {
        const unsigned what = unsigned(rng() % 10);
        if (what < 5 || m.live.empty()) {
            uintptr_t a = m.lo + (rng() % 3 ? at[rng() % at.size()]
                                           : (rng() % (kWords * kWord / kGranule)) * kGranule);
            uintptr_t n;
            switch (rng() % 6) {
            case 0:
                n = kPage * (1 + rng() % 16);
                break;
            case 1:
                n = kGranule * (1 + rng() % 15) + kPage * (rng() % 16);
                break;
            case 2:
                n = kMiB - kPage * (rng() % 2);
                break;
            case 3:
                n = kMiB + kPage * (rng() % 512);
                break;
            case 4:
                n = kLeaf + kGranule * (rng() % 3);
                break;
            default:
                n = (rng() % 2 ? kWord : 3 * kGiB) + kPage;
                break;
            }
            if (rng() % 4 == 0)
                a += kPage * (rng() % 16); // a hint inside the granule
            if (a + n > m.hi)
                continue;
            CHILD_CHECK_AT(reserve_at(m, a, n, rng() % 3 == 0), "step " + std::to_string(step));
        } else if (what < 8) {
            auto it = std::next(m.live.begin(), long(rng() % m.live.size()));
            CHILD_CHECK_AT(release(m, it->first), "step " + std::to_string(step));
        } else {
            auto it = std::next(m.live.begin(), long(rng() % m.live.size()));
            const uintptr_t b = it->first, sz = it->second.size;
            const uintptr_t a = rng() % 2 ? b + sz - kPage : b + round_up(sz, kGranule) - kPage;
            CHILD_CHECK_AT(commit_checks(m, a, kPage * (1 + rng() % 2)), "step " + std::to_string(step));
        }
        CHILD_CHECK_AT(window_matches(m, rng), "step " + std::to_string(step));
    }
    while (!m.live.empty())
        CHILD_CHECK(release(m, m.live.begin()->first));
    CHILD_CHECK(window_matches(m, rng));
}

TEST(EmuIndex, RandomLayoutsMatchAModel)
{
    run_emu_child("emu_index_random_layouts");
}

// Reservations low in the address space, where the index's first leaves
// are (leaf 0 covers the first 256 MiB) and where a big reservation's
// base is small next to the addresses above it: a free run below, between
// and above them ends at the next one, a query at twice a big
// reservation's base is free, hints next to them are honoured and hints
// over one in leaf 0 are refused.  Skipped
// if the process maps anything there (a non-PIE program, a sanitizer's
// shadow).
MEMWIN_CHILD(emu_index_low_addresses)
{
    exact_mode();
    const memwin_prim *h = host();
    Model m;
    m.lo = 16 * kMiB;
    m.hi = 4 * kGiB;
    Reservations guard;
    // T in leaf 1, U in leaf 2, B (big) at 1 GiB; then S in leaf 0.
    const uintptr_t want[][2] = {{kLeaf + kGranule, kPage},
                                 {2 * kLeaf + kGranule, 3 * kPage},
                                 {kGiB, kMiB},
                                 {32 * kMiB, 2 * kPage}};
    for (const auto &w : want) {
        if (w[0] == 32 * kMiB) // leaf 0 has no reservation yet
            for (uintptr_t a : {m.lo, 48 * kMiB, kLeaf - kPage})
                CHILD_CHECK(query_matches(m, a));
        void *p = h->virtual_alloc(P(w[0]), w[1], MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
        if (U(p) != w[0]) {
            if (p)
                h->virtual_free(p, 0, MEMWIN_MEM_RELEASE);
            std::fprintf(stderr, "skip: address %#zx is not free in this process", size_t(w[0]));
            return;
        }
        guard.add(p);
        m.live[w[0]] = {w[1], false};
    }
    for (uintptr_t a : {m.lo, 48 * kMiB, 32 * kMiB + 2 * kPage, kLeaf + kGranule + kPage,
                        2 * kLeaf + kGranule + 3 * kPage, 3 * kLeaf, kGiB + kMiB, 2 * kGiB,
                        2 * kGiB + kPage})
        CHILD_CHECK(query_matches(m, a));
    // Hints in leaf 0 next to S, and at B's end.
    for (uintptr_t a : {32 * kMiB + kGranule, 16 * kMiB, kGiB + kMiB}) {
        CHILD_CHECK(reserve_at(m, a, kGranule, false));
        guard.add(a);
        CHILD_CHECK(query_matches(m, m.lo));
        CHILD_CHECK(query_matches(m, a + kGranule));
        CHILD_CHECK(release(m, a));
    }
    // Hints over S, from its granule and from the one below it: refused
    // (leaf 0's first granule is 0, so a range's place in it is its
    // address).
    for (uintptr_t a : {32 * kMiB, 32 * kMiB - kGranule})
        CHILD_CHECK(reserve_at(m, a, 2 * kGranule, false));
    CHILD_CHECK(query_matches(m, 32 * kMiB));
}

TEST(EmuIndex, LowAddressesInTheFirstLeaves)
{
    run_emu_child("emu_index_low_addresses");
}

// ---- overlap: a released range with a reservation inside -----------------

// Released address space of the emulation's zone is handed out again once it
// leaves the quarantine of the last 64 releases, except where a reservation
// made meanwhile owns part of it: the overlap test that decides this must
// see a big reservation (found through the tree) and a small one (through
// the index).  In a fresh process: X released, Y reserved at X+2M, 64
// releases push X out of the quarantine; then a reservation that no free
// part of X fits and one that fits the part above Y exactly, which gets it.
// With Y unseen, X would become one hole over Y: the first reservation
// would be tried over Y, fail, and drop the hole, and the second would go
// elsewhere.
void overlap_case(uintptr_t xsize, uintptr_t ysize)
{
    exact_mode();
    const memwin_prim *h = host();
    auto anywhere = [&](uintptr_t n) {
        void *p = h->virtual_alloc(nullptr, n, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
        CHILD_CHECK(holds(p != nullptr, "reserve anywhere"));
        return U(p);
    };
    const uintptr_t warm = anywhere(kMiB); // places the zone; kept
    const uintptr_t x = anywhere(xsize);
    CHILD_CHECK(holds(h->virtual_free(P(x), 0, MEMWIN_MEM_RELEASE), "release X"));
    const uintptr_t y =
        U(h->virtual_alloc(P(x + 2 * kMiB), ysize, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE));
    CHILD_CHECK(holds(y == x + 2 * kMiB, "hint inside the released X"));
    for (int i = 0; i < 64; i++)
        CHILD_CHECK(holds(h->virtual_free(P(anywhere(kMiB)), 0, MEMWIN_MEM_RELEASE), "release"));
    // The free part above Y is xsize - 2M - ysize (rounded down to MiB):
    // a reservation 1 MiB longer fits no free part of X, one of that size
    // gets it.
    const uintptr_t fit = (xsize - 2 * kMiB - ysize) & ~(kMiB - 1);
    const uintptr_t more = anywhere(fit + kMiB), top = anywhere(fit);
    CHILD_CHECK(holds(top == x + xsize - fit, "the reservation that fits is not at X's top"));
    for (uintptr_t b : {more, top, y, warm})
        h->virtual_free(P(b), 0, MEMWIN_MEM_RELEASE);
}

// Y big (3 MiB, in the tree; longer than the 2 MiB of X below it) / small
// (64 KiB, in the index).
MEMWIN_CHILD(emu_index_overlap_big)
{
    overlap_case(12 * kMiB, 3 * kMiB);
}
MEMWIN_CHILD(emu_index_overlap_small)
{
    overlap_case(8 * kMiB, kGranule);
}

TEST(EmuIndex, ReleasedRangeWithABigReservationInsideIsReusedAroundIt)
{
    run_emu_child("emu_index_overlap_big");
}

TEST(EmuIndex, ReleasedRangeWithASmallReservationInsideIsReusedAroundIt)
{
    run_emu_child("emu_index_overlap_small");
}

// ---- footprint: the caches of spare records and of emptied leaves ---------

namespace {

// An index leaf: 4096 pointers and a bitmap of 64 words.
constexpr double kLeafBytes = 4096 * 8 + 64 * 8;

void child_fail(const char *what, double got)
{
    std::fprintf(stderr, "%s: %.2f\n", what, got);
    std::exit(1);
}

} // namespace

// In a fresh process (the caches start empty; other tests leave them in any
// state), reservations made by hint only, so the emulation has no zone, no
// quarantine and no holes, and its heap changes only by records and leaves:
//   - 100 reservations in 100 leaves, released: at most 64 emptied leaves
//     are kept (so releasing 100 leaves with the cache full frees 36), and
//     the leaves of released reservations are given back (not kept in the
//     index);
//   - records of released reservations are reused: reserving again costs no
//     heap; at most 256 are kept;
//   - a reservation's page runs go with it: reserve, commit a page, release
//     a thousand times and the heap does not grow.
MEMWIN_CHILD(emu_index_footprint)
{
    exact_mode();
    const memwin_prim *h = memwin_prim_host();
    constexpr int kAreas = 100;
    void *raw = mmap(nullptr, (kAreas + 1) * kLeaf, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED)
        child_fail("mmap", 0);
    munmap(raw, (kAreas + 1) * kLeaf);
    const uintptr_t at = round_up(U(raw), kLeaf);
    auto reserve_all = [&](int n, uintptr_t step, uintptr_t size = kGranule) {
        for (int i = 0; i < n; i++)
            if (U(h->virtual_alloc(P(at + uintptr_t(i) * step), size, MEMWIN_MEM_RESERVE,
                                   MEMWIN_PAGE_READWRITE)) != at + uintptr_t(i) * step)
                child_fail("reserve refused", i);
    };
    auto release_all = [&](int n, uintptr_t step) {
        for (int i = 0; i < n; i++)
            if (!h->virtual_free(P(at + uintptr_t(i) * step), 0, MEMWIN_MEM_RELEASE))
                child_fail("release failed", i);
    };
    // Leaves (reservations under 1 MiB are indexed): the first round fills
    // the cache of emptied leaves.
    reserve_all(kAreas, kLeaf, kMiB / 2);
    release_all(kAreas, kLeaf);
    const size_t l0 = heap_in_use();
    reserve_all(kAreas, kLeaf, kMiB / 2); // 64 leaves from the cache, 36 new; records reused
    const size_t l1 = heap_in_use();
    release_all(kAreas, kLeaf); // 64 leaves kept, 36 freed
    const size_t l2 = heap_in_use();
    const double grew = double(l1) - double(l0), freed = double(l1) - double(l2);
    if (grew / kLeafBytes < 35.5 || grew / kLeafBytes > 36.5)
        child_fail("leaves allocated by 100 reservations with 64 cached", grew / kLeafBytes);
    if (freed / kLeafBytes < 35.5 || freed / kLeafBytes > 36.5)
        child_fail("leaves freed by 100 releases with the cache full", freed / kLeafBytes);
    // Reservations of 1 MiB go to the tree: no leaf, even with none cached.
    reserve_all(kAreas, kLeaf, kMiB);
    const size_t b1 = heap_in_use();
    if (b1 != l2)
        child_fail("heap bytes taken by 100 reservations of 1 MiB", double(b1) - double(l2));
    release_all(kAreas, kLeaf);
    // Records: 100 are spare now, reused by the next 100 reservations
    // (no heap); 300 reservations use up every spare one; then releases
    // keep their records until 256 are kept, and free the rest.
    const size_t r0 = heap_in_use();
    reserve_all(kAreas, kGranule);
    const size_t r1 = heap_in_use();
    if (r1 != r0)
        child_fail("heap bytes taken by 100 reservations with 100 spare records", double(r1 - r0));
    for (int i = kAreas; i < 3 * kAreas; i++)
        if (U(h->virtual_alloc(P(at + uintptr_t(i) * kGranule), kGranule, MEMWIN_MEM_RESERVE,
                               MEMWIN_PAGE_READWRITE)) != at + uintptr_t(i) * kGranule)
            child_fail("reserve refused", i);
    int kept = 0;
    for (size_t prev = heap_in_use(); kept < 3 * kAreas; kept++) {
        if (!h->virtual_free(P(at + uintptr_t(kept) * kGranule), 0, MEMWIN_MEM_RELEASE))
            child_fail("release failed", kept);
        const size_t now = heap_in_use();
        if (now < prev)
            break;
        prev = now;
    }
    if (kept != 256)
        child_fail("records kept by releases before one is freed", kept);
    for (int i = kept + 1; i < 3 * kAreas; i++)
        if (!h->virtual_free(P(at + uintptr_t(i) * kGranule), 0, MEMWIN_MEM_RELEASE))
            child_fail("release failed", i);
    // Runs: a partly committed reservation's runs are freed with it.
    const size_t p0 = heap_in_use();
    for (int i = 0; i < 1000; i++) {
        void *v = h->virtual_alloc(P(at), 4 * kPage, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
        if (U(v) != at || !h->virtual_alloc(v, kPage, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE) ||
            !h->virtual_free(v, 0, MEMWIN_MEM_RELEASE))
            child_fail("partial commit cycle", i);
    }
    const size_t p1 = heap_in_use();
    if (p1 > p0 + 4096)
        child_fail("heap growth over 1000 partial-commit cycles", double(p1) - double(p0));
}

// The child measures glibc's heap: not under a sanitizer's or valgrind's
// allocator, and with glibc's per-thread cache of freed chunks off (a
// record freed into it would still count as in use).
TEST(EmuIndex, CachesOfRecordsAndLeavesAreBounded)
{
#if defined(MW_ASAN)
    GTEST_SKIP() << "the sanitizer's allocator does not keep glibc's heap statistics";
#endif
    if (under_valgrind())
        GTEST_SKIP() << "valgrind has its own heap";
    set_env("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0");
    const bool ok = child_exits("emu_index_footprint", 0, "");
    set_env("GLIBC_TUNABLES", nullptr);
    EXPECT_TRUE(ok);
}

// VirtualQuery of free address space near the top of the user address
// space, in the last 16 GiB word of leaf bits with no leaf above it, while
// a reservation lower down keeps a leaf in use: the free run reaches the end
// of the user address space (the search for the next leaf runs off the end
// of the summary bits there and must stop).
TEST(EmuIndex, FreeRunAtTheTopOfTheAddressSpace)
{
    const memwin_prim *h = host();
    void *low = h->virtual_alloc(nullptr, kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
    ASSERT_NE(low, nullptr);
    Reservations guard;
    guard.add(low);
    const uintptr_t top = uintptr_t(0x7FFFFFFF0000ull); // the end of the user address space
    for (uintptr_t a : {top - kLeaf - 2 * kLeaf, top - kLeaf - kLeaf / 2, top - kLeaf - kPage}) {
        memwin_region_info i{};
        ASSERT_EQ(h->virtual_query(P(a), &i), 0u);
        EXPECT_EQ(i.state, uint32_t(MEMWIN_MEM_FREE)) << std::hex << a;
        EXPECT_EQ(U(i.base), a);
        EXPECT_EQ(U(i.base) + i.region_size, top) << std::hex << a;
    }
}

// A reservation in the last 256 MiB leaf of the user address space: the
// free run above it reaches the end of the user address space, and the
// search for the next reservation stops at the end of the index (no leaf
// past the last one is read).  In a fresh process (no other reservation up
// there); skipped if the process maps all of that leaf (its stack may lie
// there).
MEMWIN_CHILD(emu_index_top_leaf)
{
    exact_mode();
    const memwin_prim *h = host();
    const uintptr_t top = uintptr_t(0x7FFFFFFF0000ull), leaf = top - (kLeaf - kGranule);
    void *low = h->virtual_alloc(nullptr, kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
    CHILD_CHECK(holds(low != nullptr, "reserve anywhere"));
    uintptr_t r = 0;
    for (uintptr_t a = leaf; a < top - kGranule && !r; a += 16 * kMiB)
        if (U(h->virtual_alloc(P(a), kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE)) == a)
            r = a;
    if (!r) {
        std::fprintf(stderr, "skip: the last leaf of the address space is mapped");
        return;
    }
    memwin_region_info i{};
    CHILD_CHECK(holds(h->virtual_query(P(r + kGranule), &i) == 0, "query"));
    CHILD_CHECK(holds(i.state == MEMWIN_MEM_FREE && U(i.base) == r + kGranule &&
                          U(i.base) + i.region_size == top,
                      "the free run above a reservation in the last leaf does not end at the top"));
    h->virtual_free(P(r), 0, MEMWIN_MEM_RELEASE);
    h->virtual_free(low, 0, MEMWIN_MEM_RELEASE);
}

TEST(EmuIndex, FreeRunAboveTheLastLeaf)
{
    run_emu_child("emu_index_top_leaf");
}

#endif // !_WIN32
