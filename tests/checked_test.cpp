// Checked and recoverable modes: every export against bad input and illegal
// transitions.  A refused call must have no effect (page states and counters
// unchanged) and must name its rule; legal handshakes must pass untouched.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "child.h"
#include "test_util.h"
#include "memwin.h"
#include "memwin_prim.h"

namespace {

constexpr uintptr_t kPage = 4096;

std::string Hex(uintptr_t a)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)a);
    return buf;
}

// memwin_last_error_message() after checked mode refused op(v, n): the line
// it prints (the address in hex, the size in decimal, the rule broken), then
// Go's "fatal error: " and the error's title.
std::string Refusal(const char *op, uintptr_t v, uintptr_t n, const std::string &why,
                    const char *title)
{
    return "runtime: " + std::string(op) + "(" + Hex(v) + ", " +
           std::to_string((unsigned long long)n) + "): " + why + "\nfatal error: " + title;
}

struct Snapshot {
    std::vector<memwin_region_info> runs;
    uint64_t ready;
    uint64_t stat;
    bool operator==(const Snapshot &o) const
    {
        if (runs.size() != o.runs.size() || ready != o.ready || stat != o.stat)
            return false;
        for (size_t i = 0; i < runs.size(); i++) {
            const memwin_region_info &x = runs[i], &y = o.runs[i];
            if (x.base != y.base || x.allocation_base != y.allocation_base ||
                x.allocation_protect != y.allocation_protect || x.state != y.state ||
                x.protect != y.protect || x.region_size != y.region_size)
                return false;
        }
        return true;
    }
};

class Checked : public ::testing::Test {
  protected:
    sysMemStat stat = 0;
    uint8_t *a = nullptr; // 64 KiB reservation A, followed directly by B
    uint8_t *b = nullptr;
    std::vector<std::pair<void *, uintptr_t>> owned;
    int old_mode = 0;

    void SetUp() override
    {
        old_mode = memwin_set_mode(MEMWIN_MODE_RECOVERABLE);
        // Two adjacent 64 KiB reservations: find 128 KiB of free address
        // space, then reserve its halves at hints.
        for (int i = 0; i < 16 && !b; i++) {
            uint8_t *p = static_cast<uint8_t *>(sysReserve(nullptr, 2 << 16));
            ASSERT_NE(p, nullptr);
            sysFreeOS(p, 2 << 16);
            a = static_cast<uint8_t *>(sysReserve(p, 1 << 16));
            b = static_cast<uint8_t *>(sysReserve(p + (1 << 16), 1 << 16));
            if (a != p || b != p + (1 << 16)) {
                if (a)
                    sysFreeOS(a, 1 << 16);
                if (b)
                    sysFreeOS(b, 1 << 16);
                b = nullptr;
            }
        }
        ASSERT_NE(b, nullptr);
        owned = {{a, 1 << 16}, {b, 1 << 16}};
        // A: first 4 pages Ready, next 4 Prepared, rest Reserved.
        sysMap(a, 8 * kPage, &stat);
        sysUsed(a, 4 * kPage, 4 * kPage);
        ASSERT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    }
    void TearDown() override
    {
        for (auto &o : owned)
            sysFreeOS(o.first, o.second);
        memwin_set_mode(old_mode);
    }
    Snapshot Take()
    {
        Snapshot s;
        uintptr_t p = reinterpret_cast<uintptr_t>(a), end = p + (2 << 16);
        while (p < end) {
            memwin_region_info info{};
            EXPECT_EQ(memwin_query(reinterpret_cast<void *>(p), &info), 0u);
            s.runs.push_back(info);
            p += info.region_size;
        }
        s.ready = memwin_mapped_ready();
        s.stat = stat;
        return s;
    }
    // Runs call, which must be refused with code and change nothing.
    void ExpectRefused(const char *what, uint32_t code, const std::function<void()> &call)
    {
        SCOPED_TRACE(what);
        Snapshot before = Take();
        call();
        EXPECT_EQ(memwin_last_error(), code) << memwin_last_error_message();
        EXPECT_NE(std::string(memwin_last_error_message()), "");
        EXPECT_TRUE(before == Take()) << "a refused call changed page states or counters";
    }
    // A refusal and its message word for word.
    struct RefusalCase {
        const char *what;
        uint32_t code;
        std::function<void()> call;
        std::string want;
    };
    void ExpectRefusals(const std::vector<RefusalCase> &cases)
    {
        for (const RefusalCase &c : cases) {
            ExpectRefused(c.what, c.code, c.call);
            EXPECT_EQ(std::string(memwin_last_error_message()), c.want) << c.what;
        }
    }
};

using Range = std::function<void(void *, uintptr_t)>;

struct RangeExport {
    const char *name;
    Range call;
};

std::vector<RangeExport> RangeExports(sysMemStat *stat)
{
    return {
        {"sysUnusedOS", [](void *v, uintptr_t n) { sysUnusedOS(v, n); }},
        {"sysUsedOS", [](void *v, uintptr_t n) { sysUsedOS(v, n); }},
        {"sysFaultOS", [](void *v, uintptr_t n) { sysFaultOS(v, n); }},
        {"sysMapOS", [](void *v, uintptr_t n) { sysMapOS(v, n); }},
        {"sysHugePageOS", [](void *v, uintptr_t n) { sysHugePageOS(v, n); }},
        {"sysNoHugePageOS", [](void *v, uintptr_t n) { sysNoHugePageOS(v, n); }},
        {"sysHugePageCollapseOS", [](void *v, uintptr_t n) { sysHugePageCollapseOS(v, n); }},
        {"sysUnused", [](void *v, uintptr_t n) { sysUnused(v, n); }},
        {"sysUsed", [](void *v, uintptr_t n) { sysUsed(v, n, 0); }},
        {"sysFault", [](void *v, uintptr_t n) { sysFault(v, n); }},
        {"sysMap", [stat](void *v, uintptr_t n) { sysMap(v, n, stat); }},
        {"sysHugePage", [](void *v, uintptr_t n) { sysHugePage(v, n); }},
        {"sysNoHugePage", [](void *v, uintptr_t n) { sysNoHugePage(v, n); }},
        {"sysHugePageCollapse", [](void *v, uintptr_t n) { sysHugePageCollapse(v, n); }},
    };
}

