/* Internal: 64-bit and pointer atomics for the library (sequentially
 * consistent).  GCC/Clang builtins, or Interlocked* under MSVC. */
#ifndef MEMWIN_ATOMICS_H
#define MEMWIN_ATOMICS_H

#include <stdint.h>

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
/* Adds d to *p and returns the new value. */
static inline uint64_t mw_add64(uint64_t *p, int64_t d)
{
    return (uint64_t)_InterlockedExchangeAdd64((volatile __int64 *)p, d) + (uint64_t)d;
}
static inline uint64_t mw_load64(const uint64_t *p)
{
    return (uint64_t)_InterlockedCompareExchange64((volatile __int64 *)p, 0, 0);
}
static inline void mw_store64(uint64_t *p, uint64_t v)
{
    _InterlockedExchange64((volatile __int64 *)p, (__int64)v);
}
/* Sets *p to 1 if it was 0; returns 1 on success. */
static inline int mw_try_lock32(uint32_t *p)
{
    return _InterlockedCompareExchange((volatile long *)p, 1, 0) == 0;
}
static inline void mw_unlock32(uint32_t *p)
{
    _InterlockedExchange((volatile long *)p, 0);
}
static inline void *mw_load_ptr(void *const *p)
{
    return _InterlockedCompareExchangePointer((void *volatile *)p, NULL, NULL);
}
static inline void *mw_swap_ptr(void **p, void *v)
{
    return _InterlockedExchangePointer((void *volatile *)p, v);
}
/* Stores desired if *p holds expected; returns what *p held. */
static inline uint64_t mw_cas64(uint64_t *p, uint64_t expected, uint64_t desired)
{
    return (uint64_t)_InterlockedCompareExchange64((volatile __int64 *)p, (__int64)desired,
                                                   (__int64)expected);
}
#else
static inline uint64_t mw_add64(uint64_t *p, int64_t d)
{
    return __atomic_add_fetch(p, (uint64_t)d, __ATOMIC_SEQ_CST);
}
static inline uint64_t mw_load64(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}
static inline void mw_store64(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}
static inline int mw_try_lock32(uint32_t *p)
{
    uint32_t expected = 0;
    return __atomic_compare_exchange_n(p, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}
static inline void mw_unlock32(uint32_t *p)
{
    __atomic_store_n(p, 0, __ATOMIC_RELEASE);
}
static inline void *mw_load_ptr(void *const *p)
{
    return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}
static inline void *mw_swap_ptr(void **p, void *v)
{
    return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
}
static inline uint64_t mw_cas64(uint64_t *p, uint64_t expected, uint64_t desired)
{
    __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected;
}
#endif

#endif /* MEMWIN_ATOMICS_H */
