// memwin_stress: many threads run random *legal* handshakes of Go's memory
// layer over thousands of regions, and every step is checked against a
// model:
//
//   - page states (None, Reserved, Prepared, Ready) as memwin_query shows
//     them, run by run, for the region the step touched;
//   - data: Ready pages hold what was written to them (sysUsed over pages
//     that are already Ready keeps it), and read zero after every
//     (re)commit;
//   - accounting: each thread's own sysMemStat after every step, and the
//     process-wide mapped-ready counter at quiescent points (all threads
//     parked on a barrier), against the sum of the threads' models;
//   - at the end, no reservation is left behind: a ledger of the OS calls
//     memwin made (a forwarding primitive table records every reservation
//     it obtained and every release) must be empty, and on Linux a walk of
//     the whole address space with memwin_query finds no new reservation.
//     (On Windows the walk cannot tell memwin's leftovers from the heap's or
//     a thread stack's later use of an address memwin released, so the
//     ledger decides there.)
//
// Regions: plain reservations (sysReserve / sysReserveOS), sysAlloc /
// sysAllocOS blocks, sysReserveAligned reservations, and groups of two or
// three adjacent reservations used as one range (as Go uses heap arenas),
// which drives Go's piecewise fallback loops.  A region belongs to one layer:
// generic (sysMap, sysUsed, ... with accounting) or OS (sysMapOS, ...).
// Each thread owns its regions; threads race on the address space (group
// creation frees a hole and re-reserves it at hints, sysReserveAligned
// releases and re-reserves), on memwin's tables and on the counters.
//
// Modes: --mode exact|checked|recoverable.  In checked mode a refused call
// would go to the fatal handler (which fails the run); in recoverable mode
// memwin_last_error() must be 0 after every legal call, and --illegal PCT
// mixes in that percentage of illegal calls on the thread's own regions,
// each of which must be refused with the predicted code and change nothing.
//
// Exit status: 0 when every check passed, 1 on the first mismatch (with a
// message naming the thread, the step, the seed and the last steps), 2 on
// bad usage.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "memwin.h"
#include "memwin_prim.h"

namespace {

constexpr uintptr_t kPage = 4096;
constexpr uintptr_t kGranule = 65536;

enum : uint8_t { kReserved = 1, kPrepared = 2, kReady = 3 };
const char *const kStateName[] = {"None", "Reserved", "Prepared", "Ready"};
constexpr unsigned Bit(uint8_t s) { return 1u << s; }

struct Options {
    int threads = 8;
    double seconds = 0;
    uint64_t ops = 0;
    uint64_t seed = 0;
    int mode = MEMWIN_MODE_EXACT;
    int slots = 128;
    int illegal = 0;
    int round = 256;
    uintptr_t budget = 2048; // Ready pages per thread
    bool verbose = false;
    int leak = 0; // self-test: reservations deliberately left behind
};

Options opt;
const char *const kModeName[] = {"exact", "checked", "recoverable"};

uint64_t SplitMix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// The value a tagged page holds at byte offset off (0 for tag 0).
uint64_t Word(uint32_t tag, uintptr_t addr, uintptr_t off)
{
    return tag == 0 ? 0 : SplitMix(((uint64_t)tag << 32) ^ (addr + off));
}
constexpr uintptr_t kWordOffsets[] = {0, 2048, kPage - 8};

struct Piece {
    uintptr_t base;
    uintptr_t size; // bytes, as memwin tracks the reservation
};

struct Region {
    bool live = false;
    bool os = false; // OS layer (sys*OS) rather than the generic layer
    const char *kind = "";
    std::vector<Piece> pieces; // adjacent, ascending
    std::vector<uint8_t> st;   // Go state per page
    std::vector<uint32_t> tag; // data tag per page (meaningful when Ready)
    uint64_t stat_bytes = 0;   // what this region added to the thread's stat

    uintptr_t Base() const { return pieces[0].base; }
    size_t Pages() const { return st.size(); }
    uintptr_t Addr(size_t page) const { return Base() + page * kPage; }
    const Piece &PieceAt(size_t page) const
    {
        uintptr_t a = Addr(page);
        for (const Piece &p : pieces)
            if (a - p.base < p.size)
                return p;
        return pieces.back();
    }
};

class Barrier {
  public:
    explicit Barrier(int n) : n_(n) {}
    // The last thread to arrive runs last() while the others wait.
    template <class F> void Arrive(F &&last)
    {
        std::unique_lock<std::mutex> lock(m_);
        uint64_t gen = gen_;
        if (++waiting_ == n_) {
            last();
            waiting_ = 0;
            gen_++;
            cv_.notify_all();
        } else {
            cv_.wait(lock, [&] { return gen_ != gen; });
        }
    }

  private:
    std::mutex m_;
    std::condition_variable cv_;
    int n_, waiting_ = 0;
    uint64_t gen_ = 0;
};

std::mutex g_print;
uint64_t g_mapped_ready_base;

struct Thread;
thread_local Thread *t_self;

struct Counters {
    uint64_t steps = 0, calls = 0, created = 0, groups = 0, group_races = 0, aligned = 0,
             allocs = 0, freed = 0, illegal = 0, bytes_verified = 0;
    std::vector<uint64_t> by_op = std::vector<uint64_t>(32, 0);
};

const char *const kStepName[] = {"create", "destroy", "map",   "used",   "unused",
                                 "fault",  "hint",    "write", "verify", "illegal"};
enum Step { kCreate, kDestroy, kMap, kUsed, kUnused, kFault, kHint, kWrite, kVerify, kIllegal };

struct Thread {
    int id = 0;
    std::mt19937_64 rng;
    sysMemStat stat = 0;
    uint64_t model_stat = 0;
    int64_t model_mr = 0;         // this thread's contribution to mapped-ready (Go's formulas)
    uint64_t generic_ready = 0;   // bytes Ready in generic-layer regions
    uintptr_t ready_pages = 0;    // Ready pages in all regions (the budget)
    std::vector<Region> slots;
    std::unordered_set<uintptr_t> bases; // every reservation base memwin gave this thread
    Counters cnt;
    uint64_t step_no = 0;
    char history[16][160] = {};
    unsigned hist_next = 0;

