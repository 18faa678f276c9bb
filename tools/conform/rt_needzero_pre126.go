//go:build windows && !go1.26

package main

// needZeroAfterSysUnused(OS) does not exist before Go 1.26.
const haveNeedZero = false

func goNeedZeroAfterSysUnusedOS() bool { panic("absent") }
func goNeedZeroAfterSysUnused() bool   { panic("absent") }
