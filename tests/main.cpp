// The test program's entry point: googletest, plus the child-process mode
// the fatal-path tests use (see child.h).
#include <gtest/gtest.h>

#include "child.h"

int main(int argc, char **argv)
{
    if (int rc = memwin_test::run_child_if_requested(argc, argv); rc >= 0)
        return rc;
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
