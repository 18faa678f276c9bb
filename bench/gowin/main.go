//go:build windows

// Command gowin times, in one windows/amd64 process under Wine, the Go
// runtime's own memory functions (reached by linkname), memwin.dll's
// exports (loaded by absolute path) and kernel32's VirtualAlloc /
// VirtualFree called directly, side by side: for each repetition the three
// sides run one batch each, in turn.  Records as bench/bench.c writes them
// (bench/README.md); sides go, memwin, raw.
//
// Build (bench/run.sh does it):
//
//	CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=x86_64-w64-mingw32-gcc \
//	    go build -ldflags=-checklinkname=0 -o gowin.exe ./gowin
//
// Usage: gowin.exe -dll 'Z:\abs\path\memwin.dll' [-reps N] [-long]
package main

/*
#cgo CFLAGS: -O2 -I${SRCDIR}/../../include
#include "gowin.h"
*/
import "C"

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"unicode/utf16"
	"unsafe"
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

var sizes = []uintptr{4 * kib, 64 * kib, 1 * mib, 16 * mib, 64 * mib}

var opNames = []string{"reserve", "map", "commit", "decommit", "fault", "release", "cycle", "handshake"}

const (
	opReserve = iota
	opMap
	opCommit
	opDecommit
	opFault
	opRelease
	opCycle
	opHandshake
)

var (
	out    = bufio.NewWriterSize(os.Stdout, 1<<16)
	stat   uint64 // the sysMemStat the runtime's sysMap / sysFree update
	regs   [64]unsafe.Pointer
	warmup = 2
)

func rec(suite, cas string, param uint64, side string, rep int, ns float64) {
	fmt.Fprintf(out, "R\t%s\t%s\t%d\t%s\t%d\t%.2f\n", suite, cas, param, side, rep, ns)
}

func count(suite, cas string, param uint64, side, metric string, v float64) {
	fmt.Fprintf(out, "C\t%s\t%s\t%d\t%s\t%s\t%.4f\n", suite, cas, param, side, metric, v)
}

func now() uint64 { return uint64(C.gw_now()) }

func batchFor(n uintptr) int {
	k := (1024 * mib) / n
	switch {
	case k > 64:
		return 64
	case k < 8:
		return 8
	}
	return int(k)
}

func reserve(n uintptr) unsafe.Pointer {
	p := rtSysReserve(nil, n, vmaName)
	if p == nil {
		fmt.Fprintln(os.Stderr, "gowin: runtime.sysReserve failed")
		os.Exit(1)
	}
	return p
}

// The Go side of one case: the same steps as gw_batch's, through the
// runtime's functions; the accounting balances (mappedReady is the
// runtime's own counter).
func goSetup(op int, n uintptr, k int) {
	if op == opReserve || op == opHandshake {
		return
	}
	for i := 0; i < k; i++ {
		regs[i] = reserve(n)
		if op != opMap {
			rtSysMap(regs[i], n, &stat, vmaName)
		}
		if op == opDecommit || op == opFault || op == opRelease || op == opCycle {
			rtSysUsed(regs[i], n, n)
		}
	}
}

func goRun(op int, n uintptr, k int) {
	for i := 0; i < k; i++ {
		switch op {
		case opReserve:
			regs[i] = reserve(n)
		case opMap:
			rtSysMap(regs[i], n, &stat, vmaName)
		case opCommit:
			rtSysUsed(regs[i], n, n)
		case opDecommit:
			rtSysUnused(regs[i], n)
		case opFault:
			rtSysFault(regs[i], n)
		case opRelease:
			rtSysFree(regs[i], n, &stat)
		case opCycle:
			rtSysUnused(regs[0], n)
			rtSysUsed(regs[0], n, n)
		case opHandshake:
			p := reserve(n)
			rtSysMap(p, n, &stat, vmaName)
			rtSysUsed(p, n, n)
			rtSysFree(p, n, &stat)
		}
	}
}

