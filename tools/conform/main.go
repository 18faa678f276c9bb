//go:build windows

// Command conform runs the scenarios of tests/vectors side by side in one
// process: through the Go runtime's own Windows memory functions (reached
// with //go:linkname) and through memwin.dll (loaded by absolute path), and
// compares both with the golden files recorded from Go 1.19 (and Go 1.26
// where a scenario's "golden goV" line says the versions differ).
//
// It is a windows/amd64 or windows/386 cgo program run under Wine;
// tools/conformance.sh builds it with every Go line from 1.19 to 1.27 for
// both and runs it.  Scenarios with a fatal
// step run in a child process (the harness re-executes itself).
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../include -I${SRCDIR}/../vecfmt -O2
#include "native.h"
*/
import "C"

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

var (
	flagVectors = flag.String("vectors", "", "directory of the scenario files (tests/vectors)")
	flagDLL     = flag.String("dll", "", "absolute path of memwin.dll")
	flagRun     = flag.String("run", "", "only scenarios whose name matches this regexp")
	flagGolden  = flag.String("write-golden", "", "record the Go side as golden: all | newer (only scenarios absent from the oldest Go or with a golden version <= this Go)")
	flagResults = flag.String("results", "", "write per-scenario results (TSV) to this file")
	flagJobs    = flag.Int("j", 2, "child processes at a time")
	flagChild   = flag.String("child", "", "internal: run this scenario and exit")
	flagSide    = flag.String("side", "", "internal: go | memwin (with -child)")
	flagList    = flag.Bool("list", false, "list the scenarios and exit")
	flagTrace   = flag.String("trace", "", "replay these traces (comma-separated .trace.gz files) on both sides instead of the scenarios")
)

