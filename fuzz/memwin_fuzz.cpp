// memwin_fuzz: a libFuzzer target that runs decoded operation sequences
// against memwin in recoverable mode and against a pure reference model, and
// fails (abort, so libFuzzer saves the input) on the first divergence.
//
// The model holds, per reservation, Go's state of every page as checked
// mode's rules define it (None, Reserved, Prepared, Ready), what the OS
// emulation has committed (they differ after an OS failure in the middle of
// Go's fallback loops), the data tags of committed pages, the sysMemStat,
// mapped-ready, and the fault injector's counter.  For each call it predicts
//   - the error memwin_last_error() gives (refusal code, or MEMWIN_ERR_OS
//     with the exact text Go prints), and that a refused call changes
//     nothing;
//   - Go's accounting (sysMemStat, mapped-ready);
//   - every primitive call Go's logic makes (its fallback loops step by
//     step, which of them the injector fails, the errno Go reports);
//   - the page states memwin_query shows: after every operation the whole
//     address space is walked and must equal the model, and the data of
//     committed pages must be intact (zero after every commit).
// Where the outcome depends on the address space (hinted reservations,
// sysReserveAligned's release-and-retry), the model accepts any outcome
// the rules allow and takes the address from memwin, checking it.
//
// Input format (all integers little-endian): a sequence of operations, each
// one opcode byte (low 5 bits: operation, high 3 bits: slot 0..7) and its
// operands; see Decode() and fuzz/vec2seed.cpp, which writes the same format.
//
// Accounting rule of the model (see AcctRefuse): the sysMemStat is a byte
// count in [0, 2^63), Go's int64 view of it; an accounted call that would
// take it out of that range, or finds it outside, is refused with
// MEMWIN_ERR_ACCOUNTING and has no effect.  For the sizes Go uses this is
// Go's own sysMemStat.add check, made before the call instead of part-way.  Known divergences of memwin can be tolerated with
// MEMWIN_FUZZ_ALLOW=token[,token...] (tokens: alloc-signbit, free-signbit,
// aligned-reserved; see README.md).
#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "memwin.h"
#include "memwin_prim.h"

