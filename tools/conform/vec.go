//go:build windows

package main

// Reading scenario files (tests/vectors/*.vec); the format is documented in
// tests/vectors/FORMAT.md.  The C++ reader (tools/vecfmt) reads the same
// files and must stay in step with this file and exec.go.

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Argument kinds of an operation.
const (
	argAddr = 'v' // address expression
	argSize = 'n' // size expression
	argStat = 's' // the literal word "stat": the scenario's sysMemStat
	argName = 'N' // a region name being defined
	argOps  = 'o' // fault classes
)

// Result kinds.
const (
	retVoid    = 0
	retPtr     = 'p'
	retBool    = 'b'
	retAligned = 'a' // pointer plus reserved size (sysReserveAligned)
)

type opInfo struct {
	name    string
	args    string // argument kinds; optional trailing ones after '|'
	ret     byte
	harness bool   // a harness operation, not a function under test
	since   string // first Go version that has it ("" = all)
	code    int    // native.h CF_OP_* code (API operations)
}

var ops = map[string]*opInfo{}

func init() {
	api := []opInfo{
		{name: "sysAllocOS", args: "n", ret: retPtr},
		{name: "sysUnusedOS", args: "vn"},
		{name: "sysUsedOS", args: "vn"},
		{name: "sysHugePageOS", args: "vn"},
		{name: "sysNoHugePageOS", args: "vn", since: "go1.21"},
		{name: "sysHugePageCollapseOS", args: "vn", since: "go1.21"},
		{name: "sysFreeOS", args: "vn"},
		{name: "sysFaultOS", args: "vn"},
		{name: "sysReserveOS", args: "vn", ret: retPtr},
		{name: "sysMapOS", args: "vn"},
		{name: "needZeroAfterSysUnusedOS", args: "", ret: retBool, since: "go1.26"},
		{name: "sysAlloc", args: "ns", ret: retPtr},
		{name: "sysUnused", args: "vn"},
		{name: "sysUsed", args: "vnn"},
		{name: "sysHugePage", args: "vn"},
		{name: "sysNoHugePage", args: "vn", since: "go1.21"},
		{name: "sysHugePageCollapse", args: "vn", since: "go1.21"},
		{name: "sysFree", args: "vns"},
		{name: "sysFault", args: "vn"},
		{name: "sysReserve", args: "vn", ret: retPtr},
		{name: "sysMap", args: "vns"},
		{name: "sysUnreserve", args: "vn", since: "go1.25"},
		{name: "sysReserveAligned", args: "vnn", ret: retAligned},
		{name: "needZeroAfterSysUnused", args: "", ret: retBool, since: "go1.26"},
	}
	for i := range api {
		op := api[i]
		op.code = i + 1 // same order as the CF_OP_* enum in native.h
		ops[op.name] = &op
	}
	harness := []opInfo{
		{name: "free", args: "Nn|n"},
		{name: "region", args: "Nvn"},
		{name: "drop", args: "N"},
		{name: "fill", args: "vn"},
		{name: "setstat", args: "n"},
		{name: "fault", args: "onnn"},
		{name: "nofault", args: ""},
		{name: "squat", args: "nn"},
	}
	for i := range harness {
		op := harness[i]
		op.harness = true
		ops[op.name] = &op
	}
}

type step struct {
	line  int
	text  string // the step as written (normalised spaces)
	fatal bool
	bind  string
	op    *opInfo
	args  []string
}

type scenario struct {
	name    string
	path    string
	desc    string
	since   string
	env     []string // NAME=VALUE for the child processes of a fatal scenario
	goldens []string // versions from which Go's observations have a golden of their own
	// golden386: 32-bit ports observe something else and have goldens of
	// their own, NAME[.goV].386.golden ("golden 386").
	golden386 bool
	steps     []step
}

// needsChild: the scenario has a step expected to end the process.
func (s *scenario) needsChild() bool {
	return len(s.steps) > 0 && s.steps[len(s.steps)-1].fatal
}

