//go:build windows && go1.21

package main

// sysNoHugePage(OS) appeared in Go 1.21.0, sysHugePageCollapse(OS) in
// 1.21.1; build tags cannot tell 1.21.0 apart, so 1.21.0 is not supported.

import "unsafe"

const haveNoHugePage = true

//go:linkname rtSysNoHugePageOS runtime.sysNoHugePageOS
func rtSysNoHugePageOS(v unsafe.Pointer, n uintptr)

//go:linkname rtSysHugePageCollapseOS runtime.sysHugePageCollapseOS
func rtSysHugePageCollapseOS(v unsafe.Pointer, n uintptr)

//go:linkname rtSysNoHugePage runtime.sysNoHugePage
func rtSysNoHugePage(v unsafe.Pointer, n uintptr)

//go:linkname rtSysHugePageCollapse runtime.sysHugePageCollapse
func rtSysHugePageCollapse(v unsafe.Pointer, n uintptr)

func goSysNoHugePageOS(v unsafe.Pointer, n uintptr)       { rtSysNoHugePageOS(v, n) }
func goSysHugePageCollapseOS(v unsafe.Pointer, n uintptr) { rtSysHugePageCollapseOS(v, n) }
func goSysNoHugePage(v unsafe.Pointer, n uintptr)         { rtSysNoHugePage(v, n) }
func goSysHugePageCollapse(v unsafe.Pointer, n uintptr)   { rtSysHugePageCollapse(v, n) }
