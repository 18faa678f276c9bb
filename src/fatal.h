/* Internal: Go-format fatal errors ("runtime: ..." lines, then
 * "fatal error: ..."), routed to the installed handler. */
#ifndef MEMWIN_FATAL_H
#define MEMWIN_FATAL_H

#include <stdint.h>

#include "vm.h"

/* Go's throw(message) after print(printed): calls the fatal handler.  With
 * the default handler it does not return; if an installed handler returns,
 * so does this, and the caller must return at once. */
void memwin_throw(const char *printed, const char *message);

/* Formats Go's "runtime: <what> of <n> bytes failed with errno=<e>\n" into
 * buf (at least MEMWIN_LINE_MAX bytes). */
#define MEMWIN_LINE_MAX 128
void memwin_format_failed(char *buf, const char *what, uintptr_t n, uint32_t err);

/* What GOTRACEBACK (read from the environment at each call) makes the end
 * of a throw do, as in Go >= 1.21 on Windows: exit(2), or crash with a
 * fail-fast exception ("crash"; "wer" also leaves Windows Error Reporting
 * on). */
#define MEMWIN_TRACEBACK_EXIT 0
#define MEMWIN_TRACEBACK_CRASH 1
#define MEMWIN_TRACEBACK_WER 2
int memwin_traceback_mode(void);

#endif
