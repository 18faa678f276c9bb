// Where the Linux emulation (src/emu/prim_linux.c, emu_map) maps a
// reservation and which host mappings it leaves behind: a hole whose top
// something else has mapped, the zone's next address taken, a refusal by
// the address-space limit (RLIMIT_AS) at each step, the count of placements
// that decides how a quarantined range leaves, the kernel's placement
// (aligned, or trimmed to alignment) in gaps laid out here, a zone low in
// the address space, and mmap answers a recent kernel does not give (a
// kernel ignoring MAP_FIXED_NOREPLACE, EINVAL, a one-off ENOMEM) played by a
// seccomp trap.  Each scenario runs in a fresh process (MEMWIN_CHILD): the
// zone, holes, limits and filters are per process.  Linux only: on Windows
// placement is the kernel's own business.
#if !defined(_WIN32)

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <ucontext.h>
#endif

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "child_check.h"
#include "host_maps.h"
#include "test_util.h"

using namespace mwt;

namespace {

constexpr uintptr_t G = kGranule;
constexpr uintptr_t kGiB = 1024 * kMiB, kTiB = 1024 * kGiB;
constexpr int kQuarantine = 64; // releases a range waits before reuse
constexpr int kHostFlags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;

uintptr_t reserve(uintptr_t n, uintptr_t at = 0)
{
    return U(host()->virtual_alloc(P(at), n, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE));
}

uintptr_t reserve_aligned(uintptr_t n, uintptr_t align)
{
    return U(host()->virtual_alloc_aligned(n, align, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_READWRITE));
}

void release(uintptr_t a)
{
    CHILD_CHECK(holds(host()->virtual_free(P(a), 0, MEMWIN_MEM_RELEASE) != 0, "release refused"));
}

::testing::AssertionResult at(uintptr_t got, uintptr_t want, const char *what)
{
    if (got == want)
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << what << ": got " << std::hex << got << ", want " << want;
}

// True if the host has the page at a mapped (mincore: ENOMEM when not).
bool mapped(uintptr_t a)
{
    unsigned char v;
    return mincore(P(a), kPage, &v) == 0;
}

// Maps [a, a+n) PROT_NONE on the host, only where all of it is free.
bool host_map(uintptr_t a, uintptr_t n)
{
    void *p = mmap(P(a), n, PROT_NONE, kHostFlags | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED)
        return false;
    if (U(p) != a) {
        munmap(p, n);
        return false;
    }
    return true;
}

// A fresh process's zone: the first reservation goes where the kernel puts
// it (the zone then starts 64 GiB away), the next ones each just below the
// lowest so far.
struct Zone {
    uintptr_t low = 0;
    Zone()
    {
        CHILD_CHECK(holds(reserve(G) != 0, "first reservation refused"));
        low = reserve(G);
        CHILD_CHECK(holds(low != 0, "second reservation refused"));
    }
    uintptr_t next(uintptr_t n)
    {
        const uintptr_t span = (n + G - 1) & ~(G - 1);
        const uintptr_t r = reserve(n);
        CHILD_CHECK(at(r, low - span, "reservation not just below the zone"));
        return low = r;
    }
};

// Limits the process's address space (RLIMIT_AS) to what it maps now plus
// extra bytes, until restore().
class AsLimit {
public:
    explicit AsLimit(uintptr_t extra)
    {
        getrlimit(RLIMIT_AS, &old_);
        std::ifstream f("/proc/self/status");
        std::string line;
        unsigned long kb = 0;
        while (std::getline(f, line))
            if (line.rfind("VmSize:", 0) == 0)
                kb = std::strtoul(line.c_str() + 7, nullptr, 10);
        CHILD_CHECK(holds(kb != 0, "no VmSize"));
        struct rlimit r = old_;
        r.rlim_cur = rlim_t(kb) * 1024 + extra;
        if (old_.rlim_max != RLIM_INFINITY && old_.rlim_max < r.rlim_cur)
            skip("RLIMIT_AS is already lower");
        CHILD_CHECK(holds(setrlimit(RLIMIT_AS, &r) == 0, "setrlimit failed"));
    }
    void restore()
    {
        setrlimit(RLIMIT_AS, &old_);
    }
    ~AsLimit()
    {
        restore();
    }

private:
    struct rlimit old_;
};

// Two one-granule holes of the zone (releases that left the quarantine),
// with a live granule between them; the host then maps a page at the top
// hole's base.  Returns the lower hole.
uintptr_t holes_with_top_taken(Zone &z)
{
    const uintptr_t a = z.next(G);
    z.next(G);
    const uintptr_t b = z.next(G);
    z.next(G);
    std::vector<uintptr_t> fill;
    for (int i = 0; i < kQuarantine; i++)
        fill.push_back(z.next(G));
    release(a);
    release(b);
    for (uintptr_t f : fill)
        release(f);
    CHILD_CHECK(holds(host_map(a, kPage), "the top hole's base could not be mapped"));
    return b;
}

} // namespace

