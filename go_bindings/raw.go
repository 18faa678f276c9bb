package memwin

import (
	"fmt"
	"unsafe"
)

// The raw layer: one function per memwin export, with the names (capitalised)
// and parameter lists of the Go runtime's functions.  They behave exactly as
// the runtime's do on Windows, including fatal errors: where Go throws, the
// process prints Go's text to stderr and exits with status 2, whatever
// SetExact says.  The implementation is cgo (raw_cgo.go) or, on Windows
// without cgo, a run-time loaded memwin.dll (raw_dll_windows.go).

// ---- OS layer (runtime/mem_windows.go) ----

// SysAllocOS is Go's sysAllocOS, None -> Ready: VirtualAlloc(nil, n,
// MEM_COMMIT|MEM_RESERVE, PAGE_READWRITE).  It returns nil on failure and is
// never fatal.
func SysAllocOS(n uintptr) unsafe.Pointer { return sysAllocOS(n) }

// SysUnusedOS is Go's sysUnusedOS, Ready -> Prepared: VirtualFree(v, n,
// MEM_DECOMMIT), retried in halving pieces on failure.  Fatal "runtime:
// failed to decommit pages" when a piece of 4096 bytes fails.
func SysUnusedOS(v unsafe.Pointer, n uintptr) { sysUnusedOS(v, n) }

// SysUsedOS is Go's sysUsedOS, Prepared -> Ready: VirtualAlloc(v, n,
// MEM_COMMIT, PAGE_READWRITE), retried in halving pieces on failure.  Fatal
// "out of memory" (errno 8 or 1455) or "runtime: failed to commit pages".
func SysUsedOS(v unsafe.Pointer, n uintptr) { sysUsedOS(v, n) }

// SysHugePageOS is Go's sysHugePageOS: nothing on Windows.
func SysHugePageOS(v unsafe.Pointer, n uintptr) { sysHugePageOS(v, n) }

// SysNoHugePageOS is Go's sysNoHugePageOS: nothing on Windows.
func SysNoHugePageOS(v unsafe.Pointer, n uintptr) { sysNoHugePageOS(v, n) }

// SysHugePageCollapseOS is Go's sysHugePageCollapseOS: nothing on Windows.
func SysHugePageCollapseOS(v unsafe.Pointer, n uintptr) { sysHugePageCollapseOS(v, n) }

// SysFreeOS is Go's sysFreeOS, any -> None for the whole reservation that
// starts at v: VirtualFree(v, 0, MEM_RELEASE); n only appears in the
// message.  Fatal "runtime: failed to release pages".
func SysFreeOS(v unsafe.Pointer, n uintptr) { sysFreeOS(v, n) }

// SysFaultOS is Go's sysFaultOS, Ready -> Reserved: decommits like
// SysUnusedOS, so later accesses fault.
func SysFaultOS(v unsafe.Pointer, n uintptr) { sysFaultOS(v, n) }

// SysReserveOS is Go's sysReserveOS, None -> Reserved: VirtualAlloc(v, n,
// MEM_RESERVE, PAGE_READWRITE), then anywhere if the hint v fails.  It
// returns nil when both fail and is never fatal.
func SysReserveOS(v unsafe.Pointer, n uintptr) unsafe.Pointer { return sysReserveOS(v, n) }

// SysMapOS is Go's sysMapOS, Reserved -> Prepared: nothing on Windows
// (SysUsedOS commits).
func SysMapOS(v unsafe.Pointer, n uintptr) { sysMapOS(v, n) }

// NeedZeroAfterSysUnusedOS is Go 1.26's needZeroAfterSysUnusedOS: whether
// memory must be zeroed after SysUnusedOS; true on Windows.
func NeedZeroAfterSysUnusedOS() bool { return needZeroAfterSysUnusedOS() }

// ---- Generic layer (runtime/mem.go) ----

// SysAlloc is Go's sysAlloc, None -> Ready.  It adds n to *sysStat and to
// MappedReady before the OS call, even when that fails and nil is returned.
func SysAlloc(n uintptr, sysStat *SysMemStat) unsafe.Pointer { return sysAlloc(n, sysStat) }

// SysUnused is Go's sysUnused, Ready -> Prepared: MappedReady -= n, then
// SysUnusedOS.
func SysUnused(v unsafe.Pointer, n uintptr) { sysUnused(v, n) }

