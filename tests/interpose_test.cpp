// The VirtualAlloc/VirtualFree interposers (memwin_interpose.h): forwarding
// and last error, counters (as deltas: they are process-wide), the fault
// policy, set_next, the interposer primitive table under memwin's own
// functions, fatal catching, and the environment configuration (in child
// processes, since it is read once per process).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#if defined(_WIN32)
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <unistd.h>
#endif

#include "memwin_interpose.h"
#include "test_util.h"

using namespace mwt;

namespace {

constexpr uint32_t kRes = MEMWIN_MEM_RESERVE, kCom = MEMWIN_MEM_COMMIT,
                   kRW = MEMWIN_PAGE_READWRITE;
constexpr uint32_t E8 = MEMWIN_ERROR_NOT_ENOUGH_MEMORY, E87 = MEMWIN_ERROR_INVALID_PARAMETER,
                   E487 = MEMWIN_ERROR_INVALID_ADDRESS, E1455 = MEMWIN_ERROR_COMMITMENT_LIMIT;

using Stats = memwin_interpose_stats;

Stats stats()
{
    Stats s;
    memwin_interpose_get_stats(&s, sizeof s);
    return s;
}

uint32_t last_error()
{
    return memwin_prim_host()->get_last_error();
}

void set_last_error(uint32_t e)
{
    memwin_prim_host()->set_last_error(e);
}

void *ia(uintptr_t a, uintptr_t n, uint32_t type)
{
    return memwin_VirtualAlloc(P(a), n, type, kRW);
}

int ifree(uintptr_t a, uintptr_t n, uint32_t type)
{
    return memwin_VirtualFree(P(a), n, type);
}

std::string hex(uintptr_t v)
{
    char b[32];
    std::snprintf(b, sizeof b, "0x%llx", (unsigned long long)v);
    return b;
}

unsigned long self_pid()
{
#if defined(_WIN32)
    return (unsigned long)GetCurrentProcessId();
#else
    return (unsigned long)getpid();
#endif
}

// Checks one operation's counter deltas between two snapshots.
::testing::AssertionResult op_delta(const Stats &a, const Stats &b, int op, uint64_t calls,
                                    uint64_t failed, uint64_t injected, uint64_t bytes)
{
    const memwin_interpose_op_stats &x = a.op[op], &y = b.op[op];
    uint64_t dc = y.calls - x.calls, df = y.failed - x.failed, di = y.injected - x.injected,
             db = y.bytes - x.bytes;
    if (dc == calls && df == failed && di == injected && db == bytes)
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "op " << op << ": calls/failed/injected/bytes +" << dc << "/" << df << "/" << di
           << "/" << db << ", want +" << calls << "/" << failed << "/" << injected << "/" << bytes;
}

uint64_t class_delta(const Stats &a, const Stats &b, int op, int k)
{
    return b.op[op].size_class[k] - a.op[op].size_class[k];
}

// Restores the fault policy in force at construction.
struct PolicyGuard {
    memwin_interpose_policy prev;
    PolicyGuard()
    {
        memwin_interpose_get_policy(&prev);
    }
    explicit PolicyGuard(const memwin_interpose_policy &p) : PolicyGuard()
    {
        memwin_interpose_set_policy(&p);
    }
    PolicyGuard(const PolicyGuard &) = delete;
    PolicyGuard &operator=(const PolicyGuard &) = delete;
    ~PolicyGuard()
    {
        memwin_interpose_set_policy(&prev);
    }
};

memwin_interpose_policy policy(uint64_t nth, uint64_t count, uint32_t error, uint64_t cbudget,
                               uint64_t rbudget)
{
    memwin_interpose_policy p;
    p.fail_commit_nth = nth;
    p.fail_commit_count = count;
    p.fail_commit_error = error;
    p.commit_budget = cbudget;
    p.reserve_budget = rbudget;
    return p;
}


// next functions that count and forward to the host (or fail on request).
namespace nx {
std::atomic<int> allocs{0}, frees{0};
uint32_t fail_error = 0;
void *MEMWIN_WINAPI alloc(void *a, uintptr_t n, uint32_t t, uint32_t p)
{
    allocs++;
    if (fail_error) {
        memwin_prim_host()->set_last_error(fail_error);
        return nullptr;
    }
    return memwin_prim_host()->virtual_alloc(a, n, t, p);
}
int MEMWIN_WINAPI free_(void *a, uintptr_t n, uint32_t t)
{
    frees++;
    return memwin_prim_host()->virtual_free(a, n, t);
}
struct Guard {
    Guard(memwin_virtual_alloc_fn va, memwin_virtual_free_fn vf)
    {
        allocs = 0;
        frees = 0;
        fail_error = 0;
        memwin_interpose_set_next(va, vf);
    }
    Guard(const Guard &) = delete;
    Guard &operator=(const Guard &) = delete;
    ~Guard()
    {
        memwin_interpose_set_next(nullptr, nullptr);
        fail_error = 0;
    }
};
} // namespace nx

// ---- child-process helpers ---------------------------------------------------

void say(const std::string &s)
{
    memwin_prim_host()->write_stderr(s.data(), s.size());
}

std::string result_text(const char *name, bool ok)
{
    return std::string(name) + (ok ? " ok\n" : " fail " + std::to_string(last_error()) + "\n");
}

std::string policy_text()
{
    memwin_interpose_policy p;
    memwin_interpose_get_policy(&p);
    return "policy " + std::to_string(p.fail_commit_nth) + " " + std::to_string(p.fail_commit_count) +
           " " + std::to_string(p.fail_commit_error) + " " + std::to_string(p.commit_budget) + " " +
           std::to_string(p.reserve_budget) + "\n";
}

// Sets an environment variable for the children started in its scope; the
// parent's own interposers are initialised first so they never read it.
class EnvVar {
public:
    EnvVar(const char *name, const std::string &value) : name_(name)
    {
        memwin_interpose_init();
        const char *old = std::getenv(name);
        had_ = old != nullptr;
        if (had_)
            old_ = old;
        set(name, value.c_str());
    }
    EnvVar(const EnvVar &) = delete;
    EnvVar &operator=(const EnvVar &) = delete;
    ~EnvVar()
    {
        set(name_, had_ ? old_.c_str() : nullptr);
    }

private:
    static void set(const char *name, const char *value)
    {
        set_env(name, value);
    }
    const char *name_;
    std::string old_;
    bool had_ = false;
};

// A unique temp path prefix; the files made from it are removed at scope exit.
struct TempFiles {
    std::string base;
    std::vector<std::string> paths;
    explicit TempFiles(const char *tag)
    {
        static int n = 0;
        base = (std::filesystem::temp_directory_path() /
                ("memwin-ipt-" + std::to_string(self_pid()) + "-" + std::to_string(++n) + "-" + tag))
                   .string();
    }
    TempFiles(const TempFiles &) = delete;
    TempFiles &operator=(const TempFiles &) = delete;
    std::string add(const std::string &p)
    {
        paths.push_back(p);
        return p;
    }
    ~TempFiles()
    {
        std::error_code ec;
        for (const std::string &p : paths)
            std::filesystem::remove(p, ec);
    }
};

std::vector<std::string> read_lines(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    std::vector<std::string> out;
    std::string line;
    while (std::getline(f, line))
        out.push_back(line);
    return out;
}

// The "pid N" first line a child writes.
unsigned long child_pid(const std::string &err)
{
    unsigned long pid = 0;
    if (std::sscanf(err.c_str(), "pid %lu", &pid) != 1)
        return 0;
    return pid;
}

std::string field_after(const std::string &err, const std::string &key)
{
    size_t at = err.find("\n" + key + " ");
    if (at == std::string::npos)
        return "";
    at += key.size() + 2;
    return err.substr(at, err.find('\n', at) - at);
}

struct TraceLine {
    unsigned long long time = 0;
    unsigned long pid = 0, tid = 0;
    std::string op, addr, size, flags, result;
    unsigned long error = 0;
    unsigned long long committed = 0, reserved = 0;
    std::string src;
};

bool parse_trace(const std::string &s, TraceLine *t)
{
    std::istringstream in(s);
    std::string extra;
    in >> t->time >> t->pid >> t->tid >> t->op >> t->addr >> t->size >> t->flags >> t->result >>
        t->error >> t->committed >> t->reserved >> t->src;
    return !in.fail() && !(in >> extra);
}

// What every data line of a trace must say, except time, pid and tid.
struct Want {
    const char *op;
    std::string addr, size, flags, result;
    long error; // -1: any
    unsigned long long committed, reserved;
    const char *src;
};

::testing::AssertionResult trace_matches(const std::vector<std::string> &lines, unsigned long pid,
                                         const std::vector<Want> &want)
{
    std::string header = "# memwin trace 1 pid=" + std::to_string(pid) +
                         ": time_ns pid tid op addr size flags result error committed reserved src";
    if (lines.size() != want.size() + 1)
        return ::testing::AssertionFailure() << lines.size() << " lines, want " << want.size() + 1;
    if (lines[0] != header)
        return ::testing::AssertionFailure() << "header [" << lines[0] << "]";
    unsigned long long prev_time = 0;
    unsigned long tid0 = 0;
    for (size_t i = 0; i < want.size(); i++) {
        TraceLine t;
        const Want &w = want[i];
        const std::string &l = lines[i + 1];
        if (!parse_trace(l, &t))
            return ::testing::AssertionFailure() << "bad line [" << l << "]";
        if (i == 0)
            tid0 = t.tid;
        if (t.time < prev_time || t.pid != pid || t.tid != tid0 || t.op != w.op ||
            t.addr != w.addr || t.size != w.size || t.flags != w.flags || t.result != w.result ||
            (w.error >= 0 && t.error != (unsigned long)w.error) || t.committed != w.committed ||
            t.reserved != w.reserved || t.src != w.src)
            return ::testing::AssertionFailure()
                   << "line " << i + 1 << " [" << l << "], want op " << w.op << " " << w.addr << " "
                   << w.size << " " << w.flags << " " << w.result << " err " << w.error << " "
                   << w.committed << " " << w.reserved << " " << w.src;
        prev_time = t.time;
    }
    return ::testing::AssertionSuccess();
}

std::string expand_pid(std::string path, unsigned long pid)
{
    size_t at = path.find("%p");
    if (at != std::string::npos)
        path.replace(at, 2, std::to_string(pid));
    return path;
}

} // namespace

