package main

// memwin-go record / run --record: the program's calls to memwin's OS
// layer, recorded by memwin-record.dll (csrc/record.c) placed in front of
// memwin.dll, and written as a trace (tests/traces/FORMAT.md).

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"memwin.local/conform/trace"
)

type recording struct {
	raw string   // the recorder's file
	env []string // for the program
}

// recorderDLL builds memwin-record.dll into dir (mingw-w64).
func (o *options) recorderDLL(dir string) (string, error) {
	src := filepath.Join(o.root, "tools", "memwin-go", "csrc", "record.c")
	dll := filepath.Join(dir, "memwin-record.dll")
	out, err := exec.Command(o.mingwCC(), "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror",
		"-shared", "-o", dll, src).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building %s: %v\n%s", src, err, out)
	}
	return dll, nil
}

func (o *options) startRecording(work, exe string) (*recording, error) {
	dll, err := o.recorderDLL(work)
	if err != nil {
		return nil, err
	}
	raw := filepath.Join(work, "record.raw")
	next := filepath.Join(filepath.Dir(exe), "memwin.dll")
	return &recording{raw: raw, env: []string{
		"MEMWIN_DLL=" + winPath(dll),
		"MEMWIN_RECORD_NEXT=" + winPath(next),
		"MEMWIN_RECORD=" + winPath(raw),
	}}, nil
}

// finish converts the recorder's file into the trace o.record.
func (r *recording) finish(o *options, code int) error {
	f, err := os.Open(r.raw)
	if err != nil {
		return err
	}
	defer f.Close()
	calls, err := trace.ReadRaw(f)
	if err != nil {
		return err
	}
	prog := strings.Join(append(append([]string{o.cmd}, o.pkgs...), o.args...), " ")
	meta := [][2]string{{"go", o.goVersion}, {"goarch", o.arch}, {"program", prog},
		{"exit", fmt.Sprint(code)}}
	t := trace.Convert(calls, meta)
	if err := trace.WritePath(o.record, t); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "memwin-go: recorded %d calls to %s\n", len(t.Steps), o.record)
	return nil
}
