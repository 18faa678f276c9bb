// The Linux emulation's reuse of released address space (src/emu/prim_linux.c,
// emu_released and the hole tree), checked against a model of its documented
// policy:
//   - a reservation without an address (VirtualAlloc(NULL, ...)) goes to the
//     top of the highest free hole of the zone that fits it (for an aligned
//     reservation: the highest hole of at least span + align - 64 KiB, at the
//     highest aligned address that leaves room), else just below the zone;
//   - a released range of the zone becomes such a hole only after the next
//     64 releases (the quarantine that keeps it free for a hint), joined with
//     the free holes it touches, and without the parts a reservation made at
//     an address took meanwhile;
//   - the bookkeeping of holes does not grow over reserve/release cycles.
// Each scenario runs in a fresh process (MEMWIN_CHILD), so the holes that
// earlier tests left in this process's zone cannot take its reservations;
// it prints nothing and exits 0 when every placement matches the model.
// Linux only: on Windows placement is the kernel's own business.
#if !defined(_WIN32)

#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iterator>
#include <map>
#include <random>
#include <vector>

#include "host_maps.h"
#include "test_util.h"

using namespace mwt;

namespace {

constexpr uintptr_t G = kGranule;
constexpr size_t kQuarantine = 64; // releases a range waits before reuse

// The emulation's zone as the policy describes it: live reservations,
// free holes (maximal: neighbours are joined), the quarantine, the bottom.
class ZoneModel {
public:
    // Starts the zone: the first reservation goes where the kernel puts it
    // (outside the zone, kept for the whole scenario), the second one just
    // below the zone's top; it stays live too.
    ZoneModel()
    {
        uintptr_t first = U(host()->virtual_alloc(nullptr, G, MEMWIN_MEM_RESERVE,
                                                  MEMWIN_PAGE_READWRITE));
        if (!first)
            die("setup: first reservation refused");
        uintptr_t top = raw_reserve(0, G, G);
        if (!top)
            die("setup: second reservation refused");
        low_ = top;
        zone_hi_ = top + G;
        live_[top] = top + G;
    }

    // The address the policy gives a reservation of span bytes at align.
    uintptr_t predict(uintptr_t span, uintptr_t align = G) const
    {
        const uintptr_t need = span + (align - G);
        for (auto it = holes_.rbegin(); it != holes_.rend(); ++it)
            if (it->second - it->first >= need)
                return (it->second - span) & ~(align - 1);
        return (low_ - span) & ~(align - 1);
    }

    // Reserves n bytes without an address and checks the placement.
    uintptr_t reserve(uintptr_t n, uintptr_t align = G, const char *what = "")
    {
        const uintptr_t span = (n + G - 1) & ~(G - 1);
        const uintptr_t want = predict(span, align);
        const uintptr_t got = raw_reserve(0, n, align);
        if (got != want)
            die("%s: reservation of %#zx (align %#zx) at %#zx, the policy says %#zx "
                "(zone [%#zx, %#zx), %zu holes, %zu quarantined)",
                what, size_t(n), size_t(align), size_t(got), size_t(want), size_t(low_),
                size_t(zone_hi_), holes_.size(), quar_.size());
        taken(got, span);
        return got;
    }

    // Reserves n bytes at a (free in the model) and checks it is granted.
    void reserve_at(uintptr_t a, uintptr_t n)
    {
        const uintptr_t span = (n + G - 1) & ~(G - 1);
        const uintptr_t got = raw_reserve(a, n, G);
        if (got != a)
            die("reservation of %#zx at %#zx got %#zx", size_t(n), size_t(a), size_t(got));
        taken(a, span);
    }

    void release(uintptr_t a)
    {
        auto it = live_.find(a);
        if (it == live_.end())
            die("model: %#zx is not live", size_t(a));
        const uintptr_t hi = it->second;
        live_.erase(it);
        if (!host()->virtual_free(P(a), 0, MEMWIN_MEM_RELEASE))
            die("release of %#zx refused", size_t(a));
        if (a < low_ || hi > zone_hi_)
            return;
        quar_.push_back({a, hi});
        if (quar_.size() > kQuarantine) {
            auto [lo, top] = quar_.front();
            quar_.pop_front();
            free_parts(lo, top);
        }
    }