// ---- forwarding -----------------------------------------------------------------

TEST(Interpose, ForwardsStateChanges)
{
    Reservations guard;
    uintptr_t r = guard.add(U(ia(0, 0x20000, kRes)));
    ASSERT_NE(r, 0u);
    EXPECT_TRUE(region_is(r, MEMWIN_MEM_RESERVE, 0, r, 0x20000));
    ASSERT_EQ(U(ia(r, 0x3000, kCom)), r);
    EXPECT_TRUE(region_is(r, MEMWIN_MEM_COMMIT, kRW, r, 0x3000));
    fill_pattern(r, 0x3000, 7);
    EXPECT_TRUE(check_pattern(r, 0x3000, 7));
    ASSERT_EQ(ifree(r + 0x1000, 0x1000, MEMWIN_MEM_DECOMMIT), 1);
    EXPECT_TRUE(region_is(r, MEMWIN_MEM_COMMIT, kRW, r, 0x1000));
    EXPECT_TRUE(region_is(r + 0x1000, MEMWIN_MEM_RESERVE, 0, r, 0x1000));
    EXPECT_TRUE(region_is(r + 0x2000, MEMWIN_MEM_COMMIT, kRW, r, 0x1000));
    ASSERT_EQ(ifree(r, 0, MEMWIN_MEM_RELEASE), 1);
    EXPECT_EQ(state_of(r), MEMWIN_MEM_FREE);
    // MEM_COMMIT at NULL reserves and commits, as the host does.
    uintptr_t c = guard.add(U(ia(0, 0x2000, kCom)));
    ASSERT_NE(c, 0u);
    EXPECT_TRUE(region_is(c, MEMWIN_MEM_COMMIT, kRW, c, 0x2000));
    EXPECT_EQ(ifree(c, 0, MEMWIN_MEM_RELEASE), 1);
    EXPECT_EQ(state_of(c), MEMWIN_MEM_FREE);
}

