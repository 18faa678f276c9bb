package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

// benchReport reads bench.sh's results (lines "round variant wall_ns
// cpu_ns outer_ns") and prints medians per variant and, for each swap
// against its baseline, the median of the per-round ratios with their
// interquartile range, as a Markdown table.
func benchReport(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	type sample struct{ wall, cpu, outer float64 }
	data := map[string]map[int]sample{}
	var variants []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		w := strings.Fields(sc.Text())
		if len(w) != 5 || strings.HasPrefix(w[0], "#") {
			continue
		}
		round, _ := strconv.Atoi(w[0])
		num := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
		if data[w[1]] == nil {
			data[w[1]] = map[int]sample{}
			variants = append(variants, w[1])
		}
		data[w[1]][round] = sample{num(w[2]), num(w[3]), num(w[4])}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	median := func(x []float64) float64 {
		if len(x) == 0 {
			return math.NaN()
		}
		s := append([]float64(nil), x...)
		sort.Float64s(s)
		if len(s)%2 == 1 {
			return s[len(s)/2]
		}
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	quart := func(x []float64, q float64) float64 {
		s := append([]float64(nil), x...)
		sort.Float64s(s)
		if len(s) == 0 {
			return math.NaN()
		}
		pos := q * float64(len(s)-1)
		lo := int(math.Floor(pos))
		hi := int(math.Ceil(pos))
		return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
	}
	field := func(s sample, k int) float64 {
		switch k {
		case 0:
			return s.wall
		case 1:
			return s.cpu
		}
		return s.outer
	}
	fmt.Printf("| variant | runs | workload wall (median) | workload CPU (median) | process wall incl. Wine start (median) |\n|---|---|---|---|---|\n")
	for _, v := range variants {
		var x [3][]float64
		for _, s := range data[v] {
			for k := 0; k < 3; k++ {
				x[k] = append(x[k], field(s, k))
			}
		}
		fmt.Printf("| %s | %d | %.3f s | %.3f s | %.3f s |\n", v, len(data[v]), median(x[0])/1e9, median(x[1])/1e9, median(x[2])/1e9)
	}
	pairs := [][2]string{{"primitive", "none-ext"}, {"full", "none"}, {"primitive", "none"}}
	fmt.Printf("\n| swap / baseline | wall ratio (median, IQR) | CPU ratio (median, IQR) | process wall ratio (median, IQR) |\n|---|---|---|---|\n")
	for _, p := range pairs {
		a, b := data[p[0]], data[p[1]]
		if a == nil || b == nil {
			continue
		}
		var r [3][]float64
		for round, sa := range a {
			sb, ok := b[round]
			if !ok {
				continue
			}
			for k := 0; k < 3; k++ {
				if field(sb, k) > 0 {
					r[k] = append(r[k], field(sa, k)/field(sb, k))
				}
			}
		}
		cell := func(x []float64) string {
			return fmt.Sprintf("%.3f (%.3f – %.3f)", median(x), quart(x, 0.25), quart(x, 0.75))
		}
		fmt.Printf("| %s / %s | %s | %s | %s |\n", p[0], p[1], cell(r[0]), cell(r[1]), cell(r[2]))
	}
	return nil
}
