// Accounting of the generic layer (go-runtime.md §1.3): the sysMemStat and
// mapped-ready deltas of every function, that they happen before the OS
// call (and even when it fails), sysMemStat.add's checks, and atomicity
// under concurrent updates.
#include <atomic>
#include <cstdint>
#include <limits>
#include <thread>

#include "test_util.h"

using namespace mwt;

namespace {

// Deltas of mapped-ready and one stat across a scope.
struct Deltas {
    const sysMemStat *stat;
    uint64_t mapped0, stat0;
    explicit Deltas(const sysMemStat *s)
        : stat(s), mapped0(memwin_mapped_ready()), stat0(memwin_stat_load(s))
    {
    }
    int64_t mapped() const
    {
        return int64_t(memwin_mapped_ready() - mapped0);
    }
    int64_t stat_delta() const
    {
        return int64_t(memwin_stat_load(stat) - stat0);
    }
};

// A primitive table that snapshots the accounting at each VM call, so a test
// can see whether accounting happened before the OS step.  VM calls are
// forwarded to the table below.
struct Snap {
    PrimCall::Op op;
    uint32_t type;
    uint64_t mapped, stat;
};
const memwin_prim *snap_below;
const sysMemStat *snap_stat;
std::vector<Snap> snaps;

void *snap_alloc(void *a, uintptr_t n, uint32_t type, uint32_t prot)
{
    snaps.push_back({PrimCall::kAlloc, type, memwin_mapped_ready(), *snap_stat});
    return snap_below->virtual_alloc(a, n, type, prot);
}
int snap_free(void *a, uintptr_t n, uint32_t type)
{
    snaps.push_back({PrimCall::kFree, type, memwin_mapped_ready(), *snap_stat});
    return snap_below->virtual_free(a, n, type);
}
// The table below with the two calls recorded (and no one-call aligned
// reservation, so every reservation goes through virtual_alloc).
memwin_prim snap_table;

struct SnapScope {
    const memwin_prim *prev;
    explicit SnapScope(const sysMemStat *s)
    {
        snaps.clear();
        snap_stat = s;
        snap_below = memwin_prim_current();
        snap_table = memwin_prim{};
        snap_table.virtual_alloc = snap_alloc;
        snap_table.virtual_free = snap_free;
        memwin_prim_forward(&snap_table, snap_below)->virtual_alloc_aligned = nullptr;
        prev = memwin_prim_set(&snap_table);
    }
    ~SnapScope()
    {
        memwin_prim_set(prev);
    }
};

} // namespace

TEST(Accounting, SysAllocAddsNToStatAndMappedReady)
{
    sysMemStat stat = 1000;
    Deltas d(&stat);
    uintptr_t p = U(sysAlloc(0x12345, &stat));
    ASSERT_NE(p, 0u);
    EXPECT_EQ(d.stat_delta(), 0x12345);
    EXPECT_EQ(d.mapped(), 0x12345);
    EXPECT_EQ(memwin_stat_load(&stat), 1000u + 0x12345u);
    sysFree(P(p), 0x12345, &stat);
    EXPECT_EQ(memwin_stat_load(&stat), 1000u);
    EXPECT_EQ(d.mapped(), 0);
}

TEST(Accounting, SysAllocAccountsEvenWhenTheOsCallFails)
{
    sysMemStat stat = 0;
    Deltas d(&stat);
    {
        FaultGuard fg(MEMWIN_FAULT_ALLOC, 1, 1, MEMWIN_ERROR_COMMITMENT_LIMIT);
        EXPECT_EQ(sysAlloc(0x40000, &stat), nullptr);
        EXPECT_EQ(memwin_fault_failed(), 1u);
    }
    EXPECT_EQ(d.stat_delta(), 0x40000);
    EXPECT_EQ(d.mapped(), 0x40000);
    // Undo with a table that does nothing, so later tests start balanced.
    {
        NullPrim ns;
        sysFree(P(0x10000), 0x40000, &stat);
    }
    EXPECT_EQ(d.stat_delta(), 0);
    EXPECT_EQ(d.mapped(), 0);
}

