package delivery

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestClaimDuplicateWaitsForRelease(t *testing.T) {
	c := newClaims()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	release, err := c.claim(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	var released atomic.Bool
	type result struct {
		sawReleased bool
		err         error
	}
	got := make(chan result)
	go func() {
		release2, err := c.claim(ctx, "k")
		r := result{sawReleased: released.Load(), err: err}
		if err == nil {
			release2()
		}
		got <- r
	}()
	released.Store(true)
	release()
	if r := <-got; r.err != nil || !r.sawReleased {
		t.Errorf("duplicate claim: err = %v, came after the release: %v; want nil, true", r.err, r.sawReleased)
	}
}

func TestClaimGivesUpWhenItsContextEnds(t *testing.T) {
	c := newClaims()
	release, err := c.claim(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.claim(ctx, "k"); !errors.Is(err, context.Canceled) || reason(err) != "canceled" {
		t.Errorf("claim of a held key with a canceled context: err = %v (reason %q), want context.Canceled", err, reason(err))
	}
	release()
	release2, err := c.claim(boundedCtx(t), "k")
	if err != nil {
		t.Fatalf("claim after release: %v", err)
	}
	release2()
}

func TestClaimsOfOtherKeysDoNotWait(t *testing.T) {
	c := newClaims()
	ctx := boundedCtx(t)
	release1, err := c.claim(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	release2, err := c.claim(ctx, "k2")
	if err != nil {
		t.Fatalf("claim of k2 while k1 is held: %v", err)
	}
	release1()
	release2()
	if n := len(c.inflight); n != 0 {
		t.Errorf("%d keys still in flight after every release", n)
	}
}

func TestClaimHasOneHolderAtATime(t *testing.T) {
	c := newClaims()
	ctx := boundedCtx(t)
	var holders, most atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			release, err := c.claim(ctx, "k")
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
			release()
		})
	}
	wg.Wait()
	if m := most.Load(); m != 1 {
		t.Errorf("at most %d holders at once, want 1", m)
	}
}

// boundedCtx is a context that ends after 2 seconds, so that a
// claim that wrongly waits fails instead of hanging.
func boundedCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	t.Cleanup(cancel)
	return ctx
}
