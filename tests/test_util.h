// Shared helpers of the memwin googletest suite: region queries, free
// address ranges, a recording primitive table, an in-process fatal-handler
// capture, and scope guards for reservations and fault injection.
#pragma once

#include <gtest/gtest.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "child.h"
#include "memwin.h"
#include "memwin_prim.h"

namespace mwt {

constexpr uintptr_t kPage = 0x1000;     // Windows page
constexpr uintptr_t kGranule = 0x10000; // Windows allocation granularity
constexpr uintptr_t kKiB = 1024, kMiB = 1024 * 1024;

inline uintptr_t U(const void *p)
{
    return reinterpret_cast<uintptr_t>(p);
}
inline void *P(uintptr_t a)
{
    return reinterpret_cast<void *>(a);
}

// memwin_query that records a test failure when the query itself fails
// (the returned info is then zero-filled).
memwin_region_info query(uintptr_t addr);
inline memwin_region_info query(const void *addr)
{
    return query(U(addr));
}

// Expected (state, protect, allocation base, region size) of the run of
// pages at addr; a gtest predicate-style check with a readable message.
::testing::AssertionResult region_is(uintptr_t addr, uint32_t state, uint32_t protect,
                                     uintptr_t alloc_base, uintptr_t region_size);
// Just the state of the page at addr.
uint32_t state_of(uintptr_t addr);

// A free range of n bytes aligned to align (>= 64 KiB), found by reserving
// n + align through the host table and releasing it again.
uintptr_t free_area(uintptr_t n, uintptr_t align = kGranule);

// Releases a reservation through the host table if addr is still the base
// of one (used by guards and cleanup; no failure is recorded).
void release_if_reserved(uintptr_t base);

// Scope guard: releases the reservations it holds at scope exit.
class Reservations {
public:
    Reservations() = default;
    Reservations(const Reservations &) = delete;
    Reservations &operator=(const Reservations &) = delete;
    ~Reservations();
    uintptr_t add(uintptr_t base)
    {
        if (base)
            bases_.push_back(base);
        return base;
    }
    void *add(void *base)
    {
        add(U(base));
        return base;
    }

private:
    std::vector<uintptr_t> bases_;
};

// Scope guard for memwin_fault_set: clears the injection at scope exit.
struct FaultGuard {
    FaultGuard(uint32_t ops, uint64_t nth, uint64_t count, uint32_t error);
    FaultGuard(const FaultGuard &) = delete;
    FaultGuard &operator=(const FaultGuard &) = delete;
    ~FaultGuard();
};

// One primitive call seen by a PrimRecorder.
struct PrimCall {
    enum Op { kAlloc, kFree, kAllocAligned } op;
    uintptr_t addr; // kAllocAligned: the alignment asked for
    uintptr_t size;
    uint32_t type;
    uintptr_t result; // alloc: the pointer returned; free: the BOOL
    uint32_t error;   // last error after a failed call, else 0
    uint32_t protect = 0; // alloc, alloc_aligned: the protection asked for
    bool ok() const
    {
        return result != 0;
    }
};
std::string to_string(const PrimCall &c);
std::string to_string(const std::vector<PrimCall> &calls);

// Installs a table over the current one that records every
// virtual_alloc/virtual_free and forwards it; optionally captures
// write_stderr and exit_process (exit_process then returns instead of
// ending the process).  One recorder at a time; restores the previous
// table at scope exit.
class PrimRecorder {
public:
    explicit PrimRecorder(bool capture_process = false);
    PrimRecorder(const PrimRecorder &) = delete;
    PrimRecorder &operator=(const PrimRecorder &) = delete;
    ~PrimRecorder();
    std::vector<PrimCall> calls() const;
    // Calls of op whose type equals type (0: any type).
    size_t count(PrimCall::Op op, uint32_t type = 0) const;
    std::string stderr_text() const;
    std::vector<int> exits() const;
    void clear();
};

// Installs a table whose virtual_alloc/virtual_free succeed without doing
// anything (alloc returns addr, or 0x10000 for NULL), so the generic layer's
// accounting can be driven with sizes no memory could back; the rest goes
// to the host table.  Restores the previous table at scope exit.
class NullPrim {
public:
    NullPrim();
    NullPrim(const NullPrim &) = delete;
    NullPrim &operator=(const NullPrim &) = delete;
    ~NullPrim();

private:
    const memwin_prim *prev_;
};

// Brings mapped-ready back to value through generic calls over a NullPrim.
void restore_mapped_ready(uint64_t value);

// Restores mapped-ready at scope exit, for tests whose generic calls are
// deliberately unbalanced (as Go's sysUsed(prepared) / sysUnused(n) are).
struct MappedReadyGuard {
    uint64_t value = memwin_mapped_ready();
    ~MappedReadyGuard()
    {
        restore_mapped_ready(value);
    }
};

// While a test of this suite's files runs (not in child scenarios: those
// call exact_mode() themselves), memwin is in exact mode and a fatal error
// nobody expected records a test failure and returns instead of ending the
// test program (test_util.cpp's listener).  DefaultFatal puts memwin's default handler (print, exit 2) in
// force for a scope, for tests that capture its output in-process.
class DefaultFatal {
public:
    DefaultFatal();
    DefaultFatal(const DefaultFatal &) = delete;
    DefaultFatal &operator=(const DefaultFatal &) = delete;
    ~DefaultFatal();

private:
    void *prev_ctx_ = nullptr;
    memwin_fatal_fn prev_;
};

// Installs a fatal handler that records each call and returns (so the
// failing memwin call returns at once); restores the previous handler at
// scope exit.
class FatalCapture {
public:
    struct Event {
        std::string printed, message;
    };
    FatalCapture();
    FatalCapture(const FatalCapture &) = delete;
    FatalCapture &operator=(const FatalCapture &) = delete;
    ~FatalCapture();
    std::vector<Event> events() const;
    size_t count() const;

private:
    static void handler(const char *printed, const char *message, void *ctx);
    void *prev_ctx_ = nullptr;
    memwin_fatal_fn prev_;
    mutable std::mutex mu_;
    std::vector<Event> events_;
};

// What Go writes for a throw: the printed lines, then "fatal error: ...".
inline std::string fatal_text(const std::string &printed, const std::string &message)
{
    return printed + "fatal error: " + message + "\n";
}

// Go's "runtime: <what> of <n> bytes failed with errno=<e>\n".
std::string failed_line(const char *what, uint64_t n, uint32_t err);

// Scope guards: the checking mode / the primitive table in force, restored
// at scope exit.
struct ModeScope {
    int prev;
    explicit ModeScope(int mode) : prev(memwin_set_mode(mode))
    {
    }
    ModeScope(const ModeScope &) = delete;
    ModeScope &operator=(const ModeScope &) = delete;
    ~ModeScope()
    {
        memwin_set_mode(prev);
    }
};
struct PrimSwap {
    const memwin_prim *prev;
    explicit PrimSwap(const memwin_prim *table) : prev(memwin_prim_set(table))
    {
    }
    PrimSwap(const PrimSwap &) = delete;
    PrimSwap &operator=(const PrimSwap &) = delete;
    ~PrimSwap()
    {
        memwin_prim_set(prev);
    }
};

// Sets (value non-null) or removes an environment variable of this process,
// for the CRT's getenv and for the child processes it starts.
void set_env(const char *name, const char *value);

// True when the program runs under valgrind (its preload library is in
// LD_PRELOAD).  Valgrind's address-space manager refuses multi-TiB
// reservations and does not let the emulation keep its reservations in the
// zone it chooses, so tests of those two properties skip there.
inline bool under_valgrind()
{
    const char *p = std::getenv("LD_PRELOAD");
    return p && std::string(p).find("vgpreload") != std::string::npos;
}

#if defined(__GLIBC__)
// Bytes the C heap has handed out (small chunks and mmapped ones), by
// glibc's own count: what the emulation's bookkeeping costs, measured as a
// difference.  (The sanitizers replace malloc; mallinfo2 then says nothing
// of it.)
inline size_t heap_in_use()
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}
#endif