// ---- the holes and the zone's next address ----------------------------------

// Two one-granule holes; the host maps a page at the top one's base: the
// reservation that tried there goes on to the next hole down (not below the
// zone, not at the taken address, not looping on the same hole).
MEMWIN_CHILD(emu_map_blocked_hole)
{
    alarm(20);
    Zone z;
    const uintptr_t b = holes_with_top_taken(z);
    CHILD_CHECK(at(reserve(G), b, "reservation after a taken hole"));
}

TEST(EmuMapPlacement, TakenHoleFallsToTheNextHole)
{
    run_emu_child("emu_map_blocked_hole");
}

// The zone's next address has a host page: the reservation goes where the
// kernel puts it, not there, and the emulation unmaps nothing else (a page
// mapped at 64 KiB, inside [0, length), stays).
MEMWIN_CHILD(emu_map_blocked_below_zone)
{
    alarm(20);
    Zone z;
    const bool low_page = host_map(0x10000, kPage);
    const uintptr_t next = z.low - 2 * G;
    CHILD_CHECK(holds(host_map(next, kPage), "the zone's next address could not be mapped"));
    const uintptr_t r = reserve(2 * G);
    CHILD_CHECK(holds(r != 0, "reservation refused"));
    CHILD_CHECK(holds(r + 2 * G <= next || r >= next + kPage, "reservation over the host page"));
    CHILD_CHECK(holds(mapped(next), "the host page at the zone's next address was unmapped"));
    if (low_page)
        CHILD_CHECK(holds(mapped(0x10000), "the host page at 64 KiB was unmapped"));
}

TEST(EmuMapPlacement, TakenZoneAddressFallsToTheKernel)
{
    run_emu_child("emu_map_blocked_below_zone");
}

// Below a 4 GiB-aligned zone bottom, a 4 GiB reservation goes just below it
// (the room test is on emu_low - span, which no product of the two stands
// for).
MEMWIN_CHILD(emu_map_below_aligned_bottom)
{
    alarm(20);
    Zone z;
    const uintptr_t h = reserve_aligned(G, 4 * kGiB);
    CHILD_CHECK(holds(h != 0 && h % (4 * kGiB) == 0 && h < z.low, "aligned reservation"));
    CHILD_CHECK(at(reserve(4 * kGiB), h - 4 * kGiB, "4 GiB below the zone"));
}

TEST(EmuMapPlacement, BigReservationJustBelowAlignedZoneBottom)
{
    run_emu_child("emu_map_below_aligned_bottom");
}

