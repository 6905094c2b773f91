package receiver

import (
	"errors"
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
// not what a body might hold: a client that stalls holds none. The zero
// value has no bound. It is safe for concurrent use.
type alertBudget struct {
	max  int64
	used atomic.Int64
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

func (b *alertBudget) give(n int64) {
	if b.max > 0 && n > 0 {
		b.used.Add(-n)
	}
}

// claim is the room one notification took, given back at once by
// release. Used by one goroutine at a time.
type claim struct {
	budget *alertBudget
	taken  int64
}

// take takes room for one more alert kept and reports whether there was.
func (c *claim) take() bool {
	if !c.budget.tryTake(1) {
		return false
	}
	c.taken++
	return true
}

// release gives back all the room the claim took.
func (c *claim) release() {
	c.budget.give(c.taken)
	c.taken = 0
}
