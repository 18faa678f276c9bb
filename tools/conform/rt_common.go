//go:build windows

package main

// The runtime functions whose parameter lists are the same in every Go
// version the harness supports (1.19 - 1.27), reached with //go:linkname.
// Go >= 1.23 needs -ldflags=-checklinkname=0 to link these references.

import "unsafe"

//go:linkname rtSysUnusedOS runtime.sysUnusedOS
func rtSysUnusedOS(v unsafe.Pointer, n uintptr)

//go:linkname rtSysUsedOS runtime.sysUsedOS
func rtSysUsedOS(v unsafe.Pointer, n uintptr)

//go:linkname rtSysHugePageOS runtime.sysHugePageOS
func rtSysHugePageOS(v unsafe.Pointer, n uintptr)

//go:linkname rtSysFreeOS runtime.sysFreeOS
func rtSysFreeOS(v unsafe.Pointer, n uintptr)

//go:linkname rtSysFaultOS runtime.sysFaultOS
func rtSysFaultOS(v unsafe.Pointer, n uintptr)

//go:linkname rtSysUnused runtime.sysUnused
func rtSysUnused(v unsafe.Pointer, n uintptr)

//go:linkname rtSysUsed runtime.sysUsed
func rtSysUsed(v unsafe.Pointer, n, prepared uintptr)

//go:linkname rtSysHugePage runtime.sysHugePage
func rtSysHugePage(v unsafe.Pointer, n uintptr)

//go:linkname rtSysFree runtime.sysFree
func rtSysFree(v unsafe.Pointer, n uintptr, stat *uint64)

//go:linkname rtSysFault runtime.sysFault
func rtSysFault(v unsafe.Pointer, n uintptr)
