/*
 * memwin's primitive table: the Win32-style virtual-memory calls the Go logic
 * is written against (as Go calls kernel32 through its stdcall table).
 *
 * On Windows the table holds kernel32's functions; on Linux an emulation of
 * the Windows virtual-memory model over mmap/mprotect with the codes Windows
 * (and Wine) return.  The table is swappable, so experimenters and tests can
 * trace calls or make them fail; memwin_fault_set is a ready-made wrapper
 * that fails chosen calls with a chosen error code.
 */
#ifndef MEMWIN_PRIM_H
#define MEMWIN_PRIM_H

#include "memwin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Allocation types and free types (the Win32 MEM_* values). */
#define MEMWIN_MEM_DECOMMIT 0x4000u
#define MEMWIN_MEM_RELEASE 0x8000u

/* Win32 error codes memwin's logic and emulation use. */
#define MEMWIN_ERROR_NOT_ENOUGH_MEMORY 8u
#define MEMWIN_ERROR_INVALID_PARAMETER 87u
#define MEMWIN_ERROR_CALL_NOT_IMPLEMENTED 120u
#define MEMWIN_ERROR_INVALID_ADDRESS 487u
#define MEMWIN_ERROR_COMMITMENT_LIMIT 1455u

typedef struct memwin_prim {
    /* VirtualAlloc: returns the (rounded) base or NULL with the last error
     * set.  type: MEMWIN_MEM_RESERVE and/or MEMWIN_MEM_COMMIT. */
    void *(*virtual_alloc)(void *addr, uintptr_t size, uint32_t type, uint32_t protect);
    /* VirtualFree: nonzero on success, 0 with the last error set.
     * type: MEMWIN_MEM_DECOMMIT or MEMWIN_MEM_RELEASE (size must be 0). */
    int (*virtual_free)(void *addr, uintptr_t size, uint32_t type);
    /* VirtualQuery: 0 on success, else the Win32 error code (87, doing
     * nothing, for info NULL in the host tables). */
    uint32_t (*virtual_query)(const void *addr, memwin_region_info *info);
    /* GetLastError / SetLastError of the calling thread. */
    uint32_t (*get_last_error)(void);
    void (*set_last_error)(uint32_t code);
    /* Writes bytes to the process's standard error, unbuffered. */
    void (*write_stderr)(const char *bytes, size_t len);
    /* Ends the process with the given status (ExitProcess / _exit). */
    void (*exit_process)(int status);
    /* Reserves size bytes anywhere at a multiple of align (a power of two
     * >= 65536) in one call: VirtualAlloc2 with an address requirement.
     * NULL with the last error set on failure; the error is
     * MEMWIN_ERROR_CALL_NOT_IMPLEMENTED where the OS has no such call.  The
     * entry itself may be NULL (a table that offers none): callers then use
     * Go's release-and-re-reserve sequence.  Tables written before this
     * entry existed leave it NULL when they are zero-initialised. */
    void *(*virtual_alloc_aligned)(uintptr_t size, uintptr_t align, uint32_t type,
                                   uint32_t protect);
} memwin_prim;

/* Fills every NULL entry of *table with below's entry (entries already set
 * stay) and returns table, so that a wrapping table names only the entries
 * it changes and passes the rest straight to the table it wraps.  A wrapper
 * that wants an entry NULL (e.g. no virtual_alloc_aligned) clears it after
 * the call.  Inline, not exported; its name starts a line of its own because
 * tests/check_exports.sh takes column-0 declarations for exports. */
static inline memwin_prim *
memwin_prim_forward(memwin_prim *table, const memwin_prim *below)
{
    if (!table->virtual_alloc)
        table->virtual_alloc = below->virtual_alloc;
    if (!table->virtual_free)
        table->virtual_free = below->virtual_free;
    if (!table->virtual_query)
        table->virtual_query = below->virtual_query;
    if (!table->get_last_error)
        table->get_last_error = below->get_last_error;
    if (!table->set_last_error)
        table->set_last_error = below->set_last_error;
    if (!table->write_stderr)
        table->write_stderr = below->write_stderr;
    if (!table->exit_process)
        table->exit_process = below->exit_process;
    if (!table->virtual_alloc_aligned)
        table->virtual_alloc_aligned = below->virtual_alloc_aligned;
    return table;
}

/* The host's own table (kernel32 or the Linux emulation). */
const memwin_prim *memwin_prim_host(void);
/* The table memwin currently calls. */
const memwin_prim *memwin_prim_current(void);
/* Makes memwin call table (NULL: the host's) from now on; returns the
 * previous one.  The table must stay valid while any memwin call runs. */
const memwin_prim *memwin_prim_set(const memwin_prim *table);

/* Fault injection.  Operation classes of primitive calls: */
#define MEMWIN_FAULT_RESERVE 0x01u  /* virtual_alloc with MEM_RESERVE only */
#define MEMWIN_FAULT_COMMIT 0x02u   /* virtual_alloc with MEM_COMMIT only */
#define MEMWIN_FAULT_ALLOC 0x04u    /* virtual_alloc with MEM_COMMIT|MEM_RESERVE */
#define MEMWIN_FAULT_DECOMMIT 0x08u /* virtual_free with MEM_DECOMMIT */
#define MEMWIN_FAULT_RELEASE 0x10u  /* virtual_free with MEM_RELEASE */

/* From now on, counting calls whose class is in ops from 1, the calls
 * nth .. nth+count-1 fail without reaching the table below: they return
 * NULL/0 and set the last error to error.  count 0 means every call from nth
 * on.  Installs the injecting table over the current one (it forwards every
 * other call).  Returns 0, or 87 for ops 0 or nth 0. */
uint32_t memwin_fault_set(uint32_t ops, uint64_t nth, uint64_t count, uint32_t error);
/* Removes the injection and restores the table it wrapped. */
void memwin_fault_clear(void);
/* Primitive calls the injector has seen in the classes of ops, and how
 * many it failed, since memwin_fault_set. */
uint64_t memwin_fault_seen(void);
uint64_t memwin_fault_failed(void);

#ifdef __cplusplus
}
#endif

#endif /* MEMWIN_PRIM_H */
