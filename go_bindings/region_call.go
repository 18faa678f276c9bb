package memwin

// Operations the region layer runs through regionCall; the numbers are the
// GOMW_* values of raw_cgo.go's C wrapper.
const (
	opSysAlloc          = 1
	opSysReserve        = 2
	opSysReserveAligned = 3
	opSysMap            = 4
	opSysUsed           = 5
	opSysUnused         = 6
	opSysFault          = 7
	opSysFree           = 8
	opSysUnreserve      = 9
	opStatAdd           = 10
	// The OS layer, no accounting: Release of a region whose pages are in
	// mixed states, and unaccount's scratch memory.
	opSysAllocOS = 11
	opSysMapOS   = 12
	opSysUsedOS  = 13
	opSysFreeOS  = 14
)

// callResult is what regionCall reports about one memwin call.
type callResult struct {
	ret, ret2 uintptr     // the function's results (pointer, reserved size)
	lastErr   Errno       // the thread's last error right after the call
	fatal     *FatalError // the fatal error the call raised, if captured
	err       error       // the library could not be called (no DLL loaded)
}
