package memwin

import (
	"errors"
	"regexp"
	"runtime"
	"testing"
	"unsafe"
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

func TestVersionStrings(t *testing.T) {
	if v := Version(); !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(v) {
		t.Errorf("Version() = %q, want MAJOR.MINOR.PATCH", v)
	}
	if v := GoVersion(); !regexp.MustCompile(`^go1\.\d+`).MatchString(v) {
		t.Errorf("GoVersion() = %q, want go1.N", v)
	}
}

func TestLayout(t *testing.T) {
	if unsafe.Sizeof(SysMemStat(0)) != 8 {
		t.Errorf("SysMemStat is %d bytes, want 8", unsafe.Sizeof(SysMemStat(0)))
	}
	var i RegionInfo
	var h MHeap
	var ms MemoryStatus
	var lp LargePages
	goLayout := []uintptr{unsafe.Sizeof(SysMemStat(0)), unsafe.Sizeof(i), unsafe.Offsetof(i.AllocationBase),
		unsafe.Offsetof(i.AllocationProtect), unsafe.Offsetof(i.State), unsafe.Offsetof(i.Protect),
		unsafe.Offsetof(i.RegionSize), unsafe.Sizeof(h), unsafe.Offsetof(h.ArenaReserved),
		unsafe.Offsetof(h.Reservation), unsafe.Offsetof(h.Stats), unsafe.Sizeof(MemStats{}),
		unsafe.Sizeof(ms), unsafe.Offsetof(ms.MemoryLoad), unsafe.Sizeof(lp), unsafe.Offsetof(lp.Usable),
		unsafe.Offsetof(lp.THPMode)}
	c := cLayout()
	if c == nil {
		t.Skip("C layout not visible without cgo")
	}
	for k := range goLayout {
		if c[k] != goLayout[k] {
			t.Errorf("layout item %d: Go %d, C %d", k, goLayout[k], c[k])
		}
	}
}

func TestSysAllocOSFreeOS(t *testing.T) {
	n := uintptr(3 * PageSize)
	p := SysAllocOS(n)
	if p == nil {
		t.Fatal("SysAllocOS returned nil")
	}
	info := mustQuery(t, p)
	if info.State != MemCommit || info.Protect != PageReadWrite || info.AllocationBase != uintptr(p) ||
		info.AllocationProtect != PageReadWrite || info.RegionSize != n || info.Base != uintptr(p) {
		t.Errorf("after SysAllocOS: %v", info)
	}
	b := unsafe.Slice((*byte)(p), n)
	for i := range b {
		if b[i] != 0 {
			t.Fatalf("fresh memory not zero at %d", i)
		}
		b[i] = byte(i)
	}
	if b[n-1] != byte(n-1) {
		t.Error("write did not stick")
	}
	SysFreeOS(p, n)
	wantReleased(t, p, n)
	if q := SysAllocOS(0); q != nil {
		t.Errorf("SysAllocOS(0) = %p, want nil", q)
	}
}

func TestSysOSLifecycle(t *testing.T) {
	const n = mib
	p := SysReserveOS(nil, n)
	if p == nil {
		t.Fatal("SysReserveOS returned nil")
	}
	info := mustQuery(t, p)
	if info.State != MemReserve || info.Protect != 0 || info.AllocationProtect != PageReadWrite ||
		info.AllocationBase != uintptr(p) || info.RegionSize != n {
		t.Errorf("after SysReserveOS: %v", info)
	}
	if uintptr(p)%(64*kib) != 0 {
		t.Errorf("reservation %p not on a 64 KiB boundary", p)
	}
	SysMapOS(p, 64*kib) // nothing on Windows
	wantQuery(t, p, MemReserve, 0, n)

	SysUsedOS(p, 64*kib)
	wantQuery(t, p, MemCommit, PageReadWrite, 64*kib)
	wantQuery(t, addr(p, 64*kib), MemReserve, 0, n-64*kib)
	*(*byte)(addr(p, 100)) = 42

	// Huge-page hints change nothing.
	SysHugePageOS(p, 64*kib)
	SysNoHugePageOS(p, 64*kib)
	SysHugePageCollapseOS(p, 64*kib)
	wantQuery(t, p, MemCommit, PageReadWrite, 64*kib)
	if *(*byte)(addr(p, 100)) != 42 {
		t.Error("huge-page hints changed the contents")
	}

	SysUnusedOS(p, 64*kib)
	wantQuery(t, p, MemReserve, 0, n)
	SysUsedOS(p, 64*kib)
	if *(*byte)(addr(p, 100)) != 0 {
		t.Error("recommitted memory does not read zero")
	}
	SysFaultOS(p, 32*kib)
	wantQuery(t, p, MemReserve, 0, 32*kib)
	wantQuery(t, addr(p, 32*kib), MemCommit, PageReadWrite, 32*kib)

	SysFreeOS(p, n)
	wantReleased(t, p, n)

	// The hint is honoured when the range is free.
	q := SysReserveOS(p, n)
	if q != p {
		t.Errorf("SysReserveOS(%p) = %p, want the hint", p, q)
	}
	SysFreeOS(q, n)
	if r := SysReserveOS(nil, 0); r != nil {
		t.Errorf("SysReserveOS(nil, 0) = %p, want nil", r)
	}
}

func TestNeedZeroAfterSysUnused(t *testing.T) {
	if !NeedZeroAfterSysUnusedOS() || !NeedZeroAfterSysUnused() {
		t.Errorf("NeedZeroAfterSysUnusedOS() = %v, NeedZeroAfterSysUnused() = %v; want true (Windows)",
			NeedZeroAfterSysUnusedOS(), NeedZeroAfterSysUnused())
	}
}

func TestSysAllocFree(t *testing.T) {
	mr := MappedReady()
	var stat SysMemStat
	const n = 256 * kib
	p := SysAlloc(n, &stat)
	if p == nil {
		t.Fatal("SysAlloc returned nil")
	}
	if stat.Load() != n {
		t.Errorf("stat = %d after SysAlloc, want %d", stat.Load(), n)
	}
	wantMappedReady(t, mr, n)
	wantQuery(t, p, MemCommit, PageReadWrite, n)
	SysFree(p, n, &stat)
	if stat.Load() != 0 {
		t.Errorf("stat = %d after SysFree, want 0", stat.Load())
	}
	wantMappedReady(t, mr, 0)
	wantReleased(t, p, n)
}

// The Go heap's handshake through the generic layer, with its accounting.
func TestGenericHandshake(t *testing.T) {
	mr := MappedReady()
	var stat SysMemStat
	const n = mib
	v := SysReserve(nil, n)
	if v == nil {
		t.Fatal("SysReserve returned nil")
	}
	wantMappedReady(t, mr, 0)
	wantQuery(t, v, MemReserve, 0, n)

	SysMap(v, 256*kib, &stat) // Reserved -> Prepared
	if stat.Load() != 256*kib {
		t.Errorf("stat = %d after SysMap, want %d", stat.Load(), 256*kib)
	}
	wantQuery(t, v, MemReserve, 0, n)
	wantMappedReady(t, mr, 0)

	SysUsed(v, 256*kib, 256*kib) // Prepared -> Ready
	wantMappedReady(t, mr, 256*kib)
	wantQuery(t, v, MemCommit, PageReadWrite, 256*kib)

	SysHugePage(v, 256*kib)
	SysNoHugePage(v, 256*kib)
	SysHugePageCollapse(v, 256*kib)
	wantMappedReady(t, mr, 256*kib)
	wantQuery(t, v, MemCommit, PageReadWrite, 256*kib)

	SysUnused(v, 128*kib) // Ready -> Prepared
	wantMappedReady(t, mr, 128*kib)
	wantQuery(t, v, MemReserve, 0, 128*kib)

	// Half Prepared, half Ready: only the prepared bytes are counted.
	SysUsed(v, 256*kib, 128*kib)
	wantMappedReady(t, mr, 256*kib)
	wantQuery(t, v, MemCommit, PageReadWrite, 256*kib)

	SysFault(addr(v, 128*kib), 128*kib) // Ready -> Reserved
	wantMappedReady(t, mr, 128*kib)
	wantQuery(t, addr(v, 128*kib), MemReserve, 0, n-128*kib)

	SysUnused(v, 128*kib)
	wantMappedReady(t, mr, 0)
	SysUnreserve(v, n) // no accounting
	wantReleased(t, v, n)
	wantMappedReady(t, mr, 0)
	if stat.Load() != 256*kib {
		t.Errorf("stat = %d after SysUnreserve, want %d (no accounting)", stat.Load(), 256*kib)
	}
	stat.Add(-256 * kib)
	if stat.Load() != 0 {
		t.Errorf("stat = %d, want 0", stat.Load())
	}

	// sysUsed with prepared 0 commits without counting.
	w := SysReserve(nil, 64*kib)
	SysUsed(w, 64*kib, 0)
	wantMappedReady(t, mr, 0)
	wantQuery(t, w, MemCommit, PageReadWrite, 64*kib)
	SysUnreserve(w, 64*kib)
}

func TestSysReserveAligned(t *testing.T) {
	for _, align := range []uintptr{64 * kib, mib, 4 * mib, 64 * mib} {
		const size = 2 * mib
		p, n := SysReserveAligned(nil, size, align)
		if p == nil {
			t.Fatalf("SysReserveAligned(%#x) failed", align)
		}
		if uintptr(p)%align != 0 {
			t.Errorf("SysReserveAligned(%#x) = %p, not aligned", align, p)
		}
		if n != size && n != size+align {
			t.Errorf("SysReserveAligned(%#x) reserved %#x, want size or size+align", align, n)
		}
		info := mustQuery(t, p)
		if info.State != MemReserve || info.AllocationBase != uintptr(p) || info.RegionSize != n {
			t.Errorf("SysReserveAligned(%#x): %v, reserved %#x", align, info, n)
		}
		SysUnreserve(p, n)
		wantReleased(t, p, n)
	}
	if p, n := SysReserveAligned(nil, 1<<47, 64*kib); p != nil || n != 0 {
		t.Errorf("SysReserveAligned(2^47) = %p, %#x; want nil, 0", p, n)
	}
}

func TestReserveAlignedOneCall(t *testing.T) {
	if !ReserveAlignedOneCallNative() {
		t.Fatalf("ReserveAlignedOneCallNative() = false: this host (Linux emulation or Wine's VirtualAlloc2) has the one-call reservation")
	}
	for _, align := range []uintptr{64 * kib, mib, 4 * mib, 64 * mib} {
		const size = 2 * mib
		p, n := ReserveAlignedOneCall(nil, size, align)
		if p == nil || uintptr(p)%align != 0 || n != size {
			t.Fatalf("ReserveAlignedOneCall(%#x) = %p, %#x; want a multiple of align, size", align, p, n)
		}
		info := mustQuery(t, p)
		if info.State != MemReserve || info.AllocationBase != uintptr(p) || info.RegionSize != size {
			t.Errorf("ReserveAlignedOneCall(%#x): %v", align, info)
		}
		SysUnreserve(p, n)
		wantReleased(t, p, n)
	}
	if p, n := ReserveAlignedOneCall(nil, 2*mib, 3*mib); p != nil || n != 0 {
		t.Errorf("ReserveAlignedOneCall(align 3 MiB) = %p, %#x; want nil, 0", p, n)
	}
	prev := SetReserveAlignedOneCall(true)
	defer SetReserveAlignedOneCall(prev)
	p, n := SysReserveAligned(nil, 2*mib, 8*mib)
	if p == nil || uintptr(p)%(8*mib) != 0 || n != 2*mib {
		t.Fatalf("SysReserveAligned with the one-call policy = %p, %#x", p, n)
	}
	SysUnreserve(p, n)
}

func TestSysMemStat(t *testing.T) {
	var s SysMemStat
	s.Add(10)
	s.Add(20)
	if s.Load() != 30 {
		t.Errorf("Load() = %d, want 30", s.Load())
	}
	s.Add(-30)
	if s.Load() != 0 || uint64(s) != 0 {
		t.Errorf("Load() = %d, want 0", s.Load())
	}
}

// MappedReady is memwin's counter, not the Go runtime's.
func TestMappedReadyIgnoresGoHeap(t *testing.T) {
	mr := MappedReady()
	var keep [][]byte
	for i := 0; i < 64; i++ {
		keep = append(keep, make([]byte, 256*kib))
	}
	runtime.GC()
	wantMappedReady(t, mr, 0)
	runtime.KeepAlive(keep)
}

func TestQuery(t *testing.T) {
	_, err := Query(ptr(0xffff800000000000))
	if !errors.Is(err, ErrorInvalidParameter) {
		t.Errorf("Query(kernel address) error = %v, want ERROR_INVALID_PARAMETER", err)
	}
	// A released range reports free.  Another thread's allocation can take
	// the address first (see wantReleased); then the range is tried again.
	var info RegionInfo
	for try := 0; ; try++ {
		p := SysReserveOS(nil, 192*kib)
		SysFreeOS(p, 192*kib)
		if info = mustQuery(t, p); info.State != MemFree && try < 3 && extentAt(t, p) != 192*kib {
			t.Logf("address %p reused: %v", p, info)
			continue
		}
		if info.State != MemFree || info.AllocationBase != 0 || info.Protect != PageNoAccess ||
			info.AllocationProtect != 0 || info.Base != uintptr(p) {
			t.Errorf("Query(free) = %v", info)
		}
		break
	}
	// An address inside a page reports the page.
	q := SysAllocOS(64 * kib)
	defer SysFreeOS(q, 64*kib)
	info = mustQuery(t, addr(q, PageSize+123))
	if info.Base != uintptr(q)+PageSize || info.RegionSize != 64*kib-PageSize || info.AllocationBase != uintptr(q) {
		t.Errorf("Query(inside) = %v", info)
	}
}

func TestPrimTables(t *testing.T) {
	host := PrimHost()
	if host == nil || PrimCurrent() != host {
		t.Fatalf("PrimHost() = %p, PrimCurrent() = %p", host, PrimCurrent())
	}
	withFault(t, FaultReserve, 1, 1, ErrorNotEnoughMemory)
	injector := PrimCurrent()
	if injector == host {
		t.Error("FaultSet did not install a table")
	}
	if prev := PrimSet(nil); prev != injector {
		t.Errorf("PrimSet(nil) returned %p, want the injector %p", prev, injector)
	}
	if PrimCurrent() != host {
		t.Error("PrimSet(nil) did not restore the host table")
	}
	if prev := PrimSet(injector); prev != host {
		t.Errorf("PrimSet(injector) returned %p, want host %p", prev, host)
	}
	FaultClear()
	if PrimCurrent() != host {
		t.Error("FaultClear did not restore the host table")
	}
}

func TestFaultInjection(t *testing.T) {
	if err := FaultSet(0, 1, 1, ErrorNotEnoughMemory); !errors.Is(err, ErrorInvalidParameter) {
		t.Errorf("FaultSet(ops 0) = %v, want ERROR_INVALID_PARAMETER", err)
	}
	if err := FaultSet(FaultReserve, 0, 1, ErrorNotEnoughMemory); !errors.Is(err, ErrorInvalidParameter) {
		t.Errorf("FaultSet(nth 0) = %v, want ERROR_INVALID_PARAMETER", err)
	}
	if PrimCurrent() != PrimHost() {
		t.Error("a rejected FaultSet installed a table")
	}

	// Second reserve call fails: sysReserveOS falls back to a second try.
	withFault(t, FaultReserve, 2, 1, ErrorNotEnoughMemory)
	a := SysReserveOS(nil, 64*kib)
	b := SysReserveOS(nil, 64*kib)
	if a == nil || b == nil {
		t.Fatalf("SysReserveOS = %p, %p; want both to succeed", a, b)
	}
	if FaultSeen() != 3 || FaultFailed() != 1 {
		t.Errorf("seen %d, failed %d; want 3, 1", FaultSeen(), FaultFailed())
	}
	// Other classes pass through uncounted.
	c := SysAllocOS(64 * kib)
	if c == nil || FaultSeen() != 3 {
		t.Errorf("SysAllocOS = %p, seen %d; want success, 3", c, FaultSeen())
	}
	SysFreeOS(a, 64*kib)
	SysFreeOS(b, 64*kib)
	SysFreeOS(c, 64*kib)

	// count 0: every call from nth on.
	withFault(t, FaultReserve|FaultAlloc, 1, 0, ErrorNotEnoughMemory)
	if p := SysReserveOS(nil, 64*kib); p != nil {
		t.Errorf("SysReserveOS = %p under injection, want nil", p)
	}
	if p := SysAllocOS(64 * kib); p != nil {
		t.Errorf("SysAllocOS = %p under injection, want nil", p)
	}
	if FaultSeen() != 3 || FaultFailed() != 3 {
		t.Errorf("seen %d, failed %d; want 3, 3", FaultSeen(), FaultFailed())
	}
	FaultClear()
	if p := SysAllocOS(64 * kib); p == nil {
		t.Error("SysAllocOS failed after FaultClear")
	} else {
		SysFreeOS(p, 64*kib)
	}
}

func TestStrings(t *testing.T) {
	cases := []struct{ got, want string }{
		{ErrorCommitmentLimit.Error(), "ERROR_COMMITMENT_LIMIT (1455)"},
		{ErrorInvalidAddress.Error(), "ERROR_INVALID_ADDRESS (487)"},
		{Errno(5).Error(), "Win32 error 5"},
		{MemReserve.String(), "MEM_RESERVE"},
		{MemFree.String(), "MEM_FREE"},
		{MemState(3).String(), "MemState(0x3)"},
		{PageNoAccess.String(), "PAGE_NOACCESS"},
		{PageReadOnly.String(), "PAGE_READONLY"},
		{Protect(0x40).String(), "Protect(0x40)"},
		{StatePrepared.String(), "Prepared"},
		{StateNone.String(), "None"},
		{State(9).String(), "State(9)"},
		{CheckState.String(), "MEMWIN_ERR_STATE"},
		{CheckCode(99).String(), "CheckCode(99)"},
		{ModeChecked.String(), "checked"},
		{Mode(7).String(), "Mode(7)"},
		{(&CheckError{CheckNotBase, "x"}).Error(), "MEMWIN_ERR_NOT_BASE: x"},
		{RegionInfo{Base: 0x10000, AllocationBase: 0x10000, AllocationProtect: PageReadWrite, State: MemCommit,
			Protect: PageReadWrite, RegionSize: 0x1000}.String(),
			"[0x10000, 0x11000) MEM_COMMIT PAGE_READWRITE (allocation 0x10000, PAGE_READWRITE)"},
		{(&FatalError{Message: "m"}).Error(), "fatal error: m"},
		{(&FatalError{Printed: "a\nb\n", Message: "m"}).Error(), "fatal error: m (a; b)"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
