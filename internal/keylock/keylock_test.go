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

func TestLockAllTakesEveryKeyOrNone(t *testing.T) {
	var c Set[uint64]
	ctx := boundedCtx(t)
	unlock1, err := c.LockAll(ctx, []uint64{1, 2, 2})
	if err != nil {
		t.Fatal(err)
	}
	// A set sharing a key waits, and holds none of its others meanwhile.
	waitCtx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.LockAll(waitCtx, []uint64{3, 2}); !errors.Is(err, context.Canceled) {
		t.Fatalf("lock of {3, 2} while {1, 2} is held: err = %v, want context.Canceled", err)
	}
	unlock3, err := c.Lock(ctx, 3)
	if err != nil {
		t.Fatalf("lock of 3 after a set with it gave up: %v", err)
	}
	unlock3()

	got := make(chan error)
	go func() {
		unlock2, err := c.LockAll(ctx, []uint64{3, 2})
		if err == nil {
			unlock2()
		}
		got <- err
	}()
	unlock1()
	if err := <-got; err != nil {
		t.Errorf("lock of {3, 2} after {1, 2} was unlocked: %v", err)
	}
	if n := len(c.held); n != 0 {
		t.Errorf("%d keys still held after every unlock", n)
	}
}

// TestLockAllInAnyOrderDoesNotDeadlock locks overlapping sets in opposite
// orders from many goroutines: a lock taken key by key in the given order
// would deadlock, and the bounded context would fail the test.
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

// boundedCtx is a context that ends after 2 seconds, so that a
// lock that wrongly waits fails instead of hanging.
func boundedCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	t.Cleanup(cancel)
	return ctx
}
