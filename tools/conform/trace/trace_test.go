package trace

import (
	"bytes"
	"strings"
	"testing"
)

func TestConvertNamesRegionsAndRelations(t *testing.T) {
	calls := []RawCall{
		{Tid: 77, Op: SysReserveOS, V: 0xc000000000, N: 0x4000000, R: 0xc000000000}, // R1 at an absolute hint
		{Tid: 77, Op: SysMapOS, V: 0xc000000000, N: 0x4000000},                      // R1
		{Tid: 9, Op: SysUsedOS, V: 0xc000010000, N: 0x2000},                         // R1+0x10000, thread 2
		{Tid: 77, Op: SysReserveOS, V: 0xc004000000, N: 0x4000000, R: 0xc004000000}, // at the end of R1: R2
		{Tid: 9, Op: SysReserveOS, V: 0, N: 0x30000, R: 0x7f0000},                   // R3
		{Tid: 9, Op: SysFreeOS, V: 0x7f0000, N: 0x30000},                            // R3 dies
		{Tid: 9, Op: SysReserveOS, V: 0x800000, N: 0x10000, R: 0x900000},            // inside dead R3, not honoured: R4
		{Tid: 9, Op: SysAllocOS, N: 0x10000, R: 0},                                  // nil
		{Tid: 9, Op: SysUnusedOS, V: 0x123000, N: 0x1000},                           // in no region
	}
	tr := Convert(calls, [][2]string{{"go", "go1.99"}})
	var b bytes.Buffer
	if err := tr.Write(&b); err != nil {
		t.Fatal(err)
	}
	want := `memwin-trace 1
@go go1.99
t1 sysReserveOS @0xc000000000 0x4000000 = R1 hint
t1 sysMapOS R1 0x4000000
t2 sysUsedOS R1+0x10000 0x2000
t1 sysReserveOS R1+0x4000000 0x4000000 = R2 hint
t2 sysReserveOS 0 0x30000 = R3
t2 sysFreeOS R3 0x30000
t2 sysReserveOS R3+0x10000 0x10000 = R4
t2 sysAllocOS 0x10000 = 0
t2 sysUnusedOS @0x123000 0x1000
`
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
	back, err := Read(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	var b2 bytes.Buffer
	back.Write(&b2)
	if b2.String() != want || back.Get("go") != "go1.99" {
		t.Fatalf("round trip changed the trace:\n%s", b2.String())
	}
}

func TestConvertPrefersTheRegionHoldingTheAddress(t *testing.T) {
	// R2 starts where R1 ends: an address there is R2's base, not R1's end.
	tr := Convert([]RawCall{
		{Tid: 1, Op: SysReserveOS, N: 0x10000, R: 0x100000},
		{Tid: 1, Op: SysReserveOS, N: 0x10000, R: 0x110000},
		{Tid: 1, Op: SysUsedOS, V: 0x110000, N: 0x1000},
	}, nil)
	if got := tr.Steps[2].V.String(); got != "R2" {
		t.Fatalf("address 0x110000 written as %s, want R2", got)
	}
}

func TestReadRejectsMalformedTraces(t *testing.T) {
	for _, c := range []struct{ text, why string }{
		{"memwin-trace 2\n", "not a memwin trace"},
		{"memwin-trace 1\nt1 sysReserveOS 0 0x1000 = R2\n", "next region is R1"},
		{"memwin-trace 1\nt1 sysUsedOS R1 0x1000\n", "not created yet"},
		{"memwin-trace 1\nt1 sysReserveOS 0 0x1000 = R1\nt1 sysUsedOS R1+0x2000 0x1000\n", "past the end"},
		{"memwin-trace 1\nt1 sysMapOS R1 0x1000 = R1\n", "not created yet"},
		{"memwin-trace 1\nt1 sysAllocOS 0x1000\n", "needs a result"},
		{"memwin-trace 1\nt0 sysAllocOS 0x1000 = R1\n", "bad thread"},
		{"memwin-trace 1\nt1 VirtualAlloc 0 0x1000\n", "unknown call"},
		{"memwin-trace 1\nt1 sysUsedOS @0 0x1000\n", "bad absolute address"},
		{"memwin-trace 1\nt1 sysAllocOS 0x1000 = R1 hint\n", "bad result"},
	} {
		_, err := Read(strings.NewReader(c.text))
		if err == nil || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%q: error %v, want one containing %q", c.text, err, c.why)
		}
	}
}

func TestReadRawParsesTheRecorderLines(t *testing.T) {
	calls, err := ReadRaw(strings.NewReader("# comment\n1a4 sysReserveOS c000000000 4000000 c000000000\n1a4 sysAllocOS 0 10000 7f0000\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[0].Tid != 0x1a4 || calls[0].V != 0xc000000000 || calls[1].Op != SysAllocOS || calls[1].R != 0x7f0000 {
		t.Fatalf("got %+v", calls)
	}
	if _, err := ReadRaw(strings.NewReader("1 sysBogus 0 0 0\n")); err == nil {
		t.Fatal("an unknown call was accepted")
	}
}

func TestDiff(t *testing.T) {
	if d := Diff("a", []string{"x", "y"}, "b", []string{"x", "y"}); d != "" {
		t.Fatalf("equal lines differ: %s", d)
	}
	if d := Diff("a", []string{"x", "y"}, "b", []string{"x"}); !strings.Contains(d, `line 2: a "y", b "(end)"`) {
		t.Fatalf("got %s", d)
	}
}

func TestWritePathAndGoldenReadBack(t *testing.T) {
	dir := t.TempDir()
	tr := Convert([]RawCall{{Tid: 1, Op: SysAllocOS, N: 0x2000, R: 0x10000}}, [][2]string{{"go", "go1.99"}})
	for _, name := range []string{"a.trace", "a.trace.gz"} {
		p := dir + "/" + name
		if err := WritePath(p, tr); err != nil {
			t.Fatal(err)
		}
		back, err := ReadPath(p)
		if err != nil || len(back.Steps) != 1 || back.Steps[0] != tr.Steps[0] || back.Get("go") != "go1.99" {
			t.Fatalf("%s: read back %+v, %v", name, back, err)
		}
	}
	g := GoldenPath(dir + "/a.trace.gz")
	if err := WriteGolden(g, "a test", []string{"1 x", "2 y"}); err != nil {
		t.Fatal(err)
	}
	raw, err := ReadFile(g)
	if err != nil || string(raw) != "# golden: a test\n1 x\n2 y\n" {
		t.Fatalf("golden file holds %q, %v", raw, err)
	}
	obs, err := ReadGolden(g)
	if err != nil || strings.Join(obs, "|") != "1 x|2 y" {
		t.Fatalf("ReadGolden: %q, %v", obs, err)
	}
}