    // After a reservation the kernel placed (outside the zone, kept): the
    // zone starts again with its bottom and top at low.
    void rezone(uintptr_t low)
    {
        low_ = zone_hi_ = low;
    }

    const std::map<uintptr_t, uintptr_t> &holes() const
    {
        return holes_;
    }
    const std::map<uintptr_t, uintptr_t> &live() const
    {
        return live_;
    }
    uintptr_t low() const
    {
        return low_;
    }
    uintptr_t zone_hi() const
    {
        return zone_hi_;
    }
    // True if no live reservation owns a granule of [a, b).
    bool is_free(uintptr_t a, uintptr_t b) const
    {
        auto it = live_.lower_bound(b);
        return it == live_.begin() || std::prev(it)->second <= a;
    }

private:
    static uintptr_t raw_reserve(uintptr_t a, uintptr_t n, uintptr_t align)
    {
        if (a || align == G)
            return U(host()->virtual_alloc(P(a), n, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE));
        return U(host()->virtual_alloc_aligned(n, align, MEMWIN_MEM_RESERVE,
                                               MEMWIN_PAGE_READWRITE));
    }

    void taken(uintptr_t a, uintptr_t span)
    {
        if (!is_free(a, a + span))
            die("%#zx (+%#zx) overlaps a live reservation", size_t(a), size_t(span));
        live_[a] = a + span;
        carve(a, a + span);
        if (a < low_)
            low_ = a;
    }

    void carve(uintptr_t b, uintptr_t e)
    {
        auto it = holes_.lower_bound(b);
        if (it != holes_.begin() && std::prev(it)->second > b)
            --it;
        std::vector<std::pair<uintptr_t, uintptr_t>> over;
        while (it != holes_.end() && it->first < e) {
            over.push_back(*it);
            it = holes_.erase(it);
        }
        for (const auto &h : over) {
            if (h.first < b)
                holes_[h.first] = b;
            if (h.second > e)
                holes_[e] = h.second;
        }
    }

    void add_hole(uintptr_t lo, uintptr_t hi)
    {
        auto it = holes_.upper_bound(lo);
        if (it != holes_.begin() && std::prev(it)->second >= lo) {
            --it;
            lo = it->first;
            if (it->second > hi)
                hi = it->second;
            it = holes_.erase(it);
        }
        while (it != holes_.end() && it->first <= hi) {
            if (it->second > hi)
                hi = it->second;
            it = holes_.erase(it);
        }
        holes_[lo] = hi;
    }

    // [lo, hi) leaves the quarantine: its parts no reservation owns.
    void free_parts(uintptr_t lo, uintptr_t hi)
    {
        auto it = live_.upper_bound(lo);
        if (it != live_.begin() && std::prev(it)->second > lo)
            lo = std::prev(it)->second;
        while (lo < hi) {
            uintptr_t e = (it == live_.end() || it->first > hi) ? hi : it->first;
            if (e > lo)
                add_hole(lo, e);
            if (it == live_.end() || it->first >= hi)
                break;
            lo = it->second;
            ++it;
        }
    }

    uintptr_t low_ = 0, zone_hi_ = 0;
    std::map<uintptr_t, uintptr_t> live_;  // base -> end of span
    std::map<uintptr_t, uintptr_t> holes_; // lo -> hi
    std::deque<std::pair<uintptr_t, uintptr_t>> quar_;
};

} // namespace

// ---- placement over random runs --------------------------------------------

