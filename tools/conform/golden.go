//go:build windows

package main

// Golden files (tests/vectors/NAME.golden) and the comparison of
// observation lists.

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// goldenVersion: the newest of the scenario's "golden" versions that is not
// newer than version ("" = the base golden, NAME.golden).
func goldenVersion(sc *scenario, version string) string {
	best := ""
	for _, v := range sc.goldens {
		if !versionLess(version, v) && versionLess(best, v) {
			best = v
		}
	}
	return best
}

// goldenPath: the golden that holds what Go `version` observes:
// NAME.golden, or NAME.<v>.golden for a "golden <v>" line with v <= version.
// On a 32-bit port, a scenario with a "golden 386" line reads
// NAME[.<v>].386.golden instead.
func goldenPath(sc *scenario, version string) string {
	base := strings.TrimSuffix(sc.path, ".vec")
	if v := goldenVersion(sc, version); v != "" {
		base += "." + v
	}
	if ptrBits == 32 && sc.golden386 {
		base += ".386"
	}
	return base + ".golden"
}

func readGolden(sc *scenario, version string) ([]string, error) {
	f, err := os.Open(goldenPath(sc, version))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	in := bufio.NewScanner(f)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		l := strings.TrimRight(in.Text(), "\r")
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return out, in.Err()
}

func writeGolden(sc *scenario, version string, obs []string, recordedBy string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Golden observations for %s.vec: what the Go runtime did.\n", sc.name)
	fmt.Fprintf(&b, "# Recorded by tools/conformance.sh --regen with %s.\n", recordedBy)
	fmt.Fprintf(&b, "# Format: tests/vectors/FORMAT.md.  Lines starting with # are comments.\n")
	last := -1
	for _, l := range obs {
		n, _ := strconv.Atoi(strings.SplitN(l, " ", 2)[0])
		if n != last && n >= 1 && n <= len(sc.steps) {
			fmt.Fprintf(&b, "# %d: %s\n", n, sc.steps[n-1].text)
		}
		last = n
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return os.WriteFile(goldenPath(sc, version), []byte(b.String()), 0o644)
}

// obsKey splits an observation into its key (step, field, occurrence) and
// value.  The field of "mem R ..." lines is "mem R".
type obsEntry struct {
	step  int
	field string
	value string
}

func parseObs(lines []string) ([]obsEntry, map[string]string) {
	var order []obsEntry
	vals := map[string]string{}
	seen := map[string]int{}
	for _, l := range lines {
		parts := strings.SplitN(l, " ", 3)
		e := obsEntry{}
		e.step, _ = strconv.Atoi(parts[0])
		if len(parts) > 1 {
			e.field = parts[1]
		}
		if len(parts) > 2 {
			e.value = parts[2]
		}
		if e.field == "mem" {
			sub := strings.SplitN(e.value, " ", 2)
			e.field = "mem " + sub[0]
			if len(sub) > 1 {
				e.value = sub[1]
			} else {
				e.value = ""
			}
		}
		base := parts[0] + " " + e.field
		k := seen[base]
		seen[base] = k + 1
		if k > 0 || e.field == "stderr" || strings.HasPrefix(e.field, "mem ") {
			e.field += "#" + strconv.Itoa(k+1)
		}
		order = append(order, e)
		vals[parts[0]+" "+e.field] = e.value
	}
	return order, vals
}

type diff struct {
	step             int
	field, want, got string
}

// compareObs lists the differences between want and got; mr lines are
// ignored when ignoreMR (a side that cannot read mapped-ready).
func compareObs(want, got []string, ignoreMR bool) []diff {
	wo, wv := parseObs(want)
	gOrder, gv := parseObs(got)
	var out []diff
	key := func(e obsEntry) string { return strconv.Itoa(e.step) + " " + e.field }
	for _, e := range wo {
		if ignoreMR && e.field == "mr" {
			continue
		}
		g, ok := gv[key(e)]
		if !ok {
			out = append(out, diff{e.step, e.field, e.value, "(missing)"})
		} else if g != e.value {
			out = append(out, diff{e.step, e.field, e.value, g})
		}
	}
	for _, e := range gOrder {
		if ignoreMR && e.field == "mr" {
			continue
		}
		if _, ok := wv[key(e)]; !ok {
			out = append(out, diff{e.step, e.field, "(missing)", e.value})
		}
	}
	return out
}

func stepText(sc *scenario, n int) string {
	if n >= 1 && n <= len(sc.steps) {
		return sc.steps[n-1].text
	}
	return "-"
}

func fmtDiffs(sc *scenario, wantName, gotName string, ds []diff) []string {
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%s: step %d (%s), field %s: %s = %q, %s = %q",
			sc.name, d.step, stepText(sc, d.step), d.field, wantName, d.want, gotName, d.got))
	}
	return out
}
