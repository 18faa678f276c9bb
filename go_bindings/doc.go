// Package memwin is the Go binding of memwin, a C library that reimplements
// the Go runtime's Windows OS-memory layer (runtime/mem_windows.go and
// runtime/mem.go): on Windows over kernel32, on Linux over an emulation of
// the Windows virtual-memory model.
//
// # Two layers
//
// The raw layer has one function per library export, named like the
// runtime's functions (SysReserve for sysReserve, SysUsedOS for sysUsedOS,
// ...) with the same parameters, a SysMemStat laid out like Go's sysMemStat,
// and Go's behaviour: where the runtime throws, the process prints Go's
// message and exits with status 2.  (The library's optional checked and
// recoverable modes, SetMode or MEMWIN_MODE, change that on purpose; the
// default is Go's exact behaviour.)
//
// The region layer is the idiomatic API.  A Region is one reservation whose
// pages carry Go's states (None, Reserved, Prepared, Ready).  Its methods
// perform the runtime's transitions, refuse illegal ones with an *Error
// that names the rule, the range and the offending page's state, and return
// OS failures (on which Go would die) as errors too; SetExact(true) makes
// those fatal exactly as in Go.
//
// # The handshake
//
// Memory goes through the states in the order the Go heap uses them:
//
//	r, err := memwin.Reserve(1 << 20) // None -> Reserved      (sysReserve)
//	err = r.Map(0, 64<<10)            // Reserved -> Prepared  (sysMap: +sysStat)
//	err = r.Commit(0, 64<<10)         // Prepared -> Ready     (sysUsed: +mapped-ready)
//	b, err := r.Bytes(0, 64<<10)      // use the Ready memory
//	err = r.Decommit(0, 64<<10)       // Ready -> Prepared     (sysUnused: -mapped-ready)
//	err = r.Release()                 // any -> None           (sysFree, sysUnreserve or sysFreeOS)
//
// Failures of the OS come back as an *Error wrapping a *FatalError with
// Go's printed lines and message ("out of memory", ...):
//
//	if err := r.Commit(0, n); errors.Is(err, memwin.ErrOutOfMemory) { ... }
//
// # Building
//
// With cgo (the default wherever a C compiler is found), the package compiles
// memwin's C sources itself: go build needs nothing else, for Linux and for
// Windows (cross-compiling with CC=x86_64-w64-mingw32-gcc).  The build tag
// memwin_system links an installed libmemwin found by pkg-config instead.
// On Windows without cgo the package loads memwin.dll at run time from an
// absolute path: call Load, or set MEMWIN_DLL.
package memwin
