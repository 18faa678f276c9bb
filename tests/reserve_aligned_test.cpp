// memwin_reserve_aligned (memwin's extra, not Go's): an aligned reservation
// in one OS call, against Go's release-and-re-reserve sequence
// (sysReserveAligned), which another thread can beat to the aligned range.
#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include "test_util.h"

using namespace mwt;

namespace {

constexpr uintptr_t kAlign = 4 * kMiB, kSize = kMiB;

// Every reservation here must be one whole reservation of exactly size bytes.
::testing::AssertionResult one_reservation(void *p, uintptr_t size, uintptr_t align)
{
    if (!p)
        return ::testing::AssertionFailure() << "no reservation";
    if (U(p) % align)
        return ::testing::AssertionFailure() << P(U(p)) << " is not a multiple of " << align;
    return region_is(U(p), MEMWIN_MEM_RESERVE, 0, U(p), size);
}

TEST(ReserveAlignedOneCall, OneCallExactSize)
{
    ASSERT_EQ(memwin_reserve_aligned_native(), 1) << "both hosts offer the one-call reservation";
    // A 2 GiB address space has one 1 GiB boundary, 0x40000000, which Wine's
    // WoW64 itself reserves: there the largest alignment is 256 MiB.
    const uintptr_t largest = sizeof(void *) == 4 ? uintptr_t(256) << 20 : uintptr_t(1) << 30;
    for (uintptr_t align : {kGranule * 2, kMiB, kAlign, 64 * kMiB, largest}) {
        PrimRecorder rec;
        uintptr_t reserved = 7;
        void *p = memwin_reserve_aligned(nullptr, kSize, align, &reserved);
        std::vector<PrimCall> calls = rec.calls();
        ASSERT_TRUE(one_reservation(p, kSize, align)) << "align " << align;
        EXPECT_EQ(reserved, kSize);
        ASSERT_EQ(calls.size(), 1u) << to_string(calls);
        EXPECT_EQ(calls[0].op, PrimCall::kAllocAligned);
        EXPECT_EQ(calls[0].addr, align);
        EXPECT_EQ(calls[0].type, MEMWIN_MEM_RESERVE);
        sysFreeOS(p, reserved);
        EXPECT_EQ(state_of(U(p)), MEMWIN_MEM_FREE);
    }
}

// Checked mode makes the same one call (and tracks what it gave), not Go's
// release-and-re-reserve sequence.
TEST(ReserveAlignedOneCall, CheckedModeTakesOneCall)
{
    ModeScope mode(MEMWIN_MODE_RECOVERABLE);
    PrimRecorder rec;
    uintptr_t reserved = 7;
    void *p = memwin_reserve_aligned(nullptr, kSize, kAlign, &reserved);
    EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    ASSERT_TRUE(one_reservation(p, kSize, kAlign));
    EXPECT_EQ(reserved, kSize);
    EXPECT_EQ(rec.count(PrimCall::kAllocAligned), 1u) << to_string(rec.calls());
    EXPECT_EQ(rec.count(PrimCall::kAlloc), 0u) << to_string(rec.calls());
    sysFreeOS(p, reserved);
    EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    EXPECT_EQ(state_of(U(p)), MEMWIN_MEM_FREE);
}

TEST(ReserveAlignedOneCall, SmallAlignIsAPlainReservation)
{
    // Every reservation starts at a 64 KiB boundary: one VirtualAlloc.
    PrimRecorder rec;
    uintptr_t reserved = 0;
    void *p = memwin_reserve_aligned(nullptr, kSize, kGranule, &reserved);
    ASSERT_TRUE(one_reservation(p, kSize, kGranule));
    EXPECT_EQ(reserved, kSize);
    EXPECT_EQ(rec.count(PrimCall::kAlloc, MEMWIN_MEM_RESERVE), 1u) << to_string(rec.calls());
    EXPECT_EQ(rec.count(PrimCall::kAllocAligned), 0u);
    sysFreeOS(p, reserved);
}

// The probe asks the OS once, for what memwin_reserve_aligned would ask
// (64 KiB reserved read-write at a multiple of 128 KiB, an alignment only the
// aligned call guarantees), and gives it back.
TEST(ReserveAlignedOneCall, NativeProbeAsksOnceAndReleases)
{
    PrimRecorder rec;
    ASSERT_EQ(memwin_reserve_aligned_native(), 1);
    std::vector<PrimCall> calls = rec.calls();
    ASSERT_EQ(calls.size(), 2u) << to_string(calls);
    EXPECT_EQ(calls[0].op, PrimCall::kAllocAligned);
    EXPECT_EQ(calls[0].addr, 2 * kGranule) << "the alignment asked for";
    EXPECT_EQ(calls[0].size, kGranule);
    EXPECT_EQ(calls[0].type, MEMWIN_MEM_RESERVE);
    EXPECT_EQ(calls[0].protect, MEMWIN_PAGE_READWRITE);
    ASSERT_NE(calls[0].result, 0u);
    EXPECT_EQ(calls[1].op, PrimCall::kFree);
    EXPECT_EQ(calls[1].addr, calls[0].result);
    EXPECT_EQ(calls[1].size, 0u);
    EXPECT_EQ(calls[1].type, MEMWIN_MEM_RELEASE);
    EXPECT_EQ(state_of(calls[0].result), MEMWIN_MEM_FREE) << "the probe left its reservation";
}

// When the OS refuses the probe, the answer is 0 and nothing is released.
TEST(ReserveAlignedOneCall, NativeProbeRefusedIsZero)
{
    FaultGuard fault(MEMWIN_FAULT_RESERVE, 1, 1, MEMWIN_ERROR_NOT_ENOUGH_MEMORY);
    PrimRecorder rec;
    EXPECT_EQ(memwin_reserve_aligned_native(), 0);
    EXPECT_EQ(rec.count(PrimCall::kFree), 0u) << to_string(rec.calls());
}

// A refused reservation reports *reserved = 0 on every path: a small
// alignment (a plain reservation) and a large one (the one call).
TEST(ReserveAlignedOneCall, RefusedReservationReportsZero)
{
    for (uintptr_t align : {kPage, kGranule, kAlign}) {
        FaultGuard fault(MEMWIN_FAULT_RESERVE, 1, 0, MEMWIN_ERROR_NOT_ENOUGH_MEMORY);
        uintptr_t reserved = 7;
        EXPECT_EQ(memwin_reserve_aligned(nullptr, kSize, align, &reserved), nullptr) << align;
        EXPECT_EQ(reserved, 0u) << align;
        // The same through sysReserveAligned with the one-call policy on.
        const int old = memwin_set_reserve_aligned_one_call(1);
        reserved = 7;
        EXPECT_EQ(sysReserveAligned(nullptr, kSize, align, &reserved), nullptr) << align;
        EXPECT_EQ(reserved, 0u) << "policy, align " << align;
        memwin_set_reserve_aligned_one_call(old);
    }
}

// Alignments up to 64 KiB never use the aligned call: every reservation
// starts at a 64 KiB boundary.  The reservation's protection is read-write.
TEST(ReserveAlignedOneCall, SmallAlignNeverUsesTheAlignedCall)
{
    for (uintptr_t align : {kPage, 2 * kPage, kGranule}) {
        PrimRecorder rec;
        uintptr_t reserved = 0;
        void *p = memwin_reserve_aligned(nullptr, kSize, align, &reserved);
        ASSERT_TRUE(one_reservation(p, kSize, align)) << align;
        EXPECT_EQ(rec.count(PrimCall::kAllocAligned), 0u) << align << "\n" << to_string(rec.calls());
        sysFreeOS(p, reserved);
    }
    uintptr_t reserved = 0;
    void *p = memwin_reserve_aligned(nullptr, kSize, kAlign, &reserved);
    memwin_region_info info{};
    ASSERT_EQ(memwin_query(p, &info), 0u);
    EXPECT_EQ(info.allocation_protect, uint32_t(MEMWIN_PAGE_READWRITE));
    sysFreeOS(p, reserved);
}

// A hint that is an odd multiple of align is aligned too: it is tried first.
TEST(ReserveAlignedOneCall, OddMultipleHintIsTaken)
{
    uintptr_t area = free_area(kAlign + kSize, 2 * kAlign);
    ASSERT_NE(area, 0u);
    uintptr_t hint = area + kAlign; // a multiple of kAlign, not of 2 * kAlign
    uintptr_t reserved = 0;
    void *p = memwin_reserve_aligned(P(hint), kSize, kAlign, &reserved);
    EXPECT_EQ(U(p), hint);
    EXPECT_EQ(reserved, kSize);
    if (p)
        sysFreeOS(p, reserved);
}

TEST(ReserveAlignedOneCall, AlignedHintFirst)
{
    uintptr_t hint = free_area(kSize, kAlign);
    ASSERT_NE(hint, 0u);
    PrimRecorder rec;
    uintptr_t reserved = 0;
    void *p = memwin_reserve_aligned(P(hint), kSize, kAlign, &reserved);
    ASSERT_EQ(U(p), hint) << to_string(rec.calls());
    EXPECT_TRUE(one_reservation(p, kSize, kAlign));
    EXPECT_EQ(reserved, kSize);
    ASSERT_EQ(rec.calls().size(), 1u) << to_string(rec.calls());
    EXPECT_EQ(rec.calls()[0].op, PrimCall::kAlloc);
    EXPECT_EQ(rec.calls()[0].addr, hint);
    // The hint taken: the next call falls back to an aligned reservation anywhere.
    rec.clear();
    uintptr_t reserved2 = 0;
    void *q = memwin_reserve_aligned(P(hint), kSize, kAlign, &reserved2);
    EXPECT_TRUE(one_reservation(q, kSize, kAlign));
    EXPECT_NE(U(q), hint);
    EXPECT_EQ(rec.count(PrimCall::kAlloc), 1u) << to_string(rec.calls());
    EXPECT_EQ(rec.count(PrimCall::kAllocAligned), 1u);
    sysFreeOS(q, reserved2);
    sysFreeOS(p, reserved);
}

TEST(ReserveAlignedOneCall, BadArgumentsFailWithoutCallingTheOS)
{
    struct Case {
        uintptr_t v, size, align;
    } cases[] = {
        {0, 0, kAlign},                       // zero size
        {0, kSize + 1, kAlign},               // not a page multiple
        {0, kSize, 3 * kMiB},                 // not a power of two
        {0, kSize, 2048},                     // below a page
        {0, kSize, 0},                        // zero
        {0x10001, kSize, kAlign},             // unaligned hint
        {0, UINTPTR_MAX & ~(kPage - 1), kAlign}, // size + align wraps
        {UINTPTR_MAX & ~(kPage - 1), 2 * kPage, kAlign}, // v + size wraps
    };
    for (const Case &c : cases) {
        PrimRecorder rec;
        uintptr_t reserved = 7;
        EXPECT_EQ(memwin_reserve_aligned(P(c.v), c.size, c.align, &reserved), nullptr)
            << c.v << " " << c.size << " " << c.align;
        EXPECT_EQ(reserved, 0u);
        EXPECT_TRUE(rec.calls().empty()) << to_string(rec.calls());
    }
    // A null out-parameter is allowed.
    void *p = memwin_reserve_aligned(nullptr, kSize, kAlign, nullptr);
    EXPECT_TRUE(one_reservation(p, kSize, kAlign));
    sysFreeOS(p, kSize);
}

// Arguments at the edges of the checks that are still valid: each must reach
// the OS and give one aligned reservation of the size asked for.
TEST(ReserveAlignedOneCall, ValidArgumentsAtTheEdgesAreReserved)
{
    // A whole number of pages that is not a whole number of 64 KiB granules.
    {
        uintptr_t reserved = 0;
        void *p = memwin_reserve_aligned(nullptr, 5 * kPage, kAlign, &reserved);
        EXPECT_TRUE(one_reservation(p, 5 * kPage, kAlign));
        EXPECT_EQ(reserved, 5 * kPage);
        if (p)
            sysFreeOS(p, reserved);
    }
    // size * align and hint * size are 2^(pointer bits), which wraps to 0,
    // while size + align and hint + size do not wrap: 4 GiB at a 4 GiB
    // boundary hinted at 4 GiB on 64-bit hosts, 64 KiB at 64 KiB hinted at
    // 64 KiB on 32-bit ones.  A check that multiplied would refuse it.
    const uintptr_t half = uintptr_t(1) << (sizeof(uintptr_t) * 4);
    PrimRecorder rec;
    uintptr_t reserved = 0;
    void *p = memwin_reserve_aligned(P(half), half, half, &reserved);
    EXPECT_TRUE(one_reservation(p, half, half));
    EXPECT_EQ(reserved, half);
    EXPECT_GE(rec.count(PrimCall::kAlloc) + rec.count(PrimCall::kAllocAligned), 1u)
        << "the arguments reach the OS\n" << to_string(rec.calls());
    if (p)
        sysFreeOS(p, reserved);
}

TEST(ReserveAlignedOneCall, OSRefusalIsNotRetried)
{
    FaultGuard fault(MEMWIN_FAULT_RESERVE, 1, 1, MEMWIN_ERROR_NOT_ENOUGH_MEMORY);
    uintptr_t reserved = 7;
    EXPECT_EQ(memwin_reserve_aligned(nullptr, kSize, kAlign, &reserved), nullptr);
    EXPECT_EQ(reserved, 0u);
    EXPECT_EQ(memwin_fault_seen(), 1u) << "one call, no fallback to Go's sequence";
    EXPECT_EQ(memwin_prim_current()->get_last_error(), MEMWIN_ERROR_NOT_ENOUGH_MEMORY);
}

TEST(ReserveAlignedOneCall, FaultInjectionCountsAndPassesTheOneCall)
{
    {
        // The second reservation fails; the first passes through the injector.
        FaultGuard fault(MEMWIN_FAULT_RESERVE, 2, 1, MEMWIN_ERROR_COMMITMENT_LIMIT);
        uintptr_t r1 = 0, r2 = 7;
        void *p = memwin_reserve_aligned(nullptr, kSize, kAlign, &r1);
        EXPECT_TRUE(one_reservation(p, kSize, kAlign));
        EXPECT_EQ(memwin_reserve_aligned(nullptr, kSize, kAlign, &r2), nullptr);
        EXPECT_EQ(r2, 0u);
        EXPECT_EQ(memwin_fault_seen(), 2u);
        EXPECT_EQ(memwin_fault_failed(), 1u);
        sysFreeOS(p, r1);
    }
    EXPECT_EQ(memwin_fault_set(0, 1, 1, 8), MEMWIN_ERROR_INVALID_PARAMETER) << "no operation class";
    EXPECT_EQ(memwin_fault_set(MEMWIN_FAULT_RESERVE, 0, 1, 8), MEMWIN_ERROR_INVALID_PARAMETER)
        << "calls count from 1";
}

// The host's table without the aligned entry: an OS that has no such call.
const memwin_prim *no_aligned_table()
{
    static memwin_prim t;
    t = memwin_prim{};
    memwin_prim_forward(&t, memwin_prim_host())->virtual_alloc_aligned = nullptr;
    return &t;
}

// Through sysReserveAligned with the one-call policy on, Go's hint is not
// checked first: one that is not a multiple of align (here not even of a
// page) is ignored, never tried.
TEST(ReserveAlignedOneCall, PolicyIgnoresAnUnalignedHint)
{
    const uintptr_t area = free_area(kSize, kAlign);
    ASSERT_NE(area, 0u);
    const int old = memwin_set_reserve_aligned_one_call(1);
    for (uintptr_t hint : {area + 1, area + kPage, area + kGranule}) {
        uintptr_t reserved = 0;
        PrimRecorder rec;
        void *p = sysReserveAligned(P(hint), kSize, kAlign, &reserved);
        std::vector<PrimCall> calls = rec.calls();
        EXPECT_TRUE(one_reservation(p, kSize, kAlign)) << hint;
        ASSERT_EQ(calls.size(), 1u) << to_string(calls);
        EXPECT_EQ(calls[0].op, PrimCall::kAllocAligned);
        if (p)
            sysFreeOS(p, reserved);
    }
    memwin_set_reserve_aligned_one_call(old);
}

// A table without the aligned call, nothing above it: memwin itself must
// see the missing entry (no recorder or injector stands in for it).
TEST(ReserveAlignedOneCall, TableWithoutTheCallItself)
{
    uintptr_t reserved = 0;
    void *p;
    {
        PrimSwap swap(no_aligned_table());
        p = memwin_reserve_aligned(nullptr, kSize, kAlign, &reserved);
    }
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(U(p) % kAlign, 0u);
    EXPECT_TRUE(reserved == kSize || reserved == kSize + kAlign) << "Go's sequence ran";
    sysFreeOS(p, reserved);
}

// Only ERROR_CALL_NOT_IMPLEMENTED from the aligned call means "no such call,
// run Go's sequence"; memwin clears the error first, so a failing call that
// sets no error is a refusal even when an earlier call left 120 behind.
void *silent_failure(uintptr_t, uintptr_t, uint32_t, uint32_t)
{
    return nullptr;
}

TEST(ReserveAlignedOneCall, StaleNotImplementedIsNoFallback)
{
    static memwin_prim t;
    t = memwin_prim{};
    memwin_prim_forward(&t, memwin_prim_host())->virtual_alloc_aligned = silent_failure;
    uintptr_t reserved = 7;
    void *p;
    {
        PrimSwap swap(&t);
        PrimRecorder rec;
        memwin_prim_current()->set_last_error(MEMWIN_ERROR_CALL_NOT_IMPLEMENTED);
        p = memwin_reserve_aligned(nullptr, kSize, kAlign, &reserved);
        EXPECT_EQ(rec.count(PrimCall::kAlloc), 0u) << "Go's sequence ran:\n" << to_string(rec.calls());
    }
    EXPECT_EQ(p, nullptr);
    EXPECT_EQ(reserved, 0u);
    if (p)
        sysFreeOS(p, reserved);
}

TEST(ReserveAlignedOneCall, InjectorOverATableWithoutTheCallFallsBack)
{
    uintptr_t reserved = 0;
    void *p;
    {
        PrimSwap swap(no_aligned_table());
        FaultGuard fault(MEMWIN_FAULT_COMMIT, 1, 1, 8); // armed, never hit here
        p = memwin_reserve_aligned(nullptr, kSize, kAlign, &reserved);
    }
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(U(p) % kAlign, 0u);
    EXPECT_TRUE(reserved == kSize || reserved == kSize + kAlign) << "Go's sequence ran";
    sysFreeOS(p, reserved);
}

TEST(ReserveAlignedOneCall, WithoutTheOSCallRunsGosSequence)
{
    uintptr_t reserved = 0;
    void *p;
    std::vector<PrimCall> calls;
    {
        PrimSwap swap(no_aligned_table());
        EXPECT_EQ(memwin_reserve_aligned_native(), 0);
        PrimRecorder rec;
        p = memwin_reserve_aligned(nullptr, kSize, kAlign, &reserved);
        calls = rec.calls();
    }
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(U(p) % kAlign, 0u);
    EXPECT_TRUE(reserved == kSize || reserved == kSize + kAlign) << reserved;
    EXPECT_TRUE(one_reservation(p, reserved, kAlign));
    // The recorder reports the missing call, then Go's first reservation.
    ASSERT_GE(calls.size(), 2u) << to_string(calls);
    EXPECT_EQ(calls[0].op, PrimCall::kAllocAligned);
    EXPECT_EQ(calls[0].error, MEMWIN_ERROR_CALL_NOT_IMPLEMENTED);
    EXPECT_EQ(calls[1].op, PrimCall::kAlloc);
    EXPECT_EQ(calls[1].size, kSize + kAlign);
    sysFreeOS(p, reserved);
}

TEST(ReserveAlignedOneCall, PolicyMakesSysReserveAlignedOneCall)
{
    EXPECT_EQ(memwin_set_reserve_aligned_one_call(1), 0) << "Go's sequence is the default";
    uintptr_t reserved = 0;
    void *p;
    {
        PrimRecorder rec;
        p = sysReserveAligned(nullptr, kSize, kAlign, &reserved);
        EXPECT_EQ(rec.calls().size(), 1u) << to_string(rec.calls());
    }
    EXPECT_EQ(memwin_set_reserve_aligned_one_call(0), 1);
    ASSERT_TRUE(one_reservation(p, kSize, kAlign));
    EXPECT_EQ(reserved, kSize);
    sysFreeOS(p, reserved);
    // Back to Go's sequence: its first call reserves size + align.
    PrimRecorder rec;
    p = sysReserveAligned(nullptr, kSize, kAlign, &reserved);
    ASSERT_FALSE(rec.calls().empty());
    EXPECT_EQ(rec.calls()[0].size, kSize + kAlign) << to_string(rec.calls());
    sysFreeOS(p, reserved);
}

TEST(ReserveAlignedOneCall, CheckedModeRefusesAndTracks)
{
    ModeScope mode(MEMWIN_MODE_RECOVERABLE);
    uintptr_t reserved = 7;
    EXPECT_EQ(memwin_reserve_aligned(nullptr, kSize, 3 * kMiB, &reserved), nullptr);
    EXPECT_EQ(reserved, 0u);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_ALIGN));
    EXPECT_NE(std::string(memwin_last_error_message()).find("memwin_reserve_aligned"),
              std::string::npos)
        << memwin_last_error_message();
    void *p = memwin_reserve_aligned(nullptr, kSize, kAlign, &reserved);
    ASSERT_TRUE(one_reservation(p, kSize, kAlign));
    EXPECT_EQ(memwin_last_error(), 0u);
    // Tracked as Reserved: sysUsedOS before sysMapOS breaks the handshake.
    sysUsedOS(p, kPage);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_STATE));
    sysMapOS(p, kSize);
    sysUsedOS(p, kPage);
    EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    sysFreeOS(p, kSize);
    EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    sysFreeOS(p, kSize);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_NOT_BASE));
}

