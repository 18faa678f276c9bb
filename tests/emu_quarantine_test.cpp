// The Linux emulation's quarantine of released ranges and its zone
// (src/emu/prim_linux.c: emu_released, emu_quar_leave, emu_zone,
// emu_retry_pending, emu_valid_protect), checked through the host table:
//   - a range released, reserved at its address and released again while
//     its first release is still quarantined: when the first leaves, its
//     hole may take a reservation, and when the second leaves it must not
//     become a hole over that reservation;
//   - a release below the zone is never reused;
//   - where the zone goes after the kernel placed a reservation at a low
//     address (64 GiB above it up to 256 GiB, 64 GiB below it beyond);
//   - a reservation the kernel places in a quarantined range is seen when
//     that range leaves;
//   - releases the kernel refused at its mapping limit are all retried;
//   - EINVAL from the kernel is ERROR_INVALID_PARAMETER;
//   - protections other than NOACCESS, READONLY, READWRITE are refused.
// Placement scenarios run in a fresh process (MEMWIN_CHILD): the quarantine
// and the zone are global.  A child prints "skip: ..." when the process has
// something mapped where the scenario needs free space.  Linux only.
#if !defined(_WIN32)

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "host_maps.h"
#include "test_util.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

using namespace mwt;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MW_QUAR_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define MW_QUAR_SANITIZED 1
#endif
#endif

namespace {

constexpr uintptr_t G = kGranule;
constexpr uintptr_t kGiB = uintptr_t(1) << 30;
constexpr uintptr_t kZoneGap = 64 * kGiB;

uintptr_t res(uintptr_t at, uintptr_t n)
{
    return U(host()->virtual_alloc(P(at), n, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE));
}

void rel(uintptr_t a)
{
    if (!host()->virtual_free(P(a), 0, MEMWIN_MEM_RELEASE))
        die("release of %#zx refused (%u)", size_t(a), host()->get_last_error());
}

// Runs a child scenario: status 0 and no output, or a skip.
void expect_child(const char *name)
{
    const memwin_test::ChildResult r = memwin_test::run_child(name);
    ASSERT_EQ(r.status, 0) << r.stderr_;
    if (r.stderr_.rfind("skip: ", 0) == 0)
        GTEST_SKIP() << r.stderr_.substr(6);
    EXPECT_EQ(r.stderr_, "");
}

// ---- a range released twice in the quarantine ------------------------------

// The first reservation goes where the kernel puts it; the next ones go
// just below the zone, one after the other: top (1 granule), R (2), a
// spacer (1), then 130 one-granule fillers.  `before` fillers are released
// first, so R's first release takes quarantine slot `before` (0: its second
// release is in a later slot; 63: in slot 0, after the ring wrapped).  R is
// reserved again at its address and released again.  63 releases later the
// first release leaves: R becomes a hole, the highest one, and X (one
// granule, without an address) takes its top.  One release later the
// second leaves: only R's bottom granule is free, so the next one-granule
// reservation goes to R's bottom.  Had the second release become a hole
// over all of R, that reservation would try X's granule, find it mapped and
// go elsewhere.
void released_twice(int before)
{
    alarm(30);
    if (!res(0, G))
        die("first reservation refused");
    const uintptr_t top = res(0, G), r = res(0, 2 * G), sp = res(0, G);
    std::vector<uintptr_t> f(130);
    for (auto &a : f)
        a = res(0, G);
    if (!top || r != top - 2 * G || sp != r - G)
        skip("the zone is not free below its top");
    for (size_t k = 0; k < f.size(); k++)
        if (f[k] != sp - (k + 1) * G)
            skip("the zone is not free below its top");
    size_t next = 0;
    for (; next < size_t(before); next++)
        rel(f[next]);
    rel(r);
    if (res(r, 2 * G) != r)
        die("R cannot be reserved again at its address");
    rel(r);
    for (int k = 0; k < 63; k++)
        rel(f[next++]);
    const uintptr_t x = res(0, G);
    if (x != r + G)
        die("X at %#zx, not at the top of R's hole %#zx", size_t(x), size_t(r + G));
    rel(f[next++]);
    const uintptr_t y = res(0, G);
    if (y != r)
        die("the next granule went to %#zx, not to R's free bottom %#zx", size_t(y), size_t(r));
}

} // namespace

