# file: mem_windows.c
# The halving fallback loops of sysUsedOS/sysUnusedOS give up at 64K
# instead of Go's 4096-byte floor.
s/small >= GO_RETRY_FLOOR/small >= 16 * GO_RETRY_FLOOR/g
s/small < GO_RETRY_FLOOR/small < 16 * GO_RETRY_FLOOR/g
