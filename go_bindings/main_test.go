package memwin

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"unsafe"
)

// Fatal paths end the process, so they run in a child: the test binary
// started again with MEMWIN_TEST_HELPER naming one of these functions.  A
// helper that returns makes the child exit with status 0 ("survived").
var helpers = map[string]func(){}

func TestMain(m *testing.M) {
	if name := os.Getenv("MEMWIN_TEST_HELPER"); name != "" {
		h, ok := helpers[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "no helper %q\n", name)
			os.Exit(99)
		}
		h()
		os.Exit(0)
	}
	// The tests expect Go's behaviour, whatever MEMWIN_MODE says; the mode
	// tests switch modes themselves.
	if prev, _ := SetMode(ModeExact); prev != ModeExact {
		fmt.Fprintf(os.Stderr, "memwin tests: MEMWIN_MODE gave mode %v; running in exact mode\n", prev)
	}
	os.Exit(m.Run())
}

// runHelper runs helper name in a child process and returns its exit status
// and standard error (with "\r\n" made "\n").
func runHelper(t *testing.T, name string) (int, string) {
	t.Helper()
	return runHelperEnv(t, name, os.Environ())
}

// runHelperEnv is runHelper with the child's environment (plus
// MEMWIN_TEST_HELPER).
func runHelperEnv(t *testing.T, name string, env []string) (int, string) {
	t.Helper()
	if _, ok := helpers[name]; !ok {
		t.Fatalf("no helper %q", name)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(env, "MEMWIN_TEST_HELPER="+name)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("helper %s: %v", name, err)
		}
		code = ee.ExitCode()
	}
	return code, strings.ReplaceAll(stderr.String(), "\r\n", "\n")
}

// expectFatal runs helper name and checks that it died as Go dies: exit
// status 2 and a standard error matching the regular expression want.
func expectFatal(t *testing.T, name, want string) {
	t.Helper()
	code, stderr := runHelper(t, name)
	if code != 2 {
		t.Errorf("helper %s: exit status %d, want 2; stderr:\n%s", name, code, stderr)
	}
	if !regexp.MustCompile(`\A` + want + `\z`).MatchString(stderr) {
		t.Errorf("helper %s: stderr\n%q\nwant (regexp)\n%q", name, stderr, want)
	}
}

func addr(p unsafe.Pointer, off uintptr) unsafe.Pointer { return unsafe.Add(p, off) }

func mustQuery(t *testing.T, p unsafe.Pointer) RegionInfo {
	t.Helper()
	info, err := Query(p)
	if err != nil {
		t.Fatalf("Query(%p): %v", p, err)
	}
	return info
}

// wantQuery checks the state, protection and run length memwin_query
// reports at p (size 0: any length).
func wantQuery(t *testing.T, p unsafe.Pointer, st MemState, prot Protect, size uintptr) {
	t.Helper()
	info := mustQuery(t, p)
	if info.State != st || info.Protect != prot || (size != 0 && info.RegionSize != size) {
		t.Errorf("Query(%p) = %v; want %v %v, %#x bytes", p, info, st, prot, size)
	}
}

// extentAt sums the runs memwin_query reports from p on while they belong
// to the allocation that starts at p: the size of that allocation, or 0 when
// p is free or inside another allocation.
func extentAt(t *testing.T, p unsafe.Pointer) uintptr {
	t.Helper()
	var n uintptr
	for {
		info := mustQuery(t, addr(p, n))
		if info.State == MemFree || info.AllocationBase != uintptr(p) || info.RegionSize == 0 {
			return n
		}
		n += info.RegionSize
	}
}

// wantReleased checks that the allocation of size bytes at p is gone after
// a release.  Once released the address is anyone's: the Go runtime's own
// allocations in other threads and Wine's (bottom-up, into the lowest hole
// that fits, such as a 256 KiB persistent chunk) can take it before the
// query.  So an allocation found at p fails the check only when it spans
// size bytes from p, the shape the unreleased one would still have; any
// other (a different size, or one starting below p) is logged as a reuse.
func wantReleased(t *testing.T, p unsafe.Pointer, size uintptr) {
	t.Helper()
	info := mustQuery(t, p)
	if info.State == MemFree {
		if info.Protect != PageNoAccess {
			t.Errorf("Query(%p) after release = %v; want PAGE_NOACCESS", p, info)
		}
		return
	}
	if n := extentAt(t, p); n == size {
		t.Errorf("Query(%p) after release = %v; want MEM_FREE (an allocation of the released size %#x is still at p)",
			p, info, size)
	} else {
		t.Logf("released %#x bytes at %p; the address was reused by an allocation of %#x bytes: %v", size, p, n, info)
	}
}

// wantMappedReady checks MappedReady against a baseline plus delta.
func wantMappedReady(t *testing.T, base uint64, delta int64) {
	t.Helper()
	if got := MappedReady(); got != base+uint64(delta) {
		t.Errorf("MappedReady = %d, want %d%+d", got, base, delta)
	}
}

func withFault(t *testing.T, ops FaultOp, nth, count uint64, code Errno) {
	t.Helper()
	if err := FaultSet(ops, nth, count, code); err != nil {
		t.Fatalf("FaultSet: %v", err)
	}
	t.Cleanup(FaultClear)
}

func TestLibrary(t *testing.T) {
	t.Logf("memwin %s (Go %s), %s", Version(), GoVersion(), loadedFrom())
}
