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
func memwinGoBuild(t *testing.T, gobin string, env []string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	dll := filepath.Join(dir, "stand-in.dll") // build only: never loaded
	if err := os.WriteFile(dll, []byte("MZ"), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "churn.exe")
	c := exec.Command("../memwin-go", "build", "--swap=full", "--go="+gobin, "--dll="+dll, "-o", exe, "./churn")
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
