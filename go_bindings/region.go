package memwin

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

// State is the Go runtime's state of a page (runtime/mem.go).
type State uint8

const (
	// StateNone: not reserved; any access faults.
	StateNone State = iota
	// StateReserved: address space owned, not usable (MEM_RESERVE).
	StateReserved
	// StatePrepared: Reserved but accounted as mapped; on Windows identical
	// to Reserved for the OS, because sysMap does nothing there.
	StatePrepared
	// StateReady: committed, readable and writable (MEM_COMMIT, PAGE_READWRITE).
	StateReady
)

func (s State) String() string {
	switch s {
	case StateNone:
		return "None"
	case StateReserved:
		return "Reserved"
	case StatePrepared:
		return "Prepared"
	case StateReady:
		return "Ready"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

var exact atomic.Bool

// SetExact switches how the region layer reports failures on which the Go
// runtime would die (a commit that runs out of memory, a failed decommit or
// release, a sysMemStat overflow, too many sysReserveAligned races).  Off (the
// default), they come back as an *Error wrapping a *FatalError.  On, they are
// fatal exactly as in Go: Go's text goes to stderr and the process exits
// with status 2.  Illegal transitions and failed reservations are reported as
// errors in both modes: Go's runtime has no such check, and its sysReserve
// and sysAlloc return nil rather than throw.  The raw layer (SysUsed, ...)
// is always fatal like Go.  SetExact returns the previous setting.
func SetExact(on bool) (previous bool) { return exact.Swap(on) }

// Exact reports the SetExact setting.
func Exact() bool { return exact.Load() }

// A Region is one reservation of address space, managed through the Go
// runtime's generic layer (sysReserve, sysMap, sysUsed, sysUnused, sysFault,
// sysFree) with the state of every page tracked as Go defines it:
//
//	None --Reserve--> Reserved --Map--> Prepared --Commit--> Ready
//	Ready --Decommit--> Prepared       Ready --Fault--> Reserved
//	any --Release--> None              None --Alloc--> Ready
//
// Each method checks that every page of its range is in a state the
// transition starts from and returns an *Error (wrapping
// ErrIllegalTransition) otherwise, without calling memwin.  Offsets and
// lengths are in bytes from the region's base and must be multiples of
// PageSize.
//
// The region keeps its own SysMemStat (the sysStat argument of sysMap and
// sysFree; see Stats); MappedReady counts its Ready bytes, as Go counts
// them.  A Region is safe for concurrent use.  It has no finalizer: memory is
// returned only by Release, so slices from Bytes stay valid even after the
// *Region is garbage.
type Region struct {
	mu       sync.Mutex
	base     unsafe.Pointer
	size     uintptr
	states   stateMap
	stat     SysMemStat
	released bool
}

// transition describes a Region method in terms of Go's runtime.
type transition struct {
	op, fn, rule string
	from         uint8
	to           State
}

var (
	trAlloc     = transition{"Alloc", "sysAlloc", "None -> Ready", 0, StateReady}
	trReserve   = transition{"Reserve", "sysReserve", "None -> Reserved", 0, StateReserved}
	trAligned   = transition{"ReserveAligned", "sysReserveAligned", "None -> Reserved", 0, StateReserved}
	trMap       = transition{"Map", "sysMap", "Reserved -> Prepared", stateMask(StateReserved), StatePrepared}
	trCommit    = transition{"Commit", "sysUsed", "Prepared -> Ready", stateMask(StatePrepared, StateReady), StateReady}
	trDecommit  = transition{"Decommit", "sysUnused", "Ready -> Prepared", stateMask(StateReady), StatePrepared}
	trFault     = transition{"Fault", "sysFault", "Ready -> Reserved", stateMask(StateReady), StateReserved}
	trFree      = transition{"Release", "sysFree", "any -> None", 0, StateNone}
	trUnreserve = transition{"Release", "sysUnreserve", "Reserved -> None", 0, StateNone}
	trFreeOS    = transition{"Release", "sysFreeOS", "any -> None", 0, StateNone}
	trBytes     = transition{"Bytes", "", "", stateMask(StateReady), StateReady}
)

func capture() bool { return !exact.Load() }

// rangeError is an ErrRange with the numbers that failed: errors.Is(err,
// ErrRange) holds, and its text names the offset, the length and the bound
// broken, relative to the region rather than as addresses.
type rangeError struct{ what, why string }

func (e *rangeError) Error() string   { return e.what + ": " + e.why }
func (e *rangeError) Is(t error) bool { return t == ErrRange }

// sizeError explains why a size for a new region is refused.
func sizeError(size uintptr) error {
	why := fmt.Sprintf("not a multiple of %d", PageSize)
	if size == 0 {
		why = "zero"
	}
	return &rangeError{fmt.Sprintf("size %#x", size), why}
}

// spanError explains why [off, off+n) is refused for a region of size
// bytes, or returns nil; page selects the page-granular checks of the
// transitions (Bytes takes any byte range).
func spanError(off, n, size uintptr, page bool) error {
	why := ""
	switch {
	case n == 0:
		why = "zero length"
	case page && off%PageSize != 0:
		why = fmt.Sprintf("offset not a multiple of %d", PageSize)
	case page && n%PageSize != 0:
		why = fmt.Sprintf("length not a multiple of %d", PageSize)
	case off >= size:
		why = fmt.Sprintf("starts at or past the region's end %#x", size)
	case n > size-off:
		why = fmt.Sprintf("ends past the region's end %#x", size)
	default:
		return nil
	}
	return &rangeError{fmt.Sprintf("range [off %#x, len %#x) of region size %#x", off, n, size), why}
}

func checkSize(tr *transition, size uintptr) error {
	if size == 0 || size%PageSize != 0 {
		return &Error{Op: tr.op, Func: tr.fn, Rule: tr.rule, Len: size, Err: sizeError(size)}
	}
	return nil
}

// osError is a nil result of sysReserve/sysReserveAligned/sysAlloc.
type osError struct {
	sentinel error
	code     Errno
}

func (e *osError) Error() string     { return e.sentinel.Error() + ": " + e.code.Error() }
func (e *osError) Is(t error) bool   { return t == e.sentinel }
func (e *osError) Unwrap() error     { return e.code }
func reserveFailed(code Errno) error { return &osError{ErrReserveFailed, code} }

func newRegion(base, size uintptr, st State) *Region {
	return &Region{base: ptr(base), size: size, states: newStateMap(size, st)}
}

// ptr turns an address of memwin-managed (non-Go) memory into a pointer.
func ptr(a uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&a)) }