MEMWIN_CHILD(emu_quar_twice_slot0)
{
    released_twice(0);
}

MEMWIN_CHILD(emu_quar_twice_slot63)
{
    released_twice(63);
}

// When a quarantined range leaves and becomes a hole, the ranges still
// quarantined over it are marked (whatever their slot in the ring): each
// leaves later without the granules a reservation took in that hole.
TEST(EmuQuarantine, SecondReleaseLeavesWithoutWhatTheFirstHoleGaveAway)
{
    if (under_valgrind())
        GTEST_SKIP() << "valgrind does not let the emulation place reservations in its zone";
    expect_child("emu_quar_twice_slot0");
    expect_child("emu_quar_twice_slot63");
}

// ---- a release below the zone -------------------------------------------------

// A reservation made at an address below the zone's bottom, released: it is
// not quarantined, so after 64 releases in the zone it has not become a
// hole, and a reservation of its length goes below the zone, not there.
MEMWIN_CHILD(emu_quar_below_zone)
{
    alarm(30);
    if (!res(0, G))
        die("first reservation refused");
    const uintptr_t top = res(0, G);
    const uintptr_t a = top - 8 * kGiB;
    if (!top || res(a, 4 * G) != a)
        skip("no free range below the zone");
    rel(a);
    std::vector<uintptr_t> f(64);
    for (size_t k = 0; k < f.size(); k++) {
        f[k] = res(0, G);
        if (f[k] != top - (k + 1) * G)
            skip("the zone is not free below its top");
    }
    for (uintptr_t b : f)
        rel(b);
    const uintptr_t y = res(0, 4 * G);
    if (y == a)
        die("the range released below the zone was reused");
    if (y != f.back() - 4 * G)
        die("4 granules at %#zx, not below the zone at %#zx", size_t(y),
            size_t(f.back() - 4 * G));
}

TEST(EmuQuarantine, ReleaseBelowTheZoneIsNotReused)
{
    if (under_valgrind())
        GTEST_SKIP() << "valgrind does not let the emulation place reservations in its zone";
    expect_child("emu_quar_below_zone");
}

// ---- the zone after a low placement ---------------------------------------------

