// memwin's own bookkeeping allocations failing (Linux emulation and checked
// mode): every call whose allocation is refused fails the way Go's layer
// fails, leaves no mapping and no record behind, and the same call succeeds
// once memory is there again.  The program's malloc and calloc fail on
// request (failing_malloc.h); each test is run in a process of its own (see
// CMakeLists.txt), so the emulation's caches of spare records and index
// leaves start empty.  The tests sweep: refuse from the first allocation on,
// then from the second, ... until the call succeeds, so every allocation on
// the path is refused once, however many there are.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "failing_malloc.h"
#include "memwin.h"
#include "memwin_prim.h"

namespace {

constexpr uintptr_t kGranule = 65536;
// The emulation's granule index has one leaf per 4096 granules (256 MiB).
constexpr uintptr_t kLeafSpan = uintptr_t(4096) * kGranule;

// The start of a range of `size` bytes at a multiple of `align` that nothing
// in the process maps: reserved from the kernel, then given back.  (Not the
// suite's free_area, which reserves through memwin and would leave a spare
// record and an index leaf in the emulation's caches.)
uintptr_t FreeArea(uintptr_t size, uintptr_t align)
{
    void *p = mmap(nullptr, size + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED)
        return 0;
    munmap(p, size + align);
    return (reinterpret_cast<uintptr_t>(p) + align - 1) & ~(align - 1);
}

// No mapping at all on [a, a+n): the kernel's view, not memwin's.
bool Unmapped(uintptr_t a, uintptr_t n)
{
    void *want = reinterpret_cast<void *>(a);
    void *p = mmap(want, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED)
        return false;
    munmap(p, n);
    return p == want;
}

memwin_region_info Query(uintptr_t a)
{
    memwin_region_info info{};
    memwin_query(reinterpret_cast<void *>(a), &info);
    return info;
}

// One granule reserved through the emulation's own VirtualAlloc, at `at` or,
// with 0, where the emulation places it; 0 if refused.
uintptr_t ReserveGranule(uintptr_t at)
{
    return reinterpret_cast<uintptr_t>(memwin_prim_host()->virtual_alloc(
        reinterpret_cast<void *>(at), kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE));
}

// The reservation at a released through the emulation's VirtualFree.
bool Release(uintptr_t a)
{
    return memwin_prim_host()->virtual_free(reinterpret_cast<void *>(a), 0, MEMWIN_MEM_RELEASE) != 0;
}

} // namespace

// The emulation's VirtualAlloc(MEM_RESERVE) across a boundary of two index
// leaves no reservation has used: it allocates its record and a leaf per
// side (fewer once its caches hold spares).  Refusing any of them fails the
// call with ERROR_NOT_ENOUGH_MEMORY and undoes the mapping and the index
// entries made before it (a second leaf refused clears the first's).
TEST(AllocFail, EmulationReserveAcrossTwoNewIndexLeaves)
{
    const memwin_prim *os = memwin_prim_host();
    uintptr_t boundary = FreeArea(2 * kLeafSpan, kLeafSpan) + kLeafSpan;
    ASSERT_NE(boundary, kLeafSpan);
    uintptr_t hint = boundary - kGranule, n = 2 * kGranule;
    void *want = reinterpret_cast<void *>(hint);
    long k = 0;
    for (;; k++) {
        ASSERT_LT(k, 16) << "VirtualAlloc never succeeded";
        auto a = failing_malloc::WithAllocations(
            k, [&] { return os->virtual_alloc(want, n, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE); });
        if (a.result) {
            EXPECT_EQ(a.result, want);
            EXPECT_EQ(a.failed, 0);
            break;
        }
        SCOPED_TRACE("allocations granted: " + std::to_string(k));
        EXPECT_EQ(a.failed, 1); // gave up at the first refusal
        EXPECT_EQ(os->get_last_error(), uint32_t(MEMWIN_ERROR_NOT_ENOUGH_MEMORY));
        EXPECT_TRUE(Unmapped(hint, n));
        EXPECT_EQ(Query(hint).state, MEMWIN_MEM_FREE);
        EXPECT_EQ(Query(boundary).state, MEMWIN_MEM_FREE);
    }
    EXPECT_GE(k, 1) << "no allocation was refused";
    memwin_region_info lo = Query(hint), hi = Query(boundary);
    EXPECT_EQ(lo.state, MEMWIN_MEM_RESERVE);
    EXPECT_EQ(lo.region_size, n);
    EXPECT_EQ(hi.state, MEMWIN_MEM_RESERVE);
    EXPECT_EQ(hi.allocation_base, want);
    EXPECT_TRUE(os->virtual_free(want, 0, MEMWIN_MEM_RELEASE));
    EXPECT_TRUE(Unmapped(hint, n));
}