// Reserve reserves size bytes of address space anywhere (sysReserve, None
// -> Reserved).  size must be a non-zero multiple of PageSize.
func Reserve(size uintptr) (*Region, error) { return ReserveAt(nil, size) }

// ReserveAt is Reserve with an address hint, which, as in Go, is soft: the
// reservation is made elsewhere if it cannot be made at hint.
func ReserveAt(hint unsafe.Pointer, size uintptr) (*Region, error) {
	tr := &trReserve
	if err := checkSize(tr, size); err != nil {
		return nil, err
	}
	res := regionCall(opSysReserve, capture(), uintptr(hint), size, 0, nil)
	if err := res.failure(); err != nil {
		return nil, &Error{Op: tr.op, Func: tr.fn, Rule: tr.rule, Addr: uintptr(hint), Len: size, Err: err}
	}
	if res.ret == 0 {
		return nil, &Error{Op: tr.op, Func: tr.fn, Rule: tr.rule, Addr: uintptr(hint), Len: size, Err: reserveFailed(res.lastErr)}
	}
	return newRegion(res.ret, size, StateReserved), nil
}

// ReserveAligned reserves at least size bytes starting at a multiple of
// align, a power of two (sysReserveAligned, None -> Reserved).  As in Go,
// the region is size+align bytes long when the first try happened to be
// aligned, else exactly size.
func ReserveAligned(size, align uintptr) (*Region, error) {
	tr := &trAligned
	if err := checkSize(tr, size); err != nil {
		return nil, err
	}
	if align == 0 || align&(align-1) != 0 || size+align < size {
		why := &rangeError{fmt.Sprintf("align %#x", align), "not a power of two"}
		if align != 0 && align&(align-1) == 0 {
			why = &rangeError{fmt.Sprintf("size %#x + align %#x", size, align), "overflows"}
		}
		return nil, &Error{Op: tr.op, Func: tr.fn, Rule: tr.rule, Len: size, Err: why}
	}
	res := regionCall(opSysReserveAligned, capture(), 0, size, align, nil)
	if err := res.failure(); err != nil {
		return nil, &Error{Op: tr.op, Func: tr.fn, Rule: tr.rule, Len: size, Err: err}
	}
	if res.ret == 0 {
		return nil, &Error{Op: tr.op, Func: tr.fn, Rule: tr.rule, Len: size, Err: reserveFailed(res.lastErr)}
	}
	return newRegion(res.ret, res.ret2, StateReserved), nil
}