    uint64_t Rand(uint64_t bound) { return bound ? rng() % bound : 0; }
    bool Chance(int pct) { return (int)Rand(100) < pct; }

    void Log(const char *fmt, ...)
    {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(history[hist_next % 16], sizeof history[0], fmt, ap);
        va_end(ap);
        hist_next++;
    }

    [[noreturn]] void Fail(const char *fmt, ...)
    {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        std::lock_guard<std::mutex> lock(g_print);
        std::fprintf(stderr,
                     "memwin_stress: FAIL [mode %s, seed %llu, thread %d, step %llu]: %s\n",
                     kModeName[opt.mode], (unsigned long long)opt.seed, id,
                     (unsigned long long)step_no, msg);
        std::fprintf(stderr, "memwin_stress: this thread's last calls, oldest first:\n");
        for (unsigned i = hist_next > 16 ? hist_next - 16 : 0; i < hist_next; i++)
            std::fprintf(stderr, "  %s\n", history[i % 16]);
        std::fflush(stderr);
        std::_Exit(1);
    }

    // After a call that must succeed: in recoverable mode no error.
    void Ok(const char *what)
    {
        cnt.calls++;
        if (opt.mode == MEMWIN_MODE_RECOVERABLE && memwin_last_error() != 0)
            Fail("%s: legal call refused with error %u: %s", what, memwin_last_error(),
                 memwin_last_error_message());
    }

    void CheckStat(const char *what)
    {
        uint64_t got = memwin_stat_load(&stat);
        if (got != model_stat)
            Fail("after %s: sysMemStat is %llu, the model says %llu", what,
                 (unsigned long long)got, (unsigned long long)model_stat);
        if (model_mr != (int64_t)generic_ready)
            Fail("after %s: model inconsistent: mapped-ready delta %lld != Ready bytes %llu",
                 what, (long long)model_mr, (unsigned long long)generic_ready);
    }

    // ---- model updates ---------------------------------------------------

    void SetState(Region &r, size_t i, size_t j, uint8_t s)
    {
        for (size_t k = i; k < j; k++) {
            if (r.st[k] == kReady && s != kReady) {
                ready_pages--;
                if (!r.os)
                    generic_ready -= kPage;
                r.tag[k] = 0; // decommitted: reads zero when committed again
            } else if (r.st[k] != kReady && s == kReady) {
                ready_pages++;
                if (!r.os)
                    generic_ready += kPage;
                r.tag[k] = 0;
            }
            r.st[k] = s;
        }
    }

    // ---- checks of memwin's view -------------------------------------------

    // memwin_query over the whole region must show the model's runs.
    void CheckQuery(const Region &r, const char *what)
    {
        size_t i = 0;
        while (i < r.Pages()) {
            const Piece &pc = r.PieceAt(i);
            uintptr_t a = r.Addr(i);
            memwin_region_info info{};
            uint32_t e = memwin_query(reinterpret_cast<void *>(a), &info);
            if (e != 0)
                Fail("after %s: memwin_query(%#llx) failed with %u", what, (unsigned long long)a,
                     e);
            bool ready = r.st[i] == kReady;
            size_t j = i;
            uintptr_t piece_end = (pc.base + pc.size - r.Base()) / kPage;
            while (j < piece_end && (r.st[j] == kReady) == ready)
                j++;
            uint32_t want_state = ready ? MEMWIN_MEM_COMMIT : MEMWIN_MEM_RESERVE;
            uint32_t want_protect = ready ? MEMWIN_PAGE_READWRITE : 0;
            if (info.base != reinterpret_cast<void *>(a) ||
                info.allocation_base != reinterpret_cast<void *>(pc.base) ||
                info.state != want_state || info.protect != want_protect ||
                info.region_size != (j - i) * kPage)
                Fail("after %s: memwin_query(%#llx) in %s region %#llx: base %p allocation_base %p "
                     "state %#x protect %#x size %llu; the model says allocation_base %#llx "
                     "state %#x protect %#x size %llu (page is %s)",
                     what, (unsigned long long)a, r.kind, (unsigned long long)r.Base(), info.base,
                     info.allocation_base, info.state, info.protect,
                     (unsigned long long)info.region_size, (unsigned long long)pc.base,
                     want_state, want_protect, (unsigned long long)((j - i) * kPage),
                     kStateName[r.st[i]]);
            i = j;
        }
    }

    // Ready pages [i, j) of r must hold their tags (sample words); with full,
    // pages of tag 0 are checked to be entirely zero.
    void CheckData(const Region &r, size_t i, size_t j, bool full, const char *what)
    {
        static const uint8_t zero[kPage] = {};
        for (size_t k = i; k < j && k < r.Pages(); k++) {
            if (r.st[k] != kReady)
                continue;
            uintptr_t a = r.Addr(k);
            if (full && r.tag[k] == 0) {
                cnt.bytes_verified += kPage;
                if (std::memcmp(reinterpret_cast<const void *>(a), zero, kPage) != 0)
                    Fail("after %s: Ready page %#llx of %s region should read zero (fresh or "
                         "recommitted) but does not",
                         what, (unsigned long long)a, r.kind);
                continue;
            }
            for (uintptr_t off : kWordOffsets) {
                uint64_t got = *reinterpret_cast<const uint64_t *>(a + off);
                uint64_t want = Word(r.tag[k], a, off);
                cnt.bytes_verified += 8;
                if (got != want)
                    Fail("after %s: page %#llx (+%llu) of %s region holds %#llx, expected "
                         "%#llx (tag %u)",
                         what, (unsigned long long)a, (unsigned long long)off, r.kind,
                         (unsigned long long)got, (unsigned long long)want, r.tag[k]);
            }
        }
    }