namespace {

// Random reservations (1 to 40 granules, a few pages short of the last),
// some aligned to 128 KiB to 1 MiB, some at an address inside the free
// space of the zone (a hole's bottom, top, middle or all of it, or across
// holes and quarantined ranges), and releases in random order; every
// reservation without an address must land where the policy says.
void random_run(uint32_t seed, int steps, size_t max_live)
{
    ZoneModel m;
    std::mt19937_64 rng(seed);
    std::vector<uintptr_t> mine;
    auto granules = [&]() -> uintptr_t {
        static const uintptr_t pick[] = {1, 1, 1, 2, 2, 3, 4, 5, 7, 8, 16, 17, 40};
        return pick[rng() % (sizeof pick / sizeof pick[0])];
    };
    for (int step = 0; step < steps; step++) {
        const uint64_t r = rng() % 100;
        if (!mine.empty() && (mine.size() >= max_live || r < 45)) {
            size_t k = size_t(rng() % mine.size());
            m.release(mine[k]);
            mine[k] = mine.back();
            mine.pop_back();
            continue;
        }
        const uintptr_t span = granules() * G;
        const uintptr_t n = span - kPage * (rng() % 16);
        if (r < 80) {
            mine.push_back(m.reserve(n, G, "random"));
        } else if (r < 88) {
            mine.push_back(m.reserve(n, G << (1 + rng() % 4), "random aligned"));
        } else if (!m.holes().empty() && r < 96) {
            // Inside a hole: its bottom, its top, its middle or all of it.
            auto it = m.holes().begin();
            std::advance(it, long(rng() % m.holes().size()));
            const uintptr_t lo = it->first, hi = it->second, len = (hi - lo) / G;
            const uintptr_t g = 1 + rng() % len;
            uintptr_t at = lo;
            switch (rng() % 3) {
            case 0:
                break;
            case 1:
                at = hi - g * G;
                break;
            default:
                at = lo + (rng() % (len - g + 1)) * G;
            }
            m.reserve_at(at, g * G - kPage * (rng() % 16));
            mine.push_back(at);
        } else {
            // Any free granule of the zone, and as far up as stays free
            // (across holes and quarantined ranges), up to 24 granules.
            const uintptr_t zone = (m.zone_hi() - m.low()) / G;
            uintptr_t at = m.low() + (rng() % zone) * G, e = at;
            while (e < m.zone_hi() && e - at < 24 * G && m.is_free(e, e + G))
                e += G;
            if (e == at)
                continue;
            m.reserve_at(at, e - at);
            mine.push_back(at);
        }
    }
    for (uintptr_t a : mine)
        m.release(a);
}

} // namespace

MEMWIN_CHILD(emu_holes_random_small)
{
    random_run(1, 6000, 24);
}

MEMWIN_CHILD(emu_holes_random_many)
{
    random_run(2, 6000, 200);
}

// Placement over random runs: whatever the pattern of releases (holes
// joined on both sides or one, shrunk from the top or the bottom, split,
// ranges released inside a quarantined one), each reservation without an
// address lands at the top of the highest hole that fits (so a hole is
// neither skipped because its length or the longest length below it is
// wrong, nor handed out before 64 more releases), else just below the zone.
TEST(EmuHoles, RandomRunsPlaceInTheHighestHoleThatFits)
{
    if (under_valgrind())
        GTEST_SKIP() << "valgrind does not let the emulation place reservations in its zone";
    EXPECT_TRUE(child_exits("emu_holes_random_small", 0, ""));
    EXPECT_TRUE(child_exits("emu_holes_random_many", 0, ""));
}

// ---- many holes made in address order ---------------------------------------

namespace {

// 150 one-granule holes, made (leaving the quarantine) in ascending or in
// descending address order, each between two live reservations; then the
// hole made first or last grows by its free neighbour: a reservation of the
// grown length must go there, the highest hole that fits.  A tree of holes
// that stays balanced reaches each of them in a few steps; one that
// degenerates into a list of 150 loses track of the grown length.
void ordered_holes(bool ascending, bool grow_highest)
{
    constexpr int kHoles = 150, kFill = 140;
    ZoneModel m;
    std::vector<uintptr_t> a(kHoles + 1), s(kHoles + 1), fill(kFill);
    s[0] = m.reserve(G, G, "separator");
    for (int i = 1; i <= kHoles; i++) {
        a[i] = m.reserve(G, G, "hole-to-be");
        s[i] = m.reserve(G, G, "separator");
    }
    m.reserve(G, G, "spacer"); // stays: the fillers below never touch s[kHoles]
    for (int i = 0; i < kFill; i++)
        fill[i] = m.reserve(G, G, "filler");
    for (int k = 0; k < kHoles; k++)
        m.release(a[ascending ? kHoles - k : 1 + k]);
    int f = 0;
    while (f < int(kQuarantine))
        m.release(fill[f++]); // the hole-to-be ranges become holes
    // The neighbour of the highest hole (above it) or the lowest (below it).
    const uintptr_t grow = grow_highest ? s[0] : s[kHoles];
    m.release(grow);
    while (f < 2 * int(kQuarantine))
        m.release(fill[f++]); // ... joins its hole
    const uintptr_t got = m.reserve(2 * G, G, "two granules");
    if (got != (grow_highest ? a[1] : s[kHoles]))
        die("model and placement disagree with the scenario");
    m.release(got);
}

} // namespace

