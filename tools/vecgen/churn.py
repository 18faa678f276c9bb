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


if __name__ == "__main__":
    kinds = {"hint": (hint, 600), "used": (used, 300), "alloc": (alloc, 300), "pages": (pages, 200), "big": (big, 4)}
    if len(sys.argv) < 2 or sys.argv[1] not in kinds:
        sys.exit(__doc__)
    f, steps = kinds[sys.argv[1]]
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else steps
    print("\n".join(f(seed, steps)))
