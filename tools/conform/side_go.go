//go:build windows

package main

// The Go runtime side: the runtime's own functions, reached by linkname.

/*
#include "native.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

type goSide struct {
	mrAddr uintptr // &gcController.mappedReady, 0 if not readable
}

// goStat is the Go side's sysMemStat (a uint64, as runtime.sysMemStat).
var goStat uint64

func (g *goSide) id() C.int     { return C.CF_SIDE_GO }
func (g *goSide) label() string { return runtime.Version() }
func (g *goSide) stat() uint64 {
	return uint64(C.cf_load64(C.uintptr_t(uintptr(unsafe.Pointer(&goStat)))))
}
func (g *goSide) setStat(v uint64) { goStat = v }

func (g *goSide) has(op *opInfo) bool {
	switch op.name {
	case "sysNoHugePageOS", "sysHugePageCollapseOS", "sysNoHugePage", "sysHugePageCollapse":
		return haveNoHugePage
	case "sysUnreserve":
		return haveUnreserve
	case "needZeroAfterSysUnusedOS", "needZeroAfterSysUnused":
		return haveNeedZero
	}
	return true
}

func (g *goSide) mappedReady() (uint64, bool) {
	if g.mrAddr == 0 {
		return 0, false
	}
	return uint64(C.cf_load64(C.uintptr_t(g.mrAddr))), true
}

func (g *goSide) undoMappedReady(delta uint64) {
	if g.mrAddr != 0 && delta != 0 {
		C.cf_add64(C.uintptr_t(g.mrAddr), C.int64_t(-int64(delta)))
	}
}

func (g *goSide) takeFatal() (string, bool) { return "", false }

func ptr(p uintptr) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&p))
}

func b2u(b bool) uintptr {
	if b {
		return 1
	}
	return 0
}

func (g *goSide) call(op *opInfo, a, b, c uintptr) (uintptr, uintptr) {
	switch op.name {
	case "sysAllocOS":
		return uintptr(goSysAllocOS(a)), 0
	case "sysUnusedOS":
		rtSysUnusedOS(ptr(a), b)
	case "sysUsedOS":
		rtSysUsedOS(ptr(a), b)
	case "sysHugePageOS":
		rtSysHugePageOS(ptr(a), b)
	case "sysNoHugePageOS":
		goSysNoHugePageOS(ptr(a), b)
	case "sysHugePageCollapseOS":
		goSysHugePageCollapseOS(ptr(a), b)
	case "sysFreeOS":
		rtSysFreeOS(ptr(a), b)
	case "sysFaultOS":
		rtSysFaultOS(ptr(a), b)
	case "sysReserveOS":
		return uintptr(goSysReserveOS(ptr(a), b)), 0
	case "sysMapOS":
		goSysMapOS(ptr(a), b)
	case "needZeroAfterSysUnusedOS":
		return b2u(goNeedZeroAfterSysUnusedOS()), 0
	case "sysAlloc":
		return uintptr(goSysAlloc(a, &goStat)), 0
	case "sysUnused":
		rtSysUnused(ptr(a), b)
	case "sysUsed":
		rtSysUsed(ptr(a), b, c)
	case "sysHugePage":
		rtSysHugePage(ptr(a), b)
	case "sysNoHugePage":
		goSysNoHugePage(ptr(a), b)
	case "sysHugePageCollapse":
		goSysHugePageCollapse(ptr(a), b)
	case "sysFree":
		rtSysFree(ptr(a), b, &goStat)
	case "sysFault":
		rtSysFault(ptr(a), b)
	case "sysReserve":
		return uintptr(goSysReserve(ptr(a), b)), 0
	case "sysMap":
		goSysMap(ptr(a), b, &goStat)
	case "sysUnreserve":
		goSysUnreserve(ptr(a), b)
	case "sysReserveAligned":
		p, n := goSysReserveAligned(ptr(a), b, c)
		return uintptr(p), n
	case "needZeroAfterSysUnused":
		return b2u(goNeedZeroAfterSysUnused()), 0
	default:
		panic("unknown op " + op.name)
	}
	return 0, 0
}

// selfCheckMappedReady verifies the mappedReady offset with Go's own
// accounting: sysAlloc(64 KiB) must add exactly 64 KiB, sysFree take it
// back.  Returns "" or why mapped-ready cannot be read.
func (g *goSide) selfCheckMappedReady() string {
	if mappedReadyOffset < 0 {
		return "no verified gcController.mappedReady offset for " + runtime.Version()
	}
	g.mrAddr = uintptr(C.cf_gccontroller_addr()) + mappedReadyOffset
	var st uint64
	for try := 0; try < 3; try++ {
		m0, _ := g.mappedReady()
		p := goSysAlloc(65536, &st)
		m1, _ := g.mappedReady()
		if p == nil {
			break
		}
		rtSysFree(p, 65536, &st)
		m2, _ := g.mappedReady()
		if m1-m0 == 65536 && m2 == m0 {
			return ""
		}
	}
	g.mrAddr = 0
	return "gcController.mappedReady self-check failed on " + runtime.Version()
}
