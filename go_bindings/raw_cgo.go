//go:build cgo

package memwin

/*
#include <stdint.h>
#include <string.h>

#include "memwin.h"
#include "memwin_prim.h"

// Operations the region layer runs through gomw_call (same numbers as the
// op* constants in region_call.go).
#define GOMW_ALLOC 1
#define GOMW_RESERVE 2
#define GOMW_RESERVE_ALIGNED 3
#define GOMW_MAP 4
#define GOMW_USED 5
#define GOMW_UNUSED 6
#define GOMW_FAULT 7
#define GOMW_FREE 8
#define GOMW_UNRESERVE 9
#define GOMW_STAT_ADD 10

#define GOMW_PRINTED_MAX 2048
#define GOMW_MESSAGE_MAX 512

// What a memwin call reported when the region layer ran it: its results,
// the thread's last error after it, and the fatal error the handler caught.
typedef struct gomw_result {
	uintptr_t ret, ret2;
	uint32_t last_error;
	int32_t failed;
	int32_t truncated;
	char printed[GOMW_PRINTED_MAX];
	char message[GOMW_MESSAGE_MAX];
} gomw_result;

// Per OS thread: whether a region-layer call is running on this thread and
// wants fatal errors back, and the first one it raised.
typedef struct gomw_capture {
	int active, failed, truncated;
	char printed[GOMW_PRINTED_MAX];
	char message[GOMW_MESSAGE_MAX];
} gomw_capture;

static _Thread_local gomw_capture gomw_tls;
static memwin_fatal_fn gomw_prev;

static int gomw_copy(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	int cut = n >= cap;
	if (cut)
		n = cap - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = 0;
	return cut;
}

// The fatal handler the package installs.  While a region-layer call runs
// on this thread (and SetExact is off) it records the error and returns,
// which makes the failing memwin call return at once; otherwise it hands
// over to the handler it replaced (by default: print and exit 2, as Go).
static void gomw_fatal(const char *printed, const char *message, void *ctx)
{
	(void)ctx;
	if (!gomw_tls.active) {
		if (gomw_prev != NULL)
			gomw_prev(printed, message, NULL);
		else
			memwin_default_fatal(printed, message, NULL);
		return;
	}
	if (gomw_tls.failed)
		return;
	gomw_tls.failed = 1;
	gomw_tls.truncated = gomw_copy(gomw_tls.printed, sizeof gomw_tls.printed, printed);
	gomw_tls.truncated |= gomw_copy(gomw_tls.message, sizeof gomw_tls.message, message);
}

static void gomw_install(void)
{
	memwin_fatal_fn prev = memwin_set_fatal_handler(gomw_fatal, NULL);
	if (prev != gomw_fatal && prev != memwin_default_fatal)
		gomw_prev = prev;
}

// Runs one memwin call and reads what the handler recorded, all on this OS
// thread, so the thread-local record is the one this call filled.
static void gomw_call(int op, int capture, uintptr_t v, uintptr_t n, uintptr_t x,
                      sysMemStat *stat, gomw_result *out)
{
	gomw_tls.active = capture;
	gomw_tls.failed = 0;
	out->ret = out->ret2 = 0;
	switch (op) {
	case GOMW_ALLOC:
		out->ret = (uintptr_t)sysAlloc(n, stat);
		break;
	case GOMW_RESERVE:
		out->ret = (uintptr_t)sysReserve((void *)v, n);
		break;
	case GOMW_RESERVE_ALIGNED: {
		uintptr_t reserved = 0;
		out->ret = (uintptr_t)sysReserveAligned((void *)v, n, x, &reserved);
		out->ret2 = reserved;
		break;
	}
	case GOMW_MAP:
		sysMap((void *)v, n, stat);
		break;
	case GOMW_USED:
		sysUsed((void *)v, n, x);
		break;
	case GOMW_UNUSED:
		sysUnused((void *)v, n);
		break;
	case GOMW_FAULT:
		sysFault((void *)v, n);
		break;
	case GOMW_FREE:
		sysFree((void *)v, n, stat);
		break;
	case GOMW_UNRESERVE:
		sysUnreserve((void *)v, n);
		break;
	case GOMW_STAT_ADD:
		memwin_stat_add(stat, (int64_t)x);
		break;
	}
	out->last_error = memwin_prim_current()->get_last_error();
	out->failed = gomw_tls.failed;
	out->truncated = 0;
	out->printed[0] = out->message[0] = 0;
	if (gomw_tls.failed) {
		out->truncated = gomw_tls.truncated;
		gomw_copy(out->printed, sizeof out->printed, gomw_tls.printed);
		gomw_copy(out->message, sizeof out->message, gomw_tls.message);
	}
	gomw_tls.active = 0;
	gomw_tls.failed = 0;
}

static void gomw_default_fatal(const char *printed, const char *message)
{
	memwin_default_fatal(printed, message, NULL);
}

// Layout of the C types, checked against the Go types by the tests.
static size_t gomw_layout(int i)
{
	switch (i) {
	case 0: return sizeof(sysMemStat);
	case 1: return sizeof(memwin_region_info);
	case 2: return offsetof(memwin_region_info, allocation_base);
	case 3: return offsetof(memwin_region_info, allocation_protect);
	case 4: return offsetof(memwin_region_info, state);
	case 5: return offsetof(memwin_region_info, protect);
	case 6: return offsetof(memwin_region_info, region_size);
	}
	return 0;
}
*/
import "C"