// The same refusals with another reservation live two leaves below: a
// refused call undoes its own index entries and no others, so the
// reservation below is still found (queried, committed, released) after
// every refusal.
TEST(AllocFail, EmulationRefusedLeafLeavesOtherReservationsAlone)
{
    const memwin_prim *os = memwin_prim_host();
    uintptr_t boundary = FreeArea(3 * kLeafSpan, kLeafSpan) + 2 * kLeafSpan;
    ASSERT_NE(boundary, 2 * kLeafSpan);
    const uintptr_t below = boundary - 2 * kLeafSpan + kGranule, hint = boundary - kGranule;
    void *b = os->virtual_alloc(reinterpret_cast<void *>(below), kGranule, MEMWIN_MEM_RESERVE,
                                MEMWIN_PAGE_READWRITE);
    ASSERT_EQ(reinterpret_cast<uintptr_t>(b), below);
    void *want = reinterpret_cast<void *>(hint);
    long k = 0;
    for (;; k++) {
        ASSERT_LT(k, 16) << "VirtualAlloc never succeeded";
        auto a = failing_malloc::WithAllocations(k, [&] {
            return os->virtual_alloc(want, 2 * kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
        });
        SCOPED_TRACE("allocations granted: " + std::to_string(k));
        memwin_region_info q = Query(below);
        EXPECT_EQ(q.state, MEMWIN_MEM_RESERVE);
        EXPECT_EQ(q.allocation_base, b);
        EXPECT_EQ(q.region_size, kGranule);
        if (a.result)
            break;
    }
    EXPECT_GE(k, 2) << "no leaf was refused";
    EXPECT_EQ(os->virtual_alloc(b, kGranule, MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE), b);
    EXPECT_TRUE(os->virtual_free(b, 0, MEMWIN_MEM_RELEASE));
    EXPECT_TRUE(os->virtual_free(want, 0, MEMWIN_MEM_RELEASE));
    EXPECT_EQ(Query(below).state, MEMWIN_MEM_FREE);
}

// Go's sysReserveOS with a hint tries the hint, then anywhere: with every
// allocation refused both attempts fail, and it returns nil.
TEST(AllocFail, ReserveOSReturnsNil)
{
    uintptr_t hint = FreeArea(kGranule, kGranule);
    ASSERT_NE(hint, 0u);
    auto a = failing_malloc::WithAllocations(
        0, [&] { return sysReserveOS(reinterpret_cast<void *>(hint), kGranule); });
    EXPECT_EQ(a.result, nullptr);
    EXPECT_EQ(a.failed, 2);
    EXPECT_TRUE(Unmapped(hint, kGranule));
    void *p = sysReserveOS(reinterpret_cast<void *>(hint), kGranule);
    EXPECT_EQ(p, reinterpret_cast<void *>(hint));
    sysFreeOS(p, kGranule);
}

// Prepared -> Ready and Ready -> Prepared on part of a reservation need the
// emulation's per-page array.  Without it the OS call fails with errno 8,
// which Go's layer reports as its own fatal error; recoverable mode returns
// it, and the pages are as they were.
TEST(AllocFail, PartialCommitAndDecommitRecoverable)
{
    ASSERT_NE(memwin_set_mode(MEMWIN_MODE_RECOVERABLE), -1);
    const uintptr_t n = 4 * kGranule;
    char *v = static_cast<char *>(sysReserveOS(nullptr, n));
    ASSERT_NE(v, nullptr);
    uintptr_t a = reinterpret_cast<uintptr_t>(v);
    sysMapOS(v, n); // Reserved -> Prepared (no OS call on Windows)

    auto used = failing_malloc::WithAllocations(0, [&] { return sysUsedOS(v, 4096), nullptr; });
    EXPECT_GE(used.failed, 1);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_OS));
    EXPECT_STREQ(memwin_last_error_message(),
                 "runtime: VirtualAlloc of 4096 bytes failed with errno=8\nfatal error: out of memory");
    EXPECT_EQ(Query(a).state, MEMWIN_MEM_RESERVE);
    EXPECT_EQ(Query(a).region_size, n);

    sysUsedOS(v, n);
    ASSERT_EQ(memwin_last_error(), 0u);
    v[0] = 42;
    auto unused = failing_malloc::WithAllocations(0, [&] { return sysUnusedOS(v, 4096), nullptr; });
    EXPECT_GE(unused.failed, 1);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_OS));
    // Go prints the piece it gave up at: 4096 halved and rounded down to 0.
    EXPECT_STREQ(memwin_last_error_message(),
                 "runtime: VirtualFree of 0 bytes failed with errno=8\n"
                 "fatal error: runtime: failed to decommit pages");
    EXPECT_EQ(Query(a).state, MEMWIN_MEM_COMMIT);
    EXPECT_EQ(Query(a).region_size, n);
    EXPECT_EQ(v[0], 42);

    // With memory back, both partial transitions go through.
    sysUnusedOS(v, 4096);
    EXPECT_EQ(memwin_last_error(), 0u);
    EXPECT_EQ(Query(a).state, MEMWIN_MEM_RESERVE);
    EXPECT_EQ(Query(a).region_size, 4096u);
    sysFreeOS(v, n);
    EXPECT_EQ(memwin_last_error(), 0u);
    EXPECT_TRUE(Unmapped(a, n));
}