    void WritePage(Region &r, size_t k)
    {
        uint32_t t = (uint32_t)rng() | 1u;
        uintptr_t a = r.Addr(k);
        for (uintptr_t off : kWordOffsets)
            *reinterpret_cast<uint64_t *>(a + off) = Word(t, a, off);
        r.tag[k] = t;
    }

    // ---- region creation -------------------------------------------------

    void *Reserve(bool os, void *hint, uintptr_t n)
    {
        Log("%s(%p, %llu)", os ? "sysReserveOS" : "sysReserve", hint, (unsigned long long)n);
        void *p = os ? sysReserveOS(hint, n) : sysReserve(hint, n);
        Ok(os ? "sysReserveOS" : "sysReserve");
        if (p) {
            bases.insert(reinterpret_cast<uintptr_t>(p));
            if (reinterpret_cast<uintptr_t>(p) % kGranule != 0)
                Fail("reservation %p is not on a 64 KiB boundary", p);
        }
        return p;
    }

    void Unreserve(bool os, void *p, uintptr_t n)
    {
        Log("%s(%p, %llu)", os ? "sysFreeOS" : "sysUnreserve", p, (unsigned long long)n);
        if (os)
            sysFreeOS(p, n);
        else
            sysUnreserve(p, n);
        Ok(os ? "sysFreeOS" : "sysUnreserve");
    }

    uintptr_t RandomPages()
    {
        uint64_t c = Rand(100);
        if (c < 70)
            return 1 + Rand(32);
        if (c < 95)
            return 33 + Rand(96);
        return 129 + Rand(128);
    }

    void Create(Region &r)
    {
        r = Region();
        r.os = Chance(30);
        uint64_t c = Rand(100);
        uintptr_t room = opt.budget > ready_pages ? opt.budget - ready_pages : 0;
        if (c < 20 && room >= 1) {
            uintptr_t pages = std::min<uintptr_t>(1 + Rand(32), room);
            uintptr_t n = pages * kPage;
            void *p;
            r.kind = r.os ? "sysAllocOS" : "sysAlloc";
            Log("%s(%llu)", r.kind, (unsigned long long)n);
            if (r.os) {
                p = sysAllocOS(n);
            } else {
                p = sysAlloc(n, &stat);
                model_stat += n;
                model_mr += (int64_t)n;
                r.stat_bytes = n;
            }
            Ok(r.kind);
            if (!p)
                Fail("%s(%llu) returned NULL", r.kind, (unsigned long long)n);
            bases.insert(reinterpret_cast<uintptr_t>(p));
            r.pieces.push_back({reinterpret_cast<uintptr_t>(p), n});
            r.st.assign(pages, kReserved);
            r.tag.assign(pages, 0);
            SetState(r, 0, pages, kReady);
            cnt.allocs++;
        } else if (c < 35) {
            r.os = false;
            uintptr_t size = (1 + Rand(64)) * kPage, align = kPage << Rand(9), reserved = 0;
            r.kind = "sysReserveAligned";
            Log("sysReserveAligned(NULL, %llu, %llu)", (unsigned long long)size,
                (unsigned long long)align);
            void *p = sysReserveAligned(nullptr, size, align, &reserved);
            Ok("sysReserveAligned");
            uintptr_t a = reinterpret_cast<uintptr_t>(p);
            if (!p || a % align != 0 || (reserved != size && reserved != size + align))
                Fail("sysReserveAligned(NULL, %llu, %llu) gave %p, reserved %llu",
                     (unsigned long long)size, (unsigned long long)align, p,
                     (unsigned long long)reserved);
            bases.insert(a);
            r.pieces.push_back({a, reserved});
            r.st.assign(reserved / kPage, kReserved);
            r.tag.assign(reserved / kPage, 0);
            cnt.aligned++;
        } else if (c < 65) {
            if (!CreateGroup(r))
                CreatePlain(r);
        } else {
            CreatePlain(r);
        }
        r.live = true;
        cnt.created++;
        CheckQuery(r, r.kind);
        CheckData(r, 0, r.Pages(), true, r.kind);
    }


    void CreatePlain(Region &r)
    {
        uintptr_t pages = RandomPages(), n = pages * kPage;
        r.kind = r.os ? "sysReserveOS" : "sysReserve";
        void *p = Reserve(r.os, nullptr, n);
        if (!p)
            Fail("%s(NULL, %llu) returned NULL", r.kind, (unsigned long long)n);
        r.pieces.push_back({reinterpret_cast<uintptr_t>(p), n});
        r.st.assign(pages, kReserved);
        r.tag.assign(pages, 0);
    }

    // Two or three adjacent reservations: reserve the whole, release it, and
    // reserve the pieces at hints; another thread may take the hole first.
    bool CreateGroup(Region &r)
    {
        int count = 2 + (int)Rand(2);
        uintptr_t sizes[3], total = 0;
        for (int i = 0; i < count; i++) {
            sizes[i] = (1 + Rand(2)) * kGranule;
            total += sizes[i];
        }
        r.kind = r.os ? "group(OS)" : "group";
        for (int attempt = 0; attempt < 4; attempt++) {
            void *whole = Reserve(r.os, nullptr, total);
            if (!whole)
                Fail("reserve of %llu bytes for a group returned NULL", (unsigned long long)total);
            Unreserve(r.os, whole, total);
            uintptr_t at = reinterpret_cast<uintptr_t>(whole);
            std::vector<Piece> got;
            bool ok = true;
            for (int i = 0; i < count && ok; i++) {
                void *p = Reserve(r.os, reinterpret_cast<void *>(at), sizes[i]);
                if (!p)
                    Fail("hinted reserve of %llu bytes returned NULL", (unsigned long long)sizes[i]);
                got.push_back({reinterpret_cast<uintptr_t>(p), sizes[i]});
                ok = reinterpret_cast<uintptr_t>(p) == at;
                at += sizes[i];
            }
            if (ok) {
                r.pieces = got;
                r.st.assign(total / kPage, kReserved);
                r.tag.assign(total / kPage, 0);
                cnt.groups++;
                return true;
            }
            cnt.group_races++;
            for (const Piece &p : got)
                Unreserve(r.os, reinterpret_cast<void *>(p.base), p.size);
        }
        return false;
    }

