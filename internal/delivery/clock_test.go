package delivery

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock whose time moves only when a test says so. With
// auto set, every wait passes at once, moving the time forward by the wait:
// retries then run without sleeping, and waits shows what they waited.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	auto   bool
	waits  []time.Duration
	timers []fakeTimer
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

func newFakeClock(auto bool) *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 25, 3, 12, 0, 0, time.UTC), auto: auto}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	t := fakeTimer{at: c.now.Add(d), c: make(chan time.Time, 1)}
	if c.auto {
		c.now = t.at
		t.c <- t.at
		return t.c
	}
	c.timers = append(c.timers, t)
	return t.c
}

// Advance moves the time forward by d and fires the waits that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	pending := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			pending = append(pending, t)
			continue
		}
		t.c <- c.now
	}
	c.timers = pending
}

// Waits returns every wait asked for so far, in order.
func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

func TestFakeClockFiresOnlyDueWaits(t *testing.T) {
	c := newFakeClock(false)
	start := c.Now()
	short, long := c.After(time.Second), c.After(time.Minute)
	c.Advance(time.Second)
	select {
	case at := <-short:
		if !at.Equal(start.Add(time.Second)) {
			t.Errorf("fired at %v, want %v", at, start.Add(time.Second))
		}
	default:
		t.Fatal("a due wait did not fire")
	}
	select {
	case <-long:
		t.Fatal("a wait fired before it was due")
	default:
	}
	c.Advance(time.Minute)
	select {
	case <-long:
	default:
		t.Fatal("the long wait did not fire once due")
	}
}