TEST(Interpose, FailuresKeepTheHostsLastError)
{
    Reservations guard;
    uintptr_t r = guard.add(U(ia(0, 0x20000, kRes)));
    ASSERT_NE(r, 0u);
    uintptr_t spare = free_area(0x10000); // while r is held, so never r
    Stats s0 = stats();

    // Commit outside any reservation.
    set_last_error(0);
    EXPECT_EQ(ia(spare, 0x1000, kCom), nullptr);
    uint32_t e = last_error();
    set_last_error(0);
    EXPECT_EQ(memwin_prim_host()->virtual_alloc(P(spare), 0x1000, kCom, kRW), nullptr);
    EXPECT_EQ(e, last_error());
    EXPECT_EQ(e, E487);
    EXPECT_EQ(state_of(spare), MEMWIN_MEM_FREE);

    // Release at a non-base address.
    Stats s1 = stats();
    set_last_error(0);
    EXPECT_EQ(ifree(r + 0x10000, 0, MEMWIN_MEM_RELEASE), 0);
    EXPECT_EQ(last_error(), E487);
    EXPECT_EQ(state_of(r), MEMWIN_MEM_RESERVE);
    Stats s2 = stats();
    EXPECT_TRUE(op_delta(s1, s2, MEMWIN_IOP_RELEASE, 1, 1, 0, 0));
    EXPECT_EQ(s2.released, s1.released);
    EXPECT_EQ(s2.reserved, s1.reserved);

    // Decommit of free memory: 87 under Wine and the emulation (Windows: 487).
    set_last_error(0);
    EXPECT_EQ(ifree(spare, 0x1000, MEMWIN_MEM_DECOMMIT), 0);
    e = last_error();
    set_last_error(0);
    EXPECT_EQ(memwin_prim_host()->virtual_free(P(spare), 0x1000, MEMWIN_MEM_DECOMMIT), 0);
    EXPECT_EQ(e, last_error());
    EXPECT_TRUE(e == E87 || e == E487) << e;

    // An unknown free type is "other", forwarded and failed by the host.
    set_last_error(0);
    EXPECT_EQ(ifree(r, 0, 0x1), 0);
    e = last_error();
    set_last_error(0);
    EXPECT_EQ(memwin_prim_host()->virtual_free(P(r), 0, 0x1), 0);
    EXPECT_EQ(e, last_error());
    EXPECT_NE(e, 0u);

    EXPECT_EQ(ifree(r, 0, MEMWIN_MEM_RELEASE), 1);
    Stats s3 = stats();
    EXPECT_TRUE(op_delta(s0, s3, MEMWIN_IOP_COMMIT, 1, 1, 0, 0));
    EXPECT_TRUE(op_delta(s0, s3, MEMWIN_IOP_DECOMMIT, 1, 1, 0, 0));
    EXPECT_TRUE(op_delta(s0, s3, MEMWIN_IOP_OTHER, 1, 1, 0, 0));
    EXPECT_TRUE(op_delta(s0, s3, MEMWIN_IOP_RELEASE, 2, 1, 0, 0x20000));
    EXPECT_EQ(s3.committed, s0.committed);
    EXPECT_EQ(s0.reserved - s3.reserved, 0x20000u);
}

TEST(Interpose, InitAndFlushKeepTheLastError)
{
    uint32_t first = memwin_interpose_init();
    set_last_error(4242);
    EXPECT_EQ(memwin_interpose_init(), first) << "init runs once";
    EXPECT_EQ(last_error(), 4242u);
    set_last_error(4343);
    memwin_interpose_flush();
    EXPECT_EQ(last_error(), 4343u);
}

// ---- counters ---------------------------------------------------------------------

TEST(Interpose, CountersTrackPagesAndSizes)
{
    Reservations guard;
    Stats s0 = stats();
    uintptr_t r = guard.add(U(ia(0, 0x40000, kRes)));
    ASSERT_NE(r, 0u);
    ASSERT_EQ(U(ia(r, 0x10000, kCom)), r);
    ASSERT_EQ(U(ia(r + 0x8000, 0x10000, kCom)), r + 0x8000); // half of it already committed
    Stats s1 = stats();
    EXPECT_EQ(s1.committed - s0.committed, 0x18000u);
    EXPECT_EQ(s1.newly_committed - s0.newly_committed, 0x18000u);
    EXPECT_EQ(s1.reserved - s0.reserved, 0x40000u);
    ASSERT_EQ(ifree(r + 0x4000, 0x2000, MEMWIN_MEM_DECOMMIT), 1);
    ASSERT_EQ(ifree(r + 0x4000, 0x2000, MEMWIN_MEM_DECOMMIT), 1); // nothing left to decommit
    Stats s2 = stats();
    EXPECT_EQ(s2.committed - s0.committed, 0x16000u);
    EXPECT_EQ(s2.decommitted - s0.decommitted, 0x2000u);

    uintptr_t a = guard.add(U(ia(0, 0x3000, kRes | kCom)));
    ASSERT_NE(a, 0u);
    EXPECT_EQ(state_of(a), MEMWIN_MEM_COMMIT);
    ASSERT_EQ(ifree(a, 0, MEMWIN_MEM_RELEASE), 1);
    ASSERT_EQ(ifree(r, 0, MEMWIN_MEM_RELEASE), 1);
    Stats s3 = stats();

    EXPECT_TRUE(op_delta(s0, s3, MEMWIN_IOP_RESERVE, 1, 0, 0, 0x40000));
    EXPECT_TRUE(op_delta(s0, s3, MEMWIN_IOP_COMMIT, 2, 0, 0, 0x20000));
    EXPECT_TRUE(op_delta(s0, s3, MEMWIN_IOP_ALLOC, 1, 0, 0, 0x3000));
    EXPECT_TRUE(op_delta(s0, s3, MEMWIN_IOP_DECOMMIT, 2, 0, 0, 0x4000));
    EXPECT_TRUE(op_delta(s0, s3, MEMWIN_IOP_RELEASE, 2, 0, 0, 0x43000));
    EXPECT_EQ(class_delta(s0, s3, MEMWIN_IOP_RESERVE, 6), 1u); // (128 KiB, 256 KiB]
    EXPECT_EQ(class_delta(s0, s3, MEMWIN_IOP_COMMIT, 4), 2u);  // (32 KiB, 64 KiB]
    EXPECT_EQ(class_delta(s0, s3, MEMWIN_IOP_ALLOC, 2), 1u);   // (8 KiB, 16 KiB]
    EXPECT_EQ(class_delta(s0, s3, MEMWIN_IOP_DECOMMIT, 1), 2u); // (4 KiB, 8 KiB]
    EXPECT_EQ(class_delta(s0, s3, MEMWIN_IOP_RELEASE, 2), 1u);  // the reservation's size
    EXPECT_EQ(class_delta(s0, s3, MEMWIN_IOP_RELEASE, 6), 1u);
    EXPECT_EQ(s3.committed, s0.committed);
    EXPECT_EQ(s3.reserved, s0.reserved);
    EXPECT_EQ(s3.newly_committed - s0.newly_committed, 0x1b000u);
    EXPECT_EQ(s3.decommitted - s0.decommitted, 0x1b000u);
    EXPECT_EQ(s3.released - s0.released, 0x43000u);
    EXPECT_EQ(s3.committed_peak, std::max<uint64_t>(s0.committed_peak, s0.committed + 0x19000));
    EXPECT_EQ(s3.reserved_peak, std::max<uint64_t>(s0.reserved_peak, s0.reserved + 0x43000));
    EXPECT_GE(s3.time_ns, s0.time_ns);
}

