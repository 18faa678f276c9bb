//go:build !cgo && windows

package memwin

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func init() {
	// Region calls report a missing DLL as an error...
	helpers["regionWithoutDLL"] = func() {
		_, err := Reserve(mib)
		fmt.Fprintln(os.Stderr, err)
		if err == nil {
			os.Exit(3)
		}
	}
	// ... raw calls panic, as the runtime throws when it cannot reach the OS.
	helpers["rawWithoutDLL"] = func() { SysAllocOS(PageSize) }
	helpers["loadExplicitly"] = func() {
		if err := Load(os.Getenv("MEMWIN_TEST_DLL")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		if Version() == "" {
			os.Exit(4)
		}
	}
}

// envWithout returns the environment minus the variables named.
func envWithout(names ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, n := range names {
			if strings.HasPrefix(strings.ToUpper(kv), strings.ToUpper(n)+"=") {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}

func TestLoadRules(t *testing.T) {
	d, err := lib()
	if err != nil {
		t.Fatalf("no DLL: %v (set MEMWIN_DLL)", err)
	}
	if err := Load("memwin.dll"); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Errorf("Load(bare name) = %v, want an absolute-path error", err)
	}
	if err := Load(d.path); err != nil {
		t.Errorf("Load(the loaded path) = %v, want nil", err)
	}
	other := filepath.Join(filepath.Dir(d.path), "other.dll")
	if err := Load(other); err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("Load(another DLL) = %v, want already in use", err)
	}
}

func TestWithoutDLL(t *testing.T) {
	d, err := lib()
	if err != nil {
		t.Fatal(err)
	}
	code, stderr := runHelperEnv(t, "regionWithoutDLL", envWithout("MEMWIN_DLL"))
	if code != 0 || !strings.Contains(stderr, "memwin.dll is not loaded") || !strings.Contains(stderr, "Reserve") {
		t.Errorf("regionWithoutDLL: status %d, stderr %q", code, stderr)
	}
	code, stderr = runHelperEnv(t, "rawWithoutDLL", envWithout("MEMWIN_DLL"))
	if code != 2 || !strings.Contains(stderr, "panic: memwin: memwin.dll is not loaded") {
		t.Errorf("rawWithoutDLL: status %d, stderr %q", code, stderr)
	}
	code, stderr = runHelperEnv(t, "regionWithoutDLL", append(envWithout("MEMWIN_DLL"), "MEMWIN_DLL=memwin.dll"))
	if code != 0 || !strings.Contains(stderr, "must be absolute") {
		t.Errorf("relative MEMWIN_DLL: status %d, stderr %q", code, stderr)
	}
	missing := filepath.Join(filepath.Dir(d.path), "no-such-memwin.dll")
	code, stderr = runHelperEnv(t, "regionWithoutDLL", append(envWithout("MEMWIN_DLL"), "MEMWIN_DLL="+missing))
	if code != 0 || !strings.Contains(stderr, "LoadLibraryExW") {
		t.Errorf("missing MEMWIN_DLL: status %d, stderr %q", code, stderr)
	}
	code, stderr = runHelperEnv(t, "loadExplicitly", append(envWithout("MEMWIN_DLL"), "MEMWIN_TEST_DLL="+d.path))
	if code != 0 {
		t.Errorf("Load without MEMWIN_DLL: status %d, stderr %q", code, stderr)
	}
}
