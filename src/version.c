/* Version strings. */
#include "memwin.h"

const char *memwin_version(void)
{
    return "0.1.0";
}

/* Behaviour was checked against Go 1.19 and Go 1.26 (conformance report);
 * Go's Windows memory layer is unchanged from 1.19 to 1.27. */
const char *memwin_go_version(void)
{
    return "go1.26";
}
