/* A C reader and replayer of memwin traces (tests/traces/FORMAT.md): the
 * calls a real Go program made to its OS memory layer, replayed against one
 * side (memwin, any library with Go's exports, or the raw calls with the
 * same effect) with every address mapped to the regions this replay got.
 * Two replays: tr_replay only makes the calls (the benchmark's replay
 * suite times it); tr_observe also writes the observations a golden holds
 * (memwin-conform --traces, the googletest of tests/traces).  The Go reader
 * and replayer is tools/conform/trace; both write the same lines. */
#ifndef MEMWIN_TRACE_REPLAY_H
#define MEMWIN_TRACE_REPLAY_H

#include <stddef.h>
#include <stdint.h>

/* Go's functions, in the trace's names. */
enum tr_op {
    TR_ALLOC, TR_RESERVE, TR_MAP, TR_USED, TR_UNUSED, TR_FAULT, TR_FREE, TR_HUGE, TR_NOHUGE,
    TR_COLLAPSE, TR_NOPS
};

/* One side: what each of Go's functions does there. */
typedef struct tr_side {
    void *(*alloc)(uintptr_t n);
    void *(*reserve)(void *v, uintptr_t n);
    void (*range[TR_NOPS])(void *v, uintptr_t n); /* TR_MAP ... TR_COLLAPSE */
} tr_side;

typedef struct tr_trace tr_trace;

/* Go's name of op ("sysAllocOS" ...), NULL outside the enum. */
const char *tr_op_name(int op);

/* Reads a trace; NULL with a message in err on failure.  Built with
 * MEMWIN_TRACE_ZLIB (and zlib), a gzip-compressed file is read too. */
tr_trace *tr_load(const char *path, char *err, size_t cap);
void tr_destroy(tr_trace *t);
size_t tr_steps(const tr_trace *t);

/* Runs every step against s (absolute addresses moved up by shift).  A step
 * naming a region this replay did not get is skipped.  Returns the number
 * of steps skipped or whose result differs from the recording (0 for a
 * faithful replay).  Live regions stay; tr_release frees them. */
size_t tr_replay(tr_trace *t, const tr_side *s, uint64_t shift);
/* Releases every region the last replay left live, with s's TR_FREE. */
void tr_release(tr_trace *t, const tr_side *s);

/* What a VirtualQuery-style query says of the pages at an address: the run
 * of pages from base with one state and protection (Win32 MEM_* and PAGE_*
 * values); alloc_base TR_UNKNOWN when the query cannot tell which
 * reservation they belong to (a host's view such as /proc/self/maps). */
typedef struct tr_info {
    uint64_t base, size, alloc_base;
    uint32_t state, protect;
} tr_info;
#define TR_UNKNOWN UINT64_MAX

/* How tr_observe looks and reports: query returns 0 or an error code;
 * emit gets each observation line (no newline). */
typedef struct tr_observer {
    uint32_t (*query)(void *ctx, uint64_t addr, tr_info *out);
    void (*emit)(void *ctx, const char *line);
    void *ctx;
} tr_observer;

/* The checkpoint interval and hint shift every compared replay uses (the
 * Go replayer's trace.Every and trace.DefaultShift).  TR_SHIFT_HIGH moves
 * the hints 32 TiB up instead, for a process where 0xd000000000 is taken
 * (AddressSanitizer's shadow gap): above AddressSanitizer's high shadow,
 * which ends at 0x10007fff8000, for 64-bit traces (0x20c000000000) and
 * windows/386 ones (0x200000800000) alike; the observations are the same
 * wherever the hints are free, but for the header line. */
#define TR_EVERY 256u
#define TR_SHIFT UINT64_C(0x1000000000)
#define TR_SHIFT_HIGH UINT64_C(0x200000000000)

/* Replays t against s as tools/conform/trace's Observe does and emits the
 * same lines: a header, each reserving call's result, the pages a commit
 * brought back that still held a mark ("kept="), and a checkpoint every
 * TR_EVERY steps and after the last (page-state runs of every live region,
 * the reserved and committed totals).  Every page committed read-write gets
 * a mark written into its first word.  Ends with every live region released.
 * Absolute hints are moved up by shift (TR_SHIFT, as the goldens were).
 * Needs a 64-bit host (the traces' hints are 64-bit addresses). */
void tr_observe(tr_trace *t, const tr_side *s, const tr_observer *o, uint64_t shift);

#endif