// minVersion is the newest "since" of the scenario and its operations.
func (s *scenario) minVersion() string {
	v := s.since
	for _, st := range s.steps {
		if st.op.since != "" && versionLess(v, st.op.since) {
			v = st.op.since
		}
	}
	return v
}

// wide is the first number of the scenario that a 32-bit uintptr cannot
// hold ("" if none): such a scenario cannot be written for windows/386 and
// is n/a there.  setstat's value (a sysMemStat, 64 bits everywhere) and the
// fault counters do not count.
func (s *scenario) wide() string {
	for _, st := range s.steps {
		if st.op.name == "setstat" || st.op.name == "fault" {
			continue
		}
		for _, a := range st.args {
			num := a
			if c := a[0]; c < '0' || c > '9' {
				i := strings.IndexAny(a, "+-")
				if i < 0 {
					continue
				}
				num = a[i+1:]
			}
			if v, err := parseNumber(num); err == nil && v > 0xffffffff {
				return a
			}
		}
	}
	return ""
}

func isIdent(s string) bool {
	if s == "" || s == "nil" || s == "stat" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func parseScenario(path string) (*scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := &scenario{name: strings.TrimSuffix(filepath.Base(path), ".vec"), path: path}
	in := bufio.NewScanner(f)
	ln := 0
	for in.Scan() {
		ln++
		line := strings.TrimSpace(in.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		fields := strings.Fields(line)
		bad := func(format string, a ...interface{}) error {
			return fmt.Errorf("%s:%d: %s", path, ln, fmt.Sprintf(format, a...))
		}
		switch fields[0] {
		case "desc":
			sc.desc = strings.TrimSpace(strings.TrimPrefix(line, "desc"))
			continue
		case "since":
			if len(fields) != 2 || !strings.HasPrefix(fields[1], "go1.") {
				return nil, bad("since wants one version like go1.25")
			}
			sc.since = fields[1]
			continue
		case "env":
			if len(fields) != 2 || strings.IndexByte(fields[1], '=') < 1 {
				return nil, bad("env wants one NAME=VALUE")
			}
			sc.env = append(sc.env, fields[1])
			continue
		case "golden":
			if len(fields) == 2 && fields[1] == "386" {
				sc.golden386 = true
				continue
			}
			if len(fields) != 2 || !strings.HasPrefix(fields[1], "go1.") {
				return nil, bad("golden wants one version like go1.21, or 386")
			}
			sc.goldens = append(sc.goldens, fields[1])
			continue
		}
		st := step{line: ln, text: strings.Join(fields, " ")}
		if fields[0] == "fatal" {
			st.fatal = true
			fields = fields[1:]
		}
		if len(fields) >= 2 && fields[1] == "=" {
			if !isIdent(fields[0]) {
				return nil, bad("bad name %q", fields[0])
			}
			st.bind = fields[0]
			fields = fields[2:]
		}
		if len(fields) == 0 {
			return nil, bad("missing operation")
		}
		op := ops[fields[0]]
		if op == nil {
			return nil, bad("unknown operation %q", fields[0])
		}
		st.op = op
		st.args = fields[1:]
		kinds := strings.Replace(op.args, "|", "", 1)
		need := strings.IndexByte(op.args, '|')
		if need < 0 {
			need = len(op.args)
		}
		if len(st.args) < need || len(st.args) > len(kinds) {
			return nil, bad("%s wants %d argument(s)", op.name, len(kinds))
		}
		if st.bind != "" && op.ret != retPtr && op.ret != retAligned {
			return nil, bad("%s returns no pointer to name", op.name)
		}
		if st.fatal && op.harness {
			return nil, bad("harness operations cannot be fatal")
		}
		for i, a := range st.args {
			switch kinds[i] {
			case argStat:
				if a != "stat" {
					return nil, bad("argument %d of %s must be the word stat", i+1, op.name)
				}
			case argName:
				if !isIdent(a) {
					return nil, bad("bad name %q", a)
				}
			case argSize:
				if _, err := parseNumber(a); err != nil {
					return nil, bad("%v", err)
				}
			case argOps:
				if _, err := parseClasses(a); err != nil {
					return nil, bad("%v", err)
				}
			case argAddr:
				if _, _, err := splitAddr(a); err != nil {
					return nil, bad("%v", err)
				}
			}
		}
		if len(sc.steps) > 0 && sc.steps[len(sc.steps)-1].fatal {
			return nil, bad("a fatal step must be the last step")
		}
		sc.steps = append(sc.steps, st)
	}
	if err := in.Err(); err != nil {
		return nil, err
	}
	if len(sc.steps) == 0 {
		return nil, fmt.Errorf("%s: no steps", path)
	}
	if len(sc.env) > 0 && !sc.needsChild() {
		return nil, fmt.Errorf("%s: env needs a fatal last step (a child process)", path)
	}
	return sc, nil
}

func loadScenarios(dir string) ([]*scenario, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.vec"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []*scenario
	for _, p := range paths {
		sc, err := parseScenario(p)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

// parseNumber reads decimal or 0x-hex digits with an optional unit suffix:
// K (1024), M (1024^2), G (1024^3), p (4096-byte pages).
func parseNumber(s string) (uint64, error) {
	mult := uint64(1)
	body := s
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'p':
			mult = 4096
		}
		if mult != 1 {
			body = s[:n-1]
		}
	}
	var v uint64
	var err error
	if strings.HasPrefix(body, "0x") {
		v, err = strconv.ParseUint(body[2:], 16, 64)
	} else {
		v, err = strconv.ParseUint(body, 10, 64)
	}
	if err != nil || body == "" {
		return 0, fmt.Errorf("bad number %q", s)
	}
	if mult != 1 && v > ^uint64(0)/mult {
		return 0, fmt.Errorf("number %q overflows", s)
	}
	return v * mult, nil
}

// splitAddr parses nil | NUMBER | NAME | NAME+NUMBER | NAME-NUMBER.
func splitAddr(s string) (name string, off int64, err error) {
	if s == "nil" {
		return "", 0, nil
	}
	if c := s[0]; c >= '0' && c <= '9' {
		v, err := parseNumber(s)
		return "", int64(v), err
	}
	i := strings.IndexAny(s, "+-")
	if i < 0 {
		if !isIdent(s) {
			return "", 0, fmt.Errorf("bad address %q", s)
		}
		return s, 0, nil
	}
	name = s[:i]
	if !isIdent(name) {
		return "", 0, fmt.Errorf("bad address %q", s)
	}
	v, err := parseNumber(s[i+1:])
	if err != nil {
		return "", 0, fmt.Errorf("bad address %q", s)
	}
	if s[i] == '-' {
		return name, -int64(v), nil
	}
	return name, int64(v), nil
}

// Fault classes, as MEMWIN_FAULT_* bits.
var classBits = map[string]uint32{"reserve": 1, "commit": 2, "alloc": 4, "decommit": 8, "release": 16}

func parseClasses(s string) (uint32, error) {
	var m uint32
	for _, w := range strings.Split(s, ",") {
		b, ok := classBits[w]
		if !ok {
			return 0, fmt.Errorf("bad fault class %q (reserve, commit, alloc, decommit, release)", w)
		}
		m |= b
	}
	return m, nil
}

// versionLess compares "go1.N[.P]" strings; "" is the oldest.
func versionLess(a, b string) bool {
	pa, pb := versionParts(a), versionParts(b)
	for i := 0; i < 3; i++ {
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return false
}

func versionParts(v string) [3]int {
	var p [3]int
	v = strings.TrimPrefix(v, "go")
	for i, f := range strings.SplitN(v, ".", 3) {
		n := 0
		for _, c := range f {
			if c < '0' || c > '9' {
				break
			}
			n = n*10 + int(c-'0')
		}
		p[i] = n
	}
	return p
}
