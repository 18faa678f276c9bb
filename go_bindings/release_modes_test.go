package memwin

import (
	"runtime"
	"testing"
)

// Release of a region in every mix of states is legal in every mode and
// leaves the books as Go's rules say: the region's SysMemStat back at zero
// (what Map and Alloc added, Fault not subtracted), MappedReady back where it
// was before the region (its Ready pages out), the memory free.  Checked mode
// refuses sysUnreserve of pages that are not all Reserved and sysFree of pages
// that are not all Ready, so each mix needs its own recipe.
func TestRegionReleaseInModes(t *testing.T) {
	type step struct {
		do     func(r *Region, off, n uintptr) error
		off, n uintptr
	}
	m, c, d, f := (*Region).Map, (*Region).Commit, (*Region).Decommit, (*Region).Fault
	cases := []struct {
		name                      string
		alloc                     bool
		steps                     []step
		reserved, prepared, ready uintptr
		stat                      uint64
	}{
		{name: "Reserved", reserved: mib},
		{name: "Reserved after Fault", steps: []step{{m, 0, mib}, {c, 0, mib}, {f, 0, mib}}, reserved: mib, stat: mib},
		{name: "Prepared", steps: []step{{m, 0, mib}}, prepared: mib, stat: mib},
		{name: "Reserved+Prepared", steps: []step{{m, 0, 256 * kib}}, reserved: 768 * kib, prepared: 256 * kib, stat: 256 * kib},
		{name: "Reserved+Ready", steps: []step{{m, 0, 256 * kib}, {c, 0, 256 * kib}}, reserved: 768 * kib, ready: 256 * kib, stat: 256 * kib},
		{name: "Prepared+Ready", steps: []step{{m, 0, mib}, {c, 64 * kib, 128 * kib}}, prepared: 896 * kib, ready: 128 * kib, stat: mib},
		{name: "Reserved+Prepared+Ready", steps: []step{{m, 0, 512 * kib}, {c, 0, 256 * kib}, {d, 64 * kib, 64 * kib}, {f, 128 * kib, 64 * kib}},
			reserved: 576 * kib, prepared: 320 * kib, ready: 128 * kib, stat: 512 * kib},
		{name: "Ready", steps: []step{{m, 0, mib}, {c, 0, mib}}, ready: mib, stat: mib},
		{name: "Ready mapped twice", steps: []step{{m, 0, mib}, {c, 0, mib}, {f, 0, 64 * kib}, {m, 0, 64 * kib}, {c, 0, 64 * kib}},
			ready: mib, stat: mib + 64*kib},
		{name: "Alloc", alloc: true, ready: mib, stat: mib},
		{name: "Alloc+Prepared", alloc: true, steps: []step{{d, 0, 512 * kib}}, prepared: 512 * kib, ready: 512 * kib, stat: mib},
		{name: "Alloc+Reserved", alloc: true, steps: []step{{f, 256 * kib, 256 * kib}}, reserved: 256 * kib, ready: 768 * kib, stat: mib},
	}
	for _, mode := range []Mode{ModeExact, ModeChecked, ModeRecoverable} {
		t.Run(mode.String(), func(t *testing.T) {
			useMode(t, mode)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					mr := MappedReady()
					var r *Region
					if tc.alloc {
						var err error
						r, err = Alloc(mib)
						must(t, err)
					} else {
						r = mustReserve(t, mib)
					}
					for _, s := range tc.steps {
						must(t, s.do(r, s.off, s.n))
					}
					wantStats(t, r, tc.reserved, tc.prepared, tc.ready, tc.stat)
					wantMappedReady(t, mr, int64(tc.ready))
					base := r.Base()
					runtime.LockOSThread()
					err := r.Release()
					last := LastError()
					runtime.UnlockOSThread()
					if err != nil {
						t.Fatalf("Release: %v", err)
					}
					if mode != ModeExact && last != nil {
						t.Errorf("LastError after Release = %v", last)
					}
					wantStats(t, r, 0, 0, 0, 0)
					wantMappedReady(t, mr, 0)
					wantReleased(t, base, mib)
				})
			}
		})
	}
}

// unaccount takes bytes out of MappedReady in every mode, also while the
// commit calls it could use fail.
func TestUnaccountInModes(t *testing.T) {
	for _, mode := range []Mode{ModeExact, ModeChecked, ModeRecoverable} {
		t.Run(mode.String(), func(t *testing.T) {
			useMode(t, mode)
			for _, fault := range []FaultOp{0, FaultAlloc, FaultCommit} {
				mr := MappedReady()
				// Something to take back: a region counted but given back
				// without sysFree's accounting.
				r, err := Alloc(unaccountChunk + 256*kib)
				must(t, err)
				if fault != 0 {
					withFault(t, fault, 1, 0, ErrorNotEnoughMemory)
				}
				unaccount(unaccountChunk + 256*kib)
				FaultClear()
				wantMappedReady(t, mr, 0)
				// The region's books: out of the stat by hand, its memory
				// released by the OS layer.
				regionCall(opStatAdd, true, 0, 0, uintptr(-int64(r.stat.Load())), &r.stat)
				regionCall(opSysFreeOS, true, uintptr(r.Base()), r.Size(), 0, nil)
				wantReleased(t, r.Base(), r.Size())
				wantMappedReady(t, mr, 0)
			}
		})
	}
}
