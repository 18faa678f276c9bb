//go:build windows

package main

// Running a scenario on one side and recording the observations.  Every
// observation is address-independent: offsets from named regions, deltas,
// booleans.  tools/vecfmt implements the same rules in C++ for the native
// replay and memwin-conform; keep the two in step (tests/vectors/FORMAT.md).

/*
#include <stdlib.h>
#include "native.h"
*/
import "C"

import (
	"fmt"
	"strconv"
	"strings"
)

// side is one implementation under test in this process.
type side interface {
	id() C.int
	label() string
	has(op *opInfo) bool
	call(op *opInfo, a, b, c uintptr) (r, r2 uintptr)
	stat() uint64
	setStat(v uint64)
	// mappedReady returns the process's mapped-ready bytes, false if the
	// side cannot read it.
	mappedReady() (uint64, bool)
	// undoMappedReady takes back a step's mapped-ready change (Go side: the
	// runtime's own counter must stay consistent).
	undoMappedReady(delta uint64)
	// takeFatal returns the text of a throw caught by a recording fatal
	// handler during the last call (memwin side in the parent process).
	takeFatal() (string, bool)
}

type region struct {
	name       string
	base, size uintptr
}

type runner struct {
	s       side
	regions []*region // in definition order; nil base: not observed
	emit    func(line string)
	trace   *C.char
}

const traceCap = 1 << 16

var traceBuf = (*C.char)(C.malloc(traceCap))

type harnessError struct{ msg string }

type stopScenario struct{}