TEST(Interpose, SizeClassBoundaries)
{
    // Failed calls are classed by the size asked for.  The largest classes
    // hold sizes a 32-bit uintptr cannot express: there the top of its range
    // is checked instead (class 20 ends at 2^32).
    uintptr_t spare = free_area(0x10000);
    struct Case {
        uint64_t size;
        int cls;
    };
    const std::vector<Case> cases =
        sizeof(void *) == 4
            ? std::vector<Case>{{1, 0}, {4096, 0}, {4097, 1}, {8192, 1}, {8193, 2},
                                {uint64_t(1) << 31, 19}, {(uint64_t(1) << 31) + 1, 20},
                                {UINT32_MAX, 20}}
            : std::vector<Case>{{1, 0}, {4096, 0}, {4097, 1}, {8192, 1}, {8193, 2},
                                {uint64_t(1) << 34, 22}, {(uint64_t(1) << 34) + 1, 23},
                                {uint64_t(1) << 40, 23}};
    for (const auto &c : cases) {
        Stats s0 = stats();
        EXPECT_EQ(ifree(spare, static_cast<uintptr_t>(c.size), MEMWIN_MEM_DECOMMIT), 0);
        Stats s1 = stats();
        EXPECT_TRUE(op_delta(s0, s1, MEMWIN_IOP_DECOMMIT, 1, 1, 0, 0)) << c.size;
        for (int k = 0; k < MEMWIN_INTERPOSE_SIZE_CLASSES; k++)
            EXPECT_EQ(class_delta(s0, s1, MEMWIN_IOP_DECOMMIT, k), k == c.cls ? 1u : 0u)
                << "size " << c.size << " class " << k;
    }
}

TEST(Interpose, GetStatsCopiesAtMostSize)
{
    Stats s;
    std::memset(&s, 0xab, sizeof s);
    memwin_interpose_get_stats(&s, sizeof(memwin_interpose_op_stats));
    const unsigned char *b = reinterpret_cast<const unsigned char *>(&s);
    for (size_t i = sizeof(memwin_interpose_op_stats); i < sizeof s; i++)
        ASSERT_EQ(b[i], 0xab) << "byte " << i << " written";
    Stats full = stats();
    EXPECT_GE(full.op[0].calls, s.op[0].calls);
}

// ---- fault policy ----------------------------------------------------------------

TEST(InterposePolicy, RoundTrip)
{
    PolicyGuard g;
    memwin_interpose_policy p = policy(3, 4, 5, 6 * kMiB, 7 * kMiB), q;
    memwin_interpose_set_policy(&p);
    memwin_interpose_get_policy(&q);
    EXPECT_EQ(q.fail_commit_nth, 3u);
    EXPECT_EQ(q.fail_commit_count, 4u);
    EXPECT_EQ(q.fail_commit_error, 5u);
    EXPECT_EQ(q.commit_budget, 6 * kMiB);
    EXPECT_EQ(q.reserve_budget, 7 * kMiB);
    memwin_interpose_set_policy(nullptr);
    memwin_interpose_get_policy(&q);
    EXPECT_EQ(q.fail_commit_nth | q.fail_commit_count | q.fail_commit_error | q.commit_budget |
                  q.reserve_budget,
              0u);
}

TEST(InterposePolicy, FailCommitNthAndCount)
{
    Reservations guard;
    nx::Guard next(nx::alloc, nx::free_);
    uintptr_t r = guard.add(U(ia(0, 0x10000, kRes)));
    ASSERT_NE(r, 0u);
    Stats s0 = stats();
    PolicyGuard g(policy(2, 2, 0, 0, 0)); // commits 2 and 3, default error
    std::vector<bool> ok;
    std::vector<uint32_t> errs;
    for (int i = 0; i < 4; i++) {
        set_last_error(0);
        ok.push_back(ia(r + uintptr_t(i) * 0x1000, 0x1000, kCom) != nullptr);
        errs.push_back(ok.back() ? 0 : last_error());
    }
    EXPECT_EQ(ok, (std::vector<bool>{true, false, false, true}));
    EXPECT_EQ(errs, (std::vector<uint32_t>{0, E1455, E1455, 0}));
    EXPECT_EQ(state_of(r + 0x1000), MEMWIN_MEM_RESERVE);
    EXPECT_EQ(state_of(r + 0x2000), MEMWIN_MEM_RESERVE);
    EXPECT_EQ(state_of(r + 0x3000), MEMWIN_MEM_COMMIT);
    EXPECT_EQ(nx::allocs.load(), 1 + 2) << "injected failures never reach the next function";
    // MEM_COMMIT|MEM_RESERVE counts as a commit (the 5th): past the window.
    uintptr_t a = guard.add(U(ia(0, 0x1000, kRes | kCom)));
    EXPECT_NE(a, 0u);
    Stats s1 = stats();
    EXPECT_TRUE(op_delta(s0, s1, MEMWIN_IOP_COMMIT, 4, 2, 2, 0x2000));
    EXPECT_TRUE(op_delta(s0, s1, MEMWIN_IOP_ALLOC, 1, 0, 0, 0x1000));
    EXPECT_EQ(s1.committed - s0.committed, 0x3000u);

    // Setting a policy restarts the count; count 0 fails every commit from
    // the nth on, with the given error, reservations included.
    memwin_interpose_policy p = policy(1, 0, 5, 0, 0);
    memwin_interpose_set_policy(&p);
    set_last_error(0);
    EXPECT_EQ(ia(r + 0x1000, 0x1000, kCom), nullptr);
    EXPECT_EQ(last_error(), 5u);
    EXPECT_EQ(ia(0, 0x1000, kRes | kCom), nullptr);
    EXPECT_EQ(last_error(), 5u);
    EXPECT_EQ(ifree(r, 0x4000, MEMWIN_MEM_DECOMMIT), 1) << "decommit is not a commit";
    uintptr_t b = guard.add(U(ia(0, 0x10000, kRes)));
    EXPECT_NE(b, 0u) << "reserve is not a commit";
    Stats s2 = stats();
    EXPECT_TRUE(op_delta(s1, s2, MEMWIN_IOP_COMMIT, 1, 1, 1, 0));
    EXPECT_TRUE(op_delta(s1, s2, MEMWIN_IOP_ALLOC, 1, 1, 1, 0));
    EXPECT_EQ(ifree(b, 0, MEMWIN_MEM_RELEASE), 1);
    EXPECT_EQ(ifree(a, 0, MEMWIN_MEM_RELEASE), 1);
    EXPECT_EQ(ifree(r, 0, MEMWIN_MEM_RELEASE), 1);
    EXPECT_EQ(stats().committed, s0.committed);
}

