package memwin

import "syscall"

var getCurrentThreadID = syscall.NewLazyDLL("kernel32.dll").NewProc("GetCurrentThreadId")

// threadID returns the calling OS thread's id.
func threadID() uint64 {
	r, _, _ := getCurrentThreadID.Call()
	return uint64(r)
}
