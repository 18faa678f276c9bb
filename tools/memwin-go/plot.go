package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// plot draws committed bytes over time from a MEMWIN_TRACE file with
// gnuplot (SVG or PNG by the output's extension).  Only the first process
// in the trace is drawn (child processes append to the same file).
func plot(trace, out string) error {
	f, err := os.Open(trace)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := os.CreateTemp("", "memwin-plot-*.dat")
	if err != nil {
		return err
	}
	defer os.Remove(data.Name())
	w := bufio.NewWriter(data)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	pid := ""
	n, faults := 0, 0
	var maxT float64
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		x := strings.Fields(line)
		if len(x) < 12 {
			continue
		}
		if pid == "" {
			pid = x[1]
		}
		if x[1] != pid {
			continue
		}
		t, _ := strconv.ParseFloat(x[0], 64)
		c, _ := strconv.ParseFloat(x[9], 64)
		r, _ := strconv.ParseFloat(x[10], 64)
		fault := 0
		if x[11] == "fault" {
			fault = 1
			faults++
		}
		fmt.Fprintf(w, "%.6f %.3f %.3f %d\n", t/1e9, c/(1<<20), r/(1<<20), fault)
		maxT = t / 1e9
		n++
	}
	if err := sc.Err(); err != nil {
		return err
	}
	w.Flush()
	data.Close()
	if n == 0 {
		return fmt.Errorf("%s: no calls in the trace", trace)
	}
	faultSeries := ""
	if faults > 0 {
		faultSeries = fmt.Sprintf(`, \
     '%s' using 1:($4 > 0 ? $2 : 1/0) with points pt 7 ps 0.8 title "injected failure"`, data.Name())
	}
	term := "svg size 900,480 dynamic background rgb 'white'"
	if strings.HasSuffix(strings.ToLower(out), ".png") {
		term = "pngcairo size 900,480"
	}
	script := fmt.Sprintf(`set terminal %s
set output '%s'
set title "Committed memory over time (%d VirtualAlloc/VirtualFree calls, %d injected failures)"
set xlabel "time since start (s)"
set ylabel "committed (MiB)"
set grid
set key top left
set xrange [0:%g]
set yrange [0:*]
plot '%s' using 1:2 with steps lw 2 title "committed"%s
`, term, out, n, faults, maxT*1.02+1e-6, data.Name(), faultSeries)
	if abs, err := filepath.Abs(out); err == nil {
		out = abs
	}
	c := exec.Command("gnuplot")
	c.Stdin = strings.NewReader(script)
	if b, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("gnuplot: %v\n%s", err, b)
	}
	return nil
}
