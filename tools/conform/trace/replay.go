package trace

import (
	"fmt"
	"strings"
	"unsafe"
)

// Win32 page states and the protection Go commits with.
const (
	MemCommit     = 0x1000
	MemReserve    = 0x2000
	MemFree       = 0x10000
	PageReadWrite = 0x04
)

// Unknown as an Info's AllocBase: the query cannot tell which reservation
// the pages belong to (a host's view, such as /proc/self/maps).
const Unknown = ^uint64(0)

// Info is what a VirtualQuery-style query says about the pages at an
// address: the run of pages from Base with the same state and protection.
type Info struct {
	Base, Size uint64
	AllocBase  uint64
	State      uint32
	Protect    uint32
}

// Side is an implementation a trace is replayed against: Go's OS memory
// functions (v is ignored by sysAllocOS) and a query of page states.
type Side interface {
	Call(op Op, v, n uint64) uint64
	Query(addr uint64) (Info, error)
}

// Options of a replay.
type Options struct {
	// Every: a checkpoint every Every steps (0: only at the end).
	Every int
	// Shift is added to every absolute address of the trace, so that the
	// recorded program's free hints (its heap at 0xc000000000) are free in
	// the replaying process too, whose own heap is there.
	Shift uint64
}

// DefaultShift moves 64-bit hints 64 GiB up (0xc000000000 to 0xd000000000).
const DefaultShift = 0x1000000000

// Shift32 is where a 32-bit replayer (windows/386), which cannot reach
// 64 GiB up, moves them instead: 2 GiB up.  A windows/386 program's first
// heap hint lies just above its executable (0x800000 for gofmt), where the
// replaying program has its own image and heap; 2 GiB up has room for the
// 516 MiB arena reservation in a large-address-aware 32-bit process (as
// measured under Wine 8).  A 64-bit trace's hints do not fit: a 32-bit
// replayer replays windows/386 traces only.
const Shift32 = 0x80000000

// ShiftHere is the shift of every compared replay in this process:
// DefaultShift, or Shift32 in a 32-bit process.
func ShiftHere() uint64 {
	if ^uintptr(0)>>32 == 0 {
		return Shift32
	}
	return DefaultShift
}

type replayRegion struct {
	base, size uint64
	live       bool
}

// Replay runs t's steps in order on one thread against s and emits what can
// be compared between implementations: for each reserving step whether it
// got memory and whether at the hint, and at checkpoints the page states of
// every live region and the committed total.  Steps naming a region this
// replay could not reserve are skipped (and say so).  At the end every live
// region is released.
func Replay(t *Trace, s Side, o Options, emit func(string)) {
	regs := make([]replayRegion, 1) // regs[k] is Rk
	for _, st := range t.Steps {
		if st.Result != 0 {
			regs = append(regs, replayRegion{})
		}
	}
	abs := func(a Addr) (uint64, bool) {
		switch {
		case a.Region > 0:
			if regs[a.Region].base == 0 {
				return 0, false
			}
			return regs[a.Region].base + a.Off, true
		case a.Abs:
			return a.Off + o.Shift, true
		}
		return 0, true
	}
	for i, st := range t.Steps {
		n := i + 1
		v, ok := abs(st.V)
		if !ok {
			emit(fmt.Sprintf("%d skipped: R%d was not reserved", n, st.V.Region))
			continue
		}
		r := s.Call(st.Op, v, st.N)
		if st.Op.Reserves() {
			var b strings.Builder
			fmt.Fprintf(&b, "%d %s", n, st.Op)
			switch {
			case r == 0:
				b.WriteString(" = 0")
				if st.Result != 0 {
					fmt.Fprintf(&b, " (recorded R%d)", st.Result)
				}
			case st.Result == 0:
				b.WriteString(" = memory, released (recorded 0)")
				s.Call(SysFreeOS, r, st.N)
			default:
				regs[st.Result] = replayRegion{base: r, size: st.N, live: true}
				fmt.Fprintf(&b, " = R%d", st.Result)
				if st.Op == SysReserveOS && v != 0 && r == v {
					b.WriteString(" hint")
				}
				if r%0x10000 != 0 {
					fmt.Fprintf(&b, " misaligned(%#x)", r%0x10000)
				}
			}
			emit(b.String())
		}
		switch {
		case st.Op == SysUsedOS, st.Op == SysAllocOS && r != 0 && st.Result != 0:
			// Pages a commit brings back must read zero, unless they were
			// committed already: a program writes its pages, so the replay
			// writes a mark into each page it commits and reports the pages
			// that still held one (a decommit that kept the contents shows).
			base := v
			if st.Op == SysAllocOS {
				base = r
			}
			if kept := touch(s, base, st.N, uint64(n)); kept > 0 {
				emit(fmt.Sprintf("%d %s kept=%#x", n, st.Op, kept))
			}
		}
		if st.Op == SysFreeOS && st.V.Region > 0 && st.V.Off == 0 {
			regs[st.V.Region].live = false
		}
		if o.Every > 0 && n%o.Every == 0 && n != len(t.Steps) {
			checkpoint(n, regs, s, emit)
		}
	}
	checkpoint(len(t.Steps), regs, s, emit)
	for k := range regs {
		if regs[k].live {
			s.Call(SysFreeOS, regs[k].base, regs[k].size)
			regs[k].live = false
		}
	}
}