TEST(InterposePolicy, CommitBudget)
{
    Reservations guard;
    uintptr_t r = guard.add(U(ia(0, 0x10000, kRes)));
    ASSERT_NE(r, 0u);
    Stats s0 = stats();
    PolicyGuard g(policy(0, 0, 0, s0.committed + 0x4000, 0));
    EXPECT_EQ(U(ia(r, 0x4000, kCom)), r);
    set_last_error(0);
    EXPECT_EQ(ia(r + 0x4000, 0x1000, kCom), nullptr);
    EXPECT_EQ(last_error(), E1455);
    EXPECT_EQ(state_of(r + 0x4000), MEMWIN_MEM_RESERVE);
    EXPECT_EQ(U(ia(r, 0x4000, kCom)), r) << "recommitting adds nothing";
    EXPECT_EQ(U(ia(r + 0x1000, 0x1000, kCom)), r + 0x1000);
    // Decommit frees budget.
    EXPECT_EQ(ifree(r, 0x1000, MEMWIN_MEM_DECOMMIT), 1);
    EXPECT_EQ(U(ia(r + 0x4000, 0x1000, kCom)), r + 0x4000);
    EXPECT_EQ(ia(r, 0x1000, kCom), nullptr);
    EXPECT_EQ(last_error(), E1455);
    // So does a release; MEM_COMMIT|MEM_RESERVE counts its whole size.
    EXPECT_EQ(ia(0, 0x1000, kRes | kCom), nullptr);
    EXPECT_EQ(last_error(), E1455);
    EXPECT_EQ(ifree(r, 0, MEMWIN_MEM_RELEASE), 1);
    uintptr_t a = guard.add(U(ia(0, 0x4000, kRes | kCom)));
    EXPECT_NE(a, 0u);
    EXPECT_EQ(ia(0, 0x1000, kRes | kCom), nullptr);
    EXPECT_EQ(last_error(), E1455);
    Stats s1 = stats();
    EXPECT_EQ(s1.committed - s0.committed, 0x4000u);
    EXPECT_TRUE(op_delta(s0, s1, MEMWIN_IOP_COMMIT, 6, 2, 2, 0xa000));
    EXPECT_TRUE(op_delta(s0, s1, MEMWIN_IOP_ALLOC, 3, 2, 2, 0x4000));
    EXPECT_EQ(ifree(a, 0, MEMWIN_MEM_RELEASE), 1);
    EXPECT_EQ(stats().committed, s0.committed);
}

TEST(InterposePolicy, ReserveBudget)
{
    Reservations guard;
    Stats s0 = stats();
    PolicyGuard g(policy(0, 0, 0, 0, s0.reserved + 0x20000));
    uintptr_t r = guard.add(U(ia(0, 0x20000, kRes)));
    ASSERT_NE(r, 0u);
    set_last_error(0);
    EXPECT_EQ(ia(0, 0x1000, kRes), nullptr);
    EXPECT_EQ(last_error(), E8);
    EXPECT_EQ(ia(0, 0x1000, kRes | kCom), nullptr);
    EXPECT_EQ(last_error(), E8);
    EXPECT_EQ(U(ia(r, 0x20000, kCom)), r) << "a commit inside a reservation reserves nothing";
    EXPECT_EQ(ifree(r, 0, MEMWIN_MEM_RELEASE), 1);
    uintptr_t b = guard.add(U(ia(0, 0x20000, kRes)));
    EXPECT_NE(b, 0u) << "a release frees the budget";
    Stats s1 = stats();
    EXPECT_TRUE(op_delta(s0, s1, MEMWIN_IOP_RESERVE, 3, 1, 1, 0x40000));
    EXPECT_TRUE(op_delta(s0, s1, MEMWIN_IOP_ALLOC, 1, 1, 1, 0));
    EXPECT_EQ(s1.reserved - s0.reserved, 0x20000u);
    EXPECT_EQ(ifree(b, 0, MEMWIN_MEM_RELEASE), 1);
    EXPECT_EQ(stats().reserved, s0.reserved);
}

// ---- set_next -------------------------------------------------------------------

TEST(Interpose, SetNextForwardsToTheGivenFunctions)
{
    Reservations guard;
    {
        nx::Guard next(nx::alloc, nx::free_);
        uintptr_t r = guard.add(U(ia(0, 0x10000, kRes)));
        ASSERT_NE(r, 0u);
        EXPECT_EQ(U(ia(r, 0x1000, kCom)), r);
        EXPECT_EQ(state_of(r), MEMWIN_MEM_COMMIT);
        EXPECT_EQ(ifree(r, 0, MEMWIN_MEM_RELEASE), 1);
        EXPECT_EQ(state_of(r), MEMWIN_MEM_FREE);
        EXPECT_EQ(nx::allocs.load(), 2);
        EXPECT_EQ(nx::frees.load(), 1);

        // The next function's failure and error pass through, uninjected.
        Stats s0 = stats();
        nx::fail_error = 1234;
        set_last_error(0);
        EXPECT_EQ(ia(0, 0x10000, kRes), nullptr);
        EXPECT_EQ(last_error(), 1234u);
        nx::fail_error = 0;
        EXPECT_TRUE(op_delta(s0, stats(), MEMWIN_IOP_RESERVE, 1, 1, 0, 0));

        // A NULL half falls back to the default.
        memwin_interpose_set_next(nx::alloc, nullptr);
        uintptr_t b = guard.add(U(ia(0, 0x10000, kRes)));
        ASSERT_NE(b, 0u);
        EXPECT_EQ(ifree(b, 0, MEMWIN_MEM_RELEASE), 1);
        EXPECT_EQ(state_of(b), MEMWIN_MEM_FREE);
        EXPECT_EQ(nx::allocs.load(), 4);
        EXPECT_EQ(nx::frees.load(), 1);
    }
    // Restored by set_next(NULL, NULL).
    uintptr_t c = guard.add(U(ia(0, 0x10000, kRes)));
    ASSERT_NE(c, 0u);
    EXPECT_EQ(ifree(c, 0, MEMWIN_MEM_RELEASE), 1);
    EXPECT_EQ(nx::allocs.load(), 4);
    EXPECT_EQ(nx::frees.load(), 1);
}

// ---- the interposer primitive table under memwin's functions ------------------

TEST(InterposePrim, GoLifecycleIsCounted)
{
    ModeScope em(MEMWIN_MODE_EXACT); // Go behaviour for this scope
    MappedReadyGuard mr;
    Reservations guard;
    const memwin_prim *t = memwin_interpose_prim();
    ASSERT_NE(t, nullptr);
    Stats s0 = stats();
    uintptr_t p;
    {
        PrimSwap swap(t);
        sysMemStat stat = 0;
        p = guard.add(U(sysReserve(nullptr, 0x40000)));
        ASSERT_NE(p, 0u);
        sysMap(P(p), 0x40000, &stat);
        sysUsed(P(p), 0x10000, 0x10000);
        EXPECT_EQ(state_of(p), MEMWIN_MEM_COMMIT);
        Stats s1 = stats();
        EXPECT_EQ(s1.committed - s0.committed, 0x10000u);
        sysUnused(P(p), 0x8000);
        EXPECT_EQ(state_of(p), MEMWIN_MEM_RESERVE);
        sysFree(P(p), 0x40000, &stat);
        EXPECT_EQ(stat, 0u);
    }
    EXPECT_EQ(state_of(p), MEMWIN_MEM_FREE);
    Stats s2 = stats();
    EXPECT_TRUE(op_delta(s0, s2, MEMWIN_IOP_RESERVE, 1, 0, 0, 0x40000));
    EXPECT_TRUE(op_delta(s0, s2, MEMWIN_IOP_COMMIT, 1, 0, 0, 0x10000));
    EXPECT_TRUE(op_delta(s0, s2, MEMWIN_IOP_DECOMMIT, 1, 0, 0, 0x8000));
    EXPECT_TRUE(op_delta(s0, s2, MEMWIN_IOP_RELEASE, 1, 0, 0, 0x40000));
    EXPECT_EQ(s2.committed, s0.committed);
    EXPECT_EQ(s2.reserved, s0.reserved);
    EXPECT_EQ(s2.decommitted - s0.decommitted, 0x10000u);
}