TEST_F(Checked, RangeExportsRefuseBadArguments)
{
    for (const RangeExport &e : RangeExports(&stat)) {
        SCOPED_TRACE(e.name);
        // Each refusal names the export that refused it, as Go's throws do.
        const std::string who = std::string("runtime: ") + e.name + "(";
        auto named = [&] {
            std::string msg = memwin_last_error_message();
            EXPECT_EQ(msg.compare(0, who.size(), who), 0) << msg;
        };
        ExpectRefused("null", MEMWIN_ERR_NULL, [&] { e.call(nullptr, kPage); });
        named();
        ExpectRefused("unaligned", MEMWIN_ERR_UNALIGNED, [&] { e.call(a + 1, kPage); });
        named();
        ExpectRefused("zero size", MEMWIN_ERR_SIZE, [&] { e.call(a, 0); });
        named();
        ExpectRefused("size not a page multiple", MEMWIN_ERR_SIZE, [&] { e.call(a, 100); });
        named();
        ExpectRefused("v+n overflows", MEMWIN_ERR_OVERFLOW,
                      [&] { e.call(a, UINTPTR_MAX & ~(kPage - 1)); });
        named();
        ExpectRefused("past the reservations", MEMWIN_ERR_NOT_MANAGED,
                      [&] { e.call(b, 2 << 16); });
        named();
        ExpectRefused("free memory", MEMWIN_ERR_NOT_MANAGED,
                      [&] { e.call(b + (1 << 16), kPage); });
        named();
    }
}

TEST_F(Checked, WrongStateTransitionsAreRefused)
{
    uint8_t *ready = a, *prepared = a + 4 * kPage, *reserved = a + 8 * kPage;
    ExpectRefused("map Ready", MEMWIN_ERR_STATE, [&] { sysMap(ready, kPage, &stat); });
    ExpectRefused("map Prepared", MEMWIN_ERR_STATE, [&] { sysMapOS(prepared, kPage); });
    ExpectRefused("used never mapped", MEMWIN_ERR_STATE,
                  [&] { sysUsed(reserved, kPage, kPage); });
    ExpectRefused("usedOS never mapped", MEMWIN_ERR_STATE, [&] { sysUsedOS(reserved, kPage); });
    ExpectRefused("unused Prepared", MEMWIN_ERR_STATE, [&] { sysUnused(prepared, kPage); });
    ExpectRefused("unused Reserved", MEMWIN_ERR_STATE, [&] { sysUnusedOS(reserved, kPage); });
    ExpectRefused("fault Prepared", MEMWIN_ERR_STATE, [&] { sysFault(prepared, kPage); });
    ExpectRefused("unused Ready+Prepared", MEMWIN_ERR_STATE,
                  [&] { sysUnused(ready, 8 * kPage); });
    ExpectRefused("prepared > n", MEMWIN_ERR_ACCOUNTING,
                  [&] { sysUsed(prepared, kPage, 2 * kPage); });
    std::string msg;
    sysUnused(prepared, kPage);
    msg = memwin_last_error_message();
    EXPECT_NE(msg.find("sysUnused("), std::string::npos) << msg;
    EXPECT_NE(msg.find("is Prepared; the call needs Ready"), std::string::npos) << msg;
    EXPECT_NE(msg.find("fatal error: memwin: illegal state transition"), std::string::npos) << msg;
}

// A commit that fails (Go's fatal error, returned as MEMWIN_ERR_OS in
// recoverable mode) leaves the pages Prepared: the tracker must not record
// them Ready, so decommitting them is still refused.  Both of Go's messages:
// out of memory (8) and failed to commit (87).
TEST_F(Checked, FailedCommitLeavesPagesPrepared)
{
    uint8_t *prepared = a + 4 * kPage;
    for (uint32_t error : {8u, 87u}) {
        SCOPED_TRACE(error);
        for (int os = 0; os < 2; os++) {
            {
                mwt::FaultGuard fg(MEMWIN_FAULT_COMMIT, 1, 0, error);
                if (os)
                    sysUsedOS(prepared, 4 * kPage);
                else
                    sysUsed(prepared, 4 * kPage, 4 * kPage);
                EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_OS)) << memwin_last_error_message();
                EXPECT_NE(std::string(memwin_last_error_message())
                              .find(error == 8 ? "fatal error: out of memory"
                                               : "fatal error: runtime: failed to commit pages"),
                          std::string::npos)
                    << memwin_last_error_message();
            }
            ExpectRefused(os ? "unused after a failed sysUsedOS" : "unused after a failed sysUsed",
                          MEMWIN_ERR_STATE, [&] { sysUnused(prepared, kPage); });
        }
    }
}

