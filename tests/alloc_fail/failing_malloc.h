// A malloc and calloc that fail on request, on the calling thread only, for
// the allocation-failure tests (Linux, glibc): the test program defines both,
// so libmemwin.so's bookkeeping allocations come here too.
#pragma once

namespace failing_malloc {
// From now on, on this thread: let `allowed` allocations through, then fail
// every further one until Disarm.
void Arm(long allowed);
void Disarm();
// Since the last Arm: allocations asked for, and how many of them failed.
long Seen();
long Failed();

// What one call returned, and how many allocations were refused during it.
template <class R> struct Attempt {
    R result;
    long failed;
};

// One call with `allowed` allocations granted and the rest refused.
template <class F> auto WithAllocations(long allowed, F call) -> Attempt<decltype(call())>
{
    Arm(allowed);
    auto result = call();
    long failed = Failed();
    Disarm();
    return {result, failed};
}
} // namespace failing_malloc