// SysUsed is Go's sysUsed, Prepared -> Ready: MappedReady += prepared (the
// bytes of the range that were Prepared, not n), then SysUsedOS commits all
// n bytes.
func SysUsed(v unsafe.Pointer, n, prepared uintptr) { sysUsed(v, n, prepared) }

// SysHugePage is Go's sysHugePage: no state change, no accounting.
func SysHugePage(v unsafe.Pointer, n uintptr) { sysHugePage(v, n) }

// SysNoHugePage is Go's sysNoHugePage: no state change, no accounting.
func SysNoHugePage(v unsafe.Pointer, n uintptr) { sysNoHugePage(v, n) }

// SysHugePageCollapse is Go's sysHugePageCollapse: no state change, no
// accounting.
func SysHugePageCollapse(v unsafe.Pointer, n uintptr) { sysHugePageCollapse(v, n) }

// SysFree is Go's sysFree, any -> None: *sysStat -= n and MappedReady -= n,
// then SysFreeOS.
func SysFree(v unsafe.Pointer, n uintptr, sysStat *SysMemStat) { sysFree(v, n, sysStat) }

// SysFault is Go's sysFault, Ready -> Reserved: MappedReady -= n, then
// SysFaultOS.
func SysFault(v unsafe.Pointer, n uintptr) { sysFault(v, n) }

// SysReserve is Go's sysReserve, None -> Reserved (v is a hint): no
// accounting.  It returns nil on failure.
func SysReserve(v unsafe.Pointer, n uintptr) unsafe.Pointer { return sysReserve(v, n) }

// SysMap is Go's sysMap, Reserved -> Prepared: *sysStat += n; no OS call on
// Windows.
func SysMap(v unsafe.Pointer, n uintptr, sysStat *SysMemStat) { sysMap(v, n, sysStat) }

// SysUnreserve is Go 1.25's sysUnreserve, Reserved -> None for a whole
// reservation: SysFreeOS without accounting.
func SysUnreserve(v unsafe.Pointer, n uintptr) { sysUnreserve(v, n) }

// SysReserveAligned is Go's sysReserveAligned, None -> Reserved at an align
// boundary (align a power of two).  It returns the pointer and the size
// reserved (size, or size+align when the first reservation happened to be
// aligned); (nil, 0) on failure.  Windows strategy: reserve size+align; if
// unaligned, release it and re-reserve exactly size at the aligned address,
// retrying; fatal "failed to allocate aligned heap memory; too many retries"
// after 100 lost races.
func SysReserveAligned(v unsafe.Pointer, size, align uintptr) (unsafe.Pointer, uintptr) {
	return sysReserveAligned(v, size, align)
}

// ReserveAlignedOneCall is memwin's extra (memwin_reserve_aligned), not Go's: None
// -> Reserved, exactly size bytes at a multiple of align, in one OS call
// where the OS offers one (VirtualAlloc2 with an address requirement on
// Windows and Wine; natively in the Linux emulation), so it never loses a
// race to another thread as Go's release-and-re-reserve sequence can.  A
// hint that is a multiple of align is tried first.  Where the OS has no
// such call, Go's sequence runs (then reserved may be size+align).  Returns
// (nil, 0) on failure and for bad arguments; never fatal in ModeExact.
func ReserveAlignedOneCall(v unsafe.Pointer, size, align uintptr) (unsafe.Pointer, uintptr) {
	return reserveAlignedOne(v, size, align)
}

// ReserveAlignedOneCallNative reports whether ReserveAlignedOneCall takes one OS call
// with the current primitive table (it asks the OS with one reservation).
func ReserveAlignedOneCallNative() bool { return reserveAlignedNative() }

// SetReserveAlignedOneCall makes SysReserveAligned behave as ReserveAlignedOneCall
// (on) or run Go's sequence (off, the default); returns the previous setting.
func SetReserveAlignedOneCall(on bool) (previous bool) { return setReserveAlignedOneCall(on) }

// NeedZeroAfterSysUnused is Go 1.26's needZeroAfterSysUnused: true on
// Windows.
func NeedZeroAfterSysUnused() bool { return needZeroAfterSysUnused() }

// ---- Accounting and extras ----

