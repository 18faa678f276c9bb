// Go 1.5's heap layer (mheap, memstats, mHeapMapBits, mHeapMapSpans) and
// its extras (memory status, large pages, the opt-in OOM report), checked
// through the page-state query, the counters and the OS's own figures.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "child.h"
#include "memwin_heap.h"
#include "memwin_prim.h"

#if defined(_WIN32)
#include <windows.h>
#endif

namespace {

constexpr uintptr_t kPtr = sizeof(void *);

// The run of identical pages at addr.
memwin_region_info Query(uintptr_t addr)
{
    memwin_region_info info{};
    EXPECT_EQ(memwin_query(reinterpret_cast<void *>(addr), &info), 0u);
    return info;
}

// Asserts that [from, to) is exactly one run in the given state.
void ExpectRun(uintptr_t from, uintptr_t to, uint32_t state)
{
    memwin_region_info info = Query(from);
    EXPECT_EQ(info.state, state) << std::hex << "at 0x" << from;
    EXPECT_EQ(info.region_size, to - from) << std::hex << "at 0x" << from;
}

// Whole-string match where "{d}" stands for one or more decimal digits and
// "{x}" for one or more hex digits; every other character matches itself.
bool Matches(const char *s, const char *p)
{
    if (*p == 0)
        return *s == 0;
    if (p[0] == '{' && (p[1] == 'd' || p[1] == 'x') && p[2] == '}') {
        auto digit = [&](char c) {
            return (c >= '0' && c <= '9') || (p[1] == 'x' && c >= 'a' && c <= 'f');
        };
        if (!digit(*s))
            return false;
        while (digit(*s)) {
            if (Matches(s + 1, p + 3) && !digit(s[1]))
                return true;
            s++;
        }
        return false;
    }
    return *s == *p && Matches(s + 1, p + 1);
}

uintptr_t RoundUp(uintptr_t n, uintptr_t to)
{
    return (n + to - 1) / to * to;
}

struct Heap : ::testing::Test {
    memwin_memstats stats{};
    memwin_mheap h{};
    uint64_t ready0 = 0;
    void SetUp() override
    {
        ready0 = memwin_mapped_ready();
        ASSERT_EQ(memwin_mheap_init(&h, 64u << 20, &stats), MEMWIN_HEAP_OK);
    }
    void TearDown() override
    {
        if (h.reservation) {
            EXPECT_EQ(memwin_mheap_destroy(&h), MEMWIN_HEAP_OK);
        }
    }
    // The page states the fields promise: spans Ready then Reserved, bitmap
    // Ready up to and with the arena in use, then Reserved to arena_end.
    void ExpectLayout()
    {
        uintptr_t bitmap_low = h.arena_start - h.bitmap_mapped;
        struct Seg {
            uintptr_t from, to;
            uint32_t state;
        };
        const Seg segs[] = {{h.spans, h.spans + h.spans_mapped, MEMWIN_MEM_COMMIT},
                            {h.spans + h.spans_mapped, bitmap_low, MEMWIN_MEM_RESERVE},
                            {bitmap_low, h.arena_used, MEMWIN_MEM_COMMIT},
                            {h.arena_used, h.arena_end, MEMWIN_MEM_RESERVE}};
        // Adjacent segments in the same state are one run for the query.
        std::vector<Seg> runs;
        for (const Seg &s : segs) {
            if (s.from == s.to)
                continue;
            if (!runs.empty() && runs.back().state == s.state)
                runs.back().to = s.to;
            else
                runs.push_back(s);
        }
        for (const Seg &r : runs)
            ExpectRun(r.from, r.to, r.state);
        EXPECT_EQ(Query(h.spans).allocation_base, reinterpret_cast<void *>(h.reservation));
        EXPECT_EQ(Query(h.arena_end - 1).allocation_base, reinterpret_cast<void *>(h.reservation));
    }
    void ExpectCounters()
    {
        uintptr_t arena = h.arena_used - h.arena_start;
        EXPECT_EQ(memwin_stat_load(&stats.heap_sys), arena);
        EXPECT_EQ(memwin_stat_load(&stats.gc_sys), h.bitmap_mapped);
        EXPECT_EQ(memwin_stat_load(&stats.other_sys), h.spans_mapped);
        EXPECT_EQ(memwin_stat_load(&stats.sys), arena + h.bitmap_mapped + h.spans_mapped);
        EXPECT_EQ(memwin_mapped_ready() - ready0, arena + h.bitmap_mapped + h.spans_mapped);
    }
};

TEST_F(Heap, InitReservesOneRegionWithGoLayout)
{
    uintptr_t arena = 64u << 20;
    uintptr_t spans = RoundUp(arena / 8192 * kPtr, 4096);
    uintptr_t bitmap = RoundUp(RoundUp(arena / (kPtr * 4), 8192), 4096);
    EXPECT_EQ(h.spans, h.reservation);
    EXPECT_EQ(h.arena_start, h.reservation + spans + bitmap);
    EXPECT_EQ(h.bitmap, h.arena_start);
    EXPECT_EQ(h.arena_used, h.arena_start);
    EXPECT_EQ(h.arena_end, h.arena_start + arena);
    EXPECT_EQ(h.reserved, spans + bitmap + arena);
    EXPECT_TRUE(h.arena_reserved);
    ExpectRun(h.reservation, h.arena_end, MEMWIN_MEM_RESERVE);
    ExpectCounters();
}

TEST_F(Heap, GrowMapsArenaBitmapAndSpansReady)
{
    void *p = nullptr;
    ASSERT_EQ(memwin_mheap_grow(&h, 64 << 10, &p), MEMWIN_HEAP_OK);
    EXPECT_EQ(p, reinterpret_cast<void *>(h.arena_start));
    EXPECT_EQ(h.arena_used, h.arena_start + (64 << 10));
    // 64 KiB of arena: 2 KiB of bitmap, rounded to one 8 KiB chunk;
    // 8 spans entries, rounded to one physical page.
    EXPECT_EQ(h.bitmap_mapped, 8192u);
    EXPECT_EQ(h.spans_mapped, 4096u);
    ExpectLayout();
    ExpectCounters();
    std::memset(p, 0xab, 64 << 10); // Ready memory is writable

    // 1 MiB more: the bitmap grows down by whole chunks, spans stay.
    ASSERT_EQ(memwin_mheap_grow(&h, 1 << 20, &p), MEMWIN_HEAP_OK);
    uintptr_t used = (1 << 20) + (64 << 10);
    EXPECT_EQ(h.bitmap_mapped, RoundUp(used / (kPtr * 4), 8192));
    EXPECT_EQ(h.spans_mapped, RoundUp(used / 8192 * kPtr, 4096));
    ExpectLayout();
    ExpectCounters();
    EXPECT_EQ(static_cast<unsigned char *>(p)[-1], 0xab); // old arena kept
}

TEST_F(Heap, GrowRoundsToHeapPages)
{
    ASSERT_EQ(memwin_mheap_grow(&h, 1, nullptr), MEMWIN_HEAP_OK);
    EXPECT_EQ(h.arena_used - h.arena_start, 8192u);
    ExpectLayout();
    ExpectCounters();
}

TEST_F(Heap, MapBitsAndSpansMapOnlyWhatIsMissing)
{
    uintptr_t used = h.arena_start + (8u << 20);
    mHeapMapBits(&h, used);
    EXPECT_EQ(h.bitmap_mapped, (8u << 20) / (kPtr * 4));
    mHeapMapSpans(&h, used);
    EXPECT_EQ(h.spans_mapped, RoundUp((8u << 20) / 8192 * kPtr, 4096));
    uint64_t gc = memwin_stat_load(&stats.gc_sys), other = memwin_stat_load(&stats.other_sys);
    mHeapMapBits(&h, h.arena_start + (1u << 20)); // less than mapped: nothing
    mHeapMapSpans(&h, h.arena_start + (1u << 20));
    EXPECT_EQ(memwin_stat_load(&stats.gc_sys), gc);
    EXPECT_EQ(memwin_stat_load(&stats.other_sys), other);
    ExpectRun(h.arena_start - h.bitmap_mapped, h.arena_start, MEMWIN_MEM_COMMIT);
    ExpectRun(h.spans, h.spans + h.spans_mapped, MEMWIN_MEM_COMMIT);
}

TEST_F(Heap, GrowthPastTheReservationFailsAndChangesNothing)
{
    ASSERT_EQ(memwin_mheap_grow(&h, 60u << 20, nullptr), MEMWIN_HEAP_OK);
    memwin_mheap before = h;
    memwin_memstats s0;
    std::memcpy(&s0, &stats, sizeof s0);
    uint64_t r0 = memwin_mapped_ready();
    void *p = reinterpret_cast<void *>(1);
    EXPECT_EQ(memwin_mheap_grow(&h, 4u << 20 | 8192, &p), MEMWIN_HEAP_EXHAUSTED);
    EXPECT_EQ(p, reinterpret_cast<void *>(1));
    EXPECT_EQ(std::memcmp(&before, &h, sizeof h), 0);
    EXPECT_EQ(std::memcmp(&s0, &stats, sizeof s0), 0);
    EXPECT_EQ(memwin_mapped_ready(), r0);
    ExpectLayout();
    EXPECT_STREQ(memwin_heap_strerror(MEMWIN_HEAP_EXHAUSTED),
                 "heap arena exhausted: growth would pass arena_end");
    // Exactly up to the end still works.
    EXPECT_EQ(memwin_mheap_grow(&h, 4u << 20, nullptr), MEMWIN_HEAP_OK);
    EXPECT_EQ(h.arena_used, h.arena_end);
    ExpectLayout();
    ExpectCounters();
}

TEST_F(Heap, BadArguments)
{
    EXPECT_EQ(memwin_mheap_grow(&h, 0, nullptr), MEMWIN_HEAP_BAD_ARGUMENT);
    EXPECT_EQ(memwin_mheap_grow(nullptr, 8192, nullptr), MEMWIN_HEAP_BAD_ARGUMENT);
    EXPECT_EQ(memwin_mheap_grow(&h, UINTPTR_MAX, nullptr), MEMWIN_HEAP_BAD_ARGUMENT);
    memwin_mheap other{};
    EXPECT_EQ(memwin_mheap_grow(&other, 8192, nullptr), MEMWIN_HEAP_NOT_INITIALIZED);
    EXPECT_EQ(memwin_mheap_init(&other, 0, &stats), MEMWIN_HEAP_BAD_ARGUMENT);
    EXPECT_EQ(memwin_mheap_init(&other, 8192, nullptr), MEMWIN_HEAP_BAD_ARGUMENT);
    ExpectCounters();
}

TEST_F(Heap, DestroyAndInitFailuresAndTheirMessages)
{
    memwin_mheap other{};
    memwin_memstats other_stats{};
    EXPECT_EQ(memwin_mheap_destroy(nullptr), MEMWIN_HEAP_BAD_ARGUMENT);
    EXPECT_EQ(memwin_mheap_destroy(&other), MEMWIN_HEAP_NOT_INITIALIZED);
    // Every reservation fails: the heap is not created and counts nothing.
    ASSERT_EQ(memwin_fault_set(MEMWIN_FAULT_RESERVE, 1, 0, MEMWIN_ERROR_NOT_ENOUGH_MEMORY), 0u);
    const int rc = memwin_mheap_init(&other, 1u << 20, &other_stats);
    const uint64_t seen = memwin_fault_seen();
    memwin_fault_clear();
    EXPECT_EQ(rc, MEMWIN_HEAP_NO_ADDRESS_SPACE);
    EXPECT_GE(seen, 1u);
    EXPECT_EQ(memwin_stat_load(&other_stats.sys), 0u);
    EXPECT_EQ(memwin_mheap_grow(&other, 8192, nullptr), MEMWIN_HEAP_NOT_INITIALIZED);
    const std::pair<int, const char *> msgs[] = {
        {MEMWIN_HEAP_OK, "success"},
        {MEMWIN_HEAP_BAD_ARGUMENT, "bad argument: null heap or statistics, zero or overflowing size"},
        {MEMWIN_HEAP_NO_ADDRESS_SPACE, "cannot reserve address space for the heap"},
        {MEMWIN_HEAP_NOT_INITIALIZED, "heap is not initialized"},
        {12345, "unknown heap result code"},
    };
    for (const auto &m : msgs)
        EXPECT_STREQ(memwin_heap_strerror(m.first), m.second) << m.first;
    EXPECT_NE(std::string(memwin_heap_strerror(MEMWIN_HEAP_EXHAUSTED)), "unknown heap result code");
}

TEST_F(Heap, ConcurrentGrowthIsSerialized)
{
    constexpr int kThreads = 8, kSteps = 40;
    std::vector<std::vector<uintptr_t>> got(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kSteps; i++) {
                void *p = nullptr;
                if (memwin_mheap_grow(&h, 16384, &p) == MEMWIN_HEAP_OK) {
                    std::memset(p, t + 1, 16384);
                    got[t].push_back(reinterpret_cast<uintptr_t>(p));
                }
            }
        });
    }
    for (auto &th : threads)
        th.join();
    std::set<uintptr_t> all;
    for (int t = 0; t < kThreads; t++) {
        for (uintptr_t p : got[t]) {
            EXPECT_TRUE(all.insert(p).second);
            EXPECT_EQ(reinterpret_cast<unsigned char *>(p)[16383], t + 1); // nobody overlapped
        }
    }
    EXPECT_EQ(all.size(), size_t(kThreads * kSteps));
    EXPECT_EQ(h.arena_used - h.arena_start, uintptr_t(kThreads * kSteps * 16384));
    ExpectLayout();
    ExpectCounters();
}

