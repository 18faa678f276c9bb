// Checks inside a child-process scenario (MEMWIN_CHILD, child.h), for tests
// of the Linux emulation that need a fresh process: a released window stays
// in the emulation's zone as holes and would change where later tests'
// reservations go, and a check that fails where Go would throw must not end
// the test program.  A failed check prints its message and ends the child
// with status 1; a scenario that cannot run here prints "skip: why" and
// returns.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "child.h"
#include "test_util.h"

#define CHILD_CHECK_AT(expr, note)                                                            \
    do {                                                                                     \
        ::testing::AssertionResult r_ = (expr);                                              \
        if (!r_) {                                                                           \
            std::fprintf(stderr, "%s:%d: %s %s\n", __FILE__, __LINE__, r_.message(),           \
                         std::string(note).c_str());                                         \
            std::exit(1);                                                                    \
        }                                                                                    \
    } while (0)
#define CHILD_CHECK(expr) CHILD_CHECK_AT(expr, "")

namespace mwt {

inline ::testing::AssertionResult holds(bool b, const char *what)
{
    if (b)
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << what;
}

// Runs child scenario name: passes on status 0 with no output, skips on
// status 0 with "skip: ..." (and under valgrind, which does not let the
// emulation place reservations at hints), fails otherwise.
inline void run_emu_child(const char *name)
{
    if (under_valgrind())
        GTEST_SKIP() << "valgrind does not let the emulation place reservations at hints";
    const memwin_test::ChildResult r = memwin_test::run_child(name);
    if (r.status == 0 && r.stderr_.rfind("skip: ", 0) == 0)
        GTEST_SKIP() << r.stderr_;
    EXPECT_EQ(r.status, 0) << r.stderr_;
    EXPECT_EQ(r.stderr_, "");
}

} // namespace mwt
