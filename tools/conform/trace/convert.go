package trace

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// RawCall is one call as the recorder (memwin-record.dll) writes it:
// absolute addresses and the OS thread id.
type RawCall struct {
	Tid  uint64
	Op   Op
	V, N uint64 // V is 0 for sysAllocOS
	R    uint64 // the returned address (reserving ops)
}

// ReadRaw parses the recorder's lines: "TID OP V N R", numbers in hex
// (without 0x), OP one of Go's names.  Lines starting with '#' are skipped.
func ReadRaw(r io.Reader) ([]RawCall, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	var out []RawCall
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		f := strings.Fields(s)
		if len(f) != 5 {
			return nil, fmt.Errorf("raw line %d: want TID OP V N R, got %q", line, s)
		}
		var c RawCall
		var ok bool
		if c.Op, ok = OpByName(f[1]); !ok {
			return nil, fmt.Errorf("raw line %d: unknown call %q", line, f[1])
		}
		nums := []*uint64{&c.Tid, &c.V, &c.N, &c.R}
		for i, s := range []string{f[0], f[2], f[3], f[4]} {
			v, err := strconv.ParseUint(s, 16, 64)
			if err != nil {
				return nil, fmt.Errorf("raw line %d: bad number %q", line, s)
			}
			*nums[i] = v
		}
		out = append(out, c)
	}
	return out, sc.Err()
}

type convRegion struct {
	base, size uint64
	live       bool
}

// Convert turns raw calls into a trace: threads numbered in order of their
// first call, every new reservation named Rk in order of creation, and
// every address argument written relative to a region: a live one that
// holds it (its end included, for a hint just past it), else the most
// recently released one that held it (the aligned-reservation sequence
// re-reserves inside a range it has just released), else absolute.
func Convert(calls []RawCall, meta [][2]string) *Trace {
	t := &Trace{Meta: meta}
	threads := map[uint64]int{}
	var regs []convRegion // regs[k-1] is Rk
	rel := func(v uint64) Addr {
		if v == 0 {
			return Addr{}
		}
		best := -1
		for k := len(regs) - 1; k >= 0; k-- {
			r := regs[k]
			if !r.live || v < r.base || v > r.base+r.size {
				continue
			}
			if v < r.base+r.size { // inside beats "at the end of"
				best = k
				break
			}
			if best < 0 {
				best = k
			}
		}
		if best < 0 {
			for k := len(regs) - 1; k >= 0; k-- {
				r := regs[k]
				if !r.live && v >= r.base && v <= r.base+r.size {
					best = k
					break
				}
			}
		}
		if best < 0 {
			return Addr{Off: v, Abs: true}
		}
		return Addr{Region: best + 1, Off: v - regs[best].base}
	}
	for _, c := range calls {
		th, ok := threads[c.Tid]
		if !ok {
			th = len(threads) + 1
			threads[c.Tid] = th
		}
		st := Step{Thread: th, Op: c.Op, N: c.N}
		if c.Op != SysAllocOS {
			st.V = rel(c.V)
		}
		switch {
		case c.Op.Reserves():
			if c.R != 0 {
				regs = append(regs, convRegion{base: c.R, size: c.N, live: true})
				st.Result = len(regs)
				st.AtHint = c.Op == SysReserveOS && c.V != 0 && c.R == c.V
			}
		case c.Op == SysFreeOS:
			if st.V.Region > 0 && st.V.Off == 0 && regs[st.V.Region-1].live {
				regs[st.V.Region-1].live = false
			}
		}
		t.Steps = append(t.Steps, st)
	}
	return t
}