// Alloc reserves and commits size bytes in one step (sysAlloc, None ->
// Ready); its SysMemStat and MappedReady grow by size.  sysAlloc counts
// before the OS call, so when that fails Alloc takes the bytes back out of
// MappedReady (see unaccount) before it returns the error.
func Alloc(size uintptr) (*Region, error) {
	tr := &trAlloc
	if err := checkSize(tr, size); err != nil {
		return nil, err
	}
	r := &Region{}
	res := regionCall(opSysAlloc, capture(), 0, size, 0, &r.stat)
	if err := res.failure(); err != nil {
		return nil, &Error{Op: tr.op, Func: tr.fn, Rule: tr.rule, Len: size, Err: err}
	}
	if res.ret == 0 {
		unaccount(size)
		return nil, &Error{Op: tr.op, Func: tr.fn, Rule: tr.rule, Len: size, Err: reserveFailed(res.lastErr)}
	}
	r.base, r.size, r.states = ptr(res.ret), size, newStateMap(size, StateReady)
	return r, nil
}

// unaccountChunk bounds the scratch memory unaccount commits at a time.
const unaccountChunk = 64 << 20

// unaccount subtracts n, a multiple of PageSize, from MappedReady without
// touching memory in use.  Per chunk of at most unaccountChunk bytes it makes
// fresh scratch memory Ready without accounting (readyScratch), gives a
// scratch stat the chunk and frees the scratch with sysFree (Ready -> None:
// stat and mapped-ready -chunk).  Legal in every mode: checked mode's sysFree
// needs every page Ready.  The scratch is committed but never touched.  A
// failure stops the correction.
func unaccount(n uintptr) {
	for n > 0 {
		k := n
		if k > unaccountChunk {
			k = unaccountChunk
		}
		v := readyScratch(k)
		if v == 0 {
			return
		}
		var scratch SysMemStat
		regionCall(opStatAdd, true, 0, 0, k, &scratch)
		regionCall(opSysFree, true, v, k, 0, &scratch)
		if scratch.Load() != 0 {
			// Refused before it accounted: release the scratch (any -> None).
			regionCall(opSysFreeOS, true, v, k, 0, nil)
			return
		}
		// sysFree accounted before the OS call, so a failed release still
		// counts (and leaks the scratch, as in Go).
		n -= k
	}
}

// readyScratch returns a new reservation of k bytes, all Ready, made
// without accounting, or 0: sysAllocOS (None -> Ready), or when that fails
// (a fault injected into the one-call commit, say) sysReserve, sysMapOS and
// sysUsedOS (None -> Reserved -> Prepared -> Ready), which use other OS
// calls.
func readyScratch(k uintptr) uintptr {
	if res := regionCall(opSysAllocOS, true, 0, k, 0, nil); res.ret != 0 {
		return res.ret
	}
	res := regionCall(opSysReserve, true, 0, k, 0, nil)
	if res.ret == 0 {
		return 0
	}
	if mapped := regionCall(opSysMapOS, true, res.ret, k, 0, nil); mapped.failure() == nil {
		if used := regionCall(opSysUsedOS, true, res.ret, k, 0, nil); used.failure() == nil {
			return res.ret
		}
	}
	regionCall(opSysFreeOS, true, res.ret, k, 0, nil) // any -> None
	return 0
}

// failure is the error a call reported, if any.
func (res *callResult) failure() error {
	if res.err != nil {
		return res.err
	}
	if res.fatal != nil {
		return res.fatal
	}
	return nil
}

// Base returns the address of the region's first byte.
func (r *Region) Base() unsafe.Pointer { return r.base }

// Size returns the region's length in bytes.
func (r *Region) Size() uintptr { return r.size }

func (r *Region) String() string {
	return fmt.Sprintf("memwin.Region[%#x, %#x)", uintptr(r.base), uintptr(r.base)+r.size)
}

func (r *Region) addr(off uintptr) uintptr { return uintptr(r.base) + off }

