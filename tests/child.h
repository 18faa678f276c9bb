// Child-process scenarios for fatal paths: a scenario registered with
// MEMWIN_CHILD runs in a fresh copy of the test program, whose stderr and
// exit status the parent reads (fork-free, so it works the same under Wine).
#pragma once

#include <string>

namespace memwin_test {

struct ChildResult {
    int status = -1;     // exit status of the child
    std::string stderr_; // everything it wrote to stderr
};

using ChildFn = void (*)();

struct ChildRegistrar {
    ChildRegistrar(const char *name, ChildFn fn);
};

// Runs the named scenario in a child process and waits for it.  A scenario
// that returns normally makes the child exit with status 0.
ChildResult run_child(const char *name);

// In main(): runs the requested scenario and returns its exit status when
// the program was started as a child, else returns -1.
int run_child_if_requested(int argc, char **argv);

} // namespace memwin_test

#define MEMWIN_CHILD(name)                                                                   \
    static void name##_child();                                                              \
    static const memwin_test::ChildRegistrar name##_registrar(#name, name##_child);          \
    static void name##_child()
