package schedule

import (
	"math/bits"
	"time"

	"github.com/prometheus/alertmanager/timeinterval"
)

// Layer is one rotation: Members take turns, one shift each, in order,
// starting with Members[0] at Start and going round for ever.
type Layer struct {
	// Name says which layer an answer came from (OnCall.Layer); unique in
	// its schedule.
	Name string
	// Members are contact or group names, opaque here: whoever pages
	// resolves them to numbers. A name may appear more than once
	// ([alice, bob, alice, carol]).
	Members []string
	// Start is the first hand-off, on the schedule's clock: Members[0]'s
	// shift begins then. Before it the layer has nobody (see Schedule).
	Start LocalTime
	// Shift is how long each member is on call. A whole number of days
	// (24h, 168h) hands off at Start's time of day on the wall clock,
	// whatever daylight saving does in between; anything else (12h, 90m,
	// 36h) is elapsed time from the first hand-off. At least a second.
	Shift time.Duration
	// Intervals, when not empty, limit the layer to the times that at
	// least one of them contains, with Alertmanager's rules
	// (TimeInterval.ContainsTime). An interval without a Location is read
	// on the schedule's clock, not in UTC as alertmanager.yml reads it:
	// "weekdays 09:00-17:00" in a schedule means the team's office hours.
	// One with a Location is read on that location's clock. The rotation
	// keeps turning while the layer is limited away: hand-offs do not
	// wait for the layer to be active.
	Intervals []timeinterval.TimeInterval
}

// rotation is a Layer's arithmetic in a given zone: the instant of each
// hand-off and the hand-off in force at an instant.
type rotation struct {
	loc     *time.Location
	members []string
	first   time.Time // hand-off 0
	// wall and period are set for whole-day shifts: hand-off k is the first
	// instant at which the clock shows wall+k*period seconds.
	wall, period int64
	shift        time.Duration // for the other shifts: hand-off k is first+k*shift
}

func newRotation(l *Layer, loc *time.Location) rotation {
	r := rotation{loc: loc, members: l.Members, first: l.Start.In(loc), shift: l.Shift}
	if l.Shift%(24*time.Hour) == 0 {
		r.wall = l.Start.wall()
		r.period = int64(l.Shift / time.Second)
	}
	return r
}

// handoff returns the instant of hand-off k (k >= 0).
func (r *rotation) handoff(k int64) time.Time {
	if r.period > 0 {
		return firstAtOrAfter(r.wall+k*r.period, r.loc)
	}
	return addShifts(r.first, k, r.shift)
}

// index returns the number of the last hand-off at or before t, and false
// when t is before the first one.
func (r *rotation) index(t time.Time) (int64, bool) {
	if t.Before(r.first) {
		return 0, false
	}
	if r.period == 0 {
		return shiftsBetween(r.first, t, r.shift), true
	}
	// Hand-off k is the first instant at which the clock shows wall
	// seconds W(k) = r.wall+k*r.period or later. The clock shows at least
	// W(k) at t for the k below, so hand-off k is at or before t. A later
	// one may be too, where the clock was put back: in the repeated hour
	// after a hand-off at its first occurrence, the clock shows less than
	// the hand-off's time again.
	k := max(0, floorDiv(wallOf(t, r.loc)-r.wall, r.period))
	// Once for a clock put back by less than a shift; the bound keeps
	// nonsense (an instant at the end of time.Time's range) from looping.
	for i := 0; i < 4 && !r.handoff(k+1).After(t); i++ {
		k++
	}
	return k, true
}

// member returns who is on call from hand-off k.
func (r *rotation) member(k int64) string {
	return r.members[k%int64(len(r.members))]
}

// nextChange returns the first hand-off after k that gives the shift to
// someone other than member(k), and false when all members are the same.
func (r *rotation) nextChange(k int64) (int64, bool) {
	m := int64(len(r.members))
	for d := int64(1); d < m; d++ {
		if r.member(k+d) != r.member(k) {
			return k + d, true
		}
	}
	return 0, false
}

// runStart returns the first hand-off of the run of shifts of member(k)
// that contains k: member(k) has been on call without a break since then.
func (r *rotation) runStart(k int64) int64 {
	m := int64(len(r.members))
	for d := int64(1); d < m; d++ {
		if k-d < 0 {
			return 0
		}
		if r.member(k-d) != r.member(k) {
			return k - d + 1
		}
	}
	// Every member is member(k): on call without a break since the start.
	return 0
}

// addShifts returns t+k*d for k >= 0 without overflowing time.Duration
// (292 years) on the way.
func addShifts(t time.Time, k int64, d time.Duration) time.Time {
	hi, lo := bits.Mul64(uint64(k), uint64(d))
	if hi >= 1e9 {
		return t.Add(1<<63 - 1) // beyond any instant anyone asks about
	}
	secs, nanos := bits.Div64(hi, lo, 1e9)
	if secs > 1<<62 {
		return t.Add(1<<63 - 1)
	}
	return time.Unix(t.Unix()+int64(secs), int64(t.Nanosecond())+int64(nanos)).In(t.Location())
}

// shiftsBetween returns how many whole shifts of length d fit between from
// and t (from <= t, d >= 1s), without time.Duration's 292-year limit.
func shiftsBetween(from, t time.Time, d time.Duration) int64 {
	secs := t.Unix() - from.Unix()
	nanos := int64(t.Nanosecond()) - int64(from.Nanosecond())
	if nanos < 0 {
		secs--
		nanos += 1e9
	}
	hi, lo := bits.Mul64(uint64(secs), 1e9)
	lo, carry := bits.Add64(lo, uint64(nanos), 0)
	hi += carry
	// hi < d because secs < 2^63 and d >= 1e9: Div64 does not panic.
	q, _ := bits.Div64(hi, lo, uint64(d))
	return int64(q)
}
