// Command memwin-replay replays traces (tests/traces/FORMAT.md) natively
// against a shared library with memwin's exports (sysAllocOS, ...,
// sysFreeOS, and memwin_query if it has it, loaded by path with dlopen) and compares the
// observations with each trace's golden, recorded from the Go runtime under
// Wine.  memwin-go replay builds and runs it.
//
//	memwin-replay LIB TRACE...
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../../include
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include "memwin.h"

static const char *const rp_names[] = {
    "sysAllocOS", "sysReserveOS", "sysMapOS", "sysUsedOS", "sysUnusedOS", "sysFaultOS",
    "sysFreeOS", "sysHugePageOS", "sysNoHugePageOS", "sysHugePageCollapseOS",
};
enum { RP_N = 10 };
static void *rp_fn[RP_N];
static uint32_t (*rp_query)(const void *, memwin_region_info *);

// Loads the library; 0, or writes why not to err.
static int rp_load(const char *path, char *err, size_t cap)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, cap, "%s", dlerror());
        return -1;
    }
    for (int i = 0; i < RP_N; i++)
        if (!(rp_fn[i] = dlsym(h, rp_names[i]))) {
            snprintf(err, cap, "%s does not export %s", path, rp_names[i]);
            return -1;
        }
    rp_query = (uint32_t (*)(const void *, memwin_region_info *))dlsym(h, "memwin_query");
    return 0;
}

static int rp_has_query(void) { return rp_query != NULL; }

// Op codes are trace.Op's: 0 sysAllocOS, 1 sysReserveOS, the rest (void *, n).
static uintptr_t rp_call(int op, uintptr_t v, uintptr_t n)
{
    if (op == 0)
        return (uintptr_t)((void *(*)(uintptr_t))rp_fn[0])(n);
    if (op == 1)
        return (uintptr_t)((void *(*)(void *, uintptr_t))rp_fn[1])((void *)v, n);
    ((void (*)(void *, uintptr_t))rp_fn[op])((void *)v, n);
    return 0;
}

static uint32_t rp_q(uintptr_t a, memwin_region_info *out) { return rp_query((const void *)a, out); }
*/
import "C"

import (
	"fmt"
	"os"
	"strings"
	"unsafe"

	"memwin.local/conform/trace"
)

// lib is the library under test.  Without memwin_query its page states
// come from the host's view, /proc/self/maps (read again after any call):
// a PROT_NONE mapping is reserved, a read-write one committed, no mapping
// free; which reservation a page belongs to is then unknown.
type lib struct {
	maps  []mapping
	stale bool
}

type mapping struct {
	start, end uint64
	perms      string
}

func (l *lib) Call(op trace.Op, v, n uint64) uint64 {
	l.stale = true
	return uint64(C.rp_call(C.int(op), C.uintptr_t(v), C.uintptr_t(n)))
}

func (l *lib) hostQuery(addr uint64) (trace.Info, error) {
	if l.maps == nil || l.stale {
		b, err := os.ReadFile("/proc/self/maps")
		if err != nil {
			return trace.Info{}, err
		}
		l.maps, l.stale = l.maps[:0], false
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			var m mapping
			if _, err := fmt.Sscanf(f[0], "%x-%x", &m.start, &m.end); err != nil {
				continue
			}
			m.perms = f[1]
			l.maps = append(l.maps, m)
		}
	}
	page := addr &^ 4095
	for i, m := range l.maps {
		if page < m.start {
			// free up to the next mapping
			return trace.Info{Base: page, Size: m.start - page, State: trace.MemFree}, nil
		}
		if page >= m.end {
			continue
		}
		end := m.end
		for j := i + 1; j < len(l.maps) && l.maps[j].start == end && l.maps[j].perms == m.perms; j++ {
			end = l.maps[j].end
		}
		in := trace.Info{Base: page, Size: end - page, State: trace.MemReserve}
		if strings.HasPrefix(m.perms, "rw") {
			in.State, in.Protect = trace.MemCommit, trace.PageReadWrite
		} else if m.perms[0] != '-' || m.perms[1] != '-' {
			in.State, in.Protect = trace.MemCommit, 0
		}
		return in, nil
	}
	return trace.Info{Base: page, Size: 1 << 47, State: trace.MemFree}, nil
}

func (l *lib) Query(addr uint64) (trace.Info, error) {
	if C.rp_has_query() == 0 {
		in, err := l.hostQuery(addr)
		if in.State != trace.MemFree {
			in.AllocBase = trace.Unknown
		}
		return in, err
	}
	var in C.memwin_region_info
	if e := C.rp_q(C.uintptr_t(addr), &in); e != 0 {
		return trace.Info{}, fmt.Errorf("error %d", uint32(e))
	}
	return trace.Info{Base: uint64(uintptr(in.base)), Size: uint64(in.region_size),
		AllocBase: uint64(uintptr(in.allocation_base)), State: uint32(in.state), Protect: uint32(in.protect)}, nil
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: memwin-replay LIB TRACE...")
		os.Exit(2)
	}
	if unsafe.Sizeof(uintptr(0)) != 8 {
		fmt.Fprintln(os.Stderr, "memwin-replay: traces are replayed on 64-bit hosts only")
		os.Exit(3)
	}
	path := C.CString(os.Args[1])
	var buf [512]C.char
	if C.rp_load(path, &buf[0], C.size_t(len(buf))) != 0 {
		fmt.Fprintln(os.Stderr, "memwin-replay:", C.GoString(&buf[0]))
		os.Exit(3)
	}
	bad := 0
	for _, p := range os.Args[2:] {
		t, err := trace.ReadPath(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "memwin-replay:", err)
			os.Exit(3)
		}
		obs := trace.Observe(t, &lib{})
		status := ""
		if want, err := trace.ReadGolden(trace.GoldenPath(p)); err != nil {
			status = "no golden: " + err.Error()
			bad++
		} else if d := trace.Diff("golden", want, "library", obs); d != "" {
			status = "DIFFERS from the golden at " + d
			bad++
		} else {
			status = "identical to the golden"
		}
		fmt.Printf("trace %s: %d steps, %d observations: %s\n", p, len(t.Steps), len(obs), status)
	}
	if bad > 0 {
		os.Exit(1)
	}
}
