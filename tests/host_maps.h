// Linux-only helpers of the googletests that look past the emulation at the
// host kernel's own mappings (the emu_* and emulation_pressure tests): the
// host table, how a child scenario ends when its setup fails or the process
// cannot host it, what /proc/self/maps says of a range, and a process
// filled up to the kernel's mapping limit.
#pragma once
#if !defined(_WIN32)

#include <sys/mman.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace mwt {

// The host's primitive table (the emulation, on Linux).
inline const memwin_prim *host()
{
    return memwin_prim_host();
}

// Ends a child scenario with status 1 and the message on stderr.
[[noreturn]] inline void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stderr, fmt, ap);
    va_end(ap);
    std::fputc('\n', stderr);
    std::_Exit(1);
}

// Ends a child scenario with status 0 and "skip: what" on stderr (the
// parent reports a skip): the process cannot host the scenario.
[[noreturn]] inline void skip(const char *what)
{
    std::fprintf(stderr, "skip: %s", what);
    std::_Exit(0);
}

// True if /proc/self/maps shows no mapping meeting [a, b); false also when
// it cannot be read (free space is then not shown).
inline bool unmapped(uintptr_t a, uintptr_t b)
{
    std::ifstream f("/proc/self/maps");
    if (!f)
        return false;
    std::string line;
    while (std::getline(f, line)) {
        unsigned long lo = 0, hi = 0;
        if (std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi) == 2 && lo < b && a < hi)
            return false;
    }
    return true;
}

// True if one line of /proc/self/maps covers [a, a+n).
inline bool one_mapping(uintptr_t a, uintptr_t n)
{
    std::ifstream f("/proc/self/maps");
    std::string line;
    while (std::getline(f, line)) {
        unsigned long lo = 0, hi = 0;
        if (std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi) == 2 && lo <= a && a + n <= hi)
            return true;
    }
    return false;
}

// Creates one-page mappings of alternating protection (so that neighbours
// never merge) until the kernel refuses one: the process is then at
// vm.max_map_count.  Returns the mappings, to undo.  No allocation happens
// once filling has started (the vector's room is reserved first).
inline std::vector<void *> fill_mappings()
{
    std::vector<void *> maps;
    maps.reserve(1 << 20);
    for (size_t i = 0; i < (size_t(1) << 20); i++) {
        int prot = (i % 2) ? PROT_READ : PROT_READ | PROT_WRITE;
        void *p = mmap(nullptr, kPage, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
            break;
        maps.push_back(p);
    }
    return maps;
}

} // namespace mwt

#endif // !_WIN32
