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
} // namespace failing_malloc
