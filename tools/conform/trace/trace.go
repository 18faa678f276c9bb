// Package trace reads, writes and replays memwin traces: the calls a real Go
// program made to its OS memory layer (sysAllocOS, sysReserveOS, sysMapOS,
// sysUsedOS, sysUnusedOS, sysFaultOS, sysFreeOS and the huge-page hints),
// with addresses written relative to the reservations they fall in, so a
// trace can be replayed against any implementation in any process.  The
// format is documented in tests/traces/FORMAT.md; this package is its Go
// reader and writer (Go 1.19 and later, no cgo, any GOOS).
package trace

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Magic is the first line of every trace.
const Magic = "memwin-trace 1"

// Op is one of Go's OS memory functions.
type Op int

const (
	SysAllocOS Op = iota
	SysReserveOS
	SysMapOS
	SysUsedOS
	SysUnusedOS
	SysFaultOS
	SysFreeOS
	SysHugePageOS
	SysNoHugePageOS
	SysHugePageCollapseOS
	NumOps
)

var opNames = [NumOps]string{"sysAllocOS", "sysReserveOS", "sysMapOS", "sysUsedOS", "sysUnusedOS",
	"sysFaultOS", "sysFreeOS", "sysHugePageOS", "sysNoHugePageOS", "sysHugePageCollapseOS"}

func (o Op) String() string {
	if o >= 0 && o < NumOps {
		return opNames[o]
	}
	return "op" + strconv.Itoa(int(o))
}

// OpByName returns the Op named s (Go's function name).
func OpByName(s string) (Op, bool) {
	for i, n := range opNames {
		if n == s {
			return Op(i), true
		}
	}
	return 0, false
}

// Reserves reports whether o makes a new reservation (returns an address).
func (o Op) Reserves() bool { return o == SysAllocOS || o == SysReserveOS }

// Addr is an address as a trace writes it: nil, an offset into region
// Region (1-based, in order of creation; the offset may equal the region's
// size: its end), or an absolute address that fell in no region.
type Addr struct {
	Region int    // 0: not in a region
	Off    uint64 // offset into Region, or the absolute address
	Abs    bool   // absolute (Region == 0); false with Region == 0: nil
}

func (a Addr) String() string {
	switch {
	case a.Region > 0 && a.Off == 0:
		return "R" + strconv.Itoa(a.Region)
	case a.Region > 0:
		return fmt.Sprintf("R%d+%#x", a.Region, a.Off)
	case a.Abs:
		return fmt.Sprintf("@%#x", a.Off)
	}
	return "0"
}

// Step is one call.
type Step struct {
	Thread int // 1-based, in order of each thread's first call
	Op     Op
	V      Addr   // the address argument (ops other than sysAllocOS)
	N      uint64 // the size argument
	// For reserving ops: the region the call created (0: it returned nil)
	// and whether it was placed at the hint V.
	Result int
	AtHint bool
}

func (s Step) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "t%d %s", s.Thread, s.Op)
	if s.Op != SysAllocOS {
		b.WriteString(" " + s.V.String())
	}
	fmt.Fprintf(&b, " %#x", s.N)
	if s.Op.Reserves() {
		if s.Result == 0 {
			b.WriteString(" = 0")
		} else {
			fmt.Fprintf(&b, " = R%d", s.Result)
			if s.AtHint {
				b.WriteString(" hint")
			}
		}
	}
	return b.String()
}

// Trace is a whole trace: its metadata ("@key value" lines, in order) and
// its steps.
type Trace struct {
	Meta  [][2]string
	Steps []Step
}

// Get returns the first metadata value of key.
func (t *Trace) Get(key string) string {
	for _, kv := range t.Meta {
		if kv[0] == key {
			return kv[1]
		}
	}
	return ""
}

// Write writes t in the text format.
func (t *Trace) Write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, Magic)
	for _, kv := range t.Meta {
		fmt.Fprintf(bw, "@%s %s\n", kv[0], kv[1])
	}
	for _, s := range t.Steps {
		fmt.Fprintln(bw, s.String())
	}
	return bw.Flush()
}

