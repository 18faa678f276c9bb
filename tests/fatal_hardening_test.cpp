// Fatal handler hardening: a handler is always called with its own context
// while other threads replace it (issue 14.1), and the default fatal path's
// exit status follows GOTRACEBACK the way the newest Go does on Windows
// (issue 15.4).
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

#if defined(_WIN32)
#include <windows.h>
#endif

using namespace mwt;

namespace {

// Three (handler, context) pairs; handler i expects the context of pair i.
struct PairCtx {
    int id;
    std::atomic<uint64_t> calls{0};
    std::atomic<uint64_t> wrong{0};
};
PairCtx g_ctx[3] = {{0}, {1}, {2}};

template <int I> void pair_handler(const char *, const char *, void *ctx)
{
    PairCtx *c = static_cast<PairCtx *>(ctx);
    if (c != &g_ctx[I])
        g_ctx[I].wrong.fetch_add(1, std::memory_order_relaxed);
    g_ctx[I].calls.fetch_add(1, std::memory_order_relaxed);
    // Returning makes the throwing call return to its caller.
}

const memwin_fatal_fn kHandlers[3] = {pair_handler<0>, pair_handler<1>, pair_handler<2>};

} // namespace

// Four threads throw (sysMemStat overflow, through handlers that return)
// while a fifth rotates three (handler, ctx) pairs: every call must see the
// context installed with its own handler.  Before the fix (two alternating
// slots rewritten in place) calls saw another pair's context and TSan
// reported the race in fatal.c.
TEST(FatalHardening, HandlerAlwaysSeesItsOwnContext)
{
    void *prev_ctx = nullptr;
    memwin_fatal_fn prev = memwin_get_fatal_handler(&prev_ctx);
    int prev_mode = memwin_set_mode(MEMWIN_MODE_EXACT);
    for (auto &c : g_ctx) {
        c.calls = 0;
        c.wrong = 0;
    }
    memwin_set_fatal_handler(kHandlers[0], &g_ctx[0]);

    std::atomic<bool> stop{false};
    std::atomic<uint64_t> sets{0};
    std::thread rotator([&] {
        for (unsigned i = 1; !stop.load(std::memory_order_relaxed); i++) {
            memwin_set_fatal_handler(kHandlers[i % 3], &g_ctx[i % 3]);
            sets.fetch_add(1, std::memory_order_relaxed);
        }
    });
    const int kThreads = 4, kPerThread = 200000;
    std::vector<std::thread> throwers;
    for (int t = 0; t < kThreads; t++)
        throwers.emplace_back([] {
            for (int i = 0; i < kPerThread; i++) {
                // Near the top of int64: adding 1 overflows, Go's throw.
                sysMemStat s = (uint64_t)INT64_MAX;
                memwin_stat_add(&s, 1);
            }
        });
    for (auto &t : throwers)
        t.join();
    stop = true;
    rotator.join();

    memwin_set_fatal_handler(prev == memwin_default_fatal ? nullptr : prev, prev_ctx);
    memwin_set_mode(prev_mode);

    uint64_t calls = 0, wrong = 0;
    for (auto &c : g_ctx) {
        calls += c.calls;
        wrong += c.wrong;
    }
    EXPECT_EQ(calls, (uint64_t)kThreads * kPerThread);
    EXPECT_EQ(wrong, 0u) << "handler called with another handler's context (" << sets.load()
                         << " handler changes)";
    EXPECT_GT(sets.load(), 0u);
}

// Setting and reading back: the pair is returned as set, and the default
// handler comes back with a NULL context after memwin_set_fatal_handler(NULL).
TEST(FatalHardening, GetReturnsThePairSet)
{
    void *prev_ctx = nullptr;
    memwin_fatal_fn prev = memwin_get_fatal_handler(&prev_ctx);
    for (int round = 0; round < 100; round++) {
        int i = round % 3;
        memwin_set_fatal_handler(kHandlers[i], &g_ctx[i]);
        void *ctx = nullptr;
        ASSERT_EQ(memwin_get_fatal_handler(&ctx), kHandlers[i]);
        ASSERT_EQ(ctx, &g_ctx[i]);
    }
    memwin_set_fatal_handler(nullptr, &g_ctx[1]);
    void *ctx = &g_ctx[0];
    // The default handler (through a DLL import its address seen from here
    // may differ from the DLL's own, so: none of ours, and a NULL context).
    memwin_fatal_fn fn = memwin_get_fatal_handler(&ctx);
    EXPECT_TRUE(fn != kHandlers[0] && fn != kHandlers[1] && fn != kHandlers[2]);
    EXPECT_EQ(ctx, nullptr);
    memwin_set_fatal_handler(prev == memwin_default_fatal ? nullptr : prev, prev_ctx);
}