// ---- the race Go's sequence can lose ---------------------------------------

// A table that plays the other thread deterministically: right after every
// release it reserves a granule at the next align boundary inside the range
// just released, before Go's sequence can re-reserve it.
const memwin_prim *a_below;
std::vector<uintptr_t> a_squats;
int a_free(void *a, uintptr_t s, uint32_t t)
{
    int ok = a_below->virtual_free(a, s, t);
    if (ok && t == MEMWIN_MEM_RELEASE) {
        uintptr_t at = (U(a) + kAlign - 1) & ~(kAlign - 1);
        void *q = a_below->virtual_alloc(P(at), kGranule, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE);
        if (q)
            a_squats.push_back(U(q));
    }
    return ok;
}
// And a reservation anywhere that comes back aligned was the other thread's
// too (with the emulation's reuse of released ranges it can be): kept as a
// squat, so Go's sequence always has a release to lose.
void *a_alloc(void *a, uintptr_t s, uint32_t t, uint32_t p)
{
    void *q = a_below->virtual_alloc(a, s, t, p);
    while (!a && q && U(q) % kAlign == 0) {
        a_squats.push_back(U(q));
        q = a_below->virtual_alloc(a, s, t, p);
    }
    return q;
}
memwin_prim adversary; // the table below with a_free and a_alloc in place

