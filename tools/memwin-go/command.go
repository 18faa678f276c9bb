package main

import (
	"debug/pe"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	cmd       string
	swap      string
	arch      string // --arch: GOARCH, amd64 (default) or 386
	trace     string
	record    string   // --record: the trace file to write (.trace.gz)
	progEnv   []string // --env K=V: for the program only
	plotOut   string
	stats     string
	goCmd     string
	dll       string
	summary   bool
	timeout   time.Duration
	out       string   // -o
	compile   bool     // test -c: build the test binary only
	goFlags   []string // go build flags (without -o, -ldflags, -overlay)
	ldflags   string   // the user's -ldflags
	overlay   string   // the user's -overlay
	pkgs      []string // package or files
	args      []string // program arguments
	root      string   // repository root
	goVersion string   // e.g. go1.26.8
	goMinor   int
	goroot    string
	modcache  string // GOMODCACHE
	envGOROOT string // GOROOT for the go build, if it must differ (full swap)
}

// Go build flags that take a value (as separate argument or with =).
var valueFlags = map[string]bool{
	"-o": true, "-p": true, "-asmflags": true, "-buildmode": true, "-buildvcs": true,
	"-compiler": true, "-gccgoflags": true, "-gcflags": true, "-installsuffix": true,
	"-ldflags": true, "-mod": true, "-modfile": true, "-overlay": true, "-pgo": true,
	"-pkgdir": true, "-tags": true, "-toolexec": true, "-exec": true, "-coverpkg": true,
	"-covermode": true, "-C": true,
}

func parseArgs(cmd string, args []string) (*options, error) {
	o := &options{cmd: cmd, swap: "primitive", arch: "amd64", summary: true}
	o.goCmd = os.Getenv("GO")
	if o.goCmd == "" {
		o.goCmd = "go"
	}
	i := 0
	value := func(name string, a string) (string, error) {
		if k := strings.IndexByte(a, '='); k >= 0 {
			return a[k+1:], nil
		}
		i++
		if i >= len(args) {
			return "", fmt.Errorf("%s needs a value", name)
		}
		return args[i], nil
	}
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			o.args = append(o.args, args[i+1:]...)
			break
		}
		if len(o.pkgs) > 0 && cmd != "build" && !strings.HasSuffix(a, ".go") {
			// As go run: everything after the package is the program's
			// (for test: the test binary's).
			o.args = append(o.args, args[i:]...)
			break
		}
		name := a
		if k := strings.IndexByte(a, '='); k >= 0 {
			name = a[:k]
		}
		var err error
		switch name {
		case "--swap":
			o.swap, err = value(name, a)
		case "--arch":
			o.arch, err = value(name, a)
		case "--trace":
			o.trace, err = value(name, a)
		case "--record":
			o.record, err = value(name, a)
		case "--env":
			var kv string
			if kv, err = value(name, a); err == nil {
				if !strings.Contains(kv, "=") {
					err = fmt.Errorf("--env %s: want NAME=VALUE", kv)
				}
				o.progEnv = append(o.progEnv, kv)
			}
		case "--plot":
			o.plotOut, err = value(name, a)
		case "--stats":
			o.stats, err = value(name, a)
		case "--go":
			o.goCmd, err = value(name, a)
		case "--dll":
			o.dll, err = value(name, a)
		case "--no-summary":
			o.summary = false
		case "-c":
			if cmd != "test" {
				return nil, errors.New("-c is for test")
			}
			o.compile = true
		case "--timeout":
			var s string
			if s, err = value(name, a); err == nil {
				o.timeout, err = time.ParseDuration(s)
			}
		case "-o", "--o":
			o.out, err = value(name, a)
		case "-ldflags", "--ldflags":
			o.ldflags, err = value(name, a)
		case "-overlay", "--overlay":
			o.overlay, err = value(name, a)
		default:
			if strings.HasPrefix(a, "-") {
				flag := "-" + strings.TrimLeft(name, "-")
				if valueFlags[flag] && !strings.Contains(a, "=") {
					var v string
					if v, err = value(name, a); err == nil {
						o.goFlags = append(o.goFlags, a, v)
					}
				} else {
					o.goFlags = append(o.goFlags, a)
				}
			} else {
				o.pkgs = append(o.pkgs, a)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	switch o.swap {
	case "primitive", "full", "none", "none-ext", "realhook":
	default:
		return nil, fmt.Errorf("--swap=%s: want primitive, full, realhook, none or none-ext", o.swap)
	}
	if o.arch != "amd64" && o.arch != "386" {
		return nil, fmt.Errorf("--arch=%s: want amd64 or 386", o.arch)
	}
	if len(o.pkgs) == 0 {
		if cmd == "run" {
			return nil, errors.New("run: no package or files")
		}
		o.pkgs = []string{"."}
	}
	if o.record != "" && o.swap != "full" {
		return nil, errors.New("--record needs --swap=full (it records memwin's OS layer)")
	}
	if o.plotOut != "" && o.swap != "primitive" && o.swap != "full" {
		return nil, errors.New("--plot needs memwin (--swap=primitive or full)")
	}
	return o, nil
}

func runCommand(cmd string, args []string) int {
	o, err := parseArgs(cmd, args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "memwin-go:", err)
		usage()
	}
	o.root = os.Getenv("MEMWIN_ROOT")
	if o.root == "" {
		die("MEMWIN_ROOT is not set: run tools/memwin-go/memwin-go")
	}
	if err := o.goInfo(); err != nil {
		die("%v", err)
	}
	work, err := os.MkdirTemp(filepath.Join(o.root, "build", "memwin-go"), "run-")
	if err != nil {
		if err = os.MkdirAll(filepath.Join(o.root, "build", "memwin-go"), 0o755); err == nil {
			work, err = os.MkdirTemp(filepath.Join(o.root, "build", "memwin-go"), "run-")
		}
		if err != nil {
			die("%v", err)
		}
	}
	defer os.RemoveAll(work)
	exe := o.out
	if exe == "" {
		name := "prog"
		if cmd == "test" || cmd == "build" {
			name = exeName(o.pkgs[0], cmd == "test")
		}
		if cmd == "build" || o.compile {
			exe = name + ".exe"
		} else {
			exe = filepath.Join(work, name+".exe")
		}
	}
	exe, _ = filepath.Abs(exe)
	if err := o.build(work, exe); err != nil {
		fmt.Fprintln(os.Stderr, "memwin-go:", err)
		return 3
	}
	if cmd == "build" || o.compile {
		fmt.Fprintf(os.Stderr, "memwin-go: built %s (swap=%s, %s)\n", exe, o.swap, o.versionLabel())
		return 0
	}
	dir := ""
	if cmd == "test" {
		dir = o.pkgDir(o.pkgs[0])
	}
	return o.run(work, exe, dir)
}

