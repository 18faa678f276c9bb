// Command report turns the records of bench/run.sh (build/bench/results)
// into docs/performance.md and its plots, and checks the performance
// targets.
//
// Usage: go run ./report -results DIR -docs DIR [-work DIR] [-check]
//
// With -check the exit status is 1 when a target is missed (the report is
// written either way).
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

var (
	ratioOps = []string{"reserve", "commit", "decommit", "fault", "release", "cycle", "handshake"}
	allOps   = []string{"reserve", "map", "commit", "decommit", "fault", "release", "cycle", "handshake"}
	opTitle  = map[string]string{
		"reserve":   "reserve (None→Reserved)",
		"map":       "map (Reserved→Prepared)",
		"commit":    "commit (Prepared→Ready)",
		"decommit":  "decommit (Ready→Prepared)",
		"fault":     "fault (Ready→Reserved)",
		"release":   "release (Ready→None)",
		"cycle":     "used⇄unused cycle",
		"handshake": "handshake (reserve, map, used, free)",
	}
)

func fatalf(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "report: "+format+"\n", a...)
	os.Exit(2)
}

type target struct {
	name, rule, measured string
	pass                 bool
}

type report struct {
	d                    *dataset
	sizes, pops, threads []uint64
	ks, alignSizes       []uint64
	b                    strings.Builder
	targets              []target
	plotNames            []string
	tracePlot            string // the committed-bytes plot of a trace, if drawn
}

func (r *report) p(format string, a ...interface{}) { fmt.Fprintf(&r.b, format, a...) }

// params lists the parameters present for a program, suite and case, sorted.
func (d *dataset) params(prog, suite, cas string) []uint64 {
	seen := map[uint64]bool{}
	for k := range d.samples {
		if k.prog == prog && k.suite == suite && (cas == "" || k.cas == cas) {
			seen[k.param] = true
		}
	}
	for k := range d.counts {
		if k.prog == prog && k.suite == suite && (cas == "" || k.cas == cas) {
			seen[k.param] = true
		}
	}
	var out []uint64
	for p := range seen {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func main() {
	results := flag.String("results", "", "directory of the records (build/bench/results)")
	docs := flag.String("docs", "", "where performance.md and the plots go (docs)")
	work := flag.String("work", "", "directory for plot data and scripts (default: results/../plots)")
	check := flag.Bool("check", false, "exit 1 if a target is missed")
	traces := flag.String("traces", "", "tests/traces, for the plot of a trace's committed bytes")
	flag.Parse()
	if *results == "" || *docs == "" {
		fatalf("usage: report -results DIR -docs DIR [-work DIR] [-check]")
	}
	if *work == "" {
		*work = filepath.Join(filepath.Dir(*results), "plots")
	}
	for _, dir := range []string{*docs, *work} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fatalf("%v", err)
		}
	}
	d, err := load(*results)
	if err != nil {
		fatalf("%v", err)
	}
	r := &report{d: d}
	r.sizes = d.params("linux", "trans", "")
	if len(r.sizes) == 0 {
		r.sizes = d.params("wine", "trans", "")
	}
	r.pops = d.params("linux", "scale", "cycle")
	r.threads = d.params("linux", "threads", "cycle")
	r.ks = d.params("linux", "fallback", "unused")
	r.alignSizes = d.params("linux", "aligned", "t1")
	r.evaluate()
	pl := &plotter{work: *work, docs: *docs}
	r.plots(pl)
	if *traces != "" {
		r.plotTrace(pl, *traces)
	}
	r.plotNames = pl.made
	r.write()
	out := filepath.Join(*docs, "performance.md")
	if err := os.WriteFile(out, []byte(r.b.String()), 0o644); err != nil {
		fatalf("%v", err)
	}
	fmt.Printf("report: wrote %s and %s\n", out, strings.Join(pl.made, ", "))
	failed := 0
	for _, t := range r.targets {
		status := "PASS"
		if !t.pass {
			status = "FAIL"
			failed++
		}
		fmt.Printf("  %-4s %s: %s\n", status, t.name, t.measured)
	}
	if *check && failed > 0 {
		fmt.Printf("report: %d of %d targets missed\n", failed, len(r.targets))
		os.Exit(1)
	}
}

// ---- targets ---------------------------------------------------------------------

func (r *report) perOpPooled(prog, suite, a, b string, ops []string) (map[string]stats, string, float64) {
	out := map[string]stats{}
	worst, worstV := "", math.Inf(-1)
	for _, op := range ops {
		s := r.d.pooledRatio(key{prog, suite, op, 0, a}, key{prog, suite, op, 0, b}, r.d.params(prog, suite, op))
		out[op] = s
		if s.ok() && s.med > worstV {
			worst, worstV = op, s.med
		}
	}
	return out, worst, worstV
}

func listOps(m map[string]stats, ops []string) string {
	var parts []string
	for _, op := range ops {
		if s := m[op]; s.ok() {
			parts = append(parts, fmt.Sprintf("%s %.2f", op, s.med))
		}
	}
	return strings.Join(parts, ", ")
}