TEST(InterposePrim, PolicyFailureIsGosOutOfMemory)
{
    ModeScope em(MEMWIN_MODE_EXACT); // Go behaviour for this scope
    Reservations guard;
    uintptr_t r = guard.add(U(memwin_prim_host()->virtual_alloc(nullptr, 0x30000, kRes, kRW)));
    ASSERT_NE(r, 0u);
    Stats s0 = stats();
    std::vector<FatalCapture::Event> ev;
    {
        PolicyGuard g(policy(1, 0, 0, 0, 0));
        PrimSwap swap(memwin_interpose_prim());
        FatalCapture fc;
        sysUsedOS(P(r), 0x30000);
        ev = fc.events();
    }
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].printed, failed_line("VirtualAlloc", 0x30000, E1455));
    EXPECT_EQ(ev[0].message, "out of memory");
    // The whole call, then Go's halving pieces 0x30000 .. 0x1000.
    EXPECT_TRUE(op_delta(s0, stats(), MEMWIN_IOP_COMMIT, 7, 7, 7, 0));
    EXPECT_EQ(state_of(r), MEMWIN_MEM_RESERVE);

    // Another error code is Go's "failed to commit pages".
    {
        PolicyGuard g(policy(1, 0, E87, 0, 0));
        PrimSwap swap(memwin_interpose_prim());
        FatalCapture fc;
        sysUsedOS(P(r), 0x2000);
        ev = fc.events();
    }
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].printed, failed_line("VirtualAlloc", 0, E87));
    EXPECT_EQ(ev[0].message, "runtime: failed to commit pages");
}

TEST(InterposePrim, BudgetFailureIsGosOutOfMemory)
{
    ModeScope em(MEMWIN_MODE_EXACT); // Go behaviour for this scope
    Reservations guard;
    uintptr_t r = guard.add(U(memwin_prim_host()->virtual_alloc(nullptr, 0x20000, kRes, kRW)));
    ASSERT_NE(r, 0u);
    std::vector<FatalCapture::Event> ev;
    {
        PolicyGuard g(policy(0, 0, 0, stats().committed + 0x8000, 0));
        PrimSwap swap(memwin_interpose_prim());
        FatalCapture fc;
        sysUsedOS(P(r), 0x8000); // within the budget
        EXPECT_EQ(fc.count(), 0u);
        sysUsedOS(P(r + 0x8000), 0x10000); // beyond it
        ev = fc.events();
        sysUnusedOS(P(r), 0x8000);
    }
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].printed, failed_line("VirtualAlloc", 0x10000, E1455));
    EXPECT_EQ(ev[0].message, "out of memory");
    EXPECT_EQ(state_of(r), MEMWIN_MEM_RESERVE);
    EXPECT_EQ(state_of(r + 0x8000), MEMWIN_MEM_RESERVE);
}

MEMWIN_CHILD(interpose_dies_with_trace)
{
    exact_mode();
    say("pid " + std::to_string(self_pid()) + "\n");
    memwin_prim_set(memwin_interpose_prim());
    void *r = sysReserve(nullptr, 0x30000);
    say("base " + hex(U(r)) + "\n");
    sysUsedOS(r, 0x30000);
    say("survived\n");
}

// The primitive table's exit_process writes out the trace before dying.
TEST(InterposeEnv, DyingChildFlushesItsTrace)
{
    TempFiles tf("die");
    EnvVar trace("MEMWIN_TRACE", tf.base + "-%p.trace");
    EnvVar nth("MEMWIN_FAIL_COMMIT_NTH", "1");
    memwin_test::ChildResult res = memwin_test::run_child("interpose_dies_with_trace");
    unsigned long pid = child_pid(res.stderr_);
    std::string base = field_after(res.stderr_, "base");
    ASSERT_NE(pid, 0u) << res.stderr_;
    std::string path = tf.add(expand_pid(tf.base + "-%p.trace", pid));
    EXPECT_EQ(res.status, 2);
    EXPECT_EQ(res.stderr_, "pid " + std::to_string(pid) + "\nbase " + base + "\n" +
                               fatal_text(failed_line("VirtualAlloc", 0x30000, E1455),
                                          "out of memory"));
    std::vector<Want> want = {{"reserve", "0x0", "0x30000", "0x2000", base, -1, 0, 0x30000, "os"}};
    for (const char *n : {"0x30000", "0x30000", "0x18000", "0xc000", "0x6000", "0x3000", "0x1000"})
        want.push_back({"commit", base, n, "0x1000", "0x0", E1455, 0, 0x30000, "fault"});
    EXPECT_TRUE(trace_matches(read_lines(path), pid, want));
}

// ---- catching fatal errors -------------------------------------------------------

TEST(Interpose, CatchFatalInstallsAndRestores)
{
    FatalCapture fc; // a known handler to come back to
    void *ctx0 = nullptr, *ctx = nullptr;
    memwin_fatal_fn h0 = memwin_get_fatal_handler(&ctx0);
    memwin_interpose_catch_fatal(1);
    memwin_fatal_fn h1 = memwin_get_fatal_handler(&ctx);
    EXPECT_TRUE(h1 != h0);
    memwin_interpose_catch_fatal(1); // already on: keeps the saved handler
    EXPECT_TRUE(memwin_get_fatal_handler(&ctx) == h1);
    memwin_interpose_catch_fatal(0);
    EXPECT_TRUE(memwin_get_fatal_handler(&ctx) == h0);
    EXPECT_EQ(ctx, ctx0);
    EXPECT_EQ(ctx, static_cast<void *>(&fc));
    memwin_interpose_catch_fatal(0); // already off: no change
    EXPECT_TRUE(memwin_get_fatal_handler(&ctx) == h0);
    // Nothing was caught in this process.
    const volatile uint32_t *flag = memwin_interpose_fatal_flag();
    ASSERT_TRUE(flag != nullptr);
    EXPECT_TRUE(flag == memwin_interpose_fatal_flag());
    EXPECT_EQ(*flag, 0u);
    const char *printed = "untouched", *message = "untouched";
    EXPECT_EQ(memwin_interpose_fatal_take(&printed, &message), 0);
    EXPECT_STREQ(printed, "untouched");
    EXPECT_STREQ(message, "untouched");
    EXPECT_EQ(fc.count(), 0u);
}