import "unsafe"

func init() { C.gomw_install() }

func sysAllocOS(n uintptr) unsafe.Pointer     { return C.sysAllocOS(C.uintptr_t(n)) }
func sysUnusedOS(v unsafe.Pointer, n uintptr) { C.sysUnusedOS(v, C.uintptr_t(n)) }
func sysUsedOS(v unsafe.Pointer, n uintptr)   { C.sysUsedOS(v, C.uintptr_t(n)) }
func sysHugePageOS(v unsafe.Pointer, n uintptr) {
	C.sysHugePageOS(v, C.uintptr_t(n))
}
func sysNoHugePageOS(v unsafe.Pointer, n uintptr) {
	C.sysNoHugePageOS(v, C.uintptr_t(n))
}
func sysHugePageCollapseOS(v unsafe.Pointer, n uintptr) {
	C.sysHugePageCollapseOS(v, C.uintptr_t(n))
}
func sysFreeOS(v unsafe.Pointer, n uintptr)  { C.sysFreeOS(v, C.uintptr_t(n)) }
func sysFaultOS(v unsafe.Pointer, n uintptr) { C.sysFaultOS(v, C.uintptr_t(n)) }
func sysReserveOS(v unsafe.Pointer, n uintptr) unsafe.Pointer {
	return C.sysReserveOS(v, C.uintptr_t(n))
}
func sysMapOS(v unsafe.Pointer, n uintptr) { C.sysMapOS(v, C.uintptr_t(n)) }
func needZeroAfterSysUnusedOS() bool       { return bool(C.needZeroAfterSysUnusedOS()) }

func cstat(s *SysMemStat) *C.sysMemStat { return (*C.sysMemStat)(unsafe.Pointer(s)) }

