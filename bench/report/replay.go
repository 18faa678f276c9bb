package main

// Real programs' traces (tests/traces) replayed whole by bench.c's replay
// suite: memwin against the raw calls, checked mode against exact mode.

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"memwin.local/conform/trace"
)

// replayTraces lists the traces the replay suite timed, by name.
func (d *dataset) replayTraces() []string {
	seen := map[string]bool{}
	for k := range d.samples {
		if k.suite == "replay" {
			seen[k.cas] = true
		}
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// replayRatio is the median of the paired ratios of sides a and b on one
// trace of prog.
func (r *report) replayRatio(prog, name, a, b string) stats {
	d := r.d
	ps := d.params(prog, "replay", name)
	if len(ps) == 0 {
		return stats{}
	}
	return d.ratio(key{prog, "replay", name, ps[0], a}, key{prog, "replay", name, ps[0], b})
}

// replayTargets adds the three goals, each over every trace.
func (r *report) replayTargets() {
	names := r.d.replayTraces()
	if len(names) == 0 {
		return
	}
	goal := func(title, rule, prog, a, b string, limit float64) {
		worst, worstV := "", math.Inf(-1)
		var parts []string
		for _, n := range names {
			s := r.replayRatio(prog, n, a, b)
			if !s.ok() {
				continue
			}
			parts = append(parts, fmt.Sprintf("%s %.3f", n, s.med))
			if s.med > worstV {
				worst, worstV = n, s.med
			}
		}
		if worst == "" {
			return
		}
		r.targets = append(r.targets, target{name: title, rule: rule,
			measured: fmt.Sprintf("worst %s %.3f; %s", worst, worstV, strings.Join(parts, ", ")),
			pass:     worstV <= limit})
	}
	goal("trace replays: libmemwin ≤ 1.03× its raw system calls (Linux)",
		"for every trace of tests/traces, the median of its paired replay-time ratios ≤ 1.03", "linux", "memwin", "raw", 1.03)
	goal("trace replays: memwin.dll ≤ 1.02× kernel32 under Wine",
		"for every trace, the median of its paired replay-time ratios ≤ 1.02", "wine", "memwin", "raw", 1.02)
	goal("trace replays: checked mode ≤ 1.25× exact mode (Linux)",
		"for every trace, the median of its paired ratios ≤ 1.25", "linux", "checked", "memwin", 1.25)
	goal("trace replays: checked mode ≤ 1.25× exact mode (Wine)",
		"for every trace, the median of its paired ratios ≤ 1.25", "wine", "checked", "memwin", 1.25)
}

func (r *report) replaySection() {
	d := r.d
	names := d.replayTraces()
	if len(names) == 0 {
		return
	}
	r.p("## Real programs' traces replayed\n\n")
	r.p("Each trace of [tests/traces](../tests/traces/FORMAT.md) (a real Go program's calls to its OS memory layer, recorded with `memwin-go record`) ")
	r.p("replayed whole, call by call on one thread, by `bench.c`'s `replay` suite: memwin's exports in exact mode, the same in checked mode, and the raw calls ")
	r.p("with the effect Go's Windows layer has (Linux: `mmap`/`mprotect` with one call for any range; Wine: `VirtualAlloc`/`VirtualFree` with Go's halving loops ")
	r.p("for ranges that span reservations). The three run in turn, forward then backward, in every repetition; no page is touched; the regions are released untimed. ")
	r.p("Ratios are medians of paired runs (minimum–maximum in brackets); *ns/call* is exact mode's median time per call.\n\n")
	r.p("| trace | calls | Linux: memwin ÷ raw | checked ÷ exact | ns/call | Wine: memwin.dll ÷ kernel32 | checked ÷ exact | ns/call |\n")
	r.p("|---|---:|---|---|---:|---|---|---:|\n")
	for _, n := range names {
		calls := uint64(0)
		if ps := d.params("linux", "replay", n); len(ps) > 0 {
			calls = ps[0]
		} else if ps := d.params("wine", "replay", n); len(ps) > 0 {
			calls = ps[0]
		}
		abs := func(prog string) string {
			return fmtAbs(d.abs(key{prog, "replay", n, calls, "memwin"}))
		}
		r.p("| %s | %d | %s | %s | %s | %s | %s | %s |\n", n, calls,
			fmtRatio(r.replayRatio("linux", n, "memwin", "raw")), fmtRatio(r.replayRatio("linux", n, "checked", "memwin")), abs("linux"),
			fmtRatio(r.replayRatio("wine", n, "memwin", "raw")), fmtRatio(r.replayRatio("wine", n, "checked", "memwin")), abs("wine"))
	}
	r.p("\n")
	r.replayKernelTable(names)
	if r.tracePlot != "" {
		r.p("Committed bytes over the calls of one program, gofmt over its Go's own sources, as recorded under each Go version (from the traces; ")
		r.p("Windows counts committed memory per page):\n\n![committed bytes of gofmt](%s)\n\n", r.tracePlot)
	}
}

// plotTrace draws committed bytes against the call number for gofmt's
// traces (every Go version present), from the trace files in dir.
func (r *report) plotTrace(p *plotter, dir string) {
	paths, _ := filepath.Glob(filepath.Join(dir, "gofmt-go*.trace.gz"))
	sort.Strings(paths)
	var plots []string
	for _, path := range paths {
		t, err := trace.ReadPath(path)
		if err != nil {
			fatalf("%v", err)
		}
		var rows [][]string
		for i, c := range trace.Committed(t) {
			rows = append(rows, []string{fmt.Sprint(i + 1), f(float64(c) / (1 << 20))})
		}
		label := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "gofmt-"), ".trace.gz")
		data := p.data("trace-"+label, rows)
		plots = append(plots, fmt.Sprintf("'%s' using 1:2 with lines lw 2 title '%s'", data, label))
	}
	if len(plots) == 0 {
		return
	}
	p.draw("perf-trace-gofmt", "set xlabel 'call'\nset ylabel 'committed (MiB)'\nplot "+strings.Join(plots, ", ")+"\n")
	r.tracePlot = "perf-trace-gofmt.png"
}

