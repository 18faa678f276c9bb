/* Internal: memwin's configuration from the environment, read with care.
 *
 * In secure execution (a setuid or setgid program, or one with file
 * capabilities: the kernel's AT_SECURE) every MEMWIN_* variable is ignored,
 * as glibc's secure_getenv does, with one line on stderr naming it; on
 * Windows, which has no such programs, variables are always read.  Values
 * that are malformed, too long or out of range are refused with one line on
 * stderr and the default is used: nothing is ignored without a word. */
#ifndef MEMWIN_ENV_H
#define MEMWIN_ENV_H

#include <stddef.h>
#include <stdint.h>

/* Longest value memwin_env_get reads for numbers and names. */
#define MEMWIN_ENV_VALUE_MAX 255

/* 1 if the process runs in secure execution (always 0 on Windows). */
int memwin_env_secure(void);

/* Copies the value of name into buf (cap bytes, NUL-terminated) and returns
 * 1.  Returns 0 if the variable is unset or empty, and, each with one line
 * on stderr, in secure execution ("memwin: NAME ignored: ...") or when the
 * value has cap or more characters ("memwin: NAME=(N characters): too long
 * (at most cap-1); <then>"). */
int memwin_env_get(const char *name, char *buf, size_t cap, const char *then);

/* Parses a number: decimal or 0x hexadecimal digits, no sign, no spaces,
 * then, if sizes is nonzero, an optional binary suffix k, m or g (either
 * case) and an optional b.  Returns NULL and sets *out if the value is at
 * most max, else a reason ("not a number ...", "too large ..."). */
const char *memwin_env_parse(const char *s, int sizes, uint64_t max, uint64_t *out);

/* A number from the environment (see memwin_env_parse): returns 1 with *out
 * set, or 0 with *out = def when unset, and when refused, with one line on
 * stderr: "memwin: NAME=VALUE: <why>; using the default <def>". */
int memwin_env_number(const char *name, int sizes, uint64_t max, uint64_t def, uint64_t *out);

/* Writes "memwin: NAME=VALUE: <why>; <then>\n" to stderr in one write (the
 * value cut to 200 characters, unprintable bytes as '?'). */
void memwin_env_say(const char *name, const char *value, const char *why, const char *then);

#endif
