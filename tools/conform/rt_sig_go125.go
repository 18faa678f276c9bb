//go:build windows && go1.25

package main

// Go 1.25+ parameter lists: a vmaName string (ignored on Windows) after
// the others.

import "unsafe"

const vmaName = "memwin-conform"

//go:linkname rtSysAllocOS runtime.sysAllocOS
func rtSysAllocOS(n uintptr, vmaName string) unsafe.Pointer

//go:linkname rtSysReserveOS runtime.sysReserveOS
func rtSysReserveOS(v unsafe.Pointer, n uintptr, vmaName string) unsafe.Pointer

//go:linkname rtSysMapOS runtime.sysMapOS
func rtSysMapOS(v unsafe.Pointer, n uintptr, vmaName string)

//go:linkname rtSysAlloc runtime.sysAlloc
func rtSysAlloc(n uintptr, stat *uint64, vmaName string) unsafe.Pointer

//go:linkname rtSysReserve runtime.sysReserve
func rtSysReserve(v unsafe.Pointer, n uintptr, vmaName string) unsafe.Pointer

//go:linkname rtSysMap runtime.sysMap
func rtSysMap(v unsafe.Pointer, n uintptr, stat *uint64, vmaName string)

//go:linkname rtSysReserveAligned runtime.sysReserveAligned
func rtSysReserveAligned(v unsafe.Pointer, size, align uintptr, vmaName string) (unsafe.Pointer, uintptr)

func goSysAllocOS(n uintptr) unsafe.Pointer                     { return rtSysAllocOS(n, vmaName) }
func goSysReserveOS(v unsafe.Pointer, n uintptr) unsafe.Pointer { return rtSysReserveOS(v, n, vmaName) }
func goSysMapOS(v unsafe.Pointer, n uintptr)                    { rtSysMapOS(v, n, vmaName) }
func goSysAlloc(n uintptr, stat *uint64) unsafe.Pointer         { return rtSysAlloc(n, stat, vmaName) }
func goSysReserve(v unsafe.Pointer, n uintptr) unsafe.Pointer   { return rtSysReserve(v, n, vmaName) }
func goSysMap(v unsafe.Pointer, n uintptr, stat *uint64)        { rtSysMap(v, n, stat, vmaName) }
func goSysReserveAligned(v unsafe.Pointer, size, align uintptr) (unsafe.Pointer, uintptr) {
	return rtSysReserveAligned(v, size, align, vmaName)
}
