# file: mem.c
# sysMemStat.add without Go's overflow/underflow check.
s/if ((n > 0 && (int64_t)val < n)/if (0 \&\& (n > 0 \&\& (int64_t)val < n)/
