// Replay of the conformance scenarios (tests/vectors/*.vec) against the
// linked memwin library, producing the same observation lines as the Go
// harness (tools/conform), for comparison with the golden files recorded
// from the Go runtime.  Format: tests/vectors/FORMAT.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "test_util.h"
#include "vecfmt.h"

namespace memwin_vectors {

// The vector format (parsing, formatting) is shared with memwin-conform.
using Step = memwin_vecfmt::Step;
using Scenario = memwin_vecfmt::Scenario;

// Directory of the scenario files (MEMWIN_VECTORS_DIR, as a Wine path on
// Windows builds).
std::string vectors_dir();
// Names of the *.vec files, sorted.
std::vector<std::string> scenario_names();
bool load_scenario(const std::string &name, Scenario &out, std::string &err);
// Golden lines without comments; false if the file cannot be read.
bool read_golden(const std::string &name, std::vector<std::string> &out);
// Loads scenario NAME and its golden for this port: kNotApplicable when it
// needs a 64-bit uintptr on a 32-bit port, kError when either file cannot be
// read; WHY says which.
enum class Load { kOk, kNotApplicable, kError };
Load load_for_port(const std::string &name, Scenario &sc, std::vector<std::string> &golden,
                   std::string &why);
// In a googletest body: loads NAME into SC and GOLDEN, or skips the test
// (not applicable on this port) or fails it (a file cannot be read).
#define MEMWIN_LOAD_FOR_PORT(name, sc, golden)                                         \
    do {                                                                               \
        std::string why_;                                                              \
        const memwin_vectors::Load load_ = memwin_vectors::load_for_port(name, sc, golden, why_); \
        if (load_ == memwin_vectors::Load::kNotApplicable)                             \
            GTEST_SKIP() << why_;                                                      \
        if (load_ == memwin_vectors::Load::kError)                                     \
            FAIL() << why_;                                                            \
    } while (0)
// Runs every step against memwin and returns the observations.
std::vector<std::string> run_scenario(const Scenario &sc);
// True when a `free` step found no free address space of the size it asks
// for, which ends the run at that step.  Valgrind's address-space manager
// refuses the tens of GiB that some scenarios set aside (emu_index_next_base:
// 64 GiB), so under valgrind such a scenario is skipped, not failed.
bool free_step_refused(const std::vector<std::string> &got);
#define MEMWIN_SKIP_IF_NO_FREE_RANGE(got)                                              \
    do {                                                                               \
        if (mwt::under_valgrind() && memwin_vectors::free_step_refused(got))          \
            GTEST_SKIP() << "valgrind refuses the free address space the scenario sets aside"; \
    } while (0)
// Readable differences ("scenario: step N (text), field F: Go = ..., memwin = ...").
std::vector<std::string> compare(const Scenario &sc, const std::vector<std::string> &want,
                                 const std::vector<std::string> &got, const char *got_name);

} // namespace memwin_vectors
