package swap

import (
	"os"
	"runtime"
	"strings"
	"testing"
)

// The swap is active only on windows with cgo and memwin.dll beside the
// test binary (or at $MEMWIN_DLL); otherwise it reports why not, and the
// program runs on the runtime's own functions.
func TestStatus(t *testing.T) {
	st := Status()
	t.Logf("Active()=%v, Status()=%q", Active(), st)
	if Active() {
		if !strings.Contains(st, "served by") {
			t.Errorf("active, but Status() = %q", st)
		}
		s, ok := ReadStats()
		if !ok || s.Calls() == 0 || s.Op[OpReserve].Calls == 0 || s.CommittedPeak == 0 {
			t.Errorf("active, but the counters are empty: %+v", s)
		}
		if _, err := GetPolicy(); err != nil {
			t.Error(err)
		}
		if err := Flush(); err != nil {
			t.Error(err)
		}
		return
	}
	if runtime.GOOS == "windows" && os.Getenv("MEMWIN_SWAP") == "" && !strings.Contains(st, "memwin") {
		t.Errorf("inactive, and Status() does not say why: %q", st)
	}
	if _, ok := ReadStats(); ok {
		t.Error("ReadStats ok while inactive")
	}
	if err := SetPolicy(Policy{}); err == nil {
		t.Error("SetPolicy succeeded while inactive")
	}
	if err := Flush(); err == nil {
		t.Error("Flush succeeded while inactive")
	}
}

func TestOpNames(t *testing.T) {
	if len(OpNames) != NumOps || OpNames[OpRelease] != "release" {
		t.Errorf("OpNames = %v", OpNames)
	}
}
