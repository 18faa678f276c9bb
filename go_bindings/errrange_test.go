package memwin

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestErrRangeMessages checks that every kind of refused range names the
// offset, the length (or size, or alignment) and the bound it broke, and
// still matches ErrRange with errors.Is.
func TestErrRangeMessages(t *testing.T) {
	r := mustReserve(t, 64*kib)
	defer r.Release()
	bytes := func(off, n uintptr) error { _, err := r.Bytes(off, n); return err }
	reserveAligned := func(size, align uintptr) error { _, err := ReserveAligned(size, align); return err }
	reserve := func(size uintptr) error { _, err := Reserve(size); return err }
	alloc := func(size uintptr) error { _, err := Alloc(size); return err }
	last := ^uintptr(0) &^ (PageSize - 1) // the last page of the address space
	top := ^uintptr(0)/2 + 1              // size+align wraps to 0
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"map zero length", r.Map(0x1000, 0),
			"range [off 0x1000, len 0x0) of region size 0x10000: zero length"},
		{"map unaligned offset", r.Map(0x1001, 0x1000),
			"range [off 0x1001, len 0x1000) of region size 0x10000: offset not a multiple of 4096"},
		{"commit unaligned length", r.Commit(0x1000, 0x2001),
			"range [off 0x1000, len 0x2001) of region size 0x10000: length not a multiple of 4096"},
		{"decommit past the end", r.Decommit(0xf000, 0x2000),
			"range [off 0xf000, len 0x2000) of region size 0x10000: ends past the region's end 0x10000"},
		{"fault at the end", r.Fault(0x10000, 0x1000),
			"range [off 0x10000, len 0x1000) of region size 0x10000: starts at or past the region's end 0x10000"},
		{"map wrapping", r.Map(last, 2*PageSize),
			fmt.Sprintf("range [off %#x, len 0x2000) of region size 0x10000: starts at or past the region's end 0x10000", last)},
		{"map wrapping from inside", r.Map(0x1000, last),
			fmt.Sprintf("range [off 0x1000, len %#x) of region size 0x10000: ends past the region's end 0x10000", last)},
		{"bytes zero", bytes(10, 0),
			"range [off 0xa, len 0x0) of region size 0x10000: zero length"},
		{"bytes past the end", bytes(0xfff0, 0x11),
			"range [off 0xfff0, len 0x11) of region size 0x10000: ends past the region's end 0x10000"},
		{"bytes after the end", bytes(0x10000, 1),
			"range [off 0x10000, len 0x1) of region size 0x10000: starts at or past the region's end 0x10000"},
		{"reserve zero", reserve(0), "size 0x0: zero"},
		{"alloc unaligned", alloc(0x1001), "size 0x1001: not a multiple of 4096"},
		{"reserve aligned: align", reserveAligned(64*kib, 3*kib), "align 0xc00: not a power of two"},
		{"reserve aligned: align 0", reserveAligned(64*kib, 0), "align 0x0: not a power of two"},
		{"reserve aligned: overflow", reserveAligned(top, top),
			fmt.Sprintf("size %#x + align %#x: overflows", top, top)},
	} {
		if !errors.Is(c.err, ErrRange) {
			t.Errorf("%s: error %v is not ErrRange", c.name, c.err)
			continue
		}
		var e *Error
		if !errors.As(c.err, &e) {
			t.Errorf("%s: error %v (%T) is not an *Error", c.name, c.err, c.err)
			continue
		}
		if msg := c.err.Error(); !strings.HasSuffix(msg, ": "+c.want) {
			t.Errorf("%s: message %q, want it to end in %q", c.name, msg, c.want)
		}
	}
	// The full text of one of them.
	err := r.Commit(0x1000, 0x2001)
	want := "(sysUsed: Prepared -> Ready): range [off 0x1000, len 0x2001) of region size 0x10000: length not a multiple of 4096"
	if !strings.HasPrefix(err.Error(), "memwin: Commit [") || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("Commit(0x1000, 0x2001) = %q, want memwin: Commit [...) %s", err, want)
	}
}