TEST(Accounting, AccountingPrecedesTheOsCall)
{
    sysMemStat stat = 0x100000;
    uint64_t m0 = memwin_mapped_ready();
    uintptr_t p;
    {
        SnapScope ss(&stat);
        p = U(sysAlloc(0x10000, &stat));
        ASSERT_EQ(snaps.size(), 1u);
        EXPECT_EQ(snaps[0].mapped, m0 + 0x10000);
        EXPECT_EQ(snaps[0].stat, 0x110000u);
    }
    ASSERT_NE(p, 0u);
    {
        SnapScope ss(&stat);
        sysUnused(P(p), 0x10000);
        ASSERT_EQ(snaps.size(), 1u);
        EXPECT_EQ(snaps[0].type, MEMWIN_MEM_DECOMMIT);
        EXPECT_EQ(snaps[0].mapped, m0);
        snaps.clear();
        sysUsed(P(p), 0x10000, 0x3000);
        ASSERT_EQ(snaps.size(), 1u);
        EXPECT_EQ(snaps[0].type, MEMWIN_MEM_COMMIT);
        EXPECT_EQ(snaps[0].mapped, m0 + 0x3000);
        snaps.clear();
        sysFault(P(p), 0x3000);
        ASSERT_EQ(snaps.size(), 1u);
        EXPECT_EQ(snaps[0].mapped, m0);
        snaps.clear();
        sysFree(P(p), 0x10000, &stat);
        ASSERT_EQ(snaps.size(), 1u);
        EXPECT_EQ(snaps[0].type, MEMWIN_MEM_RELEASE);
        EXPECT_EQ(snaps[0].stat, 0x100000u);
        EXPECT_EQ(snaps[0].mapped, m0 - 0x10000);
    }
    // sysFree took n = 64 KiB though only 0x3000 had been added back.
    EXPECT_EQ(memwin_mapped_ready(), m0 - 0x10000);
    {
        NullPrim ns;
        sysUsed(nullptr, 0, 0x10000);
    }
    EXPECT_EQ(memwin_mapped_ready(), m0);
}

TEST(Accounting, SysUsedAddsPreparedNotN)
{
    sysMemStat stat = 0;
    Reservations rs;
    uintptr_t p = rs.add(U(sysReserve(nullptr, 0x40000)));
    ASSERT_NE(p, 0u);
    Deltas d(&stat);
    sysUsed(P(p), 0x40000, 0x2000);
    EXPECT_EQ(d.mapped(), 0x2000);
    EXPECT_EQ(d.stat_delta(), 0);
    EXPECT_EQ(state_of(p + 0x3f000), MEMWIN_MEM_COMMIT) << "all n bytes are committed";
    sysUsed(P(p), 0x40000, 0);
    EXPECT_EQ(d.mapped(), 0x2000);
    sysUnused(P(p), 0x2000);
    EXPECT_EQ(d.mapped(), 0);
}

TEST(Accounting, SysUnusedAndSysFaultSubtractN)
{
    Reservations rs;
    uintptr_t p = rs.add(U(sysReserve(nullptr, 0x30000)));
    ASSERT_NE(p, 0u);
    sysMemStat stat = 0;
    sysUsed(P(p), 0x30000, 0x30000);
    Deltas d(&stat);
    sysUnused(P(p), 0x10000);
    EXPECT_EQ(d.mapped(), -0x10000);
    sysFault(P(p + 0x10000), 0x18000);
    EXPECT_EQ(d.mapped(), -0x28000);
    sysUnused(P(p + 0x28000), 0x8000);
    EXPECT_EQ(d.mapped(), -0x30000);
    EXPECT_EQ(d.stat_delta(), 0);
}

TEST(Accounting, SysFreeSubtractsNFromBoth)
{
    sysMemStat stat = 0x200000;
    uintptr_t p = U(sysReserve(nullptr, 0x20000));
    ASSERT_NE(p, 0u);
    Deltas d(&stat);
    sysFree(P(p), 0x20000, &stat); // a Reserved region: Go does not care
    EXPECT_EQ(d.stat_delta(), -0x20000);
    EXPECT_EQ(d.mapped(), -0x20000);
    EXPECT_EQ(state_of(p), MEMWIN_MEM_FREE);
    NullPrim ns;
    sysUsed(nullptr, 0, 0x20000);
    EXPECT_EQ(d.mapped(), 0);
}

