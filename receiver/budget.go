package receiver

import (
	"errors"
	"sync/atomic"
)

// errNoAlertBudget stops the decoding of a notification whose alerts the
// budget of alerts in flight cannot take.
var errNoAlertBudget = errors.New("too many alerts in flight")

// minAlertBytes is the fewest bytes an alert the webhook keeps takes in a
// body, its comma included: {"status":"firing","labels":{"":""}}. A body
// of n bytes holds at most n/minAlertBytes+1 of them.
const minAlertBytes = 37

// alertBudget bounds the alerts kept of all the notifications handled at
// once. What a notification holds while it is paged grows with its
// alerts, and Options.MaxInFlight counts notifications, not their size:
// 64 storms of max_alerts tiny alerts each would hold gigabytes. The zero
// value has no bound. It is safe for concurrent use.
type alertBudget struct {
	max  int64
	used atomic.Int64
}

// tryTake takes n alerts if the budget has room for them.
func (b *alertBudget) tryTake(n int64) bool {
	if b.max <= 0 || n <= 0 {
		return true
	}
	if b.used.Add(n) > b.max {
		b.used.Add(-n)
		return false
	}
	return true
}

func (b *alertBudget) give(n int64) {
	if b.max > 0 && n > 0 {
		b.used.Add(-n)
	}
}

// claim is one notification's part of the budget: room taken before its
// body is read, for as many alerts as it can hold, and cut to the alerts
// it kept once decoded. Used by one goroutine at a time.
type claim struct {
	budget         *alertBudget
	reserved, kept int64
}

// reserve takes room for the alerts a body of contentLength bytes
// (negative: unknown) can hold, at most maxAlerts (0: no bound), and
// reports whether the budget had it: a notification turned away then is
// answered before its body is read, as one beyond Options.MaxInFlight.
func (c *claim) reserve(contentLength int64, maxAlerts int) bool {
	n := int64(maxAlerts)
	if contentLength >= 0 && (n <= 0 || contentLength/minAlertBytes+1 < n) {
		n = contentLength/minAlertBytes + 1
	}
	if c.budget.max > 0 && (n <= 0 || n > c.budget.max) {
		n = c.budget.max // no bound on one: it may take all there is
	}
	if !c.budget.tryTake(n) {
		return false
	}
	c.reserved = n
	return true
}

// take counts one more alert kept, taking more room should the reserve
// fall short, and reports whether the budget had it.
func (c *claim) take() bool {
	if c.kept == c.reserved {
		if !c.budget.tryTake(1) {
			return false
		}
		c.reserved++
	}
	c.kept++
	return true
}

// trim gives back the room reserved beyond the alerts kept.
func (c *claim) trim() {
	c.budget.give(c.reserved - c.kept)
	c.reserved = c.kept
}

// release gives back all the claim's room.
func (c *claim) release() {
	c.budget.give(c.reserved)
	c.reserved, c.kept = 0, 0
}
