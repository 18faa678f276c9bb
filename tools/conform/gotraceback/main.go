//go:build windows

// Command gotraceback measures how the Go runtime it is built with ends a
// runtime throw on Windows under each GOTRACEBACK setting (and after
// debug.SetTraceback("crash")): it re-executes itself once per setting and
// prints the child's exit code.  The figures in README.md ("Fatal errors")
// come from it:
//
//	cd tools/conform
//	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 /usr/lib/go-1.19/bin/go build -o /tmp/gt119.exe ./gotraceback
//	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build -ldflags=-checklinkname=0 -o /tmp/gt126.exe ./gotraceback
//	../wine/run.sh /tmp/gt119.exe; ../wine/run.sh /tmp/gt126.exe
//
// gotraceback/matrix.sh does this for every Go line of tools/go-toolchains.sh
// on windows/amd64 and windows/386 and prints one table.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	_ "unsafe"
)

//go:linkname throw runtime.throw
func throw(s string)

func main() {
	if len(os.Args) > 1 {
		if os.Args[1] == "settraceback" {
			debug.SetTraceback("crash")
		}
		throw("gotraceback test")
	}
	run := func(label, mode string, env []string) {
		cmd := exec.Command(os.Args[0], mode)
		for _, e := range os.Environ() { // without any GOTRACEBACK of ours
			if !strings.HasPrefix(strings.ToUpper(e), "GOTRACEBACK=") {
				cmd.Env = append(cmd.Env, e)
			}
		}
		cmd.Env = append(cmd.Env, env...)
		cmd.Run()
		code := cmd.ProcessState.ExitCode()
		fmt.Printf("%-26s exit %d (%#x)\n", label, uint32(code), uint32(code))
	}
	run("GOTRACEBACK unset", "throw", nil)
	for _, v := range []string{"", "none", "0", "single", "1", "all", "2", "system", "crash", "wer", "CRASH", "bogus"} {
		run(fmt.Sprintf("GOTRACEBACK=%q", v), "throw", []string{"GOTRACEBACK=" + v})
	}
	run("debug.SetTraceback(crash)", "settraceback", nil)
}