struct Adversary {
    const memwin_prim *prev;
    Adversary()
    {
        a_below = memwin_prim_current();
        a_squats.clear();
        adversary = memwin_prim{};
        adversary.virtual_free = a_free;
        adversary.virtual_alloc = a_alloc;
        memwin_prim_forward(&adversary, a_below);
        prev = memwin_prim_set(&adversary);
    }
    ~Adversary()
    {
        memwin_prim_set(prev);
        for (uintptr_t q : a_squats)
            a_below->virtual_free(P(q), 0, MEMWIN_MEM_RELEASE);
    }
};

TEST(ReserveAlignedOneCall, GosSequenceLosesEveryRaceTheOneCallCannotLose)
{
    {
        // Go's sequence: each re-reserve finds the aligned range taken,
        // until Go gives up with its fatal error after 100 attempts.
        Adversary adv;
        FatalCapture fatal;
        uintptr_t reserved = 7;
        void *p = sysReserveAligned(nullptr, kSize, kAlign, &reserved);
        ASSERT_EQ(fatal.count(), 1u) << "squats: " << a_squats.size();
        EXPECT_EQ(fatal.events()[0].message, "failed to allocate aligned heap memory; too many retries");
        EXPECT_EQ(p, nullptr);
        EXPECT_EQ(reserved, 0u);
        EXPECT_GE(a_squats.size(), 100u);
    }
    {
        // The one call: the adversary never gets a release to act on.
        Adversary adv;
        uintptr_t reserved = 0;
        void *p = memwin_reserve_aligned(nullptr, kSize, kAlign, &reserved);
        EXPECT_TRUE(one_reservation(p, kSize, kAlign));
        EXPECT_EQ(reserved, kSize);
        sysFreeOS(p, reserved); // the adversary squats once here, after the fact
        EXPECT_EQ(a_squats.size(), 1u);
    }
}