// The same for decommits: one that fails leaves the pages Ready (they can
// still be decommitted), and one that succeeds only piece by piece (the
// whole range refused once, then Go's halving retry) leaves them Prepared.
TEST_F(Checked, DecommitStateFollowsTheOutcome)
{
    uint8_t *ready = a;
    for (int os = 0; os < 2; os++) {
        SCOPED_TRACE(os ? "sysUnusedOS" : "sysUnused");
        auto unused = [&](uintptr_t n) {
            if (os)
                sysUnusedOS(ready, n);
            else
                sysUnused(ready, n);
        };
        {
            mwt::FaultGuard fg(MEMWIN_FAULT_DECOMMIT, 1, 0, 87);
            unused(2 * kPage);
            EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_OS)) << memwin_last_error_message();
        }
        unused(2 * kPage); // still Ready: allowed
        EXPECT_EQ(memwin_last_error(), 0u) << "after a failed decommit: " << memwin_last_error_message();
        sysUsed(ready, 2 * kPage, 2 * kPage);
        ASSERT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
        {
            mwt::FaultGuard fg(MEMWIN_FAULT_DECOMMIT, 1, 1, 87);
            unused(2 * kPage);
            EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
        }
        ExpectRefused("unused after a piecewise decommit", MEMWIN_ERR_STATE, [&] { unused(2 * kPage); });
        sysUsed(ready, 2 * kPage, 2 * kPage);
        ASSERT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    }
}

TEST_F(Checked, ReleaseMustNameOneWholeReservation)
{
    ExpectRefused("null", MEMWIN_ERR_NULL, [&] { sysFree(nullptr, 1 << 16, &stat); });
    ExpectRefused("non-base", MEMWIN_ERR_NOT_BASE, [&] { sysFreeOS(a + kPage, 1 << 16); });
    ExpectRefused("wrong size", MEMWIN_ERR_NOT_BASE, [&] { sysUnreserve(a, 1 << 15); });
    ExpectRefused("two at once", MEMWIN_ERR_NOT_BASE, [&] { sysFreeOS(a, 2 << 16); });
    ExpectRefused("stat underflow", MEMWIN_ERR_ACCOUNTING,
                  [&] { sysFree(b, 1 << 16, &stat); }); // stat holds 8 pages only
    sysUnreserve(b, 1 << 16);
    ASSERT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    owned.pop_back();
    ExpectRefused("double release", MEMWIN_ERR_NOT_BASE, [&] { sysFreeOS(b, 1 << 16); });
    ExpectRefused("double unreserve", MEMWIN_ERR_NOT_BASE, [&] { sysUnreserve(b, 1 << 16); });
}

TEST_F(Checked, ReserveAndAllocRefuseBadSizes)
{
    sysMemStat s = 0;
    uintptr_t got = 1;
    ExpectRefused("reserve 0", MEMWIN_ERR_SIZE, [&] { EXPECT_EQ(sysReserve(nullptr, 0), nullptr); });
    ExpectRefused("reserveOS 100", MEMWIN_ERR_SIZE,
                  [&] { EXPECT_EQ(sysReserveOS(nullptr, 100), nullptr); });
    ExpectRefused("alloc 0", MEMWIN_ERR_SIZE, [&] { EXPECT_EQ(sysAlloc(0, &s), nullptr); });
    ExpectRefused("allocOS 0", MEMWIN_ERR_SIZE, [&] { EXPECT_EQ(sysAllocOS(0), nullptr); });
    ExpectRefused("allocOS past the top", MEMWIN_ERR_SIZE,
                  [&] { EXPECT_EQ(sysAllocOS(UINTPTR_MAX - kPage + 2), nullptr); });
    ExpectRefused("alloc null stat", MEMWIN_ERR_NULL,
                  [&] { EXPECT_EQ(sysAlloc(kPage, nullptr), nullptr); });
    ExpectRefused("unaligned hint", MEMWIN_ERR_UNALIGNED,
                  [&] { EXPECT_EQ(sysReserve(a + 1, kPage), nullptr); });
    ExpectRefused("hint overflow", MEMWIN_ERR_OVERFLOW,
                  [&] { EXPECT_EQ(sysReserve(a, UINTPTR_MAX & ~(kPage - 1)), nullptr); });
    ExpectRefused("align 3", MEMWIN_ERR_ALIGN,
                  [&] { EXPECT_EQ(sysReserveAligned(nullptr, kPage, 3, &got), nullptr); });
    ExpectRefused("align 0", MEMWIN_ERR_ALIGN,
                  [&] { EXPECT_EQ(sysReserveAligned(nullptr, kPage, 0, &got), nullptr); });
    EXPECT_EQ(s, 0u);
}

// A hint whose range ends exactly at the top of the address space does not
// wrap: checked mode passes it on as Go would, the hinted reservation fails
// (no user address there) and Go's sysReserveOS takes one anywhere.  One page
// more wraps and is refused.
TEST_F(Checked, ReserveEndingAtTheTopOfTheAddressSpaceIsNoWrap)
{
    const uintptr_t top = uintptr_t(0) - (uintptr_t(1) << 16); // hint + 64K == 2^N
    for (auto reserve : {sysReserve, sysReserveOS}) {
        void *p = reserve(reinterpret_cast<void *>(top), 1 << 16);
        EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
        ASSERT_NE(p, nullptr);
        EXPECT_NE(reinterpret_cast<uintptr_t>(p), top);
        sysFreeOS(p, 1 << 16);
        EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    }
    ExpectRefused("one page past the top", MEMWIN_ERR_OVERFLOW, [&] {
        EXPECT_EQ(sysReserve(reinterpret_cast<void *>(top), (1 << 16) + kPage), nullptr);
    });
}

