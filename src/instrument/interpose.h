/* Internal: the interposers' hook for the end of the process (interpose.c;
 * the public API is include/memwin_interpose.h). */
#ifndef MEMWIN_INSTRUMENT_INTERPOSE_H
#define MEMWIN_INSTRUMENT_INTERPOSE_H

/* Writes the trace and the counters (MEMWIN_TRACE, MEMWIN_STATS) of a
 * process that is ending; does nothing before the interposers' first use. */
void memwin_interpose_at_exit(void);

#endif