TEST_F(Heap, DestroyUndoesEverything)
{
    ASSERT_EQ(memwin_mheap_grow(&h, 3u << 20, nullptr), MEMWIN_HEAP_OK);
    uintptr_t base = h.reservation;
    ASSERT_EQ(memwin_mheap_destroy(&h), MEMWIN_HEAP_OK);
    EXPECT_EQ(Query(base).state, MEMWIN_MEM_FREE);
    EXPECT_EQ(memwin_stat_load(&stats.sys), 0u);
    EXPECT_EQ(memwin_stat_load(&stats.heap_sys), 0u);
    EXPECT_EQ(memwin_mapped_ready(), ready0);
    EXPECT_EQ(h.reservation, 0u);
    EXPECT_EQ(memwin_mheap_destroy(&h), MEMWIN_HEAP_NOT_INITIALIZED);
}

struct Recorded {
    std::string printed, message;
};
Recorded *g_recorded;
void Record(const char *printed, const char *message, void *)
{
    g_recorded->printed = printed;
    g_recorded->message = message;
}

TEST_F(Heap, MapBitsOutsideTheArenaIsFatalAndChangesNothing)
{
    Recorded rec;
    g_recorded = &rec;
    memwin_fatal_fn old = memwin_set_fatal_handler(Record, nullptr);
    mHeapMapBits(&h, h.arena_end + 8192);
    memwin_set_fatal_handler(old == memwin_default_fatal ? nullptr : old, nullptr);
    EXPECT_EQ(rec.message, "memwin: arena_used outside the heap arena");
    EXPECT_EQ(rec.printed.rfind("runtime: mHeapMapBits: arena_used=0x", 0), 0u) << rec.printed;
    EXPECT_EQ(h.bitmap_mapped, 0u);
    ExpectCounters();
}

