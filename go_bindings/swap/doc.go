// Package swap serves a Go program's memory layer with memwin.dll: imported
// for its side effect,
//
//	import _ "github.com/memwin/memwin/go_bindings/swap"
//
// it points the runtime's procedure variables runtime._VirtualAlloc and
// runtime._VirtualFree at memwin.dll's interposers (memwin_VirtualAlloc and
// memwin_VirtualFree, include/memwin_interpose.h) before the runtime
// starts, from a C constructor.  Every VirtualAlloc and VirtualFree the
// runtime makes, from its first, then goes through memwin.dll, which counts
// it per operation and size class, traces it to a file when asked, applies
// a fault policy, and forwards it to the real function, leaving the thread's
// last error as the real call did.  This is the "primitive swap": no Go
// rebuild, nothing but this import.
//
// memwin.dll is loaded by absolute path: the environment variable
// MEMWIN_DLL, else memwin.dll in the executable's directory.  If it cannot
// be loaded, a line on stderr says so and the runtime keeps its own
// functions.  MEMWIN_SWAP=off disables the swap.  The interposers read
// their configuration (MEMWIN_TRACE, MEMWIN_STATS, MEMWIN_FAIL_COMMIT_NTH,
// MEMWIN_COMMIT_BUDGET, MEMWIN_RESERVE_BUDGET, ...) from the environment;
// see include/memwin_interpose.h.
//
// It needs windows/amd64 and cgo (a mingw-w64 C compiler: CC=x86_64-w64-
// mingw32-gcc), and works on every Go release line from 1.19 to 1.27
// without -checklinkname=0 (measured on 1.19.8, 1.20.14, 1.21.13, 1.22.12,
// 1.23.5, 1.24.4, 1.25.12, 1.26.8 and 1.27.3 under Wine by
// tools/memwin-go/matrix.sh; see docs/runtime-swap.md): the runtime's
// variables are reached from C by their linker names, not through
// //go:linkname.  Elsewhere the package does nothing and Active
// reports false.
//
// tools/memwin-go builds and runs any Go program or test binary with this
// swap (or with the full swap of the runtime's sys*OS functions) under Wine
// and summarises its memory traffic.
package swap
