/* The "calls" observation of the vector format (tests/vectors/FORMAT.md):
 * each VirtualAlloc / VirtualFree a step makes is one letter, lower case when
 * the call succeeded, upper case when it failed.  Plain C, so that the C side
 * of the Go harness (tools/conform/native.c) and the C++ reader (vecfmt.cpp,
 * with the googletest replay and memwin-conform) share one definition.
 *
 * The classes have the values of the fault-injection classes
 * (MEMWIN_FAULT_* in include/memwin_prim.h); they are spelled out because
 * memwin-conform does not include memwin's headers. */
#ifndef MEMWIN_VECFMT_CALLS_H
#define MEMWIN_VECFMT_CALLS_H

#include <stdint.h>

enum {
    VF_CALL_RESERVE = 1,  /* VirtualAlloc MEM_RESERVE: r */
    VF_CALL_COMMIT = 2,   /* VirtualAlloc MEM_COMMIT: c */
    VF_CALL_ALLOC = 4,    /* VirtualAlloc MEM_COMMIT|MEM_RESERVE: a */
    VF_CALL_DECOMMIT = 8, /* VirtualFree MEM_DECOMMIT: d */
    VF_CALL_RELEASE = 16  /* VirtualFree MEM_RELEASE: f */
};

/* The class of a VirtualAlloc call of this type (MEM_COMMIT 0x1000,
 * MEM_RESERVE 0x2000). */
static inline uint32_t vf_alloc_class(uint32_t type)
{
    const uint32_t commit = 0x1000, reserve = 0x2000;
    if ((type & (commit | reserve)) == (commit | reserve))
        return VF_CALL_ALLOC;
    return (type & reserve) ? VF_CALL_RESERVE : VF_CALL_COMMIT;
}

/* The class of a VirtualFree call of this type (MEM_RELEASE 0x8000). */
static inline uint32_t vf_free_class(uint32_t type)
{
    return type == 0x8000 ? VF_CALL_RELEASE : VF_CALL_DECOMMIT;
}

/* The letter of a call of class cls; ok: it succeeded. */
static inline char vf_call_letter(uint32_t cls, int ok)
{
    char c = '?';
    switch (cls) {
    case VF_CALL_RESERVE: c = 'r'; break;
    case VF_CALL_COMMIT: c = 'c'; break;
    case VF_CALL_ALLOC: c = 'a'; break;
    case VF_CALL_DECOMMIT: c = 'd'; break;
    case VF_CALL_RELEASE: c = 'f'; break;
    }
    return ok ? c : (char)(c - 'a' + 'A');
}

#endif
