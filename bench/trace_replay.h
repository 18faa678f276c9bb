/* A C reader and replayer of memwin traces (tests/traces/FORMAT.md), for
 * the benchmark's replay suite: the calls a real Go program made to its OS
 * memory layer, replayed against one side (memwin, or the raw calls with
 * the same effect) with every address mapped to the regions this replay
 * got.  The Go reader is tools/conform/trace; this one keeps what a replay
 * needs and checks what it reads. */
#ifndef MEMWIN_BENCH_TRACE_REPLAY_H
#define MEMWIN_BENCH_TRACE_REPLAY_H

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

/* Reads an uncompressed trace; NULL with a message in err on failure. */
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

#endif
