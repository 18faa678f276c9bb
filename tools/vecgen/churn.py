#!/usr/bin/env python3
"""Writes the seeded churn scenarios of tests/vectors (FORMAT.md), so that
they can be made again or varied:

  churn.py hint [SEED STEPS]  os_reserve_hint_churn: hinted reservations in
                              the first 64M of one free 4G area (defaults
                              1 600)
  churn.py used [SEED STEPS]  os_reserve_churn_used: reservations without an
                              address, each committed and filled (defaults
                              1 300)
  churn.py alloc [SEED STEPS] os_alloc_churn: sysAllocOS allocations, each
                              filled, freed in random order (defaults 1 300)
  churn.py pages [SEED STEPS] os_used_unused_page_churn: page runs of one
                              reservation committed and decommitted (defaults
                              1 200)
  churn.py holes [SEED STEPS] os_reserve_hole_churn: hinted reservations in
                              released ranges and reservations without an
                              address, aimed at the emulation's reuse of
                              released space (defaults 1 500)
  churn.py big [SEED CALLS]   os_used_in_many_big_reservations: 4 + 64
                              reservations of 2M, 64K pieces inside them
                              committed and decommitted, CALLS in each of the
                              64 (defaults 1 4)

The scenario goes to standard output; its goldens come from the Go runtime
under Wine (tools/conformance.sh --regen, or tools/conform -write-golden).
They drive what only long runs of calls reach in the Linux emulation
(src/emu/prim_linux.c): its reuse of released address space (the quarantine
of the last 64 releases, the holes), page runs split and joined again, and
the lookup of a reservation among many."""
import random
import sys

G = 64 * 1024


def hint(seed, steps):
    r = random.Random(seed)
    area = 64 * 1024 * 1024 // G  # granules of Z
    sizes = [64, 128, 192, 320, 1024, 2048]  # KiB
    live, recent, used, k = {}, [], [False] * area, 0
    out = ["desc churn of hinted reservations inside the first 64M of one free 4G area (n/a on 386: there "
           "Wine once showed a free area reserved by another), found after a first reservation without an "
           "address: %d seeded steps that reserve one of six sizes (64K to 2M) at a free 64K-aligned address "
           "of the 64M, or release a live one, at most 16 live; half the hints start or end where a range "
           "released among the last 64 starts or ends, three in ten more go into or over such a range; every "
           "hint is free, so each reservation is made at its hint, and each release frees it; the releases "
           "also reach address space released before" % steps,
           "K = sysReserveOS nil 64K", "free Z 4G"]
    for _ in range(steps):
        if live and (len(live) >= 16 or r.random() < 0.45):
            n = r.choice(sorted(live))
            g0, ng, kib = live.pop(n)
            for g in range(g0, g0 + ng):
                used[g] = False
            recent.append((g0, ng))
            out += ["sysFreeOS %s %dK" % (n, kib), "drop %s" % n]
            continue
        kib = r.choice(sizes)
        ng = (kib * 1024 + G - 1) // G
        cand = [g for g in range(0, area - ng + 1) if not any(used[g:g + ng])]
        ends = [g for g in cand if any(g + ng == a + b or g == a for a, b in recent[-64:])]
        near = [g for g in cand if any(a - ng < g < a + b for a, b in recent[-64:])]
        x = r.random()
        g0 = r.choice(ends if ends and x < 0.5 else near if near and x < 0.8 else cand)
        for g in range(g0, g0 + ng):
            used[g] = True
        n = "R%d" % k
        k += 1
        live[n] = (g0, ng, kib)
        out.append("%s = sysReserveOS Z+%dK %dK" % (n, g0 * 64, kib))
    return out


SIZES = ["4K", "60K", "64K", "128K", "192K", "320K", "1M", "2M"]


def _live_churn(seed, steps, desc, prefix, make):
    """Seeded steps that make a new region of one of SIZES (the lines
    make(name, size) returns) or release a live one chosen at random, at
    most 12 live at a time."""
    r = random.Random(seed)
    live, k = {}, 0
    out = [desc]
    for _ in range(steps):
        if live and (len(live) >= 12 or r.random() < 0.45):
            n = r.choice(sorted(live, key=lambda x: int(x[len(prefix):])))
            out += ["sysFreeOS %s %s" % (n, live.pop(n)), "drop %s" % n]
            continue
        sz = r.choice(SIZES)
        n = "%s%d" % (prefix, k)
        k += 1
        live[n] = sz
        out += make(n, sz)
    return out


def used(seed, steps):
    return _live_churn(seed, steps,
                       "desc churn of used reservations without an address: %d seeded steps that reserve one of "
                       "eight sizes (4K to 2M) and commit and fill all of it, or release a live one chosen at "
                       "random, at most 12 live at a time; each reservation is new, 64K-aligned and reserved "
                       "whole, its pages commit and take the pattern, and each release frees it; after the first "
                       "64 releases the freed space is reused" % steps, "R",
                       lambda n, sz: ["%s = sysReserveOS nil %s" % (n, sz), "sysUsedOS %s %s" % (n, sz),
                                      "fill %s %s" % (n, sz)])


