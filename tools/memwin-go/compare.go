package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

var resultLine = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+)`)

// testResults reads the -test.v output of a test binary: result per test
// (subtests included), and whether the binary ended normally.
func testResults(path string) (map[string]string, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	res := map[string]string{}
	end := "no final line (crashed or killed)"
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := resultLine.FindStringSubmatch(line); m != nil {
			res[m[2]] = m[1]
			continue
		}
		switch {
		case line == "PASS":
			end = "PASS"
		case line == "FAIL":
			end = "FAIL"
		case strings.HasPrefix(line, "panic: test timed out"):
			end = "timed out"
		}
	}
	return res, end, sc.Err()
}

// compareCommand: compare [--md] NAME=LOG NAME=LOG...: the pass/fail/skip
// set of each log against the first's; exit status 1 on any difference.
func compareCommand(args []string) int {
	md := false
	if len(args) > 0 && args[0] == "--md" {
		md = true
		args = args[1:]
	}
	if len(args) < 2 {
		usage()
	}
	type run struct {
		name, end string
		res       map[string]string
	}
	var runs []run
	for _, a := range args {
		k := strings.IndexByte(a, '=')
		if k < 0 {
			usage()
		}
		res, end, err := testResults(a[k+1:])
		if err != nil {
			die("%v", err)
		}
		runs = append(runs, run{a[:k], end, res})
	}
	names := map[string]bool{}
	for _, r := range runs {
		for t := range r.res {
			names[t] = true
		}
	}
	var all []string
	for t := range names {
		all = append(all, t)
	}
	sort.Strings(all)
	diff := 0
	var diffs []string
	for _, t := range all {
		base := runs[0].res[t]
		same := true
		for _, r := range runs[1:] {
			if r.res[t] != base {
				same = false
			}
		}
		if !same {
			diff++
			var parts []string
			for _, r := range runs {
				v := r.res[t]
				if v == "" {
					v = "absent"
				}
				parts = append(parts, r.name+"="+v)
			}
			diffs = append(diffs, fmt.Sprintf("%s: %s", t, strings.Join(parts, " ")))
		}
	}
	for _, r := range runs[1:] {
		if r.end != runs[0].end {
			diff++
			diffs = append(diffs, fmt.Sprintf("binary result: %s=%s %s=%s", runs[0].name, runs[0].end, r.name, r.end))
		}
	}
	count := func(r run, s string) int {
		n := 0
		for _, v := range r.res {
			if v == s {
				n++
			}
		}
		return n
	}
	if md {
		fmt.Printf("| run | result | pass | fail | skip |\n|---|---|---|---|---|\n")
		for _, r := range runs {
			fmt.Printf("| %s | %s | %d | %d | %d |\n", r.name, r.end, count(r, "PASS"), count(r, "FAIL"), count(r, "SKIP"))
		}
	} else {
		for _, r := range runs {
			fmt.Printf("%-24s %-8s pass %4d  fail %3d  skip %3d\n", r.name, r.end, count(r, "PASS"), count(r, "FAIL"), count(r, "SKIP"))
		}
	}
	for i, d := range diffs {
		if i == 60 {
			fmt.Printf("DIFF ... and %d more\n", len(diffs)-i)
			break
		}
		fmt.Println("DIFF", d)
	}
	if diff == 0 {
		fmt.Printf("identical: %d tests, same results in all %d runs\n", len(all), len(runs))
		return 0
	}
	fmt.Printf("%d differences\n", diff)
	return 1
}