    // ---- release ------------------------------------------------------------

    void Destroy(Region &r)
    {
        CheckData(r, 0, r.Pages(), false, "destroy (before)");
        if (r.os) {
            for (const Piece &p : r.pieces)
                Unreserve(true, reinterpret_cast<void *>(p.base), p.size);
            SetState(r, 0, r.Pages(), kReserved);
        } else {
            // Go-like: a piece that is all Ready goes back with sysFree (its
            // accounting); the Ready runs of the others are faulted first
            // (while every piece is still there), then they are released
            // without accounting.
            std::vector<bool> by_free(r.pieces.size(), false);
            uint64_t stat_left = model_stat, region_left = r.stat_bytes;
            for (size_t pi = 0; pi < r.pieces.size(); pi++) {
                const Piece &p = r.pieces[pi];
                size_t first = (p.base - r.Base()) / kPage, last = first + p.size / kPage;
                bool all_ready = true;
                for (size_t k = first; k < last; k++)
                    all_ready = all_ready && r.st[k] == kReady;
                if (all_ready && stat_left >= p.size && region_left >= p.size && Chance(80)) {
                    by_free[pi] = true;
                    stat_left -= p.size;
                    region_left -= p.size;
                    continue;
                }
                size_t k = first;
                while (k < last) {
                    if (r.st[k] != kReady) {
                        k++;
                        continue;
                    }
                    size_t e = k;
                    while (e < last && r.st[e] == kReady)
                        e++;
                    Range(kFault, r, k, e);
                    k = e;
                }
            }
            for (size_t pi = 0; pi < r.pieces.size(); pi++) {
                const Piece &p = r.pieces[pi];
                size_t first = (p.base - r.Base()) / kPage, last = first + p.size / kPage;
                if (!by_free[pi]) {
                    // sysUnreserve is Reserved -> None: Prepared pages need sysFreeOS.
                    bool all_reserved = true;
                    for (size_t k = first; k < last; k++)
                        all_reserved = all_reserved && r.st[k] == kReserved;
                    Unreserve(!all_reserved || Chance(50), reinterpret_cast<void *>(p.base), p.size);
                    continue;
                }
                Log("sysFree(%#llx, %llu)", (unsigned long long)p.base, (unsigned long long)p.size);
                sysFree(reinterpret_cast<void *>(p.base), p.size, &stat);
                Ok("sysFree");
                model_stat -= p.size;
                model_mr -= (int64_t)p.size;
                r.stat_bytes -= p.size;
                SetState(r, first, last, kReserved);
                CheckStat("sysFree");
            }
            // What the region still holds in the stat goes back as Go moves
            // stats between counters (sysMemStat.add).
            if (r.stat_bytes > 0) {
                Log("memwin_stat_add(-%llu)", (unsigned long long)r.stat_bytes);
                memwin_stat_add(&stat, -(int64_t)r.stat_bytes);
                model_stat -= r.stat_bytes;
                r.stat_bytes = 0;
            }
        }
        r.live = false;
        cnt.freed++;
        CheckStat("destroy");
    }

    // ---- range steps ---------------------------------------------------------

    // A run [i, j) of pages whose states are in allowed, at most maxlen long.
    bool PickRun(const Region &r, unsigned allowed, size_t maxlen, size_t &i, size_t &j)
    {
        size_t pages = r.Pages(), start = Rand(pages);
        for (size_t d = 0; d < pages; d++) {
            size_t k = (start + d) % pages;
            if (!(allowed & Bit(r.st[k])))
                continue;
            size_t len = 1 + Rand(Chance(25) ? pages : std::min<size_t>(maxlen, 16));
            i = k;
            j = k;
            while (j < pages && j - i < len && (allowed & Bit(r.st[j])))
                j++;
            // Sometimes grow to the left too, across piece boundaries.
            while (Chance(50) && i > 0 && (allowed & Bit(r.st[i - 1])) && j - i < len)
                i--;
            return true;
        }
        return false;
    }

