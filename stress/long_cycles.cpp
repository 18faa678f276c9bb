// memwin_long_cycles: long runs of reserve/release (Go's sysReserveOS /
// sysFreeOS) that must stay within bounded address space and a bounded
// number of kernel mappings (issue 14, item 8).  Meant for sanitizer builds
// too: under ThreadSanitizer every new address range costs shadow
// mappings, so an emulation that never reused released ranges exhausted
// vm.max_map_count after about 32k cycles of 1 MiB.
//
//   memwin_long_cycles [--cycles N] [--threads T] [--seed S]
//
// After a warm-up of 1000 cycles, each of T threads runs N/T cycles of 1 MiB, then N/T cycles of mixed sizes
// (64 KiB to 8 MiB, up to 8 live per thread, some partly committed and
// written).  Every 10000 cycles the lines of /proc/self/maps are counted.
// Exit status 0 when the addresses seen stay within 4 GiB and the mappings
// within 512 more than at the start, 1 otherwise, 2 on bad usage.
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "memwin.h"

namespace {

constexpr uintptr_t kMiB = 1024 * 1024, kPage = 4096;

size_t maps_count()
{
    std::ifstream f("/proc/self/maps");
    std::string line;
    size_t n = 0;
    while (std::getline(f, line))
        n++;
    return n;
}

std::mutex mu;
uintptr_t lo = ~uintptr_t(0), hi = 0;
std::atomic<size_t> maps_max{0};
std::atomic<bool> failed{false};

void seen(uintptr_t a, uintptr_t n)
{
    std::lock_guard<std::mutex> g(mu);
    if (a < lo)
        lo = a;
    if (a + n > hi)
        hi = a + n;
}

void note_maps()
{
    size_t m = maps_count(), cur = maps_max.load();
    while (m > cur && !maps_max.compare_exchange_weak(cur, m)) {
    }
}

void run(long cycles, uint64_t seed)
{
    std::mt19937_64 rng(seed);
    for (long i = 0; i < cycles && !failed; i++) {
        void *p = sysReserveOS(nullptr, kMiB);
        if (!p) {
            std::fprintf(stderr, "memwin_long_cycles: FAIL: 1 MiB reservation %ld refused\n", i);
            failed = true;
            return;
        }
        seen(reinterpret_cast<uintptr_t>(p), kMiB);
        sysFreeOS(p, kMiB);
        if (i % 10000 == 0)
            note_maps();
    }
    struct Live {
        void *p;
        uintptr_t n;
    };
    std::vector<Live> live;
    for (long i = 0; i < cycles && !failed; i++) {
        if (live.size() == 8 || (!live.empty() && rng() % 2)) {
            size_t k = size_t(rng() % live.size());
            sysFreeOS(live[k].p, live[k].n);
            live[k] = live.back();
            live.pop_back();
        }
        uintptr_t n = (uintptr_t(1) << (16 + rng() % 8)) + kPage * (rng() % 16);
        void *p = sysReserveOS(nullptr, n);
        if (!p) {
            std::fprintf(stderr, "memwin_long_cycles: FAIL: reservation %ld of %zu bytes refused\n", i,
                         size_t(n));
            failed = true;
            return;
        }
        seen(reinterpret_cast<uintptr_t>(p), n);
        if (rng() % 4 == 0) {
            sysMapOS(p, n);
            sysUsedOS(p, kPage);
            static_cast<volatile char *>(p)[0] = 1;
        }
        live.push_back({p, n});
        if (i % 10000 == 0)
            note_maps();
    }
    for (const Live &l : live)
        sysFreeOS(l.p, l.n);
}

} // namespace

int main(int argc, char **argv)
{
    long cycles = 200000, threads = 2;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        if (!std::strcmp(argv[i], "--cycles") && i + 1 < argc)
            cycles = std::atol(argv[++i]);
        else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = std::atol(argv[++i]);
        else if (!std::strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = std::strtoull(argv[++i], nullptr, 0);
        else {
            std::fprintf(stderr, "usage: memwin_long_cycles [--cycles N] [--threads T] [--seed S]\n");
            return 2;
        }
    }
    if (cycles < 1 || threads < 1) {
        std::fprintf(stderr, "memwin_long_cycles: --cycles and --threads must be positive\n");
        return 2;
    }
    memwin_set_mode(MEMWIN_MODE_EXACT);
    // Warm-up, not measured: the first reservation is placed by the kernel
    // and the emulation's zone starts 64 GiB away from it.
    for (int i = 0; i < 1000; i++)
        sysFreeOS(sysReserveOS(nullptr, kMiB), kMiB);
    const size_t maps0 = maps_count();
    maps_max = maps0;
    std::vector<std::thread> ts;
    for (long t = 0; t < threads; t++)
        ts.emplace_back(run, cycles / threads, seed + uint64_t(t));
    for (std::thread &t : ts)
        t.join();
    note_maps();
    const uintptr_t span = hi > lo ? hi - lo : 0;
    std::printf("memwin_long_cycles: %ld threads x (%ld cycles of 1 MiB + %ld mixed): addresses within "
                "%.1f MiB, mappings %zu -> max %zu\n",
                threads, cycles / threads, cycles / threads, double(span) / double(kMiB), maps0,
                maps_max.load());
    bool ok = !failed && span <= 4096 * kMiB && maps_max.load() <= maps0 + 512;
    std::printf("memwin_long_cycles: %s\n", ok ? "PASS" : "FAIL: unbounded");
    return ok ? 0 : 1;
}