namespace {

// Fills every free range of the address space of at least 64 KiB with
// PROT_NONE mappings (no memory: nothing is committed), so that the kernel
// has only the window [w, w + 64 KiB) left for a 64 KiB mapping; the
// emulation's next reservation goes there and the zone is placed from it.
// Then the mappings go, and the reservation after it shows where the zone
// is: just below w + 64 GiB (w up to 256 GiB) or w - 64 GiB (beyond).
// Nothing may allocate while the address space is full: the emulation's
// record and index leaf come from a reservation made and released first.
struct Fill {
    uintptr_t a, n;
};
Fill fills[16384];
size_t nfills;

void unfill(uintptr_t keep_lo, uintptr_t keep_hi)
{
    for (size_t i = 0; i < nfills; i++) {
        uintptr_t a = fills[i].a, e = a + fills[i].n;
        if (a < keep_hi && keep_lo < e) { // the window was cut out of it
            if (a < keep_lo)
                munmap(P(a), keep_lo - a);
            if (keep_hi < e)
                munmap(P(keep_hi), e - keep_hi);
        } else {
            munmap(P(a), e - a);
        }
    }
    nfills = 0;
}

// Fills the address space; false (nothing kept) if the fill table is full.
bool fill_all()
{
    const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    for (uintptr_t s = uintptr_t(1) << 46; s >= G; s /= 2) {
        for (;;) {
            void *p = mmap(nullptr, s, PROT_NONE, flags, -1, 0);
            if (p == MAP_FAILED)
                break;
            if (nfills == sizeof fills / sizeof fills[0]) {
                munmap(p, s);
                unfill(0, 0);
                return false;
            }
            fills[nfills++] = {U(p), s};
        }
    }
    return true;
}

// True if the fill mappings cover all of [lo, hi) (then it can be unmapped
// without touching anything else of the process).
bool filled(uintptr_t lo, uintptr_t hi)
{
    uintptr_t n = 0;
    for (size_t i = 0; i < nfills; i++) {
        uintptr_t a = fills[i].a > lo ? fills[i].a : lo;
        uintptr_t e = fills[i].a + fills[i].n < hi ? fills[i].a + fills[i].n : hi;
        if (a < e)
            n += e - a;
    }
    return n == hi - lo;
}

void zone_from(uintptr_t w)
{
    alarm(30);
    rel(res(0, G)); // a spare record and a cached index leaf
    const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    if (!fill_all())
        skip("too many free ranges to fill");
    if (!filled(w, w + G)) {
        unfill(0, 0);
        skip("the window is not free in this process");
    }
    munmap(P(w), G);
    const uintptr_t got = res(0, G);
    unfill(w, w + G);
    if (got != w) {
        if (got)
            rel(got);
        skip("the kernel did not place the reservation in the window");
    }
    const uintptr_t low = w > 4 * kZoneGap ? w - kZoneGap : w + kZoneGap;
    void *probe = mmap(P(low - G), G, PROT_NONE, flags | MAP_FIXED_NOREPLACE, -1, 0);
    if (probe != P(low - G)) {
        if (probe != MAP_FAILED)
            munmap(probe, G);
        skip("the range below the zone is not free");
    }
    munmap(probe, G);
    const uintptr_t y = res(0, G);
    if (y != low - G)
        die("after a placement at %#zx the next one went to %#zx, not %#zx", size_t(w),
            size_t(y), size_t(low - G));
    rel(y);
    rel(got);
}

} // namespace

MEMWIN_CHILD(emu_zone_from_32g)
{
    zone_from(32 * kGiB + G);
}
MEMWIN_CHILD(emu_zone_from_128g)
{
    zone_from(128 * kGiB + G);
}
MEMWIN_CHILD(emu_zone_from_256g)
{
    zone_from(256 * kGiB);
}
MEMWIN_CHILD(emu_zone_from_288g)
{
    zone_from(288 * kGiB);
}

// A kernel placement low in the address space (a first-fit allocator, as
// valgrind's) puts the zone 64 GiB above it, up to 256 GiB inclusive; from
// just above 256 GiB the zone goes 64 GiB below.  Windows at 32 GiB + 64 KiB
// and 128 GiB + 64 KiB (below and above 64 GiB and 128 GiB, not on a
// 128 MiB boundary, where products of the address wrap to 0), at 256 GiB and
// at 288 GiB (either side of the boundary).
TEST(EmuQuarantine, ZoneAfterALowPlacement)
{
    if (under_valgrind())
        GTEST_SKIP() << "valgrind does not let the emulation place reservations in its zone";
#if defined(MW_QUAR_SANITIZED)
    GTEST_SKIP() << "the sanitizer's runtime needs address space and has its shadow there";
#endif
    for (const char *name : {"emu_zone_from_32g", "emu_zone_from_128g", "emu_zone_from_256g",
                             "emu_zone_from_288g"}) {
        SCOPED_TRACE(name);
        const memwin_test::ChildResult r = memwin_test::run_child(name);
        EXPECT_EQ(r.status, 0) << r.stderr_;
        if (r.stderr_.rfind("skip: ", 0) != 0) {
            EXPECT_EQ(r.stderr_, "");
        }
    }
}

// ---- a kernel placement in a quarantined range ------------------------------