    void Range(Step s, Region &r, size_t i, size_t j)
    {
        void *v = reinterpret_cast<void *>(r.Addr(i));
        uintptr_t n = (j - i) * kPage;
        char what[96];
        switch (s) {
        case kMap:
            std::snprintf(what, sizeof what, "%s(%p, %llu)", r.os ? "sysMapOS" : "sysMap", v,
                          (unsigned long long)n);
            Log("%s", what);
            if (r.os) {
                sysMapOS(v, n);
            } else {
                sysMap(v, n, &stat);
                model_stat += n;
                r.stat_bytes += n;
            }
            Ok(what);
            SetState(r, i, j, kPrepared);
            break;
        case kUsed: {
            uintptr_t prepared = 0;
            for (size_t k = i; k < j; k++)
                prepared += r.st[k] == kPrepared ? kPage : 0;
            std::snprintf(what, sizeof what, "%s(%p, %llu, %llu)", r.os ? "sysUsedOS" : "sysUsed",
                          v, (unsigned long long)n, (unsigned long long)prepared);
            Log("%s", what);
            if (r.os) {
                sysUsedOS(v, n);
            } else {
                sysUsed(v, n, prepared);
                model_mr += (int64_t)prepared;
            }
            Ok(what);
            // Pages already Ready keep their data; the others read zero.
            std::vector<uint8_t> was(r.st.begin() + (long)i, r.st.begin() + (long)j);
            SetState(r, i, j, kReady);
            for (size_t k = i; k < j; k++)
                if (was[k - i] != kReady)
                    CheckData(r, k, k + 1, true, what);
            break;
        }
        case kUnused:
        case kFault: {
            bool fault = s == kFault;
            const char *name = fault ? (r.os ? "sysFaultOS" : "sysFault")
                                     : (r.os ? "sysUnusedOS" : "sysUnused");
            std::snprintf(what, sizeof what, "%s(%p, %llu)", name, v, (unsigned long long)n);
            Log("%s", what);
            if (r.os) {
                fault ? sysFaultOS(v, n) : sysUnusedOS(v, n);
            } else {
                fault ? sysFault(v, n) : sysUnused(v, n);
                model_mr -= (int64_t)n;
            }
            Ok(what);
            SetState(r, i, j, fault ? kReserved : kPrepared);
            break;
        }
        case kHint: {
            int which = (int)Rand(3);
            static const char *const gen[] = {"sysHugePage", "sysNoHugePage",
                                              "sysHugePageCollapse"};
            static const char *const os[] = {"sysHugePageOS", "sysNoHugePageOS",
                                             "sysHugePageCollapseOS"};
            std::snprintf(what, sizeof what, "%s(%p, %llu)", r.os ? os[which] : gen[which], v,
                          (unsigned long long)n);
            Log("%s", what);
            if (r.os) {
                which == 0 ? sysHugePageOS(v, n)
                           : which == 1 ? sysNoHugePageOS(v, n) : sysHugePageCollapseOS(v, n);
            } else {
                which == 0 ? sysHugePage(v, n)
                           : which == 1 ? sysNoHugePage(v, n) : sysHugePageCollapse(v, n);
            }
            Ok(what);
            break;
        }
        default:
            break;
        }
        CheckStat(what);
        CheckQuery(r, what);
        size_t lo = i > 0 ? i - 1 : 0;
        CheckData(r, lo, j + 1, false, what);
    }

    // ---- illegal calls (recoverable mode) -------------------------------------

    struct Refusal {
        const char *what;
        uint32_t code;
    };

    // One illegal call on r; it must be refused with the predicted code and
    // change nothing (states, data, stat; mapped-ready is checked globally).
    void Illegal(Region &r)
    {
        uintptr_t base = r.Base();
        const Piece &p0 = r.pieces[0];
        char what[128];
        uint32_t want = 0;
        size_t k = Rand(r.Pages());
        uint8_t s = r.st[k];
        void *v = reinterpret_cast<void *>(r.Addr(k));
        sysMemStat zero = 0;
        switch (Rand(9)) {
        case 0: // map a page that is not Reserved
            if (s == kReserved)
                return;
            std::snprintf(what, sizeof what, "sysMap(%p, 4096) on a %s page", v, kStateName[s]);
            sysMap(v, kPage, &stat);
            want = MEMWIN_ERR_STATE;
            break;
        case 1: // unused on a page that is not Ready
            if (s == kReady)
                return;
            std::snprintf(what, sizeof what, "sysUnusedOS(%p, 4096) on a %s page", v,
                          kStateName[s]);
            sysUnusedOS(v, kPage);
            want = MEMWIN_ERR_STATE;
            break;
        case 2: // used on a Reserved page
            if (s != kReserved)
                return;
            std::snprintf(what, sizeof what, "sysUsed(%p, 4096, 0) on a Reserved page", v);
            sysUsed(v, kPage, 0);
            want = MEMWIN_ERR_STATE;
            break;
        case 3: // prepared > n
            if (s == kReserved)
                return;
            std::snprintf(what, sizeof what, "sysUsed(%p, 4096, 8192)", v);
            sysUsed(v, kPage, 2 * kPage);
            want = MEMWIN_ERR_ACCOUNTING;
            break;
        case 4: // release inside a reservation
            if (p0.size <= kPage)
                return;
            std::snprintf(what, sizeof what, "sysFreeOS(%#llx, %llu) not at a base",
                          (unsigned long long)(base + kPage), (unsigned long long)p0.size);
            sysFreeOS(reinterpret_cast<void *>(base + kPage), p0.size);
            want = MEMWIN_ERR_NOT_BASE;
            break;
        case 5: // release with the wrong size
            std::snprintf(what, sizeof what, "sysUnreserve(%#llx, %llu) wrong size",
                          (unsigned long long)base, (unsigned long long)(p0.size + 1));
            sysUnreserve(reinterpret_cast<void *>(base), p0.size + 1);
            want = MEMWIN_ERR_NOT_BASE;
            break;
        case 6: // unaligned address
            std::snprintf(what, sizeof what, "sysFault(%p+8, 4096)", v);
            sysFault(static_cast<char *>(v) + 8, kPage);
            want = MEMWIN_ERR_UNALIGNED;
            break;
        case 7: // null sysMemStat on a Reserved page, or a bad size
            if (s == kReserved) {
                std::snprintf(what, sizeof what, "sysMap(%p, 4096, NULL)", v);
                sysMap(v, kPage, nullptr);
                want = MEMWIN_ERR_NULL;
            } else {
                std::snprintf(what, sizeof what, "sysUsedOS(%p, 100)", v);
                sysUsedOS(v, 100);
                want = MEMWIN_ERR_SIZE;
            }
            break;
        default: // stat underflow on release
            std::snprintf(what, sizeof what, "sysFree(%#llx, %llu, &zero)",
                          (unsigned long long)base, (unsigned long long)p0.size);
            sysFree(reinterpret_cast<void *>(base), p0.size, &zero);
            want = MEMWIN_ERR_ACCOUNTING;
            break;
        }
        Log("illegal %s", what);
        cnt.calls++;
        cnt.illegal++;
        uint32_t got = memwin_last_error();
        const char *msg = memwin_last_error_message();
        if (got != want)
            Fail("illegal %s: memwin_last_error() is %u (%s), expected %u", what, got, msg, want);
        if (!msg || std::strstr(msg, "fatal error: memwin: ") == nullptr)
            Fail("illegal %s: message \"%s\" does not name the rule", what, msg ? msg : "(null)");
        if (zero != 0)
            Fail("illegal %s: a refused call changed the sysMemStat it was given", what);
        CheckStat(what);
        CheckQuery(r, what);
        CheckData(r, 0, r.Pages(), false, what);
    }

