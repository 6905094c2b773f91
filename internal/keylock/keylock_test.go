package keylock

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLockWaitsForUnlock(t *testing.T) {
	var c Set[string]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	unlock, err := c.Lock(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	var unlocked atomic.Bool
	type result struct {
		sawUnlocked bool
		err         error
	}
	got := make(chan result)
	go func() {
		unlock2, err := c.Lock(ctx, "k")
		r := result{sawUnlocked: unlocked.Load(), err: err}
		if err == nil {
			unlock2()
		}
		got <- r
	}()
	unlocked.Store(true)
	unlock()
	if r := <-got; r.err != nil || !r.sawUnlocked {
		t.Errorf("second lock: err = %v, came after the unlock: %v; want nil, true", r.err, r.sawUnlocked)
	}
}

func TestLockGivesUpWhenItsContextEnds(t *testing.T) {
	var c Set[string]
	unlock, err := c.Lock(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Lock(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("lock of a held key with a canceled context: err = %v, want context.Canceled", err)
	}
	unlock()
	unlock2, err := c.Lock(boundedCtx(t), "k")
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
}

func TestLocksOfOtherKeysDoNotWait(t *testing.T) {
	var c Set[string]
	ctx := boundedCtx(t)
	unlock1, err := c.Lock(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	unlock2, err := c.Lock(ctx, "k2")
	if err != nil {
		t.Fatalf("lock of k2 while k1 is held: %v", err)
	}
	unlock1()
	unlock2()
	if n := len(c.held); n != 0 {
		t.Errorf("%d keys still in flight after every unlock", n)
	}
}

func TestLockHasOneHolderAtATime(t *testing.T) {
	var c Set[string]
	ctx := boundedCtx(t)
	var holders, most atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			unlock, err := c.Lock(ctx, "k")
			if err != nil {
				t.Error(err)
				return
			}
			n := holders.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			// Hold it a while, giving the others every chance to overlap.
			for range 100 {
				runtime.Gosched()
			}
			holders.Add(-1)
			unlock()
		})
	}
	wg.Wait()
	if m := most.Load(); m != 1 {
		t.Errorf("at most %d holders at once, want 1", m)
	}
}

// holding reports whether key is held, as the test's goroutine sees it.
func (s *Set[K]) holding(key K) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.held[key]
	return ok
}

// TestLockAllTakesEveryKeyOrNone: a lock of several keys keeps those it
// took before a held one while it waits, so that callers of one key each,
// taking turns, cannot keep it from ever finding all free at once; and it
// gives them back when its context ends.
func TestLockAllTakesEveryKeyOrNone(t *testing.T) {
	var c Set[uint64]
	ctx := boundedCtx(t)
	unlock2, err := c.Lock(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	// {3, 1, 2, 1} waits at 2, holding 1 (which comes before it), not 3.
	waitCtx, cancel := context.WithCancel(ctx)
	gaveUp := make(chan error)
	go func() {
		_, err := c.LockAll(waitCtx, []uint64{3, 1, 2, 1})
		gaveUp <- err
	}()
	for !c.holding(1) {
		if ctx.Err() != nil {
			t.Fatal("1 never taken while 2, after it, is held")
		}
		runtime.Gosched()
	}
	if c.holding(3) {
		t.Error("3 taken while 2, before it, is held by another")
	}
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("lock of {1, 2, 3} while 2 is held, canceled: err = %v, want context.Canceled", err)
	}
	if c.holding(1) {
		t.Error("1 still held after the lock that took it gave up")
	}

	got := make(chan error)
	go func() {
		unlock, err := c.LockAll(ctx, []uint64{3, 2, 1})
		if err == nil {
			unlock()
		}
		got <- err
	}()
	unlock2()
	if err := <-got; err != nil {
		t.Errorf("lock of {1, 2, 3} after 2 was unlocked: %v", err)
	}
	if n := len(c.held); n != 0 {
		t.Errorf("%d keys still held after every unlock", n)
	}
}

// TestLockAllInAnyOrderDoesNotDeadlock locks overlapping sets given in
// opposite orders from many goroutines: taken key by key in the order
// given, they would deadlock, and the bounded context would fail the test.
func TestLockAllInAnyOrderDoesNotDeadlock(t *testing.T) {
	var c Set[string]
	ctx := boundedCtx(t)
	var holders atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		keys := []string{"a", "b", "c"}
		if i%2 == 1 {
			keys = []string{"c", "b", "a"}
		}
		wg.Go(func() {
			unlock, err := c.LockAll(ctx, keys)
			if err != nil {
				t.Error(err)
				return
			}
			if n := holders.Add(1); n != 1 {
				t.Errorf("%d holders of overlapping sets at once, want 1", n)
			}
			for range 100 {
				runtime.Gosched()
			}
			holders.Add(-1)
			unlock()
		})
	}
	wg.Wait()
}

// TestSetLetsGoOfAStormsMap: once a lock of many keys is let go, the set
// keeps no map sized for them.
func TestSetLetsGoOfAStormsMap(t *testing.T) {
	var c Set[uint64]
	keys := make([]uint64, 10*shrinkAbove)
	for i := range keys {
		keys[i] = uint64(i)
	}
	unlock, err := c.LockAll(boundedCtx(t), keys)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if c.held != nil {
		t.Errorf("the map of %d keys is kept with %d held", len(keys), len(c.held))
	}
}

// boundedCtx is a context that ends after 2 seconds, so that a
// lock that wrongly waits fails instead of hanging.
func boundedCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	t.Cleanup(cancel)
	return ctx
}
