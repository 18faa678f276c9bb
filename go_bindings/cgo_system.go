//go:build cgo && memwin_system

package memwin

// With -tags memwin_system the package links the installed libmemwin found
// by pkg-config (memwin.pc, installed by memwin's CMake build) instead of
// compiling the bundled C sources.

// #cgo pkg-config: memwin
import "C"

const linkage = "system libmemwin (pkg-config memwin)"
