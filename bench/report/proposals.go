package main

// The last section: what was changed in the Linux emulation to meet the
// targets, with this run's figures, and what remains.

import (
	"fmt"
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
	big := uint64(64 * mib)
	tr := func(op string, n uint64) string { return fmtRatioShort(r.rt("linux", "trans", op, n, "memwin", "raw")) }
	r.p("## The Linux emulation: what was changed, and what remains\n\n")
	r.p("memwin.dll on Windows is a thin layer over kernel32: its own work (the *memwin logic* row above) is tens of nanoseconds against ")
	r.p("microseconds for each VirtualAlloc/VirtualFree under Wine, and it makes exactly the Go runtime's calls. ")
	r.p("The costs were in the Linux emulation (`src/emu/prim_linux.c`); each change below is measured by this run.\n\n")

	r.p("### 1. One system call per transition: placement (`emu_map`, `emu_zone`)\n\n")
	r.p("An address-free reservation is mapped with `MAP_FIXED_NOREPLACE` just below the previous one, already 64 KiB aligned: one `mmap`, ")
	r.p("where mapping anywhere and trimming to a 64 KiB boundary took up to five calls. The kernel puts the process's other mappings top-down just below ")
	r.p("its latest ones, which is where the next reservation would be tried, so after any placement the kernel chose the emulation continues 64 GiB ")
	r.p("below it. Released ranges are not handed out again at once (a hint may be aimed at them, as Go's arena hints are): they wait in a ")
	r.p("64-entry quarantine, then become holes that later reservations take, highest fit first, so a long run stays in a bounded range. ")
	r.p("System calls per handshake now: %s at 4 KiB, %s at 64 KiB, %s at 1 MiB (raw: %s); handshake ÷ raw %s, %s, %s.\n\n",
		r.sc("linux", "handshake", 4*kib, "memwin"), r.sc("linux", "handshake", 64*kib, "memwin"), r.sc("linux", "handshake", mib, "memwin"),
		r.sc("linux", "handshake", 64*kib, "raw"), tr("handshake", 4*kib), tr("handshake", 64*kib), tr("handshake", mib))

	r.p("### 2. Page states as runs (`emu_pages_ready`, `emu_pages_set`)\n\n")
	r.p("A reservation records its page states as runs of equal state (8 bytes a run, found by binary search): one run while its pages agree, a few ")
	r.p("after partial commits (as Go's heap makes within an arena), whatever the reservation's size. ")
	r.p("A 64 MiB reservation used to `calloc` 16 KiB at reserve, which glibc trimmed and faulted in again; now a reserve allocates one small record. ")
	r.p("At %s: reserve %s×, commit %s×, release %s× the raw calls; %s page faults per reserve (raw %s). ",
		sizeLabel(big), tr("reserve", big), tr("commit", big), tr("release", big),
		fmtCount(d.count(key{"linux", "trans", "reserve", big, "memwin"}, "minflt")), fmtCount(d.count(key{"linux", "trans", "reserve", big, "raw"}, "minflt")))
	r.p("With glibc's trimming switched off (`GLIBC_TUNABLES=glibc.malloc.trim_threshold=1073741824:glibc.malloc.top_pad=33554432`): reserve %s×, ",
		fmtRatioShort(r.rt("linuxnotrim", "trans", "reserve", big, "memwin", "raw")))
	r.p("commit %s×, release %s× — the heap no longer matters.\n\n",
		fmtRatioShort(r.rt("linuxnotrim", "trans", "commit", big, "memwin", "raw")), fmtRatioShort(r.rt("linuxnotrim", "trans", "release", big, "memwin", "raw")))

	r.p("### 3. Lookups at constant cost (`emu_find`: granule index, big-reservation tree)\n\n")
	r.p("Reservations under 1 MiB are found through a two-level index by 64 KiB granule (one pointer per granule, set at reserve, cleared at release; ")
	r.p("empty leaves are kept in a small cache and reused warm); reservations of 1 MiB and more through their own AVL tree, so a 64 MiB reservation ")
	r.p("does not write 1024 index slots each time. There is no tree of all reservations any more: the ordered questions (does a hinted range overlap ")
	r.p("a reservation, where does a free run end) walk the index 64 granules at a time (a bitmap per leaf), skip absent leaves with a two-level bitmap, and ask the big tree. ")
	r.p("Released records are kept for the next reservations, so a reserve/release pair costs no `malloc` or `free`. ")
	var norm []string
	base := r.rt("linux", "scale", "cycle", first(r.pops), "memwin", "raw")
	for _, n := range r.pops {
		if s := r.rt("linux", "scale", "cycle", n, "memwin", "raw"); s.ok() && base.ok() {
			norm = append(norm, fmt.Sprintf("%s %.2f", countLabel(n), s.med/base.med))
		}
	}
	r.p("The cycle's ratio to raw relative to that at %s live reservations: %s. ", countLabel(first(r.pops)), strings.Join(norm, ", "))
	if pops := d.params("linux", "components", "tree-random"); len(pops) >= 2 {
		lo, hi := pops[0], pops[len(pops)-1]
		r.p("For scale: a tree lookup at random costs %s at %s and %s at %s, the index %s and %s (components table).",
			r.ab("linux", "components", "tree-random", lo, "rtree_floor"), countLabel(lo), r.ab("linux", "components", "tree-random", hi, "rtree_floor"), countLabel(hi),
			r.ab("linux", "components", "tree-random", lo, "granule-index"), r.ab("linux", "components", "tree-random", hi, "granule-index"))
	}
	r.p("\n\n")

	r.p("### 4. Only the reservation's own pages are mapped (the 4 KiB row)\n\n")
	r.p("A reservation owns whole 64 KiB granules (Windows' rule), but only its pages are mapped; the rest of its last granule stays unmapped and owned. ")
	r.p("A commit of a 4 KiB reservation therefore changes a whole kernel mapping instead of splitting a 64 KiB one: commit %s×, decommit %s×, fault %s× at 4 KiB. ",
		tr("commit", 4*kib), tr("decommit", 4*kib), tr("fault", 4*kib))
	r.p("The price is at reserve (%s× at 4 KiB): each 4 KiB reservation is a kernel mapping of its own, 64 KiB from the next, where raw 4 KiB mappings ", tr("reserve", 4*kib))
	r.p("placed side by side merge into one. That is Windows' allocation granularity, not memwin's code; Go's reservations are 64 KiB multiples.\n\n")

	if len(r.threads) > 1 {
		tN := r.threads[len(r.threads)-1]
		r.p("### 5. The global lock, held across the system call (unchanged)\n\n")
		r.p("With %d threads cycling, the process blocks %s times per cycle with libmemwin.so and %s with raw calls (voluntary context switches). ",
			tN, fmtCount4(d.count(key{"linux", "threads", "cycle", tN, "memwin"}, "nvcsw")), fmtCount4(d.count(key{"linux", "threads", "cycle", tN, "raw"}, "nvcsw")))
		r.p("Throughput does not collapse (threads table): `mmap` and `mprotect` take the kernel's `mmap_lock` for writing anyway, so the raw calls are ")
		r.p("serialised too. If it matters later: a `pthread_rwlock_t`, read-held by commit, decommit and query with a per-reservation lock for the page state.\n\n")
	}

	if len(r.alignSizes) > 0 {
		n := r.alignSizes[0]
		r.p("### 6. Aligned reservation in one call (`memwin_reserve_aligned`, opt-in)\n\n")
		r.p("Go's `sysReserveAligned` releases an unaligned reservation and re-reserves its aligned part, a window in which another thread can take it. ")
		r.p("`memwin_reserve_aligned` (and `sysReserveAligned` after `memwin_set_reserve_aligned_one_call(1)`) makes one aligned reservation in one ")
		r.p("primitive call: VirtualAlloc2 with an address requirement on Windows (looked up at run time), an aligned placement in the emulation. ")
		r.p("At %s, one thread: Go's loop %s, one call %s (%s); 8 threads: %s against %s (%s). Lost races per reservation with 8 threads: %s for Go's loop over raw calls, ",
			sizeLabel(n), r.ab("linux", "aligned", "t1", n, "memwin"), r.ab("linux", "aligned", "t1", n, "onecall"),
			fmtRatioShort(r.rt("linux", "aligned", "t1", n, "onecall", "memwin")),
			r.ab("linux", "aligned", "t8", n, "memwin"), r.ab("linux", "aligned", "t8", n, "onecall"),
			fmtRatioShort(r.rt("linux", "aligned", "t8", n, "onecall", "memwin")),
			fmtCount4(d.count(key{"linux", "aligned", "t8", n, "rawloop"}, "retries")))
		r.p("%s through memwin's loop, none possible with one call. The test `ReserveAlignedOneCall.EightThreadsRace` shows the difference under Wine, ",
			fmtCount4(d.count(key{"linux", "aligned", "t8", n, "memwin"}, "retries")))
		r.p("where the OS reuses a released range at once (the emulation does not, which narrows the window). The Go-exact sequence stays the default.\n\n")
	}

	if len(r.ks) > 0 {
		k := r.ks[len(r.ks)-1]
		r.p("### 7. Go's halving loops (no change)\n\n")
		r.p("Across %d adjacent reservations one `sysUnused` makes %s calls and takes %s× the time of one call per reservation (Linux; Go's own runtime under Wine: %s×). ",
			k, fmtCount(d.count(key{"linux", "fallback", "unused", k, "memwin"}, "prim")),
			fmtRatioShort(r.rt("linux", "fallback", "unused", k, "memwin", "raw")),
			fmtRatioShort(r.rt("gowin", "gofallback", "unused", k, "go", "raw")))
		r.p("This is Go's algorithm, reproduced call for call; changing it would break conformance.\n")
	}
}
