/* The mode word (exact, checked, recoverable; MEMWIN_MODE or
 * memwin_set_mode) and the per-thread last error of recoverable mode. */
#include <stdio.h>
#include <string.h>

#include "env.h"
#include "mode.h"
#include "host.h"

#ifndef MEMWIN_DEFAULT_MODE
#define MEMWIN_DEFAULT_MODE MEMWIN_MODE_EXACT
#endif

uint64_t memwin_mode_word = MW_MODE_UNSET;

/* MEMWIN_MODE, read once per process (so a refusal is said once): ignored
 * in secure execution, an unknown value refused with a line on stderr. */
static int mode_from_env(void)
{
    static uint32_t once_lock;
    static uint64_t env_mode = MW_MODE_UNSET;
    char e[MEMWIN_ENV_VALUE_MAX + 1];
    const char *then = MEMWIN_DEFAULT_MODE == MEMWIN_MODE_CHECKED       ? "using the default checked"
                       : MEMWIN_DEFAULT_MODE == MEMWIN_MODE_RECOVERABLE ? "using the default recoverable"
                                                                        : "using the default exact";
    if (mw_load64(&env_mode) != MW_MODE_UNSET)
        return (int)mw_load64(&env_mode);
    while (!mw_try_lock32(&once_lock))
        memwin_host_yield();
    if (mw_load64(&env_mode) == MW_MODE_UNSET) {
        uint64_t m = MEMWIN_DEFAULT_MODE;
        if (memwin_env_get("MEMWIN_MODE", e, sizeof e, then)) {
            if (strcmp(e, "checked") == 0)
                m = MEMWIN_MODE_CHECKED;
            else if (strcmp(e, "recoverable") == 0)
                m = MEMWIN_MODE_RECOVERABLE;
            else if (strcmp(e, "exact") == 0)
                m = MEMWIN_MODE_EXACT;
            else
                memwin_env_say("MEMWIN_MODE", e, "not exact, checked or recoverable", then);
        }
        mw_store64(&env_mode, m);
    }
    mw_unlock32(&once_lock);
    return (int)mw_load64(&env_mode);
}

/* Replaces the bits of mask in the mode word by bits, keeping the rest;
 * returns the word before. */
static uint64_t mode_word_update(uint64_t mask, uint64_t bits)
{
    uint64_t old = mw_load64(&memwin_mode_word), seen;
    while ((seen = mw_cas64(&memwin_mode_word, old, (old & ~mask) | bits)) != old)
        old = seen;
    return old;
}

uint64_t memwin_mode_init(void)
{
    uint64_t m = (uint64_t)mode_from_env(), old;
    old = mw_load64(&memwin_mode_word);
    /* Only an unset mode takes the environment's: memwin_set_mode may have
     * run on another thread meanwhile. */
    while ((old & MW_MODE_MASK) == MW_MODE_UNSET) {
        uint64_t seen = mw_cas64(&memwin_mode_word, old, (old & ~(uint64_t)MW_MODE_MASK) | m);
        if (seen == old)
            return (old & ~(uint64_t)MW_MODE_MASK) | m;
        old = seen;
    }
    return old;
}

void memwin_mode_tracked(int on)
{
    mode_word_update(MW_MODE_TRACKED, on ? MW_MODE_TRACKED : 0);
}

int memwin_get_mode(void)
{
    return (int)(memwin_mode_now() & MW_MODE_MASK);
}

int memwin_set_mode(int mode)
{
    (void)memwin_mode_now(); /* the environment's mode first, so it is not applied later */
    if (mode != MEMWIN_MODE_EXACT && mode != MEMWIN_MODE_CHECKED &&
        mode != MEMWIN_MODE_RECOVERABLE)
        return -1;
    return (int)(mode_word_update(MW_MODE_MASK, (uint64_t)mode) & MW_MODE_MASK);
}

/* ---- per-thread errors -------------------------------------------------- */

static _Thread_local uint32_t err_code;
static _Thread_local char err_text[512];

uint32_t memwin_last_error(void)
{
    return err_code;
}

const char *memwin_last_error_message(void)
{
    return err_code ? err_text : "";
}

void memwin_error_clear(void)
{
    err_code = 0;
    err_text[0] = 0;
}

int memwin_recover(uint32_t code, const char *printed, const char *message)
{
    size_t len;
    if (memwin_get_mode() != MEMWIN_MODE_RECOVERABLE)
        return 0;
    err_code = code;
    snprintf(err_text, sizeof err_text, "%sfatal error: %s", printed, message);
    len = strlen(err_text);
    /* One line per printed line, without the final newline. */
    while (len > 0 && err_text[len - 1] == '\n')
        err_text[--len] = 0;
    return 1;
}
