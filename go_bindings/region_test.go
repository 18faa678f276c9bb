package memwin

import (
	"errors"
	"strings"
	"testing"
	"unsafe"
)

func mustReserve(t *testing.T, size uintptr) *Region {
	t.Helper()
	r, err := Reserve(size)
	if err != nil {
		t.Fatalf("Reserve(%#x): %v", size, err)
	}
	return r
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantSpans checks the region's spans (tracked state and OS state).
func wantSpans(t *testing.T, r *Region, want ...Span) {
	t.Helper()
	got, err := r.Spans()
	if err != nil {
		t.Fatalf("Spans: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("Spans = %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("Spans = %v, want %v", got, want)
		}
	}
	if err := r.Verify(); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func wantStats(t *testing.T, r *Region, reserved, prepared, ready uintptr, sysStat uint64) {
	t.Helper()
	s := r.Stats()
	if s.Size != r.Size() || s.Reserved != reserved || s.Prepared != prepared || s.Ready != ready || s.SysStat != sysStat {
		t.Errorf("Stats = %+v, want Reserved %#x Prepared %#x Ready %#x SysStat %#x", s, reserved, prepared, ready, sysStat)
	}
}

// wantError checks that err is an *Error for op with Err matching target.
func wantError(t *testing.T, err error, op string, target error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	if e.Op != op || !errors.Is(err, target) {
		t.Fatalf("error %q: Op %q, want %q, and want errors.Is %v", err, e.Op, op, target)
	}
	return e
}

// wantFatal checks that err is an *Error for op wrapping a *FatalError.
func wantFatal(t *testing.T, err error, op string) (*Error, *FatalError) {
	t.Helper()
	var e *Error
	var f *FatalError
	if !errors.As(err, &e) || !errors.As(err, &f) || e.Op != op {
		t.Fatalf("error %v (%T): want an *Error for %s wrapping a *FatalError", err, err, op)
	}
	return e, f
}

func TestRegionHandshake(t *testing.T) {
	mr := MappedReady()
	const size = mib
	r := mustReserve(t, size)
	if r.Size() != size || uintptr(r.Base())%(64*kib) != 0 {
		t.Errorf("region %v, size %#x", r, r.Size())
	}
	if !strings.HasPrefix(r.String(), "memwin.Region[0x") {
		t.Errorf("String() = %q", r.String())
	}
	wantSpans(t, r, Span{0, size, StateReserved, MemReserve, 0})
	wantStats(t, r, size, 0, 0, 0)

	must(t, r.Map(0, 256*kib))
	wantSpans(t, r, Span{0, 256 * kib, StatePrepared, MemReserve, 0}, Span{256 * kib, 768 * kib, StateReserved, MemReserve, 0})
	wantStats(t, r, 768*kib, 256*kib, 0, 256*kib)
	wantMappedReady(t, mr, 0)

	must(t, r.Commit(0, 128*kib))
	wantSpans(t, r, Span{0, 128 * kib, StateReady, MemCommit, PageReadWrite},
		Span{128 * kib, 128 * kib, StatePrepared, MemReserve, 0}, Span{256 * kib, 768 * kib, StateReserved, MemReserve, 0})
	wantStats(t, r, 768*kib, 128*kib, 128*kib, 256*kib)
	wantMappedReady(t, mr, 128*kib)
	if r.StateAt(0) != StateReady || r.StateAt(128*kib) != StatePrepared || r.StateAt(size-1) != StateReserved || r.StateAt(size) != StateNone {
		t.Error("StateAt disagrees with the spans")
	}

	b, err := r.Bytes(0, 128*kib)
	must(t, err)
	for i := range b {
		if b[i] != 0 {
			t.Fatalf("committed memory not zero at %d", i)
		}
		b[i] = byte(i * 7)
	}

	// Commit over Ready + Prepared: only the Prepared half is counted.
	must(t, r.Commit(0, 256*kib))
	wantMappedReady(t, mr, 256*kib)
	wantStats(t, r, 768*kib, 0, 256*kib, 256*kib)
	if b[1000] != byte(1000*7%256) {
		t.Error("Commit over Ready memory changed its contents")
	}

	must(t, r.Decommit(64*kib, 64*kib))
	wantMappedReady(t, mr, 192*kib)
	wantSpans(t, r, Span{0, 64 * kib, StateReady, MemCommit, PageReadWrite},
		Span{64 * kib, 64 * kib, StatePrepared, MemReserve, 0},
		Span{128 * kib, 128 * kib, StateReady, MemCommit, PageReadWrite},
		Span{256 * kib, 768 * kib, StateReserved, MemReserve, 0})
	must(t, r.Commit(64*kib, 64*kib))
	if b[64*kib] != 0 || b[64*kib-1] != byte((64*kib-1)*7%256) {
		t.Error("recommitted memory does not read zero, or its neighbour changed")
	}

	must(t, r.Fault(128*kib, 128*kib))
	wantMappedReady(t, mr, 128*kib)
	wantStats(t, r, 896*kib, 0, 128*kib, 256*kib)
	must(t, r.Map(128*kib, 128*kib)) // mapped again: counted twice, as in Go
	wantStats(t, r, 768*kib, 128*kib, 128*kib, 384*kib)

	must(t, r.Release())
	wantMappedReady(t, mr, 0)
	wantStats(t, r, 0, 0, 0, 0)
	wantReleased(t, r.Base(), r.Size())
}

func TestRegionIllegalTransitions(t *testing.T) {
	r := mustReserve(t, mib)
	defer r.Release()
	// Pages: [0, 64K) Ready, [64K, 128K) Prepared, the rest Reserved.
	must(t, r.Map(0, 128*kib))
	must(t, r.Commit(0, 64*kib))
	base := uintptr(r.Base())
	cases := []struct {
		name   string
		do     func() error
		op, fn string
		page   uintptr
		state  State
	}{
		{"Map Ready", func() error { return r.Map(0, 64*kib) }, "Map", "sysMap", 0, StateReady},
		{"Map Prepared", func() error { return r.Map(64*kib, 64*kib) }, "Map", "sysMap", 64 * kib, StatePrepared},
		{"Map across Reserved into Prepared", func() error { return r.Map(64*kib, 128*kib) }, "Map", "sysMap", 64 * kib, StatePrepared},
		{"Commit Reserved", func() error { return r.Commit(128*kib, 64*kib) }, "Commit", "sysUsed", 128 * kib, StateReserved},
		{"Commit running into Reserved", func() error { return r.Commit(64*kib, 128*kib) }, "Commit", "sysUsed", 128 * kib, StateReserved},
		{"Decommit Prepared", func() error { return r.Decommit(64*kib, 64*kib) }, "Decommit", "sysUnused", 64 * kib, StatePrepared},
		{"Decommit running into Prepared", func() error { return r.Decommit(0, 128*kib) }, "Decommit", "sysUnused", 64 * kib, StatePrepared},
		{"Decommit Reserved", func() error { return r.Decommit(512*kib, 64*kib) }, "Decommit", "sysUnused", 512 * kib, StateReserved},
		{"Fault Prepared", func() error { return r.Fault(64*kib, 4*kib) }, "Fault", "sysFault", 64 * kib, StatePrepared},
		{"Fault Reserved", func() error { return r.Fault(mib-4*kib, 4*kib) }, "Fault", "sysFault", mib - 4*kib, StateReserved},
	}
	mr := MappedReady()
	for _, c := range cases {
		err := c.do()
		e := wantError(t, err, c.op, ErrIllegalTransition)
		if e.Func != c.fn || e.Page != base+c.page || e.State != c.state || e.Rule == "" {
			t.Errorf("%s: %+v; want Func %s, Page %#x, State %v", c.name, e, c.fn, base+c.page, c.state)
		}
		msg := err.Error()
		for _, part := range []string{c.op, c.fn, e.Rule, c.state.String(), "illegal state transition"} {
			if !strings.Contains(msg, part) {
				t.Errorf("%s: message %q lacks %q", c.name, msg, part)
			}
		}
	}
	// Refused calls change nothing.
	wantMappedReady(t, mr, 0)
	wantStats(t, r, 896*kib, 64*kib, 64*kib, 128*kib)
	wantSpans(t, r, Span{0, 64 * kib, StateReady, MemCommit, PageReadWrite},
		Span{64 * kib, 64 * kib, StatePrepared, MemReserve, 0}, Span{128 * kib, 896 * kib, StateReserved, MemReserve, 0})

	// Bytes exist only over Ready pages.
	if _, err := r.Bytes(60*kib, 8*kib); err != nil {
		e := wantError(t, err, "Bytes", ErrNotReady)
		if e.Page != base+64*kib || e.State != StatePrepared {
			t.Errorf("Bytes into Prepared: %+v", e)
		}
	} else {
		t.Error("Bytes over Prepared memory succeeded")
	}
	if b, err := r.Bytes(10, 100); err != nil || len(b) != 100 || uintptr(unsafe.Pointer(&b[0])) != base+10 {
		t.Errorf("Bytes(10, 100) = %d bytes, %v", len(b), err)
	}
}

func TestRegionRanges(t *testing.T) {
	if _, err := Reserve(0); !errors.Is(err, ErrRange) {
		t.Errorf("Reserve(0) error = %v, want ErrRange", err)
	}
	if _, err := Reserve(100); !errors.Is(err, ErrRange) {
		t.Errorf("Reserve(100) error = %v, want ErrRange", err)
	}
	if _, err := ReserveAligned(64*kib, 3*kib); !errors.Is(err, ErrRange) {
		t.Errorf("ReserveAligned(align 3 KiB) error = %v, want ErrRange", err)
	}
	if _, err := Alloc(PageSize + 1); !errors.Is(err, ErrRange) {
		t.Errorf("Alloc(4097) error = %v, want ErrRange", err)
	}
	r := mustReserve(t, 64*kib)
	for _, c := range []struct{ off, n uintptr }{{1, PageSize}, {0, 100}, {0, 0}, {0, 128 * kib}, {64 * kib, PageSize}, {60 * kib, 8 * kib}, {^uintptr(0) &^ (PageSize - 1), 2 * PageSize}} {
		wantError(t, r.Map(c.off, c.n), "Map", ErrRange)
		wantError(t, r.Commit(c.off, c.n), "Commit", ErrRange)
		wantError(t, r.Decommit(c.off, c.n), "Decommit", ErrRange)
		wantError(t, r.Fault(c.off, c.n), "Fault", ErrRange)
	}
	for _, c := range []struct{ off, n uintptr }{{0, 0}, {0, 64*kib + 1}, {64 * kib, 1}, {^uintptr(0), 2}} {
		wantError(t, func() error { _, err := r.Bytes(c.off, c.n); return err }(), "Bytes", ErrRange)
	}
	must(t, r.Release())
	wantError(t, r.Release(), "Release", ErrReleased)
	wantError(t, r.Map(0, PageSize), "Map", ErrReleased)
	wantError(t, r.Commit(0, PageSize), "Commit", ErrReleased)
	wantError(t, r.Decommit(0, PageSize), "Decommit", ErrReleased)
	wantError(t, r.Fault(0, PageSize), "Fault", ErrReleased)
	wantError(t, func() error { _, err := r.Bytes(0, 1); return err }(), "Bytes", ErrReleased)
	wantError(t, func() error { _, err := r.Spans(); return err }(), "Spans", ErrReleased)
	if r.StateAt(0) != StateNone {
		t.Error("StateAt after Release is not None")
	}
}

func TestRegionAlloc(t *testing.T) {
	mr := MappedReady()
	r, err := Alloc(256 * kib)
	must(t, err)
	wantMappedReady(t, mr, 256*kib)
	wantStats(t, r, 0, 0, 256*kib, 256*kib)
	wantSpans(t, r, Span{0, 256 * kib, StateReady, MemCommit, PageReadWrite})
	b, err := r.Bytes(0, 256*kib)
	must(t, err)
	b[len(b)-1] = 1
	must(t, r.Release()) // sysFree
	wantMappedReady(t, mr, 0)
	wantStats(t, r, 0, 0, 0, 0)
}

func TestRegionReserveAligned(t *testing.T) {
	for _, align := range []uintptr{64 * kib, 4 * mib} {
		r, err := ReserveAligned(mib, align)
		must(t, err)
		if uintptr(r.Base())%align != 0 || (r.Size() != mib && r.Size() != mib+align) {
			t.Errorf("ReserveAligned(1 MiB, %#x) = %v", align, r)
		}
		wantSpans(t, r, Span{0, r.Size(), StateReserved, MemReserve, 0})
		must(t, r.Release())
	}
}

func TestRegionReserveAt(t *testing.T) {
	r := mustReserve(t, mib)
	hint := r.Base()
	must(t, r.Release())
	r2, err := ReserveAt(hint, mib)
	must(t, err)
	if r2.Base() != hint {
		t.Errorf("ReserveAt(%p) = %v, want the hint", hint, r2)
	}
	// An occupied hint is soft: the reservation lands elsewhere.
	r3, err := ReserveAt(hint, mib)
	must(t, err)
	if r3.Base() == hint {
		t.Error("two reservations at one address")
	}
	must(t, r2.Release())
	must(t, r3.Release())
}

func TestRegionReserveFailures(t *testing.T) {
	for _, m := range []Mode{ModeExact, ModeChecked, ModeRecoverable} {
		t.Run(m.String(), func(t *testing.T) {
			useMode(t, m)
			testRegionReserveFailures(t)
		})
	}
}

func testRegionReserveFailures(t *testing.T) {
	_, err := Reserve(1 << 47)
	e := wantError(t, err, "Reserve", ErrReserveFailed)
	var code Errno
	if !errors.As(err, &code) || code != ErrorInvalidParameter || e.Func != "sysReserve" {
		t.Errorf("Reserve(2^47): %v; want errno 87 from sysReserve", err)
	}
	withFault(t, FaultReserve|FaultAlloc, 1, 0, ErrorNotEnoughMemory)
	_, err = Reserve(mib)
	wantError(t, err, "Reserve", ErrReserveFailed)
	if !errors.As(err, &code) || code != ErrorNotEnoughMemory {
		t.Errorf("Reserve under injection: %v, want errno 8", err)
	}
	_, err = ReserveAligned(mib, mib)
	wantError(t, err, "ReserveAligned", ErrReserveFailed)
	FaultClear()

	mr := MappedReady()
	withFault(t, FaultAlloc, 1, 0, ErrorNotEnoughMemory)
	_, err = Alloc(mib)
	wantError(t, err, "Alloc", ErrReserveFailed)
	if !errors.As(err, &code) || code != ErrorNotEnoughMemory {
		t.Errorf("Alloc under injection: %v, want errno 8", err)
	}
	wantMappedReady(t, mr, 0) // sysAlloc's early count taken back
}

// OS failures on which Go dies come back as errors, with the books and the
// tracked states matching the OS afterwards.
func TestRegionOSFailures(t *testing.T) {
	for _, m := range []Mode{ModeExact, ModeChecked, ModeRecoverable} {
		t.Run(m.String(), func(t *testing.T) {
			useMode(t, m)
			testRegionOSFailures(t)
		})
	}
}

func testRegionOSFailures(t *testing.T) {
	t.Run("commit out of memory", func(t *testing.T) {
		r := mustReserve(t, mib)
		defer r.Release()
		must(t, r.Map(0, 512*kib))
		must(t, r.Commit(0, 64*kib))
		mr := MappedReady()
		withFault(t, FaultCommit, 1, 0, ErrorCommitmentLimit)
		err := r.Commit(0, 512*kib)
		e := wantError(t, err, "Commit", ErrOutOfMemory)
		var f *FatalError
		if !errors.As(err, &f) {
			t.Fatalf("%v: no *FatalError", err)
		}
		if f.Message != "out of memory" || f.Errno != ErrorCommitmentLimit ||
			f.Printed != "runtime: VirtualAlloc of 524288 bytes failed with errno=1455\n" ||
			f.Output() != f.Printed+"fatal error: out of memory\n" {
			t.Errorf("FatalError = %+v", f)
		}
		if e.Func != "sysUsed" || e.State != StateReady || e.Addr != uintptr(r.Base()) || e.Len != 512*kib {
			t.Errorf("Error = %+v", e)
		}
		if !strings.Contains(err.Error(), "out of memory") || !strings.Contains(err.Error(), "errno=1455") {
			t.Errorf("message %q", err)
		}
		wantMappedReady(t, mr, 0)
		wantSpans(t, r, Span{0, 64 * kib, StateReady, MemCommit, PageReadWrite},
			Span{64 * kib, 448 * kib, StatePrepared, MemReserve, 0}, Span{512 * kib, 512 * kib, StateReserved, MemReserve, 0})
		FaultClear()
		must(t, r.Commit(0, 512*kib))
		wantMappedReady(t, mr, 448*kib)
	})
	t.Run("commit failure", func(t *testing.T) {
		r := mustReserve(t, mib)
		defer r.Release()
		must(t, r.Map(0, mib))
		withFault(t, FaultCommit, 1, 0, ErrorInvalidAddress)
		err := r.Commit(0, mib)
		var f *FatalError
		if !errors.As(err, &f) || f.Message != "runtime: failed to commit pages" || errors.Is(err, ErrOutOfMemory) ||
			f.Printed != "runtime: VirtualAlloc of 0 bytes failed with errno=487\n" || f.Errno != ErrorInvalidAddress {
			t.Errorf("Commit error %v (%+v)", err, f)
		}
		wantStats(t, r, 0, mib, 0, mib)
	})
	t.Run("decommit failure", func(t *testing.T) {
		r, err := Alloc(256 * kib)
		must(t, err)
		defer r.Release()
		b, _ := r.Bytes(0, 256*kib)
		b[5] = 5
		mr := MappedReady()
		withFault(t, FaultDecommit, 1, 0, ErrorInvalidParameter)
		err = r.Decommit(0, 256*kib)
		var f *FatalError
		if !errors.As(err, &f) || f.Message != "runtime: failed to decommit pages" ||
			f.Printed != "runtime: VirtualFree of 0 bytes failed with errno=87\n" {
			t.Errorf("Decommit error %v", err)
		}
		wantFatal(t, err, "Decommit")
		FaultClear()
		wantMappedReady(t, mr, 0)
		wantSpans(t, r, Span{0, 256 * kib, StateReady, MemCommit, PageReadWrite})
		if b[5] != 5 {
			t.Error("failed Decommit lost the contents")
		}
	})
	t.Run("fault failure", func(t *testing.T) {
		r, err := Alloc(64 * kib)
		must(t, err)
		defer r.Release()
		mr := MappedReady()
		withFault(t, FaultDecommit, 1, 0, ErrorInvalidParameter)
		err = r.Fault(0, 64*kib)
		e, _ := wantFatal(t, err, "Fault")
		if e.Func != "sysFault" {
			t.Errorf("Func %q", e.Func)
		}
		FaultClear()
		wantMappedReady(t, mr, 0)
		wantSpans(t, r, Span{0, 64 * kib, StateReady, MemCommit, PageReadWrite})
	})
	t.Run("sysFree failure", func(t *testing.T) {
		mr := MappedReady()
		r, err := Alloc(128 * kib)
		must(t, err)
		withFault(t, FaultRelease, 1, 1, ErrorInvalidParameter)
		err = r.Release()
		e, f := wantFatal(t, err, "Release")
		if e.Func != "sysFree" || f.Message != "runtime: failed to release pages" ||
			f.Printed != "runtime: VirtualFree of 131072 bytes failed with errno=87\n" {
			t.Errorf("Release error %+v / %+v", e, f)
		}
		wantMappedReady(t, mr, 128*kib)
		wantStats(t, r, 0, 0, 128*kib, 128*kib)
		wantSpans(t, r, Span{0, 128 * kib, StateReady, MemCommit, PageReadWrite})
		if _, err := r.Bytes(0, 1); err != nil {
			t.Errorf("Bytes after failed Release: %v", err)
		}
		must(t, r.Release()) // the injection failed only one call
		wantMappedReady(t, mr, 0)
	})
	t.Run("sysFreeOS failure", func(t *testing.T) {
		mr := MappedReady()
		r := mustReserve(t, mib)
		must(t, r.Map(0, 256*kib))
		must(t, r.Commit(0, 128*kib))
		withFault(t, FaultRelease, 1, 1, ErrorInvalidParameter)
		err := r.Release()
		e, _ := wantFatal(t, err, "Release")
		if e.Func != "sysFreeOS" {
			t.Errorf("Func %q", e.Func)
		}
		// Release decommitted the Ready pages before it failed.
		wantStats(t, r, 768*kib, 256*kib, 0, 256*kib)
		wantMappedReady(t, mr, 0)
		wantSpans(t, r, Span{0, 256 * kib, StatePrepared, MemReserve, 0}, Span{256 * kib, 768 * kib, StateReserved, MemReserve, 0})
		must(t, r.Release())
		wantMappedReady(t, mr, 0)
		wantStats(t, r, 0, 0, 0, 0)
	})
}

// Verify notices changes made behind the region's back.
func TestRegionVerify(t *testing.T) {
	r := mustReserve(t, mib)
	defer r.Release()
	must(t, r.Map(0, 64*kib))
	must(t, r.Commit(0, 64*kib))
	must(t, r.Verify())
	SysUnusedOS(r.Base(), 64*kib)
	err := r.Verify()
	e := wantError(t, err, "Verify", err)
	if e.State != StateReady || !strings.Contains(err.Error(), "MEM_RESERVE") {
		t.Errorf("Verify = %v", err)
	}
	SysUsedOS(r.Base(), 64*kib)
	must(t, r.Verify())
}