    // ---- one random step ---------------------------------------------------------

    void RandomStep()
    {
        step_no++;
        cnt.steps++;
        Region &r = slots[Rand(slots.size())];
        if (!r.live) {
            cnt.by_op[kCreate]++;
            Create(r);
            return;
        }
        if (opt.illegal > 0 && Chance(opt.illegal)) {
            cnt.by_op[kIllegal]++;
            Illegal(r);
            return;
        }
        uint64_t c = Rand(100);
        size_t i = 0, j = 0;
        bool over = ready_pages >= opt.budget;
        if (c < 5) {
            cnt.by_op[kDestroy]++;
            Destroy(r);
        } else if (c < 22) {
            if (PickRun(r, Bit(kReserved), 64, i, j)) {
                cnt.by_op[kMap]++;
                Range(kMap, r, i, j);
            }
        } else if (c < 45 && !over) {
            if (PickRun(r, Bit(kPrepared) | Bit(kReady), 64, i, j)) {
                uintptr_t fresh = 0;
                for (size_t k = i; k < j; k++)
                    fresh += r.st[k] != kReady;
                while (j > i + 1 && ready_pages + fresh > opt.budget)
                    fresh -= r.st[--j] != kReady;
                if (ready_pages + fresh <= opt.budget) {
                    cnt.by_op[kUsed]++;
                    Range(kUsed, r, i, j);
                }
            }
        } else if (c < 62 || (over && c < 70)) {
            if (PickRun(r, Bit(kReady), 64, i, j)) {
                cnt.by_op[kUnused]++;
                Range(kUnused, r, i, j);
            }
        } else if (c < 70) {
            if (PickRun(r, Bit(kReady), 64, i, j)) {
                cnt.by_op[kFault]++;
                Range(kFault, r, i, j);
            }
        } else if (c < 75) {
            if (PickRun(r, Bit(kReserved) | Bit(kPrepared) | Bit(kReady), 64, i, j)) {
                cnt.by_op[kHint]++;
                Range(kHint, r, i, j);
            }
        } else if (c < 93) {
            cnt.by_op[kWrite]++;
            for (int w = 0; w < 8; w++) {
                size_t k = Rand(r.Pages());
                if (r.st[k] == kReady)
                    WritePage(r, k);
            }
            CheckData(r, 0, r.Pages(), false, "write");
        } else {
            cnt.by_op[kVerify]++;
            CheckQuery(r, "verify");
            CheckData(r, 0, r.Pages(), true, "verify");
        }
    }

    void VerifyAll(const char *what)
    {
        for (const Region &r : slots) {
            if (!r.live)
                continue;
            CheckQuery(r, what);
            CheckData(r, 0, r.Pages(), false, what);
        }
        CheckStat(what);
    }

    void DestroyAll()
    {
        for (Region &r : slots)
            if (r.live)
                Destroy(r);
        if (model_stat != 0 || memwin_stat_load(&stat) != 0)
            Fail("after releasing every region the thread's sysMemStat is %llu (model %llu), "
                 "expected 0",
                 (unsigned long long)memwin_stat_load(&stat), (unsigned long long)model_stat);
    }
};

void OnFatal(const char *printed, const char *message, void *)
{
    if (t_self)
        t_self->Fail("memwin raised a fatal error:\n%sfatal error: %s", printed, message);
    std::fprintf(stderr, "memwin_stress: FAIL: memwin raised a fatal error:\n%sfatal error: %s\n",
                 printed, message);
    std::fflush(stderr);
    std::_Exit(1);
}

[[noreturn]] void Usage(const char *why)
{
    std::fprintf(stderr,
                 "memwin_stress: %s\n"
                 "usage: memwin_stress [--threads N] [--seconds S | --ops N] [--seed N]\n"
                 "                     [--mode exact|checked|recoverable] [--slots N]\n"
                 "                     [--illegal PCT] [--round N] [--budget PAGES] [--verbose]\n"
                 "                     [--leak N]\n"
                 "  --threads   worker threads (default 8)\n"
                 "  --seconds   run time (default 5 s unless --ops is given)\n"
                 "  --ops       total steps over all threads\n"
                 "  --seed      random seed (default: from the clock; printed)\n"
                 "  --mode      memwin mode (default exact)\n"
                 "  --slots     regions per thread (default 128)\n"
                 "  --illegal   percent of illegal calls, recoverable mode only (default 0)\n"
                 "  --round     steps per thread between quiescent checks (default 256)\n"
                 "  --budget    Ready pages per thread at most (default 2048)\n"
                 "  --leak      self-test of the leak check: reserve N regions with\n"
                 "              sysReserveOS after the run and keep them (must fail)\n",
                 why);
    std::exit(2);
}

uint64_t ParseU(const char *flag, const char *s)
{
    char *end = nullptr;
    if (!s)
        Usage((std::string(flag) + " needs a value").c_str());
    unsigned long long v = std::strtoull(s, &end, 0);
    if (!end || *end)
        Usage((std::string("bad value for ") + flag + ": " + s).c_str());
    return v;
}

void ParseArgs(int argc, char **argv)
{
    bool seeded = false;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : nullptr;
        if (a == "--threads") {
            opt.threads = (int)ParseU("--threads", val), i++;
        } else if (a == "--seconds") {
            if (!val)
                Usage("--seconds needs a value");
            opt.seconds = std::atof(val), i++;
        } else if (a == "--ops") {
            opt.ops = ParseU("--ops", val), i++;
        } else if (a == "--seed") {
            opt.seed = ParseU("--seed", val), i++, seeded = true;
        } else if (a == "--slots") {
            opt.slots = (int)ParseU("--slots", val), i++;
        } else if (a == "--illegal") {
            opt.illegal = (int)ParseU("--illegal", val), i++;
        } else if (a == "--round") {
            opt.round = (int)ParseU("--round", val), i++;
        } else if (a == "--budget") {
            opt.budget = (uintptr_t)ParseU("--budget", val), i++;
        } else if (a == "--mode") {
            std::string m = val ? val : "";
            i++;
            if (m == "exact")
                opt.mode = MEMWIN_MODE_EXACT;
            else if (m == "checked")
                opt.mode = MEMWIN_MODE_CHECKED;
            else if (m == "recoverable")
                opt.mode = MEMWIN_MODE_RECOVERABLE;
            else
                Usage("--mode wants exact, checked or recoverable");
        } else if (a == "--leak") {
            opt.leak = (int)ParseU("--leak", val), i++;
        } else if (a == "--verbose") {
            opt.verbose = true;
        } else if (a == "--help" || a == "-h") {
            Usage("help");
        } else {
            Usage(("unknown argument " + a).c_str());
        }
    }
    if (opt.threads < 1 || opt.threads > 256)
        Usage("--threads must be 1..256");
    if (opt.slots < 1 || opt.round < 1 || opt.illegal > 100)
        Usage("--slots and --round must be positive, --illegal at most 100");
    if (opt.illegal > 0 && opt.mode != MEMWIN_MODE_RECOVERABLE)
        Usage("--illegal needs --mode recoverable");
    if (opt.ops == 0 && opt.seconds <= 0)
        opt.seconds = 5;
    if (!seeded)
        opt.seed = (uint64_t)std::chrono::steady_clock::now().time_since_epoch().count() % 1000000007u;
}

