package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

var opNames = []string{"reserve", "commit", "alloc", "decommit", "release", "other"}

type opStats struct {
	calls, failed, injected, bytes uint64
	classes                        []uint64
}

// stats is memwin's MEMWIN_STATS file (src/instrument/interpose.c).
type stats struct {
	op     map[string]*opStats
	values map[string]uint64
}

func readStats(path string) (*stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st := &stats{op: map[string]*opStats{}, values: map[string]uint64{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		w := strings.Fields(sc.Text())
		if len(w) == 0 || strings.HasPrefix(w[0], "#") {
			continue
		}
		if w[0] == "op" && len(w) >= 12 {
			o := &opStats{}
			num := func(i int) uint64 { v, _ := strconv.ParseUint(w[i], 10, 64); return v }
			o.calls, o.failed, o.injected, o.bytes = num(3), num(5), num(7), num(9)
			for _, c := range strings.Split(w[11], ",") {
				v, _ := strconv.ParseUint(c, 10, 64)
				o.classes = append(o.classes, v)
			}
			st.op[w[1]] = o
			continue
		}
		if len(w) == 2 {
			v, err := strconv.ParseUint(w[1], 10, 64)
			if err == nil {
				st.values[w[0]] = v
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(st.op) == 0 {
		return nil, fmt.Errorf("%s: no counters in it", path)
	}
	return st, nil
}

func human(b uint64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := uint64(unit), 0
	for n := b / unit; n >= unit && exp < 4; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTP"[exp])
}

func (st *stats) opOrZero(name string) *opStats {
	if o := st.op[name]; o != nil {
		return o
	}
	return &opStats{}
}

func printSummary(w io.Writer, st *stats, head string) {
	if head != "" {
		fmt.Fprintf(w, "memwin-go: %s\n", head)
	}
	fmt.Fprintf(w, "memwin-go: memory traffic through memwin.dll's interposers:\n")
	fmt.Fprintf(w, "  %-9s %9s %9s %9s %14s\n", "operation", "calls", "failed", "injected", "bytes")
	var total uint64
	for _, n := range opNames {
		o := st.opOrZero(n)
		total += o.calls
		if o.calls == 0 && n == "other" {
			continue
		}
		fmt.Fprintf(w, "  %-9s %9d %9d %9d %14s\n", n, o.calls, o.failed, o.injected, human(o.bytes))
	}
	fmt.Fprintf(w, "  %-9s %9d\n", "total", total)
	v := st.values
	fmt.Fprintf(w, "  reserved %s (peak %s, %s live at exit), committed %s, decommitted %s, released %s\n",
		human(st.opOrZero("reserve").bytes+st.opOrZero("alloc").bytes), human(v["reserved_peak"]), human(v["reserved"]),
		human(v["newly_committed"]), human(v["decommitted"]), human(v["released"]))
	fmt.Fprintf(w, "  peak committed %s, committed at exit %s\n", human(v["committed_peak"]), human(v["committed"]))
}
