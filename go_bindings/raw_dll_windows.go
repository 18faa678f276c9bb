//go:build !cgo && windows

package memwin

// The raw layer without cgo: memwin.dll is loaded at run time by absolute
// path (Load, or the MEMWIN_DLL environment variable, else memwin.dll in the
// executable's own directory) and its exports are called through
// syscall.SyscallN.  Under Wine a Unix absolute path (/home/...) is accepted
// too: it is tried on the current drive and as Z:\home\... (Wine's Z: is
// the Unix root).  The DLL search order is never used.  Fatal errors reach a
// Go callback installed with memwin_set_fatal_handler; it identifies the
// region-layer call that wants them back by the OS thread it runs on (the
// call locks its goroutine to that thread).

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// Indexes into dll.procs: the positions in libraryExports (exports.go).
const (
	pSysAllocOS = iota
	pSysUnusedOS
	pSysUsedOS
	pSysHugePageOS
	pSysNoHugePageOS
	pSysHugePageCollapseOS
	pSysFreeOS
	pSysFaultOS
	pSysReserveOS
	pSysMapOS
	pNeedZeroAfterSysUnusedOS
	pSysAlloc
	pSysUnused
	pSysUsed
	pSysHugePage
	pSysNoHugePage
	pSysHugePageCollapse
	pSysFree
	pSysFault
	pSysReserve
	pSysMap
	pSysUnreserve
	pSysReserveAligned
	pNeedZeroAfterSysUnused
	pStatLoad
	pStatAdd
	pMappedReady
	pVersion
	pGoVersion
	pQuery
	pSetFatalHandler
	pDefaultFatal
	pPrimHost
	pPrimCurrent
	pPrimSet
	pFaultSet
	pFaultClear
	pFaultSeen
	pFaultFailed
	pHeapStrerror
	pMHeapInit
	pMHeapMapBits
	pMHeapMapSpans
	pMHeapGrow
	pMHeapDestroy
	pMemoryStatusGet
	pSetOOMStatusReport
	pLargePagesGet
	pSetMode
	pGetMode
	pLastError
	pLastErrorMessage
	pGetFatalHandler
	pInterposeVirtualAlloc
	pInterposeVirtualFree
	pInterposeInit
	pInterposeSetNext
	pInterposeGetStats
	pInterposeSetPolicy
	pInterposeGetPolicy
	pInterposeFlush
	pInterposePrim
	pInterposeCatchFatal
	pInterposeFatalFlag
	pInterposeFatalTake
	pReserveAlignedOne
	pReserveAlignedNative
	pSetReserveAlignedOneCall
	nProcs
)

type dll struct {
	path      string // the absolute path it was loaded from
	asked     string // the path given to Load or in MEMWIN_DLL
	handle    uintptr
	procs     [len(libraryExports)]uintptr
	prevFatal uintptr // the handler ours replaced (0: the default)
}

var (
	loadMu  sync.Mutex
	current atomic.Pointer[dll]
	envErr  error // the failure of the MEMWIN_DLL auto-load, reported again

	kernel32              = syscall.NewLazyDLL("kernel32.dll") // a KnownDLL: always System32's
	procLoadLibraryExW    = kernel32.NewProc("LoadLibraryExW")
	procGetCurrentThreadW = kernel32.NewProc("GetCurrentThreadId")

	fatalCallback = syscall.NewCallback(onFatal)
	captures      sync.Map // OS thread id -> *FatalError being filled
)

// Flags for LoadLibraryExW: resolve memwin.dll's own imports from its
// directory and System32 only, not from the current directory or PATH.
const (
	loadLibrarySearchDllLoadDir  = 0x00000100
	loadLibrarySearchDefaultDirs = 0x00001000
	loadWithAlteredSearchPath    = 0x00000008
)

