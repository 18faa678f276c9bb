// memwin's own contract on the conformance scenarios: checked mode runs each
// scenario (tests/vectors/*.vec) and must either observe exactly what Go
// observed (the scenario's golden), or refuse at the step and with the
// refusal that tests/vectors/memwin/checked.tsv lists for it, after
// observing exactly what Go observed at every earlier step.  The list is
// memwin's contract (README "Checked and recoverable modes"), not Go's: it is
// kept apart from the goldens, which only Go's runtime writes.
//
// MEMWIN_WRITE_CHECKED=FILE writes the list this build observes instead
// (for review when checked mode's rules change).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "memwin.h"
#include "vectors_replay.h"

namespace {

using memwin_vectors::Scenario;

struct Refusal {
    int step = 0;
    std::string call;    // the export that refused, e.g. sysUsedOS
    std::string message; // the fatal error's text after "memwin: "
    bool operator==(const Refusal &o) const
    {
        return step == o.step && call == o.call && message == o.message;
    }
};

std::string describe(const Refusal &r)
{
    if (r.step == 0)
        return "no refusal";
    return "step " + std::to_string(r.step) + " " + r.call + ": " + r.message;
}

int step_of(const std::string &line)
{
    return std::atoi(line.c_str());
}

// The first refusal in a run's observations: "N stderr runtime: CALL(...)"
// followed by "N stderr fatal error: memwin: MESSAGE".
Refusal refusal_in(const std::vector<std::string> &got)
{
    Refusal r;
    for (size_t i = 0; i + 1 < got.size(); i++) {
        std::istringstream a(got[i]);
        int step;
        std::string kind, rt;
        if (!(a >> step >> kind >> rt) || kind != "stderr" || rt != "runtime:")
            continue;
        const std::string fatal = std::to_string(step) + " stderr fatal error: memwin: ";
        for (size_t j = i + 1; j < got.size() && step_of(got[j]) == step; j++) {
            if (got[j].compare(0, fatal.size(), fatal) != 0)
                continue;
            std::string call;
            a >> call;
            r.step = step;
            r.call = call.substr(0, call.find('('));
            r.message = got[j].substr(fatal.size());
            return r;
        }
    }
    return r;
}

std::string expect_path()
{
    return memwin_vectors::vectors_dir() + "/memwin/checked.tsv";
}

std::map<std::string, Refusal> read_expected()
{
    std::map<std::string, Refusal> m;
    std::ifstream in(expect_path());
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#')
            continue;
        std::istringstream s(line);
        std::string name, step, call, message;
        if (std::getline(s, name, '\t') && std::getline(s, step, '\t') &&
            std::getline(s, call, '\t') && std::getline(s, message))
            m[name] = Refusal{std::atoi(step.c_str()), call, message};
    }
    return m;
}

std::vector<std::string> before_step(const std::vector<std::string> &lines, int step)
{
    std::vector<std::string> out;
    for (const std::string &l : lines)
        if (step_of(l) < step)
            out.push_back(l);
    return out;
}

struct ModeGuard {
    int old;
    explicit ModeGuard(int m) : old(memwin_set_mode(m)) {}
    ~ModeGuard() { memwin_set_mode(old); }
};

class VectorChecked : public ::testing::TestWithParam<std::string> {};

TEST_P(VectorChecked, GoOrListedRefusal)
{
    const std::string name = GetParam();
    Scenario sc;
    std::vector<std::string> golden;
    MEMWIN_LOAD_FOR_PORT(name, sc, golden);
    std::vector<std::string> got;
    {
        ModeGuard g(MEMWIN_MODE_CHECKED);
        got = memwin_vectors::run_scenario(sc);
    }
    MEMWIN_SKIP_IF_NO_FREE_RANGE(got);
    const Refusal seen = refusal_in(got);
    if (const char *w = std::getenv("MEMWIN_WRITE_CHECKED")) {
        if (seen.step) {
            std::ofstream out(w, std::ios::app);
            out << name << '\t' << seen.step << '\t' << seen.call << '\t' << seen.message << '\n';
        }
        return;
    }
    static const std::map<std::string, Refusal> expected = read_expected();
    ASSERT_FALSE(expected.empty()) << "cannot read " << expect_path();
    auto it = expected.find(name);
    const Refusal want = it == expected.end() ? Refusal{} : it->second;
    EXPECT_EQ(describe(seen), describe(want)) << name << " in checked mode";
    // Up to the refusal (or to the end), checked mode observes what Go does.
    const int upto = want.step ? want.step : 1 << 30;
    std::vector<std::string> diffs = memwin_vectors::compare(
        sc, before_step(golden, upto), before_step(got, upto), "memwin (checked)");
    std::string msg;
    for (size_t i = 0; i < diffs.size() && i < 8; i++)
        msg += "  " + diffs[i] + "\n";
    EXPECT_TRUE(diffs.empty()) << name << " in checked mode differs from Go before "
                               << describe(want) << ":\n" << msg;
}

INSTANTIATE_TEST_SUITE_P(Vectors, VectorChecked,
                         ::testing::ValuesIn(memwin_vectors::scenario_names()),
                         [](const ::testing::TestParamInfo<std::string> &info) {
                             return info.param;
                         });

} // namespace
