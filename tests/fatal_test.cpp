// Every fatal path: Go's exact stderr and exit status 2 in a child process,
// and in-process twice: through a fatal handler that records and returns,
// and through the default handler with write_stderr/exit_process captured
// by a wrapping primitive table.  Expected texts: go-runtime.md §1.2, §1.3,
// §3.  VirtualFree on free memory fails with 87 under Wine and in the
// emulation (real Windows: 487).
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "test_util.h"

using namespace mwt;

namespace {

const char kRelease[] = "runtime: failed to release pages";
const char kDecommit[] = "runtime: failed to decommit pages";
const char kCommit[] = "runtime: failed to commit pages";
const char kOom[] = "out of memory";
const char kOverflow[] = "sysMemStat overflow";
const char kRetries[] = "failed to allocate aligned heap memory; too many retries";

constexpr uint32_t E8 = MEMWIN_ERROR_NOT_ENOUGH_MEMORY, E87 = MEMWIN_ERROR_INVALID_PARAMETER,
                   E487 = MEMWIN_ERROR_INVALID_ADDRESS, E1455 = MEMWIN_ERROR_COMMITMENT_LIMIT;

uintptr_t reserve(uintptr_t n, uintptr_t hint = 0)
{
    return U(memwin_prim_host()->virtual_alloc(P(hint), n, MEMWIN_MEM_RESERVE,
                                               MEMWIN_PAGE_READWRITE));
}

uintptr_t reserve_committed(uintptr_t n)
{
    return U(memwin_prim_host()->virtual_alloc(nullptr, n, MEMWIN_MEM_RESERVE | MEMWIN_MEM_COMMIT,
                                               MEMWIN_PAGE_READWRITE));
}

// Runs fn in-process (1) with a recording handler that returns: exactly one
// call with (printed, message); (2) with the default handler and the
// process primitives captured: exactly the Go text and one exit(2).
::testing::AssertionResult in_process(void (*fn)(), const std::string &printed,
                                      const std::string &message)
{
    uint64_t m0 = memwin_mapped_ready();
    std::vector<FatalCapture::Event> ev;
    {
        FatalCapture fc;
        fn();
        ev = fc.events();
    }
    std::string text;
    std::vector<int> exits;
    {
        DefaultFatal df;
        PrimRecorder rec(true);
        fn();
        text = rec.stderr_text();
        exits = rec.exits();
    }
    restore_mapped_ready(m0);
    if (ev.size() != 1 || ev[0].printed != printed || ev[0].message != message) {
        auto f = ::testing::AssertionFailure() << ev.size() << " handler calls:";
        for (auto &e : ev)
            f << "\n  printed=[" << e.printed << "] message=[" << e.message << "]";
        return f << "\nwant printed=[" << printed << "] message=[" << message << "]";
    }
    if (text != fatal_text(printed, message) || exits != std::vector<int>{2})
        return ::testing::AssertionFailure()
               << "default handler wrote [" << text << "] and exited " << exits.size()
               << " times (first status " << (exits.empty() ? -1 : exits[0]) << ")";
    return ::testing::AssertionSuccess();
}

} // namespace