func (r *report) evaluate() {
	d := r.d
	// 1. memwin.dll against kernel32 under Wine.
	if m, worst, v := r.perOpPooled("wine", "trans", "memwin", "raw", ratioOps); worst != "" {
		r.targets = append(r.targets, target{
			name:     "memwin.dll ≤ 1.03× raw VirtualAlloc/VirtualFree under Wine",
			rule:     "for every transition, the median of its paired ratios over all sizes ≤ 1.03 (C benchmark)",
			measured: fmt.Sprintf("worst %s %.3f; %s", worst, v, listOps(m, ratioOps)),
			pass:     v <= 1.03,
		})
	}
	// 2. the Linux emulation against its raw system calls.
	if m, worst, v := r.perOpPooled("linux", "trans", "memwin", "raw", ratioOps); worst != "" {
		r.targets = append(r.targets, target{
			name:     "Linux emulation ≤ 1.05× its raw system calls",
			rule:     "for every transition, the median of its paired ratios over all sizes ≤ 1.05",
			measured: fmt.Sprintf("worst %s %.3f; %s", worst, v, listOps(m, ratioOps)),
			pass:     v <= 1.05,
		})
	}
	// 3. the cycle flat from 10 to 100k live reservations.
	if len(r.pops) > 1 {
		base := d.ratio(key{"linux", "scale", "cycle", r.pops[0], "memwin"}, key{"linux", "scale", "cycle", r.pops[0], "raw"})
		worst, worstN := 0.0, uint64(0)
		var parts []string
		for _, n := range r.pops {
			s := d.ratio(key{"linux", "scale", "cycle", n, "memwin"}, key{"linux", "scale", "cycle", n, "raw"})
			if !s.ok() || !base.ok() {
				continue
			}
			g := s.med / base.med
			parts = append(parts, fmt.Sprintf("%s: %.2f", countLabel(n), g))
			if g > worst {
				worst, worstN = g, n
			}
		}
		absG := d.abs(key{"linux", "scale", "cycle", r.pops[len(r.pops)-1], "memwin"}).med /
			d.abs(key{"linux", "scale", "cycle", r.pops[0], "memwin"}).med
		r.targets = append(r.targets, target{
			name: fmt.Sprintf("cycle flat within 1.1× from %s to %s live reservations", countLabel(r.pops[0]), countLabel(r.pops[len(r.pops)-1])),
			rule: "Linux emulation: its cycle ÷ raw cycle at N, divided by the same at the smallest N, ≤ 1.1 for every N " +
				"(normalised by the raw calls of the same moment, so the shared machine's drift cancels)",
			measured: fmt.Sprintf("worst %.3f at %s (%s); un-normalised memwin time %s÷%s: %.2f",
				worst, countLabel(worstN), strings.Join(parts, ", "), countLabel(r.pops[len(r.pops)-1]), countLabel(r.pops[0]), absG),
			pass: worst <= 1.1,
		})
	}
	// 4. no throughput collapse from 1 to 8 threads.
	if len(r.threads) > 1 {
		t1, tN := r.threads[0], r.threads[len(r.threads)-1]
		pass := true
		var parts []string
		for _, op := range []string{"cycle", "handshake"} {
			r1 := d.ratio(key{"linux", "threads", op, t1, "memwin"}, key{"linux", "threads", op, t1, "raw"})
			rN := d.ratio(key{"linux", "threads", op, tN, "memwin"}, key{"linux", "threads", op, tN, "raw"})
			a1 := d.abs(key{"linux", "threads", op, t1, "memwin"})
			aN := d.abs(key{"linux", "threads", op, tN, "memwin"})
			if !r1.ok() || !rN.ok() {
				continue
			}
			keep := a1.med / aN.med // throughput at N threads ÷ at 1
			rel := rN.med / r1.med
			if keep < 0.5 || rel > 1.25 {
				pass = false
			}
			parts = append(parts, fmt.Sprintf("%s: throughput ×%.2f, ratio to raw %.2f→%.2f", op, keep, r1.med, rN.med))
		}
		r.targets = append(r.targets, target{
			name:     fmt.Sprintf("no throughput collapse from %d to %d threads", t1, tN),
			rule:     fmt.Sprintf("Linux emulation, cycle and handshake: throughput at %d threads ≥ 0.5× that at %d, and its ratio to raw grows by at most 1.25×", tN, t1),
			measured: strings.Join(parts, "; "),
			pass:     pass,
		})
	}
	r.replayTargets()
}

// ---- the document -------------------------------------------------------------------

