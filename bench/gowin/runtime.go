//go:build windows

package main

// The Go runtime's own memory functions (Go 1.25 - 1.27 parameter lists),
// reached with //go:linkname; linking needs -ldflags=-checklinkname=0.

import "unsafe"

const vmaName = "memwin-bench"

//go:linkname rtSysReserve runtime.sysReserve
func rtSysReserve(v unsafe.Pointer, n uintptr, vmaName string) unsafe.Pointer

//go:linkname rtSysMap runtime.sysMap
func rtSysMap(v unsafe.Pointer, n uintptr, stat *uint64, vmaName string)

//go:linkname rtSysUsed runtime.sysUsed
func rtSysUsed(v unsafe.Pointer, n, prepared uintptr)

//go:linkname rtSysUnused runtime.sysUnused
func rtSysUnused(v unsafe.Pointer, n uintptr)

//go:linkname rtSysFault runtime.sysFault
func rtSysFault(v unsafe.Pointer, n uintptr)

//go:linkname rtSysFree runtime.sysFree
func rtSysFree(v unsafe.Pointer, n uintptr, stat *uint64)

//go:linkname rtSysFreeOS runtime.sysFreeOS
func rtSysFreeOS(v unsafe.Pointer, n uintptr)

//go:linkname rtSysUsedOS runtime.sysUsedOS
func rtSysUsedOS(v unsafe.Pointer, n uintptr)

//go:linkname rtSysUnusedOS runtime.sysUnusedOS
func rtSysUnusedOS(v unsafe.Pointer, n uintptr)

//go:linkname rtSysReserveAligned runtime.sysReserveAligned
func rtSysReserveAligned(v unsafe.Pointer, size, align uintptr, vmaName string) (unsafe.Pointer, uintptr)

// The runtime's procedure-address slots for kernel32's VirtualAlloc and
// VirtualFree (uintptr: no write barrier on the swap).
//
//go:linkname rtVirtualAlloc runtime._VirtualAlloc
var rtVirtualAlloc uintptr

//go:linkname rtVirtualFree runtime._VirtualFree
var rtVirtualFree uintptr