func sysAlloc(n uintptr, sysStat *SysMemStat) unsafe.Pointer {
	return C.sysAlloc(C.uintptr_t(n), cstat(sysStat))
}
func sysUnused(v unsafe.Pointer, n uintptr) { C.sysUnused(v, C.uintptr_t(n)) }
func sysUsed(v unsafe.Pointer, n, prepared uintptr) {
	C.sysUsed(v, C.uintptr_t(n), C.uintptr_t(prepared))
}
func sysHugePage(v unsafe.Pointer, n uintptr)   { C.sysHugePage(v, C.uintptr_t(n)) }
func sysNoHugePage(v unsafe.Pointer, n uintptr) { C.sysNoHugePage(v, C.uintptr_t(n)) }
func sysHugePageCollapse(v unsafe.Pointer, n uintptr) {
	C.sysHugePageCollapse(v, C.uintptr_t(n))
}
func sysFree(v unsafe.Pointer, n uintptr, sysStat *SysMemStat) {
	C.sysFree(v, C.uintptr_t(n), cstat(sysStat))
}
func sysFault(v unsafe.Pointer, n uintptr) { C.sysFault(v, C.uintptr_t(n)) }
func sysReserve(v unsafe.Pointer, n uintptr) unsafe.Pointer {
	return C.sysReserve(v, C.uintptr_t(n))
}
func sysMap(v unsafe.Pointer, n uintptr, sysStat *SysMemStat) {
	C.sysMap(v, C.uintptr_t(n), cstat(sysStat))
}
func sysUnreserve(v unsafe.Pointer, n uintptr) { C.sysUnreserve(v, C.uintptr_t(n)) }
func sysReserveAligned(v unsafe.Pointer, size, align uintptr) (unsafe.Pointer, uintptr) {
	var reserved C.uintptr_t
	p := C.sysReserveAligned(v, C.uintptr_t(size), C.uintptr_t(align), &reserved)
	return p, uintptr(reserved)
}
func needZeroAfterSysUnused() bool { return bool(C.needZeroAfterSysUnused()) }

func statLoad(s *SysMemStat) uint64  { return uint64(C.memwin_stat_load(cstat(s))) }
func statAdd(s *SysMemStat, n int64) { C.memwin_stat_add(cstat(s), C.int64_t(n)) }
func mappedReady() uint64            { return uint64(C.memwin_mapped_ready()) }
func version() string                { return C.GoString(C.memwin_version()) }
func goVersion() string              { return C.GoString(C.memwin_go_version()) }

func query(addr unsafe.Pointer) (RegionInfo, Errno) {
	var info RegionInfo
	code := C.memwin_query(addr, (*C.memwin_region_info)(unsafe.Pointer(&info)))
	return info, Errno(code)
}

func defaultFatal(printed, message string) {
	p, m := C.CString(printed), C.CString(message)
	C.gomw_default_fatal(p, m) // exits; the strings are never freed
}

func primHost() *Prim    { return (*Prim)(unsafe.Pointer(C.memwin_prim_host())) }
func primCurrent() *Prim { return (*Prim)(unsafe.Pointer(C.memwin_prim_current())) }
func primSet(t *Prim) *Prim {
	return (*Prim)(unsafe.Pointer(C.memwin_prim_set((*C.memwin_prim)(unsafe.Pointer(t)))))
}

func faultSet(ops FaultOp, nth, count uint64, code Errno) Errno {
	return Errno(C.memwin_fault_set(C.uint32_t(ops), C.uint64_t(nth), C.uint64_t(count), C.uint32_t(code)))
}
func faultClear()         { C.memwin_fault_clear() }
func faultSeen() uint64   { return uint64(C.memwin_fault_seen()) }
func faultFailed() uint64 { return uint64(C.memwin_fault_failed()) }

// load: with cgo the library is linked into the program.
func load(path string) error { return nil }

func loadedFrom() string { return linkage }

// regionCall runs op through gomw_call.  With capture, a fatal error is
// returned in the result instead of ending the process.
func regionCall(op int, capture bool, v, n, x uintptr, stat *SysMemStat) callResult {
	var out C.gomw_result
	c := C.int(0)
	if capture {
		c = 1
	}
	C.gomw_call(C.int(op), c, C.uintptr_t(v), C.uintptr_t(n), C.uintptr_t(x), cstat(stat), &out)
	res := callResult{ret: uintptr(out.ret), ret2: uintptr(out.ret2), lastErr: Errno(out.last_error)}
	if out.failed != 0 {
		res.fatal = newFatalError(C.GoString(&out.printed[0]), C.GoString(&out.message[0]), out.truncated != 0)
	}
	return res
}

// cLayout reports the size and field offsets of the C types (see gomw_layout).
func cLayout() []uintptr {
	l := make([]uintptr, 7)
	for i := range l {
		l[i] = uintptr(C.gomw_layout(C.int(i)))
	}
	return l
}
