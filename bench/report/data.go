package main

// Reading the benchmark records and the strace logs, and the statistics:
// medians, minima and maxima, and ratios of paired samples (the same round
// and repetition of two sides, which ran next to each other in time).

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// key names one series of samples: program (linux, wine, gowin), suite,
// case, parameter (size, population, threads, k) and side.
type key struct {
	prog, suite, cas string
	param            uint64
	side             string
}

type sample struct {
	round, rep int
	v          float64
}

type dataset struct {
	samples map[key][]sample
	// counts: per key and metric, the values of every round (averaged on use).
	counts map[key]map[string][]float64
	info   map[string]map[string]string // prog -> key -> value
	meta   map[string]string            // from meta.txt
	rounds map[string]int               // prog -> rounds read
	// syscalls: strace counts per operation, from strace-<prog>.txt.
	syscalls map[key]map[string]float64
}

func newDataset() *dataset {
	return &dataset{
		samples:  map[key][]sample{},
		counts:   map[key]map[string][]float64{},
		info:     map[string]map[string]string{},
		meta:     map[string]string{},
		rounds:   map[string]int{},
		syscalls: map[key]map[string]float64{},
	}
}

var roundFile = regexp.MustCompile(`^(linux|linuxnotrim|wine|gowin)\.(\d+)\.txt$`)