// A range R is released, a reservation at an address takes its top granule,
// then the kernel places one (the zone's next address is taken): the count
// of placements elsewhere has moved twice since R came in, so R leaves the
// quarantine as its free part only, the hole a reservation then takes.
MEMWIN_CHILD(emu_map_placements_counted)
{
    alarm(20);
    Zone z;
    const uintptr_t r = z.next(2 * G);
    z.next(G);
    std::vector<uintptr_t> fill;
    for (int i = 0; i < kQuarantine - 1; i++)
        fill.push_back(z.next(G));
    release(r);
    CHILD_CHECK(at(reserve(G, r + G), r + G, "reservation at an address"));
    for (uintptr_t f : fill)
        release(f); // the quarantine is full, r the oldest
    // 128 GiB fits no gap between the zone and the program's mappings: the
    // kernel puts it below the zone, and the new zone is clear of the old.
    CHILD_CHECK(holds(host_map(z.low - kPage, kPage), "the zone's next address could not be mapped"));
    const uintptr_t k = reserve(128 * kGiB);
    CHILD_CHECK(holds(k != 0 && k + 128 * kGiB <= z.low - kPage, "kernel placement"));
    const uintptr_t y = reserve(G); // just below the new zone
    CHILD_CHECK(at(y, k - (uintptr_t(64) << 30) - G, "reservation below the new zone"));
    release(y); // quarantined: r leaves
    CHILD_CHECK(at(reserve(G), r, "reservation in r's free granule"));
}

TEST(EmuMapPlacement, AddressPlacementCountsForTheQuarantine)
{
    run_emu_child("emu_map_placements_counted");
}

// ---- refusals by the address-space limit -------------------------------------

// At an address: the limit's refusal is ERROR_NOT_ENOUGH_MEMORY (the
// address is free: it is granted once the limit is lifted).
MEMWIN_CHILD(emu_map_at_address_limit)
{
    alarm(20);
    const uintptr_t want = free_area(kGiB);
    CHILD_CHECK(holds(want != 0, "no free area"));
    AsLimit lim(16 * kMiB);
    const uintptr_t r = reserve(kGiB, want);
    const uint32_t err = host()->get_last_error();
    lim.restore();
    CHILD_CHECK(at(r, 0, "reservation over the limit"));
    CHILD_CHECK(at(err, MEMWIN_ERROR_NOT_ENOUGH_MEMORY, "last error"));
    CHILD_CHECK(at(reserve(kGiB, want), want, "reservation once the limit is lifted"));
}

TEST(EmuMapPlacement, LimitAtAnAddressIsNotEnoughMemory)
{
    run_emu_child("emu_map_at_address_limit");
}

// A 1 GiB-aligned reservation in a fresh process: the kernel's placement of
// 64 KiB (not so aligned) fits the limit, the 1 GiB + 64 KiB to trim does
// not: NULL and ERROR_NOT_ENOUGH_MEMORY, and nothing else of the process is
// unmapped (a failed mmap gives no range to trim: a page of the host at
// 512 MiB, inside [64 KiB, 1 GiB) where trimming from MAP_FAILED would
// reach, stays).
MEMWIN_CHILD(emu_map_trim_limit)
{
    alarm(20);
    const uintptr_t probe = 512 * kMiB;
    const bool probed = host_map(probe, kPage);
    AsLimit lim(256 * kMiB);
    const uintptr_t r = reserve_aligned(G, kGiB);
    const uint32_t err = host()->get_last_error();
    lim.restore();
    if (r != 0 && r % kGiB == 0)
        skip("the kernel placed 64 KiB 1 GiB-aligned");
    CHILD_CHECK(at(r, 0, "reservation over the limit"));
    CHILD_CHECK(at(err, MEMWIN_ERROR_NOT_ENOUGH_MEMORY, "last error"));
    if (probed)
        CHILD_CHECK(holds(mapped(probe), "the host's page at 512 MiB was unmapped"));
}

TEST(EmuMapPlacement, LimitWhileTrimmingIsNotEnoughMemory)
{
    run_emu_child("emu_map_trim_limit");
}

