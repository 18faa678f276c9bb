/* Fatal errors in Go's format and the replaceable handler. */
#include "fatal.h"

#include <stdio.h>
#include <string.h>

#include "atomics.h"
#include "mem_internal.h"
#include "memwin.h"
#include "prim.h"

/* The handler and its context, swapped together as one pointer so a reader
 * never pairs one handler with another's context. */
typedef struct fatal_slot {
    memwin_fatal_fn fn;
    void *ctx;
} fatal_slot;

static fatal_slot default_slot = {memwin_default_fatal, NULL};
/* Two spare slots alternate so a slot is not rewritten while it is the
 * current one; handler changes are rare and serialised by the swap. */
static fatal_slot user_slots[2];
static void *current_slot = &default_slot;
static uint64_t user_generation;

void memwin_default_fatal(const char *printed, const char *message, void *ctx)
{
    /* One write of the whole text, so concurrent throws do not interleave. */
    char buf[1024];
    const memwin_prim *p = memwin_prim_current();
    int len = snprintf(buf, sizeof buf, "%sfatal error: %s\n", printed ? printed : "", message);
    (void)ctx;
    if (len < 0)
        len = 0;
    if ((size_t)len >= sizeof buf)
        len = (int)sizeof buf - 1;
    p->write_stderr(buf, (size_t)len);
    p->exit_process(2);
}

memwin_fatal_fn memwin_set_fatal_handler(memwin_fatal_fn handler, void *ctx)
{
    fatal_slot *next = &default_slot, *prev;
    if (handler) {
        next = &user_slots[mw_add64(&user_generation, 1) & 1];
        next->fn = handler;
        next->ctx = ctx;
    }
    prev = (fatal_slot *)mw_swap_ptr(&current_slot, next);
    return prev->fn;
}

memwin_fatal_fn memwin_get_fatal_handler(void **ctx)
{
    const fatal_slot *s = (const fatal_slot *)mw_load_ptr(&current_slot);
    if (ctx)
        *ctx = s->ctx;
    return s->fn;
}

void memwin_throw(const char *printed, const char *message)
{
    const fatal_slot *s = (const fatal_slot *)mw_load_ptr(&current_slot);
    if (memwin_recover(MEMWIN_ERR_OS, printed ? printed : "", message))
        return; /* recoverable mode: the caller returns with the error */
    s->fn(printed ? printed : "", message, s->ctx);
}

void memwin_format_failed(char *buf, const char *what, uintptr_t n, uint32_t err)
{
    snprintf(buf, MEMWIN_LINE_MAX, "runtime: %s of %llu bytes failed with errno=%lu\n", what,
             (unsigned long long)n, (unsigned long)err);
}
