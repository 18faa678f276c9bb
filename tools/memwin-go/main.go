// Command memwin-go builds a Go program or test binary for windows/amd64
// (or windows/386: --arch=386) with its OS-memory layer served by
// memwin.dll, runs it under Wine and summarises its memory traffic.
//
//	memwin-go run   [options] [go build flags] package|files... [-- args]
//	memwin-go build [options] [go build flags] [-o out.exe] package
//	memwin-go test  [options] [-c] [go build flags] package [-- test binary args]
//
// Options:
//
//	--swap=primitive  (default) runtime._VirtualAlloc/_VirtualFree point at
//	                  memwin.dll's interposers, set by a C constructor that is
//	                  linked into the program (go_bindings/swap's code); the
//	                  program is linked externally with mingw-w64 (cgo)
//	--swap=full       the runtime's sys*OS functions forward to memwin.dll's
//	                  exports: go build -overlay with a replacement of
//	                  runtime/mem_windows.go for the toolchain's version
//	--arch=386        build for windows/386 (default amd64): GOARCH=386,
//	                  i686-w64-mingw32-gcc, the i686 memwin.dll (built into
//	                  build/memwin-go/dll-386), run by 32-bit Wine (WoW64)
//	--swap=realhook   the runtime's own functions behind a plain C hook with
//	                  the same commit policy (reference for fault injection)
//	--swap=none       a plain build (baseline)
//	--swap=none-ext   a plain build linked as the primitive swap is (cgo,
//	                  external linking): the primitive swap's baseline
//	--trace FILE      write the interposers' trace (one line per call)
//	--record FILE     (with --swap=full) record the calls to memwin's OS
//	                  layer as a trace (tests/traces/FORMAT.md; .gz: gzip)
//	--plot FILE       plot committed bytes over time (.svg or .png; gnuplot)
//	--stats FILE      keep the interposers' counters (key-value text)
//	--go CMD          the go command (default $GO, else go)
//	--dll FILE        memwin.dll to use (default: built with CMake into
//	                  build/memwin-go/dll, for 386 build/memwin-go/dll-386;
//	                  $MEMWIN_GO_DLL, $MEMWIN_GO_DLL_386 name prebuilt ones)
//	--env NAME=VALUE  set NAME for the program only (not for the build)
//	--no-summary      do not print the summary
//	--timeout DUR     kill the program after DUR (default 0: none)
//	-c                (test) only build the test binary, as go test -c
//
// The summary (on stderr) gives the calls per operation and the bytes
// reserved, committed, decommitted and released, and the peak committed.
// The program's stdout, stderr and exit status pass through.  The fault
// policy variables of include/memwin_interpose.h (MEMWIN_COMMIT_BUDGET,
// ...) pass through the environment.
//
// Traces (tests/traces/FORMAT.md):
//
//	memwin-go record [--test] TRACE [options] package [-- args]
//	                  run (or test) with --swap=full --record TRACE
//	                  (--arch=386: a windows/386 trace, @goarch 386)
//	memwin-go replay [--write-golden] TRACE... [LIB]
//	                  replay traces: against LIB.so natively (any library
//	                  with memwin's exports and memwin_query), else under
//	                  Wine against the Go runtime and memwin.dll (LIB or the
//	                  CMake build) side by side, by a harness of the trace's
//	                  port (@goarch; windows/386: 32-bit Wine, the i686
//	                  memwin.dll); both compared with each trace's golden
//	                  (TRACE without .trace.gz + .golden.gz)
//	memwin-go diff A B  what changed between two traces: calls per kind,
//	                  bytes reserved and committed, peak committed
//
// Internal commands used by check.sh and bench.sh:
//
//	memwin-go summary STATS          print the summary of a stats file
//	memwin-go plot TRACE OUT         plot a trace
//	memwin-go compare [--md] NAME=LOG...  compare go test -v outputs
//	memwin-go bench-report RESULTS   bench.sh's table
//	memwin-go bench-estimate CALLCOST STATS... RUNS...  bench.sh's per-call estimate
package main

import (
	"fmt"
	"os"
)

func usage() {
	fmt.Fprintln(os.Stderr, `usage: memwin-go run|build|test [--swap=primitive|full|realhook|none|none-ext] [--arch=amd64|386]
                 [--trace FILE] [--plot FILE.svg|png]
                 [--stats FILE] [--go CMD] [--dll FILE] [--env K=V] [--no-summary] [--timeout DUR]
                 [go build flags] package [-- args]
       memwin-go record [--test] TRACE.trace.gz [options] package [-- args]
       memwin-go replay [--write-golden] TRACE... [LIB.so|memwin.dll]
       memwin-go diff TRACE_A TRACE_B
       memwin-go summary STATS | plot TRACE OUT | compare [--md] NAME=LOG... | bench-report RESULTS`)
	os.Exit(2)
}

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "memwin-go: "+format+"\n", a...)
	os.Exit(3)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "run", "build", "test":
		os.Exit(runCommand(os.Args[1], os.Args[2:]))
	case "record":
		// record [--test] TRACE [options] package [-- args]
		args, cmd := os.Args[2:], "run"
		if len(args) > 0 && args[0] == "--test" {
			args, cmd = args[1:], "test"
		}
		if len(args) < 2 {
			usage()
		}
		os.Exit(runCommand(cmd, append([]string{"--swap=full", "--record", args[0]}, args[1:]...)))
	case "replay":
		os.Exit(replayCommand(os.Args[2:]))
	case "diff":
		os.Exit(diffCommand(os.Args[2:]))
	case "summary":
		if len(os.Args) != 3 {
			usage()
		}
		st, err := readStats(os.Args[2])
		if err != nil {
			die("%v", err)
		}
		printSummary(os.Stdout, st, "")
	case "plot":
		if len(os.Args) != 4 {
			usage()
		}
		if err := plot(os.Args[2], os.Args[3]); err != nil {
			die("%v", err)
		}
	case "compare":
		os.Exit(compareCommand(os.Args[2:]))
	case "bench-estimate":
		if err := benchEstimate(os.Args[2:]); err != nil {
			die("%v", err)
		}
	case "bench-report":
		if len(os.Args) != 3 {
			usage()
		}
		if err := benchReport(os.Args[2]); err != nil {
			die("%v", err)
		}
	case "-h", "--help", "help":
		usage()
	default:
		usage()
	}
}