// A 16 MiB hole; a 16 MiB reservation refused by the limit leaves the hole
// alone: once the limit is lifted the next one takes it.
MEMWIN_CHILD(emu_map_hole_limit)
{
    alarm(20);
    Zone z;
    const uintptr_t h = z.next(16 * kMiB);
    z.next(G);
    std::vector<uintptr_t> fill;
    for (int i = 0; i < kQuarantine; i++)
        fill.push_back(z.next(G));
    release(h);
    for (uintptr_t f : fill)
        release(f);
    AsLimit lim(4 * kMiB);
    const uintptr_t r = reserve(16 * kMiB);
    const uint32_t err = host()->get_last_error();
    lim.restore();
    CHILD_CHECK(at(r, 0, "reservation over the limit"));
    CHILD_CHECK(at(err, MEMWIN_ERROR_NOT_ENOUGH_MEMORY, "last error"));
    CHILD_CHECK(at(reserve(16 * kMiB), h, "reservation once the limit is lifted"));
}

TEST(EmuMapPlacement, LimitKeepsTheHole)
{
    run_emu_child("emu_map_hole_limit");
}

// ---- the kernel's placement -----------------------------------------------------

namespace {

// Lays out the host for the kernel's next placements (top-down: the top of
// the highest gap that fits): a 64 MiB host mapping M, every gap above it
// that holds a granule filled, then two gaps punched in M: g1 of one granule
// and, lower, g2 of two.  off1/off2 move them off the 64 KiB grid.
struct Gaps {
    uintptr_t g1, g2;
};
Gaps make_gaps(uintptr_t off1, uintptr_t off2)
{
    const uintptr_t n = 64 * kMiB;
    void *mp = mmap(nullptr, n, PROT_NONE, kHostFlags, -1, 0);
    CHILD_CHECK(holds(mp != MAP_FAILED, "host mapping refused"));
    const uintptr_t m = U(mp);
    for (int i = 0;; i++) {
        CHILD_CHECK(holds(i < 100000, "too many gaps above the host mapping"));
        void *q = mmap(nullptr, G, PROT_NONE, kHostFlags, -1, 0);
        CHILD_CHECK(holds(q != MAP_FAILED, "host mapping refused"));
        if (U(q) < m) { // below M: no gap above it holds a granule now
            munmap(q, G);
            break;
        }
    }
    const uintptr_t base = (m + G - 1) & ~(G - 1);
    const Gaps g{base + 48 * kMiB + off1, base + 16 * kMiB + off2};
    munmap(P(g.g1), G);
    munmap(P(g.g2), 2 * G);
    return g;
}

} // namespace

// The kernel places a granule 64 KiB aligned (in g1): it is the reservation.
MEMWIN_CHILD(emu_map_kernel_aligned)
{
    alarm(20);
    const Gaps g = make_gaps(0, 0);
    CHILD_CHECK(at(reserve(G), g.g1, "reservation"));
}

// Not aligned (g1): unmapped, and 128 KiB mapped again where the kernel puts
// them (g2, aligned): the reservation is g2's first granule, the second
// granule is unmapped, g1 stays unmapped.
MEMWIN_CHILD(emu_map_kernel_trim_aligned)
{
    alarm(20);
    const Gaps g = make_gaps(kPage, 0);
    const uintptr_t r = reserve(G);
    CHILD_CHECK(at(r, g.g2, "reservation"));
    CHILD_CHECK(holds(!mapped(g.g1), "the unaligned placement stays mapped"));
    CHILD_CHECK(holds(!mapped(g.g2 + G), "the tail stays mapped"));
}

// Not aligned twice (g1, then g2 two pages past the grid): the reservation
// is the granule in g2 on the grid, the head and tail around it unmapped.
MEMWIN_CHILD(emu_map_kernel_trim_both)
{
    alarm(20);
    const Gaps g = make_gaps(kPage, 2 * kPage);
    const uintptr_t r = reserve(G);
    CHILD_CHECK(at(r, (g.g2 + G - 1) & ~(G - 1), "reservation"));
    CHILD_CHECK(holds(mapped(r) && mapped(r + G - kPage), "the reservation is not mapped"));
    CHILD_CHECK(holds(!mapped(g.g2) && !mapped(r - kPage), "the head stays mapped"));
    CHILD_CHECK(holds(!mapped(r + G) && !mapped(g.g2 + 2 * G - kPage), "the tail stays mapped"));
    CHILD_CHECK(holds(!mapped(g.g1), "the unaligned placement stays mapped"));
}

