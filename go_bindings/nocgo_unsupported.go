//go:build !cgo && !windows

package memwin

// Without cgo, memwin can only load memwin.dll at run time, which exists on
// Windows alone.  On this platform build with CGO_ENABLED=1 and a C compiler;
// the reference below makes the build fail with this file's name in the
// error instead of with a confusing list of missing functions.
var _ = memwin_needs_cgo_on_this_platform_set_CGO_ENABLED_1
