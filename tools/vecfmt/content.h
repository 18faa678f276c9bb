/* The contents word of the vector format's "mem" lines (tests/vectors/
 * FORMAT.md): what a stretch of committed, readable memory reads.  Plain C,
 * so that the C side of the Go harness (tools/conform/native.c) and the C++
 * reader (vecfmt.cpp) share one definition, as calls.h does for "calls". */
#ifndef MEMWIN_VECFMT_CONTENT_H
#define MEMWIN_VECFMT_CONTENT_H

#include <stdint.h>

enum {
    VF_CONTENT_ZERO = 0, /* every byte 0: "zero" */
    VF_CONTENT_FILL = 1, /* every byte 0xA5, what the fill operation writes: "fill" */
    VF_CONTENT_DATA = 2  /* anything else: "data" */
};

/* The class of [a, a+n); the caller has checked that it is readable. */
static inline int vf_content_class(uintptr_t a, uintptr_t n)
{
    const volatile unsigned char *p = (const volatile unsigned char *)a;
    unsigned char first = n ? p[0] : 0;
    uintptr_t i;
    if (first != 0 && first != 0xA5)
        return VF_CONTENT_DATA;
    for (i = 1; i < n; i++)
        if (p[i] != first)
            return VF_CONTENT_DATA;
    return first == 0 ? VF_CONTENT_ZERO : VF_CONTENT_FILL;
}

#endif
