//go:build windows && go1.26

package main

import _ "unsafe"

const haveNeedZero = true

//go:linkname rtNeedZeroAfterSysUnusedOS runtime.needZeroAfterSysUnusedOS
func rtNeedZeroAfterSysUnusedOS() bool

//go:linkname rtNeedZeroAfterSysUnused runtime.needZeroAfterSysUnused
func rtNeedZeroAfterSysUnused() bool

func goNeedZeroAfterSysUnusedOS() bool { return rtNeedZeroAfterSysUnusedOS() }
func goNeedZeroAfterSysUnused() bool   { return rtNeedZeroAfterSysUnused() }
