package memwin

import (
	"errors"
	"runtime"
	"strings"
	"testing"
)

func useMode(t *testing.T, m Mode) {
	t.Helper()
	prev, err := SetMode(m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { SetMode(prev) })
}

func init() {
	helpers["checkedRefusal"] = func() {
		SetMode(ModeChecked)
		v := SysReserve(nil, 64*kib)
		SysUsed(v, 64*kib, 64*kib) // not mapped: Reserved, not Prepared
	}
	helpers["recoverableExactRegion"] = func() {
		SetMode(ModeRecoverable)
		SetExact(true)
		r, _ := Reserve(mib)
		r.Map(0, 64*kib)
		FaultSet(FaultCommit, 1, 0, ErrorNotEnoughMemory)
		r.Commit(0, 64*kib)
	}
}

func TestModes(t *testing.T) {
	if GetMode() != ModeExact {
		t.Fatalf("GetMode() = %v, want exact", GetMode())
	}
	if _, err := SetMode(Mode(7)); err == nil || GetMode() != ModeExact {
		t.Errorf("SetMode(7) = %v, mode %v; want an error and no change", err, GetMode())
	}
	useMode(t, ModeRecoverable)
	if GetMode() != ModeRecoverable || ModeRecoverable.String() != "recoverable" {
		t.Errorf("GetMode() = %v", GetMode())
	}

	// Recoverable: a refused raw call returns; the reason is per thread.
	runtime.LockOSThread()
	v := SysReserve(nil, 64*kib)
	if err := LastError(); err != nil {
		t.Errorf("LastError after a good call = %v", err)
	}
	SysUsed(v, 64*kib, 64*kib)
	err := LastError()
	runtime.UnlockOSThread()
	var ce *CheckError
	if !errors.As(err, &ce) || ce.Code != CheckState || !strings.Contains(ce.Message, "illegal state transition") ||
		!strings.Contains(ce.Message, "sysUsed") {
		t.Errorf("LastError = %v, want a STATE error from sysUsed", err)
	}
	wantQuery(t, v, MemReserve, 0, 64*kib) // refused: nothing happened
	SysUnreserve(v, 64*kib)

	expectFatal(t, "checkedRefusal",
		`runtime: sysUsed\(0x[0-9a-f]+, 65536\): [^\n]*Reserved[^\n]*\nfatal error: memwin: illegal state transition\n`)
	expectFatal(t, "recoverableExactRegion",
		"runtime: VirtualAlloc of 65536 bytes failed with errno=8\nfatal error: out of memory\n")
}

// The region layer works, and captures Go's fatal errors, in every mode.
func TestRegionInModes(t *testing.T) {
	for _, m := range []Mode{ModeChecked, ModeRecoverable} {
		t.Run(m.String(), func(t *testing.T) {
			useMode(t, m)
			mr := MappedReady()
			r := mustReserve(t, mib)
			must(t, r.Map(0, 256*kib))
			must(t, r.Commit(0, 128*kib))
			must(t, r.Decommit(64*kib, 64*kib))
			must(t, r.Commit(0, 128*kib))
			must(t, r.Fault(0, 64*kib))
			wantSpans(t, r, Span{0, 64 * kib, StateReserved, MemReserve, 0}, Span{64 * kib, 64 * kib, StateReady, MemCommit, PageReadWrite},
				Span{128 * kib, 128 * kib, StatePrepared, MemReserve, 0}, Span{256 * kib, 768 * kib, StateReserved, MemReserve, 0})

			withFault(t, FaultCommit, 1, 0, ErrorCommitmentLimit)
			_, f := wantFatal(t, r.Commit(128*kib, 128*kib), "Commit")
			if f.Message != "out of memory" || f.Printed != "runtime: VirtualAlloc of 131072 bytes failed with errno=1455\n" {
				t.Errorf("FatalError %+v", f)
			}
			if m == ModeRecoverable && f.Code != CheckOS {
				t.Errorf("Code = %v, want %v", f.Code, CheckOS)
			}
			FaultClear()
			wantMappedReady(t, mr, 64*kib)
			must(t, r.Commit(128*kib, 128*kib))
			must(t, r.Release())
			a, err := Alloc(64 * kib)
			must(t, err)
			must(t, a.Release())
			wantMappedReady(t, mr, 0)
		})
	}
}
