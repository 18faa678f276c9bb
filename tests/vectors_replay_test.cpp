// Replays every conformance scenario (tests/vectors/*.vec) against the
// linked memwin library and compares what it observes with the golden file
// recorded from the Go runtime on Windows (Wine).  Natively this holds the
// Linux emulation to Go's Windows behaviour; under Wine it checks
// memwin.dll with the real VirtualQuery.  Fatal steps use a recording fatal
// handler (the failing call returns) instead of a child process.
#include <gtest/gtest.h>

#include "vectors_replay.h"

namespace {

using memwin_vectors::Scenario;

class VectorReplay : public ::testing::TestWithParam<std::string> {};

TEST_P(VectorReplay, MatchesGolden)
{
    const std::string name = GetParam();
    Scenario sc;
    std::vector<std::string> golden;
    MEMWIN_LOAD_FOR_PORT(name, sc, golden);
#if defined(_WIN32)
    const char *self = "memwin.dll";
#else
    const char *self = "libmemwin";
#endif
    std::vector<std::string> got = memwin_vectors::run_scenario(sc);
    MEMWIN_SKIP_IF_NO_FREE_RANGE(got);
    std::vector<std::string> diffs = memwin_vectors::compare(sc, golden, got, self);
    std::string msg;
    for (size_t i = 0; i < diffs.size() && i < 12; i++)
        msg += "  " + diffs[i] + "\n";
    if (diffs.size() > 12)
        msg += "  ... " + std::to_string(diffs.size() - 12) + " more\n";
    EXPECT_TRUE(diffs.empty()) << sc.name << " differs from Go (" << sc.desc << "):\n" << msg;
}

TEST(VectorReplaySet, HasScenarios)
{
    EXPECT_GE(memwin_vectors::scenario_names().size(), 100u)
        << "tests/vectors holds too few scenarios (" << memwin_vectors::vectors_dir() << ")";
}

INSTANTIATE_TEST_SUITE_P(Vectors, VectorReplay,
                         ::testing::ValuesIn(memwin_vectors::scenario_names()),
                         [](const ::testing::TestParamInfo<std::string> &info) {
                             return info.param;
                         });

} // namespace
