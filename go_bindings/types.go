package memwin

import (
	"fmt"
	"strconv"
)

// PageSize is the granularity of Region offsets and lengths: the Windows
// page size, and the literal 4096 of Go's retry loops in sysUsedOS and
// sysUnusedOS.
const PageSize = 4096

// SysMemStat is Go's sysMemStat: a uint64 count of bytes, laid out like the
// C sysMemStat (uint64_t), so a *SysMemStat is what the C functions take.
// The generic-layer functions (SysAlloc, SysMap, SysFree) update it
// atomically and check it for overflow and underflow exactly as Go does.
// Read it with Load; do not copy it while a call may be updating it.
type SysMemStat uint64

// Load is Go's sysMemStat.load: an atomic read.
func (s *SysMemStat) Load() uint64 { return statLoad(s) }

// Add is Go's sysMemStat.add: an atomic add followed by Go's overflow check.
// On overflow or underflow it prints "runtime: val=<new> n=<delta>" and
// throws "sysMemStat overflow": the process exits with status 2, as Go's
// would (the value stays wrapped).
func (s *SysMemStat) Add(n int64) { statAdd(s, n) }

// MemState is the OS state of a run of pages, with the Win32 MEM_* values.
type MemState uint32

// The states memwin_query reports.
const (
	MemCommit  MemState = 0x1000  // MEM_COMMIT: committed, accessible
	MemReserve MemState = 0x2000  // MEM_RESERVE: reserved, faults on access
	MemFree    MemState = 0x10000 // MEM_FREE: not reserved
)

func (s MemState) String() string {
	switch s {
	case MemCommit:
		return "MEM_COMMIT"
	case MemReserve:
		return "MEM_RESERVE"
	case MemFree:
		return "MEM_FREE"
	}
	return "MemState(0x" + strconv.FormatUint(uint64(s), 16) + ")"
}

// Protect is a page protection, with the Win32 PAGE_* values.
type Protect uint32

// Protections memwin_query reports.  Go reserves and commits everything
// with PageReadWrite.
const (
	PageNoAccess  Protect = 0x01
	PageReadOnly  Protect = 0x02
	PageReadWrite Protect = 0x04
)

func (p Protect) String() string {
	switch p {
	case 0:
		return "0"
	case PageNoAccess:
		return "PAGE_NOACCESS"
	case PageReadOnly:
		return "PAGE_READONLY"
	case PageReadWrite:
		return "PAGE_READWRITE"
	}
	return "Protect(0x" + strconv.FormatUint(uint64(p), 16) + ")"
}

// RegionInfo is the C memwin_region_info (the fields of VirtualQuery's
// MEMORY_BASIC_INFORMATION that memwin reports), with the same layout.
// It describes the run of identical pages that starts at the page holding
// the queried address.
type RegionInfo struct {
	Base              uintptr  // queried address rounded down to a page
	AllocationBase    uintptr  // base of the reservation; 0 if free
	AllocationProtect Protect  // protection given at reservation; 0 if free
	State             MemState // MemCommit, MemReserve or MemFree
	Protect           Protect  // of committed pages; 0 if reserved, PageNoAccess if free
	_                 uint32
	RegionSize        uintptr // bytes from Base with the same state and protection
}

func (i RegionInfo) String() string {
	return fmt.Sprintf("[%#x, %#x) %v %v (allocation %#x, %v)", i.Base, i.Base+i.RegionSize,
		i.State, i.Protect, i.AllocationBase, i.AllocationProtect)
}

// Errno is a Win32 error code, as memwin_query, memwin_fault_set and the
// primitive calls report them (also on Linux, where memwin emulates them).
type Errno uint32

// The Win32 error codes memwin's logic and its Linux emulation use.
const (
	ErrorNotEnoughMemory  Errno = 8    // ERROR_NOT_ENOUGH_MEMORY: Go throws "out of memory"
	ErrorInvalidParameter Errno = 87   // ERROR_INVALID_PARAMETER
	ErrorInvalidAddress   Errno = 487  // ERROR_INVALID_ADDRESS
	ErrorCommitmentLimit  Errno = 1455 // ERROR_COMMITMENT_LIMIT: Go throws "out of memory"
)