// Every argument refusal word for word, so that the export, both arguments
// in their order and the rule broken can be relied on.  A range may end at
// the top of the address space; these ones go past it.
TEST_F(Checked, ArgumentRefusalsAreExact)
{
    using mwt::U;
    const char *const null_arg = "memwin: null argument";
    const char *const unaligned = "memwin: unaligned address";
    const char *const bad_size = "memwin: bad size";
    const char *const overflows = "memwin: range overflows";
    const char *const not_managed = "memwin: memory not managed by memwin";
    const char *const not_whole = "memwin: not a whole reservation";
    const char *const bad_align = "memwin: bad alignment";
    const char *const accounting = "memwin: accounting violation";
    const uintptr_t A = U(a), B = U(b), kMax = UINTPTR_MAX & ~(kPage - 1);
    const uintptr_t past = UINTPTR_MAX - kPage + 2; // rounds up past the top
    sysMemStat s = 0, huge = (uint64_t(1) << 63) + 5, nearly = uint64_t(INT64_MAX) - 10;
    uintptr_t got = 1;
    const std::vector<RefusalCase> cases = {
        {"map null", MEMWIN_ERR_NULL, [&] { sysMapOS(nullptr, kPage); },
         Refusal("sysMapOS", 0, kPage, "null address", null_arg)},
        {"map unaligned", MEMWIN_ERR_UNALIGNED, [&] { sysMapOS(a + 1, kPage); },
         Refusal("sysMapOS", A + 1, kPage, "address not a multiple of 4096", unaligned)},
        {"map 100 bytes", MEMWIN_ERR_SIZE, [&] { sysMapOS(a, 100); },
         Refusal("sysMapOS", A, 100, "size is zero or not a multiple of 4096", bad_size)},
        {"map past the top", MEMWIN_ERR_OVERFLOW, [&] { sysMapOS(a, kMax); },
         Refusal("sysMapOS", A, kMax, "address + size wraps around", overflows)},
        // Up to the top exactly is a range: it is judged by its pages.
        {"map up to the top", MEMWIN_ERR_NOT_MANAGED, [&] { sysMapOS(a, 0 - A); },
         Refusal("sysMapOS", A, 0 - A,
                 "page " + Hex(B + (1 << 16)) + " is not reserved by memwin (None)",
                 not_managed)},
        {"map free memory", MEMWIN_ERR_NOT_MANAGED, [&] { sysMapOS(b + (1 << 16), kPage); },
         Refusal("sysMapOS", B + (1 << 16), kPage,
                 "page " + Hex(B + (1 << 16)) + " is not reserved by memwin (None)",
                 not_managed)},
        {"map null stat", MEMWIN_ERR_NULL, [&] { sysMap(a + 8 * kPage, kPage, nullptr); },
         Refusal("sysMap", A + 8 * kPage, kPage, "null sysMemStat", null_arg)},
        {"map stat outside int64", MEMWIN_ERR_ACCOUNTING,
         [&] { sysMap(a + 8 * kPage, kPage, &huge); },
         Refusal("sysMap", A + 8 * kPage, kPage,
                 "sysMemStat holds 9223372036854775813, outside Go's int64 range", accounting)},
        {"map stat overflow", MEMWIN_ERR_ACCOUNTING,
         [&] { sysMap(a + 8 * kPage, kPage, &nearly); },
         Refusal("sysMap", A + 8 * kPage, kPage,
                 "sysMemStat would overflow (it holds 9223372036854775797)", accounting)},
        {"free stat underflow", MEMWIN_ERR_ACCOUNTING, [&] { sysFree(b, 1 << 16, &stat); },
         Refusal("sysFree", B, 1 << 16, "sysMemStat would underflow (it holds 32768)",
                 accounting)},
        {"reserve unaligned hint", MEMWIN_ERR_UNALIGNED,
         [&] { EXPECT_EQ(sysReserve(a + 1, kPage), nullptr); },
         Refusal("sysReserve", A + 1, kPage, "hint not a multiple of 4096", unaligned)},
        {"reserveOS 100 bytes", MEMWIN_ERR_SIZE,
         [&] { EXPECT_EQ(sysReserveOS(nullptr, 100), nullptr); },
         Refusal("sysReserveOS", 0, 100, "size is zero or not a multiple of 4096", bad_size)},
        {"reserve past the top", MEMWIN_ERR_OVERFLOW,
         [&] { EXPECT_EQ(sysReserve(a, kMax), nullptr); },
         Refusal("sysReserve", A, kMax, "hint + size wraps around", overflows)},
        {"alloc 0", MEMWIN_ERR_SIZE, [&] { EXPECT_EQ(sysAlloc(0, &s), nullptr); },
         Refusal("sysAlloc", 0, 0, "size is zero", bad_size)},
        {"allocOS past the top", MEMWIN_ERR_SIZE, [&] { EXPECT_EQ(sysAllocOS(past), nullptr); },
         Refusal("sysAllocOS", 0, past, "size rounds up past the end of the address space",
                 bad_size)},
        {"align 3", MEMWIN_ERR_ALIGN,
         [&] { EXPECT_EQ(sysReserveAligned(nullptr, kPage, 3, &got), nullptr); },
         Refusal("sysReserveAligned", 0, kPage, "align 3 is not a power of two >= 4096",
                 bad_align)},
        {"prepared > n", MEMWIN_ERR_ACCOUNTING, [&] { sysUsed(a + 4 * kPage, kPage, 2 * kPage); },
         Refusal("sysUsed", A + 4 * kPage, kPage, "prepared 8192 exceeds the size", accounting)},
        {"free null", MEMWIN_ERR_NULL, [&] { sysFree(nullptr, 1 << 16, &stat); },
         Refusal("sysFree", 0, 1 << 16, "null address", null_arg)},
        {"freeOS inside", MEMWIN_ERR_NOT_BASE, [&] { sysFreeOS(a + kPage, 1 << 16); },
         Refusal("sysFreeOS", A + kPage, 1 << 16,
                 Hex(A + kPage) +
                     " is not the base of a reservation (released twice, or inside one)",
                 not_whole)},
        {"unreserve half", MEMWIN_ERR_NOT_BASE, [&] { sysUnreserve(a, 1 << 15); },
         Refusal("sysUnreserve", A, 1 << 15, "size is not the reservation's (65536 bytes)",
                 not_whole)},
    };
    ExpectRefusals(cases);
    EXPECT_EQ(s, 0u);
    EXPECT_EQ(got, 0u);
    EXPECT_EQ(huge, (uint64_t(1) << 63) + 5);
    EXPECT_EQ(nearly, uint64_t(INT64_MAX) - 10);
}

