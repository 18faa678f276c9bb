// Command oom allocates 16 MiB blocks, with the garbage collector off,
// until the runtime dies of "out of memory".  check.sh runs it under a
// commit budget (MEMWIN_COMMIT_BUDGET) with memwin's interposers, with the
// full swap, and with a plain C hook on the runtime's own VirtualAlloc.
package main

import (
	"fmt"
	"os"
	"runtime/debug"
)

var sink [][]byte

func main() {
	debug.SetGCPercent(-1)
	for i := 1; i <= 1024; i++ {
		b := make([]byte, 16<<20)
		b[len(b)-1] = 1
		sink = append(sink, b)
		fmt.Fprintf(os.Stderr, "allocated %d MiB\n", i*16)
	}
	fmt.Println("survived 16 GiB")
}