// ---- GOTRACEBACK and the default fatal path (issue 15.4) -----------------

namespace {

constexpr int kFailFast = (int)0xC0000602u; // STATUS_FAIL_FAST_EXCEPTION

void env_set(const char *name, const char *value)
{
#if defined(_WIN32)
    SetEnvironmentVariableA(name, value);
#else
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
#endif
}

// Sets GOTRACEBACK for a scope (nullptr: unset) and restores it.
class ScopedTraceback {
public:
    explicit ScopedTraceback(const char *value)
    {
        const char *old = getenv("GOTRACEBACK");
        had_ = old != nullptr;
        if (old)
            old_ = old;
        env_set("GOTRACEBACK", value);
    }
    ~ScopedTraceback() { env_set("GOTRACEBACK", had_ ? old_.c_str() : nullptr); }

private:
    bool had_ = false;
    std::string old_;
};

void overflow_throw()
{
    sysMemStat s = (uint64_t)INT64_MAX;
    memwin_stat_add(&s, 1); // Go's "sysMemStat overflow" throw
}

// The default handler's output and exit statuses for one throw, with the
// process primitives captured.
std::vector<int> default_exits(std::string *text)
{
    int mode = memwin_set_mode(MEMWIN_MODE_EXACT);
    std::vector<int> exits;
    {
        DefaultFatal df;
        PrimRecorder rec(true);
        overflow_throw();
        exits = rec.exits();
        if (text)
            *text = rec.stderr_text();
    }
    memwin_set_mode(mode);
    return exits;
}

const char kOverflowText[] = "runtime: val=9223372036854775808 n=1\n"
                             "fatal error: sysMemStat overflow\n";

} // namespace

// Go >= 1.21 on Windows ends a throw with a fail-fast exception when
// GOTRACEBACK is crash or wer, and with exit(2) for every other value;
// Go 1.26 under Wine exits 0xC0000602 then (tests/vectors/traceback_*).
// memwin's default path hands exit_process that status.  Before the fix it
// always exited 2.
TEST(FatalHardening, DefaultFatalCrashesUnderGotracebackCrashAndWer)
{
    for (const char *v : {"crash", "wer"}) {
        ScopedTraceback tb(v);
        std::string text;
        EXPECT_EQ(default_exits(&text), std::vector<int>{kFailFast}) << "GOTRACEBACK=" << v;
        EXPECT_EQ(text, kOverflowText) << "GOTRACEBACK=" << v;
    }
}

// Every other setting, unset included, keeps Go's exit status 2 (Go
// compares the words exactly: "CRASH" is not crash).
TEST(FatalHardening, DefaultFatalExitsTwoOtherwise)
{
    const char *const values[] = {nullptr, "", "none", "0", "single", "1", "all",
                                  "2", "system", "bogus", "CRASH", "crash "};
    for (const char *v : values) {
        ScopedTraceback tb(v);
        std::string text;
        EXPECT_EQ(default_exits(&text), std::vector<int>{2})
            << "GOTRACEBACK=" << (v ? v : "(unset)");
        EXPECT_EQ(text, kOverflowText);
    }
}

// The whole process: a child that throws with GOTRACEBACK=crash.  Windows
// (memwin.dll, under Wine): exit code 0xC0000602 from the fail-fast
// exception, as Go 1.26; Linux: _exit keeps the low 8 bits of that status,
// 2 (what a Linux parent also sees of the Wine process).
MEMWIN_CHILD(fatal_hardening_crash_child)
{
    memwin_set_mode(MEMWIN_MODE_EXACT);
    memwin_set_fatal_handler(nullptr, nullptr);
    overflow_throw();
}

TEST(FatalHardening, ChildExitStatusUnderGotracebackCrash)
{
    memwin_test::ChildResult r;
    {
        ScopedTraceback tb("crash");
        r = memwin_test::run_child("fatal_hardening_crash_child");
    }
#if defined(_WIN32)
    EXPECT_EQ(r.status, kFailFast);
#else
    EXPECT_EQ(r.status, 2);
#endif
    EXPECT_NE(r.stderr_.find(kOverflowText), std::string::npos) << r.stderr_;
    ScopedTraceback tb("single");
    r = memwin_test::run_child("fatal_hardening_crash_child");
    EXPECT_EQ(r.status, 2);
}
