package main

import (
	"strings"
	"testing"

	"memwin.local/conform/trace"
)

func TestStatsOfCountsCommittedPages(t *testing.T) {
	tr, err := trace.Read(strings.NewReader(`memwin-trace 1
t1 sysReserveOS 0 0x100000 = R1
t1 sysMapOS R1 0x100000
t1 sysUsedOS R1 0x10000
t2 sysUsedOS R1+0x8000 0x10000
t1 sysAllocOS 0x2000 = R2
t1 sysUnusedOS R1+0x4000 0x2000
t1 sysFreeOS R2 0x2000
t1 sysFaultOS R1+0x17000 0x1000
`))
	if err != nil {
		t.Fatal(err)
	}
	st := statsOf(tr)
	// R1: 0x18000 committed (0x0-0x18000), +0x2000 of R2 = peak 0x1a000;
	// then -0x2000 (unused), -0x2000 (R2 freed), -0x1000 (fault).
	if st.peak != 0x1a000 || st.committed != 0x15000 {
		t.Fatalf("peak %#x committed %#x, want 0x1a000 and 0x15000", st.peak, st.committed)
	}
	if st.calls[trace.SysUsedOS] != 2 || st.bytes[trace.SysUsedOS] != 0x20000 || st.threads != 2 || st.regions != 2 {
		t.Fatalf("got %+v", st)
	}
}
