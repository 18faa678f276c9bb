/* A broken "implementation" for memwin-conform's robustness test:
 *  - sysAllocOS crashes (null write),
 *  - sysUsedOS hangs (the runner's per-scenario time limit must end it),
 *  - sysUsed is exported as data, not a function (signature mismatch),
 *  - everything else is missing (scenarios using it are skipped). */
#include <stdint.h>

void *sysAllocOS(uintptr_t n)
{
    *(volatile uintptr_t *)(uintptr_t)0 = n;
    return 0;
}

void sysUsedOS(void *v, uintptr_t n)
{
    (void)v;
    for (volatile uintptr_t i = n;; i++) {
    }
}

int sysUsed[4] = {0, 0, 0, 0};
