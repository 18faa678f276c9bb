package memwin_test

import (
	"errors"
	"fmt"
	"log"
	"os"

	memwin "github.com/memwin/memwin/go_bindings"
)

// The handshake of the Go heap, on a Region: reserve address space, map a
// part (Reserved -> Prepared), commit it (Prepared -> Ready), use it, give
// it back (Ready -> Prepared), release everything.
func Example() {
	r, err := memwin.Reserve(1 << 20) // None -> Reserved
	if err != nil {
		log.Fatal(err)
	}
	defer r.Release() // any -> None

	const n = 64 << 10
	if err := r.Map(0, n); err != nil { // Reserved -> Prepared: sysStat += n
		log.Fatal(err)
	}
	if err := r.Commit(0, n); err != nil { // Prepared -> Ready: mapped-ready += n
		log.Fatal(err)
	}
	b, err := r.Bytes(0, n) // only Ready memory has a []byte
	if err != nil {
		log.Fatal(err)
	}
	copy(b, "hello")
	fmt.Printf("%s, page 0 is %v\n", b[:5], r.StateAt(0))

	if err := r.Decommit(0, n); err != nil { // Ready -> Prepared: mapped-ready -= n
		log.Fatal(err)
	}
	st := r.Stats()
	fmt.Printf("Ready %d, Prepared %d, Reserved %d, sysStat %d\n", st.Ready, st.Prepared, st.Reserved, st.SysStat)

	// Prepared memory is not usable: Bytes and Decommit refuse it.
	_, err = r.Bytes(0, n)
	fmt.Println(errors.Is(err, memwin.ErrNotReady))
	err = r.Decommit(0, n)
	var e *memwin.Error
	if errors.As(err, &e) {
		fmt.Printf("%s (%s: %s) found %v\n", e.Op, e.Func, e.Rule, e.State)
	}
	// Output:
	// hello, page 0 is Ready
	// Ready 0, Prepared 65536, Reserved 983040, sysStat 65536
	// true
	// Decommit (sysUnused: Ready -> Prepared) found Prepared
}

// Where the Go runtime would die (here: the commit charge is exhausted,
// simulated by fault injection), the region layer returns an error holding
// Go's message.
func ExampleRegion_Commit() {
	r, err := memwin.Reserve(1 << 20)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Release()
	if err := r.Map(0, 1<<20); err != nil {
		log.Fatal(err)
	}

	memwin.FaultSet(memwin.FaultCommit, 1, 0, memwin.ErrorCommitmentLimit)
	err = r.Commit(0, 1<<20)
	memwin.FaultClear()

	var f *memwin.FatalError
	if errors.As(err, &f) {
		fmt.Print(f.Output())
	}
	fmt.Println(errors.Is(err, memwin.ErrOutOfMemory), r.StateAt(0))
	// Output:
	// runtime: VirtualAlloc of 1048576 bytes failed with errno=1455
	// fatal error: out of memory
	// true Prepared
}

// With SetExact(true) the same failure ends the process as it ends a Go
// program: Go's text on stderr, exit status 2.
func ExampleSetExact() {
	memwin.SetExact(true)
	r, err := memwin.Reserve(1 << 20)
	if err != nil {
		log.Fatal(err)
	}
	r.Map(0, 1<<20)
	r.Commit(0, 1<<20) // on failure: "fatal error: out of memory", exit 2
}

// The raw layer has the runtime's functions and semantics, accounting
// included.
func ExampleSysReserve() {
	var stat memwin.SysMemStat
	before := memwin.MappedReady()

	v := memwin.SysReserve(nil, 1<<20) // None -> Reserved
	if v == nil {
		log.Fatal("out of address space")
	}
	memwin.SysMap(v, 1<<20, &stat)  // Reserved -> Prepared: stat += n
	memwin.SysUsed(v, 1<<20, 1<<20) // Prepared -> Ready: mapped-ready += prepared
	fmt.Println(stat.Load(), memwin.MappedReady()-before)
	memwin.SysUnused(v, 512<<10)      // Ready -> Prepared: mapped-ready -= n
	memwin.SysUsed(v, 1<<20, 512<<10) // commit all, count only the prepared half
	memwin.SysFree(v, 1<<20, &stat)   // Ready -> None: stat -= n, mapped-ready -= n
	fmt.Println(stat.Load(), memwin.MappedReady()-before)
	// Output:
	// 1048576 1048576
	// 0 0
}

// Query reports the OS's view of a page, as VirtualQuery does.
func ExampleQuery() {
	p := memwin.SysAllocOS(64 << 10)
	defer memwin.SysFreeOS(p, 64<<10)
	info, err := memwin.Query(p)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.State, info.Protect, info.RegionSize, info.AllocationBase == uintptr(p))
	// Output:
	// MEM_COMMIT PAGE_READWRITE 65536 true
}

// Spans combine the state the Region tracks with the one the OS reports.
func ExampleRegion_Spans() {
	r, _ := memwin.Reserve(256 << 10)
	defer r.Release()
	r.Map(0, 128<<10)
	r.Commit(0, 64<<10)
	spans, _ := r.Spans()
	for _, s := range spans {
		fmt.Println(s)
	}
	// Output:
	// +0x0..+0x10000 Ready (MEM_COMMIT PAGE_READWRITE)
	// +0x10000..+0x20000 Prepared (MEM_RESERVE 0)
	// +0x20000..+0x40000 Reserved (MEM_RESERVE 0)
}

// On Windows without cgo the package loads memwin.dll at run time, from an
// absolute path only.  (With cgo, Load does nothing.)
func ExampleLoad() {
	if err := memwin.Load(os.Getenv("MEMWIN_DLL")); err != nil {
		log.Fatal(err)
	}
	fmt.Println(memwin.Version())
}
