//go:build windows

package main

// -trace: replays recorded traces of real Go programs (tests/traces, format
// in tests/traces/FORMAT.md) on both sides of this process, the Go
// runtime's own OS memory functions and memwin.dll's, and compares what
// each observed with the other and with the trace's golden (the Go side's
// observations, written by -write-golden).

/*
#include "native.h"
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"memwin.local/conform/trace"
)

// traceSide adapts a harness side to trace.Side.
type traceSide struct{ s side }

func (t traceSide) Call(op trace.Op, v, n uint64) uint64 {
	info := ops[op.String()]
	if info == nil || !t.s.has(info) {
		return 0 // a huge-page hint this Go lacks: a no-op on Windows
	}
	if op == trace.SysAllocOS { // the harness passes arguments in Go's order
		r, _ := t.s.call(info, uintptr(n), 0, 0)
		return uint64(r)
	}
	r, _ := t.s.call(info, uintptr(v), uintptr(n), 0)
	return uint64(r)
}

func (t traceSide) Query(addr uint64) (trace.Info, error) {
	var in C.cf_info
	C.cf_query(t.s.id(), C.uintptr_t(addr), &in)
	if in.err != 0 {
		return trace.Info{}, fmt.Errorf("error %d", uint32(in.err))
	}
	return trace.Info{Base: uint64(in.base), Size: uint64(in.size), AllocBase: uint64(in.alloc_base),
		State: uint32(in.state), Protect: uint32(in.protect)}, nil
}

// traceMain replays every file of the comma-separated list on both sides;
// exit status 1 if a side differs from the other or from the golden.  Built
// for windows/386 it replays windows/386 traces only, with the hints 2 GiB
// up (trace.Shift32), and reads and writes goldens with the header line of
// a replay at trace.DefaultShift (tests/traces/FORMAT.md, "32-bit traces").
func traceMain(list string, goS *goSide, mw *memwinSide, writeGolden bool) {
	who := fmt.Sprintf("%s windows/%s, the Go side of tools/conform -trace", runtime.Version(), runtime.GOARCH)
	if shift := trace.ShiftHere(); shift != trace.DefaultShift {
		who += fmt.Sprintf(" (hints shifted by %#x, the header line as at %#x)", shift, uint64(trace.DefaultShift))
	}
	bad := 0
	for _, path := range strings.Split(list, ",") {
		wpath := winPath(path)
		t, err := trace.ReadPath(wpath)
		if err != nil {
			die("%v", err)
		}
		if a := t.Get("goarch"); ptrBits == 32 && a != "386" {
			if a == "" {
				a = "amd64"
			}
			// Its hints and sizes are 64-bit: a 32-bit process cannot replay it.
			fmt.Printf("trace %s: %d steps: recorded on windows/%s, NOT replayed by a 32-bit harness\n", path, len(t.Steps), a)
			bad++
			continue
		}
		goObs := trace.Observe(t, traceSide{goS})
		mwObs := trace.Observe(t, traceSide{mw})
		status := "Go and memwin identical"
		if d := trace.Diff("Go", goObs, "memwin", mwObs); d != "" {
			status = "Go and memwin DIFFER at " + d
			bad++
		}
		gp := trace.GoldenPath(wpath)
		if writeGolden {
			if err := trace.WriteGolden(gp, who, trace.AtDefaultShift(goObs, len(t.Steps))); err != nil {
				die("%v", err)
			}
			status += "; golden written"
		} else if want, err := trace.ReadGolden(gp); err != nil {
			status += "; no golden: " + err.Error()
			bad++
		} else if d := trace.Diff("golden", want, "Go", trace.AtDefaultShift(goObs, len(t.Steps))); d != "" {
			status += "; golden DIFFERS at " + d
			bad++
		} else {
			status += "; golden identical"
		}
		fmt.Printf("trace %s: %d steps, %d observations: %s\n", path, len(t.Steps), len(goObs), status)
	}
	if bad > 0 {
		os.Exit(1)
	}
}
