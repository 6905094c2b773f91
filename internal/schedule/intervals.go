package schedule

import (
	"time"

	"github.com/prometheus/alertmanager/timeinterval"
)

// Intervals are time intervals in Alertmanager's syntax taken together,
// as a route's quiet hours name them: they hold at an instant when any
// one of them contains it. An interval without a Location is read on
// Location's clock. The zero value holds never.
//
// Where one interval ends and another begins (22:00-24:00 and
// 00:00-07:00, written as two because a range cannot cross midnight),
// they hold without a break: End looks past the seam.
type Intervals struct {
	List     []timeinterval.TimeInterval
	Location *time.Location
}

// Contains reports whether any of the intervals contains t.
func (iv Intervals) Contains(t time.Time) bool {
	for _, ti := range iv.List {
		if contains(ti, t, iv.location()) {
			return true
		}
	}
	return false
}

// End returns the first instant after t at which none of the intervals
// contains the time, and false when they still do at t+horizon (or do
// not contain t: then there is nothing to end). The instant is exact: a
// range's end minute, a midnight, or a daylight-saving switch.
func (iv Intervals) End(t time.Time, horizon time.Duration) (time.Time, bool) {
	if !iv.Contains(t) {
		return time.Time{}, false
	}
	limit := t.Add(horizon)
	edges := iv.edges()
	for c := t; !c.After(limit); {
		c = nextEdge(edges, c)
		if !iv.Contains(c) {
			return c.In(iv.location()), !c.After(limit)
		}
	}
	return time.Time{}, false
}

// FirstLongerThan returns the first instant from from to from+horizon at
// which the intervals begin to hold, or hold already at from, for longer
// than longest without a break; false when they never do. A config check
// uses it to reject quiet hours that would keep an SMS longer than it
// may wait.
func (iv Intervals) FirstLongerThan(from time.Time, horizon, longest time.Duration) (time.Time, bool) {
	if len(iv.List) == 0 {
		return time.Time{}, false
	}
	limit := from.Add(horizon)
	edges := iv.edges()
	in, start := iv.Contains(from), from
	for t := from; !t.After(limit); {
		c := nextEdge(edges, t)
		// Nothing changes between t and c: a stretch that holds at t
		// holds up to c.
		if in && c.Sub(start) > longest {
			return start.In(iv.location()), true
		}
		now := iv.Contains(c)
		if now && !in {
			start = c
		}
		in, t = now, c
	}
	return time.Time{}, false
}

func (iv Intervals) location() *time.Location {
	if iv.Location == nil {
		return time.UTC
	}
	return iv.Location
}

func (iv Intervals) edges() []edges {
	out := make([]edges, len(iv.List))
	for i := range iv.List {
		out[i] = newEdges(&iv.List[i], iv.location())
	}
	return out
}

// nextEdge is the first instant after t at which any of the intervals may
// start or stop containing the time.
func nextEdge(es []edges, t time.Time) time.Time {
	var best time.Time
	for i := range es {
		if c := es[i].next(t); best.IsZero() || c.Before(best) {
			best = c
		}
	}
	return best
}