def alloc(seed, steps):
    return _live_churn(seed, steps,
                       "desc churn of sysAllocOS: %d seeded steps that allocate one of eight sizes (4K to 2M), "
                       "committed at once, and fill all of it, or free a live one chosen at random, at most 12 "
                       "live at a time; each allocation is new, 64K-aligned, reserved and committed whole, reads "
                       "zero before its fill and takes the pattern, and each free releases it; after the first "
                       "64 frees the freed space is reused" % steps, "A",
                       lambda n, sz: ["%s = sysAllocOS %s" % (n, sz), "fill %s %s" % (n, sz)])


def pages(seed, steps):
    r = random.Random(seed)
    npages = 64  # 256K
    out = ["desc churn of page states in one 256K reservation: %d seeded steps that commit (sysUsedOS) or "
           "decommit (sysUnusedOS) a run of 1 to 24 pages at a random page of it, some reaching its last "
           "page, and fill it when all of that run is committed; the reservation's pages split into many "
           "runs of committed and reserved pages, which join again" % steps,
           "R = sysReserveOS nil 256K"]
    for _ in range(steps):
        n = r.randint(1, 24)
        first = npages - n if r.random() < 0.15 else r.randint(0, npages - n)
        use = r.random() < 0.55
        op = "sysUsedOS" if use else "sysUnusedOS"
        out.append("%s R+%dp %dp" % (op, first, n))
        if use and r.random() < 0.3:
            out.append("fill R+%dp %dp" % (first, n))
    return out


def big(seed, per):
    r = random.Random(seed)
    n, high = 64, 4
    out = ["desc many reservations of 2M without an address: %d first (H), then %d one after another (B), "
           "each B committed (sysUsedOS) or decommitted (sysUnusedOS) %d times 64K at a random 64K away from "
           "its first 64K, what is committed filled, and its name dropped, the reservation kept; then each "
           "64K of each H but its first committed and decommitted; each call finds its own reservation among "
           "many, at an address other than its base, with reservations made before it and after it" % (high, n, per)]
    out += ["H%d = sysReserveOS nil 2M" % h for h in range(high)]
    for i in range(n):
        out.append("B%d = sysReserveOS nil 2M" % i)
        for _ in range(per):
            off = r.randrange(1, 32) * 64
            if r.random() < 0.6:
                out += ["sysUsedOS B%d+%dK 64K" % (i, off), "fill B%d+%dK 64K" % (i, off)]
            else:
                out.append("sysUnusedOS B%d+%dK 64K" % (i, off))
        out.append("drop B%d" % i)
    for h in range(high):
        for k in range(1, 32):
            out += ["sysUsedOS H%d+%dK 64K" % (h, k * 64), "sysUnusedOS H%d+%dK 64K" % (h, k * 64)]
    return out


