// What the default fatal exit does to C stdio output still in its buffer
// (memwin.h, memwin_default_fatal): it exits as Go does (_exit on Linux,
// ExitProcess on Windows) without flushing C's streams itself, and a
// handler that calls fflush(NULL) before memwin_default_fatal writes them.
// The child points stdout at its stderr pipe, so stdout is a pipe and fully
// buffered, prints a marker without a newline, then fails a sysMemStat check.
#include <cstdio>
#include <string>

#if defined(_WIN32)
#include <io.h>
#else
#include <unistd.h>
#endif

#include <gtest/gtest.h>

#include "child.h"
#include "memwin.h"

namespace {

const char kMarker[] = "buffered-before-fatal";
const char kFatal[] = "fatal error: sysMemStat overflow\n";

void stdout_to_stderr_pipe()
{
#if defined(_WIN32)
    _dup2(_fileno(stderr), _fileno(stdout));
#else
    dup2(2, 1);
#endif
}

// The throw: sysMemStat.add underflows (Go's "sysMemStat overflow").
void print_then_throw()
{
    std::printf("%s", kMarker);
    sysMemStat s = 0;
    memwin_stat_add(&s, -1);
}

// The recipe documented at memwin_set_fatal_handler.
void flushing_fatal(const char *printed, const char *message, void *ctx)
{
    std::fflush(NULL);
    memwin_default_fatal(printed, message, ctx);
}

} // namespace

MEMWIN_CHILD(fatal_stdio_default)
{
    stdout_to_stderr_pipe();
    print_then_throw();
}

MEMWIN_CHILD(fatal_stdio_flush_handler)
{
    stdout_to_stderr_pipe();
    memwin_set_fatal_handler(flushing_fatal, nullptr);
    print_then_throw();
}

// memwin does not flush.  Linux: _exit discards the buffer, as Go's exit
// discards a cgo program's C buffers.  Windows: ExitProcess lets the C
// runtime DLL write its streams while it detaches, after the fatal text
// (measured under Wine 8 with mingw-w64).
TEST(FatalStdio, DefaultExitDoesNotFlushStdio)
{
    memwin_test::ChildResult r = memwin_test::run_child("fatal_stdio_default");
    EXPECT_EQ(r.status, 2);
    size_t marker = r.stderr_.find(kMarker), fatal = r.stderr_.find(kFatal);
    ASSERT_NE(fatal, std::string::npos) << r.stderr_;
#if defined(_WIN32)
    ASSERT_NE(marker, std::string::npos) << r.stderr_;
    EXPECT_GT(marker, fatal) << r.stderr_;
#else
    EXPECT_EQ(marker, std::string::npos) << r.stderr_;
#endif
}

TEST(FatalStdio, FlushingHandlerWritesBufferFirst)
{
    memwin_test::ChildResult r = memwin_test::run_child("fatal_stdio_flush_handler");
    EXPECT_EQ(r.status, 2);
    size_t marker = r.stderr_.find(kMarker), fatal = r.stderr_.find(kFatal);
    ASSERT_NE(marker, std::string::npos) << r.stderr_;
    ASSERT_NE(fatal, std::string::npos) << r.stderr_;
    EXPECT_LT(marker, fatal) << r.stderr_;
}
