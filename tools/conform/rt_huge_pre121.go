//go:build windows && !go1.21

package main

import "unsafe"

// sysNoHugePage(OS) and sysHugePageCollapse(OS) do not exist before Go 1.21.
const haveNoHugePage = false

func goSysNoHugePageOS(v unsafe.Pointer, n uintptr)       { panic("absent") }
func goSysHugePageCollapseOS(v unsafe.Pointer, n uintptr) { panic("absent") }
func goSysNoHugePage(v unsafe.Pointer, n uintptr)         { panic("absent") }
func goSysHugePageCollapse(v unsafe.Pointer, n uintptr)   { panic("absent") }
