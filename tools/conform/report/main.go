// Command report merges the results of the conformance runs into one table:
// the Go harness under Wine (built with Go 1.19 and with Go 1.26; each run
// compares the Go runtime and memwin.dll with the golden files) and the
// googletest replay of the same scenarios against the native Linux library.
// It prints the table with a closing "N/N scenarios identical" line, writes
// docs/conformance.md and exits 1 on any difference.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

var (
	flagVectors    = flag.String("vectors", "", "tests/vectors")
	flagGtest      = flag.String("gtest", "", "googletest JSON output of the Linux replay")
	flagMD         = flag.String("md", "", "write the Markdown report here")
	flagSecs       = flag.Float64("seconds", 0, "wall time of the whole run, for the report")
	flagCmd        = flag.String("cmd", "tools/conformance.sh", "command shown in the report")
	flagToolchains = flag.String("toolchains", "", "tools/go-toolchains.sh output (label, go, version, source)")
	harnesses      labels
)

// labels collects -harness LABEL=PATH flags (LABEL like go1.19-amd64).
type labels []struct{ label, path string }

func (l *labels) String() string { return fmt.Sprint(*l) }
func (l *labels) Set(v string) error {
	i := strings.IndexByte(v, '=')
	if i < 1 {
		return fmt.Errorf("want LABEL=PATH")
	}
	*l = append(*l, struct{ label, path string }{v[:i], v[i+1:]})
	return nil
}

func init() {
	flag.Var(&harnesses, "harness", "LABEL=results.tsv of one harness run (repeatable; LABEL is goX.Y-ARCH)")
}

type cell struct{ status, detail string }

type harness struct {
	env, memwin, note string
	goRes, mwRes      map[string]cell
}

func readHarness(path string) (*harness, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := &harness{goRes: map[string]cell{}, mwRes: map[string]cell{}}
	in := bufio.NewScanner(f)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		p := strings.Split(in.Text(), "\t")
		if p[0] == "#env" {
			for len(p) < 4 {
				p = append(p, "")
			}
			h.env, h.memwin, h.note = p[1], p[2], p[3]
			continue
		}
		if len(p) < 3 {
			continue
		}
		c := cell{status: p[2]}
		if len(p) > 3 {
			c.detail = p[3]
		}
		if p[1] == "go" {
			h.goRes[p[0]] = c
		} else {
			h.mwRes[p[0]] = c
		}
	}
	return h, in.Err()
}