// winPath turns a Unix absolute path into the Wine Z: drive path.
func winPath(p string) string {
	if strings.HasPrefix(p, "/") {
		return `Z:` + strings.ReplaceAll(p, "/", `\`)
	}
	return p
}

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "conform: "+format+"\n", a...)
	os.Exit(3)
}

type result struct {
	sc           *scenario
	goOK         bool   // the Go side has every function of the scenario
	wide         string // a number a 32-bit uintptr cannot hold, if any
	goObs, mwObs []string
}

// ptrBits is the width of a pointer in this build (64 on amd64, 32 on 386).
const ptrBits = 32 << (^uintptr(0) >> 63)

// noAsyncPreempt re-executes the harness with GODEBUG=asyncpreemptoff=1
// unless it is set: under Wine 8, Go 1.26's asynchronous preemption
// (runtime.xRegSave saving the extended registers of a suspended thread)
// sometimes faults ("unexpected signal during runtime execution").  The
// setting is inherited by the child processes.
func noAsyncPreempt() {
	cur := os.Getenv("GODEBUG")
	if strings.Contains(cur, "asyncpreemptoff=1") {
		return
	}
	if cur != "" {
		cur += ","
	}
	exe, err := os.Executable()
	if err != nil {
		die("%v", err)
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), "GODEBUG="+cur+"asyncpreemptoff=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			os.Exit(ee.ExitCode())
		}
		die("%v", err)
	}
	os.Exit(0)
}

func main() {
	flag.Parse()
	noAsyncPreempt()
	runtime.LockOSThread()
	debug.SetGCPercent(-1)
	if *flagTrace != "" {
		if *flagDLL == "" {
			die("-dll is required")
		}
		mw, err := loadMemwin(winPath(*flagDLL))
		if err != nil {
			die("%v", err)
		}
		traceMain(*flagTrace, &goSide{}, mw, *flagGolden != "")
		return
	}
	if *flagVectors == "" {
		die("-vectors is required")
	}
	scs, err := loadScenarios(winPath(*flagVectors))
	if err != nil {
		die("%v", err)
	}
	if *flagRun != "" {
		re, err := regexp.Compile(*flagRun)
		if err != nil {
			die("-run: %v", err)
		}
		var keep []*scenario
		for _, sc := range scs {
			if re.MatchString(sc.name) {
				keep = append(keep, sc)
			}
		}
		scs = keep
	}
	if *flagList {
		for _, sc := range scs {
			fmt.Printf("%s\tsteps=%d\tchild=%v\tsince=%s\n", sc.name, len(sc.steps), sc.needsChild(), sc.minVersion())
		}
		return
	}
	if C.cf_hook_install() != 0 {
		die("cannot hook runtime._VirtualAlloc/_VirtualFree")
	}
	goS := &goSide{}
	mrNote := goS.selfCheckMappedReady()
	var mw *memwinSide
	if *flagChild == "" || *flagSide == "memwin" {
		if *flagDLL == "" {
			die("-dll is required")
		}
		mw, err = loadMemwin(winPath(*flagDLL))
		if err != nil {
			die("%v", err)
		}
	}
	if *flagChild != "" {
		childMain(scs, goS, mw)
		return
	}
	if mrNote == "" && *flagChild == "" {
		fmt.Printf("conform: gcController.mappedReady found at +%d\n", goS.mrOffset)
	}
	if mrNote != "" {
		fmt.Printf("note: %s; the Go side records only sysMemStat deltas\n", mrNote)
	}
	if *flagGolden != "" && mrNote != "" {
		die("refusing to record goldens without mapped-ready")
	}
	wine := C.GoString(C.cf_wine_version())
	env := runtime.Version() + " windows/" + runtime.GOARCH
	if wine != "" {
		env += " under Wine " + wine
	}
	fmt.Printf("conform: %d scenarios; Go side %s; memwin side %s\n", len(scs), env, mw.label())

	start := time.Now()
	results := make([]*result, len(scs))
	var children []*result
	warmUp()
	C.cf_mw_catch_fatal(1)
	for i, sc := range scs {
		res := &result{sc: sc, goOK: !versionLess(runtime.Version(), sc.minVersion())}
		results[i] = res
		if res.wide = sc.wide(); res.wide != "" && ptrBits == 32 {
			res.goOK = false // neither side can run it
			continue
		}
		if sc.needsChild() {
			children = append(children, res)
			continue
		}
		if res.goOK {
			res.goObs = runInProcess(goS, sc)
		}
		res.mwObs = runInProcess(mw, sc)
	}
	C.cf_mw_catch_fatal(0)
	inProcess := time.Since(start)
	nChildren := runChildren(children)
	elapsed := time.Since(start)

	// Compare.
	var rows []string
	goSame, goTotal, mwSame, mwTotal := 0, 0, 0, 0
	for _, res := range results {
		sc := res.sc
		golden, gerr := readGolden(sc, runtime.Version())
		// memwin follows one Go version; its golden may be another file.
		mwGolden, mwGerr := readGolden(sc, mw.goVersion())
		sameGolden := goldenPath(sc, runtime.Version()) == goldenPath(sc, mw.goVersion())
		goStatus, goDetail := "n/a", "absent before "+sc.minVersion()
		if res.wide != "" && ptrBits == 32 {
			why := "needs a 64-bit uintptr (" + res.wide + ")"
			rows = append(rows, strings.Join([]string{sc.name, "go", "n/a", why}, "\t"))
			rows = append(rows, strings.Join([]string{sc.name, "memwin", "n/a", why}, "\t"))
			continue
		}
		mwTotal++
		recording := *flagGolden == "all" || *flagGolden == "newer" &&
			(sc.minVersion() != "" || goldenVersion(sc, runtime.Version()) != "")
		// A 32-bit port records only the goldens of its own ("golden 386").
		recording = recording && (ptrBits == 64 || sc.golden386)
		if res.goOK {
			goTotal++
			switch {
			case hasError(res.goObs):
				goStatus, goDetail = "error", firstError(res.goObs)
			case recording:
				if err := writeGolden(sc, runtime.Version(), res.goObs, env); err != nil {
					die("%v", err)
				}
				golden, gerr = res.goObs, nil
				if sameGolden {
					mwGolden, mwGerr = golden, nil
				}
				goStatus, goDetail = "identical", "recorded"
			case gerr != nil:
				goStatus, goDetail = "no-golden", gerr.Error()
			default:
				ds := compareObs(golden, res.goObs, mrNote != "")
				if len(ds) != 0 {
					first := fmtDiffs(sc, "Go (golden)", runtime.Version(), ds)[0]
					if again, ok := rerun(goS, sc, first, func(o []string) bool {
						return len(compareObs(golden, o, mrNote != "")) == 0
					}); ok {
						ds, res.goObs = nil, again
					}
				}
				if len(ds) == 0 {
					goStatus, goDetail = "identical", ""
				} else {
					goStatus = "differs"
					lines := fmtDiffs(sc, "Go (golden)", runtime.Version(), ds)
					goDetail = lines[0]
					printDiffs(lines)
				}
			}
			if goStatus == "identical" {
				goSame++
			}
		}
		mwStatus, mwDetail := "", ""
		switch {
		case hasError(res.mwObs):
			mwStatus, mwDetail = "error", firstError(res.mwObs)
		case mwGerr != nil:
			mwStatus, mwDetail = "no-golden", mwGerr.Error()
		default:
			ds := compareObs(mwGolden, res.mwObs, false)
			if len(ds) != 0 {
				first := fmtDiffs(sc, "Go (golden)", "memwin.dll", ds)[0]
				if again, ok := rerun(mw, sc, first, func(o []string) bool {
					return len(compareObs(mwGolden, o, false)) == 0
				}); ok {
					ds, res.mwObs = nil, again
				}
			}
			if len(ds) == 0 {
				mwStatus = "identical"
				mwSame++
			} else {
				mwStatus = "differs"
				lines := fmtDiffs(sc, "Go (golden)", "memwin.dll", ds)
				mwDetail = lines[0]
				printDiffs(lines)
			}
		}
		rows = append(rows, strings.Join([]string{sc.name, "go", goStatus, goDetail}, "\t"))
		rows = append(rows, strings.Join([]string{sc.name, "memwin", mwStatus, mwDetail}, "\t"))
	}
	fmt.Printf("%s: %d/%d scenarios identical to the golden (%d n/a)\n", runtime.Version(), goSame, goTotal, len(results)-goTotal)
	fmt.Printf("memwin.dll (in %s harness): %d/%d scenarios identical to the golden (%d n/a)\n", runtime.Version(), mwSame, mwTotal, len(results)-mwTotal)
	if retries > 0 {
		fmt.Printf("note: %d scenario run(s) repeated after a difference\n", retries)
	}
	fmt.Printf("time: %.1fs (in process %.1fs; %d child processes %.1fs)\n", elapsed.Seconds(),
		inProcess.Seconds(), nChildren, (elapsed - inProcess).Seconds())
	if *flagResults != "" {
		hdr := fmt.Sprintf("#env\t%s\t%s\t%s\n", env, mw.label(), mrNote)
		if err := os.WriteFile(winPath(*flagResults), []byte(hdr+strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
			die("%v", err)
		}
	}
	if goSame != goTotal || mwSame != mwTotal {
		os.Exit(1)
	}
}

func hasError(obs []string) bool { return firstError(obs) != "" }

func firstError(obs []string) string {
	for _, l := range obs {
		if strings.HasPrefix(l, "0 error ") {
			return strings.TrimPrefix(l, "0 error ")
		}
	}
	return ""
}

func printDiffs(lines []string) {
	for i, l := range lines {
		if i == 8 {
			fmt.Printf("DIFF %s: ... %d more\n", strings.SplitN(l, ":", 2)[0], len(lines)-i)
			break
		}
		fmt.Println("DIFF " + l)
	}
}

// warmUpSink holds the warm-up allocations until they are dropped.
var warmUpSink [][]byte

// warmUp makes the runtime obtain the memory it will need for the
// harness's own allocations up front, so it rarely asks the OS for more
// while scenarios run (GC is off then; settle collects in between).
func warmUp() {
	for i := 0; i < 40000; i++ {
		warmUpSink = append(warmUpSink, make([]byte, 8+(i*37)%4096))
	}
	warmUpSink = nil
}

// settle collects the harness's garbage and returns free memory to the OS
// before a scenario, then turns GC off again.  Turning it off re-paces the
// scavenger against an unbounded heap goal, so the background scavenger
// stays idle and does not change mapped-ready while a step is measured.
func settle() {
	debug.SetGCPercent(100)
	debug.FreeOSMemory()
	debug.SetGCPercent(-1)
}

// retries counts the scenario runs repeated after a difference (rerun).
var retries int

// rerun: a scenario that differs is run again, on that side, up to twice,
// and counts as identical only if one of those runs is (same reports true);
// a real difference repeats.  Two things outside a scenario can change what
// it observes, rarely: the process's own allocations (Wine's thread blocks,
// the Go runtime's) taking a range the scenario has just released, before
// it is observed "free" (seen in CI: os_reserve_repeat on windows/386, a 4K
// block at the released base; and in one conformance run os_free_committed
// on memwin.dll, Go 1.19 amd64, a committed 4K at the freed base at both of
// two in-process runs; os_reserve_hole_churn on memwin.dll, Go 1.19 amd64,
// repeated in each of three runs of the whole set, in one of them seen to be
// a committed 4K holding data at the base of a reservation without an
// address just released), and the Go runtime's own background work moving
// the process-wide mapped-ready counter during a step (seen once: mr +8K in a
// child of os_unused_past_end_fatal, Go 1.20 on 386).  The first repeat is
// made as the run was (in this process or a child); the second always in a
// child, a fresh process whose own allocations have not been made yet.  The
// log counts the repeated runs and names the first difference of the run
// that was repeated (first), so that a repeat that passes still shows what
// moved.
func rerun(s side, sc *scenario, first string, same func([]string) bool) ([]string, bool) {
	name := "memwin"
	if _, ok := s.(*goSide); ok {
		name = "go"
	}
	exe, err := os.Executable()
	if err != nil {
		die("%v", err)
	}
	var obs []string
	for attempt := 1; attempt <= 2; attempt++ {
		retries++
		child := sc.needsChild() || attempt == 2
		how := "in this process"
		if child {
			how = "in a child process"
		}
		fmt.Printf("note: %s differed on %s; run again %s\n", sc.name, s.label(), how)
		if attempt == 1 {
			fmt.Printf("note: first difference: %s\n", first)
		}
		if child {
			obs = runChild(exe, sc, name)
		} else {
			obs = func() []string {
				C.cf_mw_catch_fatal(1)
				defer C.cf_mw_catch_fatal(0)
				return runInProcess(s, sc)
			}()
		}
		if same(obs) {
			return obs, true
		}
	}
	return obs, false
}

func runInProcess(s side, sc *scenario) []string {
	settle()
	var out []string
	r := newRunner(s, func(l string) { out = append(out, l) })
	r.run(sc)
	return out
}

func childMain(scs []*scenario, goS *goSide, mw *memwinSide) {
	var sc *scenario
	for _, x := range scs {
		if x.name == *flagChild {
			sc = x
		}
	}
	if sc == nil {
		die("no scenario %s", *flagChild)
	}
	var s side = goS
	if *flagSide == "memwin" {
		s = mw
	}
	warmUp()
	settle()
	r := newRunner(s, func(l string) { os.Stdout.WriteString(l + "\n") })
	r.run(sc)
	os.Exit(0)
}

// runChildren runs each scenario with a fatal step in child processes, one
// per side, -j at a time, and returns how many it ran.
func runChildren(list []*result) int {
	type job struct {
		res  *result
		side string
	}
	var jobs []job
	for _, res := range list {
		if res.goOK {
			jobs = append(jobs, job{res, "go"})
		}
		jobs = append(jobs, job{res, "memwin"})
	}
	exe, err := os.Executable()
	if err != nil {
		die("%v", err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, *flagJobs)
	for _, j := range jobs {
		j := j
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			obs := runChild(exe, j.res.sc, j.side)
			mu.Lock()
			if j.side == "go" {
				j.res.goObs = obs
			} else {
				j.res.mwObs = obs
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return len(jobs)
}

func runChild(exe string, sc *scenario, sideName string) []string {
	var stdout, stderr bytes.Buffer
	var cmd *exec.Cmd
	// A start can fail for reasons of the host (Wine under load); try again
	// a few times.  A child that started is never retried.
	for attempt := 1; ; attempt++ {
		cmd = exec.Command(exe, "-vectors", *flagVectors, "-dll", *flagDLL, "-child", sc.name, "-side", sideName)
		if len(sc.env) > 0 { // the scenario's settings, e.g. GOTRACEBACK=crash
			cmd.Env = append(os.Environ(), sc.env...)
		}
		// An explicit empty stdin: with none, os/exec opens NUL, which
		// Wine sometimes fails to open.
		cmd.Stdin = strings.NewReader("")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Start()
		if err == nil {
			break
		}
		if attempt == 3 {
			return []string{"0 error cannot start child: " + err.Error()}
		}
		time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(120 * time.Second):
		cmd.Process.Kill()
		<-done
		return []string{"0 error child timed out"}
	}
	var obs []string
	for _, l := range strings.Split(strings.ReplaceAll(stdout.String(), "\r", ""), "\n") {
		if l != "" {
			obs = append(obs, l)
		}
	}
	last := len(sc.steps)
	for _, l := range fatalLines(stderr.String()) {
		obs = append(obs, fmt.Sprintf("%d stderr %s", last, l))
	}
	// The status as Windows reports it, unsigned 32 bits (ExitCode's int
	// is 32 bits wide on 386).
	obs = append(obs, fmt.Sprintf("%d exit %d", last, uint32(cmd.ProcessState.ExitCode())))
	return obs
}
