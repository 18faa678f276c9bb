//go:build !cgo && windows

package memwin

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	// The DLL found without Load: MEMWIN_DLL, else beside the executable.
	helpers["loadImplicitly"] = func() {
		if Version() == "" {
			os.Exit(4)
		}
		fmt.Fprintln(os.Stderr, loadedFrom())
	}
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

// unixForm is path (Z:\a\b under Wine) as a Unix path (/a/b); "" when path
// is not on Wine's Z: drive.
func unixForm(path string) string {
	if len(path) < 3 || !strings.EqualFold(path[:3], `Z:\`) {
		return ""
	}
	return "/" + strings.ReplaceAll(path[3:], `\`, "/")
}

// A Unix absolute path, as a Wine user has at hand, loads the DLL through
// Z:, by Load and by MEMWIN_DLL; a failure names every path tried.
func TestLoadUnixPath(t *testing.T) {
	d, err := lib()
	if err != nil {
		t.Fatal(err)
	}
	unix := unixForm(d.path)
	if unix == "" {
		t.Skipf("%s is not on Wine's Z: drive", d.path)
	}
	code, stderr := runHelperEnv(t, "loadExplicitly", append(envWithout("MEMWIN_DLL"), "MEMWIN_TEST_DLL="+unix))
	if code != 0 {
		t.Errorf("Load(%q): status %d, stderr %q", unix, code, stderr)
	}
	code, stderr = runHelperEnv(t, "loadImplicitly", append(envWithout("MEMWIN_DLL"), "MEMWIN_DLL="+unix))
	if code != 0 || !strings.Contains(strings.ToLower(stderr), strings.ToLower("memwin.dll at "+d.path)) {
		t.Errorf("MEMWIN_DLL=%s: status %d, stderr %q", unix, code, stderr)
	}
	missing := "/no-such-dir/memwin.dll"
	code, stderr = runHelperEnv(t, "regionWithoutDLL", append(envWithout("MEMWIN_DLL"), "MEMWIN_DLL="+missing))
	if code != 0 || !strings.Contains(stderr, `Z:\no-such-dir\memwin.dll`) || !strings.Contains(stderr, "every path tried") {
		t.Errorf("MEMWIN_DLL=%s: status %d, stderr %q", missing, code, stderr)
	}
}

// copyFile copies src to dst.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// runExe runs helper name in the test program at exe, without MEMWIN_DLL.
func runExe(t *testing.T, exe, name string) (int, string) {
	t.Helper()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(envWithout("MEMWIN_DLL"), "MEMWIN_TEST_HELPER="+name)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	code := 0
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("%s: %v", exe, err)
		}
		code = ee.ExitCode()
	}
	return code, strings.ReplaceAll(stderr.String(), "\r\n", "\n")
}

// Without MEMWIN_DLL the DLL in the executable's own directory is loaded
// by its absolute path; without one there, the error names that path.
func TestLoadBesideExecutable(t *testing.T) {
	d, err := lib()
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: under Wine the finished child's image can stay locked
	// for a moment, and a failed removal would fail the test.
	dir, err := os.MkdirTemp("", "memwin-beside")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for i := 0; i < 20 && os.RemoveAll(dir) != nil; i++ {
			time.Sleep(50 * time.Millisecond)
		}
	}()
	exe := filepath.Join(dir, "memwin-test.exe")
	copyFile(t, self, exe)
	beside := filepath.Join(dir, "memwin.dll")
	code, stderr := runExe(t, exe, "regionWithoutDLL")
	if code != 0 || !strings.Contains(stderr, "memwin.dll is not loaded") || !strings.Contains(stderr, beside) {
		t.Errorf("no DLL beside the executable: status %d, stderr %q", code, stderr)
	}
	copyFile(t, d.path, beside)
	code, stderr = runExe(t, exe, "loadImplicitly")
	if code != 0 || !strings.Contains(stderr, "memwin.dll at "+beside) {
		t.Errorf("DLL beside the executable: status %d, stderr %q", code, stderr)
	}
}