TEST(Accounting, SysMapOnlyAddsToStat)
{
    Reservations rs;
    uintptr_t p = rs.add(U(sysReserve(nullptr, 0x20000)));
    ASSERT_NE(p, 0u);
    sysMemStat stat = 5;
    Deltas d(&stat);
    PrimRecorder rec;
    sysMap(P(p), 0x20000, &stat);
    EXPECT_EQ(d.stat_delta(), 0x20000);
    EXPECT_EQ(d.mapped(), 0);
    EXPECT_EQ(rec.calls().size(), 0u);
    EXPECT_EQ(memwin_stat_load(&stat), 5u + 0x20000u);
}

TEST(Accounting, ReserveUnreserveAlignedAndHugePagesAccountNothing)
{
    sysMemStat stat = 0;
    Deltas d(&stat);
    uintptr_t p = U(sysReserve(nullptr, 0x20000));
    ASSERT_NE(p, 0u);
    EXPECT_EQ(d.mapped(), 0);
    sysHugePage(P(p), 0x20000);
    sysNoHugePage(P(p), 0x20000);
    sysHugePageCollapse(P(p), 0x20000);
    EXPECT_EQ(d.mapped(), 0);
    sysUnreserve(P(p), 0x20000);
    EXPECT_EQ(d.mapped(), 0);
    EXPECT_EQ(state_of(p), MEMWIN_MEM_FREE);
    uintptr_t got = 0;
    uintptr_t a = U(sysReserveAligned(nullptr, 0x20000, 0x400000, &got));
    ASSERT_NE(a, 0u);
    EXPECT_EQ(d.mapped(), 0);
    sysUnreserve(P(a), got);
    EXPECT_EQ(d.mapped(), 0);
    EXPECT_EQ(d.stat_delta(), 0);
}

TEST(Accounting, OsLayerAccountsNothing)
{
    uint64_t m0 = memwin_mapped_ready();
    uintptr_t p = U(sysAllocOS(0x20000));
    ASSERT_NE(p, 0u);
    sysUnusedOS(P(p), 0x10000);
    sysUsedOS(P(p), 0x10000);
    sysFaultOS(P(p), 0x10000);
    sysMapOS(P(p), 0x10000);
    sysHugePageOS(P(p), 0x10000);
    sysFreeOS(P(p), 0x20000);
    uintptr_t r = U(sysReserveOS(nullptr, 0x10000));
    ASSERT_NE(r, 0u);
    sysFreeOS(P(r), 0x10000);
    EXPECT_EQ(memwin_mapped_ready(), m0);
}

TEST(Accounting, StatAddLoadAndGoChecksThatDoNotFire)
{
    FatalCapture fc;
    sysMemStat s = 0;
    memwin_stat_add(&s, 100);
    EXPECT_EQ(memwin_stat_load(&s), 100u);
    memwin_stat_add(&s, -100);
    EXPECT_EQ(memwin_stat_load(&s), 0u);
    memwin_stat_add(&s, 0);
    EXPECT_EQ(memwin_stat_load(&s), 0u);
    memwin_stat_add(&s, std::numeric_limits<int64_t>::max()); // val == n: fine
    EXPECT_EQ(memwin_stat_load(&s), uint64_t(std::numeric_limits<int64_t>::max()));
    // Go's check for d < 0 is int64(val)+d < d; when that sum wraps past
    // the int64 minimum it does not fire although val is "negative".
    sysMemStat w = (uint64_t(1) << 63) + 3;
    memwin_stat_add(&w, -2);
    EXPECT_EQ(memwin_stat_load(&w), (uint64_t(1) << 63) + 1);
    EXPECT_EQ(fc.count(), 0u) << fc.events()[0].printed << fc.events()[0].message;
}