MEMWIN_CHILD(interpose_catch_fatal)
{
    exact_mode();
    const char *printed = nullptr, *message = nullptr;
    say("before flag " + std::to_string(*memwin_interpose_fatal_flag()) + " take " +
        std::to_string(memwin_interpose_fatal_take(&printed, &message)) + "\n");
    memwin_interpose_catch_fatal(1);
    memwin_interpose_policy p = policy(1, 0, 0, 0, 0);
    memwin_interpose_set_policy(&p);
    memwin_prim_set(memwin_interpose_prim());
    void *r = memwin_prim_host()->virtual_alloc(nullptr, 0x30000, kRes, kRW);
    sysUsedOS(r, 0x30000); // caught: returns
    say("returned flag " + std::to_string(*memwin_interpose_fatal_flag()) + "\n");
    if (memwin_interpose_fatal_take(&printed, &message))
        say(std::string("printed=[") + printed + "] message=[" + message + "]\n");
    sysUsedOS(r, 0x10000); // the first error wins
    if (memwin_interpose_fatal_take(&printed, &message))
        say(std::string("again printed=[") + printed + "] message=[" + message + "]\n");
    memwin_interpose_catch_fatal(0);
    sysUsedOS(r, 0x2000); // the default handler again: dies
    say("survived\n");
}

TEST(Interpose, CatchFatalRecordsTheFirstErrorInAChild)
{
    memwin_test::ChildResult res = memwin_test::run_child("interpose_catch_fatal");
    std::string first = failed_line("VirtualAlloc", 0x30000, E1455);
    EXPECT_EQ(res.status, 2);
    EXPECT_EQ(res.stderr_, "before flag 0 take 0\nreturned flag 1\nprinted=[" + first +
                               "] message=[out of memory]\nagain printed=[" + first +
                               "] message=[out of memory]\n" +
                               fatal_text(failed_line("VirtualAlloc", 0x2000, E1455),
                                          "out of memory"));
}

// ---- environment configuration (child processes) ---------------------------------

MEMWIN_CHILD(interpose_trace_and_stats)
{
    say("pid " + std::to_string(self_pid()) + "\n");
    uintptr_t r = U(ia(0, 0x10000, kRes));
    uintptr_t spare = free_area(0x10000); // while r is held, so never r
    ia(r, 0x2000, kCom);
    ifree(r + 0x1000, 0x1000, MEMWIN_MEM_DECOMMIT);
    ia(spare, 0x1000, kCom);
    ifree(r, 0, MEMWIN_MEM_RELEASE);
    say("base " + hex(r) + "\nspare " + hex(spare) + "\nflush " +
        std::to_string(memwin_interpose_flush()) + "\n");
}

TEST(InterposeEnv, TraceAndStatsFiles)
{
    TempFiles tf("trace");
    EnvVar trace("MEMWIN_TRACE", tf.base + "-%p.trace");
    EnvVar st("MEMWIN_STATS", tf.base + "-%p.stats");
    memwin_test::ChildResult res = memwin_test::run_child("interpose_trace_and_stats");
    unsigned long pid = child_pid(res.stderr_);
    ASSERT_NE(pid, 0u) << res.stderr_;
    std::string tpath = tf.add(expand_pid(tf.base + "-%p.trace", pid));
    std::string spath = tf.add(expand_pid(tf.base + "-%p.stats", pid));
    std::string base = field_after(res.stderr_, "base"), spare = field_after(res.stderr_, "spare");
    EXPECT_EQ(res.status, 0);
    EXPECT_EQ(res.stderr_, "pid " + std::to_string(pid) + "\nbase " + base + "\nspare " + spare +
                               "\nflush 0\n");
    uintptr_t b = std::strtoull(base.c_str(), nullptr, 16);
    EXPECT_TRUE(trace_matches(
        read_lines(tpath), pid,
        {{"reserve", "0x0", "0x10000", "0x2000", base, -1, 0, 0x10000, "os"},
         {"commit", base, "0x2000", "0x1000", base, -1, 0x2000, 0x10000, "os"},
         {"decommit", hex(b + 0x1000), "0x1000", "0x4000", "0x1", -1, 0x1000, 0x10000, "os"},
         {"commit", spare, "0x1000", "0x1000", "0x0", E487, 0x1000, 0x10000, "os"},
         {"release", base, "0x0", "0x8000", "0x1", -1, 0, 0, "os"}}));

    auto classes = [](std::initializer_list<std::pair<int, int>> set) {
        std::string s;
        for (int k = 0; k < MEMWIN_INTERPOSE_SIZE_CLASSES; k++) {
            int v = 0;
            for (auto &kv : set)
                if (kv.first == k)
                    v = kv.second;
            s += (k ? "," : " ") + std::to_string(v);
        }
        return s;
    };
    std::vector<std::string> want = {
        "# memwin interposer stats 1",
        "pid " + std::to_string(pid),
        "time_ns",
        "op reserve calls 1 failed 0 injected 0 bytes 65536 classes" + classes({{4, 1}}),
        "op commit calls 2 failed 1 injected 0 bytes 8192 classes" + classes({{0, 1}, {1, 1}}),
        "op alloc calls 0 failed 0 injected 0 bytes 0 classes" + classes({}),
        "op decommit calls 1 failed 0 injected 0 bytes 4096 classes" + classes({{0, 1}}),
        "op release calls 1 failed 0 injected 0 bytes 65536 classes" + classes({{4, 1}}),
        "op other calls 0 failed 0 injected 0 bytes 0 classes" + classes({}),
        "committed 0",
        "committed_peak 8192",
        "reserved 0",
        "reserved_peak 65536",
        "newly_committed 8192",
        "decommitted 8192",
        "released 65536",
        "trace_lines 5"};
    std::vector<std::string> got = read_lines(spath);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); i++) {
        if (want[i] == "time_ns")
            EXPECT_EQ(got[i].rfind("time_ns ", 0), 0u) << got[i];
        else
            EXPECT_EQ(got[i], want[i]);
    }
}

MEMWIN_CHILD(interpose_env_fail_commit)
{
    say(policy_text());
    uintptr_t r = U(ia(0, 0x10000, kRes));
    for (int i = 0; i < 3; i++) {
        std::string name = "commit " + std::to_string(i + 1);
        say(result_text(name.c_str(), ia(r + uintptr_t(i) * 0x1000, 0x1000, kCom) != nullptr));
    }
    say("state " + hex(state_of(r + 0x1000)) + "\n");
    Stats s = stats();
    say("commit calls " + std::to_string(s.op[MEMWIN_IOP_COMMIT].calls) + " failed " +
        std::to_string(s.op[MEMWIN_IOP_COMMIT].failed) + " injected " +
        std::to_string(s.op[MEMWIN_IOP_COMMIT].injected) + "\n");
    ifree(r, 0, MEMWIN_MEM_RELEASE);
}

