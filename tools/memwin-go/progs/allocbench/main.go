// Command allocbench is an allocation-heavy workload for bench.sh: binary
// trees (many small objects, frequent GC), growing and dropping large
// slices (heap growth, the scavenger, FreeOSMemory) and concurrent churn.
// It prints the workload's wall and CPU time (process times, so Wine's
// start-up is not counted) as "allocbench wall_ns=N cpu_ns=N".
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"time"
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

func work(rounds int) int {
	total := 0
	long := tree(16)
	for r := 0; r < rounds; r++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				n := 0
				for d := 4; d <= 14; d += 2 {
					for i := 0; i < 1<<(14-d); i++ {
						n += tree(d).count()
					}
				}
				mu.Lock()
				total += n
				mu.Unlock()
			}(g)
		}
		// Heap growth with large objects, then give memory back.
		for i := 0; i < 24; i++ {
			sink = append(sink, make([]byte, (1+i%8)<<20))
		}
		wg.Wait()
		sink = nil
		if r%4 == 3 {
			debug.FreeOSMemory()
		}
	}
	return total + long.count()
}

func main() {
	rounds := flag.Int("rounds", 8, "workload rounds")
	flag.Parse()
	cpu0 := cpuTime()
	t0 := time.Now()
	n := work(*rounds)
	wall := time.Since(t0)
	cpu := cpuTime() - cpu0
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if n == 0 {
		os.Exit(1)
	}
	fmt.Printf("allocbench wall_ns=%d cpu_ns=%d gcs=%d heapsys=%d\n", wall.Nanoseconds(), cpu.Nanoseconds(), ms.NumGC, ms.HeapSys)
}