func load(dir string) (*dataset, error) {
	d := newDataset()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		m := roundFile.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		round, _ := strconv.Atoi(m[2])
		if err := d.readRecords(filepath.Join(dir, e.Name()), m[1], round); err != nil {
			return nil, err
		}
		d.rounds[m[1]]++
	}
	if len(d.samples) == 0 {
		return nil, fmt.Errorf("no results in %s (run bench/run.sh first)", dir)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "meta.txt")); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, "\t"); ok {
				d.meta[k] = v
			}
		}
	}
	for _, prog := range []string{"linux", "wine"} {
		p := filepath.Join(dir, "strace-"+prog+".txt")
		if _, err := os.Stat(p); err == nil {
			if err := d.readStrace(p, prog); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

func (d *dataset) readRecords(path, prog string, round int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fs := strings.Split(strings.TrimRight(sc.Text(), "\r"), "\t")
		switch {
		case len(fs) == 3 && fs[0] == "I":
			if d.info[prog] == nil {
				d.info[prog] = map[string]string{}
			}
			d.info[prog][fs[1]] = fs[2]
		case len(fs) == 7 && fs[0] == "R":
			param, _ := strconv.ParseUint(fs[3], 10, 64)
			rep, _ := strconv.Atoi(fs[5])
			v, err := strconv.ParseFloat(fs[6], 64)
			if err != nil {
				continue
			}
			k := key{prog, fs[1], fs[2], param, fs[4]}
			d.samples[k] = append(d.samples[k], sample{round, rep, v})
		case len(fs) == 7 && fs[0] == "C":
			param, _ := strconv.ParseUint(fs[3], 10, 64)
			v, err := strconv.ParseFloat(fs[6], 64)
			if err != nil {
				continue
			}
			k := key{prog, fs[1], fs[2], param, fs[4]}
			if d.counts[k] == nil {
				d.counts[k] = map[string][]float64{}
			}
			d.counts[k][fs[5]] = append(d.counts[k][fs[5]], v)
		}
	}
	return sc.Err()
}

// count returns the mean over rounds of a counted metric, NaN if absent.
func (d *dataset) count(k key, metric string) float64 {
	vs := d.counts[k][metric]
	if len(vs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, v := range vs {
		s += v
	}
	return s / float64(len(vs))
}

// ---- strace ------------------------------------------------------------------

var (
	straceLine = regexp.MustCompile(`^(\d+)\s+(.*)$`)
	markerRe   = regexp.MustCompile(`memwin-bench-mark/(begin|end)-([a-z0-9]+)-(\d+)-([a-z]+)-(\d+)`)
)

type window struct {
	pid     string
	all     bool // count every thread (the threads8 markers)
	byName  map[string]int
	started bool
}

// readStrace counts, for each marker pair begin-OP-SIZE-SIDE-K .. end-...,
// the system calls between them (the marker's thread only, except for the
// threads8 markers: every thread), then per operation:
// (count(K) - count(0)) / K, which also removes what the marker itself costs.
func (d *dataset) readStrace(path, prog string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	type wkey struct {
		op, side string
		size     uint64
		k        int
	}
	got := map[wkey]map[string]int{}
	var cur *window
	var curKey wkey
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := straceLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		pid, rest := m[1], m[2]
		if mk := markerRe.FindStringSubmatch(rest); mk != nil {
			size, _ := strconv.ParseUint(mk[3], 10, 64)
			kk, _ := strconv.Atoi(mk[5])
			wk := wkey{mk[2], mk[4], size, kk}
			if mk[1] == "begin" {
				if cur == nil || curKey != wk { // Wine looks the path up more than once
					cur = &window{pid: pid, all: mk[2] == "threads8", byName: map[string]int{}}
					curKey = wk
				} else {
					cur.byName = map[string]int{} // restart after the marker's own calls
				}
			} else if cur != nil && curKey == wk {
				if _, done := got[wk]; !done {
					got[wk] = cur.byName
				}
				cur = nil
			}
			continue
		}
		if cur == nil || (!cur.all && pid != cur.pid) {
			continue
		}
		if strings.HasPrefix(rest, "<...") || strings.HasPrefix(rest, "+++") || strings.HasPrefix(rest, "---") {
			continue
		}
		name, _, ok := strings.Cut(rest, "(")
		if !ok {
			continue
		}
		cur.byName[name]++
	}
	if err := sc.Err(); err != nil {
		return err
	}
	for wk, c := range got {
		if wk.k == 0 {
			continue
		}
		base := got[wkey{wk.op, wk.side, wk.size, 0}]
		per := map[string]float64{}
		total := 0.0
		for name, n := range c {
			v := float64(n-base[name]) / float64(wk.k)
			if name == "sched_yield" { // the benchmark's own start barrier
				continue
			}
			if v != 0 {
				per[name] = v
				total += v
			}
		}
		per["total"] = total
		d.syscalls[key{prog, "strace", wk.op, wk.size, wk.side}] = per
	}
	return nil
}

// ---- statistics ----------------------------------------------------------------

type stats struct {
	med, min, max float64
	n             int
}

func (s stats) ok() bool { return s.n > 0 }

func summarize(xs []float64) stats {
	if len(xs) == 0 {
		return stats{}
	}
	ys := append([]float64(nil), xs...)
	sort.Float64s(ys)
	n := len(ys)
	med := ys[n/2]
	if n%2 == 0 {
		med = (ys[n/2-1] + ys[n/2]) / 2
	}
	return stats{med, ys[0], ys[n-1], n}
}

func (d *dataset) values(k key) []float64 {
	var xs []float64
	for _, s := range d.samples[k] {
		xs = append(xs, s.v)
	}
	return xs
}

func (d *dataset) abs(k key) stats { return summarize(d.values(k)) }

// ratios pairs the samples of a and b by round and repetition and returns
// a/b for each pair.
func (d *dataset) ratios(a, b key) []float64 {
	type rr struct{ round, rep int }
	bs := map[rr]float64{}
	for _, s := range d.samples[b] {
		bs[rr{s.round, s.rep}] = s.v
	}
	var out []float64
	for _, s := range d.samples[a] {
		if v, ok := bs[rr{s.round, s.rep}]; ok && v > 0 {
			out = append(out, s.v/v)
		}
	}
	return out
}

func (d *dataset) ratio(a, b key) stats { return summarize(d.ratios(a, b)) }

// pooledRatio: the ratios of every parameter in params, together.
func (d *dataset) pooledRatio(a, b key, params []uint64) stats {
	var all []float64
	for _, p := range params {
		a.param, b.param = p, p
		all = append(all, d.ratios(a, b)...)
	}
	return summarize(all)
}

// ---- formatting ------------------------------------------------------------------

func fmtRatio(s stats) string {
	if !s.ok() {
		return "—"
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f)", s.med, s.min, s.max)
}

func fmtRatioShort(s stats) string {
	if !s.ok() {
		return "—"
	}
	return fmt.Sprintf("%.2f", s.med)
}

// fmtTime writes nanoseconds as ns or µs.
func fmtTime(ns float64) string {
	switch {
	case math.IsNaN(ns):
		return "—"
	case ns < 1000:
		return fmt.Sprintf("%.0f ns", ns)
	case ns < 100000:
		return fmt.Sprintf("%.2f µs", ns/1000)
	default:
		return fmt.Sprintf("%.0f µs", ns/1000)
	}
}

func fmtAbs(s stats) string {
	if !s.ok() {
		return "—"
	}
	return fmtTime(s.med)
}

func fmtCount(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func sizeLabel(n uint64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return strconv.FormatUint(n, 10)
}

func countLabel(n uint64) string {
	switch {
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.FormatUint(n, 10)
}
