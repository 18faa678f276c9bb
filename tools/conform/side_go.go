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
	mrAddr   uintptr // &gcController.mappedReady, 0 if not readable
	mrOffset int     // its offset in gcController, for the log
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

// selfCheckMappedReady finds runtime.gcController.mappedReady by what it
// does instead of by a per-version offset: among the 8-byte words at the
// first 1 KiB of gcController (4-byte steps), the one that grows by exactly
// n when Go's sysAlloc(n) commits and shrinks by n when sysFree(n) releases,
// for two different n, and is the only such word.  Go's sysAlloc and sysFree
// change no other field of gcController by those amounts (the stat they move
// is the harness's own).  Returns "" or why mapped-ready cannot be read.
func (g *goSide) selfCheckMappedReady() string {
	const span, step = 1024, 4
	base := uintptr(C.cf_gccontroller_addr())
	snap := func() (w [span / step]uint64) {
		for k := range w {
			w[k] = uint64(C.cf_peek64(C.uintptr_t(base + uintptr(k*step))))
		}
		return
	}
	var st uint64
	for try := 0; try < 5; try++ {
		ok := [span / step]bool{}
		for k := range ok {
			ok[k] = true
		}
		for _, n := range []uintptr{3 << 16, 5 << 16} {
			s0 := snap()
			p := goSysAlloc(n, &st)
			s1 := snap()
			if p == nil {
				return "gcController.mappedReady: sysAlloc failed during the search"
			}
			rtSysFree(p, n, &st)
			s2 := snap()
			for k := range ok {
				ok[k] = ok[k] && s1[k]-s0[k] == uint64(n) && s1[k]-s2[k] == uint64(n)
			}
		}
		found := -1
		for k, v := range ok {
			if v {
				if found >= 0 {
					found = -2
					break
				}
				found = k
			}
		}
		if found >= 0 && (base+uintptr(found*step))%8 == 0 {
			g.mrAddr = base + uintptr(found*step)
			g.mrOffset = found * step
			return ""
		}
	}
	g.mrAddr = 0
	return "gcController.mappedReady not found on " + runtime.Version() + "/" + runtime.GOARCH
}
