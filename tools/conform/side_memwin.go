//go:build windows

package main

// The memwin side: memwin.dll loaded by absolute path, called through its
// exports (native.c).

/*
#include "native.h"
*/
import "C"

import (
	"fmt"
	"unicode/utf16"
)

type memwinSide struct{}

func (m *memwinSide) id() C.int           { return C.CF_SIDE_MEMWIN }
func (m *memwinSide) label() string       { return "memwin.dll " + C.GoString(C.cf_mw_version()) }
func (m *memwinSide) has(op *opInfo) bool { return C.cf_mw_has(C.int(op.code)) != 0 }
func (m *memwinSide) stat() uint64        { return uint64(C.cf_mw_stat_get()) }
func (m *memwinSide) setStat(v uint64)    { C.cf_mw_stat_set(C.uint64_t(v)) }

func (m *memwinSide) mappedReady() (uint64, bool) {
	return uint64(C.cf_mw_mapped_ready()), true
}

func (m *memwinSide) undoMappedReady(uint64) {}

func (m *memwinSide) takeFatal() (string, bool) {
	var buf [4096]C.char
	if C.cf_mw_fatal_take(&buf[0], C.size_t(len(buf))) == 0 {
		return "", false
	}
	return C.GoString(&buf[0]), true
}

func (m *memwinSide) call(op *opInfo, a, b, c uintptr) (uintptr, uintptr) {
	var r2 C.uintptr_t
	r := C.cf_mw_call(C.int(op.code), C.uintptr_t(a), C.uintptr_t(b), C.uintptr_t(c), &r2)
	return uintptr(r), uintptr(r2)
}

func loadMemwin(path string) (*memwinSide, error) {
	w := utf16.Encode([]rune(path + "\x00"))
	var buf [256]C.char
	if C.cf_mw_load((*C.uint16_t)(&w[0]), &buf[0], C.size_t(len(buf))) != 0 {
		return nil, fmt.Errorf("%s: %s", path, C.GoString(&buf[0]))
	}
	C.cf_mw_trace_install()
	return &memwinSide{}, nil
}

// goVersion: the Go whose behaviour memwin follows; it picks memwin's golden.
func (m *memwinSide) goVersion() string { return C.GoString(C.cf_mw_go_version()) }