// MappedReady returns the process-wide mapped-ready byte count that the
// generic layer keeps (Go's gcController.mappedReady; it wraps silently like
// Go's).  It is memwin's own counter, independent of the Go runtime running
// this program.
func MappedReady() uint64 { return mappedReady() }

// Version returns the memwin library version, "MAJOR.MINOR.PATCH".
func Version() string { return version() }

// GoVersion returns the newest Go release whose Windows memory layer memwin
// matches (behaviour is identical from Go 1.19 to it), e.g. "go1.26".
func GoVersion() string { return goVersion() }

// Query describes the run of identical pages starting at the page that
// holds addr (VirtualQuery on Windows, the emulation's tables on Linux).  On
// failure it returns an Errno (ErrorInvalidParameter for an address outside
// the user address space).
func Query(addr unsafe.Pointer) (RegionInfo, error) {
	info, code := query(addr)
	if code != 0 {
		return RegionInfo{}, code
	}
	return info, nil
}

// DefaultFatal is memwin_default_fatal, the default fatal handler: it
// writes printed, then "fatal error: <message>\n" to stderr and exits the
// process with status 2.  It does not return.
func DefaultFatal(printed, message string) { defaultFatal(printed, message) }

// PrimHost returns the host's primitive table (kernel32, or the Linux
// emulation).
func PrimHost() *Prim { return primHost() }

// PrimCurrent returns the primitive table memwin currently calls.
func PrimCurrent() *Prim { return primCurrent() }

// PrimSet makes memwin call table from now on (nil: the host's) and returns
// the previous one.  The table must stay valid while any memwin call runs.
func PrimSet(table *Prim) *Prim { return primSet(table) }

// FaultSet installs memwin's fault injector over the current primitive
// table: from now on, counting calls of the classes in ops from 1, calls nth
// to nth+count-1 fail without reaching the table below, returning failure
// with the thread's last error set to code (count 0: every call from nth
// on).  It returns ErrorInvalidParameter for ops 0 or nth 0.
//
// The injector is process-wide: it affects every goroutine's memwin calls
// (not the Go runtime's own memory).
func FaultSet(ops FaultOp, nth, count uint64, code Errno) error {
	if r := faultSet(ops, nth, count, code); r != 0 {
		return r
	}
	return nil
}

// FaultClear removes the fault injector and restores the table it wrapped.
func FaultClear() { faultClear() }

// FaultSeen returns how many primitive calls of the injected classes the
// injector has seen since FaultSet.
func FaultSeen() uint64 { return faultSeen() }

// FaultFailed returns how many of them it made fail.
func FaultFailed() uint64 { return faultFailed() }

// Load makes the package call the memwin.dll at path, which must be
// absolute (a bare name would let the DLL search path pick the file).  It is
// needed only in Windows builds without cgo, where the package loads
// memwin.dll at run time; there the first memwin call otherwise loads the
// DLL named by the environment variable MEMWIN_DLL (also absolute), else
// memwin.dll in the executable's directory; under Wine a Unix path /a/b is
// also tried as Z:\a\b.  Load
// fails if a different DLL is already in use.  In cgo builds the library is
// linked into the program and Load does nothing and returns nil.
func Load(path string) error { return load(path) }

// SetMode is memwin_set_mode: it switches the library's checking mode for
// the whole process and returns the previous mode (an error, and no change,
// for an unknown mode).  Memory reserved while checking was off is unknown
// to the checker: checked calls on it are refused (CheckNotManaged).  The
// raw layer is Go-exact only in ModeExact, the default.
func SetMode(m Mode) (previous Mode, err error) {
	r := setMode(m)
	if r < 0 {
		return GetMode(), fmt.Errorf("memwin: unknown mode %d", int(m))
	}
	return r, nil
}

// GetMode is memwin_get_mode: the library's checking mode.
func GetMode() Mode { return getMode() }

// LastError is memwin_last_error with memwin_last_error_message: the error
// of the calling OS thread's last memwin call in checked or recoverable mode,
// nil if it succeeded.  The record is per OS thread, so lock the goroutine
// (runtime.LockOSThread) around the call and LastError.  The region layer
// does this itself.
func LastError() error {
	code, msg := lastError()
	if code == 0 {
		return nil
	}
	return &CheckError{Code: CheckCode(code), Message: msg}
}