// The ledger: reservations memwin obtained from the OS and has not released,
// kept by a primitive table that forwards every call to the host's.
std::mutex g_ledger_mu;
std::unordered_set<uintptr_t> g_ledger;
const memwin_prim *g_host = nullptr;

void LedgerAdd(void *p)
{
    if (!p)
        return;
    std::lock_guard<std::mutex> lock(g_ledger_mu);
    g_ledger.insert(reinterpret_cast<uintptr_t>(p));
}

void *LedgerAlloc(void *addr, uintptr_t size, uint32_t type, uint32_t protect)
{
    void *p = g_host->virtual_alloc(addr, size, type, protect);
    // A call that reserves: MEM_RESERVE, or a commit at no address (which
    // reserves as well).  Commits inside a reservation are not new bases.
    if ((type & MEMWIN_MEM_RESERVE) || addr == nullptr)
        LedgerAdd(p);
    return p;
}

void *LedgerAllocAligned(uintptr_t size, uintptr_t align, uint32_t type, uint32_t protect)
{
    void *p = g_host->virtual_alloc_aligned(size, align, type, protect);
    LedgerAdd(p);
    return p;
}

int LedgerFree(void *addr, uintptr_t size, uint32_t type)
{
    int ok = g_host->virtual_free(addr, size, type);
    if (ok && type == MEMWIN_MEM_RELEASE) {
        std::lock_guard<std::mutex> lock(g_ledger_mu);
        g_ledger.erase(reinterpret_cast<uintptr_t>(addr));
    }
    return ok;
}

memwin_prim g_ledger_prim;

void InstallLedger()
{
    g_host = memwin_prim_host();
    g_ledger_prim.virtual_alloc = LedgerAlloc;
    g_ledger_prim.virtual_free = LedgerFree;
    if (g_host->virtual_alloc_aligned)
        g_ledger_prim.virtual_alloc_aligned = LedgerAllocAligned;
    memwin_prim_forward(&g_ledger_prim, g_host);
    memwin_prim_set(&g_ledger_prim);
}

#if !defined(_WIN32)
// Bases of all reservations memwin_query reports, walking the whole user
// address space (on Linux the emulation knows only memwin's reservations).
std::vector<uintptr_t> Reservations()
{
    std::vector<uintptr_t> out;
    uintptr_t p = 0x10000;
    for (int guard = 0; guard < 10000000; guard++) {
        memwin_region_info info{};
        if (memwin_query(reinterpret_cast<void *>(p), &info) != 0 || info.region_size == 0)
            break;
        if (info.state != MEMWIN_MEM_FREE &&
            (out.empty() || out.back() != reinterpret_cast<uintptr_t>(info.allocation_base)))
            out.push_back(reinterpret_cast<uintptr_t>(info.allocation_base));
        uintptr_t next = reinterpret_cast<uintptr_t>(info.base) + info.region_size;
        if (next <= p)
            break;
        p = next;
    }
    return out;
}
#endif

} // namespace

