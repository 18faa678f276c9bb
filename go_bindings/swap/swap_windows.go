//go:build windows && cgo

package swap

// #cgo CFLAGS: -I${SRCDIR}/../../include -O2
// #include "swap_windows.h"
import "C"

import (
	"errors"
	"fmt"
	"time"
)

// Active reports whether the runtime's VirtualAlloc and VirtualFree are
// served by memwin.dll's interposers.
func Active() bool { return C.memwin_swap_state() == C.MEMWIN_SWAP_ACTIVE }

// Status says whether the swap is in force, and if not, why.
func Status() string {
	switch C.memwin_swap_state() {
	case C.MEMWIN_SWAP_ACTIVE:
		return "runtime._VirtualAlloc and runtime._VirtualFree are served by " + DLLPath()
	case C.MEMWIN_SWAP_DISABLED, C.MEMWIN_SWAP_FAILED:
		return "memwin/swap: " + C.GoString(C.memwin_swap_message())
	}
	return "memwin/swap: the constructor did not run"
}

// DLLPath is the path memwin.dll was (or would have been) loaded from.
func DLLPath() string {
	var buf [1024]C.char
	C.memwin_swap_path(&buf[0], C.size_t(len(buf)))
	return C.GoString(&buf[0])
}

// ReadStats returns the interposers' counters; ok is false when the swap
// is not active.
func ReadStats() (s Stats, ok bool) {
	var c C.memwin_interpose_stats
	if C.memwin_swap_stats(&c) == 0 {
		return Stats{}, false
	}
	for i := 0; i < NumOps; i++ {
		o := &c.op[i]
		s.Op[i] = OpStats{Calls: uint64(o.calls), Failed: uint64(o.failed),
			Injected: uint64(o.injected), Bytes: uint64(o.bytes)}
		for k := 0; k < SizeClasses; k++ {
			s.Op[i].SizeClass[k] = uint64(o.size_class[k])
		}
	}
	s.Committed = uint64(c.committed)
	s.CommittedPeak = uint64(c.committed_peak)
	s.Reserved = uint64(c.reserved)
	s.ReservedPeak = uint64(c.reserved_peak)
	s.NewlyCommitted = uint64(c.newly_committed)
	s.Decommitted = uint64(c.decommitted)
	s.Released = uint64(c.released)
	s.TraceLines = uint64(c.trace_lines)
	s.Elapsed = time.Duration(c.time_ns)
	return s, true
}

var errInactive = errors.New("memwin/swap: the swap is not active")

// GetPolicy returns the fault policy in force.
func GetPolicy() (Policy, error) {
	var c C.memwin_interpose_policy
	if C.memwin_swap_get_policy(&c) == 0 {
		return Policy{}, errInactive
	}
	return Policy{FailCommitNth: uint64(c.fail_commit_nth), FailCommitCount: uint64(c.fail_commit_count),
		FailCommitError: uint32(c.fail_commit_error), CommitBudget: uint64(c.commit_budget),
		ReserveBudget: uint64(c.reserve_budget)}, nil
}

// SetPolicy replaces the fault policy (the zero Policy: none).
func SetPolicy(p Policy) error {
	c := C.memwin_interpose_policy{fail_commit_nth: C.uint64_t(p.FailCommitNth),
		fail_commit_count: C.uint64_t(p.FailCommitCount), fail_commit_error: C.uint32_t(p.FailCommitError),
		commit_budget: C.uint64_t(p.CommitBudget), reserve_budget: C.uint64_t(p.ReserveBudget)}
	if C.memwin_swap_set_policy(&c) == 0 {
		return errInactive
	}
	return nil
}

// Flush writes out the buffered trace lines and, if MEMWIN_STATS names a
// file, the counters.
func Flush() error {
	if !Active() {
		return errInactive
	}
	if e := C.memwin_swap_flush(); e != 0 {
		return fmt.Errorf("memwin/swap: flush: error %d", uint32(e))
	}
	return nil
}
