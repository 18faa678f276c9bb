// Issue 15.1: under the full runtime swap a fatal error memwin caught
// (memwin_interpose_catch_fatal) must be thrown once, by the thread that
// raised it.  Another thread's memwinCheck used to take the first thread's
// error and throw it again: the "runtime: ..." / "fatal error: ..." pair
// appeared twice.  Here, at the C level: only the raising thread takes the
// error, and a second thread's error waits for the process to end instead
// of returning (its memory is not there) or being recorded.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "memwin_interpose.h"
#include "test_util.h"

using namespace mwt;

namespace {

void say(const std::string &s)
{
    memwin_prim_host()->write_stderr(s.data(), s.size());
}

std::atomic<int> b_state{0}; // 1: thread B's failing call returned

} // namespace

MEMWIN_CHILD(fatal_once_threads)
{
    exact_mode();
    memwin_interpose_catch_fatal(1);
    memwin_interpose_policy p{};
    p.fail_commit_nth = 1; // every commit fails with 1455
    memwin_interpose_set_policy(&p);
    memwin_prim_set(memwin_interpose_prim());
    void *r = memwin_prim_host()->virtual_alloc(nullptr, 0x30000, MEMWIN_MEM_RESERVE,
                                                MEMWIN_PAGE_READWRITE);
    int a_took = -1;
    std::string a_message;
    std::thread a([&] {
        sysUsedOS(r, 0x10000); // caught: returns
        const char *printed = nullptr, *message = nullptr;
        a_took = memwin_interpose_fatal_take(&printed, &message);
        if (a_took)
            a_message = message;
    });
    a.join();
    const char *printed = nullptr, *message = nullptr;
    int main_took = memwin_interpose_fatal_take(&printed, &message);
    say("flag " + std::to_string(*memwin_interpose_fatal_flag()) + " thread A took " +
        std::to_string(a_took) + " [" + a_message + "] main takes " + std::to_string(main_took) +
        "\n");
    std::thread b([r] {
        sysUsedOS(r, 0x10000);
        b_state = 1;
    });
    b.detach();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    say(std::string("thread B ") + (b_state ? "returned" : "waits") + "\n");
}

TEST(InterposeFatalOnce, OnlyTheRaisingThreadTakesTheError)
{
    EXPECT_TRUE(child_exits("fatal_once_threads", 0,
                            "flag 1 thread A took 1 [out of memory] main takes 0\nthread B waits\n"));
}
