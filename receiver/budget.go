package receiver

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
)

// errNoAlertBudget stops the decoding of a notification whose alerts the
// budget of alerts in flight has no room for.
var errNoAlertBudget = errors.New("too many alerts in flight")

// alertBudget bounds the alerts kept of all the notifications handled at
// once. What a notification holds while it is paged grows with its
// alerts, and Options.MaxInFlight counts notifications, not their size:
// 64 storms of max_alerts tiny alerts each would hold gigabytes. Room is
// taken alert by alert as a body is decoded, so it counts what is held,
// not what a body might hold: a client that stalls holds the alerts it
// has sent, until the body's deadline. The zero value has no bound. It is
// safe for concurrent use.
//
// A notification that runs out of room is turned away and gives back
// what it took, unless it is the oldest of those in flight: that one
// waits for room (see claim.take). Were all turned away, two of nearly
// max_alerts each, decoded side by side, would each take half the room
// and both fail, and their retries again.
type alertBudget struct {
	max  int64
	used atomic.Int64

	mu sync.Mutex
	// next numbers the claims in the order they came; live are the
	// numbers of those not released, oldest first.
	next uint64
	live []uint64
	// freed, once a claim waits for room, is closed when room is given
	// back.
	freed chan struct{}
}

// full reports whether there is no room left: a request is then turned
// away before its body is read.
func (b *alertBudget) full() bool {
	return b.max > 0 && b.used.Load() >= b.max
}

// tryTake takes n alerts if there is room for them. It never counts a
// take that does not fit, so that one cannot turn away another that does.
func (b *alertBudget) tryTake(n int64) bool {
	if b.max <= 0 {
		return true
	}
	for {
		used := b.used.Load()
		if n > b.max-used {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

// claim opens the room of one notification; ctx bounds how long it may
// wait for room as the oldest in flight. Its release must follow.
func (b *alertBudget) claim(ctx context.Context) *claim {
	c := &claim{budget: b, ctx: ctx}
	if b.max <= 0 {
		return c
	}
	b.mu.Lock()
	b.next++
	c.seq = b.next
	b.live = append(b.live, c.seq)
	b.mu.Unlock()
	return c
}

// waitForRoom takes one alert for claim seq once there is room, and
// reports whether it did: at once false unless seq is the oldest claim
// in flight, else when ctx ends first.
func (b *alertBudget) waitForRoom(ctx context.Context, seq uint64) bool {
	for {
		b.mu.Lock()
		if len(b.live) == 0 || b.live[0] != seq {
			b.mu.Unlock()
			return false
		}
		if b.freed == nil {
			b.freed = make(chan struct{})
		}
		freed := b.freed
		b.mu.Unlock()
		// Room given back after freed was taken closes it: none is missed.
		if b.tryTake(1) {
			return true
		}
		select {
		case <-freed:
		case <-ctx.Done():
			return false
		}
	}
}

// end gives back n alerts of claim seq and forgets it.
func (b *alertBudget) end(seq uint64, n int64) {
	if b.max <= 0 {
		return
	}
	b.used.Add(-n)
	b.mu.Lock()
	if i := slices.Index(b.live, seq); i >= 0 {
		b.live = slices.Delete(b.live, i, i+1)
	}
	if b.freed != nil {
		close(b.freed)
		b.freed = nil
	}
	b.mu.Unlock()
}

// claim is the room one notification took, given back at once by
// release. Used by one goroutine at a time.
type claim struct {
	budget *alertBudget
	ctx    context.Context
	seq    uint64
	taken  int64
}

// take takes room for one more alert kept and reports whether there was,
// or, for the oldest claim in flight, came before its context ended.
func (c *claim) take() bool {
	if !c.budget.tryTake(1) && !c.budget.waitForRoom(c.ctx, c.seq) {
		return false
	}
	c.taken++
	return true
}

// release gives back all the room the claim took; the claim is done.
func (c *claim) release() {
	c.budget.end(c.seq, c.taken)
	c.taken = 0
}
