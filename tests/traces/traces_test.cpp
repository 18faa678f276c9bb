// Real programs' traces (tests/traces, FORMAT.md) replayed on the linked
// libmemwin, in exact and in checked mode: the observations must equal each
// trace's golden, which the Go runtime's own functions produced under Wine.
// The replayer is tools/tracefmt (memwin-conform --traces uses it too).
#include <gtest/gtest.h>

#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "memwin.h"
#include "trace_replay.h"
}
#include "text_lines.h"

#ifndef MEMWIN_TRACES_DIR
#define MEMWIN_TRACES_DIR "tests/traces"
#endif

namespace {

using std::string;
using std::vector;

vector<string> trace_names()
{
    vector<string> v;
    if (DIR *d = opendir(MEMWIN_TRACES_DIR)) {
        while (dirent *e = readdir(d)) {
            string n = e->d_name;
            const string suf = ".trace.gz";
            if (n.size() > suf.size() && n.compare(n.size() - suf.size(), suf.size(), suf) == 0)
                v.push_back(n.substr(0, n.size() - suf.size()));
        }
        closedir(d);
    }
    std::sort(v.begin(), v.end());
    return v;
}

// Where the absolute hints go.  Under AddressSanitizer 0xd000000000 lies in
// its shadow gap (mapped, no access), so no hint there is ever honoured:
// the hints go to 32 TiB up instead, and the golden's header line is read
// with that shift (the only line that names it).
#if defined(__SANITIZE_ADDRESS__)
#define MEMWIN_TRACES_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEMWIN_TRACES_ASAN 1
#endif
#endif
#ifdef MEMWIN_TRACES_ASAN
const uint64_t kShift = TR_SHIFT_HIGH;
#else
const uint64_t kShift = TR_SHIFT;
#endif

// The golden's observations, its "# golden:" line left out (the header's
// shift replaced by kShift when that differs).
vector<string> read_golden(const string &path)
{
    vector<string> out;
    string text;
    if (!tracefmt::read_text(path, text))
        return out;
    for (string &l : tracefmt::split_lines(text))
        if (l.rfind("# golden:", 0) != 0)
            out.push_back(l);
    char from[64], to[64];
    snprintf(from, sizeof from, "shifted by 0x%llx", (unsigned long long)TR_SHIFT);
    snprintf(to, sizeof to, "shifted by 0x%llx", (unsigned long long)kShift);
    if (!out.empty() && out[0].size() > strlen(from) &&
        out[0].compare(out[0].size() - strlen(from), strlen(from), from) == 0)
        out[0] = out[0].substr(0, out[0].size() - strlen(from)) + to;
    return out;
}

uint32_t query(void *, uint64_t a, tr_info *out)
{
    memwin_region_info in;
    uint32_t e = memwin_query((const void *)(uintptr_t)a, &in);
    if (e == 0)
        *out = {(uint64_t)(uintptr_t)in.base, (uint64_t)in.region_size,
                (uint64_t)(uintptr_t)in.allocation_base, in.state, in.protect};
    return e;
}

void emit(void *ctx, const char *line) { static_cast<vector<string> *>(ctx)->push_back(line); }

void do_nothing(void *, uintptr_t) {}

// memwin's OS layer as a replay side; noop (a tr_op, or -1 for none) is made
// to do nothing (a wrong implementation, for the tests that show a
// difference is seen).
tr_side memwin_side(int noop = -1)
{
    tr_side s = {};
    s.alloc = sysAllocOS;
    s.reserve = sysReserveOS;
    s.range[TR_MAP] = sysMapOS;
    s.range[TR_USED] = sysUsedOS;
    s.range[TR_UNUSED] = sysUnusedOS;
    s.range[TR_FAULT] = sysFaultOS;
    s.range[TR_FREE] = sysFreeOS;
    s.range[TR_HUGE] = sysHugePageOS;
    s.range[TR_NOHUGE] = sysNoHugePageOS;
    s.range[TR_COLLAPSE] = sysHugePageCollapseOS;
    if (noop >= TR_MAP && noop < TR_NOPS)
        s.range[noop] = do_nothing;
    return s;
}

// Replays the trace NAME on s; the observations, or a failure.
vector<string> observe(const string &name, const tr_side &s)
{
    char err[256];
    tr_trace *t = tr_load((string(MEMWIN_TRACES_DIR) + "/" + name + ".trace.gz").c_str(), err, sizeof err);
    EXPECT_NE(t, nullptr) << name << ": " << err;
    vector<string> got;
    if (!t)
        return got;
    tr_observer o = {query, emit, &got};
    tr_observe(t, &s, &o, kShift);
    tr_destroy(t);
    return got;
}

// "" when got equals the golden, else where they first differ.
string first_difference(const vector<string> &want, const vector<string> &got)
{
    for (size_t i = 0; i < want.size() || i < got.size(); i++)
        if (i >= want.size() || i >= got.size() || want[i] != got[i])
            return "line " + std::to_string(i + 1) + ": golden \"" + (i < want.size() ? want[i] : "(end)") +
                   "\", memwin \"" + (i < got.size() ? got[i] : "(end)") + "\"";
    return "";
}

class Traces : public ::testing::TestWithParam<string> {
protected:
    void TearDown() override { memwin_set_mode(MEMWIN_MODE_EXACT); }
};

TEST(TracesCorpus, HasTheTwentySevenTracesWithGoldens)
{
    vector<string> names = trace_names();
    EXPECT_EQ(names.size(), 27u);
    for (const string &n : names)
        EXPECT_FALSE(read_golden(string(MEMWIN_TRACES_DIR) + "/" + n + ".golden.gz").empty()) << n;
}

TEST_P(Traces, ExactModeObservesTheGolden)
{
    const string name = GetParam();
    vector<string> want = read_golden(string(MEMWIN_TRACES_DIR) + "/" + name + ".golden.gz");
    ASSERT_FALSE(want.empty());
    ASSERT_EQ(memwin_set_mode(MEMWIN_MODE_EXACT), memwin_get_mode());
    vector<string> got = observe(name, memwin_side());
    EXPECT_EQ(first_difference(want, got), "");
}

TEST_P(Traces, CheckedModeObservesTheGolden)
{
    const string name = GetParam();
    vector<string> want = read_golden(string(MEMWIN_TRACES_DIR) + "/" + name + ".golden.gz");
    ASSERT_FALSE(want.empty());
    memwin_set_mode(MEMWIN_MODE_CHECKED);
    ASSERT_EQ(memwin_get_mode(), MEMWIN_MODE_CHECKED);
    vector<string> got = observe(name, memwin_side());
    EXPECT_EQ(first_difference(want, got), "");
}

INSTANTIATE_TEST_SUITE_P(Corpus, Traces, ::testing::ValuesIn(trace_names()),
                         [](const ::testing::TestParamInfo<string> &i) {
                             string n = i.param;
                             std::replace(n.begin(), n.end(), '-', '_');
                             std::replace(n.begin(), n.end(), '.', '_');
                             return n;
                         });

// The comparison sees a wrong implementation: memwin whose sysUnusedOS does
// nothing keeps pages committed that Go's decommitted, which the first
// checkpoint after binarytrees-go1.19's first sysUnusedOS shows.
TEST(TracesReplay, ADecommitThatDoesNothingDiffersFromTheGolden)
{
    vector<string> want = read_golden(string(MEMWIN_TRACES_DIR) + "/binarytrees-go1.19.golden.gz");
    ASSERT_FALSE(want.empty());
    vector<string> got = observe("binarytrees-go1.19", memwin_side(TR_UNUSED));
    string d = first_difference(want, got);
    EXPECT_NE(d, "");
    EXPECT_NE(d.find(" check live="), string::npos) << d;
}

// The same for sysFaultOS, which only the efence traces call (1918 times
// under Go 1.19): pages it should have decommitted stay committed.
TEST(TracesReplay, AFaultThatDoesNothingDiffersFromTheEfenceGolden)
{
    for (const char *name : {"efence-go1.19", "efence-go1.26"}) {
        vector<string> want = read_golden(string(MEMWIN_TRACES_DIR) + "/" + name + ".golden.gz");
        ASSERT_FALSE(want.empty()) << name;
        EXPECT_EQ(first_difference(want, observe(name, memwin_side())), "") << name;
        string d = first_difference(want, observe(name, memwin_side(TR_FAULT)));
        EXPECT_NE(d.find(" check live="), string::npos) << name << ": " << d;
    }
}

// sysHugePageOS and sysNoHugePageOS do nothing on Windows; the hugepages
// traces hold both (Go 1.26 turns huge pages on for its metadata once the
// collector's goal passes 1 GiB).  A library whose huge-page calls decommit
// (as an madvise-based one might) differs from the golden at the next
// checkpoint.  Go 1.19 makes neither call.
TEST(TracesReplay, HugePageCallsThatDecommitDifferFromTheHugepagesGolden)
{
    vector<string> want = read_golden(string(MEMWIN_TRACES_DIR) + "/hugepages-go1.26.golden.gz");
    ASSERT_FALSE(want.empty());
    EXPECT_EQ(first_difference(want, observe("hugepages-go1.26", memwin_side())), "");
    for (int op : {int(TR_HUGE), int(TR_NOHUGE)}) {
        tr_side s = memwin_side();
        s.range[op] = sysUnusedOS;
        string d = first_difference(want, observe("hugepages-go1.26", s));
        EXPECT_NE(d.find(" check live="), string::npos) << op << ": " << d;
    }
}

} // namespace