namespace {

// R (two granules, between two live reservations of the zone) is released
// (with_want: then a reservation is made at an address elsewhere); with the
// address space full but for R's range, the kernel places the next
// reservation, K, at R's top granule, and the zone moves away from it.
// Placements other than in a hole or below the zone have happened since R
// came in (one, or two with_want), so when R leaves the quarantine it is
// looked up: only its bottom granule becomes a hole, where the next
// one-granule reservation goes.  Had R become a hole over K, that
// reservation would try K's granule, find it mapped and go elsewhere.
void kernel_in_quarantined(bool with_want)
{
    alarm(30);
    const uintptr_t r0 = res(0, G);
    const uintptr_t top = res(0, G), r = res(0, 2 * G), sp = res(0, G);
    if (!r0 || !top || r != top - 2 * G || sp != r - G)
        skip("the zone is not free below its top");
    rel(r);
    if (with_want) {
        uintptr_t w = 0;
        for (uintptr_t at = sp - 16 * kGiB; !w && at > sp - 32 * kGiB; at -= kGiB)
            if (res(at, G) == at)
                w = at;
        if (!w)
            skip("no free address below the zone");
    }
    rel(r0); // outside the zone: not quarantined; its record serves K
    if (!fill_all())
        skip("too many free ranges to fill");
    if (!filled(r, r + 2 * G)) {
        unfill(0, 0);
        skip("R's range is not free");
    }
    munmap(P(r), 2 * G);
    const uintptr_t k = res(0, G);
    unfill(r, r + 2 * G);
    if (k != r + G)
        skip("the kernel did not place the reservation at R's top");
    std::vector<uintptr_t> f(64);
    for (size_t i = 0; i < f.size(); i++) {
        f[i] = res(0, G);
        if (f[i] != k - kZoneGap - (i + 1) * G)
            skip("the new zone is not free below its top");
    }
    for (uintptr_t a : f)
        rel(a); // the last one takes R out of the quarantine
    const uintptr_t z = res(0, G);
    if (z != r)
        die("the next granule went to %#zx, not to R's free bottom %#zx", size_t(z), size_t(r));
}

} // namespace

MEMWIN_CHILD(emu_quar_kernel_in_range)
{
    kernel_in_quarantined(false);
}
MEMWIN_CHILD(emu_quar_kernel_in_range_after_want)
{
    kernel_in_quarantined(true);
}

// Every placement the kernel chooses counts as one that may have taken part
// of a quarantined range, with or without a placement at an address before.
TEST(EmuQuarantine, KernelPlacementInAQuarantinedRangeIsSeen)
{
    if (under_valgrind())
        GTEST_SKIP() << "valgrind does not let the emulation place reservations in its zone";
#if defined(MW_QUAR_SANITIZED)
    GTEST_SKIP() << "the sanitizer's runtime needs address space and has its shadow there";
#endif
    for (const char *name : {"emu_quar_kernel_in_range", "emu_quar_kernel_in_range_after_want"}) {
        SCOPED_TRACE(name);
        const memwin_test::ChildResult r = memwin_test::run_child(name);
        EXPECT_EQ(r.status, 0) << r.stderr_;
        if (r.stderr_.rfind("skip: ", 0) != 0) {
            EXPECT_EQ(r.stderr_, "");
        }
    }
}

// ---- the error of a refused mapping ---------------------------------------------

#if defined(__x86_64__) || defined(__aarch64__)
// A reservation at an address that the kernel refuses with EINVAL (made
// to, by a seccomp filter on MAP_FIXED_NOREPLACE mappings) fails with
// ERROR_INVALID_PARAMETER (87), not ERROR_INVALID_ADDRESS (487), which is
// for EEXIST alone.
MEMWIN_CHILD(emu_quar_einval)
{
    alarm(30);
    const uintptr_t at = free_area(G);
    struct sock_filter prog[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[3])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, MAP_FIXED_NOREPLACE, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog fprog = {static_cast<unsigned short>(sizeof prog / sizeof prog[0]), prog};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) != 0)
        skip("no seccomp filter");
    void *p = host()->virtual_alloc(P(at), G, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
    const uint32_t err = host()->get_last_error();
    if (p)
        die("reserved at %p although the kernel refused", p);
    if (err != 87)
        die("error %u, not 87", err);
}

