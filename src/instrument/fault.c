/* Fault injection: a primitive table that fails chosen calls with a chosen
 * error code and forwards every other call to the table it wraps.  The
 * wrapped table changes at run time (each memwin_fault_set wraps the one in
 * force) while other threads may be calling through this one, so every
 * entry reads it atomically at each call instead of being filled once by
 * memwin_prim_forward. */
#include "../atomics.h"
#include "memwin_prim.h"

static uint64_t f_ops, f_nth, f_count, f_error, f_seen, f_failed;
static void *f_below;

static const memwin_prim *below(void)
{
    return (const memwin_prim *)mw_load_ptr(&f_below);
}

/* Counts a call of class op; returns 1 if it must fail. */
static int f_hit(uint32_t op)
{
    uint64_t i, nth, count;
    if ((mw_load64(&f_ops) & op) == 0)
        return 0;
    i = mw_add64(&f_seen, 1);
    nth = mw_load64(&f_nth);
    count = mw_load64(&f_count);
    if (i < nth || (count != 0 && i - nth >= count))
        return 0;
    mw_add64(&f_failed, 1);
    below()->set_last_error((uint32_t)mw_load64(&f_error));
    return 1;
}

static uint32_t alloc_class(uint32_t type)
{
    uint32_t both = MEMWIN_MEM_COMMIT | MEMWIN_MEM_RESERVE;
    if ((type & both) == both)
        return MEMWIN_FAULT_ALLOC;
    return (type & MEMWIN_MEM_RESERVE) ? MEMWIN_FAULT_RESERVE : MEMWIN_FAULT_COMMIT;
}

static void *f_virtual_alloc(void *addr, uintptr_t size, uint32_t type, uint32_t protect)
{
    if (f_hit(alloc_class(type)))
        return NULL;
    return below()->virtual_alloc(addr, size, type, protect);
}

static void *f_virtual_alloc_aligned(uintptr_t size, uintptr_t align, uint32_t type,
                                     uint32_t protect)
{
    const memwin_prim *b = below();
    if (!b->virtual_alloc_aligned) { /* the wrapped table has none */
        b->set_last_error(MEMWIN_ERROR_CALL_NOT_IMPLEMENTED);
        return NULL;
    }
    if (f_hit(alloc_class(type)))
        return NULL;
    return b->virtual_alloc_aligned(size, align, type, protect);
}

static int f_virtual_free(void *addr, uintptr_t size, uint32_t type)
{
    if (f_hit(type == MEMWIN_MEM_RELEASE ? MEMWIN_FAULT_RELEASE : MEMWIN_FAULT_DECOMMIT))
        return 0;
    return below()->virtual_free(addr, size, type);
}

static uint32_t f_virtual_query(const void *addr, memwin_region_info *info)
{
    return below()->virtual_query(addr, info);
}

static uint32_t f_get_last_error(void)
{
    return below()->get_last_error();
}

static void f_set_last_error(uint32_t code)
{
    below()->set_last_error(code);
}

static void f_write_stderr(const char *bytes, size_t len)
{
    below()->write_stderr(bytes, len);
}

static void f_exit_process(int status)
{
    below()->exit_process(status);
}

static const memwin_prim fault_table = {
    f_virtual_alloc, f_virtual_free, f_virtual_query, f_get_last_error,
    f_set_last_error, f_write_stderr, f_exit_process, f_virtual_alloc_aligned,
};

uint32_t memwin_fault_set(uint32_t ops, uint64_t nth, uint64_t count, uint32_t error)
{
    const memwin_prim *cur;
    if (ops == 0 || nth == 0)
        return MEMWIN_ERROR_INVALID_PARAMETER;
    mw_store64(&f_ops, 0); /* disarm while the settings change */
    cur = memwin_prim_current();
    if (cur != &fault_table)
        mw_swap_ptr(&f_below, (void *)cur);
    mw_store64(&f_nth, nth);
    mw_store64(&f_count, count);
    mw_store64(&f_error, error);
    mw_store64(&f_seen, 0);
    mw_store64(&f_failed, 0);
    mw_store64(&f_ops, ops);
    if (cur != &fault_table)
        memwin_prim_set(&fault_table);
    return 0;
}

void memwin_fault_clear(void)
{
    mw_store64(&f_ops, 0);
    if (memwin_prim_current() == &fault_table)
        memwin_prim_set(below());
}

uint64_t memwin_fault_seen(void)
{
    return mw_load64(&f_seen);
}

uint64_t memwin_fault_failed(void)
{
    return mw_load64(&f_failed);
}
