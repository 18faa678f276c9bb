/* Internal: the memory-status line the opt-in out-of-memory report adds. */
#ifndef MEMWIN_SYSINFO_H
#define MEMWIN_SYSINFO_H

#include <stddef.h>

/* Appends the status line to buf (NUL-terminated, size bytes in all) when
 * the report is on; leaves buf alone otherwise. */
void memwin_append_oom_status(char *buf, size_t size);

#endif
