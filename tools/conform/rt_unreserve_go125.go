//go:build windows && go1.25

package main

import "unsafe"

const haveUnreserve = true

//go:linkname rtSysUnreserve runtime.sysUnreserve
func rtSysUnreserve(v unsafe.Pointer, n uintptr)

func goSysUnreserve(v unsafe.Pointer, n uintptr) { rtSysUnreserve(v, n) }
