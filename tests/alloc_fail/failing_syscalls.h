// The kernel calls of the Linux emulation refused or shortened on request,
// on the calling thread only (Linux, glibc): the test program defines mmap,
// munmap, mprotect, madvise, write and sched_yield, so libmemwin.so's calls
// come here.  By default each goes to the kernel through syscall(2); the
// calls of other threads, and of this one while disarmed, always do.
#pragma once

#include <cstddef>

namespace failing_syscalls {

enum Call { kMmap, kMunmap, kMprotect, kMadvise, kWrite, kSchedYield, kCallKinds };

// From now on, on this thread: count the calls of each kind (from zero),
// pass them through, until Disarm.  Clears every plan below.
void Arm();
void Disarm();

// Calls of `call` made since Arm (only while armed).
long Count(Call call);

// The nth call of `call` since Arm (1 for the next) and the `times` after it
// (-1: every later one) fail with errno `err`, doing nothing.
void Fail(Call call, long nth, int err, long times = -1);

// write: each call writes at most `most` bytes (0: no limit).
void ShortWrites(size_t most);
// write: the nth call since Arm and every later one return 0, writing
// nothing.
void WriteZeroFrom(long nth);

// mmap: behave as a kernel older than Linux 4.17, which ignores
// MAP_FIXED_NOREPLACE (the address is then only a hint).
void IgnoreFixedNoReplace(bool on);
// The address and length of this thread's last successful mmap.
void LastMmap(void **addr, size_t *len);

// The nth call of `call` since Arm runs hook(ctx) first, before anything
// else (another thread can then act while this one is inside the call, and
// inside whatever lock the caller holds around it).
void OnCall(Call call, long nth, void (*hook)(void *), void *ctx);

} // namespace failing_syscalls
