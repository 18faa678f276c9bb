# file: mem_windows.c
# sysFreeOS releases only part of the reservation: it decommits the first
# half instead of releasing the whole (MEM_RELEASE of size 0).
s/os_free(p, (uintptr_t)v, 0, MEMWIN_MEM_RELEASE)/os_free(p, (uintptr_t)v, n \/ 2, MEMWIN_MEM_DECOMMIT)/
