// Concurrency: eight threads take disjoint regions through the whole state
// machine in a loop (reserve, map, commit, write/verify, decommit half,
// recommit, fault, free), while two more threads keep reading and writing
// their own Ready memory.  At the end the accounting is back where it
// started and no reservation is left behind.
#include <atomic>
#include <mutex>
#include <thread>

#include "test_util.h"

using namespace mwt;

namespace {

constexpr int kWorkers = 8, kSteady = 2, kIters = 120;

// A fast word pattern (the tests elsewhere use bytes).
uint64_t word(uint64_t seed, uintptr_t i)
{
    uint64_t x = (seed + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t(i) * 0xbf58476d1ce4e5b9ull);
    return x | 1;
}

void fill_words(uintptr_t p, uintptr_t n, uint64_t seed)
{
    uint64_t *w = reinterpret_cast<uint64_t *>(p);
    for (uintptr_t i = 0; i < n / 8; i++)
        w[i] = word(seed, i);
}

bool check_words(uintptr_t p, uintptr_t n, uint64_t seed)
{
    const uint64_t *w = reinterpret_cast<const uint64_t *>(p);
    for (uintptr_t i = 0; i < n / 8; i++)
        if (w[i] != word(seed, i))
            return false;
    return true;
}

bool zero_words(uintptr_t p, uintptr_t n)
{
    const uint64_t *w = reinterpret_cast<const uint64_t *>(p);
    for (uintptr_t i = 0; i < n / 8; i++)
        if (w[i] != 0)
            return false;
    return true;
}

struct Failures {
    std::atomic<int> count{0};
    std::mutex mu;
    std::string first;
    void add(const std::string &what)
    {
        if (count.fetch_add(1) == 0) {
            std::lock_guard<std::mutex> lk(mu);
            first = what;
        }
    }
};

bool state_run(uintptr_t addr, uint32_t state, uintptr_t alloc_base, uintptr_t size)
{
    memwin_region_info i;
    if (memwin_query(P(addr), &i) != 0)
        return false;
    return i.state == state && U(i.allocation_base) == alloc_base && i.region_size >= size;
}

} // namespace

TEST(Concurrency, EightThreadsChurnWhileOthersUseReadyMemory)
{
    const uint64_t m0 = memwin_mapped_ready();
    sysMemStat stat = 0, steady_stat = 0;
    Failures fail;
    std::atomic<bool> done{false};
    std::atomic<long> steady_rounds{0};
    std::vector<std::vector<uintptr_t>> bases(kWorkers);
    for (auto &b : bases)
        b.reserve(kIters);

    // Workers start once every steady thread holds its memory and has
    // checked it once, so the steady checks overlap the churn on any
    // scheduler (valgrind runs one thread at a time), and once every worker
    // exists: a thread stack made during the churn could take a range a
    // worker released (Wine) and look like a reservation left behind.
    std::atomic<int> steady_ready{0}, workers_started{0};
    auto worker = [&](int t) {
        workers_started.fetch_add(1);
        while (steady_ready.load() < kSteady || workers_started.load() < kWorkers)
            std::this_thread::yield();
        for (int i = 0; i < kIters; i++) {
            const uintptr_t n = uintptr_t(1 + (i + t) % 4) * 0x10000, half = n / 2;
            const uint64_t seed = uint64_t(t) << 32 | uint64_t(i);
            uintptr_t v, reserved = n;
            if (i % 5 == 4) {
                v = U(sysReserveAligned(nullptr, n, 0x100000, &reserved));
                if (v % 0x100000 != 0)
                    fail.add("sysReserveAligned result not aligned");
            } else {
                v = U(sysReserve(nullptr, n));
            }
            if (!v) {
                fail.add("reserve failed");
                return;
            }
            bases[size_t(t)].push_back(v);
            sysMap(P(v), n, &stat);
            if (!state_run(v, MEMWIN_MEM_RESERVE, v, n))
                fail.add("not reserved after sysMap");
            sysUsed(P(v), n, n);
            if (!state_run(v, MEMWIN_MEM_COMMIT, v, n))
                fail.add("not committed after sysUsed");
            if (!zero_words(v, n))
                fail.add("fresh commit not zero");
            fill_words(v, n, seed);
            if (!check_words(v, n, seed))
                fail.add("pattern lost");
            sysUnused(P(v + half), half);
            if (!state_run(v + half, MEMWIN_MEM_RESERVE, v, half))
                fail.add("not reserved after sysUnused");
            if (!check_words(v, half, seed))
                fail.add("first half changed by decommit of the second");
            sysUsed(P(v + half), half, half);
            if (!zero_words(v + half, half))
                fail.add("recommitted half not zero");
            sysFault(P(v), half);
            if (!state_run(v, MEMWIN_MEM_RESERVE, v, half))
                fail.add("not reserved after sysFault");
            sysUsed(P(v), half, half);
            // (another thread may reserve v right after this; the final
            // check, after all threads are done, looks for leftovers)
            sysFree(P(v), n, &stat);
        }
    };

    auto steady = [&](int t) {
        const uintptr_t n = 0x40000;
        uintptr_t v = U(sysAlloc(n, &steady_stat));
        if (!v) {
            fail.add("steady sysAlloc failed");
            steady_ready.fetch_add(1);
            return;
        }
        uint64_t round = 0;
        do {
            uint64_t seed = uint64_t(100 + t) << 40 | round++;
            fill_words(v, n, seed);
            if (!check_words(v, n, seed))
                fail.add("steady memory changed under us");
            steady_rounds.fetch_add(1);
            if (round == 1)
                steady_ready.fetch_add(1);
        } while (!done.load());
        sysFree(P(v), n, &steady_stat);
    };

    std::vector<std::thread> ts;
    for (int t = 0; t < kSteady; t++)
        ts.emplace_back(steady, t);
    std::vector<std::thread> ws;
    for (int t = 0; t < kWorkers; t++)
        ws.emplace_back(worker, t);
    for (auto &w : ws)
        w.join();
    done.store(true);
    for (auto &t : ts)
        t.join();

    EXPECT_EQ(fail.count.load(), 0) << "first failure: " << fail.first;
    EXPECT_GT(steady_rounds.load(), 0);
    EXPECT_EQ(memwin_stat_load(&stat), 0u);
    EXPECT_EQ(memwin_stat_load(&steady_stat), 0u);
    EXPECT_EQ(memwin_mapped_ready(), m0);
    size_t total = 0, left = 0;
    for (auto &b : bases)
        for (uintptr_t v : b) {
            total++;
            memwin_region_info i;
            if (memwin_query(P(v), &i) != 0 || i.state != MEMWIN_MEM_FREE)
                left++;
        }
    EXPECT_EQ(total, size_t(kWorkers) * kIters);
    EXPECT_EQ(left, 0u) << "reservations left behind";
}