func stateCode(in Info) string {
	switch {
	case in.State == MemCommit && in.Protect == PageReadWrite:
		return "c"
	case in.State == MemCommit:
		return fmt.Sprintf("c/%#x", in.Protect)
	case in.State == MemReserve:
		return "r"
	case in.State == MemFree:
		return "f"
	}
	return fmt.Sprintf("s%#x", in.State)
}

// checkpoint emits "N check live=K reserved=B committed=C" and one line per
// live region: "N Rk SIZE s:LEN s:LEN ..." with runs of pages of one state
// (c: committed read-write, r: reserved, f: free, c/P: committed with
// protection P) in address order.
func checkpoint(n int, regs []replayRegion, s Side, emit func(string)) {
	var lines []string
	live, reserved, committed := 0, uint64(0), uint64(0)
	for k, rg := range regs {
		if !rg.live {
			continue
		}
		live++
		reserved += rg.size
		var b strings.Builder
		fmt.Fprintf(&b, "%d R%d %#x", n, k, rg.size)
		end := rg.base + rg.size
		prev, runLen := "", uint64(0)
		for a := rg.base; a < end; {
			in, err := s.Query(a)
			if err != nil {
				fmt.Fprintf(&b, " error(+%#x: %v)", a-rg.base, err)
				break
			}
			e := in.Base + in.Size
			if e > end {
				e = end
			}
			if e <= a {
				fmt.Fprintf(&b, " bad-run(+%#x)", a-rg.base)
				break
			}
			code := stateCode(in)
			if in.State != MemFree && in.AllocBase != rg.base && in.AllocBase != Unknown {
				code += "@other"
			}
			if in.State == MemCommit {
				committed += e - a
			}
			if code == prev {
				runLen += e - a
			} else {
				if prev != "" {
					fmt.Fprintf(&b, " %s:%#x", prev, runLen)
				}
				prev, runLen = code, e-a
			}
			a = e
		}
		if prev != "" {
			fmt.Fprintf(&b, " %s:%#x", prev, runLen)
		}
		lines = append(lines, b.String())
	}
	emit(fmt.Sprintf("%d check live=%d reserved=%#x committed=%#x", n, live, reserved, committed))
	for _, l := range lines {
		emit(l)
	}
}

// touch reads the first word of every committed read-write page of
// [v, v+n), counts the bytes of the pages where it is not zero, and writes
// mark (nonzero) there.
func touch(s Side, v, n, mark uint64) uint64 {
	kept := uint64(0)
	end := (v + n + 4095) &^ 4095
	for a := v &^ 4095; a < end; {
		in, err := s.Query(a)
		if err != nil || in.Base+in.Size <= a {
			return kept
		}
		e := in.Base + in.Size
		if e > end {
			e = end
		}
		if in.State == MemCommit && in.Protect == PageReadWrite {
			for p := a; p < e; p += 4096 {
				w := word(p)
				if *w != 0 {
					kept += 4096
				}
				*w = mark | 1
			}
		}
		a = e
	}
	return kept
}

// word is the 8-byte word at address p (memory the replay itself reserved
// and committed through the side, outside the Go heap).
func word(p uint64) *uint64 {
	u := uintptr(p)
	return *(**uint64)(unsafe.Pointer(&u))
}

// Committed returns, after each step of t, the bytes committed in the
// trace's own terms: the pages sysAllocOS gives and sysUsedOS commits, less
// those sysUnusedOS and sysFaultOS decommit and sysFreeOS releases (Windows
// counts committed memory per 4 KiB page).
func Committed(t *Trace) []uint64 {
	type reg struct {
		size  uint64
		live  bool
		pages map[uint64]bool
	}
	regs := []*reg{nil}
	out := make([]uint64, len(t.Steps))
	var cur uint64
	set := func(r *reg, off, n uint64, on bool) {
		for p := off / 4096; p < (off+n+4095)/4096 && p*4096 < r.size; p++ {
			if r.pages[p] != on {
				r.pages[p] = on
				if on {
					cur += 4096
				} else {
					cur -= 4096
				}
			}
		}
	}
	for i, s := range t.Steps {
		if s.Result != 0 {
			r := &reg{size: s.N, live: true, pages: map[uint64]bool{}}
			regs = append(regs, r)
			if s.Op == SysAllocOS {
				set(r, 0, s.N, true)
			}
		}
		if s.V.Region != 0 {
			r := regs[s.V.Region]
			switch s.Op {
			case SysUsedOS:
				set(r, s.V.Off, s.N, true)
			case SysUnusedOS, SysFaultOS:
				set(r, s.V.Off, s.N, false)
			case SysFreeOS:
				if s.V.Off == 0 && r.live {
					set(r, 0, r.size, false)
					r.live = false
				}
			}
		}
		out[i] = cur
	}
	return out
}