// check validates the range of a method call; r.mu must be held.
func (r *Region) check(tr *transition, off, n uintptr) *Error {
	e := &Error{Op: tr.op, Func: tr.fn, Rule: tr.rule, Addr: r.addr(off), Len: n}
	if r.released {
		e.Err = ErrReleased
		return e
	}
	if err := spanError(off, n, r.size, true); err != nil {
		e.Err = err
		return e
	}
	if page, st, bad := r.states.find(off, n, tr.from); bad {
		e.Page, e.State, e.Err = r.addr(page), st, ErrIllegalTransition
		if tr == &trBytes {
			e.Err = ErrNotReady
		}
		return e
	}
	return nil
}

// Map is sysMap, Reserved -> Prepared, for [off, off+n): the region's
// SysMemStat grows by n; Windows does nothing else.
func (r *Region) Map(off, n uintptr) error { return r.do(&trMap, off, n) }

// Commit is sysUsed, Prepared -> Ready, for [off, off+n): commits the range
// (it reads zero) and adds its Prepared bytes to MappedReady.  As in Go's
// heap, pages that are already Ready may be part of the range; Reserved
// pages may not (Map them first).
func (r *Region) Commit(off, n uintptr) error { return r.do(&trCommit, off, n) }

// Decommit is sysUnused, Ready -> Prepared, for [off, off+n): decommits the
// range (accesses fault until it is committed again, then it reads zero) and
// subtracts n from MappedReady.  Slices from Bytes over it become unusable.
func (r *Region) Decommit(off, n uintptr) error { return r.do(&trDecommit, off, n) }

// Fault is sysFault, Ready -> Reserved, for [off, off+n): decommits the
// range so that accesses fault and subtracts n from MappedReady.  It must be
// mapped again before it is committed.
func (r *Region) Fault(off, n uintptr) error { return r.do(&trFault, off, n) }

func (r *Region) do(tr *transition, off, n uintptr) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.check(tr, off, n); e != nil {
		return e
	}
	before := r.states.at(off)
	v := r.addr(off)
	var res callResult
	switch tr {
	case &trMap:
		res = regionCall(opSysMap, capture(), v, n, 0, &r.stat)
	case &trCommit:
		prepared := r.states.bytes(off, n, StatePrepared)
		res = regionCall(opSysUsed, capture(), v, n, prepared, nil)
		if res.fatal != nil {
			// Pages still Prepared were counted as mapped-ready: take them back.
			r.reconcile(off, n, StatePrepared)
			r.rebalance(off, n, StatePrepared)
		}
	case &trDecommit, &trFault:
		op, after := opSysUnused, StatePrepared
		if tr == &trFault {
			op, after = opSysFault, StateReserved
		}
		res = regionCall(op, capture(), v, n, 0, nil)
		if res.fatal != nil {
			// Pages still committed were counted out of mapped-ready: add them back.
			r.reconcile(off, n, after)
			r.rebalance(off, n, StateReady)
		}
	}
	if err := res.failure(); err != nil {
		return &Error{Op: tr.op, Func: tr.fn, Rule: tr.rule, Addr: v, Len: n, State: before, Err: err}
	}
	r.states.set(off, n, tr.to)
	return nil
}

// reconcile sets the tracked state of [off, off+n) from the OS after a call
// that stopped half-way: committed pages are Ready, reserved ones
// reservedAs, free ones None.
func (r *Region) reconcile(off, n uintptr, reservedAs State) {
	end := r.addr(off + n)
	for a := r.addr(off); a < end; {
		info, code := query(ptr(a))
		if code != 0 || info.RegionSize == 0 {
			return
		}
		next := info.Base + info.RegionSize
		if next > end || next <= a {
			next = end
		}
		st := StateNone
		switch info.State {
		case MemCommit:
			st = StateReady
		case MemReserve:
			st = reservedAs
		}
		r.states.set(a-uintptr(r.base), next-a, st)
		a = next
	}
}

// rebalance corrects MappedReady after a call that failed half-way, so that
// it again counts exactly the Ready pages.  st selects the runs of [off,
// off+n) the failed call miscounted: StatePrepared, pages it counted as
// mapped-ready that did not get committed (their bytes are taken out with
// unaccount), or StateReady, pages it counted out that are still committed
// (sysUsed on them adds them back; committing committed pages changes
// nothing at the OS).  Failures of these corrections are ignored.
func (r *Region) rebalance(off, n uintptr, st State) {
	end := off + n
	var lost uintptr
	for _, run := range append([]stateRun(nil), r.states.runs...) {
		lo, hi := run.off, run.off+run.len
		if run.st != st || hi <= off || lo >= end {
			continue
		}
		if lo < off {
			lo = off
		}
		if hi > end {
			hi = end
		}
		if st == StateReady {
			regionCall(opSysUsed, true, r.addr(lo), hi-lo, hi-lo, nil)
		} else {
			lost += hi - lo
		}
	}
	if lost != 0 {
		unaccount(lost)
	}
}

