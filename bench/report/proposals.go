package main

// "Where it is not fast": the measured evidence and the proposed changes to
// src/ (for the owner of src/ to make; the benchmark does not change src/).

import (
	"fmt"
	"math"
	"strings"
)

func (r *report) rt(prog, suite, cas string, n uint64, a, b string) stats {
	return r.d.ratio(key{prog, suite, cas, n, a}, key{prog, suite, cas, n, b})
}

func (r *report) ab(prog, suite, cas string, n uint64, side string) string {
	return fmtAbs(r.d.abs(key{prog, suite, cas, n, side}))
}

func (r *report) sc(prog, op string, n uint64, side string) string {
	s, ok := r.d.syscalls[key{prog, "strace", op, n, side}]
	if !ok {
		return "—"
	}
	return fmtCount(s["total"])
}

func (r *report) proposals() {
	d := r.d
	const kib, mib = 1 << 10, 1 << 20
	small := []uint64{4 * kib, 64 * kib, 1 * mib}
	big := uint64(64 * mib)
	r.p("## Where it is not fast, and what to change\n\n")
	r.p("memwin.dll on Windows is a thin layer over kernel32: its own work (the *memwin logic* row above) is tens of nanoseconds against ")
	r.p("microseconds for each VirtualAlloc/VirtualFree under Wine, and it makes exactly the Go runtime's calls. ")
	r.p("The costs worth changing are in the Linux emulation (`src/prim_linux.c`). In order of measured effect:\n\n")

	// 1. placement
	r.p("### 1. The 64 KiB placement of address-free reservations (`emu_map`)\n\n")
	var hs, hsc []string
	for _, n := range small {
		hs = append(hs, fmt.Sprintf("%s %s", sizeLabel(n), fmtRatioShort(r.rt("linux", "trans", "handshake", n, "memwin", "raw"))))
		hsc = append(hsc, fmt.Sprintf("%s %s", sizeLabel(n), r.sc("linux", "handshake", n, "memwin")))
	}
	r.p("**Evidence.** The handshake (reserve, map, used, free) at 4 KiB – 1 MiB costs %s× the raw calls; ", strings.Join(hs, ", "))
	r.p("strace counts %s system calls per handshake against %s raw. ", strings.Join(hsc, ", "), r.sc("linux", "handshake", 64*kib, "raw"))
	r.p("`emu_map` maps the span anywhere and, when the kernel's address is not 64 KiB aligned, unmaps it, maps a granule more and trims both ends ")
	r.p("(5 calls instead of 1). The trimming leaves holes whose top is unaligned, so a reserve/release pattern hits the slow path *every* time; ")
	r.p("a run of reservations hits it now and then (reserve: %s system calls per reservation at 64 KiB, ratio %s). ",
		r.sc("linux", "reserve", 64*kib, "memwin"), fmtRatioShort(r.rt("linux", "trans", "reserve", 64*kib, "memwin", "raw")))
	r.p("The two strategies on raw system calls, without the rest of the emulation (suite `proposals`):\n\n")
	r.p("| size | handshake: today's placement ÷ raw | hinted placement ÷ raw | system calls today / hinted / raw | reserve run: today ÷ raw | hinted ÷ raw |\n|---|---|---|---|---|---|\n")
	for _, n := range d.params("linux", "proposals", "place-handshake") {
		r.p("| %s | %s | %s | %s / %s / %s | %s | %s |\n", sizeLabel(n),
			fmtRatio(r.rt("linux", "proposals", "place-handshake", n, "emu-today", "raw")),
			fmtRatio(r.rt("linux", "proposals", "place-handshake", n, "emu-hint", "raw")),
			fmtCount(d.count(key{"linux", "proposals", "place-handshake", n, "emu-today"}, "syscalls")),
			fmtCount(d.count(key{"linux", "proposals", "place-handshake", n, "emu-hint"}, "syscalls")),
			fmtCount(d.count(key{"linux", "proposals", "place-handshake", n, "raw"}, "syscalls")),
			fmtRatio(r.rt("linux", "proposals", "place-reserve", n, "emu-today", "raw")),
			fmtRatio(r.rt("linux", "proposals", "place-reserve", n, "emu-hint", "raw")))
	}
	r.p("\n**Change** (`src/prim_linux.c`). Add `static uintptr_t emu_low;` next to `emu_root` (guarded by `emu_lock`): the lowest base an ")
	r.p("address-free reservation got. In `emu_map`, when `want == 0` and `emu_low > EMU_MIN_ADDR + span`, first try ")
	r.p("`mmap((void *)(emu_low - span), span, prot, flags | MAP_FIXED_NOREPLACE, -1, 0)`; if it returns that address, set `emu_low` to it and return it ")
	r.p("(one call, aligned because `emu_low` and `span` are 64 KiB multiples, and where the kernel's top-down layout would put it anyway); if it ")
	r.p("returns another address (a kernel without the flag) unmap that; then take today's path and set `emu_low` to its result. ")
	r.p("In `emu_virtual_free`'s release branch, after the `munmap`, if `r->base == emu_low` set `emu_low = r->base + r->span`, so the next reservation of ")
	r.p("that size reuses the hole. Nothing changes for reservations at an address (`want != 0`), and `MAP_FIXED_NOREPLACE` never replaces a mapping. ")
	r.p("**Expected:** the handshake at 4 KiB – 1 MiB goes from 7 to 3 system calls, i.e. from the *today* column to the *hinted* column above; ")
	r.p("reserve runs always take one call.\n\n")

	// 2. page state and calloc
	r.p("### 2. Per-page state bytes and the `calloc`s of every reservation (`emu_reserve`, `emu_commit`, `emu_decommit`)\n\n")
	r.p("**Evidence.** At %s: reserve %s×, commit %s×, release %s× the raw calls (at 64 KiB: %s, %s, %s). ",
		sizeLabel(big),
		fmtRatioShort(r.rt("linux", "trans", "reserve", big, "memwin", "raw")),
		fmtRatioShort(r.rt("linux", "trans", "commit", big, "memwin", "raw")),
		fmtRatioShort(r.rt("linux", "trans", "release", big, "memwin", "raw")),
		fmtRatioShort(r.rt("linux", "trans", "reserve", 64*kib, "memwin", "raw")),
		fmtRatioShort(r.rt("linux", "trans", "commit", 64*kib, "memwin", "raw")),
		fmtRatioShort(r.rt("linux", "trans", "release", 64*kib, "memwin", "raw")))
	r.p("A 64 MiB reservation carries a 16 KiB byte array (one byte a page), `calloc`ed at reserve, rewritten by `memset` on every commit and ")
	r.p("decommit, freed at release. The process takes %s page faults per reserve and %s per commit at 64 MiB (raw: %s and %s): ",
		fmtCount(d.count(key{"linux", "trans", "reserve", big, "memwin"}, "minflt")),
		fmtCount(d.count(key{"linux", "trans", "commit", big, "memwin"}, "minflt")),
		fmtCount(d.count(key{"linux", "trans", "reserve", big, "raw"}, "minflt")),
		fmtCount(d.count(key{"linux", "trans", "commit", big, "raw"}, "minflt")))
	brk := "—"
	if s, ok := d.syscalls[key{"linux", "strace", "reserve", big, "memwin"}]; ok {
		brk = fmtCount(s["brk"])
	}
	r.p("freed arrays leave free memory at the top of the heap, glibc gives it back to the kernel (strace: %s `brk` calls per 64 MiB reserve), ", brk)
	r.p("and the next array faults its pages in again. The same run with glibc's trimming switched off ")
	r.p("(`GLIBC_TUNABLES=glibc.malloc.trim_threshold=1073741824:glibc.malloc.top_pad=33554432`) gives reserve %s×, commit %s×, release %s× at 64 MiB, ",
		fmtRatioShort(r.rt("linuxnotrim", "trans", "reserve", big, "memwin", "raw")),
		fmtRatioShort(r.rt("linuxnotrim", "trans", "commit", big, "memwin", "raw")),
		fmtRatioShort(r.rt("linuxnotrim", "trans", "release", big, "memwin", "raw")))
	r.p("with %s faults per reserve. What remains is the work itself: the byte-wise update costs %s per 64 MiB commit against %s for a bitmap, ",
		fmtCount(d.count(key{"linuxnotrim", "trans", "reserve", big, "memwin"}, "minflt")),
		r.ab("linux", "components", "pagestate", big, "bytes"), r.ab("linux", "components", "pagestate", big, "bitmap"))
	r.p("and the two `calloc`s cost %s at 64 KiB and %s at 64 MiB (components table; warm heap).\n\n",
		r.ab("linux", "components", "calloc", 64*kib, "record+pages"), r.ab("linux", "components", "calloc", big, "record+pages"))
	r.p("**Change** (`src/prim_linux.c`). Replace `uint8_t *pages` in `emu_resv` by a bitmap of committed pages (`uint64_t` words, bit set = committed) ")
	r.p("and one `uint8_t commit_protect` for the reservation; keep a byte array only for reservations whose committed pages have different protections, ")
	r.p("allocated the first time `emu_commit` commits with a protection other than `commit_protect` while pages are committed (Go always commits ")
	r.p("`PAGE_READWRITE`, so Go never needs it). Allocate the record and the bitmap in one `calloc` (a flexible array member at the end of `emu_resv`), ")
	r.p("which halves the allocations. `emu_all_pages` becomes a word-wise test of the range's bits (plus `commit_protect`), the two `memset`s word-wise ")
	r.p("fills with masked ends, and `emu_virtual_query` scans bits. **Expected:** the state of a 64 MiB reservation shrinks from 16 KiB to 2 KiB, ")
	r.p("small enough that freeing it no longer returns heap pages to the kernel (the *trimming off* figures above are the bound), the update from the ")
	r.p("*bytes* to the *bitmap* figure, and one `calloc` instead of two: reserve, commit and release at 64 MiB move to the ratios of the small sizes.\n\n")

	// 3. lookup
	pops := d.params("linux", "components", "tree-random")
	if len(pops) >= 2 {
		lo, hi := pops[0], pops[len(pops)-1]
		r.p("### 3. The reservation table lookup (`emu_find` → `rtree_floor`)\n\n")
		var norm []string
		base := r.rt("linux", "scale", "cycle", first(r.pops), "memwin", "raw")
		for _, n := range r.pops {
			s := r.rt("linux", "scale", "cycle", n, "memwin", "raw")
			if s.ok() && base.ok() {
				norm = append(norm, fmt.Sprintf("%s %.2f", countLabel(n), s.med/base.med))
			}
		}
		r.p("**Evidence.** Every commit and decommit walks the AVL tree. With 64 reservations used in turn the walk stays in cache (%s at %s, %s at %s), ",
			r.ab("linux", "components", "tree-lookup", lo, "rtree_floor"), countLabel(lo),
			r.ab("linux", "components", "tree-lookup", hi, "rtree_floor"), countLabel(hi))
		r.p("but over random reservations it costs %s at %s, %s at %s: each of its ~17 levels is a cache miss — ",
			r.ab("linux", "components", "tree-random", lo, "rtree_floor"), countLabel(lo),
			r.ab("linux", "components", "tree-random", hi, "rtree_floor"), countLabel(hi))
		r.p("comparable to the system call itself. The cycle's ratio to raw, relative to that at %s live reservations, is %s (the third target). ",
			countLabel(first(r.pops)), strings.Join(norm, ", "))
		r.p("An index by 64 KiB granule, as Go's own arena index, answers in %s at %s and %s at %s, at the price of one pointer per granule ",
			r.ab("linux", "components", "tree-random", lo, "granule-index"), countLabel(lo),
			r.ab("linux", "components", "tree-random", hi, "granule-index"), countLabel(hi))
		r.p("written at reserve and cleared at release (%s for a 64 KiB, %s for a 64 MiB reservation).\n\n",
			r.ab("linux", "components", "index-insert-remove", 64*kib, "granule-index"),
			r.ab("linux", "components", "index-insert-remove", big, "granule-index"))
		r.p("**Change** (`src/prim_linux.c`). Add a two-level index `static emu_resv **emu_index[1 << 15];` (guarded by `emu_lock`): leaf `a >> 32` ")
		r.p("holds 2^16 pointers, one per 64 KiB granule of that 4 GiB, `calloc`ed when first needed (512 KiB; Linux processes touch only a few leaves). ")
		r.p("`emu_reserve` sets the pointers of every granule of `[base, base + span)` after `rtree_insert`; the release branch of `emu_virtual_free` clears ")
		r.p("them; `emu_find` becomes `leaf ? leaf[(addr >> 16) & 0xffff] : NULL` followed by the existing `addr - r->base < r->size` test. ")
		r.p("Keep the AVL tree for what needs order (`emu_overlaps`, `emu_above` in `emu_virtual_query`). ")
		r.p("(bench/bench.c `gx_set`/`gx_find` is this index.) **Expected:** the lookup share of a commit or decommit becomes constant, ")
		r.p("tens of nanoseconds at any N: the cycle flat from 10 to 100k live reservations; reserve and release pay one store per granule.\n\n")
	}

	// what remains
	r.p("### What remains, and the 4 KiB row\n\n")
	r.p("After 1–3 a commit or decommit still pays memwin's logic (%s), the lock (%s), a lookup and the page-state update: ",
		r.ab("linux", "components", "logic", 0, "commit"), r.ab("linux", "components", "mutex", 0, "lock+unlock"))
	r.p("by the components well under a tenth of a microsecond against %s for the raw `mprotect` at 64 KiB, a few per cent; the measured commit at 64 KiB is %s× today, ",
		r.ab("linux", "trans", "commit", 64*kib, "raw"), fmtRatioShort(r.rt("linux", "trans", "commit", 64*kib, "memwin", "raw")))
	r.p("so expect the 64 KiB – 64 MiB rows near the 1.05 target after 1–3, not certainly under it. ")
	r.p("The 4 KiB row stays higher for a reason that is not memwin's code: an emulated reservation owns its whole 64 KiB granule (Windows' rule), ")
	r.p("so committing 4 KiB of it splits the kernel mapping, where a raw 4 KiB mapping changes as a whole. A cycle on a 4 KiB region costs ")
	r.p("%s with memwin, %s with raw calls on a 64 KiB mapping and %s on a 4 KiB mapping (suite `proposals`, *granule-cycle*). ",
		r.ab("linux", "proposals", "granule-cycle", 4*kib, "memwin"), r.ab("linux", "proposals", "granule-cycle", 4*kib, "raw-64k-mapping"),
		r.ab("linux", "proposals", "granule-cycle", 4*kib, "raw-4k-mapping"))
	r.p("No change proposed: it is the price of Windows' allocation granularity, and Go's reservations are 64 KiB multiples.\n\n")

	// 4. lock
	if len(r.threads) > 1 {
		tN := r.threads[len(r.threads)-1]
		r.p("### 4. The global lock, held across the system call\n\n")
		r.p("**Evidence.** With %d threads cycling, the process blocks %s times per cycle with libmemwin.so and %s with raw calls (voluntary context switches); ",
			tN, fmtCount4(d.count(key{"linux", "threads", "cycle", tN, "memwin"}, "nvcsw")), fmtCount4(d.count(key{"linux", "threads", "cycle", tN, "raw"}, "nvcsw")))
		if a, ok := d.syscalls[key{"linux", "strace", "threads8", 65536, "memwin"}]; ok {
			r.p("under strace (slower calls, longer holds) a cycle costs %s futex calls. ", fmtCount(a["futex"]))
		}
		r.p("Throughput does not collapse (see the threads table): `mmap` and `mprotect` take the kernel's `mmap_lock` for writing anyway, ")
		r.p("so the raw calls are serialised too, and the emulation's lock mostly adds the wake-ups. ")
		r.p("**Change:** none needed for the targets. If it matters later: make `emu_lock` a `pthread_rwlock_t`, take it for reading in `emu_commit`, ")
		r.p("`emu_decommit` and `emu_virtual_query` plus a per-reservation `pthread_mutex_t` for its page state, and for writing only in reserve and release.\n\n")
	}

	// 5. aligned reservations
	if len(r.alignSizes) > 0 {
		n := r.alignSizes[0]
		r1 := r.rt("linux", "aligned", "t1", n, "proto", "memwin")
		r8 := r.rt("linux", "aligned", "t8", n, "proto", "memwin")
		r.p("### 5. Aligned reservation in one call (`sysReserveAligned` on Linux) — measured, not recommended\n\n")
		r.p("**Evidence** (aligned table): at %s, one thread: Go's loop through the emulation %s, the one-call prototype %s (proto ÷ memwin %s); ",
			sizeLabel(n), r.ab("linux", "aligned", "t1", n, "memwin"), r.ab("linux", "aligned", "t1", n, "proto"), fmtRatioShort(r1))
		r.p("8 threads: %s against %s (%s). Lost races per aligned reservation with 8 threads: %s for Go's loop over raw calls, %s through memwin ",
			r.ab("linux", "aligned", "t8", n, "memwin"), r.ab("linux", "aligned", "t8", n, "proto"), fmtRatioShort(r8),
			fmtCount4(d.count(key{"linux", "aligned", "t8", n, "rawloop"}, "retries")),
			fmtCount4(d.count(key{"linux", "aligned", "t8", n, "memwin"}, "retries")))
		r.p("(the emulation's lock, held across each `mmap`, narrows the window in which another thread can take the freed range; it does not close it). ")
		if r1.ok() && r8.ok() && r1.med > 1.02 && r8.med > 1.02 {
			r.p("The one-call version is **not faster**: mappings of 2 MiB and more are placed on 2 MiB boundaries, so the first `mmap(size + align)` is often ")
			r.p("aligned already and Go's loop is done in one call where the trim still needs a second; and unmapping the head and tail of a fresh mapping ")
			r.p("costs about what releasing and re-mapping it does (*rawtrim* against *rawloop*). Its only gain is that it cannot lose a race, and memwin's loop ")
			r.p("lost none or almost none here.\n\n")
			r.p("**Recommendation: do not make this change.** If aligned reservations ever matter, combine it with the placement hint of item 1 instead: ")
			r.p("in the emulation, try `mmap(hint, size, ..., MAP_FIXED_NOREPLACE)` at an aligned address below `emu_low` first (one call; the kernel refuses ")
			r.p("rather than replaces, so no race), then fall back to Go's loop. Done that way it needs no new entry point: `emu_reserve` with an aligned hint ")
			r.p("already exists, and `memwin_gen_reserve_aligned` could try `memwin_os_reserve(aligned hint, size)` before its loop — but that changes the ")
			r.p("primitive call sequence Go makes, which the conformance harness compares, so it would have to be an opt-in extra.\n\n")
		} else {
			r.p("The one-call version has no window and so no retries by construction.\n\n")
			r.p("**Change** (optional). In `src/prim_linux.c` add `static void *emu_reserve_aligned(uintptr_t size, uintptr_t align)`: allocate the record ")
			r.p("and page state, then under `emu_lock` `mmap(NULL, size + align, PROT_NONE, ...)`, `munmap` the head below the aligned address and the tail above ")
			r.p("`aligned + size`, insert, unlock (as `proto_reserve_aligned` in bench/bench.c). Do not add it to the public `memwin_prim` struct (that would ")
			r.p("break tables users supply); export it internally from `src/prim.c` as `void *memwin_prim_reserve_aligned(uintptr_t size, uintptr_t align)` ")
			r.p("returning NULL with no effect when the current table is not the host table or the host has no such primitive (Windows), and make ")
			r.p("`memwin_gen_reserve_aligned` in `src/mem.c` call it first when `v == NULL`, storing `*reserved = size`, falling back to Go's loop when it returns NULL. ")
			r.p("**Expected:** no lost races, %s the time of today's loop.\n\n", ratioWords(r8))
		}
	}

	// 6. fallback loops
	if len(r.ks) > 0 {
		k := r.ks[len(r.ks)-1]
		r.p("### 6. Go's halving loops (no change)\n\n")
		r.p("Across %d adjacent reservations one `sysUnused` makes %s calls and takes %s× the time of one call per reservation (Linux; Go's own runtime under Wine: %s×). ",
			k, fmtCount(d.count(key{"linux", "fallback", "unused", k, "memwin"}, "prim")),
			fmtRatioShort(r.rt("linux", "fallback", "unused", k, "memwin", "raw")),
			fmtRatioShort(r.rt("gowin", "gofallback", "unused", k, "go", "raw")))
		r.p("This is Go's algorithm, reproduced call for call; changing it would break conformance. An opt-in extra (not a Go-named function) could ")
		r.p("walk the reservations with VirtualQuery instead, at one call per reservation plus one query each.\n")
	}
}

func ratioWords(s stats) string {
	if !s.ok() || math.IsNaN(s.med) {
		return "at about"
	}
	return fmt.Sprintf("at %.2f×", s.med)
}
