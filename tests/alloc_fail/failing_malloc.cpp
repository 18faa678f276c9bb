// See failing_malloc.h.  Everything else goes to glibc's allocator through
// its __libc_* entry points, so free() and realloc() stay glibc's own.
#include "failing_malloc.h"

#include <cerrno>
#include <cstddef>

extern "C" void *__libc_malloc(size_t n);
extern "C" void *__libc_calloc(size_t count, size_t n);

namespace {
// Constant-initialised, so no TLS wrapper that could itself allocate.
thread_local long budget = -1; // -1: off
thread_local long seen = 0;
thread_local long failed = 0;

bool Grant()
{
    if (budget < 0)
        return true;
    seen++;
    if (budget > 0) {
        budget--;
        return true;
    }
    failed++;
    errno = ENOMEM;
    return false;
}
} // namespace

extern "C" void *malloc(size_t n)
{
    return Grant() ? __libc_malloc(n) : nullptr;
}

extern "C" void *calloc(size_t count, size_t n)
{
    return Grant() ? __libc_calloc(count, n) : nullptr;
}

namespace failing_malloc {
void Arm(long allowed)
{
    seen = failed = 0;
    budget = allowed;
}
void Disarm()
{
    budget = -1;
}
long Seen()
{
    return seen;
}
long Failed()
{
    return failed;
}
} // namespace failing_malloc
