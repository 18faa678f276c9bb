// Command fatalonce allocates on eight goroutines at once, with the
// garbage collector off, so that the runtime commits memory on several
// threads at the same time.  check.sh runs it with the full swap under
// MEMWIN_FAIL_COMMIT_NTH=200 MEMWIN_FAIL_COMMIT_COUNT=5: the runtime must
// die with one "fatal error:" line, as without memwin (issue 15.1: another
// thread used to throw the first thread's error a second time).
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
)

const workers = 8

var keep [workers][][]byte

func main() {
	runtime.GOMAXPROCS(workers)
	debug.SetGCPercent(-1)
	var start, done sync.WaitGroup
	start.Add(1)
	for g := 0; g < workers; g++ {
		done.Add(1)
		go func(g int) {
			defer done.Done()
			start.Wait()
			for i := 0; i < 20000; i++ {
				// 512 B to 8 KiB: the runtime commits each fresh span
				// (8 or 16 KiB) by its own call, so a failing commit
				// dies after three failures (Go's halving retry).
				b := make([]byte, 512*(1+(i+g)%16))
				b[0], b[len(b)-1] = 1, 1
				keep[g] = append(keep[g], b)
			}
		}(g)
	}
	start.Done()
	done.Wait()
	fmt.Fprintln(os.Stderr, "survived")
}