func goTeardown(op int, n uintptr, k int) {
	for i := 0; i < k; i++ {
		switch op {
		case opReserve, opMap:
			rtSysFreeOS(regs[i], n)
		case opCommit, opCycle:
			rtSysFree(regs[i], n, &stat)
		case opDecommit, opFault:
			rtSysUsed(regs[i], n, n)
			rtSysFree(regs[i], n, &stat)
		}
	}
}

func goBatch(op int, n uintptr, k int) uint64 {
	nset := k
	if op == opCycle {
		nset = 1
	}
	goSetup(op, n, nset)
	t0 := now()
	goRun(op, n, k)
	t1 := now()
	goTeardown(op, n, nset)
	return t1 - t0
}

// trans: every transition at every size, go / memwin / raw interleaved.
func suiteTrans(reps int) {
	for op := range opNames {
		for _, n := range sizes {
			k := batchFor(n)
			for rep := -warmup; rep < reps; rep++ {
				var t, m, r uint64
				sides := []func(){
					func() { t = goBatch(op, n, k) },
					func() { m = uint64(C.gw_batch(C.GW_MEMWIN, C.int(op), C.uintptr_t(n), C.int(k))) },
					func() {
						if op != opMap {
							r = uint64(C.gw_batch(C.GW_RAW, C.int(op), C.uintptr_t(n), C.int(k)))
						}
					},
				}
				inOrder(rep, sides)
				if rep < 0 {
					continue
				}
				rec("gotrans", opNames[op], uint64(n), "go", rep, float64(t)/float64(k))
				rec("gotrans", opNames[op], uint64(n), "memwin", rep, float64(m)/float64(k))
				if op != opMap {
					rec("gotrans", opNames[op], uint64(n), "raw", rep, float64(r)/float64(k))
				}
			}
		}
	}
}

// inOrder runs the sides of one repetition: forward in even repetitions,
// backward in odd ones, so that no side always runs first.
func inOrder(rep int, sides []func()) {
	for i := range sides {
		if rep&1 == 0 {
			sides[i]()
		} else {
			sides[len(sides)-1-i]()
		}
	}
}

// hooked counts the runtime's VirtualAlloc/VirtualFree calls made by f on
// this (locked) thread.
func hooked(f func()) uint64 {
	oldVA, oldVF := rtVirtualAlloc, rtVirtualFree
	C.gw_hook_set_real(C.uintptr_t(oldVA), C.uintptr_t(oldVF))
	C.gw_hook_watch()
	c0 := uint64(C.gw_hook_calls())
	rtVirtualAlloc, rtVirtualFree = uintptr(C.gw_hook_va()), uintptr(C.gw_hook_vf())
	f()
	rtVirtualAlloc, rtVirtualFree = oldVA, oldVF
	return uint64(C.gw_hook_calls()) - c0
}

// calls: Win32 calls per transition, Go's and memwin's.
func suiteCalls() {
	const k = 16
	for op := range opNames {
		for _, n := range sizes {
			nset := k
			if op == opCycle {
				nset = 1
			}
			goSetup(op, n, nset)
			c := hooked(func() { goRun(op, n, k) })
			goTeardown(op, n, nset)
			count("gocalls", opNames[op], uint64(n), "go", "win32", float64(c)/k)
			count("gocalls", opNames[op], uint64(n), "memwin", "win32", float64(C.gw_count(C.int(op), C.uintptr_t(n), k)))
		}
	}
}

