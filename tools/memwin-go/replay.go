package main

// memwin-go replay and diff (traces: tests/traces/FORMAT.md).

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"memwin.local/conform/trace"
)

// replayCommand: replay [--write-golden] [--go CMD] TRACE... [LIB].
func replayCommand(args []string) int {
	root := os.Getenv("MEMWIN_ROOT")
	if root == "" {
		die("MEMWIN_ROOT is not set: run tools/memwin-go/memwin-go")
	}
	o := &options{root: root, goCmd: os.Getenv("GO")}
	if o.goCmd == "" {
		o.goCmd = "go"
	}
	writeGolden := false
	var traces []string
	lib := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--write-golden":
			writeGolden = true
		case a == "--go" && i+1 < len(args):
			i++
			o.goCmd = args[i]
		case strings.HasSuffix(a, ".trace") || strings.HasSuffix(a, ".trace.gz"):
			p, _ := filepath.Abs(a)
			traces = append(traces, p)
		case lib == "" && i == len(args)-1:
			lib, _ = filepath.Abs(a)
		default:
			usage()
		}
	}
	if len(traces) == 0 {
		usage()
	}
	if lib != "" && !strings.HasSuffix(strings.ToLower(lib), ".dll") {
		if writeGolden {
			die("--write-golden: goldens come from the Go runtime under Wine, not from %s", lib)
		}
		return replayNative(o, lib, traces)
	}
	return replayWine(o, lib, traces, writeGolden)
}

// replayNative builds memwin-replay (replayso, cgo) and runs it on lib.
func replayNative(o *options, lib string, traces []string) int {
	bin := filepath.Join(o.root, "build", "memwin-go", "bin", "memwin-replay")
	c := exec.Command(o.goCmd, "build", "-o", bin, "./replayso")
	c.Dir = filepath.Join(o.root, "tools", "memwin-go")
	c.Env = append(os.Environ(), "CGO_ENABLED=1", "GOOS=", "GOARCH=", "GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local")
	if out, err := c.CombinedOutput(); err != nil {
		die("building memwin-replay: %v\n%s", err, out)
	}
	return runPassthrough(exec.Command(bin, append([]string{lib}, traces...)...))
}

// replayWine builds the conformance harness (tools/conform) with o.goCmd and
// runs it under Wine with -trace: the Go runtime's functions and memwin.dll
// side by side.  Each trace is replayed by a harness of the port that
// recorded it (@goarch: amd64, or 386 under 32-bit Wine with the i686
// memwin.dll); dll, if given, must be of the traces' port.
func replayWine(o *options, dll string, traces []string, writeGolden bool) int {
	if err := o.goInfo(); err != nil {
		die("%v", err)
	}
	byArch := map[string][]string{}
	for _, p := range traces {
		t, err := trace.ReadPath(p)
		if err != nil {
			die("%v", err)
		}
		arch := t.Get("goarch")
		switch arch {
		case "":
			arch = "amd64" // traces from before the field
		case "amd64", "386":
		default:
			die("%s: recorded on windows/%s; replayed are amd64 and 386", p, arch)
		}
		byArch[arch] = append(byArch[arch], p)
	}
	status := 0
	for _, arch := range []string{"amd64", "386"} {
		if len(byArch[arch]) == 0 {
			continue
		}
		o.arch = arch
		if code := o.replayWineArch(dll, byArch[arch], writeGolden); code != 0 && status == 0 {
			status = code
		}
	}
	return status
}

