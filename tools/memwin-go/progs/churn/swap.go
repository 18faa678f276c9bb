//go:build memwinswap

package main

import (
	"fmt"
	"os"

	"github.com/memwin/memwin/go_bindings/swap"
)

// With -tags memwinswap (matrix.sh's "package" mode) the program imports
// go_bindings/swap, the primitive swap as a Go package, and says on stderr
// whether it was active; stdout stays as without the swap.
func init() {
	report = func() {
		s, _ := swap.ReadStats()
		fmt.Fprintf(os.Stderr, "memwin/swap: active=%v, %d calls; %s\n", swap.Active(), s.Calls(), swap.Status())
	}
}