// One fatal scenario: a function that sets up, makes the failing call and
// cleans up (reached only in-process), run as a child and in-process.
#define FATAL_CASE(name, printed, message)                                                   \
    static void name##_fn();                                                                 \
    MEMWIN_CHILD(fatal_##name)                                                               \
    {                                                                                        \
        exact_mode();                                                                        \
        name##_fn();                                                                         \
    }                                                                                        \
    static const ChildPrefetch name##_prefetch("fatal_" #name, "Fatal." #name "_Child");    \
    TEST(Fatal, name##_Child)                                                                \
    {                                                                                        \
        EXPECT_TRUE(child_exits("fatal_" #name, 2, fatal_text(printed, message)));           \
    }                                                                                        \
    TEST(Fatal, name##_InProcess)                                                            \
    {                                                                                        \
        EXPECT_TRUE(in_process(name##_fn, printed, message));                                \
    }                                                                                        \
    static void name##_fn()

// ---- release ---------------------------------------------------------------

FATAL_CASE(FreeOSOfFreeMemory, failed_line("VirtualFree", 4096, E87), kRelease)
{
    sysFreeOS(P(free_area(0x10000)), 4096);
}

FATAL_CASE(FreeOSAtNonBase, failed_line("VirtualFree", 65536, E487), kRelease)
{
    uintptr_t r = reserve(0x20000);
    sysFreeOS(P(r + 0x10000), 0x10000);
    release_if_reserved(r);
}

FATAL_CASE(FreeOSTwice, failed_line("VirtualFree", 131072, E87), kRelease)
{
    uintptr_t r = reserve(0x20000);
    sysFreeOS(P(r), 0x20000);
    sysFreeOS(P(r), 0x20000);
}

FATAL_CASE(FreeOfFreeMemory, failed_line("VirtualFree", 65536, E87), kRelease)
{
    sysMemStat stat = 0x100000;
    sysFree(P(free_area(0x10000)), 0x10000, &stat);
}

FATAL_CASE(UnreserveOfFreeMemory, failed_line("VirtualFree", 196608, E87), kRelease)
{
    sysUnreserve(P(free_area(0x30000)), 0x30000);
}

// ---- decommit ----------------------------------------------------------------

// n >= 4096: the halving loop ends with small rounded down to 0.
FATAL_CASE(UnusedOSOfFreeMemory, failed_line("VirtualFree", 0, E87), kDecommit)
{
    sysUnusedOS(P(free_area(0x10000)), 65536);
}

// n < 4096: no call in the loop; n itself and the first call's errno.
FATAL_CASE(UnusedOSOfFreeMemorySmall, failed_line("VirtualFree", 100, E87), kDecommit)
{
    sysUnusedOS(P(free_area(0x10000)), 100);
}

FATAL_CASE(FaultOSOfFreeMemory, failed_line("VirtualFree", 0, E87), kDecommit)
{
    sysFaultOS(P(free_area(0x10000)), 8192);
}

FATAL_CASE(UnusedOfFreeMemory, failed_line("VirtualFree", 0, E87), kDecommit)
{
    sysUnused(P(free_area(0x10000)), 0x4000);
}

FATAL_CASE(DecommitInjected487, failed_line("VirtualFree", 0, E487), kDecommit)
{
    uintptr_t r = reserve_committed(0x20000);
    {
        FaultGuard fg(MEMWIN_FAULT_DECOMMIT, 1, 0, E487);
        sysUnusedOS(P(r), 0x20000);
    }
    release_if_reserved(r);
}

FATAL_CASE(DecommitInjectedViaSysFault, failed_line("VirtualFree", 0, 5), kDecommit)
{
    uintptr_t r = reserve_committed(0x20000);
    {
        FaultGuard fg(MEMWIN_FAULT_DECOMMIT, 1, 0, 5);
        sysFault(P(r), 0x8000);
    }
    release_if_reserved(r);
}

FATAL_CASE(DecommitInjectedSmall, failed_line("VirtualFree", 256, E487), kDecommit)
{
    uintptr_t r = reserve_committed(0x10000);
    {
        FaultGuard fg(MEMWIN_FAULT_DECOMMIT, 1, 0, E487);
        sysUnused(P(r), 0x100);
    }
    release_if_reserved(r);
}

// Two adjacent 64 KiB reservations: calls 1-2 fail naturally (87), call 3
// decommits A, call 4 (B) and every later one fail by injection.
static void adjacent_pair(uintptr_t *a, uintptr_t *b, bool commit)
{
    uintptr_t at = free_area(0x20000);
    *a = reserve(0x10000, at);
    *b = reserve(0x10000, at + 0x10000);
    EXPECT_EQ(*a, at);
    EXPECT_EQ(*b, at + 0x10000);
    if (commit) {
        memwin_prim_host()->virtual_alloc(P(*a), 0x10000, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE);
        memwin_prim_host()->virtual_alloc(P(*b), 0x10000, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE);
    }
}

FATAL_CASE(DecommitFailsAfterPartialProgress, failed_line("VirtualFree", 0, E8), kDecommit)
{
    uintptr_t a, b;
    adjacent_pair(&a, &b, true);
    {
        FaultGuard fg(MEMWIN_FAULT_DECOMMIT, 4, 0, E8);
        sysUnusedOS(P(a), 0x20000);
    }
    EXPECT_EQ(state_of(a), MEMWIN_MEM_RESERVE) << "the first piece was decommitted";
    EXPECT_EQ(state_of(b), MEMWIN_MEM_COMMIT);
    release_if_reserved(a);
    release_if_reserved(b);
}

// ---- commit ------------------------------------------------------------------

FATAL_CASE(UsedOSOfFreeMemory, failed_line("VirtualAlloc", 0, E487), kCommit)
{
    sysUsedOS(P(free_area(0x10000)), 65536);
}

FATAL_CASE(UsedOSOfFreeMemorySmall, failed_line("VirtualAlloc", 100, E487), kCommit)
{
    sysUsedOS(P(free_area(0x10000)), 100);
}

// Go quirk: v not page aligned and n < 4096: VirtualAlloc succeeds but
// returns the page base != v, the loop makes no call, errno is the cleared 0.
FATAL_CASE(UsedOSUnalignedTiny, failed_line("VirtualAlloc", 10, 0), kCommit)
{
    uintptr_t r = reserve(0x10000);
    sysUsedOS(P(r + 100), 10);
    EXPECT_EQ(state_of(r), MEMWIN_MEM_COMMIT) << "the page was committed before the throw";
    release_if_reserved(r);
}

FATAL_CASE(CommitInjected8, failed_line("VirtualAlloc", 196608, E8), kOom)
{
    uintptr_t r = reserve(0x30000);
    {
        FaultGuard fg(MEMWIN_FAULT_COMMIT, 1, 0, E8);
        sysUsedOS(P(r), 0x30000);
    }
    release_if_reserved(r);
}

FATAL_CASE(CommitInjected1455, failed_line("VirtualAlloc", 16777216, E1455), kOom)
{
    uintptr_t r = reserve(16 * kMiB);
    {
        FaultGuard fg(MEMWIN_FAULT_COMMIT, 1, 0, E1455);
        sysUsed(P(r), 16 * kMiB, 16 * kMiB);
    }
    release_if_reserved(r);
}

FATAL_CASE(CommitInjected8Small, failed_line("VirtualAlloc", 2048, E8), kOom)
{
    uintptr_t r = reserve(0x10000);
    {
        FaultGuard fg(MEMWIN_FAULT_COMMIT, 1, 0, E8);
        sysUsedOS(P(r), 2048);
    }
    release_if_reserved(r);
}

// Out of commit reports the original n even after part of it was committed.
FATAL_CASE(Commit1455AfterPartialProgress, failed_line("VirtualAlloc", 131072, E1455), kOom)
{
    uintptr_t a, b;
    adjacent_pair(&a, &b, false);
    {
        FaultGuard fg(MEMWIN_FAULT_COMMIT, 4, 0, E1455);
        sysUsedOS(P(a), 0x20000);
    }
    EXPECT_EQ(state_of(a), MEMWIN_MEM_COMMIT);
    EXPECT_EQ(state_of(b), MEMWIN_MEM_RESERVE);
    release_if_reserved(a);
    release_if_reserved(b);
}

FATAL_CASE(CommitInjected87, failed_line("VirtualAlloc", 0, E87), kCommit)
{
    uintptr_t r = reserve(0x30000);
    {
        FaultGuard fg(MEMWIN_FAULT_COMMIT, 1, 0, E87);
        sysUsedOS(P(r), 0x30000);
    }
    release_if_reserved(r);
}

FATAL_CASE(CommitInjected487, failed_line("VirtualAlloc", 0, E487), kCommit)
{
    uintptr_t r = reserve(0x10000);
    {
        FaultGuard fg(MEMWIN_FAULT_COMMIT, 1, 0, E487);
        sysUsed(P(r), 0x5000, 0x5000);
    }
    release_if_reserved(r);
}

FATAL_CASE(CommitInjected87Small, failed_line("VirtualAlloc", 2048, E87), kCommit)
{
    uintptr_t r = reserve(0x10000);
    {
        FaultGuard fg(MEMWIN_FAULT_COMMIT, 1, 0, E87);
        sysUsedOS(P(r), 2048);
    }
    release_if_reserved(r);
}

// ---- sysMemStat ----------------------------------------------------------------

// go-runtime.md §1.3, verified on Go: freeing 8 MiB from a zero stat.
FATAL_CASE(StatUnderflowInSysFree, "runtime: val=18446744073701163008 n=-8388608\n", kOverflow)
{
    uintptr_t r = reserve(8 * kMiB);
    sysMemStat stat = 0;
    sysFree(P(r), 8 * kMiB, &stat);
    release_if_reserved(r);
}

FATAL_CASE(StatUnderflowInAdd, "runtime: val=18446744073709551615 n=-6\n", kOverflow)
{
    sysMemStat s = 5;
    memwin_stat_add(&s, -6);
}

FATAL_CASE(StatOverflowInAdd, "runtime: val=9223372036854775808 n=9223372036854775807\n",
           kOverflow)
{
    sysMemStat s = 1;
    memwin_stat_add(&s, std::numeric_limits<int64_t>::max());
}

FATAL_CASE(StatOverflowInSysMap, "runtime: val=9223372036854779904 n=8192\n", kOverflow)
{
    uintptr_t r = reserve(0x10000);
    sysMemStat stat = (uint64_t(1) << 63) - 0x1000;
    sysMap(P(r), 0x2000, &stat);
    release_if_reserved(r);
}

FATAL_CASE(StatOverflowInSysAlloc, "runtime: val=9223372036854779904 n=65536\n", kOverflow)
{
    sysMemStat stat = (uint64_t(1) << 63) - 0xf000;
    void *p = sysAlloc(0x10000, &stat);
    if (p)
        release_if_reserved(U(p));
}

TEST(Fatal, StatValueStaysWrapped)
{
    FatalCapture fc;
    sysMemStat s = 0;
    memwin_stat_add(&s, -8388608);
    EXPECT_EQ(memwin_stat_load(&s), 18446744073701163008ull);
    EXPECT_EQ(fc.count(), 1u);
}

// ---- sysReserveAligned ---------------------------------------------------------

// A table that plays "another thread": when the library re-reserves at the
// aligned address, it reserves that address first (directly below, so the
// counters see only the library's calls), so the library's call
// fails for real and the fallback lands elsewhere; the stolen range is
// given back after the library released its fallback.
namespace steal {
const memwin_prim *below;
uintptr_t hint, target, stolen;
int steals, max_steals, allocs, frees;
// Someone outside the test and the library took part of the free area
// (valgrind places its own mappings in just-released ranges, unseen by the
// emulation's tables): the reservation at the hint or the thief's at the
// target failed, and neither a reservation of the library's nor the
// thief's range (given back only when the library releases its fallback)
// was in the way. Such a run tests nothing; the callers repeat it in a
// fresh area.
bool disturbed;
std::vector<std::pair<uintptr_t, uintptr_t>> live; // the library's reservations

bool held_by_library(uintptr_t x)
{
    for (auto &r : live)
        if (x >= r.first && x - r.first < r.second)
            return true;
    return false;
}

void *alloc(void *a, uintptr_t n, uint32_t type, uint32_t prot)
{
    allocs++;
    bool reserve = (type & MEMWIN_MEM_RESERVE) != 0;
    if (reserve && U(a) == target && stolen == 0 && steals < max_steals) {
        stolen = U(below->virtual_alloc(a, n, type, prot));
        if (stolen)
            steals++;
        else if (!held_by_library(target))
            disturbed = true;
    }
    uint32_t err = 0;
    void *r = below->virtual_alloc(a, n, type, prot);
    if (!r)
        err = below->get_last_error();
    if (reserve && hint && U(a) == hint && U(r) != hint && !held_by_library(hint) &&
        !(stolen && stolen >= hint && stolen - hint < n))
        disturbed = true;
    if (r && reserve)
        live.emplace_back(U(r), n);
    if (!r)
        below->set_last_error(err);
    return r;
}
int free_(void *a, uintptr_t n, uint32_t type)
{
    frees++;
    int r = below->virtual_free(a, n, type);
    if (r && type == MEMWIN_MEM_RELEASE)
        for (size_t k = 0; k < live.size(); k++)
            if (live[k].first == U(a)) {
                live.erase(live.begin() + long(k));
                break;
            }
    uint32_t err = below->get_last_error();
    if (stolen && U(a) != stolen && type == MEMWIN_MEM_RELEASE && U(a) != target) {
        below->virtual_free(P(stolen), 0, MEMWIN_MEM_RELEASE);
        stolen = 0;
    }
    below->set_last_error(err);
    return r;
}
// The table below with the two calls replaced, and no one-call aligned
// reservation (Go's sequence is what the thief plays against).
memwin_prim table;

struct Scope {
    const memwin_prim *prev;
    Scope(uintptr_t unaligned_hint, uintptr_t aligned_target, int max = 1000)
    {
        hint = unaligned_hint;
        target = aligned_target;
        disturbed = false;
        live.clear();
        max_steals = max;
        stolen = 0;
        steals = allocs = frees = 0;
        below = memwin_prim_current();
        table = memwin_prim{};
        table.virtual_alloc = alloc;
        table.virtual_free = free_;
        memwin_prim_forward(&table, below)->virtual_alloc_aligned = nullptr;
        prev = memwin_prim_set(&table);
    }
    ~Scope()
    {
        memwin_prim_set(prev);
        if (stolen)
            release_if_reserved(stolen);
    }
};
} // namespace steal

static const uintptr_t kAlignSize = 0x10000, kAlign = 0x100000;
static uintptr_t retries_v, retries_p;
static void *retries_result;
static uintptr_t retries_reserved;

// The first reservation (at an unaligned hint) always succeeds and the
// re-reservation at the aligned address always loses the race: Go gives up
// on the 100th lost race.
// A run that another mapping disturbed (steal::disturbed), which may end
// without the throw, is repeated in a fresh area, up to five times.
FATAL_CASE(ReserveAlignedTooManyRetries, "", kRetries)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        uintptr_t a = free_area(kAlignSize + 2 * kAlign, kAlign);
        retries_v = a + kGranule;
        retries_p = a + kAlign;
        steal::Scope sc(retries_v, retries_p);
        retries_reserved = 777;
        retries_result = sysReserveAligned(P(retries_v), kAlignSize, kAlign, &retries_reserved);
        if (!steal::disturbed)
            return;
        release_if_reserved(U(retries_result));
    }
}

// Runs `round` up to five times, until a run the environment left alone;
// skips (saying so) if none was.
template <class F> static bool undisturbed(F round)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        round();
        if (!steal::disturbed)
            return true;
    }
    return false;
}

TEST(Fatal, ReserveAlignedTooManyRetriesDetails)
{
    FatalCapture fc;
    size_t fatal0 = 0;
    if (!undisturbed([&] {
            fatal0 = fc.count();
            ReserveAlignedTooManyRetries_fn();
        }))
        GTEST_SKIP() << "the free area was taken by another mapping in five runs";
    EXPECT_EQ(fc.count() - fatal0, 1u);
    EXPECT_EQ(steal::steals, 100) << "Go throws on the 100th lost race";
    EXPECT_EQ(steal::allocs, 100 * 3) << "hint, re-reserve, fallback per round";
    EXPECT_EQ(steal::frees, 100 * 2) << "unaligned first reservation, fallback per round";
    EXPECT_EQ(retries_result, nullptr);
    EXPECT_EQ(retries_reserved, 0u);
    EXPECT_EQ(state_of(retries_v), MEMWIN_MEM_FREE);
    EXPECT_EQ(state_of(retries_p), MEMWIN_MEM_FREE);
}

TEST(Fatal, ReserveAlignedWinsAfterLostRaces)
{
    // Three lost races, then the fourth round wins: no throw.
    FatalCapture fc;
    uintptr_t v = 0, p = 0, got = 0;
    void *r = nullptr;
    size_t fatal0 = 0;
    if (!undisturbed([&] {
            release_if_reserved(U(r));
            fatal0 = fc.count();
            uintptr_t a = free_area(kAlignSize + 2 * kAlign, kAlign);
            v = a + kGranule, p = a + kAlign, got = 0;
            steal::Scope sc(v, p, 3);
            r = sysReserveAligned(P(v), kAlignSize, kAlign, &got);
        }))
        GTEST_SKIP() << "the free area was taken by another mapping in five runs";
    EXPECT_EQ(fc.count() - fatal0, 0u);
    EXPECT_EQ(steal::steals, 3);
    EXPECT_EQ(steal::allocs, 3 * 3 + 2);
    EXPECT_EQ(steal::frees, 3 * 2 + 1);
    EXPECT_EQ(U(r), p);
    EXPECT_EQ(got, kAlignSize);
    EXPECT_TRUE(region_is(p, MEMWIN_MEM_RESERVE, 0, p, kAlignSize));
    EXPECT_EQ(state_of(v), MEMWIN_MEM_FREE);
    release_if_reserved(U(r));
}

// Go edge case (go-runtime.md §2): the re-reserve and its fallback both
// fail, so Go releases p2 == NULL, VirtualFree(NULL) fails and the release
// throw fires.
FATAL_CASE(ReserveAlignedReleasesNull, failed_line("VirtualFree", 65536, E87), kRelease)
{
    uintptr_t a = free_area(kAlignSize + 2 * kAlign, kAlign);
    uintptr_t got = 0;
    void *r;
    {
        FaultGuard fg(MEMWIN_FAULT_RESERVE, 2, 2, E8);
        r = sysReserveAligned(P(a + kGranule), kAlignSize, kAlign, &got);
    }
    if (r)
        release_if_reserved(U(r));
}

// ---- not fatal -------------------------------------------------------------------

MEMWIN_CHILD(fatal_SysAllocNullIsNotFatal)
{
    exact_mode();
    sysMemStat stat = 0;
    FaultGuard fg(MEMWIN_FAULT_ALLOC | MEMWIN_FAULT_RESERVE, 1, 0, E8);
    if (sysAlloc(0x10000, &stat) != nullptr)
        memwin_prim_host()->write_stderr("sysAlloc succeeded\n", 19);
    if (sysReserve(nullptr, 0x10000) != nullptr)
        memwin_prim_host()->write_stderr("sysReserve succeeded\n", 21);
}

static const ChildPrefetch not_fatal_prefetch("fatal_SysAllocNullIsNotFatal",
                                              "Fatal.SysAllocNullIsNotFatal_Child");

TEST(Fatal, SysAllocNullIsNotFatal_Child)
{
    EXPECT_TRUE(child_exits("fatal_SysAllocNullIsNotFatal", 0, ""));
}

TEST(Fatal, SysAllocNullIsNotFatal_InProcess)
{
    uint64_t m0 = memwin_mapped_ready();
    FatalCapture fc;
    sysMemStat stat = 0;
    {
        FaultGuard fg(MEMWIN_FAULT_ALLOC, 1, 0, E8);
        EXPECT_EQ(sysAlloc(0x10000, &stat), nullptr);
        EXPECT_EQ(sysAllocOS(0x10000), nullptr);
    }
    EXPECT_EQ(fc.count(), 0u);
    EXPECT_EQ(stat, 0x10000u);
    restore_mapped_ready(m0);
}

// ---- a returning handler ends the failing call at once -------------------------

TEST(FatalHandler, ReturningHandlerEndsSysUsedOSAtOnce)
{
    FatalCapture fc;
    uintptr_t r = reserve(0x30000);
    {
        FaultGuard fg(MEMWIN_FAULT_COMMIT, 1, 0, E1455);
        sysUsedOS(P(r), 0x30000);
        // 1 + (0x30000, 0x18000, 0xc000, 0x6000, 0x3000, 0x1000)
        EXPECT_EQ(memwin_fault_seen(), 7u);
    }
    EXPECT_EQ(fc.count(), 1u);
    EXPECT_EQ(state_of(r), MEMWIN_MEM_RESERVE);
    release_if_reserved(r);
}

TEST(FatalHandler, HandlerCanChainToTheDefault)
{
    DefaultFatal df;
    PrimRecorder rec(true);
    memwin_fatal_fn prev = memwin_set_fatal_handler(memwin_default_fatal, nullptr);
    ASSERT_NE(prev, nullptr);
    sysFreeOS(P(free_area(0x10000)), 12345);
    // The returned previous handler is the default one: it prints and exits.
    // (Its address need not equal &memwin_default_fatal across a DLL
    // boundary, so it is called rather than compared.)
    prev("runtime: x\n", "y", nullptr);
    EXPECT_EQ(rec.stderr_text(), fatal_text(failed_line("VirtualFree", 12345, E87), kRelease) +
                                     fatal_text("runtime: x\n", "y"));
    EXPECT_EQ(rec.exits(), (std::vector<int>{2, 2}));
}

// A throw inside a generic function must end that function too: the
// operation after the failed accounting step must not happen.
TEST(FatalHandler, StatOverflowStopsSysFree)
{
    uint64_t m0 = memwin_mapped_ready();
    uintptr_t r = reserve(8 * kMiB);
    sysMemStat stat = 0;
    {
        FatalCapture fc;
        sysFree(P(r), 8 * kMiB, &stat);
        EXPECT_EQ(fc.count(), 1u);
    }
    EXPECT_EQ(state_of(r), MEMWIN_MEM_RESERVE) << "sysFree released after its throw";
    EXPECT_EQ(memwin_mapped_ready(), m0) << "sysFree accounted after its throw";
    release_if_reserved(r);
    restore_mapped_ready(m0);
}

TEST(FatalHandler, StatOverflowStopsSysAlloc)
{
    uint64_t m0 = memwin_mapped_ready();
    sysMemStat stat = (uint64_t(1) << 63) - 0x1000;
    void *p;
    {
        FatalCapture fc;
        p = sysAlloc(0x10000, &stat);
        EXPECT_EQ(fc.count(), 1u);
    }
    EXPECT_EQ(p, nullptr) << "sysAlloc allocated after its throw";
    EXPECT_EQ(memwin_mapped_ready(), m0) << "sysAlloc accounted after its throw";
    if (p)
        release_if_reserved(U(p));
    restore_mapped_ready(m0);
}

// memwin's own refusal of a nil sysMemStat (Go would fault on it) is a throw
// like the others: with a handler that returns, the call stops there.
TEST(FatalHandler, NilStatStopsSysAllocAndSysFree)
{
    uint64_t m0 = memwin_mapped_ready();
    uintptr_t r = reserve(0x10000);
    void *p;
    {
        FatalCapture fc;
        p = sysAlloc(0x10000, nullptr);
        sysFree(P(r), 0x10000, nullptr);
        EXPECT_EQ(fc.count(), 2u);
        for (const FatalCapture::Event &e : fc.events())
            EXPECT_EQ(e.message, "memwin: nil sysMemStat");
    }
    EXPECT_EQ(p, nullptr) << "sysAlloc allocated after its throw";
    EXPECT_EQ(state_of(r), MEMWIN_MEM_RESERVE) << "sysFree released after its throw";
    EXPECT_EQ(memwin_mapped_ready(), m0) << "accounted after a throw";
    if (p)
        release_if_reserved(U(p));
    release_if_reserved(r);
    restore_mapped_ready(m0);
}

TEST(FatalHandler, ReleaseFailureStopsSysReserveAligned)
{
    FatalCapture fc;
    uintptr_t a = free_area(kAlignSize + 2 * kAlign, kAlign);
    uintptr_t got = 99;
    void *r;
    {
        FaultGuard fg(MEMWIN_FAULT_RESERVE, 2, 2, E8);
        r = sysReserveAligned(P(a + kGranule), kAlignSize, kAlign, &got);
        EXPECT_EQ(memwin_fault_seen(), 3u) << "no more reservations after the throw";
    }
    EXPECT_EQ(fc.count(), 1u);
    EXPECT_EQ(r, nullptr);
    EXPECT_EQ(got, 0u);
    if (r)
        release_if_reserved(U(r));
}
