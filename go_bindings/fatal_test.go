package memwin

import (
	"os"
	"testing"
)

// The raw layer dies as Go dies: status 2 and Go's text, whatever SetExact
// says.  Each case runs in a child process (see runHelper).

func init() {
	helpers["usedOOM"] = func() {
		v := SysReserve(nil, mib)
		FaultSet(FaultCommit, 1, 0, ErrorCommitmentLimit)
		SysUsed(v, mib, mib)
	}
	helpers["usedOSNotEnoughMemory"] = func() {
		v := SysReserveOS(nil, 64*kib)
		FaultSet(FaultCommit, 1, 0, ErrorNotEnoughMemory)
		SysUsedOS(v, 64*kib)
	}
	helpers["usedOSFail"] = func() {
		v := SysReserveOS(nil, 64*kib)
		FaultSet(FaultCommit, 1, 0, ErrorInvalidParameter)
		SysUsedOS(v, 64*kib)
	}
	helpers["usedOSUnreserved"] = func() {
		v := SysReserveOS(nil, 64*kib)
		SysFreeOS(v, 64*kib)
		SysUsedOS(v, 100)
	}
	helpers["unusedFail"] = func() {
		v := SysAllocOS(64 * kib)
		FaultSet(FaultDecommit, 1, 0, ErrorInvalidParameter)
		SysUnused(v, 64*kib)
	}
	helpers["faultFail"] = func() {
		v := SysAllocOS(64 * kib)
		FaultSet(FaultDecommit, 1, 0, ErrorInvalidAddress)
		SysFault(v, 64*kib)
	}
	helpers["freeOSTwice"] = func() {
		v := SysReserveOS(nil, 64*kib)
		SysFreeOS(v, 64*kib)
		SysFreeOS(v, 4096)
	}
	helpers["unreserveFail"] = func() {
		v := SysReserve(nil, 64*kib)
		FaultSet(FaultRelease, 1, 0, ErrorInvalidParameter)
		SysUnreserve(v, 64*kib)
	}
	helpers["freeUnderflow"] = func() {
		var stat SysMemStat
		v := SysAllocOS(8 * mib)
		SysFree(v, 8*mib, &stat)
	}
	helpers["statAddUnderflow"] = func() {
		var stat SysMemStat
		stat.Add(-1)
	}
	helpers["defaultFatal"] = func() {
		DefaultFatal("runtime: first line\nruntime: second line\n", "the message")
	}
	// SetExact(false), the default, does not soften the raw layer.
	helpers["rawIgnoresExact"] = func() {
		SetExact(false)
		v := SysReserve(nil, 64*kib)
		FaultSet(FaultCommit, 1, 0, ErrorCommitmentLimit)
		SysUsed(v, 64*kib, 64*kib)
	}
	// With SetExact(true) the region layer dies as Go does, too.
	helpers["exactCommit"] = func() {
		SetExact(true)
		r, _ := Reserve(mib)
		r.Map(0, 128*kib)
		FaultSet(FaultCommit, 1, 0, ErrorCommitmentLimit)
		r.Commit(0, 128*kib)
	}
	helpers["exactRelease"] = func() {
		SetExact(true)
		r, _ := Alloc(64 * kib)
		FaultSet(FaultRelease, 1, 0, ErrorInvalidParameter)
		r.Release()
	}
	// Without SetExact the same failure is an error and the child survives.
	helpers["capturedCommit"] = func() {
		r, _ := Reserve(mib)
		r.Map(0, 128*kib)
		FaultSet(FaultCommit, 1, 0, ErrorCommitmentLimit)
		if err := r.Commit(0, 128*kib); err == nil {
			os.Exit(3)
		}
	}
}

func TestRawFatal(t *testing.T) {
	cases := []struct{ helper, stderr string }{
		{"usedOOM", "runtime: VirtualAlloc of 1048576 bytes failed with errno=1455\nfatal error: out of memory\n"},
		{"usedOSNotEnoughMemory", "runtime: VirtualAlloc of 65536 bytes failed with errno=8\nfatal error: out of memory\n"},
		// Go's halving loop reports the piece size, 0 for ranges >= 4096.
		{"usedOSFail", "runtime: VirtualAlloc of 0 bytes failed with errno=87\nfatal error: runtime: failed to commit pages\n"},
		{"usedOSUnreserved", "runtime: VirtualAlloc of 100 bytes failed with errno=487\nfatal error: runtime: failed to commit pages\n"},
		{"unusedFail", "runtime: VirtualFree of 0 bytes failed with errno=87\nfatal error: runtime: failed to decommit pages\n"},
		{"faultFail", "runtime: VirtualFree of 0 bytes failed with errno=487\nfatal error: runtime: failed to decommit pages\n"},
		// Wine and the emulation say 87 here, Windows 487 (golang/go#35465).
		{"freeOSTwice", "runtime: VirtualFree of 4096 bytes failed with errno=(87|487)\nfatal error: runtime: failed to release pages\n"},
		{"unreserveFail", "runtime: VirtualFree of 65536 bytes failed with errno=87\nfatal error: runtime: failed to release pages\n"},
		{"freeUnderflow", "runtime: val=18446744073701163008 n=-8388608\nfatal error: sysMemStat overflow\n"},
		{"statAddUnderflow", "runtime: val=18446744073709551615 n=-1\nfatal error: sysMemStat overflow\n"},
		{"defaultFatal", "runtime: first line\nruntime: second line\nfatal error: the message\n"},
		{"rawIgnoresExact", "runtime: VirtualAlloc of 65536 bytes failed with errno=1455\nfatal error: out of memory\n"},
	}
	for _, c := range cases {
		c := c
		t.Run(c.helper, func(t *testing.T) { expectFatal(t, c.helper, c.stderr) })
	}
}

func TestExactMode(t *testing.T) {
	if Exact() {
		t.Fatal("Exact() is on by default")
	}
	if prev := SetExact(true); prev {
		t.Error("SetExact returned true before any change")
	}
	if !Exact() {
		t.Error("Exact() = false after SetExact(true)")
	}
	if prev := SetExact(false); !prev {
		t.Error("SetExact(false) returned false after SetExact(true)")
	}
	expectFatal(t, "exactCommit",
		"runtime: VirtualAlloc of 131072 bytes failed with errno=1455\nfatal error: out of memory\n")
	expectFatal(t, "exactRelease",
		"runtime: VirtualFree of 65536 bytes failed with errno=87\nfatal error: runtime: failed to release pages\n")
	if code, stderr := runHelper(t, "capturedCommit"); code != 0 || stderr != "" {
		t.Errorf("capturedCommit: status %d, stderr %q; want 0 and nothing", code, stderr)
	}
}
