package swap

import "time"

// Operations, as the interposers count them.
const (
	OpReserve  = iota // VirtualAlloc with MEM_RESERVE
	OpCommit          // VirtualAlloc with MEM_COMMIT
	OpAlloc           // VirtualAlloc with MEM_COMMIT|MEM_RESERVE
	OpDecommit        // VirtualFree with MEM_DECOMMIT
	OpRelease         // VirtualFree with MEM_RELEASE
	OpOther           // any other allocation or free type
	NumOps
)

// OpNames are the operations' names, as in the trace.
var OpNames = [NumOps]string{"reserve", "commit", "alloc", "decommit", "release", "other"}

// SizeClasses is the number of size classes: class 0 holds calls of up to
// 4 KiB, class k (1..22) sizes in (2^(11+k), 2^(12+k)], the last class all
// larger sizes.  A release counts the size of the reservation it frees.
const SizeClasses = 24

// OpStats counts one operation.
type OpStats struct {
	Calls     uint64              // calls seen
	Failed    uint64              // of which failed, by the OS or the fault policy
	Injected  uint64              // of which failed by the fault policy
	Bytes     uint64              // sizes of the successful calls
	SizeClass [SizeClasses]uint64 // calls by size class
}

// Stats is a snapshot of the interposers' counters.  Committed and reserved
// bytes are those obtained through the interposers, tracked per 4 KiB page.
type Stats struct {
	Op             [NumOps]OpStats
	Committed      uint64        // bytes committed now
	CommittedPeak  uint64        // highest Committed
	Reserved       uint64        // bytes of live reservations
	ReservedPeak   uint64        // highest Reserved
	NewlyCommitted uint64        // bytes that went from not committed to committed
	Decommitted    uint64        // bytes that went from committed to not
	Released       uint64        // bytes of reservations released
	TraceLines     uint64        // lines written to the MEMWIN_TRACE file
	Elapsed        time.Duration // since the interposers started
}

// Calls is the number of calls of all operations.
func (s *Stats) Calls() uint64 {
	var n uint64
	for i := range s.Op {
		n += s.Op[i].Calls
	}
	return n
}

// Policy is the interposers' fault policy; zero fields are off.
type Policy struct {
	FailCommitNth   uint64 // first commit to fail, counting from 1 every call that commits
	FailCommitCount uint64 // how many from there (0: all)
	FailCommitError uint32 // their error code (0: 1455, ERROR_COMMITMENT_LIMIT)
	CommitBudget    uint64 // fail commits above this many committed bytes, with 1455
	ReserveBudget   uint64 // fail reservations above this many reserved bytes, with 8
}
