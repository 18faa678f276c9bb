/* Internal: which mode is on (exact, checked, recoverable) and the
 * per-thread last error of recoverable mode.  The bottom of the library's
 * own layers: it calls nothing of memwin but env.c. */
#ifndef MEMWIN_MODE_H
#define MEMWIN_MODE_H

#include <stdint.h>

#include "atomics.h"
#include "memwin.h"

/* The mode word: a MEMWIN_MODE_* value in its low byte (MW_MODE_UNSET until
 * the first call reads MEMWIN_MODE), and MW_MODE_TRACKED while checked
 * mode's tracker holds a record, so that exact mode learns from the same
 * single load whether a release must also be forgotten by the tracker. */
#define MW_MODE_MASK 0xffu
#define MW_MODE_UNSET 0xffu
#define MW_MODE_TRACKED 0x100u
extern uint64_t memwin_mode_word;

/* Reads MEMWIN_MODE (once per process) into the mode word; returns the word. */
uint64_t memwin_mode_init(void);

/* The mode word, read once (first use reads MEMWIN_MODE). */
static inline uint64_t memwin_mode_now(void)
{
    uint64_t m = mw_load64(&memwin_mode_word);
    return (m & MW_MODE_MASK) == MW_MODE_UNSET ? memwin_mode_init() : m;
}

/* Nonzero when the word says checked or recoverable mode. */
#define MW_CHECKING(m) (((m) & MW_MODE_MASK) != MEMWIN_MODE_EXACT)

static inline int memwin_checking(void)
{
    return MW_CHECKING(memwin_mode_now());
}

/* Sets or clears MW_MODE_TRACKED (the tracker calls it under its lock). */
void memwin_mode_tracked(int on);

/* Recoverable mode: records an error for the calling thread.  Returns 1 if
 * the mode is recoverable (the error was recorded), else 0. */
int memwin_recover(uint32_t code, const char *printed, const char *message);

/* Clears the calling thread's last error (each checked call starts so). */
void memwin_error_clear(void);

#endif