// readGtest maps scenario name -> result of Vectors/VectorReplay.MatchesGolden/<name>.
func readGtest(path string) (map[string]cell, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Testsuites []struct {
			Name      string `json:"name"`
			Testsuite []struct {
				Name     string `json:"name"`
				Result   string `json:"result"`
				Failures []struct {
					Failure string `json:"failure"`
				} `json:"failures"`
			} `json:"testsuite"`
		} `json:"testsuites"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	out := map[string]cell{}
	for _, s := range doc.Testsuites {
		if s.Name != "Vectors/VectorReplay" {
			continue
		}
		for _, t := range s.Testsuite {
			name := strings.TrimPrefix(t.Name, "MatchesGolden/")
			switch {
			case len(t.Failures) > 0:
				d := t.Failures[0].Failure
				if i := strings.Index(d, "\n  "); i >= 0 {
					d = strings.TrimSpace(strings.SplitN(d[i+3:], "\n", 2)[0])
				}
				out[name] = cell{"differs", d}
			case t.Result == "COMPLETED":
				out[name] = cell{"identical", ""}
			default:
				out[name] = cell{strings.ToLower(t.Result), ""}
			}
		}
	}
	return out, nil
}

type scenario struct{ name, desc, since string }

func readScenarios(dir string) ([]scenario, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.vec"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []scenario
	for _, p := range paths {
		sc := scenario{name: strings.TrimSuffix(filepath.Base(p), ".vec")}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		for _, l := range strings.Split(string(data), "\n") {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "desc ") {
				sc.desc = strings.TrimPrefix(l, "desc ")
			}
			if strings.HasPrefix(l, "since ") {
				sc.since = strings.TrimPrefix(l, "since ")
			}
		}
		out = append(out, sc)
	}
	return out, nil
}

func get(m map[string]cell, name string) cell {
	if m == nil {
		return cell{"not run", ""}
	}
	if c, ok := m[name]; ok {
		return c
	}
	return cell{"missing", ""}
}

func ok(c cell) bool { return c.status == "identical" || c.status == "n/a" }

func die(err error) {
	fmt.Fprintln(os.Stderr, "report:", err)
	os.Exit(3)
}

// short is a cell as the tables show it.
func short(c cell) string {
	switch c.status {
	case "identical":
		return "="
	case "n/a":
		return "n/a"
	}
	return "**" + c.status + "**"
}

type column struct {
	title string
	cells map[string]cell
	env   string
}

// count: the column's identical, n/a and other cells, and the n/a cells by
// reason (the 64-bit numbers of a scenario folded into one reason).
func (c column) count(scs []scenario) (ident, na, bad int, naWhy map[string]int) {
	naWhy = map[string]int{}
	for _, sc := range scs {
		switch v := get(c.cells, sc.name); v.status {
		case "identical":
			ident++
		case "n/a":
			na++
			why := v.detail
			if strings.HasPrefix(why, "needs a 64-bit uintptr") {
				why = "needs a 64-bit uintptr"
			}
			naWhy[why]++
		default:
			bad++
		}
	}
	return
}

type toolchain struct{ label, gobin, version, source string }

func readToolchains(path string) ([]toolchain, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []toolchain
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		p := strings.Split(l, "\t")
		if len(p) == 4 {
			out = append(out, toolchain{p[0], p[1], p[2], p[3]})
		}
	}
	return out, nil
}

func main() {
	flag.Parse()
	scs, err := readScenarios(*flagVectors)
	if err != nil {
		die(err)
	}
	var tcs []toolchain
	if *flagToolchains != "" {
		if tcs, err = readToolchains(*flagToolchains); err != nil {
			die(err)
		}
	}
	// One column per harness (the Go runtime), then memwin.dll per
	// architecture (its cells from every harness of that architecture: a
	// scenario is identical only if it is in all of them), then libmemwin.
	var cols []column
	mwByArch := map[string][]*harness{}
	var archs []string
	for _, h := range harnesses {
		hr, err := readHarness(h.path)
		if err != nil {
			die(err)
		}
		arch := h.label[strings.LastIndexByte(h.label, '-')+1:]
		title := strings.Replace(strings.TrimPrefix(h.label, "go"), "-", " ", 1)
		cols = append(cols, column{title: "Go " + title, cells: hr.goRes, env: hr.env + "; mapped-ready: " + mrText(hr.note)})
		if mwByArch[arch] == nil {
			archs = append(archs, arch)
		}
		mwByArch[arch] = append(mwByArch[arch], hr)
		hr.note = h.label
	}
	for _, arch := range archs {
		hs := mwByArch[arch]
		cells := map[string]cell{}
		for _, sc := range scs {
			c := cell{"n/a", ""}
			for _, h := range hs {
				hc := get(h.mwRes, sc.name)
				switch {
				case !ok(hc):
					c = cell{hc.status, hc.detail + " (" + h.note + " harness)"}
				case hc.status == "identical" && c.status == "n/a":
					c = hc
				}
				if !ok(c) {
					break
				}
			}
			cells[sc.name] = c
		}
		env := fmt.Sprintf("%s, loaded by the %d %s harnesses", hs[0].memwin, len(hs), arch)
		cols = append(cols, column{title: "memwin.dll " + arch, cells: cells, env: env})
	}
	if *flagGtest != "" {
		gt, err := readGtest(*flagGtest)
		if err != nil {
			die(err)
		}
		cols = append(cols, column{title: "libmemwin", cells: gt,
			env: "native Linux build (`cmake --preset linux`), googletest replay"})
	}

	same := 0
	var diffs []string
	var nIdent, nNA, nBad int
	for _, sc := range scs {
		all := true
		for _, c := range cols {
			v := get(c.cells, sc.name)
			switch {
			case v.status == "identical":
				nIdent++
			case v.status == "n/a":
				nNA++
			default:
				nBad++
				all = false
				diffs = append(diffs, fmt.Sprintf("%s [%s] %s: %s", sc.name, c.title, v.status, v.detail))
			}
		}
		if all {
			same++
		}
	}
	closing := fmt.Sprintf("%d/%d scenarios identical in all %d columns (%d cells: %d identical, %d n/a, %d different)",
		same, len(scs), len(cols), len(scs)*len(cols), nIdent, nNA, nBad)

	// Plain text: one line per column, then the differences.
	for _, c := range cols {
		i, na, bad, _ := c.count(scs)
		fmt.Printf("%-16s %3d identical, %3d n/a, %d different\n", c.title, i, na, bad)
	}
	for _, d := range diffs {
		fmt.Println("DIFF " + d)
	}
	fmt.Println(closing)

	if *flagMD != "" {
		if err := os.WriteFile(*flagMD, []byte(markdown(scs, cols, tcs, diffs, closing)), 0o644); err != nil {
			die(err)
		}
	}
	if same != len(scs) {
		os.Exit(1)
	}
}

func mrText(note string) string {
	if note == "" {
		return "compared"
	}
	return "not compared (" + note + ")"
}

func esc(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func markdown(scs []scenario, cols []column, tcs []toolchain, diffs []string, closing string) string {
	var b strings.Builder
	p := func(format string, a ...interface{}) { fmt.Fprintf(&b, format, a...) }
	p("# Conformance with the Go runtime\n\n")
	p("Generated by `%s` (do not edit; run it again to refresh).\n\n", *flagCmd)
	p("Every scenario in `tests/vectors/` (format: `tests/vectors/FORMAT.md`) is run\n")
	p("side by side in one Windows process under Wine by the harness in `tools/conform/`:\n")
	p("once through the Go runtime's own functions (`runtime.sysReserveOS`, `runtime.sysUsed`, …,\n")
	p("reached with `//go:linkname`, its `_VirtualAlloc`/`_VirtualFree` hooked for tracing and fault\n")
	p("injection) and once through the built `memwin.dll` of the same architecture (loaded by\n")
	p("absolute path, called through its exports).  The harness is built with every Go release\n")
	p("line from 1.19 to 1.27 that `tools/go-toolchains.sh` obtains, for windows/amd64 and\n")
	p("windows/386.  The golden file of each scenario records what the Go 1.19 runtime did on\n")
	p("amd64 (Go 1.26 for functions that 1.19 lacks); where versions differ (the exit status under\n")
	p("`GOTRACEBACK=crash`/`wer`) a second golden records Go 1.26, and memwin.dll and libmemwin are\n")
	p("held to it (memwin follows the newest Go).  Both ports are held to the same goldens, but\n")
	p("for scenarios with a `golden 386` line, whose 386 goldens were recorded from the 386 runtimes\n")
	p("(sizes a 32-bit address space cannot hold; FORMAT.md).  The googletest replay\n")
	p("(`tests/vectors_replay_test.cpp`) holds the native Linux library to them too.\n")
	p("Observations are address-independent: results relative to hints and named\n")
	p("regions, VirtualQuery runs over each region (state, protection, allocation base, size),\n")
	p("accessibility and zero fill, sysMemStat and mapped-ready deltas, the sequence of Win32 calls\n")
	p("(class and success), and for fatal steps the stderr lines up to `fatal error: …` and the exit\n")
	p("status (the harness re-executes itself as a child for those).\n\n")
	p("Cells: `=` identical to the golden; `n/a` the scenario cannot run there (a function that\n")
	p("version lacks, or a number a 32-bit uintptr cannot hold: see below); anything else is a\n")
	p("failure.  **memwin.dll ARCH** is identical only if it is identical in every harness of that\n")
	p("architecture.\n\n")
	p("## Toolchains\n\n| line | version | where it came from |\n|---|---|---|\n")
	for _, t := range tcs {
		v := t.version
		if t.gobin == "" {
			v = "not obtained"
		}
		p("| %s | %s | %s |\n", t.label, v, esc(t.source))
	}
	p("\n## Environment\n\n")
	for _, c := range cols {
		p("- **%s**: %s\n", c.title, esc(c.env))
	}
	if *flagSecs > 0 {
		p("- wall time of the whole run (builds included): %.0f s\n", *flagSecs)
	}
	p("\n## Result\n\n**%s**\n\n", closing)
	p("| column | identical | n/a | different |\n|---|---|---|---|\n")
	naWhy := map[string]int{}
	for _, c := range cols {
		i, na, bad, why := c.count(scs)
		for k, n := range why {
			naWhy[c.title+": "+k] += n
		}
		p("| %s | %d | %d | %d |\n", c.title, i, na, bad)
	}
	p("\n")
	if len(naWhy) > 0 {
		var ks []string
		for k := range naWhy {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		p("Why cells are n/a:\n\n")
		for _, k := range ks {
			p("- %s: %d\n", esc(k), naWhy[k])
		}
		p("\n")
	}
	if len(diffs) > 0 {
		p("Differences:\n\n")
		for _, d := range diffs {
			p("- %s\n", esc(d))
		}
		p("\n")
	}
	p("| scenario | what it checks |")
	for _, c := range cols {
		p(" %s |", c.title)
	}
	p("\n|---|---|%s\n", strings.Repeat("---|", len(cols)))
	for _, sc := range scs {
		p("| `%s` | %s |", sc.name, esc(sc.desc))
		for _, c := range cols {
			p(" %s |", short(get(c.cells, sc.name)))
		}
		p("\n")
	}
	p("\n%s\n\n", closing)
	b.WriteString(notes)
	b.WriteString(differences)
	return b.String()
}

const notes = `## What the scenarios do not reach, and why

- **Real memory exhaustion.** The out-of-memory and commit-limit branches of sysUsedOS,
  sysAllocOS returning nil and every exit of the fallback loops are reached by injected
  failures (errors 8, 1455, 87, 487 on the n-th call: the runtime's _VirtualAlloc/_VirtualFree
  swapped for a C hook, memwin_fault_set on memwin's side), not by exhausting the commit charge
  or the address space, which cannot be done on demand or safely.
- **A real race in sysReserveAligned.** Losing the aligned address to another thread is simulated
  by a "squatter" that reserves the aligned address right after each release (the same way on
  both sides); 99 lost races succeed, 100 throw. Genuinely concurrent threads are not used, and
  the thread-safety of the counters under contention is not observable deterministically.
- **Address-dependent outcomes.** Whether an anywhere-reservation happens to be aligned to more
  than 64 KiB (sysReserveAligned with a nil hint and a large alignment: aligned by chance about
  once in 64 tries, which changes the reserved size), or where the system places it, differs
  from run to run; such scenarios use hints in known-free windows instead, and only alignment to
  the 64 KiB allocation granularity is recorded for fresh addresses.
- **Real-Windows error codes.** The goldens come from Wine 8: VirtualFree of memory that is not
  reserved reports errno 87 there, where Windows reports 487 (golang/go#35465); the printed
  errno is therefore Wine's.
- **The fatal step's own accounting.** A step that throws ends the process, so its stat and
  mapped-ready changes (made before the throw) are not observed; the printed lines, the
  "fatal error" line and the exit status are.
- **Layers above this one.** mheap.sysAlloc and the arena hints ("memory allocated by OS … not in
  usable address space", "misrounded allocation"), ReadMemStats' mappedReady consistency check,
  the scavenger and the fault handler's "unexpected fault address" are runtime logic above
  mem_windows.go/mem.go; the scenarios check instead that Reserved and decommitted pages are
  inaccessible (probed without faulting).
- **Go versions and variants.** One patch release per line (the Toolchains table). Build tags
  cannot tell 1.21.0 (no sysHugePageCollapse) from 1.21.1; the 1.21 line is measured with 1.21.13.
  The vmaName parameter (1.25+) is ignored on Windows, and the ASAN/LSAN hooks of mem.go do not
  exist on Windows.
- **windows/386.** A scenario with a size or address that a 32-bit uintptr cannot hold (the
  64-bit overflow and wrap-around cases) cannot be written for 386 and is n/a there, on the Go
  and memwin.dll columns alike; sysMemStat values (setstat) are 64 bits on both ports and run.
- **A difference is confirmed by a second run.** A scenario that differs is run once more on
  that side and counts as identical only if the second run is (each harness log says how many
  runs were repeated). Two things outside a scenario can rarely change what it observes: the
  process's own allocations (Wine's thread blocks, the Go runtime's) taking a range the scenario
  has just released before it is observed "free" (seen once in a CI run: os_reserve_repeat on
  windows/386), and the Go runtime's own background work moving the process-wide mapped-ready
  counter during a step (seen once: Go 1.20 on 386).
- **mapped-ready** is read from runtime.gcController: at start-up the harness finds the one
  8-byte word of its first KiB that Go's own sysAlloc(n) raises by n and sysFree(n) lowers by n,
  for two sizes, so no offset is kept per version or port. If none is found, only the sysMemStat
  deltas are compared for the Go side, and the Environment section says so.
- **Scenarios n/a for older Go** use functions that appeared later (sysNoHugePage*,
  sysHugePageCollapse* in 1.21, sysUnreserve in 1.25, needZeroAfterSysUnused* in 1.26); their
  goldens were recorded from Go 1.26.
- **Runtime settings of the harness.** The harness runs with GODEBUG=asyncpreemptoff=1, because
  Go 1.26's asynchronous preemption (saving the extended registers of a suspended thread)
  sometimes faults under Wine 8; and with GC off during each scenario (collected in between),
  so no background work changes mapped-ready while a step is measured.
`

// differences lists what memwin does differently from Go on purpose, or
// cannot do as Go does; no scenario exercises these (include/memwin.h has
// the same list).
const differences = `
## Deliberate or inherent differences from Go

Not scenarios: these are outside what the harness compares, measured separately.

- **A nil sysMemStat.** Go dereferences it: a nil-pointer panic that the caller can recover
  ("runtime error: invalid memory address or nil pointer dereference"; runtime.sysMap called
  through //go:linkname with a nil stat under a deferred recover, Go 1.19.8 and 1.26.8,
  windows/amd64 under Wine 8 and linux/amd64). C has no recoverable panic: memwin reports
  "fatal error: memwin: nil sysMemStat" (exit status 2 with the default handler; refused as
  MEMWIN_ERR_NULL in checked and recoverable modes) rather than crash.
- **A sysMemStat in memory that cannot be written.** Go's fault handler reports "unexpected
  fault address 0x…" and "fatal error: fault", exit status 2 (measured the same way, the stat
  in a Reserved page). memwin is C code and faults like any: SIGSEGV on Linux, an unhandled
  access violation (page fault on write) in memwin.dll under Wine.
- **debug.SetCrashOutput** (Go 1.23+). Go also writes its crash report to that file; memwin
  cannot see the setting, and its default fatal handler writes to stderr only (measured through
  go_bindings: Go's own throw wrote its traceback to the file, a memwin fatal error wrote
  nothing there). A fatal handler (memwin_set_fatal_handler) can write the text anywhere.
- **memwin_mapped_ready()** is memwin's own counter, changed at the same calls by the same
  amounts as Go's gcController.mappedReady (the mapped-ready deltas above), not the Go
  runtime's counter, which a Go program keeps for itself.
`