TEST(InterposeEnv, FailCommitNthCountError)
{
    EnvVar nth("MEMWIN_FAIL_COMMIT_NTH", "2");
    EnvVar count("MEMWIN_FAIL_COMMIT_COUNT", "1");
    EnvVar err("MEMWIN_FAIL_COMMIT_ERROR", "0x8");
    memwin_test::ChildResult res = memwin_test::run_child("interpose_env_fail_commit");
    EXPECT_EQ(res.status, 0);
    EXPECT_EQ(res.stderr_, "policy 2 1 8 0 0\ncommit 1 ok\ncommit 2 fail 8\ncommit 3 ok\n"
                           "state 0x2000\ncommit calls 3 failed 1 injected 1\n");
}

MEMWIN_CHILD(interpose_env_budgets)
{
    say(policy_text());
    uintptr_t r = U(ia(0, 0x100000, kRes));
    say(result_text("reserve 1m", r != 0));
    say(result_text("reserve more", ia(0, 0x10000, kRes) != nullptr));
    say(result_text("commit 64k", ia(r, 0x10000, kCom) != nullptr));
    say(result_text("commit more", ia(r + 0x10000, 0x1000, kCom) != nullptr));
    say(result_text("decommit", ifree(r, 0x1000, MEMWIN_MEM_DECOMMIT) != 0));
    say(result_text("commit again", ia(r + 0x10000, 0x1000, kCom) != nullptr));
    say(result_text("release", ifree(r, 0, MEMWIN_MEM_RELEASE) != 0));
}

TEST(InterposeEnv, CommitAndReserveBudgets)
{
    EnvVar cb("MEMWIN_COMMIT_BUDGET", "64k");
    EnvVar rb("MEMWIN_RESERVE_BUDGET", "1MB");
    memwin_test::ChildResult res = memwin_test::run_child("interpose_env_budgets");
    EXPECT_EQ(res.status, 0);
    EXPECT_EQ(res.stderr_, "policy 0 0 0 65536 1048576\nreserve 1m ok\nreserve more fail 8\n"
                           "commit 64k ok\ncommit more fail 1455\ndecommit ok\n"
                           "commit again ok\nrelease ok\n");
}

MEMWIN_CHILD(interpose_env_bad)
{
    uint32_t e1 = memwin_interpose_init();
    uint32_t e2 = memwin_interpose_init();
    say("init " + std::to_string(e1) + " " + std::to_string(e2) + "\n" + policy_text());
}

TEST(InterposeEnv, BadValuesAreReported)
{
    TempFiles tf("bad");
    EnvVar nth("MEMWIN_FAIL_COMMIT_NTH", "abc");
    EnvVar cb("MEMWIN_COMMIT_BUDGET", "12q");
    EnvVar trace("MEMWIN_TRACE", tf.base + "-no-such-dir/x.trace");
    memwin_test::ChildResult res = memwin_test::run_child("interpose_env_bad");
#if defined(_WIN32)
    const std::string e = "3"; // ERROR_PATH_NOT_FOUND
#else
    const std::string e = "2"; // ENOENT
#endif
    EXPECT_EQ(res.status, 0);
    EXPECT_EQ(res.stderr_, "memwin: MEMWIN_FAIL_COMMIT_NTH=abc: not a number (decimal, or 0x and hex "
                           "digits); using the default 0\n"
                           "memwin: MEMWIN_COMMIT_BUDGET=12q: not a size (decimal, or 0x and hex "
                           "digits, then optionally k, m or g); using the default 0\n"
                           "memwin: MEMWIN_TRACE=" + tf.base + "-no-such-dir/x.trace: cannot open (error " +
                               e + "); no trace\ninit " + e + " " + e + "\npolicy 0 0 0 0 0\n");
}

// ---- threads ----------------------------------------------------------------------

TEST(Interpose, ManyLiveReservationsReleasedInAnyOrder)
{
    // More live reservations than the interposers' table starts with, released
    // in a scrambled order: every release still knows its reservation's size.
    constexpr size_t kN = 600;
    Stats s0 = stats();
    std::vector<uintptr_t> rs;
    for (size_t i = 0; i < kN; i++) {
        uintptr_t r = U(ia(0, 0x10000 * (1 + i % 3), kRes));
        ASSERT_NE(r, 0u) << i;
        rs.push_back(r);
    }
    uint64_t bytes = 0;
    for (size_t i = 0; i < kN; i++)
        bytes += 0x10000 * (1 + i % 3);
    Stats s1 = stats();
    EXPECT_EQ(s1.reserved - s0.reserved, bytes);
    // A fixed permutation: stride 7 through the list (7 and 600 are coprime).
    for (size_t k = 0, i = 0; k < kN; k++, i = (i + 7) % kN)
        ASSERT_EQ(ifree(rs[i], 0, MEMWIN_MEM_RELEASE), 1) << i;
    Stats s2 = stats();
    EXPECT_EQ(s2.reserved, s0.reserved);
    EXPECT_EQ(s2.released - s1.released, bytes);
    EXPECT_TRUE(op_delta(s1, s2, MEMWIN_IOP_RELEASE, kN, 0, 0, bytes));
}

TEST(Interpose, ThreadsGetExactCounters)
{
    constexpr int kThreads = 4, kIters = 64;
    std::atomic<int> bad{0};
    Stats s0 = stats();
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; t++)
        ts.emplace_back([&bad, t] {
            for (int i = 0; i < kIters; i++) {
                uintptr_t r = U(ia(0, 0x20000, kRes));
                if (!r) {
                    bad++;
                    continue;
                }
                if (U(ia(r, 0x10000, kCom)) != r)
                    bad++;
                else
                    std::memset(P(r), t + 1, 0x10000);
                if (ifree(r + 0x8000, 0x8000, MEMWIN_MEM_DECOMMIT) != 1)
                    bad++;
                if (ifree(r, 0, MEMWIN_MEM_RELEASE) != 1)
                    bad++;
            }
        });
    for (std::thread &t : ts)
        t.join();
    EXPECT_EQ(bad.load(), 0);
    Stats s1 = stats();
    const uint64_t n = kThreads * kIters;
    EXPECT_TRUE(op_delta(s0, s1, MEMWIN_IOP_RESERVE, n, 0, 0, n * 0x20000));
    EXPECT_TRUE(op_delta(s0, s1, MEMWIN_IOP_COMMIT, n, 0, 0, n * 0x10000));
    EXPECT_TRUE(op_delta(s0, s1, MEMWIN_IOP_DECOMMIT, n, 0, 0, n * 0x8000));
    EXPECT_TRUE(op_delta(s0, s1, MEMWIN_IOP_RELEASE, n, 0, 0, n * 0x20000));
    EXPECT_EQ(s1.committed, s0.committed);
    EXPECT_EQ(s1.reserved, s0.reserved);
    EXPECT_EQ(s1.newly_committed - s0.newly_committed, n * 0x10000);
    EXPECT_EQ(s1.decommitted - s0.decommitted, n * 0x10000);
    EXPECT_EQ(s1.released - s0.released, n * 0x20000);
    EXPECT_GE(s1.reserved_peak, s0.reserved + 0x20000);
}
