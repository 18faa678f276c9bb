//go:build windows && !go1.25

package main

// Go 1.19 - 1.24 parameter lists (no vmaName).

import "unsafe"

//go:linkname rtSysAllocOS runtime.sysAllocOS
func rtSysAllocOS(n uintptr) unsafe.Pointer

//go:linkname rtSysReserveOS runtime.sysReserveOS
func rtSysReserveOS(v unsafe.Pointer, n uintptr) unsafe.Pointer

//go:linkname rtSysMapOS runtime.sysMapOS
func rtSysMapOS(v unsafe.Pointer, n uintptr)

//go:linkname rtSysAlloc runtime.sysAlloc
func rtSysAlloc(n uintptr, stat *uint64) unsafe.Pointer

//go:linkname rtSysReserve runtime.sysReserve
func rtSysReserve(v unsafe.Pointer, n uintptr) unsafe.Pointer

//go:linkname rtSysMap runtime.sysMap
func rtSysMap(v unsafe.Pointer, n uintptr, stat *uint64)

//go:linkname rtSysReserveAligned runtime.sysReserveAligned
func rtSysReserveAligned(v unsafe.Pointer, size, align uintptr) (unsafe.Pointer, uintptr)

func goSysAllocOS(n uintptr) unsafe.Pointer                     { return rtSysAllocOS(n) }
func goSysReserveOS(v unsafe.Pointer, n uintptr) unsafe.Pointer { return rtSysReserveOS(v, n) }
func goSysMapOS(v unsafe.Pointer, n uintptr)                    { rtSysMapOS(v, n) }
func goSysAlloc(n uintptr, stat *uint64) unsafe.Pointer         { return rtSysAlloc(n, stat) }
func goSysReserve(v unsafe.Pointer, n uintptr) unsafe.Pointer   { return rtSysReserve(v, n) }
func goSysMap(v unsafe.Pointer, n uintptr, stat *uint64)        { rtSysMap(v, n, stat) }
func goSysReserveAligned(v unsafe.Pointer, size, align uintptr) (unsafe.Pointer, uintptr) {
	return rtSysReserveAligned(v, size, align)
}