// Eight threads reserving aligned regions at once, for real.
struct RaceResult {
    uint64_t reservations = 0, reserve_calls = 0, lost_races = 0, bad = 0;
};

RaceResult race(bool one_call)
{
    constexpr int kThreads = 8, kIters = 150;
    PrimRecorder rec;
    std::atomic<int> ready{0};
    std::atomic<uint64_t> bad{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; t++)
        ts.emplace_back([&] {
            ready++;
            while (ready.load() < kThreads)
                std::this_thread::yield();
            for (int i = 0; i < kIters; i++) {
                uintptr_t reserved = 0;
                void *p = one_call ? memwin_reserve_aligned(nullptr, kSize, kAlign, &reserved)
                                   : sysReserveAligned(nullptr, kSize, kAlign, &reserved);
                memwin_region_info info{};
                if (!p || U(p) % kAlign || (one_call && reserved != kSize) ||
                    (reserved != kSize && reserved != kSize + kAlign) ||
                    memwin_query(p, &info) != 0 || U(info.allocation_base) != U(p) ||
                    info.state != MEMWIN_MEM_RESERVE || info.region_size != reserved) {
                    bad++;
                    continue;
                }
                sysFreeOS(p, reserved);
            }
        });
    for (std::thread &t : ts)
        t.join();
    RaceResult r;
    r.reservations = uint64_t(kThreads) * kIters;
    r.bad = bad;
    for (const PrimCall &c : rec.calls()) {
        if (c.op == PrimCall::kFree)
            continue;
        r.reserve_calls++;
        // Go's re-reserve at the aligned address that came back elsewhere.
        if (c.op == PrimCall::kAlloc && c.addr != 0 && c.result != c.addr)
            r.lost_races++;
    }
    return r;
}

TEST(ReserveAlignedOneCall, EightThreadsRace)
{
    RaceResult go = race(false), one = race(true);
    std::printf("  8 threads x 150 aligned reservations (4 MiB align, 1 MiB size):\n"
                "    Go's sequence: %llu reserve calls, %llu lost races\n"
                "    one call:      %llu reserve calls, %llu lost races\n",
                (unsigned long long)go.reserve_calls, (unsigned long long)go.lost_races,
                (unsigned long long)one.reserve_calls, (unsigned long long)one.lost_races);
    EXPECT_EQ(go.bad, 0u);
    EXPECT_EQ(one.bad, 0u);
    // Go's sequence needs at least one reservation per result, and two
    // (plus a release) whenever the first one is not aligned, which on
    // Windows is nearly always.
    EXPECT_GT(go.reserve_calls, go.reservations);
    // The one call: exactly one OS call per reservation, nothing to lose.
    EXPECT_EQ(one.reserve_calls, one.reservations);
    EXPECT_EQ(one.lost_races, 0u);
}

} // namespace
