// memwin-conform --traces: real programs' traces (tests/traces/FORMAT.md)
// replayed on the library under test and compared with their goldens, which
// the Go runtime's own functions produced under Wine.
#ifndef MEMWIN_CONFORM_TRACES_H
#define MEMWIN_CONFORM_TRACES_H

#include <cstdint>
#include <string>
#include <vector>

extern "C" {
#include "trace_replay.h"
}

// The library under test as a trace replay sees it.
struct TraceTarget {
    virtual ~TraceTarget() = default;
    // Calls Go's function op (enum tr_op) with (v, n); sysAllocOS ignores v.
    virtual uint64_t call(int op, uint64_t v, uint64_t n) = 0;
    // A VirtualQuery-style query: 0, or an error code.
    virtual uint32_t query(uint64_t addr, tr_info &out) = 0;
};

// Replays each trace named by paths (a trace file, or a directory: every
// *.trace.gz and *.trace in it, in name order) in a child process of its
// own against t, compares the observations with NAME.golden.gz beside it,
// prints one line per trace and a summary.  Returns 0 when every trace is
// identical, 1 when one differs, dies or has no golden, 2 on bad input.
int run_traces(const std::vector<std::string> &paths, TraceTarget &t, int timeout, bool verbose);

#endif
