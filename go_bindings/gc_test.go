package memwin

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
	"unsafe"
)

// fill writes a pattern derived from seed; check verifies it.
func fill(b []byte, seed uint32) {
	x := seed
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
}

func check(t *testing.T, what string, b []byte, seed uint32) {
	t.Helper()
	x := seed
	for i := range b {
		x = x*1664525 + 1013904223
		if b[i] != byte(x>>24) {
			t.Fatalf("%s: byte %d changed", what, i)
		}
	}
}

// churn allocates Go garbage, collects it and returns memory to the OS.
func churn() {
	var keep [][]byte
	for i := 0; i < 200; i++ {
		keep = append(keep, make([]byte, 64*kib))
		if len(keep) > 20 {
			keep = keep[1:]
		}
	}
	runtime.GC()
	debug.FreeOSMemory()
	runtime.KeepAlive(keep)
}

// A []byte over Ready memory keeps its contents across garbage
// collections and across operations on other regions.
func TestBytesSurviveGCAndOtherRegions(t *testing.T) {
	mr := MappedReady()
	r := mustReserve(t, 2*mib)
	must(t, r.Map(0, 2*mib))
	must(t, r.Commit(0, mib))
	b, err := r.Bytes(0, mib)
	must(t, err)
	fill(b, 1)

	a, err := Alloc(256 * kib)
	must(t, err)
	ab, _ := a.Bytes(0, 256*kib)
	fill(ab, 2)

	for i := 0; i < 5; i++ {
		churn()
		check(t, "after GC", b, 1)
		// Every transition, on other regions, from other goroutines too.
		done := make(chan error)
		go func() {
			o, err := Reserve(mib)
			if err == nil {
				err = o.Map(0, mib)
			}
			if err == nil {
				err = o.Commit(0, mib)
			}
			if err == nil {
				ob, _ := o.Bytes(0, mib)
				fill(ob, 3)
				err = o.Decommit(0, 512*kib)
			}
			if err == nil {
				err = o.Fault(512*kib, 512*kib)
			}
			if err == nil {
				err = o.Release()
			}
			done <- err
		}()
		must(t, <-done)
		o, err := Alloc(mib)
		must(t, err)
		must(t, o.Release())
		p, n := SysReserveAligned(nil, 4*mib, 4*mib)
		SysUnreserve(p, n)
		check(t, "after other regions", b, 1)
		check(t, "Alloc region", ab, 2)
	}
	// Transitions of the region's own other pages leave b alone too.
	must(t, r.Commit(mib, mib))
	must(t, r.Decommit(mib, 512*kib))
	must(t, r.Fault(mib+512*kib, 512*kib))
	check(t, "after the rest of its region changed", b, 1)
	must(t, r.Release())
	must(t, a.Release())
	wantMappedReady(t, mr, 0)
}

// The memory is not the Go heap's: a slice stays valid after its *Region
// is garbage (Region has no finalizer; only Release returns memory).
func TestBytesOutliveRegionObject(t *testing.T) {
	mr := MappedReady()
	collected := make(chan struct{})
	b := func() []byte {
		r, err := Alloc(128 * kib)
		must(t, err)
		runtime.SetFinalizer(r, func(*Region) { close(collected) })
		b, err := r.Bytes(0, 128*kib)
		must(t, err)
		return b
	}()
	fill(b, 4)
	deadline := time.Now().Add(10 * time.Second)
wait:
	for {
		churn()
		select {
		case <-collected:
			break wait
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the Region was never collected")
		}
	}
	churn()
	check(t, "after the Region was collected", b, 4)
	// Return it through the raw layer, with the books the Region kept.
	p := unsafe.Pointer(&b[0])
	var stat SysMemStat
	stat.Add(128 * kib)
	SysFree(p, 128*kib, &stat)
	wantMappedReady(t, mr, 0)
}