def holes(seed, steps):
    """Free address space the emulation reuses, reached from both sides:
    hinted reservations only inside a free area (FORMAT.md's free, whose
    margins keep the process's other mappings away), reservations without
    an address only after its name is dropped.  A model of the emulation's
    quarantine of the last 64 releases (which free granules are holes it
    reuses, the free area's margins included) aims four steps: hints at a
    hole's bottom; a reservation that asks for the old length of the
    highest hole just after a hint took that hole's bottom granule; a comb
    of one-granule holes that reservations without an address then take
    whole, the highest first; the low margin taken whole, so that a range
    released twice at Z's bottom leaves the quarantine with no hole below
    it.  Every step's reason is in the comments; the model is checked
    (assert) where a step depends on it."""
    r = random.Random(seed)
    total, area, comb, q = 65536, 256, 130, 64  # granules: Z (4G), churn, comb teeth; quarantine
    top = total - (area + 2 * comb + 1)  # never reserved but by one hint
    low, high = 1024, 1025  # free's margins: 64M below Z, 64M + its 64K alignment above
    out = ["desc free address space reused, reached by hints and by reservations without an address (n/a on "
           "386: 4G): in a free area Z of 4G (FORMAT.md's free: released, with free margins) one 64K reservation "
           "is kept at its start and the next 16M tiled at once with hinted reservations; %d seeded steps "
           "reserve one to sixteen 64K granules at a free address of those 16M (four in ten at the start of a "
           "range released more than 64 releases before) or release a live one, at most 24 live; then the next "
           "261 granules are tiled with one-granule reservations, every odd one released as soon as both its "
           "neighbours are reserved; one more 64K is reserved just above them, at the start of the rest of Z; "
           "Z is dropped; reservations without an address of %dK (the rest of Z and the margin above it) and "
           "%dK, 70 times 64K, and 64M follow; the 128K just above Z's first 64K, reserved since the start, is "
           "released, its first 64K reserved again at once and released; then %d seeded steps that reserve "
           "without an address (60K to 2M), release one of those (at most 24 live) or release a hinted one; "
           "every hint is free, every reservation succeeds" % (steps, (top + high) * 64, (top + high - 1) * 64, steps),
           "K = sysReserveOS nil 64K", "free Z 4G"]
    sizes_g = [1, 1, 1, 2, 2, 3, 4, 5, 8, 16]
    span = low + total + high
    used = [False] * span  # granule g of Z is index low + g
    hole = [False] * span
    quar = [(0, span)]  # the last 64 releases: free's first (Z and its margins)
    live_h, k = {}, 0

    def by_number(live):  # names in the order they were made
        return sorted(live, key=lambda n: int(n[1:]))

    def reserve_at(g0, ng, short=0, at=None, keep=False):
        """Granules g0.. of Z reserved at a hint (written as at, else Z+...),
        short pages less; keep: for good, its name dropped at once."""
        nonlocal k
        n = "H%d" % k
        k += 1
        for g in range(low + g0, low + g0 + ng):
            used[g], hole[g] = True, False
        kib = ng * 64 - 4 * short
        out.append("%s = sysReserveOS %s %dK" % (n, at or "Z+%dK" % (g0 * 64), kib))
        if keep:
            out.append("drop %s" % n)
        else:
            live_h[n] = (g0, ng, kib)
        return n

    def release(n, drop=True):
        g0, ng, kib = live_h.pop(n)
        for g in range(low + g0, low + g0 + ng):
            used[g] = False
        out.append("sysFreeOS %s %dK" % (n, kib))
        if drop:
            out.append("drop %s" % n)
        quar.append((low + g0, ng))
        if len(quar) > q:  # the oldest leaves: its free granules are holes
            a, b = quar.pop(0)
            for g in range(a, a + b):
                hole[g] = hole[g] or not used[g]

    reserve_at(0, 1, keep=True)
    late = reserve_at(1, 2)  # released late, when no hole lies below it
    late_entry = live_h.pop(late)
    g = 3
    while g < area:
        ng = min(r.choice(sizes_g), area - g)
        reserve_at(g, ng, r.randint(0, 3))
        g += ng
    for _ in range(steps):
        if live_h and (len(live_h) >= 24 or r.random() < 0.5):
            release(r.choice(by_number(live_h)))
            continue
        ng = r.choice(sizes_g)
        cand = [g for g in range(1, area - ng + 1) if not any(used[low + g:low + g + ng])]
        if not cand:
            continue
        starts = [g for g in cand if hole[low + g] and not hole[low + g - 1]]
        g0 = r.choice(starts if starts and r.random() < 0.4 else cand)
        reserve_at(g0, ng, r.randint(0, 3))
    odd = None
    for i in range(2 * comb + 1):
        if i % 2:
            odd = reserve_at(area + i, 1)
            continue
        reserve_at(area + i, 1, keep=True)
        if odd:
            release(odd)
            odd = None

    def runs():
        found, g = [], 0
        while g < span:
            e = g
            while e < span and hole[e]:
                e += 1
            if e > g:
                found.append((g, e))
            g = e + 1
        return found

    # The highest hole is Z's free top and the high margin: its bottom goes.
    lo, hi = runs()[-1]
    assert (lo, hi) == (low + total - top, span), (lo, hi)
    reserve_at(total - top, 1, keep=True)
    out.append("drop Z")
    live_a = {}

    def reserve_anywhere(size):
        nonlocal k
        n = "A%d" % k
        k += 1
        live_a[n] = size
        out.append("%s = sysReserveOS nil %s" % (n, size))

    # Its old length (no hole has it now), then its new one (it goes whole).
    reserve_anywhere("%dK" % ((hi - lo) * 64))
    reserve_anywhere("%dK" % ((hi - lo - 1) * 64))
    for _ in range(comb - q + 4):
        reserve_anywhere("64K")
    assert runs()[0] == (0, low), runs()[0]
    reserve_anywhere("64M")  # the low margin, whole
    # The range just above Z's first granule released, its first granule
    # reserved again at once and released: when the two leave the
    # quarantine, one after the other, the second meets the first's hole
    # with no hole below it.
    live_h[late] = late_entry
    release(late, drop=False)  # its name stays bound for the hint
    again = reserve_at(1, 1, at=late)
    out.append("drop %s" % late)
    release(again)
    sizes = ["64K", "60K", "64K", "128K", "192K", "320K", "1M", "1020K", "2M"]
    for _ in range(steps):
        x = r.random()
        if live_h and x < 0.2:
            release(r.choice(by_number(live_h)))
        elif live_a and (len(live_a) >= 24 or x < 0.55):
            n = r.choice(by_number(live_a))
            out += ["sysFreeOS %s %s" % (n, live_a.pop(n)), "drop %s" % n]
        else:
            reserve_anywhere(r.choice(sizes))
    return out

if __name__ == "__main__":
    kinds = {"hint": (hint, 600), "used": (used, 300), "alloc": (alloc, 300), "pages": (pages, 200), "big": (big, 4),
             "holes": (holes, 500)}
    if len(sys.argv) < 2 or sys.argv[1] not in kinds:
        sys.exit(__doc__)
    f, steps = kinds[sys.argv[1]]
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else steps
    print("\n".join(f(seed, steps)))
