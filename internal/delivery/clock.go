package delivery

import "time"

// Clock is the time a Deliverer waits on between retries and tells the
// time of digests by. Context deadlines are not on it: they run on the
// system clock whatever the Clock is.
type Clock interface {
	Now() time.Time
	// After is time.After: a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// systemClock is the real time.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// After leaves an abandoned timer to the garbage collector, which since Go
// 1.23 reclaims timers nobody references, fired or not.
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