TEST(Concurrency, AdjacentReservationsCommittedFromManyThreads)
{
    // Threads commit and decommit ranges that straddle neighbouring
    // reservations of a row; Go's halving loops must end with exactly the
    // requested pages in each state.
    Reservations rs;
    const int kRes = 16;
    uintptr_t at = free_area(uintptr_t(kRes) * 0x10000);
    std::vector<uintptr_t> b;
    for (int i = 0; i < kRes; i++) {
        uintptr_t p = rs.add(U(sysReserve(P(at + uintptr_t(i) * 0x10000), 0x10000)));
        ASSERT_EQ(p, at + uintptr_t(i) * 0x10000);
        b.push_back(p);
    }
    Failures fail;
    // Thread t owns reservations 2t and 2t+1 and the range across them.
    std::vector<std::thread> ts;
    for (int t = 0; t < kRes / 2; t++)
        ts.emplace_back([&, t] {
            uintptr_t v = b[size_t(2 * t)] + 0x8000, n = 0x10000;
            for (int i = 0; i < 40; i++) {
                uint64_t seed = uint64_t(t) * 1000 + uint64_t(i);
                sysUsedOS(P(v), n);
                if (!state_run(v, MEMWIN_MEM_COMMIT, b[size_t(2 * t)], 0x8000) ||
                    !state_run(v + 0x8000, MEMWIN_MEM_COMMIT, b[size_t(2 * t + 1)], 0x8000))
                    fail.add("straddling commit incomplete");
                if (!zero_words(v, n))
                    fail.add("straddling commit not zero");
                fill_words(v, n, seed);
                if (!check_words(v, n, seed))
                    fail.add("straddling pattern lost");
                sysUnusedOS(P(v), n);
                if (!state_run(v, MEMWIN_MEM_RESERVE, b[size_t(2 * t)], 0x8000) ||
                    !state_run(v + 0x8000, MEMWIN_MEM_RESERVE, b[size_t(2 * t + 1)], 0x8000))
                    fail.add("straddling decommit incomplete");
            }
        });
    for (auto &t : ts)
        t.join();
    EXPECT_EQ(fail.count.load(), 0) << "first failure: " << fail.first;
    for (uintptr_t p : b)
        EXPECT_TRUE(region_is(p, MEMWIN_MEM_RESERVE, 0, p, 0x10000));
}