MEMWIN_CHILD(heap_spans_outside)
{
    static memwin_memstats stats;
    static memwin_mheap h;
    memwin_mheap_init(&h, 1 << 20, &stats);
    mHeapMapSpans(&h, h.arena_start - 1);
}

TEST(HeapChild, MapSpansOutsideTheArenaExitsLikeGo)
{
    auto r = memwin_test::run_child("heap_spans_outside");
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(Matches(r.stderr_.c_str(),
                        "runtime: mHeapMapSpans: arena_used=0x{x} outside [0x{x}, 0x{x}]\n"
                        "fatal error: memwin: arena_used outside the heap arena\n"))
        << r.stderr_;
}

// ---- memory status and large pages, against the OS's own numbers -------

#if !defined(_WIN32)
uint64_t ProcValue(const char *path, const std::string &key)
{
    std::ifstream f(path);
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind(key + ":", 0) == 0) {
            uint64_t v = std::stoull(line.substr(key.size() + 1));
            return line.find("kB") != std::string::npos ? v * 1024 : v;
        }
    }
    ADD_FAILURE() << key << " not in " << path;
    return 0;
}
#endif

TEST(MemoryStatus, AgreesWithTheOS)
{
    memwin_memory_status st{};
    ASSERT_EQ(memwin_memory_status_get(&st), 0u);
#if defined(_WIN32)
    MEMORYSTATUSEX ms;
    ms.dwLength = sizeof ms;
    ASSERT_TRUE(GlobalMemoryStatusEx(&ms));
    EXPECT_EQ(st.total_phys, ms.ullTotalPhys);
    EXPECT_EQ(st.commit_limit, ms.ullTotalPageFile);
#else
    EXPECT_EQ(st.total_phys, ProcValue("/proc/meminfo", "MemTotal"));
    EXPECT_EQ(st.commit_limit, ProcValue("/proc/meminfo", "CommitLimit"));
#endif
    EXPECT_GT(st.total_phys, 0u);
    EXPECT_LE(st.avail_phys, st.total_phys);
    EXPECT_GT(st.commit_total, 0u);
    EXPECT_LE(st.memory_load, 100u);
    EXPECT_EQ(memwin_memory_status_get(nullptr), 87u);
}