MEMWIN_CHILD(emu_holes_ascending_top)
{
    ordered_holes(true, true);
}
MEMWIN_CHILD(emu_holes_ascending_bottom)
{
    ordered_holes(true, false);
}
MEMWIN_CHILD(emu_holes_descending_top)
{
    ordered_holes(false, true);
}
MEMWIN_CHILD(emu_holes_descending_bottom)
{
    ordered_holes(false, false);
}

// 150 holes made in address order (ascending, descending), then the highest
// or the lowest grows: a reservation of its new length goes there, so the
// hole tree finds a hole however the holes came (its bookkeeping reaches
// every hole, not only the first 96 levels of a degenerate tree).
TEST(EmuHoles, HolesMadeInAddressOrderStayFindable)
{
    if (under_valgrind())
        GTEST_SKIP() << "valgrind does not let the emulation place reservations in its zone";
    EXPECT_TRUE(child_exits("emu_holes_ascending_top", 0, ""));
    EXPECT_TRUE(child_exits("emu_holes_ascending_bottom", 0, ""));
    EXPECT_TRUE(child_exits("emu_holes_descending_top", 0, ""));
    EXPECT_TRUE(child_exits("emu_holes_descending_bottom", 0, ""));
}

// ---- bookkeeping footprint ------------------------------------------------

// 80 free three-granule holes, each between live reservations; a round
// reserves each one's middle granule at its address (the hole splits in
// two), then its bottom and top granules (each takes a whole hole), and
// releases bottom, top, middle (the middle, leaving the quarantine, joins
// the holes on both sides into one again).  40 rounds after 5 of warm-up:
// the heap does not grow, so the hole records that splits, whole takes and
// joins retire are reused, not leaked.
MEMWIN_CHILD(emu_holes_footprint)
{
    constexpr int kTriples = 80;
    ZoneModel m;
    std::vector<uintptr_t> t(kTriples), fill(kQuarantine);
    for (int k = 0; k < kTriples; k++) {
        t[k] = m.reserve(3 * G, G, "triple");
        m.reserve(G, G, "spacer");
    }
    for (size_t i = 0; i < kQuarantine; i++)
        fill[i] = m.reserve(G, G, "filler");
    for (int k = 0; k < kTriples; k++)
        m.release(t[k]);
    for (size_t i = 0; i < kQuarantine; i++)
        m.release(fill[i]);
    auto round = [&]() {
        for (int k = 0; k < kTriples; k++) {
            m.reserve_at(t[k] + G, G);
            m.reserve_at(t[k], G);
            m.reserve_at(t[k] + 2 * G, G);
        }
        for (int k = 0; k < kTriples; k++) {
            m.release(t[k]);
            m.release(t[k] + 2 * G);
            m.release(t[k] + G);
        }
    };
    for (int r = 0; r < 5; r++)
        round();
    const size_t before = heap_in_use();
    for (int r = 0; r < 40; r++)
        round();
    const size_t after = heap_in_use();
    if (after > before + 32 * kKiB)
        die("heap grew by %zu bytes over 40 rounds", after - before);
}

TEST(EmuHoles, HoleBookkeepingDoesNotGrowOverCycles)
{
    if (under_valgrind())
        GTEST_SKIP() << "valgrind does not let the emulation place reservations in its zone";
    EXPECT_TRUE(child_exits("emu_holes_footprint", 0, ""));
}

// ---- a hole longer than its distance from address 0 -------------------------

