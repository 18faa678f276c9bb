// Checked mode's tracker lock between threads.  In CHECKED mode a throw in
// Go's logic calls the fatal handler while the checked call still holds the
// tracker lock: the handler's own checked calls must get in (the lock is
// recursive for its owner) and every other thread's must wait until the
// handler has returned and the call has released the lock.  A child
// process, as a lock that is never released, or that its owner cannot take
// again, hangs: a watchdog then ends the child with status 3.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "test_util.h"

using namespace mwt;

namespace {

enum Command { kIdle, kHold, kContend, kQuit };

// Everything the threads share is atomic.
std::atomic<int> command[2];
std::atomic<bool> held[2], trying[2], contended[2];
std::atomic<int> contender{-1};
std::atomic<int> throws{0}, inner_failures{0}, got_in{0};
std::atomic<char *> held_page{nullptr}, hint_range{nullptr};
std::atomic<bool> finished{false};

// Set on the holder's thread around the call meant to throw, and while the
// handler runs (a second throw there is a refusal of an inner call).
thread_local bool holding = false, in_handler = false;

void say(const std::string &s)
{
    // Raw bytes (stdio would write "\r\n" on Windows).
    memwin_prim_host()->write_stderr(s.data(), s.size());
}

void pause_ms(int ms)
{
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// The state of the page at p (0 if the query fails; no gtest in a child).
uint32_t state_at(const void *p)
{
    memwin_region_info info{};
    return memwin_query(p, &info) == 0 ? info.state : 0;
}

// One checked call of each kind (the memwin_chk_ function it reaches in
// the comment): every one takes the lock recursively.
void inner_calls()
{
    uintptr_t got = 0;
    void *x = sysAllocOS(kPage);                                    // alloc
    char *y = static_cast<char *>(sysReserve(nullptr, kGranule));  // reserve
    void *z = sysReserveAligned(nullptr, kGranule, kGranule, &got); // reserve_aligned
    if (!x || !y || !z) {
        inner_failures++;
        return;
    }
    sysMapOS(y, 2 * kPage);       // map
    sysUsedOS(y, 2 * kPage);      // used
    sysUnusedOS(y, kPage);        // unused
    sysFaultOS(y + kPage, kPage); // fault
    sysHugePageOS(y, kPage);      // hint
    if (state_at(y) != MEMWIN_MEM_RESERVE || state_at(y + kPage) != MEMWIN_MEM_RESERVE)
        inner_failures++;
    sysFreeOS(x, kPage); // free
    memwin_set_mode(MEMWIN_MODE_EXACT);
    sysFreeOS(z, got); // an exact release: forget
    memwin_set_mode(MEMWIN_MODE_CHECKED);
    sysFreeOS(y, kGranule);
    if (state_at(x) != MEMWIN_MEM_FREE || state_at(y) != MEMWIN_MEM_FREE)
        inner_failures++;
}

void handler(const char *printed, const char *message, void *)
{
    if (!holding || in_handler) { // a refusal: no checked call here should be refused
        say(std::string("unexpected fatal error: ") + printed + "fatal error: " + message + "\n");
        return;
    }
    in_handler = true;
    // Go's commit loop gave up at a piece of 0 bytes (4096 halved).
    if (printed == failed_line("VirtualAlloc", 0, 87) &&
        std::string(message) == "runtime: failed to commit pages")
        throws++;
    else
        say(std::string("wrong throw: ") + printed + "fatal error: " + message + "\n");
    inner_calls();
    // The other thread's checked call, once it is about to be made, must
    // not finish while this handler holds the lock.
    const int other = contender.load();
    command[other] = kContend;
    while (!trying[other])
        pause_ms(1);
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
    while (!contended[other] && std::chrono::steady_clock::now() < until)
        pause_ms(1);
    if (contended[other])
        got_in++;
    in_handler = false;
}

void worker(int me)
{
    for (;;) {
        const int c = command[me].load();
        if (c == kHold) {
            command[me] = kIdle;
            {
                // Both tries of Go's commit fail: Go throws inside the lock.
                FaultGuard fault(MEMWIN_FAULT_COMMIT, 1, 2, 87);
                holding = true;
                sysUsedOS(held_page.load(), kPage);
                holding = false;
            }
            held[me] = true;
        } else if (c == kContend) {
            command[me] = kIdle;
            trying[me] = true;
            sysHugePageOS(hint_range.load(), kPage);
            contended[me] = true;
        } else if (c == kQuit) {
            return;
        } else {
            pause_ms(1);
        }
    }
}

} // namespace

MEMWIN_CHILD(checked_lock_handler)
{
    // A thread that never gets the lock hangs the child: end it instead.
    std::thread watchdog([] {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
        while (!finished) {
            if (std::chrono::steady_clock::now() > deadline) {
                say("watchdog: not done after 15 s (a thread never got the tracker lock)\n");
                memwin_prim_host()->exit_process(3);
            }
            pause_ms(10);
        }
    });
    memwin_set_mode(MEMWIN_MODE_CHECKED);
    sysMemStat stat = 0;
    held_page = static_cast<char *>(sysReserve(nullptr, kGranule));
    hint_range = static_cast<char *>(sysReserve(nullptr, kGranule));
    sysMap(held_page.load(), kPage, &stat); // Prepared: sysUsedOS is legal there
    memwin_set_fatal_handler(handler, nullptr);
    std::thread t0(worker, 0), t1(worker, 1);
    // Each thread holds once: a lock that compared owners by address would
    // let the contender in for one of the two orders only.
    for (int holder = 0; holder < 2; holder++) {
        const int other = 1 - holder;
        throws = 0;
        inner_failures = 0;
        got_in = 0;
        held[holder] = false;
        trying[other] = false;
        contended[other] = false;
        contender = other;
        command[holder] = kHold;
        while (!held[holder] || !contended[other])
            pause_ms(1);
        say("phase " + std::to_string(holder) + ": throws " + std::to_string(throws.load()) +
            ", inner calls failed " + std::to_string(inner_failures.load()) +
            ", the other thread got in " + std::to_string(got_in.load()) + "\n");
    }
    command[0] = kQuit;
    command[1] = kQuit;
    t0.join();
    t1.join();
    // The lock is free again for this thread.
    sysFreeOS(held_page.load(), kGranule);
    sysFreeOS(hint_range.load(), kGranule);
    say("released\n");
    finished = true;
    watchdog.join();
}

// (a) mutual exclusion and recursion while a fatal handler runs under the
// lock, with each thread as the holder; (b) a lock left held or a self
// deadlock ends the child through the watchdog (status 3).
TEST(CheckedLock, FatalHandlerHoldsTheTrackerAgainstOtherThreads)
{
    EXPECT_TRUE(child_exits("checked_lock_handler", 0,
                            "phase 0: throws 1, inner calls failed 0, the other thread got in 0\n"
                            "phase 1: throws 1, inner calls failed 0, the other thread got in 0\n"
                            "released\n"));
}
