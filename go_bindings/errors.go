package memwin

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors of the region layer, for errors.Is.  Every error a Region
// method returns is an *Error whose Err is one of these, an Errno, or a
// *FatalError.
var (
	// ErrIllegalTransition: a page of the range is not in a state the
	// operation starts from (Error.Page and Error.State say which and why).
	ErrIllegalTransition = errors.New("illegal state transition")
	// ErrNotReady: Bytes asked for memory that is not Ready.
	ErrNotReady = errors.New("memory is not Ready")
	// ErrRange: offset or length not page-aligned, zero, or outside the region.
	ErrRange = errors.New("range not page-aligned or outside the region")
	// ErrReleased: the region was released.
	ErrReleased = errors.New("region released")
	// ErrOutOfMemory matches a *FatalError whose message is Go's
	// "out of memory" (commit failed with errno 8 or 1455).
	ErrOutOfMemory = errors.New("out of memory")
	// ErrReserveFailed: sysReserve/sysReserveAligned/sysAlloc returned nil
	// (Go's callers treat this as running out of address space).  The Err
	// of the *Error is then the Errno the OS reported.
	ErrReserveFailed = errors.New("reservation failed")
)

// Error is the error of a Region operation: the operation, the range, the
// Go rule it follows, and what went wrong.
type Error struct {
	Op    string  // Region method: "Map", "Commit", "Decommit", "Fault", "Release", ...
	Func  string  // Go runtime function behind it: "sysMap", "sysUsed", ...
	Rule  string  // transition that function performs: "Reserved -> Prepared", ...
	Addr  uintptr // start of the requested range
	Len   uintptr // its length
	Page  uintptr // for ErrIllegalTransition and ErrNotReady: first offending page
	State State   // its state (for OS failures: the state the range was in)
	Err   error   // ErrIllegalTransition, ErrNotReady, ErrRange, ErrReleased, Errno or *FatalError
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "memwin: %s [%#x, %#x)", e.Op, e.Addr, e.Addr+e.Len)
	if e.Func != "" {
		fmt.Fprintf(&b, " (%s: %s)", e.Func, e.Rule)
	}
	switch {
	case errors.Is(e.Err, ErrIllegalTransition), errors.Is(e.Err, ErrNotReady):
		fmt.Fprintf(&b, ": page %#x is %v: %v", e.Page, e.State, e.Err)
	case errors.As(e.Err, new(*FatalError)):
		fmt.Fprintf(&b, " on %v memory: %v", e.State, e.Err)
	default:
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// FatalError is a failure on which the Go runtime would have died: what
// it would have printed ("runtime: ..." lines) and the fatal error message
// ("out of memory", "runtime: failed to commit pages", ...).  The region
// layer returns it (inside an *Error) instead of exiting, unless SetExact is
// on.
type FatalError struct {
	Printed   string    // the "runtime: ..." lines, each ending in "\n" (may be empty)
	Message   string    // the text after "fatal error: "
	Errno     Errno     // the errno=<n> of the printed line, 0 if none
	Code      CheckCode // in checked or recoverable mode: the library's error code
	Truncated bool      // Printed or Message was cut to fit the capture buffer
}

// splitRecovered splits the text of a recoverable-mode error ("<printed
// lines>fatal error: <message>") into Go's two parts.
func splitRecovered(text string) (printed, message string) {
	i := strings.LastIndex(text, "fatal error: ")
	if i < 0 {
		return "", text
	}
	return text[:i], text[i+len("fatal error: "):]
}

func newFatalError(printed, message string, truncated bool) *FatalError {
	f := &FatalError{Printed: printed, Message: message, Truncated: truncated}
	if i := strings.LastIndex(printed, "errno="); i >= 0 {
		s := printed[i+len("errno="):]
		j := 0
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if n, err := strconv.ParseUint(s[:j], 10, 32); err == nil {
			f.Errno = Errno(n)
		}
	}
	return f
}

// Error returns Go's output on one line: "<message> (<printed>)".
func (f *FatalError) Error() string {
	p := strings.TrimSpace(strings.ReplaceAll(f.Printed, "\n", "; "))
	p = strings.TrimSuffix(p, ";")
	if p == "" {
		return "fatal error: " + f.Message
	}
	return "fatal error: " + f.Message + " (" + p + ")"
}

// Is reports ErrOutOfMemory for Go's "out of memory".
func (f *FatalError) Is(target error) bool {
	return target == ErrOutOfMemory && f.Message == "out of memory"
}

// Output returns exactly what Go would have written to stderr.
func (f *FatalError) Output() string {
	return f.Printed + "fatal error: " + f.Message + "\n"
}
