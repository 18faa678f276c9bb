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
	flagVectors = flag.String("vectors", "", "tests/vectors")
	flagR19     = flag.String("r19", "", "results of the harness built with Go 1.19")
	flagR26     = flag.String("r26", "", "results of the harness built with Go 1.26")
	flagGtest   = flag.String("gtest", "", "googletest JSON output of the Linux replay")
	flagMD      = flag.String("md", "", "write the Markdown report here")
	flagSecs    = flag.Float64("seconds", 0, "wall time of the whole run, for the report")
	flagCmd     = flag.String("cmd", "tools/conformance.sh", "command shown in the report")
)

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

func main() {
	flag.Parse()
	scs, err := readScenarios(*flagVectors)
	if err != nil {
		die(err)
	}
	var h19, h26 *harness
	if *flagR19 != "" {
		if h19, err = readHarness(*flagR19); err != nil {
			die(err)
		}
	}
	if *flagR26 != "" {
		if h26, err = readHarness(*flagR26); err != nil {
			die(err)
		}
	}
	var gt map[string]cell
	if *flagGtest != "" {
		if gt, err = readGtest(*flagGtest); err != nil {
			die(err)
		}
	}
	harnessCells := func(h *harness, name string) (cell, cell) {
		if h == nil {
			return cell{"not run", ""}, cell{"not run", ""}
		}
		return get(h.goRes, name), get(h.mwRes, name)
	}

	type row struct {
		sc               scenario
		g19, g26, mw, lx cell
	}
	var rows []row
	same := 0
	var diffs []string
	for _, sc := range scs {
		g19, m19 := harnessCells(h19, sc.name)
		g26, m26 := harnessCells(h26, sc.name)
		mw := cell{"identical", ""}
		switch {
		case !ok(m19):
			mw = cell{m19.status + " (go1.19 harness)", m19.detail}
		case !ok(m26):
			mw = cell{m26.status + " (go1.26 harness)", m26.detail}
		}
		lx := get(gt, sc.name)
		r := row{sc, g19, g26, mw, lx}
		rows = append(rows, r)
		if ok(g19) && ok(g26) && ok(mw) && ok(lx) {
			same++
			continue
		}
		for _, c := range []struct {
			col string
			c   cell
		}{{"Go 1.19 runtime", g19}, {"Go 1.26 runtime", g26}, {"memwin.dll", mw}, {"libmemwin", lx}} {
			if !ok(c.c) {
				diffs = append(diffs, fmt.Sprintf("%s [%s] %s: %s", sc.name, c.col, c.c.status, c.c.detail))
			}
		}
	}
	closing := fmt.Sprintf("%d/%d scenarios identical", same, len(scs))

	// Plain-text table.
	w := 0
	for _, r := range rows {
		if len(r.sc.name) > w {
			w = len(r.sc.name)
		}
	}
	fmt.Printf("%-*s  %-16s %-16s %-16s %-16s\n", w, "scenario", "Go 1.19 runtime", "Go 1.26 runtime", "memwin.dll", "libmemwin")
	for _, r := range rows {
		fmt.Printf("%-*s  %-16s %-16s %-16s %-16s\n", w, r.sc.name, r.g19.status, r.g26.status, r.mw.status, r.lx.status)
	}
	for _, d := range diffs {
		fmt.Println("DIFF " + d)
	}
	fmt.Println(closing)

	if *flagMD != "" {
		var cells [][]string
		for _, r := range rows {
			cells = append(cells, []string{r.sc.name, r.sc.desc, r.g19.status, r.g26.status, r.mw.status, r.lx.status})
		}
		if err := os.WriteFile(*flagMD, []byte(markdown(cells, h19, h26, diffs, closing)), 0o644); err != nil {
			die(err)
		}
	}
	if same != len(scs) {
		os.Exit(1)
	}
}