// Release returns the whole region to the OS (any -> None) and balances
// the books as Go's rules say (README, "Giving memory back"):
//   - all Ready, SysMemStat equal to its size (from Alloc, or mapped once
//     and fully committed): sysFree, which takes the size out of SysMemStat
//     and MappedReady, as in Go;
//   - all Reserved: SysMemStat brought back to zero (what Map added), then
//     sysUnreserve (Reserved -> None, no accounting);
//   - anything else: its Ready runs decommitted with sysUnused (Ready ->
//     Prepared, MappedReady -= run), SysMemStat brought back to zero, then
//     sysFreeOS (any -> None, no accounting).  sysFree would take the whole
//     size from MappedReady, and checked mode refuses it (and sysUnreserve)
//     on such pages.
//
// If the OS fails, Release returns the error with the books restored and
// the region still usable (pages it had decommitted stay Prepared); it may
// be retried.
func (r *Region) Release() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	base, size := r.addr(0), r.size
	if r.released {
		return &Error{Op: "Release", Rule: "any -> None", Addr: base, Len: size, Err: ErrReleased}
	}
	fail := func(tr *transition, a, n uintptr, st State, err error) error {
		return &Error{Op: tr.op, Func: tr.fn, Rule: tr.rule, Addr: a, Len: n, State: st, Err: err}
	}
	if r.states.bytes(0, size, StateReady) == size && r.stat.Load() == uint64(size) {
		res := regionCall(opSysFree, capture(), base, size, 0, &r.stat)
		if err := res.failure(); err != nil {
			if res.fatal != nil && r.stat.Load() == 0 {
				// sysFree accounted, then failed to release: undo the accounting.
				regionCall(opStatAdd, true, 0, 0, size, &r.stat)
				regionCall(opSysUsed, true, base, size, size, nil)
			}
			return fail(&trFree, base, size, StateReady, err)
		}
	} else {
		tr, op := &trUnreserve, opSysUnreserve
		if r.states.bytes(0, size, StateReserved) != size {
			tr, op = &trFreeOS, opSysFreeOS
		}
		for _, run := range append([]stateRun(nil), r.states.runs...) {
			if run.st != StateReady {
				continue
			}
			res := regionCall(opSysUnused, capture(), r.addr(run.off), run.len, 0, nil)
			if err := res.failure(); err != nil {
				if res.fatal != nil {
					r.reconcile(run.off, run.len, StatePrepared)
					r.rebalance(run.off, run.len, StateReady)
				}
				return fail(tr, r.addr(run.off), run.len, StateReady,
					fmt.Errorf("decommitting before the release (sysUnused): %w", err))
			}
			r.states.set(run.off, run.len, StatePrepared)
		}
		stat := r.stat.Load()
		if stat != 0 {
			regionCall(opStatAdd, true, 0, 0, uintptr(-int64(stat)), &r.stat)
		}
		res := regionCall(op, capture(), base, size, 0, nil)
		if err := res.failure(); err != nil {
			if stat != 0 {
				regionCall(opStatAdd, true, 0, 0, uintptr(stat), &r.stat)
			}
			return fail(tr, base, size, r.states.at(0), err)
		}
	}
	r.released = true
	r.states = newStateMap(size, StateNone)
	return nil
}

// Bytes returns a slice over [off, off+n), which must lie in Ready pages
// (ErrNotReady otherwise); off and n need not be page-aligned.  The slice
// addresses memwin's memory, not Go's heap: the garbage collector neither
// moves nor frees it, and its contents stay until the pages leave Ready.
// After Decommit, Fault or Release of those pages, using the slice faults
// (a fatal "unexpected fault address" unless debug.SetPanicOnFault is on).
func (r *Region) Bytes(off, n uintptr) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n == 0 || off > r.size || n > r.size-off {
		e := r.check(&trBytes, 0, 1) // reports ErrReleased first
		if e == nil || e.Err != ErrReleased {
			e = &Error{Op: "Bytes", Addr: r.addr(off), Len: n, Err: spanError(off, n, r.size, false)}
		}
		return nil, e
	}
	lo := off &^ (PageSize - 1)
	hi := (off + n + PageSize - 1) &^ (PageSize - 1)
	if e := r.check(&trBytes, lo, hi-lo); e != nil {
		e.Addr, e.Len = r.addr(off), n
		return nil, e
	}
	return unsafe.Slice((*byte)(unsafe.Add(r.base, off)), n), nil
}