TEST(MemoryStatus, ProcessCommitFollowsCommittedMemory)
{
    memwin_memory_status before{}, after{};
    constexpr uintptr_t kSize = 64u << 20;
    ASSERT_EQ(memwin_memory_status_get(&before), 0u);
    sysMemStat stat = 0;
    void *p = sysAlloc(kSize, &stat);
    ASSERT_NE(p, nullptr);
    // Touch it: Windows charges commit at once, Wine reports resident pages.
    std::memset(p, 1, kSize);
    ASSERT_EQ(memwin_memory_status_get(&after), 0u);
    sysFree(p, kSize, &stat);
    // Other threads may allocate meanwhile; the 64 MiB must show.
    EXPECT_GE(after.process_commit, before.process_commit + kSize - (4u << 20));
}

TEST(LargePages, AgreeWithTheOS)
{
    memwin_large_pages lp{};
    ASSERT_EQ(memwin_large_pages_get(&lp), 0u);
#if defined(_WIN32)
    EXPECT_EQ(lp.minimum, uintptr_t(GetLargePageMinimum()));
    EXPECT_EQ(lp.thp_mode, uint32_t(MEMWIN_THP_NONE));
    if (!lp.privilege_held) {
        EXPECT_FALSE(lp.usable);
    }
#else
    EXPECT_EQ(lp.minimum, ProcValue("/proc/meminfo", "Hugepagesize"));
    EXPECT_EQ(lp.privilege_held, ProcValue("/proc/meminfo", "HugePages_Total") > 0);
    std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
    std::string mode;
    std::getline(f, mode);
    uint32_t want = mode.find("[always]") != std::string::npos    ? MEMWIN_THP_ALWAYS
                    : mode.find("[madvise]") != std::string::npos ? MEMWIN_THP_MADVISE
                    : mode.find("[never]") != std::string::npos   ? MEMWIN_THP_NEVER
                                                                  : MEMWIN_THP_NONE;
    EXPECT_EQ(lp.thp_mode, want);
#endif
    EXPECT_EQ(memwin_large_pages_get(nullptr), 87u);
}