// The same in the default (exact) mode: Go's fatal error and exit status 2.
TEST(AllocFail, PartialCommitExactDiesLikeGo)
{
    void *v = sysReserveOS(nullptr, 4 * kGranule);
    ASSERT_NE(v, nullptr);
    EXPECT_EXIT(
        {
            failing_malloc::Arm(0);
            sysUsedOS(v, 4096);
            failing_malloc::Disarm();
            std::fprintf(stderr, "survived\n");
            std::_Exit(0);
        },
        testing::ExitedWithCode(2),
        "^runtime: VirtualAlloc of 4096 bytes failed with errno=8\nfatal error: out of memory\n$");
}

// Checked mode, None -> Reserved: before the OS reservation the tracker
// allocates its record (page states included).  When that is refused the
// call is refused as out of memory, before any effect; a refusal inside the
// OS layer is Go's plain failed reservation (nil, no error).  Two sweeps:
// the second starts with the emulation's caches warm.
TEST(AllocFail, CheckedReserveTrackerRecordRecoverable)
{
    ASSERT_NE(memwin_set_mode(MEMWIN_MODE_RECOVERABLE), -1);
    uintptr_t hint = FreeArea(kGranule, kGranule);
    ASSERT_NE(hint, 0u);
    void *want = reinterpret_cast<void *>(hint);
    char message[160];
    std::snprintf(message, sizeof message,
                  "runtime: sysReserve(0x%llx, 65536): out of memory for the tracker\n"
                  "fatal error: out of memory",
                  (unsigned long long)hint);
    long os_refusals = 0, tracker_refusals = 0;
    for (int sweep = 0; sweep < 2; sweep++) {
        for (long k = 0;; k++) {
            ASSERT_LT(k, 16) << "sysReserve never succeeded";
            auto a = failing_malloc::WithAllocations(k, [&] { return sysReserve(want, kGranule); });
            if (a.result) {
                EXPECT_EQ(a.result, want);
                EXPECT_EQ(memwin_last_error(), 0u);
                break;
            }
            SCOPED_TRACE("sweep " + std::to_string(sweep) + ", allocations granted: " +
                         std::to_string(k));
            EXPECT_GE(a.failed, 1);
            if (memwin_last_error() == 0) {
                os_refusals++;
            } else {
                tracker_refusals++;
                EXPECT_EQ(a.failed, 1);
                EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_OS));
                EXPECT_STREQ(memwin_last_error_message(), message);
            }
            EXPECT_TRUE(Unmapped(hint, kGranule));
            EXPECT_EQ(Query(hint).state, MEMWIN_MEM_FREE);
        }
        if (sweep == 0) {
            sysFreeOS(want, kGranule);
            ASSERT_EQ(memwin_last_error(), 0u);
        }
    }
    EXPECT_GE(os_refusals, 1);
    EXPECT_GE(tracker_refusals, 2) << "the tracker's record, in each sweep";
    // The tracker knows the reservation: the whole handshake is accepted.
    sysMemStat stat = 0;
    sysMap(want, kGranule, &stat);
    sysUsed(want, kGranule, kGranule);
    EXPECT_EQ(memwin_last_error(), 0u);
    EXPECT_EQ(Query(hint).state, MEMWIN_MEM_COMMIT);
    sysFree(want, kGranule, &stat);
    EXPECT_EQ(memwin_last_error(), 0u);
    EXPECT_EQ(stat, 0u);
    EXPECT_TRUE(Unmapped(hint, kGranule));
}