func (r *report) write() {
	d := r.d
	m := d.meta
	r.p("# Performance\n\n")
	r.p("*Written by `bench/run.sh` — do not edit by hand; run it again.* ")
	r.p("Run of %s, %s mode: %s rounds of each program, %s timed repetitions per case and side in each.\n\n",
		orDash(m["date"]), orDash(m["mode"]), orDash(m["rounds"]), orDash(m["reps"]))
	r.p("memwin's exports are timed against the raw primitives with the same effect in the same process, ")
	r.p("and against the Go runtime's own functions, for every transition of Go's handshake and every size; ")
	r.p("then with many live reservations, with threads, across adjacent reservations and for aligned reservations. ")
	r.p("The figures that matter are **ratios**; absolute times are shown for orientation only, not claimed: ")
	r.p("the machine is shared (load average %s at the start, %s at the end, on %s cores).\n\n",
		orDash(m["load_start"]), orDash(m["load_end"]), orDash(m["cores"]))
	r.p("```sh\nbench/run.sh            # quick run (about %s here), writes this file and docs/perf-*.png\n", orDash(m["duration_hint"]))
	r.p("bench/run.sh --long     # more repetitions and rounds\nbench/run.sh --check    # also checks the targets below; exit status 1 if one is missed\n```\n\n")

	r.p("| machine | |\n|---|---|\n")
	for _, kv := range [][2]string{{"cpu", "CPU"}, {"cores", "cores"}, {"kernel", "Linux kernel"}, {"wine", "Wine"}, {"go", "Go (windows/amd64 program)"}, {"cc", "C compilers"}, {"memwin", "memwin"}} {
		v := m[kv[0]]
		if kv[0] == "go" && v == "" {
			v = d.info["gowin"]["go"]
		}
		if kv[0] == "memwin" && v == "" {
			v = d.info["linux"]["memwin"]
		}
		r.p("| %s | %s |\n", kv[1], orDash(v))
	}
	r.p("\n")

	r.method()
	r.targetTable()
	r.summary()
	r.mainTable()
	r.perSize()
	r.syscallTable()
	r.scaleSection()
	r.threadSection()
	r.fallbackSection()
	r.alignedSection()
	r.replaySection()
	r.componentSection()
	r.proposals()
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

func (r *report) method() {
	r.p("## How it is measured\n\n")
	r.p("- **Programs.** `bench/bench.c`, built twice: natively against `libmemwin.so` (raw side: `mmap`, `mprotect`, `munmap` called directly) ")
	r.p("and with mingw-w64 against `memwin.dll`, run under Wine (raw side: `VirtualAlloc` / `VirtualFree` called directly). ")
	r.p("`bench/gowin` is a windows/amd64 Go program, run under Wine, that times the runtime's own `sysReserve`, `sysMap`, `sysUsed`, ")
	r.p("`sysUnused`, `sysFault`, `sysFree`, `sysUsedOS`, `sysUnusedOS`, `sysReserveAligned` (reached with `//go:linkname`, linked with ")
	r.p("`-ldflags=-checklinkname=0`) next to memwin.dll's exports (loaded by absolute path) and kernel32 called directly.\n")
	r.p("- **Same effect.** reserve: an inaccessible mapping / `MEM_RESERVE`; commit: `mprotect(RW)` / `MEM_COMMIT`; decommit and fault: a fresh ")
	r.p("`PROT_NONE` mapping over the range with `MAP_FIXED` (the pages read zero when committed again, as on Windows) / `MEM_DECOMMIT`; ")
	r.p("release: `munmap` / `MEM_RELEASE`. memwin's side is Go's generic layer (`sysReserve`, `sysMap`, `sysUsed`, `sysUnused`, `sysFault`, `sysFree`), ")
	r.p("accounting included. *map* has no raw counterpart (on Windows `sysMapOS` does nothing), so it has no ratio.\n")
	r.p("- **Batches.** A batch is 64 operations on 64 regions (16 for 64 MiB), timed as a whole; set-up and tear-down are outside the timing. ")
	r.p("No page is touched: the figures are the cost of the virtual-memory bookkeeping, not of page faults or zeroing, which are the same on both sides.\n")
	r.p("- **Interleaving.** In every repetition the sides run one batch each, in turn — A B, then B A in the next repetition (A B B A A B …), ")
	r.p("so that neither side always runs first — after two warm-up rounds; ")
	r.p("the programs themselves run in rounds (Linux, Wine C, Wine Go, Linux, …).\n")
	r.p("- **Figures.** Each ratio is the median of the *paired* ratios (batch of A ÷ the batch of B next to it), with the minimum and maximum in ")
	r.p("parentheses; the Linux-emulation ÷ Wine ratio pairs the same round and repetition of the two processes. Absolute times are medians.\n")
	r.p("- **System calls.** `strace -f` of a `trace` run, which puts marker calls around 32 transitions and around none; ")
	r.p("the difference ÷ 32 is the count per transition. memwin's primitive calls (VirtualAlloc/VirtualFree) are counted by a wrapping ")
	r.p("primitive table (`memwin_prim_set`), the Go runtime's by swapping its `_VirtualAlloc`/`_VirtualFree` slots for counting hooks.\n\n")
}

func (r *report) targetTable() {
	r.p("## Targets (`bench/run.sh --check`)\n\n")
	r.p("| target | rule | measured | |\n|---|---|---|---|\n")
	for _, t := range r.targets {
		st := "**met**"
		if !t.pass {
			st = "**missed**"
		}
		r.p("| %s | %s | %s | %s |\n", t.name, t.rule, t.measured, st)
	}
	r.p("\n")
}

func (r *report) summary() {
	d := r.d
	r.p("## In short\n\n")
	var wine, lin []float64
	for _, op := range ratioOps {
		if s := d.pooledRatio(key{"wine", "trans", op, 0, "memwin"}, key{"wine", "trans", op, 0, "raw"}, r.sizes); s.ok() {
			wine = append(wine, s.med)
		}
		if s := d.pooledRatio(key{"linux", "trans", op, 0, "memwin"}, key{"linux", "trans", op, 0, "raw"}, r.sizes); s.ok() {
			lin = append(lin, s.med)
		}
	}
	lo, hi := minmax(wine)
	r.p("- **memwin.dll** costs %.2f–%.2f× kernel32 called directly, per transition, under Wine, and makes exactly the Go runtime's Win32 calls ", lo, hi)
	r.p("(one per transition); against the Go runtime's own functions in the same process it is within the noise (main table).\n")
	lo, hi = minmax(lin)
	var cross []float64
	for _, op := range ratioOps {
		if s := r.crossPooled(op); s.ok() {
			cross = append(cross, s.med)
		}
	}
	clo, chi := minmax(cross)
	r.p("- **The Linux emulation** costs %.2f–%.2f× its raw system calls per transition: one system call per transition, the handshake ", lo, hi)
	r.p("as well (3, as the raw calls). Running the same sequence it takes %.2f–%.2f× the time of Wine's VirtualAlloc/VirtualFree, which pay three host system calls each.\n", clo, chi)
	r.p("- **Scale:** see the live-reservation, thread, fallback and aligned sections; the last section says what was changed in the emulation to get here and what remains.\n\n")
}

func minmax(xs []float64) (float64, float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	lo, hi := xs[0], xs[0]
	for _, x := range xs {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

// joinSizes writes per-size values as one value when they are all equal.
func joinSizes(vs []float64) string {
	if len(vs) == 0 {
		return "—"
	}
	same := true
	for _, v := range vs[1:] {
		if math.Abs(v-vs[0]) > 0.005 && !(math.IsNaN(v) && math.IsNaN(vs[0])) {
			same = false
		}
	}
	if same {
		return fmtCount(vs[0])
	}
	var parts []string
	for _, v := range vs {
		parts = append(parts, fmtCount(v))
	}
	return strings.Join(parts, " · ")
}

func (r *report) syscallsPerSize(prog, op, side string) []float64 {
	var vs []float64
	for _, n := range r.sizes {
		sc, ok := r.d.syscalls[key{prog, "strace", op, n, side}]
		if !ok {
			vs = append(vs, math.NaN())
			continue
		}
		vs = append(vs, sc["total"])
	}
	return vs
}

func (r *report) countsPerSize(prog, suite, op, side, metric string) []float64 {
	var vs []float64
	for _, n := range r.sizes {
		vs = append(vs, r.d.count(key{prog, suite, op, n, side}, metric))
	}
	return vs
}

func (r *report) mainTable() {
	d := r.d
	r.p("## Main table: every transition, all sizes together\n\n")
	r.p("Median of the paired ratios over all sizes (4 KiB – 64 MiB), minimum–maximum in parentheses. ")
	r.p("Below 1 is faster than the baseline. System and Win32 calls are per transition, per size from 4 KiB to 64 MiB where they differ.\n\n")
	r.p("| transition | Linux emulation ÷ raw syscalls | Linux emulation ÷ Wine's kernel32 | memwin.dll ÷ kernel32 (Wine, C) | memwin.dll ÷ kernel32 (Wine, Go program) | Go runtime ÷ kernel32 (Wine) | memwin.dll ÷ Go runtime (Wine) | Linux syscalls memwin / raw | Win32 calls memwin.dll / Go |\n")
	r.p("|---|---|---|---|---|---|---|---|---|\n")
	for _, op := range allOps {
		lin := d.pooledRatio(key{"linux", "trans", op, 0, "memwin"}, key{"linux", "trans", op, 0, "raw"}, r.sizes)
		cross := r.crossPooled(op)
		win := d.pooledRatio(key{"wine", "trans", op, 0, "memwin"}, key{"wine", "trans", op, 0, "raw"}, r.sizes)
		gm := d.pooledRatio(key{"gowin", "gotrans", op, 0, "memwin"}, key{"gowin", "gotrans", op, 0, "raw"}, r.sizes)
		gg := d.pooledRatio(key{"gowin", "gotrans", op, 0, "go"}, key{"gowin", "gotrans", op, 0, "raw"}, r.sizes)
		mg := d.pooledRatio(key{"gowin", "gotrans", op, 0, "memwin"}, key{"gowin", "gotrans", op, 0, "go"}, r.sizes)
		sc := joinSizes(r.syscallsPerSize("linux", op, "memwin")) + " / " + joinSizes(r.syscallsPerSize("linux", op, "raw"))
		if op == "map" {
			sc = joinSizes(r.syscallsPerSize("linux", op, "memwin")) + " / —"
		}
		w32 := joinSizes(r.countsPerSize("gowin", "gocalls", op, "memwin", "win32")) + " / " + joinSizes(r.countsPerSize("gowin", "gocalls", op, "go", "win32"))
		r.p("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", opTitle[op], fmtRatio(lin), fmtRatio(cross), fmtRatio(win),
			fmtRatio(gm), fmtRatio(gg), fmtRatio(mg), sc, w32)
	}
	r.p("\n![ratio to raw per size](perf-transitions.png)\n\n")
}

// crossPooled: the Linux emulation's memwin side ÷ Wine's kernel32 side.
func (r *report) crossPooled(op string) stats {
	var all []float64
	for _, n := range r.sizes {
		all = append(all, r.d.ratios(key{"linux", "trans", op, n, "memwin"}, key{"wine", "trans", op, n, "raw"})...)
	}
	return summarize(all)
}

func (r *report) sizeHeader(first string) {
	r.p("| %s |", first)
	for _, n := range r.sizes {
		r.p(" %s |", sizeLabel(n))
	}
	r.p("\n|---|")
	for range r.sizes {
		r.p("---|")
	}
	r.p("\n")
}

func (r *report) ratioRows(fn func(op string, n uint64) string, ops []string) {
	for _, op := range ops {
		r.p("| %s |", op)
		for _, n := range r.sizes {
			r.p(" %s |", fn(op, n))
		}
		r.p("\n")
	}
	r.p("\n")
}

// transKey makes the record keys of one program's transition suite for one
// side, by transition and size.
func transKey(prog, suite, side string) func(op string, n uint64) key {
	return func(op string, n uint64) key { return key{prog, suite, op, n, side} }
}

// ratioTable: per transition and size, a ÷ b (median of the paired ratios,
// min–max).
func (r *report) ratioTable(title string, ops []string, a, b func(op string, n uint64) key) {
	r.sizeHeader(title)
	r.ratioRows(func(op string, n uint64) string { return fmtRatio(r.d.ratio(a(op, n), b(op, n))) }, ops)
}

// timeTable: per transition and size, the sides' median times ("x / y").
func (r *report) timeTable(title string, ops []string, sides ...func(op string, n uint64) key) {
	r.sizeHeader(title)
	r.ratioRows(func(op string, n uint64) string {
		parts := make([]string, len(sides))
		for i, side := range sides {
			parts[i] = fmtAbs(r.d.abs(side(op, n)))
		}
		return strings.Join(parts, " / ")
	}, ops)
}

func (r *report) perSize() {
	linuxMemwin, linuxRaw := transKey("linux", "trans", "memwin"), transKey("linux", "trans", "raw")
	wineMemwin, wineRaw := transKey("wine", "trans", "memwin"), transKey("wine", "trans", "raw")
	goGo, goMemwin, goRaw := transKey("gowin", "gotrans", "go"), transKey("gowin", "gotrans", "memwin"), transKey("gowin", "gotrans", "raw")
	r.p("## Per size\n\n")
	r.p("### Linux: libmemwin.so ÷ mmap/mprotect/munmap\n\n")
	r.ratioTable("ratio (min–max)", ratioOps, linuxMemwin, linuxRaw)
	r.timeTable("memwin / raw, median time", allOps, linuxMemwin, linuxRaw)

	r.p("### Linux emulation ÷ Wine's VirtualAlloc/VirtualFree (same sequence, two processes)\n\n")
	r.ratioTable("ratio (min–max)", ratioOps, linuxMemwin, wineRaw)

	r.p("### Wine: memwin.dll ÷ kernel32 (C benchmark)\n\n")
	r.ratioTable("ratio (min–max)", ratioOps, wineMemwin, wineRaw)
	r.timeTable("memwin.dll / kernel32, median time", allOps, wineMemwin, wineRaw)

	r.p("### Wine, one Go program: Go runtime, memwin.dll, kernel32\n\n")
	r.ratioTable("memwin.dll ÷ Go runtime", allOps, goMemwin, goGo)
	r.ratioTable("Go runtime ÷ kernel32", ratioOps, goGo, goRaw)
	r.timeTable("Go / memwin.dll / kernel32, median time", allOps, goGo, goMemwin, goRaw)
}

func (r *report) syscallTable() {
	d := r.d
	r.p("## System and primitive calls per transition\n\n")
	r.p("Goal: exactly one system call per transition. Values per size (4 KiB · 64 KiB · 1 MiB · 16 MiB · 64 MiB) where they differ. ")
	r.p("*Linux syscalls* and *Wine host syscalls* are from `strace -f` (the Linux system calls a transition costs, Wine's own included); ")
	r.p("*primitive calls* are memwin's VirtualAlloc/VirtualFree calls (counting table), *Win32 calls* the Go runtime's (counting hooks); ")
	r.p("*page faults* are the process's minor faults per transition during the timed batches (Linux).\n\n")
	r.p("| transition | memwin primitive calls | Linux syscalls: libmemwin.so | raw | Win32 calls: memwin.dll | Go runtime | Wine host syscalls: memwin.dll | kernel32 | page faults: libmemwin.so | raw |\n")
	r.p("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, op := range allOps {
		r.p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", op,
			joinSizes(r.countsPerSize("linux", "calls", op, "memwin", "prim")),
			joinSizes(r.syscallsPerSize("linux", op, "memwin")), joinSizes(r.syscallsPerSize("linux", op, "raw")),
			joinSizes(r.countsPerSize("gowin", "gocalls", op, "memwin", "win32")), joinSizes(r.countsPerSize("gowin", "gocalls", op, "go", "win32")),
			joinSizes(r.syscallsPerSize("wine", op, "memwin")), joinSizes(r.syscallsPerSize("wine", op, "raw")),
			joinSizes(r.countsPerSize("linux", "trans", op, "memwin", "minflt")), joinSizes(r.countsPerSize("linux", "trans", op, "raw", "minflt")))
	}
	r.p("\n")
	// the calls behind the handshake's extra system calls
	var detail []string
	for _, n := range r.sizes {
		if sc, ok := d.syscalls[key{"linux", "strace", "handshake", n, "memwin"}]; ok && sc["total"] > 3.5 {
			detail = append(detail, fmt.Sprintf("%s: %s", sizeLabel(n), namesOf(sc)))
		}
	}
	if len(detail) > 0 {
		r.p("Where libmemwin.so makes more than one system call a step, the calls are (per handshake): %s. ", strings.Join(detail, "; "))
		r.p("The extra `mmap` + `munmap` pairs come from the emulation's placement falling back to a trimmed mapping when its next address is taken (see the last section).\n\n")
	}
	if sc, ok := d.syscalls[key{"wine", "strace", "commit", 65536, "raw"}]; ok {
		r.p("Under Wine every kernel32 call costs %s host system calls (%s): Wine blocks signals around each virtual-memory operation. ",
			fmtCount(sc["total"]), namesOf(sc))
		r.p("memwin.dll adds none.\n\n")
	}
	if a, ok := d.syscalls[key{"linux", "strace", "threads8", 65536, "memwin"}]; ok {
		b := d.syscalls[key{"linux", "strace", "threads8", 65536, "raw"}]
		r.p("With 8 threads cycling on 64 KiB regions under strace (which slows every call and so exaggerates contention), ")
		r.p("a cycle (two transitions) costs %s futex calls with libmemwin.so and %s with the raw calls: threads wait on the emulation's lock.\n\n",
			fmtCount(a["futex"]), fmtCount(b["futex"]))
	}
}

func namesOf(sc map[string]float64) string {
	var names []string
	for n := range sc {
		if n != "total" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %s", fmtCount(sc[n]), "`"+n+"`"))
	}
	return strings.Join(parts, ", ")
}

func (r *report) scaleSection() {
	d := r.d
	r.p("## Live reservations (lookup cost)\n\n")
	r.p("N reservations of 64 KiB are live (made through memwin); the used⇄unused cycle (commit, then decommit) runs on up to 64 of them in turn, ")
	r.p("through memwin and with the raw calls on the same regions (the raw calls leave memwin's page state as it was), then the handshake ")
	r.p("creates and frees one more reservation 64 times. Ratios are memwin ÷ raw at the same N.\n\n")
	r.p("| live reservations | Linux cycle: libmemwin.so / raw | ratio | ratio ÷ ratio at %s | handshake ratio | Wine cycle: memwin.dll / kernel32 | ratio | memwin reserve while populating |\n", countLabel(first(r.pops)))
	r.p("|---|---|---|---|---|---|---|---|\n")
	base := d.ratio(key{"linux", "scale", "cycle", first(r.pops), "memwin"}, key{"linux", "scale", "cycle", first(r.pops), "raw"})
	for _, n := range r.pops {
		lc := d.ratio(key{"linux", "scale", "cycle", n, "memwin"}, key{"linux", "scale", "cycle", n, "raw"})
		norm := "—"
		if lc.ok() && base.ok() {
			norm = fmt.Sprintf("%.2f", lc.med/base.med)
		}
		r.p("| %s | %s / %s | %s | %s | %s | %s / %s | %s | %s |\n", countLabel(n),
			fmtAbs(d.abs(key{"linux", "scale", "cycle", n, "memwin"})), fmtAbs(d.abs(key{"linux", "scale", "cycle", n, "raw"})),
			fmtRatio(lc), norm,
			fmtRatio(d.ratio(key{"linux", "scale", "handshake", n, "memwin"}, key{"linux", "scale", "handshake", n, "raw"})),
			fmtAbs(d.abs(key{"wine", "scale", "cycle", n, "memwin"})), fmtAbs(d.abs(key{"wine", "scale", "cycle", n, "raw"})),
			fmtRatio(d.ratio(key{"wine", "scale", "cycle", n, "memwin"}, key{"wine", "scale", "cycle", n, "raw"})),
			fmtTime(d.count(key{"linux", "scale", "populate", n, "memwin"}, "ns_per_reserve")))
	}
	for _, n := range r.pops {
		if v := d.count(key{"wine", "scale", "populate", n, "memwin"}, "failed_at"); !math.IsNaN(v) {
			r.p("\nUnder Wine, %s live reservations could not be made: VirtualAlloc failed with ERROR_NOT_ENOUGH_MEMORY after %s "+
				"(Wine maps every reservation separately and reaches the kernel's `vm.max_map_count`, %s here); the Linux emulation's ",
				countLabel(n), fmtCount(v), orDash(d.meta["max_map_count"]))
			r.p("adjacent reservations merge into few kernel mappings and do not hit it.\n")
		}
	}
	r.p("\nThe populations are measured one after the other, so the absolute times also follow the machine's load; the paired ratios do not.\n")
	r.p("\n![cycle against live reservations](perf-scale.png)\n\n")
}

func first(xs []uint64) uint64 {
	if len(xs) == 0 {
		return 0
	}
	return xs[0]
}

func (r *report) threadSection() {
	d := r.d
	r.p("## Threads (lock contention)\n\n")
	r.p("Each thread cycles its own 64 KiB region (or runs handshakes); the same total work is split among 1, 2 and 8 threads on this 2-core machine. ")
	r.p("Throughput is transitions per millisecond of wall time, all threads together (a cycle is 2 transitions, a handshake 3). ")
	r.p("*Blocking waits* are the process's voluntary context switches per operation (Linux).\n\n")
	r.p("| case | threads | Linux: libmemwin.so / raw (transitions/ms) | ratio (time) | blocking waits memwin / raw | Wine: memwin.dll / kernel32 | ratio (time) |\n")
	r.p("|---|---|---|---|---|---|---|\n")
	for _, op := range []string{"cycle", "handshake"} {
		per := 2.0
		if op == "handshake" {
			per = 3
		}
		for _, t := range r.threads {
			thr := func(prog, side string) string {
				s := d.abs(key{prog, "threads", op, t, side})
				if !s.ok() {
					return "—"
				}
				return fmt.Sprintf("%.0f", per*1e6/s.med)
			}
			r.p("| %s | %d | %s / %s | %s | %s / %s | %s / %s | %s |\n", op, t,
				thr("linux", "memwin"), thr("linux", "raw"),
				fmtRatio(d.ratio(key{"linux", "threads", op, t, "memwin"}, key{"linux", "threads", op, t, "raw"})),
				fmtCount4(d.count(key{"linux", "threads", op, t, "memwin"}, "nvcsw")), fmtCount4(d.count(key{"linux", "threads", op, t, "raw"}, "nvcsw")),
				thr("wine", "memwin"), thr("wine", "raw"),
				fmtRatio(d.ratio(key{"wine", "threads", op, t, "memwin"}, key{"wine", "threads", op, t, "raw"})))
		}
	}
	r.p("\n![throughput against threads](perf-threads.png)\n\n")
}

func fmtCount4(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%.3f", v)
}

func klogk(k uint64) float64 {
	if k < 2 {
		return 1
	}
	return float64(k) * math.Log2(float64(k))
}

func (r *report) fallbackSection() {
	d := r.d
	r.p("## Go's fallback loops over k adjacent reservations\n\n")
	r.p("`sysUnused` (decommit) and `sysUsed` (commit) of one range that spans k adjacent 64 KiB reservations: the whole-range call fails ")
	r.p("(Windows refuses to cross reservations, and so does the emulation), and Go's halving loop finds the pieces. ")
	r.p("The same-effect baseline is one call per reservation; on Linux a single call over the whole range is shown too (the kernel does not care about reservations). ")
	r.p("Time ratios are medians of paired runs of 8 groups.\n\n")
	r.p("| k | calls: memwin (Linux) | memwin.dll (Wine) | Go runtime (Wine) | calls ÷ (k·log₂k) | Linux: memwin ÷ one call per reservation | ÷ one call for the range | Wine: Go runtime ÷ one call per reservation | memwin.dll ÷ Go runtime | sysUsed: memwin ÷ per reservation (Linux) |\n")
	r.p("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, k := range r.ks {
		calls := d.count(key{"linux", "fallback", "unused", k, "memwin"}, "prim")
		per := "—"
		if k >= 2 && !math.IsNaN(calls) {
			per = fmt.Sprintf("%.2f", calls/klogk(k))
		}
		r.p("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", k, fmtCount(calls),
			fmtCount(d.count(key{"gowin", "gofallback", "unused", k, "memwin"}, "win32")),
			fmtCount(d.count(key{"gowin", "gofallback", "unused", k, "go"}, "win32")), per,
			fmtRatio(d.ratio(key{"linux", "fallback", "unused", k, "memwin"}, key{"linux", "fallback", "unused", k, "raw"})),
			fmtRatio(d.ratio(key{"linux", "fallback", "unused", k, "memwin"}, key{"linux", "fallback", "unused", k, "rawone"})),
			fmtRatio(d.ratio(key{"gowin", "gofallback", "unused", k, "go"}, key{"gowin", "gofallback", "unused", k, "raw"})),
			fmtRatio(d.ratio(key{"gowin", "gofallback", "unused", k, "memwin"}, key{"gowin", "gofallback", "unused", k, "go"})),
			fmtRatio(d.ratio(key{"linux", "fallback", "used", k, "memwin"}, key{"linux", "fallback", "used", k, "raw"})))
	}
	r.p("\nThe call counts are the same for memwin and the Go runtime at every k, and calls ÷ (k·log₂k) stays flat: the loop is O(k log k) ")
	r.p("in the number of reservations crossed, Go's O(n log n) bound. memwin reproduces Go's call sequence on purpose (the conformance harness checks it), ")
	r.p("so this cost is Go's, not memwin's.\n\n![fallback loops](perf-fallback.png)\n\n")
}

func (r *report) alignedSection() {
	d := r.d
	r.p("## Aligned reservations: Go's loop against one call\n\n")
	r.p("`sysReserveAligned(NULL, size, align = size)` followed by its release, per pair. *memwin*: Go's Windows strategy through the emulation ")
	r.p("(reserve size+align; if unaligned, release and re-reserve exactly size at the aligned address, retrying when another thread took it). ")
	r.p("*rawloop*: the same loop over raw `mmap`/`munmap` (`MAP_FIXED_NOREPLACE` for the re-reserve). *rawtrim*: one `mmap(size+align)` and ")
	r.p("`munmap` of the unaligned head and the tail. *onecall*: memwin's opt-in `memwin_reserve_aligned`, one aligned reservation in one ")
	r.p("primitive call (the emulation maps it at an aligned address directly; on Windows it is VirtualAlloc2 with an address requirement), released with `sysFreeOS`. ")
	r.p("*Retries* are lost races per aligned reservation (memwin's counted by a counting primitive table). With 8 threads every thread reserves and releases concurrently.\n\n")
	r.p("| threads | size = align | memwin | rawloop | rawtrim | onecall | onecall ÷ memwin | retries: memwin | rawloop | Wine, one thread: Go runtime / memwin.dll |\n")
	r.p("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, t := range []string{"t1", "t8"} {
		for _, n := range r.alignSizes {
			g := "—"
			if t == "t1" {
				g = fmtAbs(d.abs(key{"gowin", "goaligned", "t1", n, "go"})) + " / " + fmtAbs(d.abs(key{"gowin", "goaligned", "t1", n, "memwin"}))
			}
			r.p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", strings.TrimPrefix(t, "t"), sizeLabel(n),
				fmtAbs(d.abs(key{"linux", "aligned", t, n, "memwin"})), fmtAbs(d.abs(key{"linux", "aligned", t, n, "rawloop"})),
				fmtAbs(d.abs(key{"linux", "aligned", t, n, "rawtrim"})), fmtAbs(d.abs(key{"linux", "aligned", t, n, "onecall"})),
				fmtRatio(d.ratio(key{"linux", "aligned", t, n, "onecall"}, key{"linux", "aligned", t, n, "memwin"})),
				fmtCount4(d.count(key{"linux", "aligned", t, n, "memwin"}, "retries")),
				fmtCount4(d.count(key{"linux", "aligned", t, n, "rawloop"}, "retries")), g)
		}
	}
	r.p("\n")
}

func (r *report) componentSection() {
	d := r.d
	r.p("## Components: what memwin adds to a call\n\n")
	r.p("Micro-measurements in the same benchmark programs (medians). *memwin logic* is a memwin export running over a primitive table that does nothing: ")
	r.p("checks, accounting and Go's OS layer, without any system call. The others are the pieces of the Linux emulation, measured on their own: ")
	r.p("its lock; what a per-page state array would cost if every reservation had one (record and page-state `calloc`, the emulation's first ")
	r.p("design: it now keeps one state per reservation and an array only while a partial operation has left mixed states); the update of such an array ")
	r.p("on commit (bytes, as the emulation keeps them, or a bitmap); the AVL tree (`src/rtree.c`) with N reservations; and the granule index ")
	r.p("that now finds reservations under 1 MiB (bench/bench.c's copy of it).\n\n")
	r.p("| component | Linux | Wine |\n|---|---|---|\n")
	for _, op := range []string{"reserve", "map", "commit", "decommit", "release"} {
		r.p("| memwin logic, %s | %s | %s |\n", op, fmtAbs(d.abs(key{"linux", "components", "logic", 0, op})), fmtAbs(d.abs(key{"wine", "components", "logic", 0, op})))
	}
	r.p("| emulation lock, uncontended lock + unlock | %s | — |\n", fmtAbs(d.abs(key{"linux", "components", "mutex", 0, "lock+unlock"})))
	for _, n := range r.sizes {
		r.p("| record + page-state array, calloc and free, %s | %s | — |\n", sizeLabel(n), fmtAbs(d.abs(key{"linux", "components", "calloc", n, "record+pages"})))
	}
	for _, n := range r.sizes {
		r.p("| page state of a %s commit: bytes / bitmap | %s / %s | — |\n", sizeLabel(n),
			fmtAbs(d.abs(key{"linux", "components", "pagestate", n, "bytes"})), fmtAbs(d.abs(key{"linux", "components", "pagestate", n, "bitmap"})))
	}
	for _, n := range d.params("linux", "components", "tree-lookup") {
		r.p("| tree, %s reservations: lookup of 64 in turn / of random ones / insert + remove | %s / %s / %s | — |\n", countLabel(n),
			fmtAbs(d.abs(key{"linux", "components", "tree-lookup", n, "rtree_floor"})),
			fmtAbs(d.abs(key{"linux", "components", "tree-random", n, "rtree_floor"})),
			fmtAbs(d.abs(key{"linux", "components", "tree-insert-remove", n, "rtree"})))
	}
	for _, n := range d.params("linux", "components", "tree-random") {
		r.p("| granule index, %s reservations: lookup of random ones | %s | — |\n", countLabel(n),
			fmtAbs(d.abs(key{"linux", "components", "tree-random", n, "granule-index"})))
	}
	for _, n := range d.params("linux", "components", "index-insert-remove") {
		r.p("| granule index: insert + remove of a %s reservation | %s | — |\n", sizeLabel(n),
			fmtAbs(d.abs(key{"linux", "components", "index-insert-remove", n, "granule-index"})))
	}
	r.p("\n")
}