TEST(EmuMapPlacement, KernelPlacementAlignedOrTrimmed)
{
    run_emu_child("emu_map_kernel_aligned");
    run_emu_child("emu_map_kernel_trim_aligned");
    run_emu_child("emu_map_kernel_trim_both");
}

// 4 GiB aligned to 4 GiB in a fresh process (the kernel's placement, then
// 8 GiB trimmed): granted, aligned.
MEMWIN_CHILD(emu_map_kernel_4g)
{
    alarm(20);
    const uintptr_t r = reserve_aligned(4 * kGiB, 4 * kGiB);
    CHILD_CHECK(holds(r != 0 && r % (4 * kGiB) == 0, "4 GiB at 4 GiB refused or misaligned"));
}

// 64 KiB aligned to 64 TiB: the kernel can only place 64 TiB + 64 KiB below
// the program (a head longer than the address it starts at); head and tail
// are trimmed exactly, nothing else is unmapped (the child survives).
MEMWIN_CHILD(emu_map_kernel_64t)
{
    alarm(20);
    const uintptr_t align = 64 * kTiB;
    const uintptr_t r = reserve_aligned(G, align);
    if (r == 0)
        skip("no 64 TiB gap in this process");
    CHILD_CHECK(holds(r % align == 0, "misaligned"));
    CHILD_CHECK(holds(!mapped(r - kPage) && !mapped(r + G), "head or tail stays mapped"));
}

TEST(EmuMapPlacement, KernelPlacementOfLargeAlignments)
{
    run_emu_child("emu_map_kernel_4g");
    if (under_valgrind())
        GTEST_SKIP() << "valgrind refuses a multi-TiB reservation";
#if defined(__SANITIZE_THREAD__)
    GTEST_SKIP() << "ThreadSanitizer keeps the application to smaller ranges";
#endif
    run_emu_child("emu_map_kernel_64t");
}

// ---- a zone low in the address space ----------------------------------------------

namespace {

// An 80 TiB reservation in a fresh process: the kernel places it below the
// program, and the zone starts 64 GiB below it.  Returns the zone's bottom,
// with all of [64 KiB, bottom) free on the host, or skips.
uintptr_t low_zone()
{
    const uintptr_t far = reserve(80 * kTiB);
    if (far == 0 || far > 16 * kTiB || far < 3 * kTiB)
        skip("the kernel did not put 80 TiB low");
    const uintptr_t low = far - (uintptr_t(64) << 30);
    if (!unmapped(0x10000, low))
        skip("something is mapped below the zone");
    return low;
}

} // namespace

// A reservation from 64 KiB up to the zone's bottom fits just below it:
// it goes there.
MEMWIN_CHILD(emu_map_low_zone_fits)
{
    alarm(20);
    const uintptr_t low = low_zone();
    CHILD_CHECK(at(reserve(low - G), 0x10000, "reservation down to 64 KiB"));
}

// The same length aligned to 128 KiB does not (the highest 128 KiB multiple
// is 0): the kernel places it, nowhere near page 0.
MEMWIN_CHILD(emu_map_low_zone_too_low)
{
    alarm(20);
    const uintptr_t low = low_zone();
    const uintptr_t r = reserve_aligned(low - G, 2 * G);
    CHILD_CHECK(holds(r != 0 && r % (2 * G) == 0, "aligned reservation refused or misaligned"));
    CHILD_CHECK(holds(!mapped(0), "page 0 is mapped"));
}

TEST(EmuMapPlacement, ZoneLowInTheAddressSpace)
{
    if (under_valgrind())
        GTEST_SKIP() << "valgrind refuses a multi-TiB reservation";
#if defined(__SANITIZE_THREAD__)
    GTEST_SKIP() << "ThreadSanitizer keeps the application to smaller ranges";
#endif
    run_emu_child("emu_map_low_zone_fits");
    run_emu_child("emu_map_low_zone_too_low");
}

// ---- mmap answering otherwise than Linux 4.17+ (a seccomp trap) --------------