// A state refusal names the first page of the range in a wrong state, its
// state and what the call needs; pages nobody reserved come first.  The
// huge-page hints take a page in any of Go's managed states.
TEST_F(Checked, StateRefusalsNameTheFirstBadPage)
{
    using mwt::U;
    const char *const illegal = "memwin: illegal state transition",
                      *const not_managed = "memwin: memory not managed by memwin";
    const uintptr_t A = U(a), B = U(b);
    for (auto hint : {sysHugePage, sysNoHugePage, sysHugePageCollapse, sysHugePageOS,
                      sysNoHugePageOS, sysHugePageCollapseOS}) {
        hint(a + 4 * kPage, kPage); // Prepared
        EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    }
    const std::vector<RefusalCase> cases = {
        // Pages 4 and 5 are one Prepared run starting at page 4.
        {"unused page 5", MEMWIN_ERR_STATE, [&] { sysUnused(a + 5 * kPage, kPage); },
         Refusal("sysUnused", A + 5 * kPage, kPage,
                 "page " + Hex(A + 5 * kPage) + " is Prepared; the call needs Ready", illegal)},
        {"usedOS Reserved", MEMWIN_ERR_STATE, [&] { sysUsedOS(a + 8 * kPage, kPage); },
         Refusal("sysUsedOS", A + 8 * kPage, kPage,
                 "page " + Hex(A + 8 * kPage) + " is Reserved; the call needs Prepared or Ready",
                 illegal)},
        {"fault Prepared", MEMWIN_ERR_STATE, [&] { sysFault(a + 4 * kPage, kPage); },
         Refusal("sysFault", A + 4 * kPage, kPage,
                 "page " + Hex(A + 4 * kPage) + " is Prepared; the call needs Ready", illegal)},
        // B is Reserved (wrong for sysUnused), but the page after it is not
        // even reserved: that one is named.
        {"unused past B", MEMWIN_ERR_NOT_MANAGED, [&] { sysUnused(b, 2 << 16); },
         Refusal("sysUnused", B, 2 << 16,
                 "page " + Hex(B + (1 << 16)) + " is not reserved by memwin (None)", not_managed)},
        {"map the 2nd page past B", MEMWIN_ERR_NOT_MANAGED,
         [&] { sysMapOS(b + (1 << 16) + kPage, kPage); },
         Refusal("sysMapOS", B + (1 << 16) + kPage, kPage,
                 "page " + Hex(B + (1 << 16) + kPage) + " is not reserved by memwin (None)",
                 not_managed)},
    };
    ExpectRefusals(cases);
}

// Every checked call clears the thread's last error first: one that
// succeeds after a refusal leaves 0 and no message.
TEST_F(Checked, SuccessfulCallsClearTheLastError)
{
    mwt::MappedReadyGuard guard; // sysFault takes its page out of mapped-ready
    sysMemStat s = 0;
    void *os = nullptr, *gen = nullptr, *res = nullptr, *res_os = nullptr, *al = nullptr;
    uintptr_t got = 0;
    const std::vector<std::pair<const char *, std::function<void()>>> calls = {
        {"sysAllocOS", [&] { os = sysAllocOS(kPage); }},
        {"sysAlloc", [&] { gen = sysAlloc(kPage, &s); }},
        {"sysReserve", [&] { res = sysReserve(nullptr, 1 << 16); }},
        {"sysReserveOS", [&] { res_os = sysReserveOS(nullptr, 1 << 16); }},
        {"sysReserveAligned", [&] { al = sysReserveAligned(nullptr, 1 << 16, 1 << 17, &got); }},
        {"sysMap", [&] { sysMap(a + 8 * kPage, kPage, &stat); }},
        {"sysUsed", [&] { sysUsed(a + 8 * kPage, kPage, kPage); }},
        {"sysUnused", [&] { sysUnused(a + 8 * kPage, kPage); }},
        {"sysFault", [&] { sysFault(a, kPage); }},
        {"sysFaultOS", [&] { sysFaultOS(a + kPage, kPage); }},
        {"sysHugePage", [&] { sysHugePage(a, kPage); }},
        {"sysHugePageOS", [&] { sysHugePageOS(a, kPage); }},
        {"sysFree", [&] { sysFree(gen, kPage, &s); }},
        {"sysFreeOS", [&] { sysFreeOS(os, kPage); }},
        {"sysUnreserve", [&] { sysUnreserve(res, 1 << 16); }},
    };
    for (const auto &c : calls) {
        SCOPED_TRACE(c.first);
        sysMapOS(nullptr, kPage);
        ASSERT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_NULL));
        c.second();
        EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
        EXPECT_STREQ(memwin_last_error_message(), "");
    }
    EXPECT_NE(os, nullptr);
    EXPECT_NE(gen, nullptr);
    EXPECT_NE(res, nullptr);
    EXPECT_EQ(s, 0u);
    ASSERT_NE(res_os, nullptr);
    sysFreeOS(res_os, 1 << 16);
    ASSERT_NE(al, nullptr);
    sysFreeOS(al, got);
    EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
}

