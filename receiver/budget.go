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
// what it took, unless it is the oldest of those still being decoded:
// that one waits for room (see claim.take), and from then on until its
// decoding ends the room given back is its alone. Were all turned away,
// two of nearly max_alerts each, decoded side by side, would each take
// half the room and both fail, and their retries again; were the room
// given back free for all, a stream of small notifications would starve
// a large one.
type alertBudget struct {
	max  int64
	used atomic.Int64
	// first is the number of the claim that waited for room and is still
	// decoding, 0 for none: no other claim takes room meanwhile, nor
	// after the end of its wait's context (stopFirst stops that clearing
	// once its decoding ends first), so that a client that trickles the
	// rest of its body cannot keep the room from all others until the
	// body's deadline.
	first     atomic.Uint64
	stopFirst func() bool

	mu sync.Mutex
	// next numbers the claims in the order they came; decoding are the
	// numbers of those still being decoded, oldest first.
	next     uint64
	decoding []uint64
	// freed, once a claim waits for room, is closed when room is given
	// back.
	freed chan struct{}
}

// full reports whether there is no room left, or none for any but the
// claim that waits for it: a request is then turned away before its body
// is read.
func (b *alertBudget) full() bool {
	return b.max > 0 && (b.used.Load() >= b.max || b.first.Load() != 0)
}

// tryTake takes n alerts for claim seq if there is room for them. It
// never counts a take that does not fit, so that one cannot turn away
// another that does.
func (b *alertBudget) tryTake(seq uint64, n int64) bool {
	if b.max <= 0 {
		return true
	}
	if first := b.first.Load(); first != 0 && first != seq {
		return false
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

// claim opens the room of one notification, which takes no more than
// most in all (no cap when 0); ctx bounds how long it may wait for room
// as the oldest being decoded, and keep the room given back to itself.
// Its release must follow.
func (b *alertBudget) claim(ctx context.Context, most int64) *claim {
	c := &claim{budget: b, ctx: ctx, most: most}
	if b.max <= 0 {
		return c
	}
	b.mu.Lock()
	b.next++
	c.seq = b.next
	b.decoding = append(b.decoding, c.seq)
	b.mu.Unlock()
	return c
}

// waitForRoom takes n for claim seq, which holds own, once there is room,
// and reports whether it did. It reports false at once unless
// seq is the oldest claim being decoded and others hold room they will
// give back, else when ctx ends first.
func (b *alertBudget) waitForRoom(ctx context.Context, seq uint64, own, n int64) bool {
	for {
		b.mu.Lock()
		if len(b.decoding) == 0 || b.decoding[0] != seq {
			b.mu.Unlock()
			return false
		}
		if b.first.Load() != seq {
			b.first.Store(seq)
			b.stopFirst = context.AfterFunc(ctx, func() { b.first.CompareAndSwap(seq, 0) })
		}
		if b.freed == nil {
			b.freed = make(chan struct{})
		}
		freed := b.freed
		b.mu.Unlock()
		// Room given back after freed was taken closes it: none is missed.
		if b.tryTake(seq, n) {
			return true
		}
		if used := b.used.Load(); used <= own {
			if n <= b.max-used {
				continue // room given back since tryTake
			}
			return false // the claim alone holds more than there is room for
		}
		select {
		case <-freed:
		case <-ctx.Done():
			return false
		}
	}
}

// decoded ends the decoding of claim seq: it takes no more room, and
// waits no longer for it.
func (b *alertBudget) decoded(seq uint64) {
	b.mu.Lock()
	if i := slices.Index(b.decoding, seq); i >= 0 {
		b.decoding = slices.Delete(b.decoding, i, i+1)
	}
	if b.first.CompareAndSwap(seq, 0) {
		b.stopFirst()
		b.stopFirst = nil
	}
	b.mu.Unlock()
}

// end gives back n alerts of claim seq and forgets it.
func (b *alertBudget) end(seq uint64, n int64) {
	if b.max <= 0 {
		return
	}
	b.decoded(seq)
	b.used.Add(-n)
	b.mu.Lock()
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
	// most caps what the claim takes in all, 0 for no cap: the room a
	// config makes sure of for one notification (max_alerts_in_flight >=
	// max_alerts), so that the largest still passes once it is the
	// oldest, however heavy its alerts (see alertWeight).
	most int64
}

// take takes room for one more alert kept, of weight n (see alertWeight),
// but no more than what most leaves, and reports whether there was, or,
// for the oldest claim being decoded, came before its context ended.
func (c *claim) take(n int64) bool {
	if c.most > 0 {
		n = min(n, c.most-c.taken)
	}
	if n <= 0 {
		return true
	}
	if !c.budget.tryTake(c.seq, n) && !c.budget.waitForRoom(c.ctx, c.seq, c.taken, n) {
		return false
	}
	c.taken += n
	return true
}

// decoded tells the budget that the claim takes no more room: the right
// to wait for room passes to the next oldest still being decoded.
func (c *claim) decoded() {
	if c.budget.max > 0 {
		c.budget.decoded(c.seq)
	}
}

// release gives back all the room the claim took; the claim is done.
func (c *claim) release() {
	c.budget.end(c.seq, c.taken)
	c.taken = 0
}
