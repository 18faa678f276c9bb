package memwin

// stateMap records the Go state of every page of a region as sorted runs
// [off, off+len) that cover the whole region; adjacent runs differ.
type stateMap struct {
	runs []stateRun
}

type stateRun struct {
	off, len uintptr
	st       State
}

func newStateMap(size uintptr, st State) stateMap {
	return stateMap{runs: []stateRun{{0, size, st}}}
}

func stateMask(states ...State) uint8 {
	var m uint8
	for _, s := range states {
		m |= 1 << s
	}
	return m
}

// at returns the state of the byte at off.
func (m *stateMap) at(off uintptr) State {
	for _, r := range m.runs {
		if off >= r.off && off-r.off < r.len {
			return r.st
		}
	}
	return StateNone
}

// find returns the first offset in [off, off+n) whose state is not in
// allowed, and that state.
func (m *stateMap) find(off, n uintptr, allowed uint8) (uintptr, State, bool) {
	end := off + n
	for _, r := range m.runs {
		if r.off+r.len <= off || r.off >= end {
			continue
		}
		if allowed&(1<<r.st) == 0 {
			if r.off > off {
				return r.off, r.st, true
			}
			return off, r.st, true
		}
	}
	return 0, StateNone, false
}

// bytes counts the bytes of [off, off+n) in state st.
func (m *stateMap) bytes(off, n uintptr, st State) uintptr {
	end := off + n
	var total uintptr
	for _, r := range m.runs {
		if r.st != st {
			continue
		}
		lo, hi := r.off, r.off+r.len
		if lo < off {
			lo = off
		}
		if hi > end {
			hi = end
		}
		if lo < hi {
			total += hi - lo
		}
	}
	return total
}

// set gives [off, off+n) the state st.
func (m *stateMap) set(off, n uintptr, st State) {
	end := off + n
	out := make([]stateRun, 0, len(m.runs)+2)
	add := func(r stateRun) {
		if r.len == 0 {
			return
		}
		if k := len(out); k > 0 && out[k-1].st == r.st && out[k-1].off+out[k-1].len == r.off {
			out[k-1].len += r.len
			return
		}
		out = append(out, r)
	}
	inserted := false
	for _, r := range m.runs {
		rEnd := r.off + r.len
		if rEnd <= off || r.off >= end {
			if r.off >= end && !inserted {
				add(stateRun{off, n, st})
				inserted = true
			}
			add(r)
			continue
		}
		if r.off < off {
			add(stateRun{r.off, off - r.off, r.st})
		}
		if !inserted {
			add(stateRun{off, n, st})
			inserted = true
		}
		if rEnd > end {
			add(stateRun{end, rEnd - end, r.st})
		}
	}
	if !inserted {
		add(stateRun{off, n, st})
	}
	m.runs = out
}