// For child scenarios: Go's exact behaviour whatever MEMWIN_MODE says.
inline void exact_mode()
{
    memwin_set_mode(MEMWIN_MODE_EXACT);
}

// The result of a MEMWIN_CHILD scenario.  Scenarios registered with
// ChildPrefetch whose test is selected to run are all started at the first
// call, several at a time (Wine starts processes slowly, in parallel they
// overlap); any other scenario runs on demand.
memwin_test::ChildResult child_result(const char *name);
struct ChildPrefetch {
    ChildPrefetch(const char *child, const char *test_full_name);
};

// Runs a MEMWIN_CHILD scenario and checks its exit status and exact stderr.
::testing::AssertionResult child_exits(const char *name, int status, const std::string &err);

// Go's halving fallback (sysUsedOS / sysUnusedOS) as described in
// go-runtime.md §1.2, as a model: the expected sequence of (addr, size, ok)
// primitive calls for the range [a, a+n) when a call succeeds exactly if
// ok_range(addr, size).  Stops at the first piece that cannot be done.
struct Step {
    uintptr_t addr, size;
    bool ok;
    bool operator==(const Step &o) const
    {
        return addr == o.addr && size == o.size && ok == o.ok;
    }
};
template <class Pred> std::vector<Step> go_halving_model(uintptr_t a, uintptr_t n, Pred ok_range)
{
    std::vector<Step> out;
    bool first = ok_range(a, n);
    out.push_back({a, n, first});
    if (first)
        return out;
    while (n > 0) {
        uintptr_t small = n;
        while (small >= 4096) {
            bool ok = ok_range(a, small);
            out.push_back({a, small, ok});
            if (ok)
                break;
            small = (small / 2) & ~uintptr_t(4095);
        }
        if (small < 4096)
            return out;
        a += small;
        n -= small;
    }
    return out;
}
std::vector<Step> steps_of(const std::vector<PrimCall> &calls);
std::string to_string(const std::vector<Step> &steps);

// Fills / checks a byte pattern derived from seed over [p, p+n).
void fill_pattern(uintptr_t p, uintptr_t n, uint32_t seed);
bool check_pattern(uintptr_t p, uintptr_t n, uint32_t seed);
// True if every byte of [p, p+n) is zero.
bool all_zero(uintptr_t p, uintptr_t n);

} // namespace mwt
