//go:build cgo

package memwin

import "testing"

// With cgo the library is linked in: Load accepts anything and does nothing.
func TestLoadIsNoOpWithCgo(t *testing.T) {
	if err := Load("memwin.dll"); err != nil {
		t.Errorf("Load = %v, want nil", err)
	}
	if p := SysAllocOS(PageSize); p == nil {
		t.Error("library unusable after Load")
	} else {
		SysFreeOS(p, PageSize)
	}
}
