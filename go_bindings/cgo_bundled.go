//go:build cgo && !memwin_system

package memwin

// The default cgo build compiles memwin's C sources (../src, through the
// src_*.c files in this directory) into the package, so nothing has to be
// built or installed beforehand.  Build with -tags memwin_system to link a
// system-installed libmemwin instead (cgo_system.go).

// #cgo CFLAGS: -I${SRCDIR}/../include
// #cgo linux LDFLAGS: -lpthread
import "C"

const linkage = "bundled C sources"