func (e Errno) Error() string {
	n := strconv.FormatUint(uint64(e), 10)
	switch e {
	case ErrorNotEnoughMemory:
		return "ERROR_NOT_ENOUGH_MEMORY (" + n + ")"
	case ErrorInvalidParameter:
		return "ERROR_INVALID_PARAMETER (" + n + ")"
	case ErrorInvalidAddress:
		return "ERROR_INVALID_ADDRESS (" + n + ")"
	case ErrorCommitmentLimit:
		return "ERROR_COMMITMENT_LIMIT (" + n + ")"
	}
	return "Win32 error " + n
}

// FaultOp selects the classes of primitive calls FaultSet makes fail; the
// values are the C MEMWIN_FAULT_* bits and may be or-ed together.
type FaultOp uint32

const (
	FaultReserve  FaultOp = 0x01 // VirtualAlloc with MEM_RESERVE only (sysReserve*)
	FaultCommit   FaultOp = 0x02 // VirtualAlloc with MEM_COMMIT only (sysUsed*)
	FaultAlloc    FaultOp = 0x04 // VirtualAlloc with MEM_COMMIT|MEM_RESERVE (sysAlloc*)
	FaultDecommit FaultOp = 0x08 // VirtualFree with MEM_DECOMMIT (sysUnused*, sysFault*)
	FaultRelease  FaultOp = 0x10 // VirtualFree with MEM_RELEASE (sysFree*, sysUnreserve)
)

// Prim is memwin's primitive table (C memwin_prim: VirtualAlloc,
// VirtualFree, VirtualQuery, ... as function pointers).  It is opaque to Go:
// a *Prim points into C memory and can only be passed back to PrimSet; a
// table of your own must be written in C.
type Prim struct{ _ [0]byte }

// Mode is the library's checking mode (memwin_set_mode), per process.  The
// library starts in the mode named by the environment variable MEMWIN_MODE
// (exact, checked or recoverable), else in ModeExact.
type Mode int

const (
	// ModeExact is Go's behaviour: no checks, Go's fatal errors.
	ModeExact Mode = 0
	// ModeChecked tracks Go's page state of the memory reserved while
	// checking is on and refuses calls that break the handshake, with a
	// fatal error naming the rule.
	ModeChecked Mode = 1
	// ModeRecoverable is ModeChecked, but a refused call, and any of Go's
	// fatal errors, returns at once and leaves the reason for LastError.
	ModeRecoverable Mode = 2
)

func (m Mode) String() string {
	switch m {
	case ModeExact:
		return "exact"
	case ModeChecked:
		return "checked"
	case ModeRecoverable:
		return "recoverable"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// CheckCode is an error code of the checked and recoverable modes (the C
// MEMWIN_ERR_* values).
type CheckCode uint32

const (
	CheckNull       CheckCode = 1  // null address or null sysMemStat
	CheckUnaligned  CheckCode = 2  // address not a multiple of 4096
	CheckSize       CheckCode = 3  // zero size, or not a multiple of 4096 (sysAlloc: any but 0)
	CheckOverflow   CheckCode = 4  // v + n wraps around
	CheckNotManaged CheckCode = 5  // range holds pages memwin has not reserved
	CheckState      CheckCode = 6  // a page is in the wrong state for the transition
	CheckNotBase    CheckCode = 7  // release not of one whole reservation
	CheckAlign      CheckCode = 8  // sysReserveAligned: align not a power of two >= 4096
	CheckAccounting CheckCode = 9  // sysMemStat would overflow or underflow; prepared > n
	CheckOS         CheckCode = 10 // one of Go's fatal errors
)

var checkNames = [...]string{"OK", "NULL", "UNALIGNED", "SIZE", "OVERFLOW", "NOT_MANAGED", "STATE",
	"NOT_BASE", "ALIGN", "ACCOUNTING", "OS"}

func (c CheckCode) String() string {
	if int(c) < len(checkNames) {
		return "MEMWIN_ERR_" + checkNames[c]
	}
	return "CheckCode(" + strconv.FormatUint(uint64(c), 10) + ")"
}

// CheckError is the calling thread's last error in checked or recoverable
// mode (memwin_last_error and memwin_last_error_message).
type CheckError struct {
	Code    CheckCode
	Message string // Go's printed lines and "fatal error: ...", one per line
}

func (e *CheckError) Error() string { return e.Code.String() + ": " + e.Message }