// fallback: sysUnusedOS / sysUsedOS over k adjacent reservations, where
// the whole-range call fails and Go's halving loop takes over.
func suiteFallback(reps int) {
	const piece = 64 * kib
	for _, used := range []int{0, 1} {
		cas := "unused"
		if used == 1 {
			cas = "used"
		}
		for _, k := range []int{1, 2, 3, 4, 8, 16, 32, 64} {
			length := uintptr(k) * piece
			adj := func() unsafe.Pointer {
				b := C.gw_adjacent(C.int(k), piece, C.int(1-used))
				if b == nil {
					fmt.Fprintln(os.Stderr, "gowin: no adjacent reservations")
					os.Exit(1)
				}
				return b
			}
			free := func(b unsafe.Pointer) { C.gw_adjacent_free(b, C.int(k), piece) }
			for rep := -warmup; rep < reps; rep++ {
				var tg, tm, tr uint64
				inOrder(rep, []func(){
					func() {
						b := adj()
						t0 := now()
						if used == 1 {
							rtSysUsedOS(b, length)
						} else {
							rtSysUnusedOS(b, length)
						}
						tg = now() - t0
						free(b)
					},
					func() {
						b := adj()
						tm = uint64(C.gw_memwin_os(C.int(used), b, C.uintptr_t(length)))
						free(b)
					},
					func() {
						b := adj()
						tr = uint64(C.gw_raw_pieces(C.int(used), b, C.int(k), piece))
						free(b)
					},
				})
				if rep >= 0 {
					rec("gofallback", cas, uint64(k), "go", rep, float64(tg))
					rec("gofallback", cas, uint64(k), "memwin", rep, float64(tm))
					rec("gofallback", cas, uint64(k), "raw", rep, float64(tr))
				}
			}
			b := adj()
			cg := hooked(func() {
				if used == 1 {
					rtSysUsedOS(b, length)
				} else {
					rtSysUnusedOS(b, length)
				}
			})
			free(b)
			b = adj()
			C.gw_memwin_counting(1)
			c0 := uint64(C.gw_memwin_calls())
			C.gw_memwin_os(C.int(used), b, C.uintptr_t(length))
			cm := uint64(C.gw_memwin_calls()) - c0
			C.gw_memwin_counting(0)
			free(b)
			count("gofallback", cas, uint64(k), "go", "win32", float64(cg))
			count("gofallback", cas, uint64(k), "memwin", "win32", float64(cm))
		}
	}
}

// aligned: sysReserveAligned + release, Go's against memwin's.
func suiteAligned(reps, iters int) {
	for _, n := range []uintptr{4 * mib, 64 * mib} {
		for rep := -warmup; rep < reps; rep++ {
			var tg, tm uint64
			inOrder(rep, []func(){
				func() {
					t0 := now()
					for i := 0; i < iters; i++ {
						p, reserved := rtSysReserveAligned(nil, n, n, vmaName)
						if p == nil {
							fmt.Fprintln(os.Stderr, "gowin: runtime.sysReserveAligned failed")
							os.Exit(1)
						}
						rtSysFreeOS(p, reserved)
					}
					tg = now() - t0
				},
				func() { tm = uint64(C.gw_memwin_aligned(C.uintptr_t(n), C.uintptr_t(n), C.int(iters))) },
			})
			if rep >= 0 {
				rec("goaligned", "t1", uint64(n), "go", rep, float64(tg)/float64(iters))
				rec("goaligned", "t1", uint64(n), "memwin", rep, float64(tm)/float64(iters))
			}
		}
	}
}

func main() {
	dll := flag.String("dll", "", "absolute Windows path of memwin.dll")
	reps := flag.Int("reps", 21, "timed repetitions per case and side")
	long := flag.Bool("long", false, "more work per case")
	flag.Parse()
	if *dll == "" {
		fmt.Fprintln(os.Stderr, "usage: gowin -dll 'Z:\\path\\memwin.dll' [-reps N] [-long]")
		os.Exit(2)
	}
	debug.SetGCPercent(-1) // no collection in the middle of a batch
	runtime.LockOSThread()
	w := utf16.Encode([]rune(*dll + "\x00"))
	var errbuf [256]C.char
	if C.gw_load((*C.uint16_t)(unsafe.Pointer(&w[0])), &errbuf[0], C.int(len(errbuf))) != 0 {
		fmt.Fprintf(os.Stderr, "gowin: %s: %s\n", *dll, C.GoString(&errbuf[0]))
		os.Exit(1)
	}
	fmt.Fprintf(out, "I\thost\twindows-go\nI\tgo\t%s\nI\tmemwin\t%s\nI\treps\t%d\n",
		runtime.Version(), C.GoString(C.gw_memwin_version()), *reps)
	iters := 50
	if *long {
		iters = 200
	}
	suiteTrans(*reps)
	suiteCalls()
	suiteFallback(*reps)
	suiteAligned(*reps, iters)
	out.Flush()
}
