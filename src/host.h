/* Internal: the host's primitive table and yield, defined by the one host
 * file prim.c includes (prim_windows.c: kernel32; emu/prim_linux.c: the
 * Linux emulation).  The table in force is prim.c's (public contract in
 * include/memwin_prim.h). */
#ifndef MEMWIN_HOST_H
#define MEMWIN_HOST_H

#include "memwin_prim.h"

/* The host's table: kernel32 (prim_windows.c) or the Linux emulation
 * (prim_linux.c).  Exactly one is compiled, chosen in prim.c. */
extern const memwin_prim memwin_host_prim;

/* Gives up the processor (SwitchToThread / sched_yield), for spin locks. */
void memwin_host_yield(void);

#endif