// The OS layer's decommits (sysUnusedOS, sysFaultOS) leave Go's mapped-ready
// counter alone, unlike sysUnused and sysFault, and sysFaultOS decommits
// the range it names.
TEST_F(Checked, OsLayerTransitionsLeaveMappedReadyAlone)
{
    using mwt::state_of;
    using mwt::U;
    mwt::MappedReadyGuard guard;
    sysMapOS(b, 4 * kPage);
    sysUsedOS(b, 4 * kPage);
    ASSERT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    const uint64_t r0 = memwin_mapped_ready();
    sysUnusedOS(b, kPage);
    EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    EXPECT_EQ(memwin_mapped_ready(), r0);
    EXPECT_EQ(state_of(U(b)), uint32_t(MEMWIN_MEM_RESERVE));
    sysFaultOS(b + kPage, kPage);
    EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    EXPECT_EQ(memwin_mapped_ready(), r0);
    EXPECT_EQ(state_of(U(b) + kPage), uint32_t(MEMWIN_MEM_RESERVE));
    EXPECT_EQ(state_of(U(b) + 2 * kPage), uint32_t(MEMWIN_MEM_COMMIT));
    // For the tracker page 0 is Prepared again, page 1 Reserved.
    ExpectRefused("usedOS after faultOS", MEMWIN_ERR_STATE,
                  [&] { sysUsedOS(b + kPage, kPage); });
    sysUsedOS(b, kPage);
    EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
}

// Go's runtime asks sysAlloc for sizes that end inside a page (0x210d0 bytes
// under Go 1.19: tests/traces): Windows commits the pages that hold them, and
// checked mode tracks those pages and wants the same n back on release.
TEST_F(Checked, AllocOfASizeEndingInsideAPage)
{
    using mwt::region_is;
    using mwt::U;
    const uintptr_t n = 0x210d0, pages = 0x22000;
    const uint64_t r0 = memwin_mapped_ready();
    sysMemStat s = 0;
    void *p = sysAlloc(n, &s);
    ASSERT_NE(p, nullptr) << memwin_last_error_message();
    EXPECT_EQ(memwin_last_error(), 0u);
    EXPECT_EQ(s, n);
    EXPECT_EQ(memwin_mapped_ready() - r0, n);
    EXPECT_TRUE(region_is(U(p), MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE, U(p), pages));
    std::memset(p, 1, n);
    // The page-rounded size is not what was asked: Go would subtract a
    // different n from its accounting.
    sysFree(p, pages, &s);
    EXPECT_EQ(memwin_last_error(), static_cast<uint32_t>(MEMWIN_ERR_NOT_BASE));
    EXPECT_NE(std::string(memwin_last_error_message()).find("size is not the reservation's (135376 bytes)"),
              std::string::npos)
        << memwin_last_error_message();
    sysFree(p, n, &s);
    EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    EXPECT_EQ(s, 0u);
    EXPECT_EQ(memwin_mapped_ready(), r0);
    EXPECT_EQ(mwt::state_of(U(p)), static_cast<uint32_t>(MEMWIN_MEM_FREE));
    // The OS layer alike.
    void *q = sysAllocOS(1);
    ASSERT_NE(q, nullptr) << memwin_last_error_message();
    EXPECT_TRUE(region_is(U(q), MEMWIN_MEM_COMMIT, MEMWIN_PAGE_READWRITE, U(q), kPage));
    sysFreeOS(q, kPage);
    EXPECT_EQ(memwin_last_error(), static_cast<uint32_t>(MEMWIN_ERR_NOT_BASE));
    sysFreeOS(q, 1);
    EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
}

TEST_F(Checked, LegalHandshakeIncludingAdjacentReservationsPasses)
{
    uint64_t r0 = memwin_mapped_ready();
    // Map the rest of A and all of B as one range, commit it all, use it.
    sysMap(a + 8 * kPage, (2 << 16) - 8 * kPage, &stat);
    ASSERT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    sysUsed(a + 4 * kPage, (2 << 16) - 4 * kPage, (2 << 16) - 8 * kPage);
    ASSERT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    std::memset(a, 7, 2 << 16);
    sysUnused(a, 2 << 16);
    ASSERT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    sysUsed(a, 2 << 16, 2 << 16);
    EXPECT_EQ(a[100], 0); // recommitted pages read zero
    sysFault(b, 1 << 16);
    ASSERT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    memwin_region_info info{};
    ASSERT_EQ(memwin_query(b, &info), 0u);
    EXPECT_EQ(info.state, MEMWIN_MEM_RESERVE);
    // Fault made B Reserved in Go's terms: using it again needs sysMap.
    ExpectRefused("used after fault", MEMWIN_ERR_STATE, [&] { sysUsed(b, kPage, kPage); });
    // +96 KiB (prepared), -128 KiB, +128 KiB, -64 KiB (fault).
    EXPECT_EQ(memwin_mapped_ready() - r0, uint64_t(2 << 16) - 8 * kPage - (1 << 16));
    uintptr_t reserved = 0;
    void *al = sysReserveAligned(nullptr, 1 << 20, 1 << 20, &reserved);
    ASSERT_NE(al, nullptr) << memwin_last_error_message();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(al) % (1 << 20), 0u);
    sysUnreserve(al, reserved);
    EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    void *p = sysAlloc(3 * kPage, &stat);
    ASSERT_NE(p, nullptr);
    sysUnused(p, 3 * kPage); // allocated memory is Ready
    sysUsed(p, 3 * kPage, 3 * kPage);
    sysFree(p, 3 * kPage, &stat);
    EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
}

TEST_F(Checked, UnknownMemoryIsNotManaged)
{
    memwin_set_mode(MEMWIN_MODE_EXACT);
    void *p = sysReserve(nullptr, 1 << 16);
    memwin_set_mode(MEMWIN_MODE_RECOVERABLE);
    ExpectRefused("reserved in exact mode", MEMWIN_ERR_NOT_MANAGED,
                  [&] { sysMapOS(p, kPage); });
    memwin_set_mode(MEMWIN_MODE_EXACT);
    sysFreeOS(p, 1 << 16);
    memwin_set_mode(MEMWIN_MODE_RECOVERABLE);
}