func exeName(pkg string, test bool) string {
	base := filepath.Base(strings.TrimSuffix(pkg, "/..."))
	if base == "." || base == "/" || base == "" {
		wd, _ := os.Getwd()
		base = filepath.Base(wd)
	}
	if test {
		return base + ".test"
	}
	return base
}

// goInfo asks the go command for its version, GOROOT and GOMODCACHE.
func (o *options) goInfo() error {
	out, err := exec.Command(o.goCmd, "env", "GOVERSION", "GOROOT", "GOMODCACHE").Output()
	if err != nil {
		return fmt.Errorf("%s env: %v", o.goCmd, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 3 {
		return fmt.Errorf("%s env: unexpected output %q", o.goCmd, out)
	}
	o.goVersion, o.goroot = strings.TrimSpace(lines[0]), strings.TrimSpace(lines[1])
	o.modcache = strings.TrimSpace(lines[2])
	m := regexp.MustCompile(`^go1\.(\d+)`).FindStringSubmatch(o.goVersion)
	if m == nil {
		return fmt.Errorf("cannot read the Go version from %q", o.goVersion)
	}
	o.goMinor, _ = strconv.Atoi(m[1])
	return nil
}

// versionLabel is the Go version for messages, with the port when it is
// not the default windows/amd64 ("go1.26.8 windows/386").
func (o *options) versionLabel() string {
	if o.arch != "amd64" {
		return o.goVersion + " windows/" + o.arch
	}
	return o.goVersion
}

// within reports whether path is dir or lies beneath it.
func within(path, dir string) bool {
	if dir == "" {
		return false
	}
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// overlayGOROOT returns the GOROOT by which the full swap's overlay names
// runtime/mem_windows.go.  That is the toolchain's GOROOT, unless it lies
// beneath GOMODCACHE -- every toolchain the go command fetches itself
// (GOTOOLCHAIN=go1.NN.M) lives there -- where Go >= 1.25 refuses to replace
// files: then a symbolic link to it under build/memwin-go/goroot, which the
// go build is given as GOROOT (o.envGOROOT).
func (o *options) overlayGOROOT() (string, error) {
	if !within(o.goroot, o.modcache) {
		return o.goroot, nil
	}
	dir := filepath.Join(o.root, "build", "memwin-go", "goroot")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// Links to toolchains that are gone (tests' temporary ones) go too.
	if old, err := os.ReadDir(dir); err == nil {
		for _, e := range old {
			if p := filepath.Join(dir, e.Name()); e.Type()&os.ModeSymlink != 0 {
				if _, err := os.Stat(p); os.IsNotExist(err) {
					os.Remove(p)
				}
			}
		}
	}
	sum := uint32(2166136261) // FNV-1a of the path: one link per toolchain
	for i := 0; i < len(o.goroot); i++ {
		sum = (sum ^ uint32(o.goroot[i])) * 16777619
	}
	link := filepath.Join(dir, fmt.Sprintf("%s-%08x", o.goVersion, sum))
	if to, err := os.Readlink(link); err != nil || to != o.goroot {
		tmp := fmt.Sprintf("%s.tmp%d", link, os.Getpid())
		os.Remove(tmp)
		if err := os.Symlink(o.goroot, tmp); err != nil {
			return "", err
		}
		if err := os.Rename(tmp, link); err != nil { // atomic: concurrent builds
			os.Remove(tmp)
			return "", err
		}
	}
	o.envGOROOT = link
	return link, nil
}

// overlayDir picks the replacement of runtime/mem_windows.go for the
// toolchain (tools/memwin-go/overlay/<dir>/mem_windows.go).
func (o *options) overlayDir() (string, error) {
	switch {
	case o.goMinor >= 19 && o.goMinor <= 24:
		return "go1.19", nil
	case o.goMinor == 25:
		return "go1.25", nil
	case o.goMinor == 26 || o.goMinor == 27:
		return "go1.26", nil
	}
	return "", fmt.Errorf("--swap=full supports Go 1.19 to 1.27, not %s", o.goVersion)
}

// mingwCC is the mingw-w64 C compiler for o.arch.
func (o *options) mingwCC() string {
	if o.arch == "386" {
		return "i686-w64-mingw32-gcc"
	}
	return "x86_64-w64-mingw32-gcc"
}

// userCC reports whether $CC is a mingw-w64 compiler for o.arch (a cgo
// build keeps it; any other is replaced by mingwCC).
func (o *options) userCC() bool {
	f := strings.Fields(os.Getenv("CC"))
	if len(f) == 0 {
		return false
	}
	cc := filepath.Base(f[0])
	return strings.Contains(cc, "mingw") && strings.HasPrefix(cc, strings.SplitN(o.mingwCC(), "-", 2)[0]+"-")
}

func (o *options) env(cgo bool) []string {
	env := append([]string(nil), os.Environ()...)
	set := func(k, v string) { env = append(env, k+"="+v) }
	set("GOOS", "windows")
	set("GOARCH", o.arch)
	set("GOTOOLCHAIN", "local")
	if o.envGOROOT != "" {
		set("GOROOT", o.envGOROOT)
	}
	if cgo {
		set("CGO_ENABLED", "1")
		if !o.userCC() {
			set("CC", o.mingwCC())
		}
	} else if os.Getenv("CGO_ENABLED") == "" {
		set("CGO_ENABLED", "0")
	}
	return env
}

func (o *options) build(work, exe string) error {
	var ld []string
	if o.ldflags != "" {
		ld = append(ld, o.ldflags)
	}
	overlay := o.overlay
	cgo := false
	switch o.swap {
	case "primitive", "realhook":
		src := filepath.Join(o.root, "go_bindings", "swap", "swap_windows.c")
		defs := []string{"-DMEMWIN_SWAP_OBJECT", "-I" + filepath.Join(o.root, "include")}
		if o.swap == "realhook" {
			src = filepath.Join(o.root, "tools", "memwin-go", "csrc", "realhook.c")
			defs = nil
		}
		obj := filepath.Join(work, o.swap+".o")
		cc := append([]string{"-c", "-O2", "-o", obj}, defs...)
		cc = append(cc, src)
		if out, err := exec.Command(o.mingwCC(), cc...).CombinedOutput(); err != nil {
			return fmt.Errorf("compiling %s: %v\n%s", src, err, out)
		}
		ld = append(ld, "-linkmode=external", "'-extldflags=-static "+obj+"'")
		cgo = true
	case "none-ext":
		// The primitive swap's link mode without the swap: its baseline.
		ld = append(ld, "-linkmode=external", "-extldflags=-static")
		cgo = true
	case "full":
		dir, err := o.overlayDir()
		if err != nil {
			return err
		}
		goroot, err := o.overlayGOROOT()
		if err != nil {
			return err
		}
		repl := map[string]string{
			filepath.Join(goroot, "src", "runtime", "mem_windows.go"): filepath.Join(o.root, "tools", "memwin-go", "overlay", dir, "mem_windows.go"),
		}
		if overlay != "" {
			var user struct{ Replace map[string]string }
			b, err := os.ReadFile(overlay)
			if err == nil {
				err = json.Unmarshal(b, &user)
			}
			if err != nil {
				return fmt.Errorf("-overlay %s: %v", overlay, err)
			}
			for k, v := range user.Replace {
				if _, ok := repl[k]; !ok {
					repl[k] = v
				}
			}
		}
		b, _ := json.Marshal(struct{ Replace map[string]string }{repl})
		overlay = filepath.Join(work, "overlay.json")
		if err := os.WriteFile(overlay, b, 0o644); err != nil {
			return err
		}
	}
	var args []string
	if o.cmd == "test" {
		args = []string{"test", "-c"}
	} else {
		args = []string{"build"}
	}
	args = append(args, "-o", exe)
	if len(ld) > 0 {
		args = append(args, "-ldflags="+strings.Join(ld, " "))
	}
	if overlay != "" {
		args = append(args, "-overlay="+overlay)
	}
	args = append(args, o.goFlags...)
	args = append(args, o.pkgs...)
	c := exec.Command(o.goCmd, args...)
	c.Env = o.env(cgo)
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("%s %s: %v", o.goCmd, strings.Join(args, " "), err)
	}
	if o.swap == "primitive" || o.swap == "full" {
		dll, err := o.memwinDLL()
		if err != nil {
			return err
		}
		if err := copyFile(dll, filepath.Join(filepath.Dir(exe), "memwin.dll")); err != nil {
			return err
		}
	}
	return nil
}

// memwinDLL returns --dll, or builds memwin.dll with CMake (incrementally)
// for o.arch: in build/memwin-go/dll (amd64) or build/memwin-go/dll-386
// (i686).  $MEMWIN_GO_DLL (amd64) or $MEMWIN_GO_DLL_386 names a prebuilt
// one instead.
func (o *options) memwinDLL() (string, error) {
	dll, err := o.memwinDLLPath()
	if err == nil {
		err = checkDLLArch(dll, o.arch)
	}
	return dll, err
}

func (o *options) memwinDLLPath() (string, error) {
	if o.dll != "" {
		return filepath.Abs(o.dll)
	}
	envName, dir, toolchain := "MEMWIN_GO_DLL", "dll", "toolchain-mingw-w64.cmake"
	if o.arch == "386" {
		envName, dir, toolchain = "MEMWIN_GO_DLL_386", "dll-386", "toolchain-mingw-w64-i686.cmake"
	}
	if d := os.Getenv(envName); d != "" {
		return filepath.Abs(d)
	}
	bdir := filepath.Join(o.root, "build", "memwin-go", dir)
	if _, err := os.Stat(filepath.Join(bdir, "build.ninja")); err != nil {
		c := exec.Command("cmake", "-S", o.root, "-B", bdir, "-G", "Ninja",
			"-DCMAKE_TOOLCHAIN_FILE="+filepath.Join(o.root, "cmake", toolchain),
			"-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DMEMWIN_BUILD_TESTS=OFF")
		if out, err := c.CombinedOutput(); err != nil {
			return "", fmt.Errorf("configuring memwin.dll: %v\n%s", err, out)
		}
	}
	c := exec.Command("cmake", "--build", bdir, "--target", "memwin")
	if out, err := c.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building memwin.dll: %v\n%s", err, out)
	}
	return filepath.Join(bdir, "memwin.dll"), nil
}

// checkDLLArch refuses a DLL built for the other architecture (Windows
// would refuse to load it, with error 193, only when the program starts).
// A file that is not a PE image is left to the loader.
func checkDLLArch(path, arch string) error {
	f, err := pe.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	want := map[string]uint16{"amd64": pe.IMAGE_FILE_MACHINE_AMD64, "386": pe.IMAGE_FILE_MACHINE_I386}[arch]
	if f.Machine != want {
		return fmt.Errorf("%s is not a windows/%s DLL (machine %#x, want %#x)", path, arch, f.Machine, want)
	}
	return nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// pkgDir is the source directory of a package (go test runs binaries there).
func (o *options) pkgDir(pkg string) string {
	c := exec.Command(o.goCmd, "list", "-f", "{{.Dir}}", pkg)
	c.Env = o.env(false)
	out, err := c.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.Split(string(out), "\n")[0])
}

// winPath turns an absolute Unix path into Wine's Z: drive path.
func winPath(p string) string {
	if strings.HasPrefix(p, "/") {
		return `Z:` + strings.ReplaceAll(p, "/", `\`)
	}
	return p
}

func (o *options) run(work, exe, dir string) int {
	wine := filepath.Join(o.root, "tools", "wine", "run.sh")
	memwin := o.swap == "primitive" || o.swap == "full"
	stats := o.stats
	if stats == "" {
		stats = filepath.Join(work, "stats.txt")
	}
	stats, _ = filepath.Abs(stats)
	trace := o.trace
	if trace == "" && o.plotOut != "" {
		trace = filepath.Join(work, "trace.txt")
	}
	if trace != "" {
		trace, _ = filepath.Abs(trace)
		os.Remove(trace)
	}
	os.Remove(stats)
	c := exec.Command(wine, append([]string{exe}, o.args...)...)
	c.Dir = dir
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	c.Env = os.Environ()
	c.Env = append(c.Env, o.progEnv...)
	var rec *recording
	if o.record != "" {
		var err error
		if rec, err = o.startRecording(work, exe); err != nil {
			die("%v", err)
		}
		c.Env = append(c.Env, rec.env...)
	}
	if memwin {
		c.Env = append(c.Env, "MEMWIN_STATS="+winPath(stats))
		if trace != "" {
			c.Env = append(c.Env, "MEMWIN_TRACE="+winPath(trace))
		}
	}
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := c.Start(); err != nil {
		die("%v", err)
	}
	var timer *time.Timer
	timedOut := false
	if o.timeout > 0 {
		timer = time.AfterFunc(o.timeout, func() {
			timedOut = true
			syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		})
	}
	err := c.Wait()
	if timer != nil {
		timer.Stop()
	}
	wall := time.Since(start)
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
			if code < 0 {
				code = 128
			}
		} else {
			die("%v", err)
		}
	}
	if timedOut {
		fmt.Fprintf(os.Stderr, "memwin-go: killed after %v\n", o.timeout)
		code = 124
	}
	if o.summary {
		head := fmt.Sprintf("swap=%s, %s, exit status %d, %.2f s under Wine", o.swap, o.versionLabel(), code, wall.Seconds())
		if !memwin {
			fmt.Fprintf(os.Stderr, "memwin-go: %s (no memwin, no counters)\n", head)
		} else if st, err := readStats(stats); err != nil {
			fmt.Fprintf(os.Stderr, "memwin-go: %s; no counters: %v\n", head, err)
		} else {
			printSummary(os.Stderr, st, head)
		}
	}
	if rec != nil {
		if err := rec.finish(o, code); err != nil {
			fmt.Fprintln(os.Stderr, "memwin-go: record:", err)
			code = 3
		}
	}
	if o.plotOut != "" {
		if err := plot(trace, o.plotOut); err != nil {
			fmt.Fprintln(os.Stderr, "memwin-go: plot:", err)
		} else {
			fmt.Fprintln(os.Stderr, "memwin-go: plot written to", o.plotOut)
		}
	}
	return code
}
