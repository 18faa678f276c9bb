/* Version strings. */
#include "memwin.h"

const char *memwin_version(void)
{
    return "0.1.0";
}

/* The newest Go release line the conformance report measures (Go 1.19 to
 * 1.27, windows/amd64 and windows/386: docs/conformance.md).  Where those
 * lines differ among themselves (the exit status of a throw under
 * GOTRACEBACK=crash or wer: exit 2 up to 1.20, a fail-fast exception from
 * 1.21), memwin behaves as this one. */
const char *memwin_go_version(void)
{
    return "go1.27";
}