// A reservation or allocation the OS refuses gets no record.  Each call here
// asks for more than the user address space holds; a record made anyway
// (at address 0, of the size asked, or of sysReserveAligned's reserved size
// 0) would span A and B and push their records out: the legal calls on A
// after it, and A's and B's releases at their own bases, would be refused.
// sysAlloc is left out: Go counts its size before the call, also when the
// call fails.
TEST_F(Checked, ReservationsTheOSRefusesGetNoRecord)
{
    const uintptr_t huge =
        sizeof(void *) == 8 ? uintptr_t(0x7fffffff0001ull) : uintptr_t(0xfffff000u);
    uintptr_t reserved = 1;
    const std::vector<std::pair<const char *, std::function<void *()>>> calls = {
        {"sysReserveOS", [&] { return sysReserveOS(nullptr, huge); }},
        {"sysReserve", [&] { return sysReserve(nullptr, huge); }},
        {"sysAllocOS", [&] { return sysAllocOS(huge); }},
        {"sysReserveAligned", [&] { return sysReserveAligned(nullptr, huge, 1 << 16, &reserved); }},
    };
    for (const auto &c : calls) {
        SCOPED_TRACE(c.first);
        EXPECT_EQ(c.second(), nullptr);
        sysUnused(a, 4 * kPage); // Ready -> Prepared
        EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
        sysUsed(a, 4 * kPage, 4 * kPage); // and back
        EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    }
    EXPECT_EQ(reserved, 0u);
    for (const auto &o : owned) {
        sysFreeOS(o.first, o.second);
        EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    }
    owned.clear();
}

TEST_F(Checked, MemoryReleasedWhileUncheckedIsForgotten)
{
    // B released in exact mode: the tracker still has it until the OS hands
    // the address out again.
    memwin_set_mode(MEMWIN_MODE_EXACT);
    sysFreeOS(b, 1 << 16);
    memwin_set_mode(MEMWIN_MODE_RECOVERABLE);
    owned.pop_back();
    void *again = sysReserve(b, 1 << 16);
    ASSERT_EQ(again, b) << memwin_last_error_message();
    sysMap(b, 1 << 16, &stat); // the new reservation is Reserved, not stale
    EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
    owned.emplace_back(b, 1 << 16);
}

TEST_F(Checked, GoFatalErrorsAreReturnedInRecoverableMode)
{
    ASSERT_EQ(memwin_fault_set(MEMWIN_FAULT_COMMIT, 1, 0, 1455), 0u);
    sysUsed(a + 4 * kPage, 4 * kPage, 4 * kPage);
    memwin_fault_clear();
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_OS));
    EXPECT_STREQ(memwin_last_error_message(),
                 "runtime: VirtualAlloc of 16384 bytes failed with errno=1455\n"
                 "fatal error: out of memory");
    // The failed pages stay Prepared for the tracker: using them again works.
    sysUsed(a + 4 * kPage, 4 * kPage, 0);
    EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
}

TEST(Modes, SetAndGet)
{
    int old = memwin_set_mode(MEMWIN_MODE_CHECKED);
    EXPECT_EQ(memwin_get_mode(), MEMWIN_MODE_CHECKED);
    EXPECT_EQ(memwin_set_mode(7), -1);
    EXPECT_EQ(memwin_get_mode(), MEMWIN_MODE_CHECKED);
    EXPECT_EQ(memwin_set_mode(old), MEMWIN_MODE_CHECKED);
}

MEMWIN_CHILD(checked_map_ready)
{
    sysMemStat stat = 0;
    memwin_set_mode(MEMWIN_MODE_CHECKED);
    void *p = sysAlloc(kPage, &stat);
    sysMap(p, kPage, &stat);
}

MEMWIN_CHILD(checked_double_free)
{
    memwin_set_mode(MEMWIN_MODE_CHECKED);
    void *p = sysReserve(nullptr, 1 << 16);
    sysFreeOS(p, 1 << 16);
    sysFreeOS(p, 1 << 16);
}

TEST(CheckedStat, StatOutsideGosInt64RangeOrOverflowingIsRefused)
{
    mwt::ModeScope mode(MEMWIN_MODE_RECOVERABLE);
    void *p = sysReserve(nullptr, 1 << 16);
    ASSERT_NE(p, nullptr);
    sysMemStat huge = (uint64_t(1) << 63) + 5, nearly = uint64_t(INT64_MAX) - 10;
    sysMap(p, 1 << 16, &huge);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_ACCOUNTING));
    EXPECT_NE(std::string(memwin_last_error_message()).find("outside Go's int64 range"),
              std::string::npos)
        << memwin_last_error_message();
    sysMap(p, 1 << 16, &nearly);
    EXPECT_EQ(memwin_last_error(), uint32_t(MEMWIN_ERR_ACCOUNTING));
    EXPECT_NE(std::string(memwin_last_error_message()).find("would overflow"), std::string::npos)
        << memwin_last_error_message();
    // Refused: nothing changed.
    EXPECT_EQ(memwin_stat_load(&huge), (uint64_t(1) << 63) + 5);
    EXPECT_EQ(memwin_stat_load(&nearly), uint64_t(INT64_MAX) - 10);
    memwin_region_info info{};
    EXPECT_EQ(memwin_query(p, &info), 0u);
    EXPECT_EQ(info.state, uint32_t(MEMWIN_MEM_RESERVE));
    sysFreeOS(p, 1 << 16);
    EXPECT_EQ(memwin_last_error(), 0u);
}

// The mode the environment names, read at the first memwin call of a process.
MEMWIN_CHILD(mode_from_environment)
{
    // Raw bytes (stdio would write "\r\n" on Windows).
    const std::string line = "mode " + std::to_string(memwin_get_mode()) + "\n";
    memwin_prim_host()->write_stderr(line.data(), line.size());
}

