//go:build !linux && !windows

package memwin

// threadID is unknown here; the thread tests then only check correctness.
func threadID() uint64 { return 0 }