TEST(EmuQuarantine, KernelEinvalIsInvalidParameter)
{
    if (under_valgrind())
        GTEST_SKIP() << "seccomp filters and valgrind do not mix";
    expect_child("emu_quar_einval");
}
#endif

// ---- releases pending at the mapping limit ------------------------------------

// Five adjacent reservations A B C D E (one kernel mapping); at the mapping
// limit B then D are released (each unmapping would split the mapping: both
// are left pending).  Once mappings are available again, the next call
// unmaps both: a reservation at B gets it.
MEMWIN_CHILD(emu_quar_two_pending)
{
    alarm(30);
    const uintptr_t at = free_area(5 * G);
    for (uintptr_t i = 0; i < 5; i++)
        if (res(at + i * G, G) != at + i * G)
            die("setup: adjacent reservations refused");
    host()->virtual_free(nullptr, 0, MEMWIN_MEM_RELEASE); // thread-local state exists
    (void)host()->get_last_error();
    std::vector<void *> fill = fill_mappings();
    if (fill.size() >= (size_t(1) << 20))
        die("setup: no mapping limit reached");
    const bool b_ok = host()->virtual_free(P(at + G), 0, MEMWIN_MEM_RELEASE) != 0;
    const bool d_ok = host()->virtual_free(P(at + 3 * G), 0, MEMWIN_MEM_RELEASE) != 0;
    for (void *p : fill)
        munmap(p, kPage);
    if (!b_ok || !d_ok)
        die("a release at the mapping limit failed");
    const uintptr_t again = res(at + G, G);
    if (again != at + G)
        die("B cannot be reserved again (%u): its release is still pending",
            host()->get_last_error());
    rel(again);
    rel(at);
    rel(at + 2 * G);
    rel(at + 4 * G);
}

TEST(EmuQuarantine, AllPendingReleasesAreRetried)
{
#if defined(__SANITIZE_THREAD__)
    GTEST_SKIP() << "ThreadSanitizer's runtime cannot run at the mapping limit";
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
    GTEST_SKIP() << "ThreadSanitizer's runtime cannot run at the mapping limit";
#endif
#endif
    expect_child("emu_quar_two_pending");
}

// ---- protections --------------------------------------------------------------

// Only PAGE_NOACCESS (1), PAGE_READONLY (2) and PAGE_READWRITE (4) are
// accepted: 0 and 3 fail with ERROR_INVALID_PARAMETER (87), reserving
// nothing, with and without an alignment.
TEST(EmuQuarantine, OnlyTheThreeProtectionsAreAccepted)
{
    Reservations guard;
    for (uint32_t protect : {0u, 3u}) {
        SCOPED_TRACE(protect);
        void *p = guard.add(host()->virtual_alloc(nullptr, G, MEMWIN_MEM_RESERVE, protect));
        EXPECT_EQ(p, nullptr);
        EXPECT_EQ(host()->get_last_error(), 87u);
        p = guard.add(host()->virtual_alloc(nullptr, G, MEMWIN_MEM_COMMIT | MEMWIN_MEM_RESERVE,
                                            protect));
        EXPECT_EQ(p, nullptr);
        EXPECT_EQ(host()->get_last_error(), 87u);
        p = guard.add(host()->virtual_alloc_aligned(G, 2 * G, MEMWIN_MEM_RESERVE, protect));
        EXPECT_EQ(p, nullptr);
        EXPECT_EQ(host()->get_last_error(), 87u);
    }
}

#endif // !_WIN32