TEST(Modes, ChosenByTheEnvironmentAtStart)
{
    const char *old = std::getenv("MEMWIN_MODE");
    const std::string saved = old ? old : "";
    struct Case {
        const char *value;
        int mode;
    } cases[] = {
        {"exact", MEMWIN_MODE_EXACT},
        {"checked", MEMWIN_MODE_CHECKED},
        {"recoverable", MEMWIN_MODE_RECOVERABLE},
        {"no-such-mode", MEMWIN_MODE_EXACT}, // the build's default (exact here)
    };
    for (const Case &c : cases) {
        mwt::set_env("MEMWIN_MODE", c.value);
        auto r = memwin_test::run_child("mode_from_environment");
        EXPECT_EQ(r.status, 0) << c.value;
        // An unknown name is refused with a line (env_hardening_test.cpp).
        const std::string refusal =
            std::string(c.value) == "no-such-mode"
                ? "memwin: MEMWIN_MODE=no-such-mode: not exact, checked or recoverable; using the "
                  "default exact\n"
                : "";
        EXPECT_EQ(r.stderr_, refusal + "mode " + std::to_string(c.mode) + "\n") << c.value;
    }
    mwt::set_env("MEMWIN_MODE", old ? saved.c_str() : nullptr);
}

// In checked (not recoverable) mode a refusal reaches the fatal handler; a
// handler that returns makes the refused call return with no effect.
TEST(CheckedFatal, RefusalCallsAReturningHandlerInProcess)
{
    mwt::ModeScope mode(MEMWIN_MODE_CHECKED);
    mwt::FatalCapture fatal;
    void *p = sysReserve(nullptr, 1 << 16);
    ASSERT_NE(p, nullptr);
    sysUsedOS(p, kPage); // Reserved: the call needs Prepared or Ready
    memwin_region_info info{};
    EXPECT_EQ(memwin_query(p, &info), 0u);
    EXPECT_EQ(info.state, uint32_t(MEMWIN_MEM_RESERVE)) << "a refused call has no effect";
    sysFreeOS(p, 1 << 16);
    ASSERT_EQ(fatal.count(), 1u);
    const std::string printed = fatal.events()[0].printed;
    EXPECT_EQ(fatal.events()[0].message, "memwin: illegal state transition");
    EXPECT_NE(printed.find("runtime: sysUsedOS(0x"), std::string::npos) << printed;
    EXPECT_NE(printed.find(" is Reserved; the call needs"), std::string::npos) << printed;
}

TEST(CheckedFatal, ViolationsGoToTheFatalHandler)
{
    auto r = memwin_test::run_child("checked_map_ready");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.stderr_.find("runtime: sysMap(0x"), std::string::npos) << r.stderr_;
    EXPECT_NE(r.stderr_.find(", 4096): page 0x"), std::string::npos) << r.stderr_;
    EXPECT_NE(r.stderr_.find(" is Ready; the call needs Reserved\n"
                             "fatal error: memwin: illegal state transition\n"),
              std::string::npos)
        << r.stderr_;
    r = memwin_test::run_child("checked_double_free");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.stderr_.find("is not the base of a reservation (released twice, or inside "
                             "one)\nfatal error: memwin: not a whole reservation\n"),
              std::string::npos)
        << r.stderr_;
}

// A release that fails in exact mode (Go throws; here a handler returns)
// leaves the reservation, so the tracker must keep its record of it: back in
// a checking mode the reservation is still memwin's and can be released
// (sysFreeOS, which takes a reservation in any state).
TEST(CheckedRecord, FailedExactReleaseKeepsTheRecord)
{
    struct Release {
        const char *name;
        uintptr_t offset; // where the failing call points into the reservation
        uint64_t stat;    // the stat it takes its size off
        std::function<void(void *, uintptr_t, sysMemStat *)> call;
    };
    const std::vector<Release> releases = {
        {"sysFreeOS, not a base", 1 << 16, 0, [](void *v, uintptr_t n, sysMemStat *) { sysFreeOS(v, n); }},
        {"sysFree, not a base", 1 << 16, 4 << 20,
         [](void *v, uintptr_t n, sysMemStat *s) { sysFree(v, n, s); }},
        {"sysFree, stat too small", 0, 0, [](void *v, uintptr_t n, sysMemStat *s) { sysFree(v, n, s); }},
        {"sysUnreserve, not a base", 1 << 16, 0,
         [](void *v, uintptr_t n, sysMemStat *) { sysUnreserve(v, n); }},
    };
    const int old = memwin_set_mode(MEMWIN_MODE_RECOVERABLE);
    for (const Release &r : releases) {
        SCOPED_TRACE(r.name);
        sysMemStat stat = r.stat;
        uint8_t *p = static_cast<uint8_t *>(sysReserve(nullptr, 2 << 16));
        ASSERT_NE(p, nullptr);
        memwin_set_mode(MEMWIN_MODE_EXACT);
        {
            mwt::FatalCapture fc;
            r.call(p + r.offset, (2 << 16) - r.offset, &stat);
            EXPECT_EQ(fc.count(), 1u);
        }
        memwin_set_mode(MEMWIN_MODE_RECOVERABLE);
        memwin_region_info info{};
        ASSERT_EQ(memwin_query(p, &info), 0u);
        EXPECT_EQ(info.state, uint32_t(MEMWIN_MEM_RESERVE));
        sysFreeOS(p, 2 << 16);
        EXPECT_EQ(memwin_last_error(), 0u) << memwin_last_error_message();
        ASSERT_EQ(memwin_query(p, &info), 0u);
        EXPECT_EQ(info.state, uint32_t(MEMWIN_MEM_FREE));
        if (info.state != MEMWIN_MEM_FREE) {
            memwin_set_mode(MEMWIN_MODE_EXACT);
            sysFreeOS(p, 2 << 16);
            memwin_set_mode(MEMWIN_MODE_RECOVERABLE);
        }
    }
    memwin_set_mode(old);
}

} // namespace
