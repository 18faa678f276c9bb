// Command churn makes the Go runtime reserve, commit, decommit and release
// OS memory, and prints only results that do not depend on how that memory
// was obtained, so its output is the same with and without a swap
// (matrix.sh compares them):
//
//   - binary trees on four goroutines, many rounds: small objects, frequent
//     GC (the heap reserves arenas and commits spans);
//   - 24 large slices per round (1-8 MiB, filled and summed): heap growth;
//   - all dropped, then debug.FreeOSMemory: the scavenger decommits the
//     free pages (HeapReleased must cover at least half of what was dropped);
//   - debug.WriteHeapDump to the null device: the runtime takes a buffer
//     with sysAlloc and gives it back with sysFree (a release).
//
// It exits with status 1 if a fact does not hold.  Built with -tags
// memwinswap it also imports go_bindings/swap (swap.go).
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
)

type node struct{ left, right *node }

func tree(depth int) *node {
	if depth == 0 {
		return &node{}
	}
	return &node{tree(depth - 1), tree(depth - 1)}
}

func (n *node) count() int {
	if n.left == nil {
		return 1
	}
	return 1 + n.left.count() + n.right.count()
}

var sink [][]byte

// report is set by swap.go (-tags memwinswap).
var report = func() {}

func main() {
	const rounds = 6
	nodes := 0
	var sum uint64
	var dropped uint64
	for r := 0; r < rounds; r++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := 0
				for d := 4; d <= 14; d += 2 {
					for i := 0; i < 1<<(14-d); i++ {
						n += tree(d).count()
					}
				}
				mu.Lock()
				nodes += n
				mu.Unlock()
			}()
		}
		for i := 0; i < 24; i++ {
			b := make([]byte, (1+i%8)<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = byte(i + j>>12 + r)
			}
			sink = append(sink, b)
		}
		wg.Wait()
		for _, b := range sink {
			for j := 0; j < len(b); j += 4096 {
				sum = sum*31 + uint64(b[j])
			}
			dropped += uint64(len(b))
		}
		sink = nil
	}
	runtime.GC()
	debug.FreeOSMemory()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	// The last round's slices (108 MiB) are certainly free now.
	lastRound := uint64(0)
	for i := 0; i < 24; i++ {
		lastRound += uint64(1+i%8) << 20
	}
	released := after.HeapReleased >= lastRound/2
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	dumped := err == nil
	if dumped {
		debug.WriteHeapDump(f.Fd())
		f.Close()
	}
	fmt.Printf("trees: %d rounds, %d nodes\n", rounds, nodes)
	fmt.Printf("slices: %d MiB allocated and dropped, checksum %#x\n", dropped>>20, sum)
	fmt.Printf("FreeOSMemory returned the dropped heap to the OS: %v\n", released)
	fmt.Printf("heap dump written: %v\n", dumped)
	report()
	if !released || !dumped {
		os.Exit(1)
	}
}
