/* The primitive table in force, and the choice of host table.  This is the
 * only place the target decides which implementation of the primitives is
 * linked; the logic files never test the host. */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE, MAP_FIXED_NOREPLACE */
#endif

#include "host.h"

#include "atomics.h"

#if defined(_WIN32)
#include "prim_windows.c"
#else
#include "emu/prim_linux.c"
#endif

static void *current_table = (void *)&memwin_host_prim;

const memwin_prim *memwin_prim_host(void)
{
    return &memwin_host_prim;
}

const memwin_prim *memwin_prim_current(void)
{
    return (const memwin_prim *)mw_load_ptr(&current_table);
}

const memwin_prim *memwin_prim_set(const memwin_prim *table)
{
    void *next = (void *)(table ? table : &memwin_host_prim);
    return (const memwin_prim *)mw_swap_ptr(&current_table, next);
}