// replayWineArch replays traces of port o.arch.
func (o *options) replayWineArch(dll string, traces []string, writeGolden bool) int {
	if dll == "" {
		var err error
		if dll, err = o.memwinDLL(); err != nil {
			die("%v", err)
		}
	} else if err := checkDLLArch(dll, o.arch); err != nil {
		die("%v (the traces were recorded on windows/%s)", err, o.arch)
	}
	dir := filepath.Join(o.root, "build", "memwin-go", "replay")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		die("%v", err)
	}
	name := "conform-" + o.goVersion
	if o.arch != "amd64" {
		name += "-" + o.arch
	}
	exe := filepath.Join(dir, name+".exe")
	ld := "-extldflags=-static"
	if o.arch == "386" {
		// 4 GiB of address space under WoW64 instead of 2: the replay
		// reserves what the recorded program did (a 516 MiB arena) beside
		// the harness's own heap, and its hints go 2 GiB up
		// (trace.Shift32).  (A cgo harness is linked externally anyway;
		// the go command wants the flags to start with a dash.)
		ld = "-linkmode=external '-extldflags=-static -Wl,--large-address-aware'"
	}
	if o.goMinor >= 23 {
		ld = "-checklinkname=0 " + ld // linkname into the runtime
	}
	c := exec.Command(o.goCmd, "build", "-trimpath", "-ldflags="+ld, "-o", exe, ".")
	c.Dir = filepath.Join(o.root, "tools", "conform")
	c.Env = append(os.Environ(), "CGO_ENABLED=1", "CC="+o.mingwCC(), "GOOS=windows",
		"GOARCH="+o.arch, "GOTOOLCHAIN=local", "GOFLAGS=", "GOWORK=off")
	if out, err := c.CombinedOutput(); err != nil {
		die("building the windows/%s harness with %s: %v\n%s", o.arch, o.goVersion, err, out)
	}
	args := []string{exe, "-dll", dll, "-trace", strings.Join(traces, ",")}
	if writeGolden {
		args = append(args, "-write-golden", "all")
	}
	run := exec.Command(filepath.Join(o.root, "tools", "wine", "run.sh"), args...)
	run.Env = append(os.Environ(), "GODEBUG=asyncpreemptoff=1")
	return runPassthrough(run)
}

func runPassthrough(c *exec.Cmd) int {
	c.Stdout, c.Stderr = os.Stdout, os.Stderr
	if err := c.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		die("%v", err)
	}
	return 0
}

// traceStats summarises a trace: calls per kind, bytes each kind asked for,
// and the committed bytes over the trace (pages, as Windows counts them).
type traceStats struct {
	calls     [trace.NumOps]int
	bytes     [trace.NumOps]uint64
	threads   int
	regions   int
	committed uint64 // at the end
	peak      uint64
}

func statsOf(t *trace.Trace) traceStats {
	var st traceStats
	for _, s := range t.Steps {
		st.calls[s.Op]++
		st.bytes[s.Op] += s.N
		if s.Thread > st.threads {
			st.threads = s.Thread
		}
		if s.Result != 0 {
			st.regions++
		}
	}
	for _, c := range trace.Committed(t) {
		if c > st.peak {
			st.peak = c
		}
		st.committed = c
	}
	return st
}

// diffCommand: diff A B prints the two traces' summaries side by side.
func diffCommand(args []string) int {
	if len(args) != 2 {
		usage()
	}
	var ts [2]*trace.Trace
	for i, p := range args {
		t, err := trace.ReadPath(p)
		if err != nil {
			die("%v", err)
		}
		ts[i] = t
	}
	a, b := statsOf(ts[0]), statsOf(ts[1])
	name := func(t *trace.Trace, p string) string {
		if g := t.Get("go"); g != "" {
			return filepath.Base(p) + " (" + g + ")"
		}
		return filepath.Base(p)
	}
	fmt.Printf("A: %s\nB: %s\n\n", name(ts[0], args[0]), name(ts[1], args[1]))
	fmt.Printf("%-24s %14s %14s %14s\n", "", "A", "B", "B - A")
	row := func(label string, x, y uint64, bytes bool) {
		f := func(v uint64) string {
			if bytes {
				return human(v)
			}
			return fmt.Sprint(v)
		}
		d := int64(y) - int64(x)
		ds := fmt.Sprint(d)
		if bytes {
			if d < 0 {
				ds = "-" + human(uint64(-d))
			} else {
				ds = "+" + human(uint64(d))
			}
		}
		fmt.Printf("%-24s %14s %14s %14s\n", label, f(x), f(y), ds)
	}
	row("calls", uint64(len(ts[0].Steps)), uint64(len(ts[1].Steps)), false)
	var ops []int
	for i := 0; i < int(trace.NumOps); i++ {
		if a.calls[i]+b.calls[i] > 0 {
			ops = append(ops, i)
		}
	}
	sort.Ints(ops)
	for _, i := range ops {
		row("  "+trace.Op(i).String(), uint64(a.calls[i]), uint64(b.calls[i]), false)
	}
	for _, i := range ops {
		row("  bytes "+trace.Op(i).String(), a.bytes[i], b.bytes[i], true)
	}
	row("threads", uint64(a.threads), uint64(b.threads), false)
	row("reservations", uint64(a.regions), uint64(b.regions), false)
	row("committed at the end", a.committed, b.committed, true)
	row("peak committed", a.peak, b.peak, true)
	return 0
}
