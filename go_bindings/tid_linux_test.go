package memwin

import "syscall"

// threadID returns the calling OS thread's id.
func threadID() uint64 { return uint64(syscall.Gettid()) }