// fatalLines keeps stderr up to and including the first "fatal error: "
// line (Go's traceback follows it), without carriage returns.
func fatalLines(text string) []string {
	var out []string
	for _, l := range strings.Split(strings.ReplaceAll(text, "\r", ""), "\n") {
		if l == "" && len(out) == 0 {
			continue
		}
		out = append(out, l)
		if strings.HasPrefix(l, "fatal error: ") {
			return out
		}
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	if len(out) > 20 {
		out = out[:20]
	}
	return out
}

func newRunner(s side, emit func(string)) *runner {
	return &runner{s: s, emit: emit, trace: traceBuf}
}

func (r *runner) fail(format string, a ...interface{}) {
	panic(harnessError{fmt.Sprintf(format, a...)})
}

func (r *runner) lookup(name string) *region {
	for _, rg := range r.regions {
		if rg.name == name {
			return rg
		}
	}
	return nil
}

func (r *runner) bind(name string, base, size uintptr) {
	size = (size + 4095) &^ 4095
	if rg := r.lookup(name); rg != nil {
		rg.base, rg.size = base, size
		return
	}
	r.regions = append(r.regions, &region{name: name, base: base, size: size})
}

func (r *runner) addr(s string) uintptr {
	name, off, err := splitAddr(s)
	if err != nil {
		r.fail("%v", err)
	}
	if name == "" {
		return uintptr(off)
	}
	rg := r.lookup(name)
	if rg == nil {
		r.fail("region %s is not defined", name)
	}
	return rg.base + uintptr(off)
}

// num64 parses a number that is 64 bits wide on every architecture (a
// sysMemStat value, a fault counter).
func (r *runner) num64(s string) uint64 {
	v, err := parseNumber(s)
	if err != nil {
		r.fail("%v", err)
	}
	return v
}

func (r *runner) num(s string) uintptr {
	v, err := parseNumber(s)
	if err != nil {
		r.fail("%v", err)
	}
	return uintptr(v)
}

// rel names addr relative to a region: the region defined last with that
// base, else the first region (in definition order) that contains it; ""
// if none.
func (r *runner) rel(addr uintptr) string {
	for i := len(r.regions) - 1; i >= 0; i-- {
		if rg := r.regions[i]; rg.base != 0 && rg.base == addr {
			return rg.name + "+0"
		}
	}
	for _, rg := range r.regions {
		if rg.base != 0 && addr >= rg.base && addr-rg.base < rg.size {
			return rg.name + "+" + fmtSize(uint64(addr-rg.base))
		}
	}
	return ""
}

// fmtSize writes a byte count with the largest exact unit (G, M, K).
func fmtSize(v uint64) string {
	switch {
	case v == 0:
		return "0"
	case v%(1<<30) == 0:
		return strconv.FormatUint(v>>30, 10) + "G"
	case v%(1<<20) == 0:
		return strconv.FormatUint(v>>20, 10) + "M"
	case v%(1<<10) == 0:
		return strconv.FormatUint(v>>10, 10) + "K"
	}
	return strconv.FormatUint(v, 10)
}

// fmtDelta writes a signed difference of two uint64 counters.
func fmtDelta(d uint64) string {
	if int64(d) < 0 {
		return "-" + fmtSize(-d)
	}
	return "+" + fmtSize(d)
}

// fmtCalls abbreviates the trace of class letters.
func fmtCalls(letters string, n int) string {
	if n == 0 {
		return "-"
	}
	if n <= 120 && len(letters) == n {
		return letters
	}
	head := letters
	if len(head) > 60 {
		head = head[:60]
	}
	tail := ""
	if len(letters) == n && n > 100 {
		tail = letters[n-40:]
	}
	return head + "..." + tail + "(" + strconv.Itoa(n) + " calls)"
}

func stateName(s uint32) string {
	switch s {
	case 0x1000:
		return "commit"
	case 0x2000:
		return "reserve"
	case 0x10000:
		return "free"
	}
	return fmt.Sprintf("state0x%x", s)
}

func protName(p uint32) string {
	switch p {
	case 0:
		return "0"
	case 1:
		return "noaccess"
	case 2:
		return "readonly"
	case 4:
		return "rw"
	}
	return fmt.Sprintf("0x%x", p)
}

func accessName(a C.int) string {
	s := []byte("--")
	if a&1 != 0 {
		s[0] = 'r'
	}
	if a&2 != 0 {
		s[1] = 'w'
	}
	return string(s)
}

func (r *runner) query(addr uintptr) C.cf_info {
	var info C.cf_info
	C.cf_query(r.s.id(), C.uintptr_t(addr), &info)
	return info
}

// observe walks region rg with the side's VirtualQuery and emits one line
// per run of identical pages.
func (r *runner) observe(step int, rg *region) {
	end := rg.base + rg.size
	for a := rg.base; a < end; {
		info := r.query(a)
		off := fmtSize(uint64(a - rg.base))
		if info.err != 0 {
			r.emit(fmt.Sprintf("%d mem %s +%s error=%d", step, rg.name, off, uint32(info.err)))
			return
		}
		runEnd := uintptr(info.base) + uintptr(info.size)
		if runEnd > end {
			runEnd = end
		}
		if runEnd <= a {
			r.emit(fmt.Sprintf("%d mem %s +%s bad-run", step, rg.name, off))
			return
		}
		ab := "-"
		if info.alloc_base != 0 {
			if ab = r.rel(uintptr(info.alloc_base)); ab == "" {
				ab = "?"
			}
		}
		acc := C.cf_probe(C.uintptr_t(a)) & C.cf_probe(C.uintptr_t(runEnd-4096))
		tail := fmt.Sprintf("%s %s ap=%s base=%s %s", stateName(uint32(info.state)),
			protName(uint32(info.protect)), protName(uint32(info.alloc_protect)), ab, accessName(acc))
		if uint32(info.state) != 0x1000 || acc&1 == 0 {
			r.emit(fmt.Sprintf("%d mem %s +%s %s %s", step, rg.name, off, fmtSize(uint64(runEnd-a)), tail))
			a = runEnd
			continue
		}
		// A committed, readable run: one line per stretch of pages whose
		// contents read the same (zero, fill or data), page by page.
		for a < runEnd {
			e := pageEnd(a, runEnd)
			cls := contentClass(a, e)
			for e < runEnd && contentClass(e, pageEnd(e, runEnd)) == cls {
				e = pageEnd(e, runEnd)
			}
			r.emit(fmt.Sprintf("%d mem %s +%s %s %s %s", step, rg.name, fmtSize(uint64(a-rg.base)),
				fmtSize(uint64(e-a)), tail, cls))
			a = e
		}
	}
}

func (r *runner) observeAll(step int) {
	for _, rg := range r.regions {
		if rg.base != 0 {
			r.observe(step, rg)
		}
	}
}

// runStep executes step i (1-based) of sc.
func (r *runner) runStep(i int, st *step) {
	if st.op.harness {
		r.harnessStep(i, st)
		return
	}
	op := st.op
	kinds := op.args
	var a [3]uintptr
	var hint uintptr
	for k, s := range st.args {
		switch kinds[k] {
		case argAddr:
			a[k] = r.addr(s)
			if k == 0 {
				hint = a[k]
			}
		case argSize:
			a[k] = r.num(s)
		case argStat:
		}
	}
	id := r.s.id()
	stat0 := r.s.stat()
	mr0, mrOK := r.s.mappedReady()
	C.cf_trace_begin(id)
	ret, ret2 := r.s.call(op, a[0], a[1], a[2])
	n := C.cf_trace_end(id, r.trace, traceCap)
	mr1, _ := r.s.mappedReady()
	stat1 := r.s.stat()
	if mrOK {
		r.s.undoMappedReady(mr1 - mr0)
	}
	if text, ok := r.s.takeFatal(); ok {
		// A throw that a recording handler turned into a return: report it
		// as the child process would have shown it, and stop.
		for _, l := range fatalLines(text) {
			r.emit(fmt.Sprintf("%d stderr %s", i, l))
		}
		r.emit(fmt.Sprintf("%d exit 2", i))
		panic(stopScenario{})
	}
	switch op.ret {
	case retBool:
		r.emit(fmt.Sprintf("%d ret %v", i, ret != 0))
	case retPtr, retAligned:
		r.emit(fmt.Sprintf("%d ret %s", i, r.fmtRet(ret, hint)))
		if ret != 0 {
			r.emit(fmt.Sprintf("%d ret-align %s", i, fmtSize(uint64(lowAlign(ret)))))
		}
		if op.ret == retAligned {
			r.emit(fmt.Sprintf("%d reserved %s", i, fmtSize(uint64(ret2))))
		}
	}
	letters := C.GoStringN(r.trace, C.int(minInt(int(n), traceCap-1)))
	r.emit(fmt.Sprintf("%d calls %s", i, fmtCalls(letters, int(n))))
	r.emit(fmt.Sprintf("%d stat %s", i, fmtDelta(stat1-stat0)))
	if mrOK {
		r.emit(fmt.Sprintf("%d mr %s", i, fmtDelta(mr1-mr0)))
	}
	if st.bind != "" {
		size := uintptr(0)
		switch op.name {
		case "sysAllocOS", "sysAlloc":
			size = a[0]
		case "sysReserveOS", "sysReserve":
			size = a[1]
		case "sysReserveAligned":
			size = ret2
		}
		if ret == 0 {
			size = 0
		}
		r.bind(st.bind, ret, size)
	}
	r.observeAll(i)
}

func (r *runner) fmtRet(ret, hint uintptr) string {
	switch {
	case ret == 0:
		return "nil"
	case hint != 0 && ret == hint:
		return "hint"
	}
	if s := r.rel(ret); s != "" {
		return s
	}
	return "new"
}

// lowAlign: the largest power of two dividing p, capped at 64 KiB (the
// allocation granularity; larger alignment of a fresh address is chance).
func lowAlign(p uintptr) uintptr {
	a := p & -p
	if a > 65536 || a == 0 {
		a = 65536
	}
	return a
}

func minInt(a, b int) int {
	if a < b {
		return a
	}
	return b
}

func (r *runner) harnessStep(i int, st *step) {
	id := r.s.id()
	switch st.op.name {
	case "free":
		size := r.num(st.args[1])
		align := uintptr(65536)
		if len(st.args) > 2 {
			align = r.num(st.args[2])
		}
		if align == 0 || align&(align-1) != 0 {
			r.fail("free: alignment %d is not a power of two", align)
		}
		// From the middle of a larger free range, as tools/vecfmt does: no
		// other allocation of the process takes it before the hinted calls.
		const pad = uintptr(64) << 20
		p := uintptr(C.cf_raw_reserve(id, 0, C.uintptr_t(pad+size+align+pad)))
		if p == 0 {
			r.fail("free: cannot find %d free bytes", pad+size+align+pad)
		}
		C.cf_raw_release(id, C.uintptr_t(p))
		r.bind(st.args[0], (p+pad+align-1)&^(align-1), size)
	case "region":
		r.bind(st.args[0], r.addr(st.args[1]), r.num(st.args[2]))
	case "drop":
		rg := r.lookup(st.args[0])
		if rg == nil {
			r.fail("drop: region %s is not defined", st.args[0])
		}
		for k, x := range r.regions {
			if x == rg {
				r.regions = append(r.regions[:k], r.regions[k+1:]...)
				break
			}
		}
	case "fill":
		v, n := r.addr(st.args[0]), r.num(st.args[1])
		ok := n > 0
		for p := v &^ 4095; p < v+n && ok; {
			info := r.query(p)
			if info.err != 0 || uint32(info.state) != 0x1000 || uint32(info.protect) != 4 {
				ok = false
				break
			}
			p = uintptr(info.base) + uintptr(info.size)
		}
		if ok {
			C.cf_fill(C.uintptr_t(v), C.uintptr_t(n), 0xA5)
			r.emit(fmt.Sprintf("%d fill ok", i))
		} else {
			r.emit(fmt.Sprintf("%d fill refused", i))
		}
	case "setstat":
		r.s.setStat(r.num64(st.args[0]))
	case "fault":
		cls, _ := parseClasses(st.args[0])
		e := C.cf_fault_set(id, C.uint32_t(cls), C.uint64_t(r.num64(st.args[1])),
			C.uint64_t(r.num64(st.args[2])), C.uint32_t(r.num64(st.args[3])))
		if e != 0 {
			r.fail("fault: memwin_fault_set refused (%d)", uint32(e))
		}
	case "nofault":
		C.cf_fault_clear(id)
	case "squat":
		C.cf_squat_set(id, C.uintptr_t(r.num(st.args[0])), C.uint64_t(r.num64(st.args[1])))
	default:
		r.fail("unknown harness operation %s", st.op.name)
	}
}

// cleanup releases the reservations the code under test made and did not
// release (nothing else: the runtime's own allocations may lie in a
// scenario's windows), disarms injection and the squatter.
func (r *runner) cleanup() {
	id := r.s.id()
	C.cf_fault_clear(id)
	C.cf_squat_clear(id)
	var buf [4096]C.uintptr_t
	n := int(C.cf_created_take(id, &buf[0], C.size_t(len(buf))))
	for _, b := range buf[:minInt(n, len(buf))] {
		info := r.query(uintptr(b))
		if info.err == 0 && uint32(info.state) != 0x10000 && info.alloc_base == b {
			C.cf_raw_release(id, b)
		}
	}
	r.s.setStat(0)
}

// run executes every step; a harness error ends the scenario with an
// "error" line.  Fatal steps are not special here: the caller runs
// scenarios with fatal steps in a child process.
func (r *runner) run(sc *scenario) {
	defer r.cleanup()
	defer func() {
		if e := recover(); e != nil {
			if _, ok := e.(stopScenario); ok {
				return
			}
			if he, ok := e.(harnessError); ok {
				r.emit("0 error " + strings.ReplaceAll(he.msg, "\n", " "))
				return
			}
			panic(e)
		}
	}()
	r.s.setStat(0)
	for i := range sc.steps {
		st := &sc.steps[i]
		if !st.op.harness && !r.s.has(st.op) {
			r.fail("%s is not available on %s", st.op.name, r.s.label())
		}
		r.runStep(i+1, st)
	}
}

// pageEnd is the end of the page that holds a, or limit if that comes first.
func pageEnd(a, limit uintptr) uintptr {
	if e := a&^4095 + 4096; e < limit {
		return e
	}
	return limit
}

// contentClass is what [a, e) reads: "zero" (every byte 0), "fill" (every
// byte 0xA5, the fill operation's pattern) or "data".
func contentClass(a, e uintptr) string {
	return [...]string{"zero", "fill", "data"}[C.cf_content_class(C.uintptr_t(a), C.uintptr_t(e-a))]
}