// ---- the opt-in out-of-memory report --------------------------------------

void CommitWithInjectedLimit()
{
    sysMemStat stat = 0;
    void *v = sysReserve(nullptr, 1 << 20);
    sysMap(v, 1 << 20, &stat);
    memwin_fault_set(MEMWIN_FAULT_COMMIT, 1, 0, 1455);
    sysUsed(v, 1 << 20, 1 << 20);
}

MEMWIN_CHILD(oom_default) { CommitWithInjectedLimit(); }
MEMWIN_CHILD(oom_with_status)
{
    memwin_set_oom_status_report(true);
    CommitWithInjectedLimit();
}

TEST(OomReport, OffByDefaultTheOutputIsGos)
{
    auto r = memwin_test::run_child("oom_default");
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(r.stderr_,
              "runtime: VirtualAlloc of 1048576 bytes failed with errno=1455\n"
              "fatal error: out of memory\n");
}

TEST(OomReport, WhenOnTheStatusFollowsGosLine)
{
    auto r = memwin_test::run_child("oom_with_status");
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(Matches(r.stderr_.c_str(),
                        "runtime: VirtualAlloc of 1048576 bytes failed with errno=1455\n"
                        "memwin: memory status: physical {d}/{d} bytes available, commit "
                        "{d}/{d} bytes, process commit {d} bytes\n"
                        "fatal error: out of memory\n"))
        << r.stderr_;
    EXPECT_FALSE(memwin_set_oom_status_report(false)); // this process: still off
}

} // namespace