namespace {

#if defined(__x86_64__)
// Linux before 4.17 takes the address of an mmap with MAP_FIXED_NOREPLACE as
// a hint: where it is taken, the mapping goes elsewhere.  A seccomp filter
// traps such calls (SIGSYS) and the handler does that: mmap without the flag,
// in kBelow mode moved 1 GiB below the address asked for when it lands
// elsewhere.  kEinval mode fails the first call with EINVAL (as valgrind
// does for an address it refuses) and keeps the flag's meaning after that.
// The addresses handed out elsewhere are recorded.
// kRefuseOnce traps mmap(NULL, kOddLength, ...) instead and fails the first
// one with ENOMEM.
enum Mode { kAbove, kBelow, kEinval, kRefuseOnce };
constexpr uintptr_t kOddLength = 3 * G;
Mode g_mode;
int g_calls;
uintptr_t g_elsewhere[16];
int g_nelsewhere;

long raw_mmap(uintptr_t a, uintptr_t n, long prot, long flags, long fd, long off)
{
    long r = syscall(SYS_mmap, a, n, prot, flags, fd, off);
    return r == -1 ? -errno : r;
}

void on_sigsys(int, siginfo_t *, void *ctx)
{
    const int saved = errno;
    greg_t *g = static_cast<ucontext_t *>(ctx)->uc_mcontext.gregs;
    const uintptr_t a = uintptr_t(g[REG_RDI]), n = uintptr_t(g[REG_RSI]);
    // MAP_DENYWRITE: ignored by mmap, it keeps kRefuseOnce's filter off.
    const long flags = (long(g[REG_R10]) & ~long(MAP_FIXED_NOREPLACE)) | MAP_DENYWRITE;
    long r = (g_mode == kEinval || g_mode == kRefuseOnce) && g_calls++ == 0
                 ? (g_mode == kEinval ? -EINVAL : -ENOMEM)
                 : raw_mmap(a, n, g[REG_RDX], flags, g[REG_R8], g[REG_R9]);
    if (r >= 0 && a && uintptr_t(r) != a && g_mode != kAbove) {
        syscall(SYS_munmap, r, n);
        r = g_mode == kBelow ? raw_mmap(a - kGiB, n, g[REG_RDX], flags, g[REG_R8], g[REG_R9])
                             : -EEXIST;
    }
    if (r >= 0 && uintptr_t(r) != a && g_nelsewhere < 16)
        g_elsewhere[g_nelsewhere++] = uintptr_t(r);
    g[REG_RAX] = r;
    errno = saved;
}

void trap_mmap(Mode mode)
{
    g_mode = mode;
    struct sigaction sa = {};
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    CHILD_CHECK(holds(sigaction(SIGSYS, &sa, nullptr) == 0, "sigaction"));
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[3])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, MAP_FIXED_NOREPLACE, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    // kRefuseOnce: addr 0 and length kOddLength (both words), no MAP_DENYWRITE.
    struct sock_filter f_null[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 0, 10),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 8),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]) + 4),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 6),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, uint32_t(kOddLength), 0, 4),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1]) + 4),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[3])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, MAP_DENYWRITE, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
    };
    struct sock_fprog prog = {static_cast<unsigned short>(sizeof f / sizeof f[0]), f};
    if (mode == kRefuseOnce)
        prog = {static_cast<unsigned short>(sizeof f_null / sizeof f_null[0]), f_null};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        skip("no seccomp filter");
}

// Every mapping the handler put elsewhere is gone, but for the part of the
// reservation [r, r+n) it may have become.
::testing::AssertionResult elsewhere_unmapped(uintptr_t r, uintptr_t n)
{
    for (int i = 0; i < g_nelsewhere; i++)
        for (uintptr_t p : {g_elsewhere[i], g_elsewhere[i] + G - kPage})
            if (mapped(p) && !(p >= r && p < r + n))
                return ::testing::AssertionFailure() << "left mapped: " << std::hex << p;
    return ::testing::AssertionSuccess();
}

