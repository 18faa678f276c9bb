package memwin

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The package compiles exactly the library's sources (MEMWIN_SOURCES in
// ../CMakeLists.txt); update_sources.sh regenerates the src_*.c files.
func TestBundledSourcesMatchCMake(t *testing.T) {
	cm, err := os.ReadFile(filepath.Join("..", "CMakeLists.txt"))
	if err != nil {
		t.Skipf("no library source tree here: %v", err)
	}
	block := regexp.MustCompile(`(?s)set\(MEMWIN_SOURCES(.*?)\)`).FindSubmatch(cm)
	if block == nil {
		t.Fatal("no MEMWIN_SOURCES in ../CMakeLists.txt")
	}
	var want []string
	for _, m := range regexp.MustCompile(`src/(?:[a-z]+/)?([A-Za-z0-9_]+)\.c`).FindAllSubmatch(block[1], -1) {
		want = append(want, "src_"+strings.ReplaceAll(string(m[1]), "_", "")+".c")
	}
	have, _ := filepath.Glob("src_*.c")
	sort.Strings(want)
	sort.Strings(have)
	if strings.Join(want, " ") != strings.Join(have, " ") {
		t.Errorf("src_*.c files %v, CMake sources want %v: run go_bindings/update_sources.sh", have, want)
	}
}

// The binding covers every export of memwin.def.
func TestExportsMatchDef(t *testing.T) {
	def, err := os.ReadFile(filepath.Join("..", "memwin.def"))
	if err != nil {
		t.Skipf("no library source tree here: %v", err)
	}
	var want []string
	inExports := false
	for _, line := range strings.Split(string(def), "\n") {
		line = strings.TrimSpace(line)
		if i := strings.IndexByte(line, ';'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		switch {
		case line == "":
		case line == "EXPORTS":
			inExports = true
		case inExports:
			want = append(want, strings.Fields(line)[0])
		}
	}
	have := append([]string(nil), libraryExports[:]...)
	sort.Strings(want)
	sort.Strings(have)
	if strings.Join(want, " ") != strings.Join(have, " ") {
		t.Errorf("memwin.def exports\n%v\nthe binding knows\n%v", want, have)
	}
}