// replayKernelTable splits the Linux replays' time between the kernel's
// memory calls and the rest (memwin's own work, or the raw side's call
// overhead), from bench.c's replay-kernel passes (bench/kcalls.c).
func (r *report) replayKernelTable(names []string) {
	d := r.d
	type row struct {
		name                           string
		kcM, kcR, inM, inR, outM, outR float64
	}
	var rows []row
	for _, n := range names {
		ps := d.params("linux", "replay-kernel", n)
		if len(ps) == 0 {
			continue
		}
		med := func(suite, side string) float64 { return d.abs(key{"linux", suite, n, ps[0], side}).med }
		kc := func(side string) float64 { return d.count(key{"linux", "replay", n, ps[0], side}, "kcalls") }
		w := row{name: n, kcM: kc("memwin"), kcR: kc("raw"),
			inM: med("replay-kernel", "memwin"), inR: med("replay-kernel", "raw")}
		w.outM = med("replay", "memwin") - w.inM
		w.outR = med("replay", "raw") - w.inR
		rows = append(rows, w)
	}
	if len(rows) == 0 {
		return
	}
	r.p("Where the Linux replays' time goes. The program defines `mmap`, `mprotect`, `munmap` and `madvise` itself ([bench/kcalls.c](../bench/kcalls.c)), ")
	r.p("so libmemwin.so's calls and the raw side's are counted by the same code; after the timed repetitions, as many more count each side's ")
	r.p("kernel calls and time each one (less one clock read's cost). *Kernel calls* are per replayed call; *in the kernel* is the median ns per ")
	r.p("replayed call spent in those calls; *outside* is the median total time per call less that: for memwin its own work (lock, tables, ")
	r.p("Go's layer above the emulation), for the raw side the replayer's loop. The difference memwin − raw is split the same way; where memwin ")
	r.p("makes more kernel calls, they are Go's per-reservation pieces of a range that spans reservations (one call each on Windows, one for the range raw).\n\n")
	r.p("| trace | kernel calls: memwin / raw | in the kernel, ns/call: memwin / raw | outside, ns/call: memwin / raw | memwin − raw, ns/call: in the kernel + outside |\n")
	r.p("|---|---|---|---|---|\n")
	var dIn, dOut float64
	for _, w := range rows {
		r.p("| %s | %.3f / %.3f | %.0f / %.0f | %.0f / %.0f | %+.0f %+.0f |\n", w.name, w.kcM, w.kcR, w.inM, w.inR, w.outM, w.outR,
			w.inM-w.inR, w.outM-w.outR)
		dIn += w.inM - w.inR
		dOut += w.outM - w.outR
	}
	r.p("\nOver the %d traces, the mean difference is %+.0f ns per call in the kernel and %+.0f ns outside it.\n\n",
		len(rows), dIn/float64(len(rows)), dOut/float64(len(rows)))
}
