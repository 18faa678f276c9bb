/* Internal: access to the primitive table (public contract in
 * include/memwin_prim.h) and the host tables each target links. */
#ifndef MEMWIN_PRIM_INTERNAL_H
#define MEMWIN_PRIM_INTERNAL_H

#include "memwin_prim.h"

/* The host's table: kernel32 (prim_windows.c) or the Linux emulation
 * (prim_linux.c).  Exactly one is compiled, chosen in prim.c. */
extern const memwin_prim memwin_host_prim;

/* Gives up the processor (SwitchToThread / sched_yield), for spin locks. */
void memwin_host_yield(void);

/* Windows constants the logic passes to the table. */
#define MW_MEM_COMMIT MEMWIN_MEM_COMMIT
#define MW_MEM_RESERVE MEMWIN_MEM_RESERVE
#define MW_MEM_DECOMMIT MEMWIN_MEM_DECOMMIT
#define MW_MEM_RELEASE MEMWIN_MEM_RELEASE
#define MW_PAGE_READWRITE MEMWIN_PAGE_READWRITE

#endif