func esc(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func markdown(rows [][]string, h19, h26 *harness, diffs []string, closing string) string {
	var b strings.Builder
	p := func(format string, a ...interface{}) { fmt.Fprintf(&b, format, a...) }
	p("# Conformance with the Go runtime\n\n")
	p("Generated by `%s` (do not edit; run it again to refresh).\n\n", *flagCmd)
	p("Every scenario in `tests/vectors/` (format: `tests/vectors/FORMAT.md`) is run\n")
	p("side by side in one Windows process under Wine by the harness in `tools/conform/`:\n")
	p("once through the Go runtime's own functions (`runtime.sysReserveOS`, `runtime.sysUsed`, …,\n")
	p("reached with `//go:linkname`, its `_VirtualAlloc`/`_VirtualFree` hooked for tracing and fault\n")
	p("injection) and once through the built `memwin.dll` (loaded by absolute path, called through\n")
	p("its exports).  The harness is built twice, with Go 1.19 and with Go 1.26.  The golden file of\n")
	p("each scenario records what the Go 1.19 runtime did (Go 1.26 for functions that 1.19 lacks);\n")
	p("where the two differ (the exit status under `GOTRACEBACK=crash`/`wer`) a second golden records\n")
	p("Go 1.26, and memwin.dll and libmemwin are held to it (memwin follows the newest Go);\n")
	p("the googletest replay (`tests/vectors_replay_test.cpp`) holds the native Linux library to the\n")
	p("same goldens.  Observations are address-independent: results relative to hints and named\n")
	p("regions, VirtualQuery runs over each region (state, protection, allocation base, size),\n")
	p("accessibility and zero fill, sysMemStat and mapped-ready deltas, the sequence of Win32 calls\n")
	p("(class and success), and for fatal steps the stderr lines up to `fatal error: …` and the exit\n")
	p("status (the harness re-executes itself as a child for those).\n\n")
	p("Columns: **Go 1.19 runtime** / **Go 1.26 runtime** — the real runtime compared with the\n")
	p("golden (`n/a`: the function does not exist in that version); **memwin.dll** — the DLL, in both\n")
	p("harness builds, under Wine; **libmemwin** — the Linux emulation, replayed natively.\n\n")
	p("## Environment\n\n")
	for _, h := range []*harness{h19, h26} {
		if h == nil {
			continue
		}
		note := ""
		if h.note != "" {
			note = " — " + h.note
		}
		p("- %s; %s%s\n", h.env, h.memwin, note)
	}
	p("- libmemwin: native Linux build (`cmake --preset linux`), googletest replay\n")
	if *flagSecs > 0 {
		p("- wall time of the whole run (builds included): %.0f s\n", *flagSecs)
	}
	p("\n## Result\n\n**%s**\n\n", closing)
	if len(diffs) > 0 {
		p("Differences:\n\n")
		for _, d := range diffs {
			p("- %s\n", esc(d))
		}
		p("\n")
	}
	p("| scenario | what it checks | Go 1.19 runtime | Go 1.26 runtime | memwin.dll | libmemwin |\n")
	p("|---|---|---|---|---|---|\n")
	for _, r := range rows {
		for i := range r {
			r[i] = esc(r[i])
		}
		p("| `%s` | %s | %s | %s | %s | %s |\n", r[0], r[1], r[2], r[3], r[4], r[5])
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
- **Other Go versions and variants.** Only Go 1.19 and Go 1.26 toolchains are installed; 1.20,
  1.21–1.25 and 1.27 are not run (1.27's mem_windows.go is byte-identical to 1.26's). Build tags
  cannot tell 1.21.0 (no sysHugePageCollapse) from 1.21.1. The vmaName parameter (1.25+) is
  ignored on Windows, and the ASAN/LSAN hooks of mem.go do not exist on Windows.
- **mapped-ready** is read from runtime.gcController at an offset per Go version (from the
  DWARF of each toolchain's binaries) and verified at start-up against Go's own sysAlloc/sysFree;
  if that check fails for a version, only the sysMemStat deltas are compared for the Go side
  (the Environment section says so). It passes for Go 1.19 and Go 1.26.
- **Scenarios marked n/a for Go 1.19** use functions that appeared later (sysNoHugePage*,
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