// A hole whose length exceeds its own base address: an 80 TiB reservation
// fits nowhere near the zone, so the kernel places it (low in the address
// space) and the zone moves 64 GiB below it; a reservation from 1 TiB up to
// the zone's bottom, released, becomes (after the quarantine) a hole from
// 1 TiB to a few TiB, and a 2 TiB reservation goes to its top.  A length
// computed other than as hi - lo (hi % lo is hi - lo for every hole whose
// base is above its length, as near the usual zone) misses it.  Where the
// kernel puts the 80 TiB elsewhere or something is mapped in the way (the
// sanitizers' shadow memory), the scenario has nothing to check.
MEMWIN_CHILD(emu_holes_huge)
{
    constexpr uintptr_t kTiB = uintptr_t(1) << 40, kZoneGap = uintptr_t(64) << 30;
    ZoneModel m;
    const uintptr_t far = U(host()->virtual_alloc(nullptr, 80 * kTiB, MEMWIN_MEM_RESERVE,
                                                  MEMWIN_PAGE_READWRITE));
    if (!far || far > 16 * kTiB || far < 3 * kTiB) {
        std::fprintf(stderr, "skip: the kernel put the 80 TiB reservation at %#zx\n", size_t(far));
        return;
    }
    m.rezone(far - kZoneGap);
    std::vector<uintptr_t> fill(kQuarantine);
    for (size_t i = 0; i < kQuarantine; i++)
        fill[i] = m.reserve(G, G, "filler");
    if (!unmapped(kTiB, m.low())) {
        std::fprintf(stderr, "skip: something is mapped between 1 TiB and the zone\n");
        return;
    }
    const uintptr_t big = m.reserve(m.low() - kTiB, G, "down to 1 TiB");
    const uintptr_t top = m.low() == big ? big + (m.live().at(big) - big) : 0;
    m.release(big);
    for (size_t i = 0; i < kQuarantine; i++)
        m.release(fill[i]);
    const uintptr_t got = m.reserve(2 * kTiB, G, "2 TiB");
    if (got != top - 2 * kTiB)
        die("2 TiB not at the top of the hole");
    m.release(got);
}

TEST(EmuHoles, HoleLongerThanItsBaseAddressIsReused)
{
    if (under_valgrind())
        GTEST_SKIP() << "valgrind refuses a multi-TiB reservation";
#if defined(__SANITIZE_THREAD__)
    GTEST_SKIP() << "ThreadSanitizer keeps the application to smaller ranges";
#endif
    const memwin_test::ChildResult r = memwin_test::run_child("emu_holes_huge");
    ASSERT_EQ(r.status, 0) << r.stderr_;
    if (r.stderr_.rfind("skip: ", 0) == 0)
        GTEST_SKIP() << r.stderr_.substr(6);
    EXPECT_EQ(r.stderr_, "");
}

// ---- a range released twice within the quarantine ---------------------------

// The lowest range of the zone is released, reserved again at its address
// and released again before the first release has left the quarantine: the
// first departure makes it a hole, the second finds that hole over it and
// must take it out and put the range back as one hole (with nothing below
// it or at its top to join).  A reservation of its length then goes there.
MEMWIN_CHILD(emu_holes_released_twice)
{
    ZoneModel m;
    std::vector<uintptr_t> fill(kQuarantine);
    for (size_t i = 0; i < kQuarantine; i++)
        fill[i] = m.reserve(G, G, "filler");
    m.reserve(G, G, "spacer");
    const uintptr_t r = m.reserve(2 * G, G, "twice");
    m.release(r);
    m.reserve_at(r, 2 * G);
    m.release(r);
    for (size_t i = 0; i < kQuarantine; i++)
        m.release(fill[i]);
    if (m.reserve(2 * G, G, "after") == 0)
        die("unreachable");
}

TEST(EmuHoles, RangeReleasedTwiceInTheQuarantineBecomesOneHole)
{
    if (under_valgrind())
        GTEST_SKIP() << "valgrind does not let the emulation place reservations in its zone";
    EXPECT_TRUE(child_exits("emu_holes_released_twice", 0, ""));
}

#endif // !_WIN32