int main(int argc, char **argv)
{
    ParseArgs(argc, argv);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    if (memwin_set_mode(opt.mode) < 0) {
        std::fprintf(stderr, "memwin_stress: memwin_set_mode(%d) failed\n", opt.mode);
        return 1;
    }
    memwin_set_fatal_handler(OnFatal, nullptr);
    InstallLedger();
#if !defined(_WIN32)
    std::vector<uintptr_t> before = Reservations();
#endif
    g_mapped_ready_base = memwin_mapped_ready();

    std::vector<Thread> threads((size_t)opt.threads);
    for (int t = 0; t < opt.threads; t++) {
        threads[(size_t)t].id = t;
        threads[(size_t)t].rng.seed(SplitMix(opt.seed * 1000003u + (uint64_t)t));
        threads[(size_t)t].slots.resize((size_t)opt.slots);
    }
    uint64_t per_thread = opt.ops ? (opt.ops + (uint64_t)opt.threads - 1) / (uint64_t)opt.threads : 0;
    std::printf("memwin_stress: mode %s, %d threads, %d regions each, seed %llu, %s\n",
                kModeName[opt.mode], opt.threads, opt.slots, (unsigned long long)opt.seed,
                opt.ops ? ("ops " + std::to_string(per_thread * (uint64_t)opt.threads)).c_str()
                        : ("seconds " + std::to_string(opt.seconds)).c_str());

    Barrier barrier(opt.threads);
    bool stop = false;
    uint64_t checks = 0;
    auto start = std::chrono::steady_clock::now();

    // At a quiescent point: mapped-ready equals its start value plus the sum
    // of the threads' models.
    auto global_check = [&](const char *when) {
        int64_t sum = 0;
        for (const Thread &t : threads)
            sum += t.model_mr;
        uint64_t got = memwin_mapped_ready() - g_mapped_ready_base;
        checks++;
        if (got != (uint64_t)sum) {
            std::fprintf(stderr,
                         "memwin_stress: FAIL [mode %s, seed %llu, %s, all threads parked]: "
                         "mapped-ready moved by %lld, the threads' models sum to %lld\n",
                         kModeName[opt.mode], (unsigned long long)opt.seed, when,
                         (long long)got, (long long)sum);
            std::_Exit(1);
        }
    };

    std::vector<std::thread> workers;
    for (int t = 0; t < opt.threads; t++) {
        workers.emplace_back([&, t] {
            Thread &self = threads[(size_t)t];
            t_self = &self;
            uint64_t left = per_thread;
            for (;;) {
                uint64_t steps = (uint64_t)opt.round;
                if (opt.ops)
                    steps = std::min<uint64_t>(steps, left);
                for (uint64_t k = 0; k < steps; k++)
                    self.RandomStep();
                left -= opt.ops ? steps : 0;
                self.VerifyAll("round end");
                barrier.Arrive([&] {
                    global_check("round end");
                    double el = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                              start)
                                    .count();
                    stop = opt.ops ? left == 0 : el >= opt.seconds;
                });
                if (stop)
                    break;
            }
            self.DestroyAll();
            barrier.Arrive([&] { global_check("after releasing everything"); });
            t_self = nullptr;
        });
    }
    for (std::thread &w : workers)
        w.join();
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    if (memwin_mapped_ready() != g_mapped_ready_base) {
        std::fprintf(stderr, "memwin_stress: FAIL: mapped-ready is %llu at the end, %llu at the "
                             "start\n",
                     (unsigned long long)memwin_mapped_ready(),
                     (unsigned long long)g_mapped_ready_base);
        return 1;
    }
    for (int i = 0; i < opt.leak; i++)
        if (!sysReserveOS(nullptr, 65536)) {
            std::fprintf(stderr, "memwin_stress: --leak: sysReserveOS failed\n");
            return 1;
        }

    // No reservation left behind: the ledger is empty, and (Linux emulation,
    // which knows only memwin's reservations) no reservation appeared.
    std::unordered_set<uintptr_t> ours;
    for (const Thread &t : threads)
        ours.insert(t.bases.begin(), t.bases.end());
    int leaks = 0;
    auto report = [&](uintptr_t b, const char *what) {
        if (leaks++ >= 10)
            return;
        memwin_region_info info{};
        memwin_query(reinterpret_cast<void *>(b), &info);
        std::fprintf(stderr,
                     "memwin_stress: FAIL: reservation %#llx (%s) left behind: state %#x, "
                     "first run %llu bytes\n",
                     (unsigned long long)b, what, info.state, (unsigned long long)info.region_size);
    };
    // One label for the ledger: a base the stress used may since have been
    // reserved again by someone else, so "whose" cannot be told from it.
    for (uintptr_t b : g_ledger)
        report(b, "reserved by memwin, never released");
#if !defined(_WIN32)
    std::unordered_set<uintptr_t> old(before.begin(), before.end());
    for (uintptr_t b : Reservations())
        if (old.count(b) == 0 && g_ledger.count(b) == 0)
            report(b, ours.count(b) ? "made for the stress" : "unknown");
#endif
    if (leaks)
        return 1;

    Counters sum;
    for (const Thread &t : threads) {
        const Counters &c = t.cnt;
        sum.steps += c.steps, sum.calls += c.calls, sum.created += c.created;
        sum.groups += c.groups, sum.group_races += c.group_races, sum.aligned += c.aligned;
        sum.allocs += c.allocs, sum.freed += c.freed, sum.illegal += c.illegal;
        sum.bytes_verified += c.bytes_verified;
        for (size_t i = 0; i < sum.by_op.size(); i++)
            sum.by_op[i] += c.by_op[i];
    }
    std::printf("memwin_stress: PASS: %llu ops, %llu memwin calls in %.2f s: %.0f ops/s, "
                "%.0f calls/s\n",
                (unsigned long long)sum.steps, (unsigned long long)sum.calls, elapsed,
                sum.steps / elapsed, sum.calls / elapsed);
    std::printf("memwin_stress: regions created %llu (groups of adjacent reservations %llu, "
                "group races lost %llu, aligned %llu, sysAlloc %llu), released %llu; "
                "illegal calls refused %llu; quiescent checks %llu; %.1f MiB verified; "
                "distinct reservation bases %zu\n",
                (unsigned long long)sum.created, (unsigned long long)sum.groups,
                (unsigned long long)sum.group_races, (unsigned long long)sum.aligned,
                (unsigned long long)sum.allocs, (unsigned long long)sum.freed,
                (unsigned long long)sum.illegal, (unsigned long long)checks,
                sum.bytes_verified / 1048576.0, ours.size());
    if (opt.verbose) {
        std::printf("memwin_stress: ops by kind:");
        for (int i = 0; i <= kIllegal; i++)
            std::printf(" %s %llu", kStepName[i], (unsigned long long)sum.by_op[(size_t)i]);
        std::printf("\n");
    }
    return 0;
}
