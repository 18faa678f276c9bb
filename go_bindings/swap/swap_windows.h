/* The C side of package swap (swap_windows.c), for cgo. */
#ifndef MEMWIN_SWAP_WINDOWS_H
#define MEMWIN_SWAP_WINDOWS_H

#include <stddef.h>
#include <stdint.h>

#include "memwin_interpose.h"

#define MEMWIN_SWAP_NONE 0
#define MEMWIN_SWAP_ACTIVE 1
#define MEMWIN_SWAP_FAILED 2
#define MEMWIN_SWAP_DISABLED 3

int memwin_swap_state(void);
const char *memwin_swap_message(void);
void memwin_swap_path(char *out, size_t cap);
int memwin_swap_stats(memwin_interpose_stats *out);
int memwin_swap_get_policy(memwin_interpose_policy *out);
int memwin_swap_set_policy(const memwin_interpose_policy *p);
uint32_t memwin_swap_flush(void);

#endif