func parseAddr(s string) (Addr, error) {
	switch {
	case s == "0":
		return Addr{}, nil
	case strings.HasPrefix(s, "@"):
		v, err := strconv.ParseUint(s[1:], 0, 64)
		if err != nil || v == 0 {
			return Addr{}, fmt.Errorf("bad absolute address %q", s)
		}
		return Addr{Off: v, Abs: true}, nil
	case strings.HasPrefix(s, "R"):
		r, off := s[1:], "0"
		if i := strings.IndexByte(r, '+'); i >= 0 {
			r, off = r[:i], r[i+1:]
		}
		k, err := strconv.Atoi(r)
		if err != nil || k <= 0 {
			return Addr{}, fmt.Errorf("bad region %q", s)
		}
		o, err := strconv.ParseUint(off, 0, 64)
		if err != nil {
			return Addr{}, fmt.Errorf("bad offset %q", s)
		}
		return Addr{Region: k, Off: o}, nil
	}
	return Addr{}, fmt.Errorf("bad address %q", s)
}

// Read parses a trace and checks that it is well formed: regions are
// created in order (R1, R2, ...), addresses name only regions created
// before their step, and offsets stay within the region (its end included).
func Read(r io.Reader) (*Trace, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	t := &Trace{}
	line := 0
	sizes := []uint64{0}
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if line == 1 {
			if s != Magic {
				return nil, fmt.Errorf("line 1: not a memwin trace (want %q)", Magic)
			}
			continue
		}
		if s == "" || s[0] == '#' {
			continue
		}
		if s[0] == '@' {
			kv := strings.SplitN(s[1:], " ", 2)
			if len(kv) == 1 {
				kv = append(kv, "")
			}
			t.Meta = append(t.Meta, [2]string{kv[0], kv[1]})
			continue
		}
		st, err := parseStep(s, sizes)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", line, err)
		}
		if st.Result != 0 {
			sizes = append(sizes, st.N)
		}
		t.Steps = append(t.Steps, st)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if line == 0 {
		return nil, fmt.Errorf("empty trace")
	}
	return t, nil
}

func parseStep(s string, sizes []uint64) (Step, error) {
	f := strings.Fields(s)
	var st Step
	if len(f) < 3 || !strings.HasPrefix(f[0], "t") {
		return st, fmt.Errorf("want: tTHREAD OP [ADDR] SIZE [= RESULT]")
	}
	th, err := strconv.Atoi(f[0][1:])
	if err != nil || th <= 0 {
		return st, fmt.Errorf("bad thread %q", f[0])
	}
	st.Thread = th
	op, ok := OpByName(f[1])
	if !ok {
		return st, fmt.Errorf("unknown call %q", f[1])
	}
	st.Op = op
	i := 2
	if op != SysAllocOS {
		if st.V, err = parseAddr(f[i]); err != nil {
			return st, err
		}
		if st.V.Region >= len(sizes) {
			return st, fmt.Errorf("%s names a region not created yet", f[i])
		}
		if st.V.Region > 0 && st.V.Off > sizes[st.V.Region] {
			return st, fmt.Errorf("%s lies past the end of R%d (%#x bytes)", f[i], st.V.Region, sizes[st.V.Region])
		}
		i++
	}
	if i >= len(f) {
		return st, fmt.Errorf("missing size")
	}
	if st.N, err = strconv.ParseUint(f[i], 0, 64); err != nil {
		return st, fmt.Errorf("bad size %q", f[i])
	}
	i++
	rest := f[i:]
	if !op.Reserves() {
		if len(rest) != 0 {
			return st, fmt.Errorf("%s returns nothing", op)
		}
		return st, nil
	}
	if len(rest) < 2 || rest[0] != "=" {
		return st, fmt.Errorf("%s needs a result (= Rk or = 0)", op)
	}
	switch {
	case rest[1] == "0" && len(rest) == 2:
	case strings.HasPrefix(rest[1], "R"):
		k, err := strconv.Atoi(rest[1][1:])
		if err != nil || k != len(sizes) {
			return st, fmt.Errorf("result %s: the next region is R%d", rest[1], len(sizes))
		}
		st.Result = k
		if len(rest) == 3 && rest[2] == "hint" && op == SysReserveOS && st.V != (Addr{}) {
			st.AtHint = true
		} else if len(rest) != 2 {
			return st, fmt.Errorf("bad result %q", strings.Join(rest, " "))
		}
	default:
		return st, fmt.Errorf("bad result %q", strings.Join(rest, " "))
	}
	return st, nil
}