// sysReserveAligned refused by the tracker reports nothing reserved.
TEST(AllocFail, CheckedReserveAlignedTrackerRefusal)
{
    ASSERT_NE(memwin_set_mode(MEMWIN_MODE_RECOVERABLE), -1);
    const uintptr_t size = 4 * kGranule, align = 4 * kGranule;
    long tracker_refusals = 0;
    for (long k = 0;; k++) {
        ASSERT_LT(k, 32) << "sysReserveAligned never succeeded";
        uintptr_t reserved = 12345;
        auto a = failing_malloc::WithAllocations(
            k, [&] { return sysReserveAligned(nullptr, size, align, &reserved); });
        if (a.result) {
            EXPECT_EQ(reinterpret_cast<uintptr_t>(a.result) % align, 0u);
            // Go keeps the first reservation of size+align when it happens
            // to be aligned, else reserves size at the aligned address.
            EXPECT_TRUE(reserved == size || reserved == size + align) << reserved;
            sysFreeOS(a.result, reserved);
            EXPECT_EQ(memwin_last_error(), 0u);
            break;
        }
        SCOPED_TRACE("allocations granted: " + std::to_string(k));
        EXPECT_EQ(reserved, 0u);
        if (memwin_last_error() != 0) {
            tracker_refusals++;
            EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_OS));
            EXPECT_EQ(std::string(memwin_last_error_message()).rfind("runtime: sysReserveAligned(0x0, ", 0), 0u)
                << memwin_last_error_message();
            EXPECT_NE(std::string(memwin_last_error_message()).find("out of memory for the tracker\nfatal error: out of memory"),
                      std::string::npos);
        }
    }
    EXPECT_GE(tracker_refusals, 1);
}

// Checked mode without recovery: the tracker's refusal is a fatal error.
TEST(AllocFail, CheckedReserveTrackerRecordDies)
{
    ASSERT_NE(memwin_set_mode(MEMWIN_MODE_CHECKED), -1);
    uintptr_t hint = FreeArea(kGranule, kGranule);
    ASSERT_NE(hint, 0u);
    char want[200];
    std::snprintf(want, sizeof want,
                  "^runtime: sysReserve\\(0x%llx, 65536\\): out of memory for the tracker\n"
                  "fatal error: out of memory\n$",
                  (unsigned long long)hint);
    EXPECT_EXIT(
        {
            // Refuse later and later allocations: the OS layer's refusals
            // return nil, the first of the tracker's is fatal.
            for (long k = 0; k < 16; k++) {
                failing_malloc::Arm(k);
                void *p = sysReserve(reinterpret_cast<void *>(hint), kGranule);
                failing_malloc::Disarm();
                if (p)
                    sysFreeOS(p, kGranule);
            }
            std::fprintf(stderr, "survived\n");
            std::_Exit(0);
        },
        testing::ExitedWithCode(2), want);
}

