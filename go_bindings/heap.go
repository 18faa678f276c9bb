package memwin

import (
	"strconv"
	"unsafe"
)

// Go 1.5's contiguous heap on memwin's handshake, the memory status, and
// large-page facts (memwin_heap.h).

// MemStats is memwin_memstats: the sys counters an MHeap feeds (Go
// 1.5's mstats), laid out like the C struct.
type MemStats struct {
	HeapSys  SysMemStat // arena mapped
	GCSys    SysMemStat // heap bitmap mapped
	OtherSys SysMemStat // spans array mapped
	Sys      SysMemStat // the total of the three
}

// MHeap is memwin_mheap: Go 1.5's mheap fields for the heap's address
// range, laid out like the C struct.  Read the fields freely; change them
// only through the MHeap functions.  The library keeps pointers to the
// MHeap and its MemStats, so both must live outside the Go heap: get them
// from NewMHeap.
type MHeap struct {
	Spans         uintptr   // start of the spans array (one pointer per 8 KiB arena page)
	SpansMapped   uintptr   // bytes of the spans array that are Ready
	Bitmap        uintptr   // one byte past the end of the bitmap (= ArenaStart)
	BitmapMapped  uintptr   // bytes of the bitmap, below ArenaStart, that are Ready
	ArenaStart    uintptr   // first arena byte
	ArenaUsed     uintptr   // end of the Ready part of the arena
	ArenaEnd      uintptr   // end of the reservation
	ArenaReserved bool      // the arena is a reservation of the heap's
	Reservation   uintptr   // base of the one reservation (spans array start)
	Reserved      uintptr   // its size
	Stats         *MemStats // counters this heap feeds
	lock          uint32
}

// HeapError is a result code of the MHeap functions (MEMWIN_HEAP_*).
type HeapError int

const (
	HeapExhausted      HeapError = 1 // growth would pass ArenaEnd; nothing changed
	HeapBadArgument    HeapError = 2
	HeapNoAddressSpace HeapError = 3 // the reservation failed
	HeapNotInitialized HeapError = 4
)

func (e HeapError) Error() string {
	return "memwin: " + HeapStrerror(int(e)) + " (heap error " + strconv.Itoa(int(e)) + ")"
}

func heapResult(code int) error {
	if code == 0 {
		return nil
	}
	return HeapError(code)
}

// HeapStrerror is memwin_heap_strerror: a sentence describing a heap
// result code.
func HeapStrerror(code int) string { return heapStrerror(code) }

// heapBlock is what NewMHeap allocates: an MHeap and its MemStats.
type heapBlock struct {
	heap  MHeap
	stats MemStats
}

// NewMHeap returns a zeroed MHeap and MemStats for MHeapInit, in memory
// outside the Go heap (one SysAllocOS page), since the library keeps
// pointers to them.  Return it with FreeMHeap after MHeapDestroy.
func NewMHeap() (*MHeap, *MemStats, error) {
	p := sysAllocOS(PageSize)
	if p == nil {
		return nil, nil, HeapNoAddressSpace
	}
	b := (*heapBlock)(p)
	return &b.heap, &b.stats, nil
}

// FreeMHeap returns the memory of an MHeap from NewMHeap (and of its
// MemStats).  The heap must be destroyed first.
func FreeMHeap(h *MHeap) { sysFreeOS(unsafe.Pointer(h), PageSize) }

// MHeapInit is memwin_mheap_init: it reserves (None -> Reserved) one region
// for the spans array, the bitmap and arenaSize bytes of arena (rounded up
// to 8 KiB) and sets h's fields, with ArenaUsed = ArenaStart.  stats must
// outlive the heap.
func MHeapInit(h *MHeap, arenaSize uintptr, stats *MemStats) error {
	return heapResult(mheapInit(h, arenaSize, stats))
}

// MHeapMapBits is Go 1.5's mHeap_MapBits: it maps the heap bitmap for the
// arena up to arenaUsed (only the part not mapped yet, growing down from
// ArenaStart): Reserved -> Prepared -> Ready, accounted to GCSys.
func MHeapMapBits(h *MHeap, arenaUsed uintptr) { mheapMapBits(h, arenaUsed) }

// MHeapMapSpans is Go 1.5's mHeap_MapSpans: it maps the spans array for
// the arena up to arenaUsed (only the unmapped tail): Reserved -> Prepared
// -> Ready, accounted to OtherSys.
func MHeapMapSpans(h *MHeap, arenaUsed uintptr) { mheapMapSpans(h, arenaUsed) }

// MHeapGrow is memwin_mheap_grow: it grows the arena by n bytes (rounded up
// to 8 KiB) through Reserved -> Prepared -> Ready (HeapSys), maps the bitmap
// and spans array for it, advances ArenaUsed and returns the new memory.
// Past ArenaEnd it returns HeapExhausted and changes nothing.
func MHeapGrow(h *MHeap, n uintptr) (unsafe.Pointer, error) {
	p, code := mheapGrow(h, n)
	return p, heapResult(code)
}

// MHeapDestroy is memwin_mheap_destroy: the Ready parts go back to
// Prepared (MappedReady and the counters go back down), then the
// reservation to None; h's fields are zeroed.
func MHeapDestroy(h *MHeap) error { return heapResult(mheapDestroy(h)) }

// MemoryStatus is memwin_memory_status, laid out like the C struct.
type MemoryStatus struct {
	TotalPhys     uint64 // physical memory
	AvailPhys     uint64 // physical memory available
	CommitLimit   uint64 // system commit limit (Windows: page file + RAM; Linux: CommitLimit)
	CommitTotal   uint64 // system commit in use (Linux: Committed_AS)
	ProcessCommit uint64 // this process's committed private bytes (Linux: VmData)
	MemoryLoad    uint32 // percent of physical memory in use
	_             uint32 // the C struct's tail padding (48 bytes on every port)
}

// MemoryStatusGet is memwin_memory_status_get: the memory status from the
// OS (GlobalMemoryStatusEx and GetProcessMemoryInfo on Windows, /proc on
// Linux), or the Win32-style error code.
func MemoryStatusGet() (MemoryStatus, error) {
	st, code := memoryStatusGet()
	if code != 0 {
		return MemoryStatus{}, code
	}
	return st, nil
}

// SetOOMStatusReport is memwin_set_oom_status_report: when on, Go's
// out-of-memory fatal error (sysUsedOS with errno 8 or 1455) prints one more
// line, "memwin: memory status: ...", after Go's (golang/go#70558).  Off by
// default, so the output stays Go's.  It returns the previous setting.
func SetOOMStatusReport(on bool) (previous bool) { return setOOMStatusReport(on) }

// THP modes of LargePages.THPMode (MEMWIN_THP_*).
const (
	THPNone    = 0 // not applicable or unknown (Windows)
	THPNever   = 1
	THPMadvise = 2
	THPAlways  = 3
)

// LargePages is memwin_large_pages, laid out like the C struct.
type LargePages struct {
	Minimum       uintptr // large-page size (GetLargePageMinimum; Linux Hugepagesize); 0 if none
	PrivilegeHeld bool    // Windows: SeLockMemoryPrivilege in the token; Linux: hugetlb pages reserved
	Usable        bool    // this process may allocate large pages now
	THPMode       uint32  // Linux transparent huge pages (THP*); THPNone on Windows
}

// LargePagesGet is memwin_large_pages_get: large-page facts from the OS,
// or the Win32-style error code.
func LargePagesGet() (LargePages, error) {
	lp, code := largePagesGet()
	if code != 0 {
		return LargePages{}, code
	}
	return lp, nil
}