// The top hole's base is taken; the kernel maps elsewhere (above, or below
// it): the hole search stops, unmaps that, and the reservation goes just
// below the zone.  errno is EEXIST before the call: a stale value must not
// make the search go on.
void flag_ignored_hole(Mode mode)
{
    alarm(20);
    Zone z;
    holes_with_top_taken(z);
    trap_mmap(mode);
    errno = EEXIST;
    const uintptr_t r = reserve(G);
    CHILD_CHECK(holds(g_nelsewhere > 0 || mode == kEinval, "no mapping went elsewhere"));
    CHILD_CHECK(at(r, z.low - G, "reservation after a hole the kernel did not give"));
    CHILD_CHECK(elsewhere_unmapped(r, G));
}

// The zone's next address is taken; the kernel maps elsewhere: unmapped,
// and the reservation goes where the kernel puts one.
void flag_ignored_zone(Mode mode)
{
    alarm(20);
    Zone z;
    const uintptr_t next = z.low - G;
    CHILD_CHECK(holds(host_map(next, kPage), "the zone's next address could not be mapped"));
    trap_mmap(mode);
    const uintptr_t r = reserve(G);
    CHILD_CHECK(holds(g_nelsewhere > 0, "no mapping went elsewhere"));
    CHILD_CHECK(holds(r != 0 && r != next, "reservation refused or at the taken address"));
    CHILD_CHECK(elsewhere_unmapped(r, G));
}

// A fresh process (no zone): the kernel refuses the placement of 192 KiB
// once: NULL and ERROR_NOT_ENOUGH_MEMORY, not a retry with more; the next
// reservation is granted.
void refused_once()
{
    alarm(20);
    trap_mmap(kRefuseOnce);
    const uintptr_t r = reserve(kOddLength);
    const uint32_t err = host()->get_last_error();
    CHILD_CHECK(at(r, 0, "reservation the kernel refused"));
    CHILD_CHECK(at(err, MEMWIN_ERROR_NOT_ENOUGH_MEMORY, "last error"));
    CHILD_CHECK(holds(reserve(kOddLength) != 0, "the next reservation was refused"));
}
#else
enum Mode { kAbove, kBelow, kEinval };
void refused_once()
{
    skip("x86-64 only");
}
void flag_ignored_hole(Mode)
{
    skip("x86-64 only");
}
void flag_ignored_zone(Mode)
{
    skip("x86-64 only");
}
#endif

} // namespace

MEMWIN_CHILD(emu_map_flag_ignored_hole_above)
{
    flag_ignored_hole(kAbove);
}
MEMWIN_CHILD(emu_map_flag_ignored_hole_below)
{
    flag_ignored_hole(kBelow);
}
MEMWIN_CHILD(emu_map_hole_einval)
{
    flag_ignored_hole(kEinval);
}
MEMWIN_CHILD(emu_map_flag_ignored_zone_above)
{
    flag_ignored_zone(kAbove);
}
MEMWIN_CHILD(emu_map_flag_ignored_zone_below)
{
    flag_ignored_zone(kBelow);
}

TEST(EmuMapPlacement, KernelIgnoringNoReplace)
{
    run_emu_child("emu_map_flag_ignored_hole_above");
    run_emu_child("emu_map_flag_ignored_hole_below");
    run_emu_child("emu_map_flag_ignored_zone_above");
    run_emu_child("emu_map_flag_ignored_zone_below");
}

MEMWIN_CHILD(emu_map_kernel_refused_once)
{
    refused_once();
}

TEST(EmuMapPlacement, KernelRefusalIsNotEnoughMemory)
{
    run_emu_child("emu_map_kernel_refused_once");
}

// The hole's mmap fails with EINVAL: not a taken address, so the search
// stops (the reservation goes below the zone) rather than dropping the hole
// and taking the next one.
TEST(EmuMapPlacement, HoleRefusedOtherThanTakenStopsTheSearch)
{
    run_emu_child("emu_map_hole_einval");
}

#endif // !_WIN32
