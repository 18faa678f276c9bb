package main

// The PNG plots, drawn by gnuplot from data files this program writes.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

type plotter struct {
	work, docs string // data/script directory; where the PNGs go
	made       []string
}

func (p *plotter) data(name string, rows [][]string) string {
	path := filepath.Join(p.work, name+".dat")
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(strings.Join(r, " "))
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		fatalf("%v", err)
	}
	return path
}

// draw runs a gnuplot script that writes docs/<name>.png.
func (p *plotter) draw(name, script string) {
	png := filepath.Join(p.docs, name+".png")
	head := fmt.Sprintf("set terminal pngcairo size 1100,500 font 'DejaVu Sans,10'\nset output '%s'\n"+
		"set grid\nset key top left\n", png)
	gp := filepath.Join(p.work, name+".gp")
	if err := os.WriteFile(gp, []byte(head+script), 0o644); err != nil {
		fatalf("%v", err)
	}
	cmd := exec.Command("gnuplot", gp)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		fatalf("gnuplot %s: %v (install gnuplot-nox: tools/install-deps.sh)", gp, err)
	}
	p.made = append(p.made, name+".png")
}

func f(v float64) string { return fmt.Sprintf("%.6g", v) }

func (r *report) plots(p *plotter) {
	d := r.d
	// 1. ratio to raw against size, per transition: Linux emulation and memwin.dll under Wine.
	for _, pr := range []struct{ prog, name string }{{"linux", "lin"}, {"wine", "win"}} {
		var rows [][]string
		for _, n := range r.sizes {
			row := []string{f(float64(n) / 1024)}
			for _, op := range ratioOps {
				s := d.ratio(key{pr.prog, "trans", op, n, "memwin"}, key{pr.prog, "trans", op, n, "raw"})
				if s.ok() {
					row = append(row, f(s.med))
				} else {
					row = append(row, "NaN")
				}
			}
			rows = append(rows, row)
		}
		p.data("perf-transitions-"+pr.name, rows)
	}
	var lines []string
	for i, op := range ratioOps {
		lines = append(lines, fmt.Sprintf("'%%s' using 1:%d with linespoints lw 2 title '%s'", i+2, op))
	}
	plotLine := func(file string) string {
		var ls []string
		for _, l := range lines {
			ls = append(ls, fmt.Sprintf(l, file))
		}
		return strings.Join(ls, ", \\\n  ")
	}
	p.draw("perf-transitions", fmt.Sprintf(`set multiplot layout 1,2
set logscale x 2
set xlabel 'region size (KiB)'
set ylabel 'memwin ÷ raw (median of paired batches)'
set xtics ('4K' 4, '64K' 64, '1M' 1024, '16M' 16384, '64M' 65536)
set xrange [3:90000]
set key below
set logscale y 2
set yrange [0.5:*]
set title 'Linux: libmemwin.so ÷ mmap/mprotect/munmap (target 1.05; log scale)'
plot 1.05 with lines dt 2 lc rgb 'red' title 'target', \
  %s
unset logscale y
set yrange [0.85:1.2]
set title 'Wine: memwin.dll ÷ VirtualAlloc/VirtualFree (target 1.03)'
plot 1.03 with lines dt 2 lc rgb 'red' title 'target', \
  %s
unset multiplot
`, plotLine(filepath.Join(p.work, "perf-transitions-lin.dat")), plotLine(filepath.Join(p.work, "perf-transitions-win.dat"))))

	// 2. the cycle against live reservations.
	var rows [][]string
	for _, pop := range r.pops {
		row := []string{f(float64(pop))}
		for _, prog := range []string{"linux", "wine"} {
			s := d.ratio(key{prog, "scale", "cycle", pop, "memwin"}, key{prog, "scale", "cycle", pop, "raw"})
			if s.ok() {
				row = append(row, f(s.med))
			} else {
				row = append(row, "NaN")
			}
		}
		for _, prog := range []string{"linux", "wine"} {
			for _, side := range []string{"memwin", "raw"} {
				s := d.abs(key{prog, "scale", "cycle", pop, side})
				if s.ok() {
					row = append(row, f(s.med/1000))
				} else {
					row = append(row, "NaN")
				}
			}
		}
		rows = append(rows, row)
	}
	dat := p.data("perf-scale", rows)
	p.draw("perf-scale", fmt.Sprintf(`set multiplot layout 1,2
set logscale x 10
set xlabel 'live reservations'
set ylabel 'memwin ÷ raw, same regions (median of paired batches)'
set yrange [0.8:1.6]
set title 'Cycle with N live reservations: ratio (target: flat within 1.1×)'
plot '%[1]s' using 1:2 with linespoints lw 2 title 'Linux: libmemwin.so ÷ raw', \
  '%[1]s' using 1:3 with linespoints lw 2 title 'Wine: memwin.dll ÷ kernel32'
set ylabel 'µs per used⇄unused cycle (median)'
set yrange [0:*]
set title 'Absolute (drifts with the shared machine''s load)'
plot '%[1]s' using 1:4 with linespoints lw 2 title 'Linux: libmemwin.so', \
  '%[1]s' using 1:5 with linespoints lw 2 dt 2 title 'Linux: raw syscalls', \
  '%[1]s' using 1:6 with linespoints lw 2 title 'Wine: memwin.dll', \
  '%[1]s' using 1:7 with linespoints lw 2 dt 2 title 'Wine: kernel32'
unset multiplot
`, dat))

	// 3. threads: throughput in transitions per microsecond.
	rows = nil
	for _, t := range r.threads {
		row := []string{f(float64(t))}
		for _, prog := range []string{"linux", "wine"} {
			for _, side := range []string{"memwin", "raw"} {
				s := d.abs(key{prog, "threads", "cycle", t, side})
				if s.ok() {
					row = append(row, f(2e6/s.med)) // a cycle is two transitions
				} else {
					row = append(row, "NaN")
				}
			}
		}
		rows = append(rows, row)
	}
	dat = p.data("perf-threads", rows)
	p.draw("perf-threads", fmt.Sprintf(`set xlabel 'threads (2 cores)'
set ylabel 'transitions per ms, all threads (median)'
set logscale x 2
set xtics (1, 2, 8)
set xrange [0.8:10]
set yrange [0:*]
set key top right
set title 'Used⇄unused cycle, one 64 KiB region per thread'
plot '%[1]s' using 1:2 with linespoints lw 2 title 'Linux: libmemwin.so', \
  '%[1]s' using 1:3 with linespoints lw 2 dt 2 title 'Linux: raw syscalls', \
  '%[1]s' using 1:4 with linespoints lw 2 title 'Wine: memwin.dll', \
  '%[1]s' using 1:5 with linespoints lw 2 dt 2 title 'Wine: kernel32'
`, dat))

	// 4. fallback: calls and time against k.
	rows = nil
	for _, k := range r.ks {
		calls := d.count(key{"linux", "fallback", "unused", k, "memwin"}, "prim")
		gocalls := d.count(key{"gowin", "gofallback", "unused", k, "go"}, "win32")
		tm := d.ratio(key{"linux", "fallback", "unused", k, "memwin"}, key{"linux", "fallback", "unused", k, "raw"})
		tg := d.ratio(key{"gowin", "gofallback", "unused", k, "go"}, key{"gowin", "gofallback", "unused", k, "raw"})
		tw := d.ratio(key{"gowin", "gofallback", "unused", k, "memwin"}, key{"gowin", "gofallback", "unused", k, "raw"})
		ref := "NaN"
		if k >= 2 {
			ref = f(klogk(k))
		}
		row := []string{f(float64(k)), nanf(calls), nanf(gocalls), ref, statf(tm), statf(tg), statf(tw)}
		rows = append(rows, row)
	}
	dat = p.data("perf-fallback", rows)
	p.draw("perf-fallback", fmt.Sprintf(`set multiplot layout 1,2
set logscale xy 2
set xlabel 'k adjacent reservations (64 KiB each)'
set ylabel 'VirtualFree calls for one sysUnused'
set title 'Go''s halving loop: calls'
plot '%[1]s' using 1:2 with linespoints lw 2 title 'memwin (Linux)', \
  '%[1]s' using 1:3 with points pt 6 ps 2 title 'Go runtime (Wine)', \
  '%[1]s' using 1:(3*$4) with lines dt 2 title '3·k·log₂k'
unset logscale y
set logscale x 2
set ylabel 'time ÷ one decommit per reservation'
set title 'Go''s halving loop: time (median)'
set yrange [0:*]
plot '%[1]s' using 1:5 with linespoints lw 2 title 'memwin (Linux)', \
  '%[1]s' using 1:6 with linespoints lw 2 title 'Go runtime (Wine)', \
  '%[1]s' using 1:7 with linespoints lw 2 dt 2 title 'memwin.dll (Wine)'
unset multiplot
`, dat))
}

func nanf(v float64) string {
	if v != v {
		return "NaN"
	}
	return f(v)
}

func statf(s stats) string {
	if !s.ok() {
		return "NaN"
	}
	return f(s.med)
}
