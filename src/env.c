/* memwin's environment variables, read with care (src/env.h): ignored in
 * secure execution, refused with a word when malformed or out of range. */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* secure_getenv */
#endif

#include "env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

#if defined(_WIN32)
#include <windows.h>
#else
#include <unistd.h>
#if defined(__linux__)
#include <sys/auxv.h>
#endif
#endif

int memwin_env_secure(void)
{
#if defined(_WIN32)
    return 0; /* no setuid programs */
#elif defined(__linux__)
    return getauxval(AT_SECURE) != 0;
#else
    return getuid() != geteuid() || getgid() != getegid();
#endif
}

static void write_line(const char *line)
{
    memwin_host_prim.write_stderr(line, strlen(line));
}

void memwin_env_say(const char *name, const char *value, const char *why, const char *then)
{
    char shown[208], line[512];
    size_t i;
    for (i = 0; value[i] && i < 200; i++) {
        unsigned char c = (unsigned char)value[i];
        shown[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    shown[i] = 0;
    snprintf(line, sizeof line, "memwin: %s=%s%s: %s; %s\n", name, shown, value[i] ? "..." : "",
             why, then);
    write_line(line);
}

#if !defined(_WIN32)
/* The value, or NULL if unset; *ignored when secure execution hides it. */
static const char *raw_value(const char *name, int *ignored)
{
    const char *v;
    *ignored = 0;
#if defined(__GLIBC__)
    v = secure_getenv(name);
    if (!v && getenv(name))
        *ignored = 1;
#else
    v = getenv(name);
    if (v && memwin_env_secure()) {
        v = NULL;
        *ignored = 1;
    }
#endif
    return v;
}
#endif

int memwin_env_get(const char *name, char *buf, size_t cap, const char *then)
{
    size_t len;
    char line[256];
#if defined(_WIN32)
    DWORD n = GetEnvironmentVariableA(name, buf, (DWORD)cap);
    if (n == 0)
        return 0; /* unset or empty */
    if (n < cap)
        return 1;
    len = (size_t)n - 1; /* n counts the terminating NUL when the buffer is short */
#else
    int ignored;
    const char *v = raw_value(name, &ignored);
    if (ignored) {
        snprintf(line, sizeof line,
                 "memwin: %s ignored: the program runs with raised privileges "
                 "(setuid, setgid or capabilities)\n",
                 name);
        write_line(line);
        return 0;
    }
    if (!v || !*v)
        return 0;
    len = strlen(v);
    if (len < cap) {
        memcpy(buf, v, len + 1);
        return 1;
    }
#endif
    snprintf(line, sizeof line, "memwin: %s=(%lu characters): too long (at most %lu); %s\n", name,
             (unsigned long)len, (unsigned long)(cap - 1), then);
    write_line(line);
    return 0;
}

enum { P_OK, P_NOT_NUMBER, P_NEGATIVE, P_TOO_LARGE };

static int parse(const char *s, int sizes, uint64_t max, uint64_t *out)
{
    uint64_t v = 0, base = 10;
    const char *p = s;
    int digits = 0, overflow = 0, shift = 0;
    if (*p == '-')
        return P_NEGATIVE;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    for (;; p++, digits++) {
        uint64_t d;
        if (*p >= '0' && *p <= '9')
            d = (uint64_t)(*p - '0');
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            d = (uint64_t)(*p - 'a' + 10);
        else if (base == 16 && *p >= 'A' && *p <= 'F')
            d = (uint64_t)(*p - 'A' + 10);
        else
            break;
        if (v > (UINT64_MAX - d) / base)
            overflow = 1;
        else
            v = v * base + d;
    }
    if (digits == 0)
        return P_NOT_NUMBER;
    if (sizes) {
        switch (*p) {
        case 'k': case 'K': shift = 10; p++; break;
        case 'm': case 'M': shift = 20; p++; break;
        case 'g': case 'G': shift = 30; p++; break;
        default: break;
        }
        if (*p == 'b' || *p == 'B')
            p++;
    }
    if (*p != 0)
        return P_NOT_NUMBER;
    if (overflow || v > (UINT64_MAX >> shift) || (v << shift) > max)
        return P_TOO_LARGE;
    *out = v << shift;
    return P_OK;
}

const char *memwin_env_parse(const char *s, int sizes, uint64_t max, uint64_t *out)
{
    switch (parse(s, sizes, max, out)) {
    case P_OK:
        return NULL;
    case P_NEGATIVE:
        return "negative";
    case P_TOO_LARGE:
        return "too large";
    default:
        return sizes ? "not a size (decimal, or 0x and hex digits, then optionally k, m or g)"
                     : "not a number (decimal, or 0x and hex digits)";
    }
}

int memwin_env_number(const char *name, int sizes, uint64_t max, uint64_t def, uint64_t *out)
{
    char buf[MEMWIN_ENV_VALUE_MAX + 1], why[128], then[64];
    const char *bad;
    uint64_t v;
    *out = def;
    snprintf(then, sizeof then, "using the default %llu", (unsigned long long)def);
    if (!memwin_env_get(name, buf, sizeof buf, then))
        return 0;
    bad = memwin_env_parse(buf, sizes, max, &v);
    if (bad) {
        if (strcmp(bad, "too large") == 0)
            snprintf(why, sizeof why, "too large (at most %llu)", (unsigned long long)max);
        else
            snprintf(why, sizeof why, "%s", bad);
        memwin_env_say(name, buf, why, then);
        return 0;
    }
    *out = v;
    return 1;
}
