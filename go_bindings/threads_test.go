package memwin

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// onThreads runs work(i) in n goroutines, each locked to its own OS thread
// for the whole run (they all hold their threads at once, so the threads
// are distinct), and returns how many distinct thread ids they saw.
func onThreads(t *testing.T, n int, work func(i int) error) int {
	t.Helper()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     = map[uint64]bool{}
		errs    []error
		locked  sync.WaitGroup
		release = make(chan struct{})
	)
	locked.Add(n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			id := threadID()
			locked.Done()
			<-release // everyone holds a thread before anyone starts
			err := work(i)
			if id2 := threadID(); id2 != id {
				err = fmt.Errorf("goroutine %d moved from thread %d to %d", i, id, id2)
			}
			mu.Lock()
			ids[id] = true
			if err != nil {
				errs = append(errs, fmt.Errorf("goroutine %d: %w", i, err))
			}
			mu.Unlock()
		}(i)
	}
	locked.Wait()
	close(release)
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	return len(ids)
}

// Goroutines on many OS threads, each working through the whole handshake
// on its own regions, concurrently.
func TestThreadsDisjointRegions(t *testing.T) {
	const goroutines, rounds = 16, 25
	mr := MappedReady()
	threads := onThreads(t, goroutines, func(g int) error {
		for round := 0; round < rounds; round++ {
			size := uintptr(256*kib + g*64*kib)
			r, err := Reserve(size)
			if err != nil {
				return err
			}
			if err := r.Map(0, size); err != nil {
				return err
			}
			if err := r.Commit(0, size/2); err != nil {
				return err
			}
			b, err := r.Bytes(0, size/2)
			if err != nil {
				return err
			}
			tag := byte(g*rounds + round)
			for i := range b {
				b[i] = tag
			}
			runtime.Gosched()
			if err := r.Decommit(64*kib, 64*kib); err != nil {
				return err
			}
			if err := r.Commit(0, size); err != nil { // Ready + Prepared
				return err
			}
			whole, _ := r.Bytes(0, size)
			for i, v := range whole {
				want := tag
				if (i >= 64*kib && i < 128*kib) || uintptr(i) >= size/2 {
					want = 0
				}
				if v != want {
					return fmt.Errorf("round %d: byte %d = %d, want %d", round, i, v, want)
				}
			}
			if err := r.Fault(0, 64*kib); err != nil {
				return err
			}
			if st := r.Stats(); st.Reserved != 64*kib || st.Ready != size-64*kib || st.SysStat != uint64(size) {
				return fmt.Errorf("round %d: stats %+v", round, st)
			}
			if err := r.Verify(); err != nil {
				return err
			}
			if err := r.Release(); err != nil {
				return err
			}
		}
		return nil
	})
	if threadID() != 0 && threads != goroutines {
		t.Errorf("ran on %d OS threads, want %d", threads, goroutines)
	}
	wantMappedReady(t, mr, 0)
}

// Fatal errors raised on many threads at once each come back to the call
// that raised them: the size in each message is the caller's own.
func TestThreadsCapturedFailures(t *testing.T) {
	const goroutines, rounds = 12, 10
	regions := make([]*Region, goroutines)
	for g := range regions {
		r, err := Reserve(uintptr(g+1) * 64 * kib)
		must(t, err)
		must(t, r.Map(0, r.Size()))
		regions[g] = r
	}
	mr := MappedReady()
	withFault(t, FaultCommit, 1, 0, ErrorCommitmentLimit)
	threads := onThreads(t, goroutines, func(g int) error {
		r := regions[g]
		want := fmt.Sprintf("runtime: VirtualAlloc of %d bytes failed with errno=1455\n", r.Size())
		for round := 0; round < rounds; round++ {
			err := r.Commit(0, r.Size())
			var f *FatalError
			if !errors.As(err, &f) {
				return fmt.Errorf("round %d: Commit error %v", round, err)
			}
			if f.Printed != want || !errors.Is(err, ErrOutOfMemory) {
				return fmt.Errorf("round %d: got %q, want %q", round, f.Printed, want)
			}
			runtime.Gosched()
		}
		return nil
	})
	if threadID() != 0 && threads != goroutines {
		t.Errorf("ran on %d OS threads, want %d", threads, goroutines)
	}
	FaultClear()
	wantMappedReady(t, mr, 0)
	for _, r := range regions {
		if st := r.Stats(); st.Prepared != r.Size() {
			t.Errorf("%v: %+v after failed commits", r, st)
		}
		must(t, r.Release())
	}
}

// One Region used from many goroutines: the methods serialise.
func TestThreadsSharedRegion(t *testing.T) {
	const goroutines = 8
	r := mustReserve(t, goroutines*64*kib)
	defer r.Release()
	mr := MappedReady()
	onThreads(t, goroutines, func(g int) error {
		off := uintptr(g) * 64 * kib
		for i := 0; i < 20; i++ {
			for _, step := range []func(uintptr, uintptr) error{r.Map, r.Commit, r.Decommit, r.Commit, r.Fault} {
				if err := step(off, 64*kib); err != nil {
					return err
				}
			}
			if _, err := r.Spans(); err != nil {
				return err
			}
		}
		return nil
	})
	wantMappedReady(t, mr, 0)
	// Fault leaves sysStat alone, so each Map counted again, as in Go.
	if st := r.Stats(); st.Reserved != r.Size() || st.SysStat != uint64(20*r.Size()) {
		t.Errorf("stats %+v", st)
	}
	must(t, r.Verify())
}
