/* The VirtualQuery-style region query, through the table in force. */
#include "memwin_prim.h"

uint32_t memwin_query(const void *addr, memwin_region_info *info)
{
    memwin_region_info tmp;
    uint32_t err;
    if (!info)
        return MEMWIN_ERROR_INVALID_PARAMETER; /* nowhere to put it */
    err = memwin_prim_current()->virtual_query(addr, &tmp);
    if (err == 0)
        *info = tmp;
    return err;
}
