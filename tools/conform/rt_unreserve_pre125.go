//go:build windows && !go1.25

package main

import "unsafe"

// sysUnreserve does not exist before Go 1.25.
const haveUnreserve = false

func goSysUnreserve(v unsafe.Pointer, n uintptr) { panic("absent") }
