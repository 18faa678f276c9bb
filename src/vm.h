/* Internal: the constants of Windows' virtual-memory model that memwin's
 * files share, defined once here (the Win32 flag and error values are the
 * public ones of include/memwin.h and include/memwin_prim.h). */
#ifndef MEMWIN_VM_H
#define MEMWIN_VM_H

#include <stdint.h>

#include "memwin_prim.h"

/* The page: the unit of commit, decommit and protection (4 KiB on every
 * Windows port Go supports, and on the Linux emulation). */
#define MW_PAGE ((uintptr_t)4096)

/* The allocation granularity: every reservation starts at a multiple. */
#define MW_GRANULE ((uintptr_t)65536)

/* The lowest address a reservation may take (Windows keeps the first 64 KiB
 * unmapped). */
#define MW_MIN_ADDR ((uintptr_t)0x10000)

/* The status memwin_default_fatal gives exit_process for a crash:
 * STATUS_FAIL_FAST_EXCEPTION.  The Windows host table ends the process
 * with RaiseFailFastException (as Go's crash does) when asked for it;
 * under Wine the process's exit code is then this value.  On Linux _exit
 * keeps its low 8 bits: 2, what a Linux parent also sees of such a Wine
 * process. */
#define MEMWIN_EXIT_FAIL_FAST ((int)0xC0000602u)

/* The status memwin_default_fatal gives exit_process for a crash:
 * STATUS_FAIL_FAST_EXCEPTION.  The Windows host table ends the process
 * with RaiseFailFastException (as Go's crash does) when asked for it;
 * under Wine the process's exit code is then this value.  On Linux _exit
 * keeps its low 8 bits: 2, what a Linux parent also sees of such a Wine
 * process. */
#define MEMWIN_EXIT_FAIL_FAST ((int)0xC0000602u)

#endif