TEST(Accounting, NilStatIsAFatalErrorNotACrash)
{
    // Go would dereference nil; memwin reports it and leaves mapped-ready alone.
    const uint64_t m0 = memwin_mapped_ready();
    FatalCapture fc;
    void *p = sysReserve(nullptr, 0x10000);
    ASSERT_NE(p, nullptr);
    sysMap(p, 0x10000, nullptr);
    ASSERT_EQ(fc.count(), 1u);
    EXPECT_EQ(fc.events()[0].message, "memwin: nil sysMemStat");
    EXPECT_EQ(fc.events()[0].printed, "");
    EXPECT_EQ(memwin_mapped_ready(), m0);
    EXPECT_EQ(state_of(U(p)), uint32_t(MEMWIN_MEM_RESERVE));
    sysFreeOS(p, 0x10000);
}

TEST(Accounting, SysReserveAlignedAcceptsANullSizeOut)
{
    void *p = sysReserveAligned(nullptr, 0x100000, 0x400000, nullptr);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(U(p) % 0x400000, 0u);
    memwin_region_info i = query(p);
    EXPECT_EQ(U(i.allocation_base), U(p));
    sysFreeOS(p, i.region_size); // size or size+align: the query says which
    EXPECT_EQ(state_of(U(p)), uint32_t(MEMWIN_MEM_FREE));
}

TEST(Accounting, MappedReadyWrapsSilently)
{
    FatalCapture fc;
    uint64_t m0 = memwin_mapped_ready();
    // The size below is m0 + 4 KiB: it must fit a uintptr_t (32-bit too).
    ASSERT_LE(m0, uint64_t(UINTPTR_MAX) - 0x1000) << "mapped-ready left unbalanced by a test";
    NullPrim ns;
    sysUnused(P(0x10000), uintptr_t(m0 + 0x1000));
    EXPECT_EQ(memwin_mapped_ready(), uint64_t(0) - 0x1000) << "no check, wraps";
    sysUsed(P(0x10000), 0x1000, uintptr_t(m0 + 0x1000));
    EXPECT_EQ(memwin_mapped_ready(), m0);
    EXPECT_EQ(fc.count(), 0u);
}

TEST(Accounting, ConcurrentStatAddsAreAtomic)
{
    sysMemStat s = 0;
    const int kThreads = 8, kIters = 20000;
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; t++)
        ts.emplace_back([&s, t] {
            for (int i = 0; i < kIters; i++) {
                memwin_stat_add(&s, 5 + t);
                memwin_stat_add(&s, -2);
            }
        });
    for (auto &t : ts)
        t.join();
    uint64_t want = 0;
    for (int t = 0; t < kThreads; t++)
        want += uint64_t(kIters) * uint64_t(3 + t);
    EXPECT_EQ(memwin_stat_load(&s), want);
}

TEST(Accounting, ConcurrentGenericCallsKeepMappedReadyExact)
{
    uint64_t m0 = memwin_mapped_ready();
    sysMemStat stat = 0;
    const int kThreads = 8, kIters = 5000;
    {
        NullPrim ns;
        std::vector<std::thread> ts;
        for (int t = 0; t < kThreads; t++)
            ts.emplace_back([&stat, t] {
                uintptr_t v = 0x10000 * uintptr_t(t + 1);
                for (int i = 0; i < kIters; i++) {
                    void *a = sysAlloc(0x1000, &stat); // +0x1000
                    sysMap(P(v), 0x2000, &stat);        // stat only
                    sysUsed(P(v), 0x2000, 0x800);       // +0x800
                    sysUnused(P(v), 0x400);             // -0x400
                    sysFault(P(v), 0x200);              // -0x200
                    sysFree(a, 0x1000, &stat);          // -0x1000
                }
            });
        for (auto &t : ts)
            t.join();
    }
    EXPECT_EQ(memwin_mapped_ready() - m0, uint64_t(kThreads) * kIters * 0x200);
    EXPECT_EQ(memwin_stat_load(&stat), uint64_t(kThreads) * kIters * 0x2000);
    NullPrim ns;
    sysUnused(P(0x10000), uintptr_t(kThreads) * kIters * 0x200);
    EXPECT_EQ(memwin_mapped_ready(), m0);
}