// StateAt returns the tracked state of the page holding off (None outside
// the region or after Release).
func (r *Region) StateAt(off uintptr) State {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.released || off >= r.size {
		return StateNone
	}
	return r.states.at(off)
}

// Stats are a region's byte counts.
type Stats struct {
	Size     uintptr // bytes in the region
	Reserved uintptr // bytes in state Reserved
	Prepared uintptr // bytes in state Prepared
	Ready    uintptr // bytes in state Ready
	// SysStat is the region's SysMemStat: what Go's sysStat for this memory
	// would hold (+n per Map or Alloc, -n per sysFree).  Fault does not
	// lower it, so pages faulted and mapped again count twice, as in Go.
	SysStat uint64
}

// Stats returns the region's byte counts.
func (r *Region) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Stats{Size: r.size, SysStat: r.stat.Load()}
	if r.released {
		return s
	}
	s.Reserved = r.states.bytes(0, r.size, StateReserved)
	s.Prepared = r.states.bytes(0, r.size, StatePrepared)
	s.Ready = r.states.bytes(0, r.size, StateReady)
	return s
}

// A Span is a run of pages of a region with one tracked Go state and one OS
// state, as memwin_query reports it.
type Span struct {
	Off, Len uintptr
	State    State    // Go state tracked by the region
	OS       MemState // MemCommit, MemReserve or MemFree
	Protect  Protect  // protection of committed pages (0 if reserved)
}

func (s Span) String() string {
	return fmt.Sprintf("+%#x..+%#x %v (%v %v)", s.Off, s.Off+s.Len, s.State, s.OS, s.Protect)
}

// Spans walks the region with memwin_query and returns its runs of pages,
// split wherever the OS state or the tracked Go state changes.
func (r *Region) Spans() ([]Span, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.released {
		return nil, &Error{Op: "Spans", Addr: r.addr(0), Len: r.size, Err: ErrReleased}
	}
	var spans []Span
	for off := uintptr(0); off < r.size; {
		info, code := query(ptr(r.addr(off)))
		if code != 0 {
			return nil, &Error{Op: "Spans", Addr: r.addr(off), Len: r.size - off, Err: code}
		}
		end := info.Base + info.RegionSize - uintptr(r.base)
		if end > r.size || info.RegionSize == 0 || end <= off {
			end = r.size
		}
		// Split [off, end) at the tracked runs.
		for _, run := range r.states.runs {
			lo, hi := run.off, run.off+run.len
			if hi <= off || lo >= end {
				continue
			}
			if lo < off {
				lo = off
			}
			if hi > end {
				hi = end
			}
			sp := Span{Off: lo, Len: hi - lo, State: run.st, OS: info.State, Protect: info.Protect}
			if k := len(spans); k > 0 && spans[k-1].State == sp.State && spans[k-1].OS == sp.OS &&
				spans[k-1].Protect == sp.Protect && spans[k-1].Off+spans[k-1].Len == sp.Off {
				spans[k-1].Len += sp.Len
			} else {
				spans = append(spans, sp)
			}
		}
		off = end
	}
	return spans, nil
}

// Verify checks the tracked states against the OS: Ready pages must be
// committed read-write, Reserved and Prepared pages reserved, all in this
// one reservation.  It returns an *Error describing the first mismatch.
func (r *Region) Verify() error {
	spans, err := r.Spans()
	if err != nil {
		return err
	}
	for _, s := range spans {
		ok := false
		switch s.State {
		case StateReady:
			ok = s.OS == MemCommit && s.Protect == PageReadWrite
		case StateReserved, StatePrepared:
			ok = s.OS == MemReserve
		}
		if !ok {
			return &Error{Op: "Verify", Addr: r.addr(s.Off), Len: s.Len, Page: r.addr(s.Off), State: s.State,
				Err: fmt.Errorf("OS reports %v %v for %v memory", s.OS, s.Protect, s.State)}
		}
	}
	return nil
}
