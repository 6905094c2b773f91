package schedule

import (
	"fmt"
	"time"
)

// LocalTime is a date and a time of day as a wall clock shows them, without
// a zone: a layer's first hand-off or an override's bounds as a person
// writes them in the config. The schedule's zone turns it into an instant
// (In), so that "09:00" keeps meaning 09:00 on both sides of a
// daylight-saving switch.
type LocalTime struct {
	Year   int
	Month  time.Month
	Day    int
	Hour   int
	Minute int
	Second int
}

// localLayouts are the forms ParseLocalTime accepts: ISO 8601 without a
// zone, with "T" or a space, with or without seconds.
var localLayouts = []string{
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
}

// ParseLocalTime reads "2024-03-04 09:00", "2024-03-04T09:00" or either
// with seconds. A zone or offset is an error: the schedule's zone gives
// the time its meaning, and a second zone would contradict it.
func ParseLocalTime(s string) (LocalTime, error) {
	var lastErr error
	for _, layout := range localLayouts {
		t, err := time.Parse(layout, s)
		if err == nil {
			return LocalTimeOf(t), nil
		}
		// The layout of the same length says best what is wrong
		// ("day out of range") when the shape is right.
		if len(layout) == len(s) {
			lastErr = err
		}
	}
	if lastErr != nil {
		return LocalTime{}, fmt.Errorf("local time %q: %w", s, lastErr)
	}
	return LocalTime{}, fmt.Errorf("local time %q: want YYYY-MM-DD HH:MM or YYYY-MM-DD HH:MM:SS, without a zone", s)
}

// LocalTimeOf returns what a clock in t's location shows at t.
func LocalTimeOf(t time.Time) LocalTime {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return LocalTime{Year: y, Month: mo, Day: d, Hour: h, Minute: mi, Second: s}
}

// String gives the form ParseLocalTime reads back: 2024-03-04T09:00:00.
func (l LocalTime) String() string {
	return fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d", l.Year, int(l.Month), l.Day, l.Hour, l.Minute, l.Second)
}

// MarshalText writes l as String does, for YAML and JSON.
func (l LocalTime) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads l as ParseLocalTime does, so a config struct can hold
// a LocalTime directly.
func (l *LocalTime) UnmarshalText(b []byte) error {
	v, err := ParseLocalTime(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// IsZero reports whether l is the zero LocalTime, i.e. was never set.
func (l LocalTime) IsZero() bool { return l == LocalTime{} }

// valid reports whether l names a real date and time of day, with no field
// that time.Date would have to carry into the next one (no 30 February, no
// 24:00).
func (l LocalTime) valid() bool {
	return LocalTimeOf(time.Date(l.Year, l.Month, l.Day, l.Hour, l.Minute, l.Second, 0, time.UTC)) == l
}

// wall is l as seconds on a clock that never switches: the Unix time of the
// same fields in UTC. Wall seconds of two local times differ by the
// calendar distance between them, which is what whole-day shifts count.
func (l LocalTime) wall() int64 {
	return time.Date(l.Year, l.Month, l.Day, l.Hour, l.Minute, l.Second, 0, time.UTC).Unix()
}

// In returns the instant at which a clock in loc first shows l or a later
// time. For a local time that exists once that is simply that time. For one
// that does not exist, because the clock jumps over it (02:30 on the last
// Sunday of March in Europe/Berlin, where 02:00 becomes 03:00), it is the
// instant of the jump: 03:00 local. For one that exists twice, because the
// clock is put back (02:30 on the last Sunday of October in Europe/Berlin),
// it is the first occurrence: 02:30 CEST, 00:30 UTC.
//
// time.Date is not used for this: it does not promise which way it resolves
// such a time, and in practice it moves a missing 02:30 to 03:30 in Berlin
// but to 01:30 in New York, and picks the second 02:30 in Berlin but the
// first 01:30 in New York (the choice depends on the sign of the offset).
//
// Fields out of range are carried over as time.Date does (31 April is
// 1 May); Schedule.Validate rejects them in a layer's Start.
func (l LocalTime) In(loc *time.Location) time.Time {
	return firstAtOrAfter(l.wall(), loc)
}

// maxOffset is more than any zone's distance from UTC (the tz database has
// none beyond 16 hours), so that a clock in any zone shows less than w at
// the instant w-maxOffset.
const maxOffset = 26 * 3600

// firstAtOrAfter returns the first instant at which a clock in loc shows
// the wall seconds w or later. It walks the zone's periods of constant
// offset from an instant whose clock is surely earlier than w: in each
// period the clock runs evenly, so w is either reached inside it (at
// w-offset), already passed at its start (the clock jumped over w into this
// period: the answer is the jump), or not yet reached.
func firstAtOrAfter(w int64, loc *time.Location) time.Time {
	u := w - maxOffset
	// A handful of periods covers the 52 hours around w in any real zone;
	// the bound only keeps a nonsense zone (time.FixedZone(x, 100h)) from
	// looping.
	for range 64 {
		t := time.Unix(u, 0).In(loc)
		_, off := t.Zone()
		if off >= maxOffset || off <= -maxOffset {
			break
		}
		_, end := t.ZoneBounds()
		c := max(u, w-int64(off))
		if end.IsZero() || c < end.Unix() {
			return time.Unix(c, 0).In(loc)
		}
		if end.Unix() <= u {
			break
		}
		u = end.Unix()
	}
	l := LocalTimeOf(time.Unix(w, 0).UTC())
	return time.Date(l.Year, l.Month, l.Day, l.Hour, l.Minute, l.Second, 0, loc)
}

// wallOf is the wall seconds a clock in loc shows at t (whole seconds,
// rounded down).
func wallOf(t time.Time, loc *time.Location) int64 {
	_, off := t.In(loc).Zone()
	return t.Unix() + int64(off)
}

// floorDiv divides rounding towards minus infinity, so that wall seconds
// before 1970 fall into the right day.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
