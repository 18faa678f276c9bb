//go:build !windows || !cgo

package swap

import "errors"

var errUnsupported = errors.New("memwin/swap: the swap needs windows and cgo")

// Active reports whether the runtime's VirtualAlloc and VirtualFree are
// served by memwin.dll's interposers.
func Active() bool { return false }

// Status says whether the swap is in force, and if not, why.
func Status() string { return errUnsupported.Error() }

// DLLPath is the path memwin.dll was (or would have been) loaded from.
func DLLPath() string { return "" }

// ReadStats returns the interposers' counters; ok is false when the swap
// is not active.
func ReadStats() (s Stats, ok bool) { return Stats{}, false }

// GetPolicy returns the fault policy in force.
func GetPolicy() (Policy, error) { return Policy{}, errUnsupported }

// SetPolicy replaces the fault policy (the zero Policy: none).
func SetPolicy(p Policy) error { return errUnsupported }

// Flush writes out the buffered trace lines and, if MEMWIN_STATS names a
// file, the counters.
func Flush() error { return errUnsupported }