// candidates returns the absolute paths Load tries for path, in order: an
// absolute Windows path as it is; a rooted path without a drive ("/x/y", a
// Unix path under Wine) on the current drive and then on Wine's Z: drive.
// Anything else (a bare name, a relative path) is refused, so the DLL search
// order cannot substitute another file.
func candidates(path string) ([]string, error) {
	if filepath.IsAbs(path) {
		return []string{path}, nil
	}
	if filepath.VolumeName(path) != "" || !(strings.HasPrefix(path, "/") || strings.HasPrefix(path, `\`)) {
		return nil, fmt.Errorf("memwin: Load(%q): the path must be absolute (C:\\...\\memwin.dll; under Wine also /.../memwin.dll)", path)
	}
	var out []string
	if abs, err := filepath.Abs(path); err == nil && filepath.IsAbs(abs) {
		out = append(out, abs)
	}
	z := `Z:` + strings.ReplaceAll(path, "/", `\`)
	if len(out) == 0 || !strings.EqualFold(out[0], z) {
		out = append(out, z)
	}
	return out, nil
}

// loadLibrary loads the DLL at the absolute path p; memwin.dll's own imports
// are resolved from its directory and System32 only, not from the current
// directory or PATH.
func loadLibrary(p string) (uintptr, error) {
	p16, err := syscall.UTF16PtrFromString(p)
	if err != nil {
		return 0, err
	}
	h, _, e := procLoadLibraryExW.Call(uintptr(unsafe.Pointer(p16)), 0,
		loadLibrarySearchDllLoadDir|loadLibrarySearchDefaultDirs)
	if h == 0 && e == syscall.Errno(ErrorInvalidParameter) {
		// Windows without KB2533623 lacks the LOAD_LIBRARY_SEARCH flags.
		h, _, e = procLoadLibraryExW.Call(uintptr(unsafe.Pointer(p16)), 0, loadWithAlteredSearchPath)
	}
	if h == 0 {
		return 0, e
	}
	return h, nil
}

func load(path string) error {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		return errors.New("memwin: loading memwin.dll needs a 64-bit program")
	}
	tries, err := candidates(path)
	if err != nil {
		return err
	}
	loadMu.Lock()
	defer loadMu.Unlock()
	if d := current.Load(); d != nil {
		if d.path == path || d.asked == path {
			return nil
		}
		return fmt.Errorf("memwin: Load(%q): %s is already in use", path, d.path)
	}
	var h uintptr
	var failures []string // "path: error" of each path tried but the last
	for i, p := range tries {
		if h, err = loadLibrary(p); h != 0 {
			d := &dll{path: p, asked: path, handle: h}
			return d.bind()
		}
		if i < len(tries)-1 {
			failures = append(failures, fmt.Sprintf("%s: %v; ", p, err))
		}
	}
	// The last error is wrapped (errors.Is(err, syscall.ERROR_MOD_NOT_FOUND)).
	return fmt.Errorf("memwin: Load(%q): LoadLibraryExW failed for every path tried: %s%s: %w",
		path, strings.Join(failures, ""), tries[len(tries)-1], err)
}

// bind looks up the exports of the loaded DLL, installs the package's fatal
// handler and makes d the DLL in use; on failure the DLL is unloaded.
func (d *dll) bind() error {
	h := d.handle
	for i, name := range libraryExports {
		a, err := syscall.GetProcAddress(syscall.Handle(h), name)
		if err != nil {
			syscall.FreeLibrary(syscall.Handle(h))
			return fmt.Errorf("memwin: Load(%q): %s: export %s: %w", d.asked, d.path, name, err)
		}
		d.procs[i] = a
	}
	prev, _, _ := syscall.SyscallN(d.procs[pSetFatalHandler], fatalCallback, 0)
	if prev != d.procs[pDefaultFatal] && prev != fatalCallback {
		d.prevFatal = prev
	}
	current.Store(d)
	return nil
}

func loadedFrom() string {
	if d, err := lib(); err == nil {
		return "memwin.dll at " + d.path
	}
	return "memwin.dll (not loaded)"
}

// besideExe returns the absolute path of memwin.dll in the executable's
// directory, or an error saying why there is none.
func besideExe() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("the executable's directory is unknown (%v)", err)
	}
	p := filepath.Join(filepath.Dir(exe), "memwin.dll")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("there is no %s beside the executable", p)
	}
	return p, nil
}

// lib returns the loaded DLL, loading on first use $MEMWIN_DLL or, when it
// is not set, memwin.dll beside the executable.
func lib() (*dll, error) {
	if d := current.Load(); d != nil {
		return d, nil
	}
	loadMu.Lock()
	err := envErr
	loadMu.Unlock()
	if err != nil {
		return nil, err
	}
	if path := os.Getenv("MEMWIN_DLL"); path != "" {
		err = load(path)
	} else if beside, berr := besideExe(); berr != nil {
		err = fmt.Errorf("memwin: memwin.dll is not loaded: MEMWIN_DLL is not set and %v; call memwin.Load with its absolute path or set MEMWIN_DLL", berr)
	} else {
		err = load(beside)
	}
	if err == nil {
		return current.Load(), nil
	}
	loadMu.Lock()
	envErr = err
	loadMu.Unlock()
	return nil, err
}

// call runs export i for the raw layer; like the Go runtime, which throws
// when it cannot reach the OS, it panics if no DLL can be loaded.  Pointers
// converted to uintptr in its argument list stay valid (uintptrescapes).
//
//go:uintptrescapes
func call(i int, args ...uintptr) uintptr {
	d, err := lib()
	if err != nil {
		panic(err)
	}
	r, _, _ := syscall.SyscallN(d.procs[i], args...)
	return r
}

func cbool(r uintptr) bool { return r&0xff != 0 }

func cstring(p uintptr) string {
	if p == 0 {
		return ""
	}
	b := (*byte)(ptr(p))
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(b), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(b, n))
}

func sysAllocOS(n uintptr) unsafe.Pointer { return ptr(call(pSysAllocOS, n)) }
func sysUnusedOS(v unsafe.Pointer, n uintptr) {
	call(pSysUnusedOS, uintptr(v), n)
}
func sysUsedOS(v unsafe.Pointer, n uintptr) { call(pSysUsedOS, uintptr(v), n) }
func sysHugePageOS(v unsafe.Pointer, n uintptr) {
	call(pSysHugePageOS, uintptr(v), n)
}
func sysNoHugePageOS(v unsafe.Pointer, n uintptr) {
	call(pSysNoHugePageOS, uintptr(v), n)
}
func sysHugePageCollapseOS(v unsafe.Pointer, n uintptr) {
	call(pSysHugePageCollapseOS, uintptr(v), n)
}
func sysFreeOS(v unsafe.Pointer, n uintptr)  { call(pSysFreeOS, uintptr(v), n) }
func sysFaultOS(v unsafe.Pointer, n uintptr) { call(pSysFaultOS, uintptr(v), n) }
func sysReserveOS(v unsafe.Pointer, n uintptr) unsafe.Pointer {
	return ptr(call(pSysReserveOS, uintptr(v), n))
}
func sysMapOS(v unsafe.Pointer, n uintptr) { call(pSysMapOS, uintptr(v), n) }
func needZeroAfterSysUnusedOS() bool       { return cbool(call(pNeedZeroAfterSysUnusedOS)) }

func sysAlloc(n uintptr, sysStat *SysMemStat) unsafe.Pointer {
	return ptr(call(pSysAlloc, n, uintptr(unsafe.Pointer(sysStat))))
}
func sysUnused(v unsafe.Pointer, n uintptr) { call(pSysUnused, uintptr(v), n) }
func sysUsed(v unsafe.Pointer, n, prepared uintptr) {
	call(pSysUsed, uintptr(v), n, prepared)
}
func sysHugePage(v unsafe.Pointer, n uintptr)   { call(pSysHugePage, uintptr(v), n) }
func sysNoHugePage(v unsafe.Pointer, n uintptr) { call(pSysNoHugePage, uintptr(v), n) }
func sysHugePageCollapse(v unsafe.Pointer, n uintptr) {
	call(pSysHugePageCollapse, uintptr(v), n)
}
func sysFree(v unsafe.Pointer, n uintptr, sysStat *SysMemStat) {
	call(pSysFree, uintptr(v), n, uintptr(unsafe.Pointer(sysStat)))
}
func sysFault(v unsafe.Pointer, n uintptr) { call(pSysFault, uintptr(v), n) }
func sysReserve(v unsafe.Pointer, n uintptr) unsafe.Pointer {
	return ptr(call(pSysReserve, uintptr(v), n))
}
func sysMap(v unsafe.Pointer, n uintptr, sysStat *SysMemStat) {
	call(pSysMap, uintptr(v), n, uintptr(unsafe.Pointer(sysStat)))
}
func sysUnreserve(v unsafe.Pointer, n uintptr) { call(pSysUnreserve, uintptr(v), n) }
func sysReserveAligned(v unsafe.Pointer, size, align uintptr) (unsafe.Pointer, uintptr) {
	var reserved uintptr
	p := call(pSysReserveAligned, uintptr(v), size, align, uintptr(unsafe.Pointer(&reserved)))
	return ptr(p), reserved
}
func needZeroAfterSysUnused() bool { return cbool(call(pNeedZeroAfterSysUnused)) }
func reserveAlignedOne(v unsafe.Pointer, size, align uintptr) (unsafe.Pointer, uintptr) {
	var reserved uintptr
	p := call(pReserveAlignedOne, uintptr(v), size, align, uintptr(unsafe.Pointer(&reserved)))
	return ptr(p), reserved
}
func reserveAlignedNative() bool { return int32(call(pReserveAlignedNative)) != 0 }
func setReserveAlignedOneCall(on bool) bool {
	v := uintptr(0)
	if on {
		v = 1
	}
	return int32(call(pSetReserveAlignedOneCall, v)) != 0
}

func statLoad(s *SysMemStat) uint64  { return uint64(call(pStatLoad, uintptr(unsafe.Pointer(s)))) }
func statAdd(s *SysMemStat, n int64) { call(pStatAdd, uintptr(unsafe.Pointer(s)), uintptr(n)) }
func mappedReady() uint64            { return uint64(call(pMappedReady)) }
func version() string                { return cstring(call(pVersion)) }
func goVersion() string              { return cstring(call(pGoVersion)) }

func query(addr unsafe.Pointer) (RegionInfo, Errno) {
	var info RegionInfo
	code := call(pQuery, uintptr(addr), uintptr(unsafe.Pointer(&info)))
	return info, Errno(uint32(code))
}

func defaultFatal(printed, message string) {
	p, _ := syscall.BytePtrFromString(printed)
	m, _ := syscall.BytePtrFromString(message)
	call(pDefaultFatal, uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(m)), 0)
}

func primHost() *Prim       { return (*Prim)(ptr(call(pPrimHost))) }
func primCurrent() *Prim    { return (*Prim)(ptr(call(pPrimCurrent))) }
func primSet(t *Prim) *Prim { return (*Prim)(ptr(call(pPrimSet, uintptr(unsafe.Pointer(t))))) }

func faultSet(ops FaultOp, nth, count uint64, code Errno) Errno {
	return Errno(uint32(call(pFaultSet, uintptr(ops), uintptr(nth), uintptr(count), uintptr(code))))
}
func faultClear() { call(pFaultClear) }

func heapStrerror(code int) string { return cstring(call(pHeapStrerror, uintptr(code))) }
func mheapInit(h *MHeap, arenaSize uintptr, stats *MemStats) int {
	return int(int32(call(pMHeapInit, uintptr(unsafe.Pointer(h)), arenaSize, uintptr(unsafe.Pointer(stats)))))
}
func mheapMapBits(h *MHeap, arenaUsed uintptr) {
	call(pMHeapMapBits, uintptr(unsafe.Pointer(h)), arenaUsed)
}
func mheapMapSpans(h *MHeap, arenaUsed uintptr) {
	call(pMHeapMapSpans, uintptr(unsafe.Pointer(h)), arenaUsed)
}
func mheapGrow(h *MHeap, n uintptr) (unsafe.Pointer, int) {
	var p uintptr
	code := call(pMHeapGrow, uintptr(unsafe.Pointer(h)), n, uintptr(unsafe.Pointer(&p)))
	return ptr(p), int(int32(code))
}
func mheapDestroy(h *MHeap) int { return int(int32(call(pMHeapDestroy, uintptr(unsafe.Pointer(h))))) }

func memoryStatusGet() (MemoryStatus, Errno) {
	var st MemoryStatus
	code := call(pMemoryStatusGet, uintptr(unsafe.Pointer(&st)))
	return st, Errno(uint32(code))
}
func setOOMStatusReport(on bool) bool {
	v := uintptr(0)
	if on {
		v = 1
	}
	return cbool(call(pSetOOMStatusReport, v))
}
func largePagesGet() (LargePages, Errno) {
	var lp LargePages
	code := call(pLargePagesGet, uintptr(unsafe.Pointer(&lp)))
	return lp, Errno(uint32(code))
}

func setMode(m Mode) Mode { return Mode(int32(call(pSetMode, uintptr(m)))) }
func getMode() Mode       { return Mode(int32(call(pGetMode))) }

// lastError reads the thread's record with the goroutine locked to it.
func lastError() (uint32, string) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	code := uint32(call(pLastError))
	return code, cstring(call(pLastErrorMessage))
}
func faultSeen() uint64   { return uint64(call(pFaultSeen)) }
func faultFailed() uint64 { return uint64(call(pFaultFailed)) }

func currentThread() uintptr {
	r, _, _ := syscall.SyscallN(procGetCurrentThreadW.Addr())
	return r
}

// onFatal is the memwin fatal handler (a syscall.NewCallback).  It runs on
// the OS thread of the failing memwin call.
func onFatal(printed, message, ctx uintptr) uintptr {
	if v, ok := captures.Load(currentThread()); ok {
		slot := v.(**FatalError)
		if *slot == nil {
			*slot = newFatalError(cstring(printed), cstring(message), false)
		}
		return 0 // the failing call returns at once
	}
	d := current.Load()
	next := d.procs[pDefaultFatal]
	if d.prevFatal != 0 {
		next = d.prevFatal
	}
	syscall.SyscallN(next, printed, message, 0)
	return 0
}

// regionCall runs op with the goroutine locked to its OS thread, so that
// onFatal finds this call's slot under the thread's id.
func regionCall(op int, capture bool, v, n, x uintptr, stat *SysMemStat) callResult {
	d, err := lib()
	if err != nil {
		return callResult{err: err}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var fatal *FatalError
	if capture {
		tid := currentThread()
		captures.Store(tid, &fatal)
		defer captures.Delete(tid)
	}
	mode, _, _ := syscall.SyscallN(d.procs[pGetMode])
	var res callResult
	var e syscall.Errno
	switch op {
	case opSysAlloc:
		res.ret, _, e = syscall.SyscallN(d.procs[pSysAlloc], n, uintptr(unsafe.Pointer(stat)))
	case opSysReserve:
		res.ret, _, e = syscall.SyscallN(d.procs[pSysReserve], v, n)
	case opSysReserveAligned:
		res.ret, _, e = syscall.SyscallN(d.procs[pSysReserveAligned], v, n, x, uintptr(unsafe.Pointer(&res.ret2)))
	case opSysMap:
		_, _, e = syscall.SyscallN(d.procs[pSysMap], v, n, uintptr(unsafe.Pointer(stat)))
	case opSysUsed:
		_, _, e = syscall.SyscallN(d.procs[pSysUsed], v, n, x)
	case opSysUnused:
		_, _, e = syscall.SyscallN(d.procs[pSysUnused], v, n)
	case opSysFault:
		_, _, e = syscall.SyscallN(d.procs[pSysFault], v, n)
	case opSysFree:
		_, _, e = syscall.SyscallN(d.procs[pSysFree], v, n, uintptr(unsafe.Pointer(stat)))
	case opSysUnreserve:
		_, _, e = syscall.SyscallN(d.procs[pSysUnreserve], v, n)
	case opStatAdd:
		_, _, e = syscall.SyscallN(d.procs[pStatAdd], uintptr(unsafe.Pointer(stat)), x)
	case opSysAllocOS:
		res.ret, _, e = syscall.SyscallN(d.procs[pSysAllocOS], n)
	case opSysMapOS:
		_, _, e = syscall.SyscallN(d.procs[pSysMapOS], v, n)
	case opSysUsedOS:
		_, _, e = syscall.SyscallN(d.procs[pSysUsedOS], v, n)
	case opSysFreeOS:
		_, _, e = syscall.SyscallN(d.procs[pSysFreeOS], v, n)
	}
	runtime.KeepAlive(stat)
	res.lastErr = Errno(e)
	var code uintptr
	if Mode(int32(mode)) != ModeExact {
		code, _, _ = syscall.SyscallN(d.procs[pLastError])
		code &= 0xffffffff
	}
	if fatal == nil && Mode(int32(mode)) == ModeRecoverable && code != 0 {
		// Recoverable mode returned Go's fatal error instead of calling
		// the handler: the exact region layer dies with it here.
		msg, _, _ := syscall.SyscallN(d.procs[pLastErrorMessage])
		printed, message := splitRecovered(cstring(msg))
		if !capture {
			defaultFatal(printed, message)
		}
		fatal = newFatalError(printed, message, false)
	}
	if fatal != nil {
		fatal.Code = CheckCode(code)
	}
	res.fatal = fatal
	return res
}

// cLayout: without cgo the C layout is not visible; the tests skip.
func cLayout() []uintptr { return nil }

// The indexes must follow libraryExports.
var _ = [1]struct{}{}[nProcs-len(libraryExports)]
