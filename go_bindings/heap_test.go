package memwin

import (
	"errors"
	"strings"
	"testing"
	"unsafe"
)

func TestMHeap(t *testing.T) {
	mr := MappedReady()
	h, stats, err := NewMHeap()
	must(t, err)
	defer FreeMHeap(h)
	const arena = 64 * mib
	must(t, MHeapInit(h, arena, stats))
	if h.Stats != stats || h.ArenaUsed != h.ArenaStart || h.ArenaEnd-h.ArenaStart < arena ||
		h.Reservation != h.Spans || h.Reserved == 0 || stats.Sys.Load() != 0 {
		t.Fatalf("after MHeapInit: %+v, stats %+v", *h, *stats)
	}
	wantQuery(t, ptr(h.Reservation), MemReserve, 0, h.Reserved)

	p, err := MHeapGrow(h, mib)
	must(t, err)
	if uintptr(p) != h.ArenaStart || h.ArenaUsed != h.ArenaStart+mib {
		t.Errorf("MHeapGrow = %p; heap %+v", p, *h)
	}
	b := unsafe.Slice((*byte)(p), mib)
	b[0], b[mib-1] = 1, 2
	heapSys, gcSys, otherSys := stats.HeapSys.Load(), stats.GCSys.Load(), stats.OtherSys.Load()
	if heapSys != mib || gcSys == 0 || otherSys == 0 || stats.Sys.Load() != heapSys+gcSys+otherSys ||
		uint64(h.BitmapMapped) != gcSys || uint64(h.SpansMapped) != otherSys {
		t.Errorf("stats %+v, heap %+v", *stats, *h)
	}
	wantMappedReady(t, mr, int64(stats.Sys.Load()))
	wantQuery(t, p, MemCommit, PageReadWrite, 0)

	// Mapping what is mapped already changes nothing.
	MHeapMapBits(h, h.ArenaUsed)
	MHeapMapSpans(h, h.ArenaUsed)
	if stats.GCSys.Load() != gcSys || stats.OtherSys.Load() != otherSys {
		t.Errorf("re-mapping changed the stats: %+v", *stats)
	}

	if _, err := MHeapGrow(h, 2*arena); !errors.Is(err, HeapExhausted) {
		t.Errorf("MHeapGrow past the end = %v, want HeapExhausted", err)
	}
	if h.ArenaUsed != h.ArenaStart+mib || b[mib-1] != 2 {
		t.Error("a refused MHeapGrow changed the heap")
	}
	reservation, reserved := h.Reservation, h.Reserved
	must(t, MHeapDestroy(h))
	wantMappedReady(t, mr, 0)
	wantReleased(t, ptr(reservation), reserved)
	if h.ArenaStart != 0 || stats.Sys.Load() != 0 {
		t.Errorf("after MHeapDestroy: %+v, stats %+v", *h, *stats)
	}
	if err := MHeapDestroy(h); !errors.Is(err, HeapNotInitialized) {
		t.Errorf("second MHeapDestroy = %v, want HeapNotInitialized", err)
	}
	if _, err := MHeapGrow(h, mib); !errors.Is(err, HeapNotInitialized) {
		t.Errorf("MHeapGrow on a destroyed heap = %v", err)
	}
	if !strings.Contains(HeapExhausted.Error(), HeapStrerror(int(HeapExhausted))) || HeapStrerror(1) == "" {
		t.Errorf("HeapExhausted.Error() = %q", HeapExhausted.Error())
	}
}

func TestMemoryStatusAndLargePages(t *testing.T) {
	st, err := MemoryStatusGet()
	must(t, err)
	if st.TotalPhys == 0 || st.AvailPhys > st.TotalPhys || st.MemoryLoad > 100 || st.CommitLimit == 0 {
		t.Errorf("MemoryStatusGet = %+v", st)
	}
	lp, err := LargePagesGet()
	must(t, err)
	if lp.THPMode > THPAlways || (lp.Usable && lp.Minimum == 0) {
		t.Errorf("LargePagesGet = %+v", lp)
	}
	t.Logf("memory %+v, large pages %+v", st, lp)
}

// The opt-in memory-status line follows Go's out-of-memory message.
func TestOOMStatusReport(t *testing.T) {
	if prev := SetOOMStatusReport(true); prev {
		t.Error("the report was on by default")
	}
	defer SetOOMStatusReport(false)
	r := mustReserve(t, mib)
	defer r.Release()
	must(t, r.Map(0, 64*kib))
	withFault(t, FaultCommit, 1, 0, ErrorNotEnoughMemory)
	_, f := wantFatal(t, r.Commit(0, 64*kib), "Commit")
	lines := strings.Split(f.Printed, "\n")
	if len(lines) != 3 || lines[0] != "runtime: VirtualAlloc of 65536 bytes failed with errno=8" ||
		!strings.HasPrefix(lines[1], "memwin: memory status: ") || f.Message != "out of memory" {
		t.Errorf("printed %q", f.Printed)
	}
	if prev := SetOOMStatusReport(false); !prev {
		t.Error("SetOOMStatusReport(false) did not report the previous true")
	}
}
