package schedule

import (
	"slices"
	"time"

	"github.com/prometheus/alertmanager/timeinterval"
)

// timeinterval has no "when does this change next". Rather than stepping
// through time minute by minute, edges lists the only instants at which
// ContainsTime can change its answer, and the caller asks ContainsTime
// there. The answer depends only on what the interval's clock shows, to
// the minute: the date (for weekdays, days of month, months, years) and the
// minute of the day (for times). Within one period of constant offset the
// clock runs evenly, so the answer can change only where the clock reaches
// midnight or the start or end minute of one of the times, or where the
// period ends and the clock jumps. Both edge functions are exact: no edge
// is missed, and an edge where nothing changes costs one ContainsTime.

// contains reports whether ti contains t, read on loc's clock unless ti
// names its own location. ti is asked about the time its clock shows, as
// the same wall time in UTC: timeinterval counts a month's days by its
// length in hours, so in a month with a spring-forward switch (March in
// Berlin: 743 hours) it counts one day short, and days_of_month 31 or -1
// held on the wrong day. The answer depends on the clock's reading only
// (see below), which UTC shows without switches.
func contains(ti timeinterval.TimeInterval, t time.Time, loc *time.Location) bool {
	if ti.Location != nil && ti.Location.Location != nil {
		loc = ti.Location.Location
	}
	ti.Location = nil
	lt := t.In(loc)
	y, mo, d := lt.Date()
	h, mi, sec := lt.Clock()
	return ti.ContainsTime(time.Date(y, mo, d, h, mi, sec, lt.Nanosecond(), time.UTC))
}

// edges is what the edge functions need of one interval.
type edges struct {
	loc     *time.Location // the clock the interval is read on
	minutes []int64        // seconds after midnight where it may change, ascending, starting with 0
}

func newEdges(ti *timeinterval.TimeInterval, scheduleLoc *time.Location) edges {
	e := edges{loc: scheduleLoc, minutes: []int64{0}}
	if ti.Location != nil && ti.Location.Location != nil {
		e.loc = ti.Location.Location
	}
	for _, tr := range ti.Times {
		for _, m := range []int{tr.StartMinute, tr.EndMinute} {
			if m > 0 && m < 24*60 {
				e.minutes = append(e.minutes, int64(m)*60)
			}
		}
	}
	slices.Sort(e.minutes)
	e.minutes = slices.Compact(e.minutes)
	return e
}

// next returns the first instant after t at which the interval may start
// or stop containing the time.
func (e *edges) next(t time.Time) time.Time {
	lt := t.In(e.loc)
	_, off := lt.Zone()
	_, end := lt.ZoneBounds()
	// Candidates are whole seconds: one is after t exactly when its wall
	// seconds are after t's, rounded down.
	w := t.Unix() + int64(off)
	day := floorDiv(w, 86400) * 86400
	c := day + 86400 // the next midnight, unless a minute comes first
	for _, m := range e.minutes {
		if day+m > w {
			c = day + m
			break
		}
	}
	u := c - int64(off)
	if !end.IsZero() && u >= end.Unix() {
		return end
	}
	return time.Unix(u, 0)
}

// prev returns the last instant at or before t at which the interval may
// have started or stopped containing the time.
func (e *edges) prev(t time.Time) time.Time {
	lt := t.In(e.loc)
	_, off := lt.Zone()
	start, _ := lt.ZoneBounds()
	w := t.Unix() + int64(off)
	day := floorDiv(w, 86400) * 86400
	c := day // minutes[0] is midnight
	for _, m := range e.minutes {
		if day+m <= w {
			c = day + m
		}
	}
	u := c - int64(off)
	if !start.IsZero() && u < start.Unix() {
		return start
	}
	return time.Unix(u, 0)
}
