//go:build cgo

package memwin

/*
#include <stdint.h>
#include <string.h>

#include "memwin.h"
#include "memwin_heap.h"
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
#define GOMW_ALLOC_OS 11
#define GOMW_MAP_OS 12
#define GOMW_USED_OS 13
#define GOMW_FREE_OS 14

#define GOMW_PRINTED_MAX 2048
#define GOMW_MESSAGE_MAX 512

// What a memwin call reported when the region layer ran it: its results,
// the thread's last error after it, and the fatal error the handler caught.
typedef struct gomw_result {
	uintptr_t ret, ret2;
	uint32_t last_error;
	int32_t failed;    // 1: the handler caught a fatal error; 2: recoverable mode returned one
	int32_t truncated;
	uint32_t check_code; // memwin_last_error() in checked or recoverable mode
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
// In recoverable mode the library returns Go's fatal errors instead of
// calling the handler; when the region layer is exact it dies with them here.
static void gomw_die_recovered(const char *text)
{
	char printed[GOMW_PRINTED_MAX];
	const char *p = text, *hit = NULL, *q;
	size_t n;
	while ((q = strstr(p, "fatal error: ")) != NULL) {
		hit = q;
		p = q + 1;
	}
	if (hit == NULL) {
		memwin_default_fatal("", text, NULL);
		return;
	}
	n = (size_t)(hit - text);
	if (n >= sizeof printed)
		n = sizeof printed - 1;
	memcpy(printed, text, n);
	printed[n] = 0;
	memwin_default_fatal(printed, hit + strlen("fatal error: "), NULL);
}

static void gomw_call(int op, int capture, uintptr_t v, uintptr_t n, uintptr_t x,
                      sysMemStat *stat, gomw_result *out)
{
	int mode = memwin_get_mode();
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
	case GOMW_ALLOC_OS:
		out->ret = (uintptr_t)sysAllocOS(n);
		break;
	case GOMW_MAP_OS:
		sysMapOS((void *)v, n);
		break;
	case GOMW_USED_OS:
		sysUsedOS((void *)v, n);
		break;
	case GOMW_FREE_OS:
		sysFreeOS((void *)v, n);
		break;
	}
	out->last_error = memwin_prim_current()->get_last_error();
	out->failed = gomw_tls.failed;
	out->truncated = 0;
	out->check_code = mode != MEMWIN_MODE_EXACT ? memwin_last_error() : 0;
	out->printed[0] = out->message[0] = 0;
	if (gomw_tls.failed) {
		out->truncated = gomw_tls.truncated;
		gomw_copy(out->printed, sizeof out->printed, gomw_tls.printed);
		gomw_copy(out->message, sizeof out->message, gomw_tls.message);
	} else if (mode == MEMWIN_MODE_RECOVERABLE && out->check_code != 0) {
		if (!capture)
			gomw_die_recovered(memwin_last_error_message());
		out->failed = 2;
		out->truncated = gomw_copy(out->printed, sizeof out->printed, memwin_last_error_message());
	}
	gomw_tls.active = 0;
	gomw_tls.failed = 0;
}

static uint32_t gomw_last_error(char *buf, size_t cap)
{
	gomw_copy(buf, cap, memwin_last_error_message());
	return memwin_last_error();
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
	case 7: return sizeof(memwin_mheap);
	case 8: return offsetof(memwin_mheap, arena_reserved);
	case 9: return offsetof(memwin_mheap, reservation);
	case 10: return offsetof(memwin_mheap, stats);
	case 11: return sizeof(memwin_memstats);
	case 12: return sizeof(memwin_memory_status);
	case 13: return offsetof(memwin_memory_status, memory_load);
	case 14: return sizeof(memwin_large_pages);
	case 15: return offsetof(memwin_large_pages, usable);
	case 16: return offsetof(memwin_large_pages, thp_mode);
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
func reserveAlignedOne(v unsafe.Pointer, size, align uintptr) (unsafe.Pointer, uintptr) {
	var reserved C.uintptr_t
	p := C.memwin_reserve_aligned(v, C.uintptr_t(size), C.uintptr_t(align), &reserved)
	return p, uintptr(reserved)
}
func reserveAlignedNative() bool { return C.memwin_reserve_aligned_native() != 0 }
func setReserveAlignedOneCall(on bool) bool {
	v := C.int(0)
	if on {
		v = 1
	}
	return C.memwin_set_reserve_aligned_one_call(v) != 0
}

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

func setMode(m Mode) Mode { return Mode(C.memwin_set_mode(C.int(m))) }
func getMode() Mode       { return Mode(C.memwin_get_mode()) }

// lastError reads the thread's record in one C call (the goroutine may move
// to another thread between two).
func lastError() (uint32, string) {
	var buf [C.GOMW_MESSAGE_MAX]C.char
	code := C.gomw_last_error(&buf[0], C.size_t(len(buf)))
	return uint32(code), C.GoString(&buf[0])
}

func heapStrerror(code int) string   { return C.GoString(C.memwin_heap_strerror(C.int(code))) }
func cheap(h *MHeap) *C.memwin_mheap { return (*C.memwin_mheap)(unsafe.Pointer(h)) }
func mheapInit(h *MHeap, arenaSize uintptr, stats *MemStats) int {
	return int(C.memwin_mheap_init(cheap(h), C.uintptr_t(arenaSize), (*C.memwin_memstats)(unsafe.Pointer(stats))))
}
func mheapMapBits(h *MHeap, arenaUsed uintptr)  { C.mHeapMapBits(cheap(h), C.uintptr_t(arenaUsed)) }
func mheapMapSpans(h *MHeap, arenaUsed uintptr) { C.mHeapMapSpans(cheap(h), C.uintptr_t(arenaUsed)) }
func mheapGrow(h *MHeap, n uintptr) (unsafe.Pointer, int) {
	var p unsafe.Pointer
	code := C.memwin_mheap_grow(cheap(h), C.uintptr_t(n), &p)
	return p, int(code)
}
func mheapDestroy(h *MHeap) int { return int(C.memwin_mheap_destroy(cheap(h))) }

func memoryStatusGet() (MemoryStatus, Errno) {
	var st MemoryStatus
	code := C.memwin_memory_status_get((*C.memwin_memory_status)(unsafe.Pointer(&st)))
	return st, Errno(code)
}
func setOOMStatusReport(on bool) bool { return bool(C.memwin_set_oom_status_report(C.bool(on))) }
func largePagesGet() (LargePages, Errno) {
	var lp LargePages
	code := C.memwin_large_pages_get((*C.memwin_large_pages)(unsafe.Pointer(&lp)))
	return lp, Errno(code)
}

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
	switch out.failed {
	case 1:
		res.fatal = newFatalError(C.GoString(&out.printed[0]), C.GoString(&out.message[0]), out.truncated != 0)
	case 2:
		printed, message := splitRecovered(C.GoString(&out.printed[0]))
		res.fatal = newFatalError(printed, message, out.truncated != 0)
	}
	if res.fatal != nil {
		res.fatal.Code = CheckCode(out.check_code)
	}
	return res
}

// cLayout reports the size and field offsets of the C types (see gomw_layout).
func cLayout() []uintptr {
	l := make([]uintptr, 17)
	for i := range l {
		l[i] = uintptr(C.gomw_layout(C.int(i)))
	}
	return l
}

// The Go structs handed to C by pointer must have the C layout on every
// port: a size difference fails the build here (an array of negative
// length).  On windows/386 the C struct pads memwin_memory_status to 48
// bytes (uint64 aligned to 8) where Go aligns uint64 to 4.
var (
	_ [unsafe.Sizeof(MemoryStatus{}) - C.sizeof_memwin_memory_status]byte
	_ [C.sizeof_memwin_memory_status - unsafe.Sizeof(MemoryStatus{})]byte
	_ [unsafe.Sizeof(LargePages{}) - C.sizeof_memwin_large_pages]byte
	_ [C.sizeof_memwin_large_pages - unsafe.Sizeof(LargePages{})]byte
)