// The emulation's free holes (src/emu/prim_linux.c) with malloc failing.
// In a process of its own (the hole records' cache starts empty):
//   1. 100 one-granule reservations X, each between live ones, released and
//      pushed out of the 64-range quarantine by 64 more releases (of
//      adjacent fillers F) become 100 holes, then are each reserved again at
//      their address: the 100 hole records retire, and the emulation keeps
//      64 of them for reuse;
//   2. with every malloc refused, the Xs are released again and pushed out
//      of the quarantine: the first leaving filler takes one kept record
//      (the other fillers join its hole), the Xs the 63 others; the rest of
//      the Xs cannot become holes (the release itself still succeeds);
//   3. with malloc back, reservations without an address take the highest
//      hole each: exactly the 63 highest Xs, then the fillers' hole.
// So a release made while malloc fails is still reused as far as the kept
// records go, and one that finds none is simply not reused.
TEST(AllocFail, EmuHolesKeptRecordsServeWhileMallocFails)
{
    constexpr uintptr_t G = kGranule;
    constexpr int kX = 100, kFill = 128, kQuarantine = 64, kKept = 64;
    const auto reserve = ReserveGranule;
    const auto release = Release;
    ASSERT_NE(reserve(0), 0u); // placed by the kernel: the zone goes below it
    const uintptr_t top = reserve(0);
    ASSERT_NE(top, 0u);
    uintptr_t x[kX], s[kX], f[kFill];
    for (int i = 0; i < kX; i++) {
        x[i] = reserve(0);
        s[i] = reserve(0);
        ASSERT_EQ(x[i], top - (2 * uintptr_t(i) + 1) * G) << "the zone grows down";
        ASSERT_EQ(s[i], x[i] - G);
    }
    for (int i = 0; i < kFill; i++) {
        f[i] = reserve(0);
        ASSERT_EQ(f[i], s[kX - 1] - (uintptr_t(i) + 1) * G);
    }
    for (int i = 0; i < kX; i++)
        ASSERT_TRUE(release(x[i]));
    for (int i = 0; i < kQuarantine; i++)
        ASSERT_TRUE(release(f[i]));
    for (int i = 0; i < kX; i++)
        ASSERT_EQ(reserve(x[i]), x[i]); // each takes a whole hole
    failing_malloc::Arm(0);
    bool released = true;
    for (int i = 0; i < kX; i++)
        released = release(x[i]) && released;
    for (int i = kQuarantine; i < kFill; i++)
        released = release(f[i]) && released;
    const long failed = failing_malloc::Failed();
    failing_malloc::Disarm();
    ASSERT_TRUE(released);
    EXPECT_GT(failed, 0) << "some X found no kept record";
    for (int i = 0; i < kKept - 1; i++)
        EXPECT_EQ(reserve(0), x[i]) << "X " << i << " should be a hole";
    EXPECT_EQ(reserve(0), f[0]) << "after 63 Xs, the fillers' hole (its top)";
}

// A range leaving the quarantine whose hole record malloc refuses: the range
// is given up at that one refusal (the release that pushed it out still
// succeeds) and is not reused.  In a process of its own (no hole and no kept
// record yet): X lies between two live reservations, so its hole would join
// none and needs a new record; 64 later releases of fillers F push it out,
// the last of them with every malloc refused.  After it, a reservation
// without an address goes below the zone's bottom, not to X.
TEST(AllocFail, EmuHoleRecordRefusedIsNotAskedForAgain)
{
    constexpr uintptr_t G = kGranule;
    constexpr int kFill = 64; // the quarantine holds 64 ranges
    const auto reserve = ReserveGranule;
    const auto release = Release;
    ASSERT_NE(reserve(0), 0u); // placed by the kernel: the zone goes below it
    const uintptr_t top = reserve(0);
    ASSERT_NE(top, 0u);
    const uintptr_t x = reserve(0), below = reserve(0);
    ASSERT_EQ(x, top - G) << "the zone grows down";
    ASSERT_EQ(below, x - G);
    uintptr_t f[kFill];
    for (int i = 0; i < kFill; i++) {
        f[i] = reserve(0);
        ASSERT_EQ(f[i], below - (uintptr_t(i) + 1) * G);
    }
    ASSERT_TRUE(release(x));
    for (int i = 0; i < kFill - 1; i++)
        ASSERT_TRUE(release(f[i]));
    const auto last = failing_malloc::WithAllocations(0, [&] { return release(f[kFill - 1]); });
    ASSERT_TRUE(last.result) << "a release succeeds without a hole record";
    EXPECT_EQ(last.failed, 1) << "X's hole record was asked for once";
    EXPECT_EQ(reserve(0), f[kFill - 1] - G) << "X is not a hole: the next one goes below the zone";
    EXPECT_EQ(Query(x).state, uint32_t(MEMWIN_MEM_FREE));
}
