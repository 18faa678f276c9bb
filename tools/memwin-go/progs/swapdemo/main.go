// Command swapdemo imports the primitive swap (go_bindings/swap),
// allocates and frees memory, and prints the swap's status and the
// interposers' counters: check.sh's test of the package on its own.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/memwin/memwin/go_bindings/swap"
)

var sink [][]byte

func main() {
	fmt.Println("status:", swap.Status())
	for i := 0; i < 64; i++ {
		sink = append(sink, make([]byte, 1<<20))
	}
	sink = nil
	runtime.GC()
	debug.FreeOSMemory()
	s, ok := swap.ReadStats()
	if !ok {
		fmt.Println("active: false")
		return
	}
	fmt.Println("active: true")
	for i, name := range swap.OpNames {
		o := s.Op[i]
		fmt.Printf("%s: calls=%d failed=%d injected=%d bytes=%d\n", name, o.Calls, o.Failed, o.Injected, o.Bytes)
	}
	fmt.Printf("committed=%d peak=%d reserved=%d decommitted=%d\n", s.Committed, s.CommittedPeak, s.Reserved, s.Decommitted)
	// The runtime's memory accounting and the interposers' must roughly
	// agree: everything the heap holds was committed through them.
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if s.CommittedPeak < 64<<20 || s.Op[swap.OpReserve].Calls == 0 || s.Op[swap.OpDecommit].Calls == 0 {
		fmt.Println("counters too small")
		os.Exit(1)
	}
	// A policy set from Go: a commit budget 16 MiB above what is committed
	// now, so the 64 MiB block cannot be committed, and the runtime dies of
	// it exactly as it would at the commit limit.
	if len(os.Args) > 1 && os.Args[1] == "die" {
		s, _ = swap.ReadStats()
		if err := swap.SetPolicy(swap.Policy{CommitBudget: s.Committed + 16<<20}); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		sink = append(sink, make([]byte, 64<<20))
		fmt.Println("still alive")
	}
}