namespace {

using u64 = uint64_t;
using i64 = int64_t;

constexpr u64 kPage = 4096;
constexpr u64 kGranule = 65536;
constexpr u64 kEmuMin = 0x10000;
constexpr u64 kEmuMax = 0x7FFFFFFEFFFFull;
constexpr u64 kEmuSpace = kEmuMax - kEmuMin; // the largest reservation the emulation makes
// Reservations the harness lets through: memwin keeps a byte per page of a
// reservation (twice: emulation and tracker) and the checks walk them page
// by page, so sizes between this and kEmuSpace are folded below it to keep
// each run fast.
constexpr u64 kMaxResv = 8ull << 20;
constexpr int kSlots = 8;

u64 RoundUp(u64 x, u64 a) { return (x + a - 1) & ~(a - 1); }

// The checks' own loops are not worth coverage feedback (they only slow
// every execution down); memwin's code keeps its instrumentation.
#if defined(__clang__)
#define NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define NO_COVERAGE
#endif

enum : uint8_t { kNone = 0, kReserved = 1, kPrepared = 2, kReady = 3 };
const char *const kStateName[] = {"None", "Reserved", "Prepared", "Ready"};
constexpr unsigned Bit(uint8_t s) { return 1u << s; }
constexpr unsigned kManaged = Bit(kReserved) | Bit(kPrepared) | Bit(kReady);

// ---- options -------------------------------------------------------------

bool g_allow_alloc_signbit, g_allow_free_signbit, g_allow_aligned_reserved, g_allow_stale_tracker;
bool g_verbose;

// ---- the model -------------------------------------------------------------

struct MResv {
    u64 base = 0;
    u64 size = 0;    // bytes memwin's tracker knows (0 for an untracked one)
    u64 os_size = 0; // bytes the OS reservation covers (>= size)
    u64 asked = 0;   // the size it was made with, which its release must name
    bool tracked = true;
    std::vector<uint8_t> st;     // Go state per tracked page
    std::vector<uint8_t> commit; // per OS page: committed
    std::vector<uint32_t> tag;   // per OS page: data tag (0: reads zero)
    u64 Span() const { return RoundUp(os_size, kGranule); }
};

struct Model {
    std::map<u64, MResv> resv;
    u64 stat = 0;
    u64 mr = 0; // mapped-ready moved since the input began (wrapping)
    bool armed = false;
    uint32_t f_ops = 0, f_err = 0;
    u64 f_nth = 0, f_count = 0, f_seen = 0;
    uint32_t last_err = 0; // the primitives' last error
};

Model M;
sysMemStat g_stat;
u64 g_mr_base;
u64 g_leaks_seen;

struct Slot {
    u64 base = 0x7e0000000000ull; // a stale or never-used slot names free memory
    bool live = false;
};
Slot g_slots[kSlots];

std::vector<std::string> g_log;
uint32_t g_tag_counter;

[[noreturn]] void Diverge(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    std::fprintf(stderr, "\nmemwin_fuzz: DIVERGENCE at operation %zu (%s):\n  %s\n",
                 g_log.size(), g_log.empty() ? "-" : g_log.back().c_str(), msg);
    std::fprintf(stderr, "memwin_fuzz: the operations of this input:\n");
    for (size_t i = 0; i < g_log.size(); i++)
        std::fprintf(stderr, "  %3zu  %s\n", i + 1, g_log[i].c_str());
    std::fflush(stderr);
    std::abort();
}

std::string Fmt(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return buf;
}

MResv *FindTracked(u64 a)
{
    auto it = M.resv.upper_bound(a);
    if (it == M.resv.begin())
        return nullptr;
    --it;
    MResv &r = it->second;
    return r.tracked && a - r.base < r.size ? &r : nullptr;
}

MResv *FindOS(u64 a)
{
    auto it = M.resv.upper_bound(a);
    if (it == M.resv.begin())
        return nullptr;
    --it;
    MResv &r = it->second;
    return a - r.base < r.os_size ? &r : nullptr;
}

// ---- expected outcome of one call -------------------------------------------

struct Expect {
    uint32_t code = 0;
    std::string msg; // exact text for MEMWIN_ERR_OS
    void Os(const std::string &printed, const char *message)
    {
        code = MEMWIN_ERR_OS;
        msg = printed + "fatal error: " + message;
        while (!msg.empty() && msg.back() == '\n')
            msg.pop_back();
    }
};

// ---- the primitives, as the Linux emulation and the injector behave --------

bool InjHit(uint32_t cls)
{
    if (!M.armed || !(M.f_ops & cls))
        return false;
    u64 i = ++M.f_seen;
    if (i < M.f_nth || (M.f_count != 0 && i - M.f_nth >= M.f_count))
        return false;
    M.last_err = M.f_err;
    return true;
}

NO_COVERAGE void SetCommit(MResv &r, u64 a, u64 end, bool on)
{
    for (u64 p = a; p < end; p += kPage) {
        size_t k = (size_t)((p - r.base) / kPage);
        if (r.commit[k] != on)
            r.tag[k] = 0;
        if (!on)
            r.tag[k] = 0;
        r.commit[k] = on;
    }
}

bool PCommit(u64 a, u64 n)
{
    M.last_err = 0;
    if (InjHit(MEMWIN_FAULT_COMMIT))
        return false;
    if (a + n < a || a + n > kEmuMax + 1) {
        M.last_err = 87;
        return false;
    }
    u64 start = a & ~(kPage - 1), end = RoundUp(a + n, kPage);
    MResv *r = FindOS(start);
    if (!r || end - r->base > r->os_size) {
        M.last_err = 487;
        return false;
    }
    SetCommit(*r, start, end, true);
    return true;
}

bool PDecommit(u64 a, u64 n)
{
    M.last_err = 0;
    if (InjHit(MEMWIN_FAULT_DECOMMIT))
        return false;
    if (a == 0 || a + n < a) {
        M.last_err = 87;
        return false;
    }
    u64 start = a & ~(kPage - 1), end = RoundUp(a + n, kPage);
    MResv *r = FindOS(start);
    if (!r || end - r->base > r->os_size) {
        M.last_err = 87;
        return false;
    }
    SetCommit(*r, start, end, false);
    return true;
}

bool PRelease(u64 a)
{
    M.last_err = 0;
    if (InjHit(MEMWIN_FAULT_RELEASE))
        return false;
    MResv *r = a ? FindOS(a & ~(kPage - 1)) : nullptr;
    if (!r) {
        M.last_err = 87;
        return false;
    }
    if ((a & ~(kPage - 1)) != r->base) {
        M.last_err = 487;
        return false;
    }
    M.resv.erase(r->base);
    return true;
}

// ---- Go's logic (runtime/mem_windows.go, runtime/mem.go) --------------------

u64 Halve(u64 s) { return (s / 2) & ~(kPage - 1); }

std::string Failed(const char *what, u64 n, uint32_t err)
{
    return Fmt("runtime: %s of %llu bytes failed with errno=%lu\n", what, (unsigned long long)n,
               (unsigned long)err);
}

bool GoUsed(u64 v, u64 n, Expect &ex)
{
    if (PCommit(v, n))
        return true;
    u64 a = v, k = n;
    while (k > 0) {
        u64 small = k;
        while (small >= kPage && !PCommit(a, small))
            small = Halve(small);
        if (small < kPage) {
            uint32_t e = M.last_err;
            if (e == 8 || e == 1455)
                ex.Os(Failed("VirtualAlloc", n, e), "out of memory");
            else
                ex.Os(Failed("VirtualAlloc", small, e), "runtime: failed to commit pages");
            return false;
        }
        a += small;
        k -= small;
    }
    return true;
}

bool GoUnused(u64 v, u64 n, Expect &ex)
{
    if (PDecommit(v, n))
        return true;
    u64 a = v;
    while (n > 0) {
        u64 small = n;
        while (small >= kPage && !PDecommit(a, small))
            small = Halve(small);
        if (small < kPage) {
            ex.Os(Failed("VirtualFree", small, M.last_err), "runtime: failed to decommit pages");
            return false;
        }
        a += small;
        n -= small;
    }
    return true;
}

bool GoFree(u64 v, u64 n, Expect &ex)
{
    if (PRelease(v))
        return true;
    ex.Os(Failed("VirtualFree", n, M.last_err), "runtime: failed to release pages");
    return false;
}

// The model's accounting rule: a sysMemStat is a byte count that Go reads
// as an int64, so it lives in [0, 2^63).  An accounted call is refused
// (MEMWIN_ERR_ACCOUNTING) when the stat is already outside that range or
// when adding n (add) or taking n away (!add) would take it outside.  For
// n < 2^63 added to a stat in range this is exactly Go's sysMemStat.add
// check, so in checked mode Go's "sysMemStat overflow" can never fire
// part-way through a call.
bool AcctRefuse(u64 cur, u64 n, bool add)
{
    const u64 kMax = (u64)INT64_MAX;
    if (cur > kMax)
        return true;
    return add ? n > kMax - cur : n > cur;
}

// Go's sysMemStat.add check, in wrapping arithmetic.
bool GoFires(u64 cur, i64 d)
{
    u64 val = cur + (u64)d;
    return (d > 0 && (i64)val < d) || (d < 0 && (i64)(val + (u64)d) < d);
}

bool GoStatAdd(u64 *stat, i64 d, Expect &ex)
{
    u64 val = *stat + (u64)d;
    *stat = val;
    if (GoFires(val - (u64)d, d)) {
        ex.Os(Fmt("runtime: val=%llu n=%lld\n", (unsigned long long)val, (long long)d),
              "sysMemStat overflow");
        return false;
    }
    return true;
}

// ---- checked mode's rules ---------------------------------------------------

uint32_t RangeRule(u64 v, u64 n, unsigned allowed)
{
    if (v == 0)
        return MEMWIN_ERR_NULL;
    if (v % kPage)
        return MEMWIN_ERR_UNALIGNED;
    if (n == 0 || n % kPage)
        return MEMWIN_ERR_SIZE;
    if (v + (n - 1) < v) // a range may end at the top of the address space, not past it
        return MEMWIN_ERR_OVERFLOW;
    // Ranges are walked by their last byte (v + n is 0 for one ending at the top).
    const u64 last = v + (n - 1);
    for (u64 a = v;;) {
        MResv *r = FindTracked(a);
        if (!r)
            return MEMWIN_ERR_NOT_MANAGED;
        const u64 rlast = r->base + (r->size - 1);
        if (rlast >= last)
            break;
        a = rlast + 1;
    }
    for (u64 a = v;;) {
        MResv *r = FindTracked(a);
        const u64 stop_last = std::min(r->base + (r->size - 1), last);
        for (u64 p = a; p <= stop_last && p >= a; p += kPage)
            if (!(allowed & Bit(r->st[(size_t)((p - r->base) / kPage)])))
                return MEMWIN_ERR_STATE;
        if (stop_last == last)
            break;
        a = stop_last + 1;
    }
    return 0;
}

NO_COVERAGE void SetTracker(u64 v, u64 n, uint8_t s)
{
    const u64 last = v + (n - 1);
    for (u64 a = v;;) {
        MResv *r = FindTracked(a);
        const u64 stop_last = std::min(r->base + (r->size - 1), last);
        std::fill(r->st.begin() + (long)((a - r->base) / kPage),
                  r->st.begin() + (long)((stop_last - r->base) / kPage + 1), s);
        if (stop_last == last)
            break;
        a = stop_last + 1;
    }
}

NO_COVERAGE u64 PreparedBytes(u64 v, u64 n)
{
    u64 sum = 0;
    if (RangeRule(v, n, Bit(kPrepared) | Bit(kReady)) != 0)
        return n;
    for (u64 a = v; a < v + n; a += kPage) {
        MResv *r = FindTracked(a);
        sum += r->st[(size_t)((a - r->base) / kPage)] == kPrepared ? kPage : 0;
    }
    return sum;
}

// ---- checks of memwin against the model --------------------------------------

// The expected last error after a checked call (refusals: prefix only).
void CheckError(const char *op, const Expect &ex)
{
    uint32_t got = memwin_last_error();
    const char *msg = memwin_last_error_message();
    if (got != ex.code)
        Diverge("memwin_last_error() is %u (\"%s\"); the model expects %u%s%s%s", got, msg,
                ex.code, ex.code == MEMWIN_ERR_OS ? " (\"" : "", ex.msg.c_str(),
                ex.code == MEMWIN_ERR_OS ? "\")" : "");
    if (ex.code == MEMWIN_ERR_OS) {
        if (ex.msg != msg)
            Diverge("memwin_last_error_message() is\n    \"%s\"\n  the model expects Go's\n    "
                    "\"%s\"",
                    msg, ex.msg.c_str());
    } else if (ex.code != 0) {
        std::string want = std::string("runtime: ") + op + "(";
        if (std::strncmp(msg, want.c_str(), want.size()) != 0 ||
            std::strstr(msg, "fatal error: memwin: ") == nullptr)
            Diverge("refusal message \"%s\" does not start with \"%s\" or lacks \"fatal error: "
                    "memwin: \"",
                    msg, want.c_str());
    } else if (*msg) {
        Diverge("memwin_last_error() is 0 but the message is \"%s\"", msg);
    }
}

void CheckCounters(bool seen_predictable)
{
    if (memwin_stat_load(&g_stat) != M.stat)
        Diverge("sysMemStat is %llu; the model says %llu",
                (unsigned long long)memwin_stat_load(&g_stat), (unsigned long long)M.stat);
    u64 mr = memwin_mapped_ready() - g_mr_base;
    if (mr != M.mr)
        Diverge("mapped-ready moved by %lld; the model says %lld", (long long)mr, (long long)M.mr);
    if (M.armed) {
        if (seen_predictable && memwin_fault_seen() != M.f_seen)
            Diverge("the fault injector saw %llu primitive calls of the armed classes; Go's "
                    "logic makes %llu",
                    (unsigned long long)memwin_fault_seen(), (unsigned long long)M.f_seen);
        M.f_seen = memwin_fault_seen();
    }
}

memwin_region_info Query(u64 a)
{
    memwin_region_info info{};
    uint32_t e = memwin_query(reinterpret_cast<void *>(a), &info);
    if (e != 0)
        Diverge("memwin_query(%#llx) failed with %u", (unsigned long long)a, e);
    return info;
}

// Bases of reservations memwin_query shows that the model does not know.
NO_COVERAGE std::vector<u64> Unknown()
{
    std::vector<u64> out;
    u64 p = kEmuMin;
    while (p <= kEmuMax) {
        memwin_region_info info = Query(p);
        u64 next = (u64)(uintptr_t)info.base + info.region_size;
        if (info.state != MEMWIN_MEM_FREE) {
            u64 b = (u64)(uintptr_t)info.allocation_base;
            if (!M.resv.count(b) && (out.empty() || out.back() != b))
                out.push_back(b);
        }
        if (next <= p)
            Diverge("memwin_query(%#llx) reports an empty run", (unsigned long long)p);
        p = next;
    }
    return out;
}

// The OS size of the reservation at base, as memwin_query shows it.
NO_COVERAGE u64 MeasureOS(u64 base)
{
    u64 p = base, size = 0;
    while (p <= kEmuMax) {
        memwin_region_info info = Query(p);
        if (info.state == MEMWIN_MEM_FREE || (u64)(uintptr_t)info.allocation_base != base)
            break;
        size += info.region_size;
        p += info.region_size;
    }
    return size;
}

// The whole address space, as memwin_query walks it, equals the model.
NO_COVERAGE void CheckWorld()
{
    u64 p = kEmuMin;
    for (auto &kv : M.resv) {
        const MResv &r = kv.second;
        if (p < r.base) {
            memwin_region_info info = Query(p);
            if (info.state != MEMWIN_MEM_FREE || info.region_size != r.base - p)
                Diverge("memwin_query(%#llx): state %#x, %llu bytes; the model has free space "
                        "up to the reservation at %#llx (an unexpected reservation?)",
                        (unsigned long long)p, info.state, (unsigned long long)info.region_size,
                        (unsigned long long)r.base);
        }
        for (u64 a = r.base; a < r.base + r.os_size;) {
            size_t k = (size_t)((a - r.base) / kPage), j = k;
            bool c = r.commit[k];
            while (j < r.commit.size() && (bool)r.commit[j] == c)
                j++;
            memwin_region_info info = Query(a);
            uint32_t want_state = c ? MEMWIN_MEM_COMMIT : MEMWIN_MEM_RESERVE;
            uint32_t want_protect = c ? MEMWIN_PAGE_READWRITE : 0;
            if ((u64)(uintptr_t)info.base != a || (u64)(uintptr_t)info.allocation_base != r.base ||
                info.allocation_protect != MEMWIN_PAGE_READWRITE || info.state != want_state ||
                info.protect != want_protect || info.region_size != (j - k) * kPage)
                Diverge("memwin_query(%#llx): allocation_base %p state %#x protect %#x size %llu; "
                        "the model says allocation_base %#llx state %#x protect %#x size %llu "
                        "(Go state %s)",
                        (unsigned long long)a, info.allocation_base, info.state, info.protect,
                        (unsigned long long)info.region_size, (unsigned long long)r.base,
                        want_state, want_protect, (unsigned long long)((j - k) * kPage),
                        k < r.st.size() ? kStateName[r.st[k]] : "untracked");
            a = r.base + j * kPage;
        }
        p = r.base + r.os_size;
    }
    if (p <= kEmuMax) {
        memwin_region_info info = Query(p);
        if (info.state != MEMWIN_MEM_FREE || info.region_size != kEmuMax + 1 - p)
            Diverge("memwin_query(%#llx): state %#x, %llu bytes; the model has no reservation "
                    "above",
                    (unsigned long long)p, info.state, (unsigned long long)info.region_size);
    }
}

constexpr u64 kWordOffsets[] = {0, 2048, kPage - 8};

u64 Word(uint32_t tag, u64 addr)
{
    if (tag == 0)
        return 0;
    u64 x = ((u64)tag << 32) ^ addr;
    x ^= x >> 31;
    x *= 0x9E3779B97F4A7C15ull;
    return x ^ (x >> 29);
}

std::set<u64> g_written; // committed pages holding a tag

NO_COVERAGE void CheckPage(const MResv &r, u64 a)
{
    size_t k = (size_t)((a - r.base) / kPage);
    if (!r.commit[k])
        return;
    for (u64 off : kWordOffsets) {
        u64 got = *reinterpret_cast<const volatile u64 *>(a + off);
        u64 want = Word(r.tag[k], a + off);
        if (got != want)
            Diverge("committed page %#llx holds %#llx at +%llu; the model expects %#llx (%s)",
                    (unsigned long long)a, (unsigned long long)got, (unsigned long long)off,
                    (unsigned long long)want,
                    r.tag[k] ? "data written earlier" : "zero: fresh or recommitted");
    }
}

// Data: every written page, and the committed pages around [v, v+n).
NO_COVERAGE void CheckData(u64 v, u64 n)
{
    for (auto it = g_written.begin(); it != g_written.end();) {
        MResv *r = FindOS(*it);
        if (!r || !r->commit[(size_t)((*it - r->base) / kPage)] ||
            !r->tag[(size_t)((*it - r->base) / kPage)]) {
            it = g_written.erase(it);
            continue;
        }
        CheckPage(*r, *it);
        ++it;
    }
    if (v == 0 || v + n < v)
        return;
    u64 lo = (v & ~(kPage - 1)) - (v >= kPage ? kPage : 0);
    for (u64 a = lo, i = 0; a < v + n + kPage && i < 130 && a >= lo; a += kPage, i++) {
        MResv *r = FindOS(a);
        if (r)
            CheckPage(*r, a);
    }
}

// ---- adopting what memwin returns ----------------------------------------------

void Adopt(u64 p, u64 tracked, u64 hint, u64 asked, bool ready, int slot, const char *op)
{
    if (p % kGranule)
        Diverge("%s returned %#llx, not on a 64 KiB boundary", op, (unsigned long long)p);
    u64 os = MeasureOS(p);
    u64 plain = RoundUp(asked, kPage);
    u64 hinted = hint && p == (hint & ~(kGranule - 1)) ? RoundUp(hint + asked, kPage) - p : plain;
    if (os != plain && os != hinted)
        Diverge("%s returned %#llx: the reservation there covers %llu bytes, expected %llu%s",
                op, (unsigned long long)p, (unsigned long long)os, (unsigned long long)plain,
                hinted != plain ? " or the hinted span" : "");
    for (auto &kv : M.resv) {
        const MResv &o = kv.second;
        if (p < o.base + o.Span() && o.base < p + RoundUp(os, kGranule))
            Diverge("%s returned %#llx (%llu bytes), overlapping the live reservation %#llx "
                    "(%llu bytes)",
                    op, (unsigned long long)p, (unsigned long long)os, (unsigned long long)o.base,
                    (unsigned long long)o.os_size);
    }
    MResv r;
    r.base = p;
    r.size = RoundUp(tracked, kPage);
    r.asked = tracked;
    r.os_size = os;
    r.st.assign((size_t)(r.size / kPage), ready ? kReady : kReserved);
    r.commit.assign((size_t)(os / kPage), 0);
    r.tag.assign((size_t)(os / kPage), 0);
    if (ready)
        std::fill(r.commit.begin(), r.commit.begin() + (long)(r.size / kPage), 1);
    M.resv[p] = std::move(r);
    if (slot >= 0) {
        g_slots[slot].base = p;
        g_slots[slot].live = true;
    }
}

// Reservations memwin left behind untracked after a failed call (allowed
// only where Go's logic leaves them: a release failing inside
// sysReserveAligned).
void AdoptLeaks(bool allowed, const char *op)
{
    for (u64 b : Unknown()) {
        if (!allowed)
            Diverge("after %s memwin_query shows a reservation at %#llx the model does not "
                    "know",
                    op, (unsigned long long)b);
        MResv r;
        r.base = b;
        r.tracked = false;
        r.os_size = MeasureOS(b);
        r.commit.assign((size_t)(r.os_size / kPage), 0);
        r.tag.assign((size_t)(r.os_size / kPage), 0);
        M.resv[b] = std::move(r);
        if (g_leaks_seen++ == 0 && g_verbose)
            std::fprintf(stderr,
                         "memwin_fuzz: note: %s failed with Go's fatal error and left an "
                         "untracked reservation at %#llx (recoverable mode)\n",
                         op, (unsigned long long)b);
    }
}

// ---- input decoding --------------------------------------------------------------

struct Reader {
    const uint8_t *p;
    size_t n;
    bool ok = true;
    uint8_t U8()
    {
        if (n == 0) {
            ok = false;
            return 0;
        }
        n--;
        return *p++;
    }
    u64 Le(int bytes)
    {
        u64 v = 0;
        for (int i = 0; i < bytes; i++)
            v |= (u64)U8() << (8 * i);
        return v;
    }
};

u64 SlotSize(int s)
{
    auto it = M.resv.find(g_slots[s].base);
    return it == M.resv.end() ? 0 : (it->second.tracked ? it->second.size : it->second.os_size);
}

u64 ReadAddr(Reader &in)
{
    uint8_t k = in.U8();
    int s = (k >> 3) & 7;
    u64 b = g_slots[s].base;
    switch (k & 7) {
    case 0:
        return 0;
    case 1:
        return b + (u64)(i64)(int8_t)in.U8() * kPage;
    case 2:
        return b + (u64)(i64)(int32_t)(uint32_t)in.Le(4);
    case 3:
        return in.Le(8);
    case 4:
        return b + RoundUp(SlotSize(s), kGranule) + (u64)(i64)(int8_t)in.U8() * kGranule;
    case 5:
        return (~(u64)0 & ~(kPage - 1)) - (u64)in.U8() * kPage;
    case 6:
        return b + (u64)(i64)(int8_t)in.U8() * kGranule;
    default:
        return b + in.Le(2) * kPage;
    }
}

const u64 kSpecialSizes[16] = {0,
                               1,
                               kPage - 1,
                               kPage,
                               kPage + 1,
                               kGranule,
                               1ull << 20,
                               kMaxResv,
                               1ull << 47,
                               1ull << 63,
                               (1ull << 63) + kPage,
                               ~0ull,
                               ~0ull & ~(kPage - 1),
                               (1ull << 63) - kPage,
                               kEmuSpace + 1,
                               3 * kPage};

u64 ReadSize(Reader &in)
{
    uint8_t k = in.U8();
    int s = (k >> 3) & 7;
    switch (k & 7) {
    case 0:
        return (u64)in.U8() * kPage;
    case 1:
        return in.Le(2) * kPage;
    case 2:
        return in.Le(8);
    case 3:
        return SlotSize(s) + (u64)(i64)(int8_t)in.U8() * kPage;
    case 4:
        return kSpecialSizes[in.U8() % 16];
    case 5:
        return (u64)in.U8() + 1;
    case 6:
        return (u64)in.U8() * kGranule;
    default:
        return in.Le(2);
    }
}

// Sizes of new reservations: those the emulation would really map beyond
// kMaxResv are folded below it (see kMaxResv).
u64 ClampResv(u64 n)
{
    return n > kMaxResv && n <= kEmuSpace ? n % kMaxResv : n;
}

sysMemStat *ReadStat(Reader &in) { return (in.U8() & 3) == 2 ? nullptr : &g_stat; }

// ---- operations --------------------------------------------------------------------

enum Op {
    kOpReserve, kOpReserveOS, kOpAlloc, kOpAllocOS, kOpReserveAligned,
    kOpMap, kOpMapOS, kOpUsed, kOpUsedOS, kOpUnused, kOpUnusedOS, kOpFault, kOpFaultOS,
    kOpFree, kOpFreeOS, kOpUnreserve, kOpHint, kOpFill, kOpSetStat, kOpStatAdd,
    kOpFaultSet, kOpFaultClear, kOpHole, kOpNeedZero, kOpDrop, kOpExactReserve, kOpExactFree,
    kOpCount
};

// Range operations: map, used, unused, fault, huge-page hints.
void DoRange(const char *name, u64 v, u64 n, unsigned allowed, int kind, bool generic, u64 prep,
             sysMemStat *stat)
{
    // kind: 0 map, 1 used, 2 unused, 3 fault, 4 hint
    Expect ex;
    uint32_t code = RangeRule(v, n, allowed);
    if (!code && kind == 0 && generic && !stat)
        code = MEMWIN_ERR_NULL;
    if (!code && kind == 0 && generic && AcctRefuse(M.stat, n, true))
        code = MEMWIN_ERR_ACCOUNTING;
    if (!code && kind == 1 && generic && prep > n)
        code = MEMWIN_ERR_ACCOUNTING;
    ex.code = code;
    if (!code) {
        switch (kind) {
        case 0:
            if (generic)
                GoStatAdd(&M.stat, (i64)n, ex);
            SetTracker(v, n, kPrepared);
            break;
        case 1:
            if (generic)
                M.mr += prep;
            if (GoUsed(v, n, ex))
                SetTracker(v, n, kReady);
            break;
        case 2:
        case 3:
            if (generic)
                M.mr -= n;
            if (GoUnused(v, n, ex))
                SetTracker(v, n, kind == 3 ? kReserved : kPrepared);
            break;
        default:
            break;
        }
    }
    void *pv = reinterpret_cast<void *>(v);
    std::string op = name;
    if (op == "sysMap")
        sysMap(pv, n, stat);
    else if (op == "sysMapOS")
        sysMapOS(pv, n);
    else if (op == "sysUsed")
        sysUsed(pv, n, prep);
    else if (op == "sysUsedOS")
        sysUsedOS(pv, n);
    else if (op == "sysUnused")
        sysUnused(pv, n);
    else if (op == "sysUnusedOS")
        sysUnusedOS(pv, n);
    else if (op == "sysFault")
        sysFault(pv, n);
    else if (op == "sysFaultOS")
        sysFaultOS(pv, n);
    else if (op == "sysHugePage")
        sysHugePage(pv, n);
    else if (op == "sysNoHugePage")
        sysNoHugePage(pv, n);
    else if (op == "sysHugePageCollapse")
        sysHugePageCollapse(pv, n);
    else if (op == "sysHugePageOS")
        sysHugePageOS(pv, n);
    else if (op == "sysNoHugePageOS")
        sysNoHugePageOS(pv, n);
    else
        sysHugePageCollapseOS(pv, n);
    CheckError(name, ex);
    CheckCounters(true);
}

void DoRelease(const char *name, u64 v, u64 n, sysMemStat *stat)
{
    bool gen_free = std::strcmp(name, "sysFree") == 0;
    Expect ex;
    MResv *r = v ? FindTracked(v) : nullptr;
    if (v == 0)
        ex.code = MEMWIN_ERR_NULL;
    else if (!r || r->base != v)
        ex.code = MEMWIN_ERR_NOT_BASE;
    else if (n != r->asked) // the exact size, as Go's releases need
        ex.code = MEMWIN_ERR_NOT_BASE;
    else if (gen_free && !stat)
        ex.code = MEMWIN_ERR_NULL;
    else if (gen_free && (g_allow_free_signbit ? M.stat < n : AcctRefuse(M.stat, n, false)))
        ex.code = MEMWIN_ERR_ACCOUNTING;
    else if (std::strcmp(name, "sysFreeOS") != 0 && // sysFree: all Ready; sysUnreserve: all Reserved
             std::any_of(r->st.begin(), r->st.end(),
                         [&](uint8_t s) { return s != (gen_free ? kReady : kReserved); }))
        ex.code = MEMWIN_ERR_STATE;
    if (ex.code == 0) {
        bool ok = true;
        if (gen_free) {
            ok = GoStatAdd(&M.stat, -(i64)n, ex);
            if (ok)
                M.mr -= n;
        }
        if (ok)
            GoFree(v, n, ex);
    }
    void *pv = reinterpret_cast<void *>(v);
    if (gen_free)
        sysFree(pv, n, stat);
    else if (std::strcmp(name, "sysFreeOS") == 0)
        sysFreeOS(pv, n);
    else
        sysUnreserve(pv, n);
    CheckError(name, ex);
    CheckCounters(true);
}

void DoReserve(bool os, int slot, u64 v, u64 n)
{
    const char *name = os ? "sysReserveOS" : "sysReserve";
    Expect ex;
    if (v % kPage)
        ex.code = MEMWIN_ERR_UNALIGNED;
    else if (n == 0 || n % kPage)
        ex.code = MEMWIN_ERR_SIZE;
    else if (v + (n - 1) < v)
        ex.code = MEMWIN_ERR_OVERFLOW;
    void *p = os ? sysReserveOS(reinterpret_cast<void *>(v), n)
                 : sysReserve(reinterpret_cast<void *>(v), n);
    CheckError(name, ex);
    CheckCounters(false);
    if (ex.code) {
        if (p)
            Diverge("a refused %s returned %p", name, p);
        return;
    }
    if (!p) {
        bool may_fail = (M.armed && (M.f_ops & MEMWIN_FAULT_RESERVE)) || n > kEmuSpace;
        if (!may_fail)
            Diverge("%s(%#llx, %llu) returned NULL", name, (unsigned long long)v,
                    (unsigned long long)n);
        return;
    }
    Adopt((u64)(uintptr_t)p, n, v, n, false, slot, name);
}

void DoAlloc(bool os, int slot, u64 n, sysMemStat *stat)
{
    const char *name = os ? "sysAllocOS" : "sysAlloc";
    Expect ex;
    bool expect_null = false;
    // Any size but 0 that whole pages can hold (Go asks for 0x210d0 bytes).
    if (n == 0 || n > ~(u64)0 - (kPage - 1)) {
        ex.code = MEMWIN_ERR_SIZE;
    } else if (!os && !stat) {
        ex.code = MEMWIN_ERR_NULL;
    } else if (!os) {
        bool refuse;
        if (g_allow_alloc_signbit && n >= (1ull << 63)) {
            if (n == (1ull << 63))
                return; // memwin negates INT64_MIN there (see README.md)
            refuse = M.stat < 0 - n; // memwin's rule: int64(n) is negative
        } else {
            refuse = AcctRefuse(M.stat, n, true);
        }
        if (refuse)
            ex.code = MEMWIN_ERR_ACCOUNTING;
    }
    if (ex.code == 0) {
        bool ok = true;
        if (!os) {
            ok = GoStatAdd(&M.stat, (i64)n, ex);
            if (ok)
                M.mr += n;
        }
        if (ok) {
            M.last_err = 0;
            expect_null = InjHit(MEMWIN_FAULT_ALLOC) || n > kEmuSpace;
        }
    }
    void *p = os ? sysAllocOS(n) : sysAlloc(n, stat);
    CheckError(name, ex);
    CheckCounters(true);
    if (ex.code != 0 || expect_null) {
        if (p)
            Diverge("%s(%llu) returned %p; the model expects NULL", name, (unsigned long long)n,
                    p);
        return;
    }
    if (!p)
        Diverge("%s(%llu) returned NULL", name, (unsigned long long)n);
    Adopt((u64)(uintptr_t)p, n, 0, n, true, slot, name);
}

void DoReserveAligned(int slot, u64 v, u64 n, u64 align)
{
    const char *name = "sysReserveAligned";
    Expect ex;
    if (v % kPage)
        ex.code = MEMWIN_ERR_UNALIGNED;
    else if (n == 0 || n % kPage)
        ex.code = MEMWIN_ERR_SIZE;
    else if (v + (n - 1) < v)
        ex.code = MEMWIN_ERR_OVERFLOW;
    else if (align < kPage || (align & (align - 1)) != 0 || n + align < n)
        ex.code = MEMWIN_ERR_ALIGN;
    const uintptr_t kSentinel = 0x5eed;
    uintptr_t reserved = kSentinel;
    void *p = sysReserveAligned(reinterpret_cast<void *>(v), n, align, &reserved);
    uint32_t got = memwin_last_error();
    if (ex.code) {
        CheckError(name, ex);
        CheckCounters(false);
        if (p)
            Diverge("a refused %s returned %p", name, p);
        if (reserved != 0 && !(g_allow_aligned_reserved && reserved == kSentinel))
            Diverge("a refused %s stored %llu in *reserved; the header says 0 on failure", name,
                    (unsigned long long)reserved);
        return;
    }
    bool armed_rr = M.armed && (M.f_ops & (MEMWIN_FAULT_RESERVE | MEMWIN_FAULT_RELEASE));
    if (got == MEMWIN_ERR_OS && armed_rr) {
        // A release failed part-way (Go's fatal error): allowed texts only.
        std::string msg = memwin_last_error_message();
        std::string a = Failed("VirtualFree", n + align, M.f_err) +
                        "fatal error: runtime: failed to release pages";
        std::string b = Failed("VirtualFree", n, M.f_err) +
                        "fatal error: runtime: failed to release pages";
        std::string c = Failed("VirtualFree", n, 87) +
                        "fatal error: runtime: failed to release pages"; // p2 == NULL released
        std::string d = "fatal error: failed to allocate aligned heap memory; too many retries";
        if (msg != a && msg != b && msg != c && msg != d)
            Diverge("%s failed with \"%s\", not one of Go's texts for this path", name,
                    msg.c_str());
        if (p || reserved != 0)
            Diverge("%s failed but returned %p, reserved %llu", name, p,
                    (unsigned long long)reserved);
        CheckCounters(false);
        AdoptLeaks(true, name);
        return;
    }
    CheckError(name, ex);
    CheckCounters(false);
    if (!p) {
        bool may_fail = armed_rr || n + align > kEmuSpace;
        if (!may_fail)
            Diverge("%s(%#llx, %llu, %llu) returned NULL", name, (unsigned long long)v,
                    (unsigned long long)n, (unsigned long long)align);
        if (reserved != 0)
            Diverge("%s returned NULL with reserved %llu", name, (unsigned long long)reserved);
        AdoptLeaks(false, name);
        return;
    }
    u64 a = (u64)(uintptr_t)p;
    if (a % align != 0 || (reserved != n && reserved != n + align))
        Diverge("%s(%#llx, %llu, %llu) returned %p with reserved %llu", name,
                (unsigned long long)v, (unsigned long long)n, (unsigned long long)align, p,
                (unsigned long long)reserved);
    Adopt(a, reserved, reserved == n + align ? v : a, reserved, false, slot, name);
    AdoptLeaks(false, name);
}

void DoFill(u64 v, u64 n)
{
    u64 a = v & ~(kPage - 1);
    for (int i = 0; i < 64 && a < v + n && a >= (v & ~(kPage - 1)); i++, a += kPage) {
        MResv *r = FindOS(a);
        if (!r)
            continue;
        size_t k = (size_t)((a - r->base) / kPage);
        if (!r->commit[k])
            continue;
        uint32_t t = ++g_tag_counter | 1u;
        for (u64 off : kWordOffsets)
            *reinterpret_cast<volatile u64 *>(a + off) = Word(t, a + off);
        r->tag[k] = t;
        g_written.insert(a);
    }
}

void Cleanup()
{
    memwin_fault_clear();
    M.armed = false;
    std::vector<u64> bases;
    for (auto &kv : M.resv)
        bases.push_back(kv.first);
    for (u64 b : bases) {
        MResv &r = M.resv[b];
        if (r.tracked) {
            g_log.push_back(Fmt("cleanup: sysFreeOS(%#llx, %llu)", (unsigned long long)b,
                                (unsigned long long)r.asked));
            sysFreeOS(reinterpret_cast<void *>(b), r.asked);
            if (memwin_last_error() != 0)
                Diverge("cleanup: sysFreeOS of a live reservation failed: %s",
                        memwin_last_error_message());
        } else {
            // Untracked (left by a failed call): only the primitive can free it.
            if (!memwin_prim_host()->virtual_free(reinterpret_cast<void *>(b), 0,
                                                  MEMWIN_MEM_RELEASE))
                Diverge("cleanup: releasing the untracked reservation %#llx failed",
                        (unsigned long long)b);
        }
        M.resv.erase(b);
    }
    CheckWorld();
    g_written.clear();
}

void Run(const uint8_t *data, size_t size)
{
    Reader in{data, size};
    M = Model();
    g_stat = 0;
    g_mr_base = memwin_mapped_ready();
    g_log.clear();
    for (Slot &s : g_slots)
        s = Slot();
    for (int i = 0; i < kSlots; i++)
        g_slots[i].base = 0x7e0000000000ull + (u64)i * (1ull << 30);
    int ops = 0;
    while (in.n > 0 && ops++ < 2000) {
        uint8_t b = in.U8();
        int slot = b >> 5;
        int op = (b & 31) % kOpCount;
        u64 v = 0, n = 0, x = 0;
        sysMemStat *stat = &g_stat;
        uint8_t sel = 0;
        // Decode the operands first (the operation runs only if complete).
        switch (op) {
        case kOpReserve:
        case kOpReserveOS:
            v = ReadAddr(in);
            n = ClampResv(ReadSize(in));
            break;
        case kOpAlloc:
            n = ClampResv(ReadSize(in));
            stat = ReadStat(in);
            break;
        case kOpAllocOS:
            n = ClampResv(ReadSize(in));
            break;
        case kOpReserveAligned: {
            v = ReadAddr(in);
            n = ClampResv(ReadSize(in));
            uint8_t a = in.U8();
            x = a & 0x80 ? in.Le(8) : (1ull << (a & 63));
            if (x > kMaxResv && x <= kEmuSpace)
                x = kMaxResv;
            break;
        }
        case kOpMap:
        case kOpFree:
            v = ReadAddr(in);
            n = ReadSize(in);
            stat = ReadStat(in);
            break;
        case kOpUsed:
            v = ReadAddr(in);
            n = ReadSize(in);
            sel = in.U8();
            x = (sel & 3) == 3 ? ReadSize(in) : 0;
            break;
        case kOpHint:
            sel = in.U8();
            v = ReadAddr(in);
            n = ReadSize(in);
            break;
        case kOpMapOS:
        case kOpUsedOS:
        case kOpUnused:
        case kOpUnusedOS:
        case kOpFault:
        case kOpFaultOS:
        case kOpFreeOS:
        case kOpUnreserve:
        case kOpFill:
            v = ReadAddr(in);
            n = ReadSize(in);
            break;
        case kOpSetStat: {
            uint8_t k = in.U8();
            switch (k % 6) {
            case 0: x = (u64)in.U8() * kPage; break;
            case 1: x = in.Le(8); break;
            case 2: x = (1ull << 63) - (u64)in.U8() * kPage; break;
            case 3: x = (1ull << 63) + (u64)in.U8() * kPage; break;
            case 4: x = ~0ull - (u64)in.U8() * kPage; break;
            default: x = 0; break;
            }
            break;
        }
        case kOpStatAdd: {
            stat = ReadStat(in);
            uint8_t k = in.U8();
            x = k % 3 == 0 ? (u64)in.U8() * kPage
                           : k % 3 == 1 ? 0 - (u64)in.U8() * kPage : in.Le(8);
            break;
        }
        case kOpFaultSet:
            sel = in.U8();         // classes
            v = in.U8();           // nth
            n = in.U8();           // count
            x = in.U8();           // error index
            break;
        case kOpExactReserve:
            n = ClampResv(ReadSize(in));
            break;
        case kOpHole: {
            n = ClampResv(ReadSize(in));
            uint8_t a = in.U8();
            x = 1ull << (a % 24);
            break;
        }
        default:
            break;
        }
        if (!in.ok)
            break;
        static const char *const hint_names[6] = {"sysHugePage",   "sysNoHugePage",
                                                  "sysHugePageCollapse", "sysHugePageOS",
                                                  "sysNoHugePageOS", "sysHugePageCollapseOS"};
        static const uint32_t errors[8] = {8, 1455, 87, 487, 5, 0, 1, 2};
        switch (op) {
        case kOpReserve:
        case kOpReserveOS:
            g_log.push_back(Fmt("slot%d = %s(%#llx, %#llx)", slot,
                                op == kOpReserve ? "sysReserve" : "sysReserveOS",
                                (unsigned long long)v, (unsigned long long)n));
            DoReserve(op == kOpReserveOS, slot, v, n);
            break;
        case kOpAlloc:
        case kOpAllocOS:
            g_log.push_back(Fmt("slot%d = %s(%#llx%s)", slot,
                                op == kOpAlloc ? "sysAlloc" : "sysAllocOS", (unsigned long long)n,
                                op == kOpAlloc ? (stat ? ", &stat" : ", NULL") : ""));
            DoAlloc(op == kOpAllocOS, slot, n, stat);
            break;
        case kOpReserveAligned:
            g_log.push_back(Fmt("slot%d = sysReserveAligned(%#llx, %#llx, %#llx)", slot,
                                (unsigned long long)v, (unsigned long long)n,
                                (unsigned long long)x));
            DoReserveAligned(slot, v, n, x);
            break;
        case kOpMap:
            g_log.push_back(Fmt("sysMap(%#llx, %#llx, %s)", (unsigned long long)v,
                                (unsigned long long)n, stat ? "&stat" : "NULL"));
            DoRange("sysMap", v, n, Bit(kReserved), 0, true, 0, stat);
            break;
        case kOpMapOS:
            g_log.push_back(Fmt("sysMapOS(%#llx, %#llx)", (unsigned long long)v,
                                (unsigned long long)n));
            DoRange("sysMapOS", v, n, Bit(kReserved), 0, false, 0, nullptr);
            break;
        case kOpUsed: {
            u64 prep = (sel & 3) == 0 ? PreparedBytes(v, n) : (sel & 3) == 1 ? n : (sel & 3) == 2 ? 0 : x;
            g_log.push_back(Fmt("sysUsed(%#llx, %#llx, %#llx)", (unsigned long long)v,
                                (unsigned long long)n, (unsigned long long)prep));
            DoRange("sysUsed", v, n, Bit(kPrepared) | Bit(kReady), 1, true, prep, nullptr);
            break;
        }
        case kOpUsedOS:
            g_log.push_back(Fmt("sysUsedOS(%#llx, %#llx)", (unsigned long long)v,
                                (unsigned long long)n));
            DoRange("sysUsedOS", v, n, Bit(kPrepared) | Bit(kReady), 1, false, 0, nullptr);
            break;
        case kOpUnused:
        case kOpUnusedOS:
        case kOpFault:
        case kOpFaultOS: {
            static const char *const names[4] = {"sysUnused", "sysUnusedOS", "sysFault",
                                                 "sysFaultOS"};
            const char *name = names[op - kOpUnused];
            g_log.push_back(Fmt("%s(%#llx, %#llx)", name, (unsigned long long)v,
                                (unsigned long long)n));
            DoRange(name, v, n, Bit(kReady), op >= kOpFault ? 3 : 2,
                    op == kOpUnused || op == kOpFault, 0, nullptr);
            break;
        }
        case kOpFree:
            g_log.push_back(Fmt("sysFree(%#llx, %#llx, %s)", (unsigned long long)v,
                                (unsigned long long)n, stat ? "&stat" : "NULL"));
            DoRelease("sysFree", v, n, stat);
            break;
        case kOpFreeOS:
        case kOpUnreserve: {
            const char *name = op == kOpFreeOS ? "sysFreeOS" : "sysUnreserve";
            g_log.push_back(Fmt("%s(%#llx, %#llx)", name, (unsigned long long)v,
                                (unsigned long long)n));
            DoRelease(name, v, n, nullptr);
            break;
        }
        case kOpHint: {
            const char *name = hint_names[sel % 6];
            g_log.push_back(Fmt("%s(%#llx, %#llx)", name, (unsigned long long)v,
                                (unsigned long long)n));
            DoRange(name, v, n, kManaged, 4, false, 0, nullptr);
            break;
        }
        case kOpFill:
            g_log.push_back(Fmt("fill(%#llx, %#llx)", (unsigned long long)v, (unsigned long long)n));
            DoFill(v, n);
            break;
        case kOpSetStat:
            g_log.push_back(Fmt("stat = %#llx", (unsigned long long)x));
            g_stat = x;
            M.stat = x;
            break;
        case kOpStatAdd: {
            g_log.push_back(Fmt("memwin_stat_add(%s, %lld)", stat ? "&stat" : "NULL",
                                (long long)(i64)x));
            Expect ex;
            bool fired;
            if (!stat) {
                ex.Os("", "memwin: nil sysMemStat");
                fired = true;
            } else {
                fired = !GoStatAdd(&M.stat, (i64)x, ex);
            }
            memwin_stat_add(stat, (i64)x);
            // A successful memwin_stat_add leaves the thread's last error as
            // it was; only a fired check is compared.
            if (fired)
                CheckError("memwin_stat_add", ex);
            CheckCounters(true);
            break;
        }
        case kOpFaultSet: {
            uint32_t ops = sel & 0x1f, err = errors[x % 8];
            g_log.push_back(Fmt("memwin_fault_set(%#x, %llu, %llu, %u)", ops,
                                (unsigned long long)v, (unsigned long long)n, err));
            uint32_t ret = memwin_fault_set(ops, v, n, err);
            uint32_t want = ops == 0 || v == 0 ? 87u : 0u;
            if (ret != want)
                Diverge("memwin_fault_set returned %u, expected %u", ret, want);
            if (want == 0) {
                M.armed = true;
                M.f_ops = ops;
                M.f_nth = v;
                M.f_count = n;
                M.f_err = err;
                M.f_seen = 0;
            }
            CheckCounters(true);
            break;
        }
        case kOpFaultClear:
            g_log.push_back("memwin_fault_clear()");
            memwin_fault_clear();
            M.armed = false;
            break;
        case kOpHole: {
            // Harness: find free address space (reserve and release it with
            // the primitives directly) and name it by the slot.
            const memwin_prim *h = memwin_prim_host();
            void *p = n ? h->virtual_alloc(nullptr, n + x, MEMWIN_MEM_RESERVE,
                                           MEMWIN_PAGE_READWRITE)
                        : nullptr;
            if (p) {
                h->virtual_free(p, 0, MEMWIN_MEM_RELEASE);
                g_slots[slot].base = RoundUp((u64)(uintptr_t)p, x);
                g_slots[slot].live = false;
            }
            g_log.push_back(Fmt("slot%d = hole(%#llx, align %#llx) = %#llx", slot,
                                (unsigned long long)n, (unsigned long long)x,
                                (unsigned long long)g_slots[slot].base));
            break;
        }
        case kOpNeedZero:
            g_log.push_back("needZeroAfterSysUnused()");
            if (!needZeroAfterSysUnused() || !needZeroAfterSysUnusedOS())
                Diverge("needZeroAfterSysUnused must be true on Windows");
            break;
        case kOpExactReserve: {
            if (M.armed) { // Go's fatal errors are fatal in exact mode
                g_log.push_back("[exact mode] reserve: skipped (injector armed)");
                break;
            }
            // Checking off: memwin's tracker never hears of this reservation,
            // so checked calls on it must be refused as not managed.
            memwin_set_mode(MEMWIN_MODE_EXACT);
            void *p = sysReserveOS(nullptr, n);
            memwin_set_mode(MEMWIN_MODE_RECOVERABLE);
            g_log.push_back(Fmt("slot%d = [exact mode] sysReserveOS(0, %#llx) = %p", slot,
                                (unsigned long long)n, p));
            if (p) {
                u64 b = (u64)(uintptr_t)p;
                Adopt(b, n, 0, n, false, slot, "sysReserveOS (exact mode)");
                M.resv[b].tracked = false;
                M.resv[b].size = 0;
                M.resv[b].st.clear();
            } else if (n != 0 && n <= kEmuSpace) {
                Diverge("sysReserveOS(0, %llu) in exact mode returned NULL", (unsigned long long)n);
            }
            break;
        }
        case kOpExactFree: {
            // Checking off while a reservation goes away: afterwards it is
            // None, and checked calls on it must be refused as not managed.
            auto it = M.resv.find(g_slots[slot].base);
            if (it == M.resv.end() || M.armed || (it->second.tracked && g_allow_stale_tracker)) {
                g_log.push_back(Fmt("[exact mode] release slot%d: skipped", slot));
                break;
            }
            u64 b = it->first, sz = it->second.tracked ? it->second.size : it->second.os_size;
            g_log.push_back(Fmt("[exact mode] sysFreeOS(%#llx, %#llx)", (unsigned long long)b,
                                (unsigned long long)sz));
            memwin_set_mode(MEMWIN_MODE_EXACT);
            sysFreeOS(reinterpret_cast<void *>(b), sz);
            memwin_set_mode(MEMWIN_MODE_RECOVERABLE);
            M.resv.erase(it);
            g_slots[slot].live = false;
            break;
        }
        default:
            g_log.push_back(Fmt("drop slot%d", slot));
            g_slots[slot].live = false;
            break;
        }
        CheckWorld();
        CheckData(v, n);
    }
    Cleanup();
}

void OnFatal(const char *printed, const char *message, void *)
{
    Diverge("memwin called the fatal handler in recoverable mode:\n%sfatal error: %s", printed,
            message);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    const char *allow = std::getenv("MEMWIN_FUZZ_ALLOW");
    std::string a = allow ? allow : "";
    g_allow_alloc_signbit = a.find("alloc-signbit") != std::string::npos;
    g_allow_free_signbit = a.find("free-signbit") != std::string::npos;
    g_allow_aligned_reserved = a.find("aligned-reserved") != std::string::npos;
    g_allow_stale_tracker = a.find("stale-tracker") != std::string::npos;
    g_verbose = std::getenv("MEMWIN_FUZZ_VERBOSE") != nullptr;
    memwin_set_mode(MEMWIN_MODE_RECOVERABLE);
    memwin_set_fatal_handler(OnFatal, nullptr);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Run(data, size);
    return 0;
}
