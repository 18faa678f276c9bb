package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
)

// benchEstimate: bench-estimate CALLCOST PRIM_STATS FULL_STATS PRIM_RUN
// FULL_RUN.  The swaps' overhead estimated from the measured extra cost
// per call (csrc/callcost.c) times the calls the workload makes.
func benchEstimate(args []string) error {
	if len(args) != 5 {
		usage()
	}
	cc, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	num := func(re string, b []byte) (float64, bool) {
		m := regexp.MustCompile(re).FindSubmatch(b)
		if m == nil {
			return 0, false
		}
		v, err := strconv.ParseFloat(string(m[1]), 64)
		return v, err == nil
	}
	direct, _ := num(`callcost direct ns_per_pair=(-?[0-9.]+)`, cc)
	perCall := map[string]float64{}
	perCall["primitive"], _ = num(`overhead interposed-direct ns_per_call=(-?[0-9.]+)`, cc)
	perCall["full"], _ = num(`overhead memwin-direct ns_per_call=(-?[0-9.]+)`, cc)
	fmt.Printf("Extra cost per VirtualAlloc/VirtualFree call, measured on a commit+decommit pair of 64 KiB (%.1f µs per pair through kernel32 under Wine), and the overhead it implies for the workload:\n\n", direct/1000)
	fmt.Printf("| swap | extra ns per call (median of 41 blocks) | calls in one workload run | workload wall | implied overhead |\n|---|---|---|---|---|\n")
	for i, swap := range []string{"primitive", "full"} {
		st, err := readStats(args[1+i])
		if err != nil {
			return err
		}
		var calls uint64
		for _, n := range opNames {
			calls += st.opOrZero(n).calls
		}
		run, err := os.ReadFile(args[3+i])
		if err != nil {
			return err
		}
		wall, ok := num(`wall_ns=([0-9]+)`, run)
		if !ok {
			return fmt.Errorf("%s: no wall_ns", args[3+i])
		}
		extra := perCall[swap]
		implied := extra
		if implied < 0 {
			implied = 0
		}
		fmt.Printf("| %s | %.0f | %d | %.3f s | %.4f %% |\n", swap, extra, calls, wall/1e9,
			100*implied*float64(calls)/wall)
	}
	return nil
}
