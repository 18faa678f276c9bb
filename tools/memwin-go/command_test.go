package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// These tests build progs/churn for windows/amd64 with the full swap
// (memwin-go build, no Wine); matrix.sh runs the builds under Wine.

// memwinGoBuild runs `memwin-go build --swap=full` on progs/churn with the
// given go command and extra environment, and returns its combined output.
func memwinGoBuild(t *testing.T, gobin string, env []string, extra ...string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	dll := filepath.Join(dir, "stand-in.dll") // build only: never loaded
	if err := os.WriteFile(dll, []byte("MZ"), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "churn.exe")
	args := append([]string{"build", "--swap=full", "--go=" + gobin, "--dll=" + dll, "-o", exe}, extra...)
	c := exec.Command("../memwin-go", append(args, "./churn")...)
	c.Dir = "progs"
	c.Env = append(append(os.Environ(), "GOTOOLCHAIN=local", "GOWORK=off", "GOFLAGS="), env...)
	out, err := c.CombinedOutput()
	if err == nil {
		if _, serr := os.Stat(exe); serr != nil {
			return string(out), serr
		}
	}
	return string(out), err
}

func goMinorOf(t *testing.T, gobin string) int {
	t.Helper()
	out, err := exec.Command(gobin, "env", "GOVERSION").Output()
	if err != nil {
		t.Skipf("%s env GOVERSION: %v", gobin, err)
	}
	m := regexp.MustCompile(`^go1\.(\d+)`).FindStringSubmatch(strings.TrimSpace(string(out)))
	if m == nil {
		t.Skipf("cannot read the version of %s from %q", gobin, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// The overlay of every release line compiles against that line's runtime
// (Go 1.27 changed the signature of runtime.decoderune, which the go1.26
// family called).
func TestFullSwapBuildsOnEveryToolchain(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the runtime once per Go release line")
	}
	out, err := exec.Command("../go-toolchains.sh").Output()
	if err != nil {
		t.Skipf("tools/go-toolchains.sh: %v", err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	n := 0
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 3 || f[1] == "" {
			continue
		}
		label, gobin, version := f[0], f[1], f[2]
		n++
		t.Run(label, func(t *testing.T) {
			if o, err := memwinGoBuild(t, gobin, nil); err != nil {
				t.Errorf("%s: memwin-go build --swap=full: %v\n%s", version, err, o)
			}
		})
	}
	if n == 0 {
		t.Skip("no toolchain obtained")
	}
}

// The overlay compiles for windows/386 too (Go 1.19's and the machine's
// Go), and the program is a 386 image.
func TestFullSwapBuilds386(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the runtime for windows/386")
	}
	gobins := []string{"/usr/lib/go-1.19/bin/go"}
	if g, err := exec.LookPath("go"); err == nil {
		gobins = append(gobins, g)
	}
	for _, gobin := range gobins {
		if _, err := os.Stat(gobin); err != nil {
			t.Logf("no %s", gobin)
			continue
		}
		out, err := memwinGoBuild(t, gobin, nil, "--arch=386")
		if err != nil {
			t.Errorf("%s: memwin-go build --swap=full --arch=386: %v\n%s", gobin, err, out)
		} else if !strings.Contains(out, "windows/386") {
			t.Errorf("%s: memwin-go build --arch=386 says %q", gobin, out)
		}
	}
}

// A toolchain whose GOROOT lies beneath GOMODCACHE, as every toolchain the
// go command fetches itself (GOTOOLCHAIN=go1.NN.M) does: Go >= 1.25 refuses
// an overlay that replaces a file there, so memwin-go must name the runtime's
// file by a path outside GOMODCACHE.
func TestFullSwapGOROOTInModCache(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go on PATH")
	}
	if goMinorOf(t, gobin) < 25 {
		t.Skip("the go on PATH is older than Go 1.25, which accepts such overlays")
	}
	out, err := exec.Command(gobin, "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	goroot := strings.TrimSpace(string(out))
	modcache := t.TempDir()
	inCache := filepath.Join(modcache, "golang.org", "toolchain@v0.0.1-test")
	if err := os.MkdirAll(filepath.Dir(inCache), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(goroot, inCache); err != nil {
		t.Fatal(err)
	}
	env := []string{"GOMODCACHE=" + modcache, "GOROOT=" + inCache}
	// The go command itself sees its GOROOT beneath GOMODCACHE.
	c := exec.Command(filepath.Join(inCache, "bin", "go"), "env", "GOROOT")
	c.Env = append(os.Environ(), env...)
	if o, err := c.Output(); err != nil || strings.TrimSpace(string(o)) != inCache {
		t.Fatalf("go env GOROOT = %q, %v; want %s", o, err, inCache)
	}
	if o, err := memwinGoBuild(t, filepath.Join(inCache, "bin", "go"), env); err != nil {
		t.Fatalf("memwin-go build --swap=full: %v\n%s", err, o)
	}
}

// lastEnv is the value exec gives NAME in env (the last setting wins).
func lastEnv(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if strings.HasPrefix(kv, name+"=") {
			v = kv[len(name)+1:]
		}
	}
	return v
}

// --arch picks GOARCH and the mingw-w64 compiler of cgo builds; a CC for
// the other architecture is replaced, one for the same is kept.
func TestArchFlag(t *testing.T) {
	for _, c := range []struct {
		args           []string
		cc, arch, want string
	}{
		{[]string{"./p"}, "", "amd64", "x86_64-w64-mingw32-gcc"},
		{[]string{"--arch=386", "./p"}, "", "386", "i686-w64-mingw32-gcc"},
		{[]string{"--arch", "386", "./p"}, "x86_64-w64-mingw32-gcc", "386", "i686-w64-mingw32-gcc"},
		{[]string{"--arch=386", "./p"}, "i686-w64-mingw32-gcc-posix", "386", "i686-w64-mingw32-gcc-posix"},
		{[]string{"--arch=amd64", "./p"}, "i686-w64-mingw32-gcc", "amd64", "x86_64-w64-mingw32-gcc"},
		{[]string{"./p"}, "/usr/bin/x86_64-w64-mingw32-gcc-posix", "amd64", "/usr/bin/x86_64-w64-mingw32-gcc-posix"},
	} {
		t.Setenv("CC", c.cc)
		o, err := parseArgs("run", c.args)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		env := o.env(true)
		if o.arch != c.arch || lastEnv(env, "GOARCH") != c.arch || lastEnv(env, "GOOS") != "windows" {
			t.Errorf("%v: arch %s, GOARCH=%s; want %s", c.args, o.arch, lastEnv(env, "GOARCH"), c.arch)
		}
		if cc := lastEnv(env, "CC"); cc != c.want || o.mingwCC() == "" {
			t.Errorf("%v with CC=%q: CC=%q, want %q", c.args, c.cc, cc, c.want)
		}
	}
	if _, err := parseArgs("run", []string{"--arch=arm64", "./p"}); err == nil {
		t.Error("--arch=arm64 accepted")
	}
}

// A memwin.dll of the other architecture is refused before Windows would
// refuse it (error 193) at the program's start; a file that is no PE image
// is left to the loader.
func TestCheckDLLArch(t *testing.T) {
	dir := t.TempDir()
	stub := filepath.Join(dir, "stub.dll")
	if err := os.WriteFile(stub, []byte("MZ"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkDLLArch(stub, "386"); err != nil {
		t.Errorf("not a PE image: %v", err)
	}
	for _, c := range []struct{ cc, arch, other string }{
		{"x86_64-w64-mingw32-gcc", "amd64", "386"},
		{"i686-w64-mingw32-gcc", "386", "amd64"},
	} {
		if _, err := exec.LookPath(c.cc); err != nil {
			t.Logf("no %s: %s not checked", c.cc, c.arch)
			continue
		}
		src, dll := filepath.Join(dir, "x.c"), filepath.Join(dir, c.arch+".dll")
		if err := os.WriteFile(src, []byte("int x;\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(c.cc, "-shared", "-o", dll, src).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", c.cc, err, out)
		}
		if err := checkDLLArch(dll, c.arch); err != nil {
			t.Errorf("%s DLL as %s: %v", c.arch, c.arch, err)
		}
		if err := checkDLLArch(dll, c.other); err == nil || !strings.Contains(err.Error(), "is not a windows/"+c.other+" DLL") {
			t.Errorf("%s DLL as %s: %v", c.arch, c.other, err)
		}
	}
}
