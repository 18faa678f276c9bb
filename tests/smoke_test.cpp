#include <gtest/gtest.h>
#include "memwin.h"
TEST(Smoke, Version) { EXPECT_STREQ(memwin_version(), "0.1.0"); }
#include "child.h"
MEMWIN_CHILD(smoke_free_twice) { sysFreeOS((void *)0x7ff000000000ull, 4096); }
TEST(Smoke, FatalChild)
{
    auto r = memwin_test::run_child("smoke_free_twice");
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(r.stderr_, "runtime: VirtualFree of 4096 bytes failed with errno=87\nfatal error: runtime: failed to release pages\n");
}
