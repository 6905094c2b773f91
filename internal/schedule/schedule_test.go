package schedule

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/timeinterval"
)

const (
	day  = 24 * time.Hour
	week = 7 * day
)

func rotationSchedule(t testing.TB, zone, start string, shift time.Duration, members ...string) *Schedule {
	t.Helper()
	s := &Schedule{
		Name:     "test",
		Location: mustLoc(t, zone),
		Layers:   []Layer{{Name: "primary", Members: members, Start: mustLocal(t, start), Shift: shift}},
		Fallback: []string{"fallback"},
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

// businessHours is Monday to Friday, 09:00 to 17:00, on the schedule's
// clock.
func businessHours() []timeinterval.TimeInterval {
	return []timeinterval.TimeInterval{{
		Times:    []timeinterval.TimeRange{{StartMinute: 9 * 60, EndMinute: 17 * 60}},
		Weekdays: []timeinterval.WeekdayRange{{InclusiveRange: timeinterval.InclusiveRange{Begin: 1, End: 5}}},
	}}
}

// check compares an answer with the expected contact, source and bounds;
// since and until are RFC 3339, "" for zero.
func check(t *testing.T, s *Schedule, at, contact string, source Source, layer, since, until string) {
	t.Helper()
	got := s.OnCall(mustInstant(t, at))
	want := []string{contact}
	if source == FromFallback {
		want = s.Fallback
	}
	if !slices.Equal(got.Contacts, want) || got.Source != source || got.Layer != layer {
		t.Errorf("OnCall(%s) = %v from %s %q, want %v from %s %q", at, got.Contacts, got.Source, got.Layer, want, source, layer)
	}
	for _, b := range []struct {
		name string
		got  time.Time
		want string
	}{{"Since", got.Since, since}, {"Until", got.Until, until}} {
		switch {
		case b.want == "" && !b.got.IsZero():
			t.Errorf("OnCall(%s).%s = %s, want zero", at, b.name, b.got.Format(time.RFC3339))
		case b.want != "" && !b.got.Equal(mustInstant(t, b.want)):
			t.Errorf("OnCall(%s).%s = %s, want %s", at, b.name, b.got.Format(time.RFC3339), b.want)
		case !b.got.IsZero() && b.got.Location() != s.Location:
			t.Errorf("OnCall(%s).%s is in %s, want the schedule's %s", at, b.name, b.got.Location(), s.Location)
		}
	}
}

type rotationCase struct {
	name, at, contact, since, until string
}

func runRotation(t *testing.T, s *Schedule, cases []rotationCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check(t, s, tc.at, tc.contact, FromLayer, "primary", tc.since, tc.until)
		})
	}
}

func TestDailyAcrossBerlinSwitches(t *testing.T) {
	// Started weeks before the spring switch: 2024-03-01 is hand-off 0 (a),
	// 03-30 is 29 (c), 03-31 is 30 (a).
	s := rotationSchedule(t, "Europe/Berlin", "2024-03-01 09:00", day, "a", "b", "c")
	runRotation(t, s, []rotationCase{
		{"first hand-off", "2024-03-01T09:00:00+01:00", "a", "2024-03-01T09:00:00+01:00", "2024-03-02T09:00:00+01:00"},
		{"day before the switch", "2024-03-30T09:00:00+01:00", "c", "2024-03-30T09:00:00+01:00", "2024-03-31T09:00:00+02:00"},
		{"shift over the switch is 23h", "2024-03-31T08:59:59+02:00", "c", "2024-03-30T09:00:00+01:00", "2024-03-31T09:00:00+02:00"},
		{"09:00 summer time", "2024-03-31T09:00:00+02:00", "a", "2024-03-31T09:00:00+02:00", "2024-04-01T09:00:00+02:00"},
		{"09:00 UTC is 11:00 local, still a", "2024-04-01T06:59:59Z", "a", "2024-03-31T09:00:00+02:00", "2024-04-01T09:00:00+02:00"},
		// 2024-10-26 is hand-off 239 (c), 10-27 is 240 (a).
		{"shift over the fall switch is 25h", "2024-10-27T08:59:59+01:00", "c", "2024-10-26T09:00:00+02:00", "2024-10-27T09:00:00+01:00"},
		{"09:00 winter time", "2024-10-27T09:00:00+01:00", "a", "2024-10-27T09:00:00+01:00", "2024-10-28T09:00:00+01:00"},
	})
}

func TestNonexistentAndRepeatedHandoffBerlin(t *testing.T) {
	// 02:30 does not exist on 2024-03-31 (hand-off 6, a): it happens at 03:00.
	spring := rotationSchedule(t, "Europe/Berlin", "2024-03-25 02:30", day, "a", "b")
	runRotation(t, spring, []rotationCase{
		{"before the jump", "2024-03-31T01:59:59+01:00", "b", "2024-03-30T02:30:00+01:00", "2024-03-31T03:00:00+02:00"},
		{"at the jump", "2024-03-31T03:00:00+02:00", "a", "2024-03-31T03:00:00+02:00", "2024-04-01T02:30:00+02:00"},
		{"next day back at 02:30", "2024-04-01T02:30:00+02:00", "b", "2024-04-01T02:30:00+02:00", "2024-04-02T02:30:00+02:00"},
	})
	// 02:30 exists twice on 2024-10-27 (hand-off 6, a): the first counts.
	fall := rotationSchedule(t, "Europe/Berlin", "2024-10-21 02:30", day, "a", "b")
	runRotation(t, fall, []rotationCase{
		{"before the first 02:30", "2024-10-27T02:29:59+02:00", "b", "2024-10-26T02:30:00+02:00", "2024-10-27T02:30:00+02:00"},
		{"first 02:30", "2024-10-27T02:30:00+02:00", "a", "2024-10-27T02:30:00+02:00", "2024-10-28T02:30:00+01:00"},
		{"02:10 the second time: still a", "2024-10-27T02:10:00+01:00", "a", "2024-10-27T02:30:00+02:00", "2024-10-28T02:30:00+01:00"},
		{"second 02:30 hands off nothing", "2024-10-27T02:30:00+01:00", "a", "2024-10-27T02:30:00+02:00", "2024-10-28T02:30:00+01:00"},
	})
}

func TestSydney(t *testing.T) {
	// Southern hemisphere: clocks go back in April and forward in October.
	// From 2024-03-01: 04-07 is hand-off 37 (b), 10-06 is 219 (a).
	s := rotationSchedule(t, "Australia/Sydney", "2024-03-01 09:00", day, "a", "b", "c")
	runRotation(t, s, []rotationCase{
		{"April: 25h shift", "2024-04-07T08:59:59+10:00", "a", "2024-04-06T09:00:00+11:00", "2024-04-07T09:00:00+10:00"},
		{"April: 09:00 standard time", "2024-04-07T09:00:00+10:00", "b", "2024-04-07T09:00:00+10:00", "2024-04-08T09:00:00+10:00"},
		{"October: 23h shift", "2024-10-06T08:59:59+11:00", "c", "2024-10-05T09:00:00+10:00", "2024-10-06T09:00:00+11:00"},
		{"October: 09:00 summer time", "2024-10-06T09:00:00+11:00", "a", "2024-10-06T09:00:00+11:00", "2024-10-07T09:00:00+11:00"},
	})
	night := rotationSchedule(t, "Australia/Sydney", "2024-10-01 02:30", day, "a", "b")
	runRotation(t, night, []rotationCase{
		{"October: missing 02:30 at 03:00", "2024-10-06T03:00:00+11:00", "b", "2024-10-06T03:00:00+11:00", "2024-10-07T02:30:00+11:00"},
	})
}

func TestLeapDayAndYearEnd(t *testing.T) {
	leap := rotationSchedule(t, "Europe/Berlin", "2028-02-27 09:00", day, "a", "b", "c")
	runRotation(t, leap, []rotationCase{
		{"29 February", "2028-02-29T12:00:00+01:00", "c", "2028-02-29T09:00:00+01:00", "2028-03-01T09:00:00+01:00"},
		{"1 March", "2028-03-01T09:00:00+01:00", "a", "2028-03-01T09:00:00+01:00", "2028-03-02T09:00:00+01:00"},
	})
	weeklyLeap := rotationSchedule(t, "Europe/Berlin", "2028-02-22 09:00", week, "a", "b")
	runRotation(t, weeklyLeap, []rotationCase{
		{"weekly over the leap day", "2028-03-01T00:00:00+01:00", "b", "2028-02-29T09:00:00+01:00", "2028-03-07T09:00:00+01:00"},
	})
	yearEnd := rotationSchedule(t, "Europe/Berlin", "2024-12-30 09:00", day, "a", "b", "c")
	runRotation(t, yearEnd, []rotationCase{
		{"New Year's Eve", "2024-12-31T23:59:59+01:00", "b", "2024-12-31T09:00:00+01:00", "2025-01-01T09:00:00+01:00"},
		{"New Year's Day", "2025-01-01T09:00:00+01:00", "c", "2025-01-01T09:00:00+01:00", "2025-01-02T09:00:00+01:00"},
	})
	weeklyYearEnd := rotationSchedule(t, "Europe/Berlin", "2024-12-23 09:00", week, "a", "b")
	runRotation(t, weeklyYearEnd, []rotationCase{
		{"weekly over the year end", "2025-01-01T00:00:00+01:00", "b", "2024-12-30T09:00:00+01:00", "2025-01-06T09:00:00+01:00"},
	})
}

func TestWeeklyStartedBeforeTheSwitch(t *testing.T) {
	// Mondays 09:00 from 2024-02-05: 04-01 is hand-off 8 (a).
	s := rotationSchedule(t, "Europe/Berlin", "2024-02-05 09:00", week, "a", "b", "c", "d")
	runRotation(t, s, []rotationCase{
		{"week over the switch is 167h", "2024-04-01T08:59:59+02:00", "d", "2024-03-25T09:00:00+01:00", "2024-04-01T09:00:00+02:00"},
		{"Monday 09:00 summer time", "2024-04-01T09:00:00+02:00", "a", "2024-04-01T09:00:00+02:00", "2024-04-08T09:00:00+02:00"},
	})
	// A year and more after the start: 2023-01-02 + 96 weeks = 2024-11-04.
	old := rotationSchedule(t, "Europe/Berlin", "2023-01-02 09:00", week, "a", "b", "c")
	runRotation(t, old, []rotationCase{
		{"96 weeks on", "2024-11-04T10:00:00+01:00", "a", "2024-11-04T09:00:00+01:00", "2024-11-11T09:00:00+01:00"},
	})
}

func TestSameMemberTwiceIsOneShift(t *testing.T) {
	// [a a b] daily from 2024-01-01: a on 1st and 2nd, b on 3rd, a on 4th
	// to 5th; Since and Until span a's whole turn.
	s := rotationSchedule(t, "UTC", "2024-01-01 09:00", day, "a", "a", "b")
	runRotation(t, s, []rotationCase{
		{"second day of a's turn", "2024-01-02T10:00:00Z", "a", "2024-01-01T09:00:00Z", "2024-01-03T09:00:00Z"},
		{"b's day", "2024-01-03T10:00:00Z", "b", "2024-01-03T09:00:00Z", "2024-01-04T09:00:00Z"},
		{"a again", "2024-01-05T10:00:00Z", "a", "2024-01-04T09:00:00Z", "2024-01-06T09:00:00Z"},
	})
	alone := rotationSchedule(t, "UTC", "2024-01-01 09:00", day, "a")
	runRotation(t, alone, []rotationCase{
		{"one member: since the start, no end", "2024-01-20T10:00:00Z", "a", "2024-01-01T09:00:00Z", ""},
	})
	far := rotationSchedule(t, "UTC", "2020-01-01 09:00", day, "a", "b")
	runRotation(t, far, []rotationCase{
		{"four years on", "2024-01-20T10:00:00Z", "a", "2024-01-20T09:00:00Z", "2024-01-21T09:00:00Z"},
	})
	farAlone := rotationSchedule(t, "UTC", "2020-01-01 09:00", day, "a")
	runRotation(t, farAlone, []rotationCase{
		{"Since only within Horizon", "2024-01-20T10:00:00Z", "a", "", ""},
	})
}

func TestSubDayShifts(t *testing.T) {
	// 12h is elapsed time: 21:00 CET, then 10:00 CEST (08:00Z), 22:00 CEST.
	s := rotationSchedule(t, "Europe/Berlin", "2024-03-30 21:00", 12*time.Hour, "a", "b")
	runRotation(t, s, []rotationCase{
		{"spring: a's shift", "2024-03-31T09:59:59+02:00", "a", "2024-03-30T21:00:00+01:00", "2024-03-31T10:00:00+02:00"},
		{"spring: wall time moved to 10:00", "2024-03-31T10:00:00+02:00", "b", "2024-03-31T10:00:00+02:00", "2024-03-31T22:00:00+02:00"},
	})
	fall := rotationSchedule(t, "Europe/Berlin", "2024-10-26 21:00", 12*time.Hour, "a", "b")
	runRotation(t, fall, []rotationCase{
		{"fall: wall time moved to 08:00", "2024-10-27T08:00:00+01:00", "b", "2024-10-27T08:00:00+01:00", "2024-10-27T20:00:00+01:00"},
	})
	// 36h is not a whole number of days: elapsed time too.
	long := rotationSchedule(t, "Europe/Berlin", "2024-03-30 09:00", 36*time.Hour, "a", "b")
	runRotation(t, long, []rotationCase{
		{"36h over the switch", "2024-03-31T22:00:00+02:00", "b", "2024-03-31T22:00:00+02:00", "2024-04-02T10:00:00+02:00"},
	})
	secs := rotationSchedule(t, "UTC", "2024-01-01 00:00", 10*time.Second, "a", "b", "c")
	runRotation(t, secs, []rotationCase{
		{"10s shifts", "2024-01-01T00:00:25Z", "c", "2024-01-01T00:00:20Z", "2024-01-01T00:00:30Z"},
		{"the instant of a hand-off belongs to the new shift", "2024-01-01T00:00:30Z", "a", "2024-01-01T00:00:30Z", "2024-01-01T00:00:40Z"},
	})
}

func TestFarInstants(t *testing.T) {
	// 10s shifts 476 years on: more nanoseconds than time.Duration holds.
	s := rotationSchedule(t, "UTC", "2024-01-01 00:00", 10*time.Second, "a", "b", "c")
	at := mustInstant(t, "2500-06-01T12:00:05Z")
	k := (at.Unix() - mustInstant(t, "2024-01-01T00:00:00Z").Unix()) / 10
	want := s.Layers[0].Members[k%3]
	if got := s.OnCall(at); got.Contacts[0] != want || !got.Since.Equal(at.Add(-5*time.Second)) {
		t.Errorf("OnCall(%s) = %v since %s, want %s since %s", at, got.Contacts, got.Since, want, at.Add(-5*time.Second))
	}
	// The ends of time.Time's range answer without hanging or panicking.
	daily := rotationSchedule(t, "Europe/Berlin", "2024-01-01 09:00", day, "a", "b")
	for _, at := range []time.Time{{}, time.Unix(1<<62, 0), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)} {
		daily.OnCall(at)
		s.OnCall(at)
	}
}

func TestBeforeFirstHandoff(t *testing.T) {
	s := rotationSchedule(t, "Europe/Berlin", "2024-03-04 09:00", week, "a", "b")
	got := s.OnCall(mustInstant(t, "2024-03-01T12:00:00+01:00"))
	if !got.Fallback() || !slices.Equal(got.Contacts, []string{"fallback"}) {
		t.Errorf("before the first hand-off: %+v, want the fallback", got)
	}
	if want := mustInstant(t, "2024-03-04T09:00:00+01:00"); !got.Until.Equal(want) {
		t.Errorf("Until = %s, want the first hand-off %s", got.Until, want)
	}
	if !got.Since.IsZero() {
		t.Errorf("Since = %s, want zero: nothing happened before", got.Since)
	}
	if g, ok := s.FirstGap(mustInstant(t, "2024-03-01T12:00:00+01:00"), Horizon); !ok || !g.Equal(mustInstant(t, "2024-03-01T12:00:00+01:00")) {
		t.Errorf("FirstGap before the start = %s, %v; want the instant itself", g, ok)
	}
}

// layered is a 24/7 weekly rotation under a business-hours daily one, as
// a team would write it.
func layered(t testing.TB) *Schedule {
	t.Helper()
	s := &Schedule{
		Name:     "ops",
		Location: mustLoc(t, "Europe/Berlin"),
		Layers: []Layer{
			{Name: "24/7", Members: []string{"alice", "bob"}, Start: mustLocal(t, "2024-01-01 09:00"), Shift: week},
			{Name: "office", Members: []string{"carol", "dave"}, Start: mustLocal(t, "2024-01-01 09:00"), Shift: day, Intervals: businessHours()},
		},
		Fallback: []string{"boss"},
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLayers(t *testing.T) {
	s := layered(t)
	// 2024-03-04 is a Monday: week 9 (bob) of 24/7, day 63 (dave) of office.
	for _, tc := range []struct {
		name, at, contact, layer, since, until string
	}{
		{"office hours", "2024-03-04T10:00:00+01:00", "dave", "office", "2024-03-04T09:00:00+01:00", "2024-03-04T17:00:00+01:00"},
		{"before office hours", "2024-03-04T08:59:59+01:00", "alice", "24/7", "2024-03-01T17:00:00+01:00", "2024-03-04T09:00:00+01:00"},
		{"office ends at 17:00 exclusive", "2024-03-04T17:00:00+01:00", "bob", "24/7", "2024-03-04T17:00:00+01:00", "2024-03-05T09:00:00+01:00"},
		{"Tuesday office", "2024-03-05T09:00:00+01:00", "carol", "office", "2024-03-05T09:00:00+01:00", "2024-03-05T17:00:00+01:00"},
		{"Saturday", "2024-03-09T12:00:00+01:00", "bob", "24/7", "2024-03-08T17:00:00+01:00", "2024-03-11T09:00:00+01:00"},
		{"office hours are wall clock in summer", "2024-04-02T16:30:00+02:00", "carol", "office", "2024-04-02T09:00:00+02:00", "2024-04-02T17:00:00+02:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check(t, s, tc.at, tc.contact, FromLayer, tc.layer, tc.since, tc.until)
		})
	}
}

func TestOverrides(t *testing.T) {
	s := layered(t)
	s.Overrides = []Override{
		{Contact: "erin", Start: mustInstant(t, "2024-03-04T12:00:00+01:00"), End: mustInstant(t, "2024-03-04T14:00:00+01:00")},
		// Overlaps the first; the later one wins while both apply.
		{Contact: "frank", Start: mustInstant(t, "2024-03-04T13:00:00+01:00"), End: mustInstant(t, "2024-03-04T20:00:00+01:00")},
		// Back to back with the same contact: one stretch.
		{Contact: "gina", Start: mustInstant(t, "2024-03-09T00:00:00+01:00"), End: mustInstant(t, "2024-03-10T00:00:00+01:00")},
		{Contact: "gina", Start: mustInstant(t, "2024-03-10T00:00:00+01:00"), End: mustInstant(t, "2024-03-11T00:00:00+01:00")},
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, at, contact string
		source            Source
		layer             string
		since, until      string
	}{
		{"over office hours", "2024-03-04T12:00:00+01:00", "erin", FromOverride, "", "2024-03-04T12:00:00+01:00", "2024-03-04T13:00:00+01:00"},
		{"later override wins", "2024-03-04T13:30:00+01:00", "frank", FromOverride, "", "2024-03-04T13:00:00+01:00", "2024-03-04T20:00:00+01:00"},
		{"over the 24/7 layer", "2024-03-04T19:59:59+01:00", "frank", FromOverride, "", "2024-03-04T13:00:00+01:00", "2024-03-04T20:00:00+01:00"},
		{"end is exclusive", "2024-03-04T20:00:00+01:00", "bob", FromLayer, "24/7", "2024-03-04T20:00:00+01:00", "2024-03-05T09:00:00+01:00"},
		{"before", "2024-03-04T11:59:59+01:00", "dave", FromLayer, "office", "2024-03-04T09:00:00+01:00", "2024-03-04T12:00:00+01:00"},
		{"back to back", "2024-03-10T12:00:00+01:00", "gina", FromOverride, "", "2024-03-09T00:00:00+01:00", "2024-03-11T00:00:00+01:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check(t, s, tc.at, tc.contact, tc.source, tc.layer, tc.since, tc.until)
		})
	}
}

func TestFallback(t *testing.T) {
	s := layered(t)
	s.Layers = s.Layers[1:] // office hours only
	check(t, s, "2024-03-09T12:00:00+01:00", "", FromFallback, "", "2024-03-08T17:00:00+01:00", "2024-03-11T09:00:00+01:00")
	got := s.OnCall(mustInstant(t, "2024-03-09T12:00:00+01:00"))
	if !got.Fallback() {
		t.Error("Fallback() = false for an answer from the fallback")
	}
	got.Contacts[0] = "changed"
	if s.Fallback[0] != "boss" {
		t.Error("changing an answer's Contacts changed the schedule's Fallback")
	}
	if s.OnCall(mustInstant(t, "2024-03-08T12:00:00+01:00")).Fallback() {
		t.Error("Fallback() = true for an answer from a layer")
	}
	s.Fallback = nil
	if got := s.OnCall(mustInstant(t, "2024-03-09T12:00:00+01:00")); !got.Fallback() || len(got.Contacts) != 0 {
		t.Errorf("no fallback: %+v, want Source fallback and no contacts", got)
	}
}

func TestIntervalWithItsOwnLocation(t *testing.T) {
	s := layered(t)
	ny := businessHours()
	ny[0].Location = &timeinterval.Location{Location: mustLoc(t, "America/New_York")}
	s.Layers[1].Intervals = ny
	// 15:00 in Berlin is 09:00 in New York; 2024-03-04 09:00 Berlin is
	// 03:00 in New York, outside its office hours.
	check(t, s, "2024-03-04T15:00:00+01:00", "dave", FromLayer, "office", "2024-03-04T15:00:00+01:00", "2024-03-04T23:00:00+01:00")
	check(t, s, "2024-03-04T10:00:00+01:00", "bob", FromLayer, "24/7", "2024-03-04T09:00:00+01:00", "2024-03-04T15:00:00+01:00")
	// The US switched on 2024-03-10, Europe three weeks later: New York's
	// 09:00 is 14:00 in Berlin in between.
	check(t, s, "2024-03-11T14:00:00+01:00", "carol", FromLayer, "office", "2024-03-11T14:00:00+01:00", "2024-03-11T22:00:00+01:00")
}

func TestIntervalsOnSwitchDays(t *testing.T) {
	s := layered(t)
	office := s.Layers[1]
	// 02:30 to 02:45 on Sundays: missing on the spring day, twice on the
	// fall day.
	office.Intervals = []timeinterval.TimeInterval{{
		Times:    []timeinterval.TimeRange{{StartMinute: 150, EndMinute: 165}},
		Weekdays: []timeinterval.WeekdayRange{{InclusiveRange: timeinterval.InclusiveRange{Begin: 0, End: 0}}},
	}}
	night := Layer{
		// 02:30 to 04:00 every day: begins at the jump on the spring day.
		Name: "night", Members: []string{"nina"}, Start: mustLocal(t, "2024-01-01 00:00"), Shift: day,
		Intervals: []timeinterval.TimeInterval{{Times: []timeinterval.TimeRange{{StartMinute: 150, EndMinute: 240}}}},
	}
	s.Layers = []Layer{s.Layers[0], night, office}
	// 2024-03-31 is in week 12 of 24/7 (alice).
	check(t, s, "2024-03-31T01:59:59+01:00", "alice", FromLayer, "24/7", "2024-03-30T04:00:00+01:00", "2024-03-31T03:00:00+02:00")
	check(t, s, "2024-03-31T03:10:00+02:00", "nina", FromLayer, "night", "2024-03-31T03:00:00+02:00", "2024-03-31T04:00:00+02:00")
	// Before 09:00 on 2024-10-27 office is in its day 299 (dave), 24/7 in
	// week 42 (alice).
	got := s.NextHandoffs(mustInstant(t, "2024-10-27T00:00:00+02:00"), 10, 6*time.Hour)
	var lines []string
	for _, h := range got {
		lines = append(lines, h.At.Format(time.RFC3339)+" "+strings.Join(h.Contacts, ","))
	}
	want := []string{
		"2024-10-27T02:30:00+02:00 dave",
		"2024-10-27T02:45:00+02:00 nina",
		"2024-10-27T02:00:00+01:00 alice", // the clock is put back to before 02:30
		"2024-10-27T02:30:00+01:00 dave",
		"2024-10-27T02:45:00+01:00 nina",
		"2024-10-27T04:00:00+01:00 alice",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("NextHandoffs on the fall day =\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	// Since looks back across the switch.
	check(t, s, "2024-10-27T02:40:00+01:00", "dave", FromLayer, "office", "2024-10-27T02:30:00+01:00", "2024-10-27T02:45:00+01:00")
	check(t, s, "2024-10-27T02:10:00+01:00", "alice", FromLayer, "24/7", "2024-10-27T02:00:00+01:00", "2024-10-27T02:30:00+01:00")
}

func TestSubSecondOverrides(t *testing.T) {
	s := rotationSchedule(t, "UTC", "2024-01-01 00:00", week, "a")
	base := mustInstant(t, "2024-01-02T00:00:00Z")
	s.Overrides = []Override{
		{Contact: "h", Start: base, End: base.Add(1500 * time.Millisecond)},
		{Contact: "h", Start: base.Add(2 * time.Second), End: base.Add(time.Hour)},
	}
	got := s.OnCall(base.Add(time.Minute))
	if want := base.Add(2 * time.Second); !got.Since.Equal(want) {
		t.Errorf("Since = %s, want %s: a for half a second before", got.Since, want)
	}
	if hs := s.NextHandoffs(base, 3, time.Hour); len(hs) != 3 || !hs[0].At.Equal(base.Add(1500*time.Millisecond)) || hs[0].Contacts[0] != "a" {
		t.Errorf("NextHandoffs = %v", hs)
	}
}

func TestNextHandoffs(t *testing.T) {
	type want struct {
		at, contact string
		source      Source
	}
	for _, tc := range []struct {
		name    string
		s       *Schedule
		at      string
		n       int
		horizon time.Duration
		want    []want
	}{
		{
			name: "daily across the spring switch, not at the instant itself",
			s:    rotationSchedule(t, "Europe/Berlin", "2024-03-01 09:00", day, "a", "b"),
			at:   "2024-03-30T09:00:00+01:00", n: 3, horizon: Horizon,
			want: []want{
				{"2024-03-31T09:00:00+02:00", "a", FromLayer},
				{"2024-04-01T09:00:00+02:00", "b", FromLayer},
				{"2024-04-02T09:00:00+02:00", "a", FromLayer},
			},
		},
		{
			name: "daily across the fall switch",
			s:    rotationSchedule(t, "Europe/Berlin", "2024-10-01 09:00", day, "a", "b"),
			at:   "2024-10-26T12:00:00+02:00", n: 2, horizon: Horizon,
			want: []want{
				{"2024-10-27T09:00:00+01:00", "a", FromLayer},
				{"2024-10-28T09:00:00+01:00", "b", FromLayer},
			},
		},
		{
			name: "horizon cuts the list",
			s:    rotationSchedule(t, "Europe/Berlin", "2024-03-01 09:00", day, "a", "b"),
			at:   "2024-03-30T09:00:00+01:00", n: 10, horizon: 47 * time.Hour,
			want: []want{
				{"2024-03-31T09:00:00+02:00", "a", FromLayer},
				{"2024-04-01T09:00:00+02:00", "b", FromLayer},
			},
		},
		{
			name: "horizon is inclusive",
			s:    rotationSchedule(t, "UTC", "2024-03-01 09:00", day, "a", "b"),
			at:   "2024-03-30T09:00:00Z", n: 10, horizon: day,
			want: []want{{"2024-03-31T09:00:00Z", "a", FromLayer}},
		},
		{
			name: "same member twice is no hand-off",
			s:    rotationSchedule(t, "UTC", "2024-01-01 09:00", day, "a", "a", "b"),
			at:   "2024-01-01T09:00:00Z", n: 3, horizon: Horizon,
			want: []want{
				{"2024-01-03T09:00:00Z", "b", FromLayer},
				{"2024-01-04T09:00:00Z", "a", FromLayer},
				{"2024-01-06T09:00:00Z", "b", FromLayer},
			},
		},
		{
			name: "one member: none",
			s:    rotationSchedule(t, "UTC", "2024-01-01 09:00", time.Second, "a"),
			at:   "2024-01-01T09:00:00Z", n: 3, horizon: Horizon,
		},
		{
			name: "from before the start",
			s:    rotationSchedule(t, "UTC", "2024-01-01 09:00", day, "a", "b"),
			at:   "2023-12-31T00:00:00Z", n: 2, horizon: Horizon,
			want: []want{
				{"2024-01-01T09:00:00Z", "a", FromLayer},
				{"2024-01-02T09:00:00Z", "b", FromLayer},
			},
		},
		{
			// Friday afternoon: office ends, the weekly 24/7 hand-off on
			// Monday 09:00 is hidden by office hours and shows at 17:00.
			name: "layers",
			s:    layered(t),
			at:   "2024-03-08T16:00:00+01:00", n: 4, horizon: Horizon,
			want: []want{
				{"2024-03-08T17:00:00+01:00", "bob", FromLayer},
				{"2024-03-11T09:00:00+01:00", "carol", FromLayer},
				{"2024-03-11T17:00:00+01:00", "alice", FromLayer},
				{"2024-03-12T09:00:00+01:00", "dave", FromLayer},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.s.NextHandoffs(mustInstant(t, tc.at), tc.n, tc.horizon)
			var lines, wantLines []string
			for _, h := range got {
				lines = append(lines, h.At.Format(time.RFC3339)+" "+strings.Join(h.Contacts, ",")+" "+string(h.Source))
				if h.At.Location() != tc.s.Location {
					t.Errorf("hand-off at %s is in %s, want the schedule's zone", h.At, h.At.Location())
				}
			}
			for _, w := range tc.want {
				wantLines = append(wantLines, mustInstant(t, w.at).In(tc.s.Location).Format(time.RFC3339)+" "+w.contact+" "+string(w.source))
			}
			if !slices.Equal(lines, wantLines) {
				t.Errorf("NextHandoffs =\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(wantLines, "\n"))
			}
		})
	}
}

func TestFirstGap(t *testing.T) {
	officeOnly := layered(t)
	officeOnly.Layers = officeOnly.Layers[1:]
	withOverride := layered(t)
	withOverride.Layers = withOverride.Layers[1:]
	withOverride.Overrides = []Override{{Contact: "erin", Start: mustInstant(t, "2024-03-08T17:00:00+01:00"), End: mustInstant(t, "2024-03-11T09:00:00+01:00")}}
	only2024 := rotationSchedule(t, "Europe/Berlin", "2024-01-01 09:00", week, "a", "b")
	only2024.Layers[0].Intervals = []timeinterval.TimeInterval{{Years: []timeinterval.YearRange{{InclusiveRange: timeinterval.InclusiveRange{Begin: 2024, End: 2024}}}}}
	for _, tc := range []struct {
		name    string
		s       *Schedule
		from    string
		horizon time.Duration
		want    string // "" for none
	}{
		{"24/7 under office hours: none", layered(t), "2024-03-08T12:00:00+01:00", Horizon, ""},
		{"office hours only: Friday 17:00", officeOnly, "2024-03-08T12:00:00+01:00", Horizon, "2024-03-08T17:00:00+01:00"},
		{"in a gap: from itself", officeOnly, "2024-03-09T12:00:00+01:00", Horizon, "2024-03-09T12:00:00+01:00"},
		{"horizon too short", officeOnly, "2024-03-08T12:00:00+01:00", 4 * time.Hour, ""},
		{"horizon is inclusive", officeOnly, "2024-03-08T12:00:00+01:00", 5 * time.Hour, "2024-03-08T17:00:00+01:00"},
		{"override fills the weekend", withOverride, "2024-03-08T12:00:00+01:00", Horizon, "2024-03-11T17:00:00+01:00"},
		{"a layer limited to 2024 ends", only2024, "2024-12-01T00:00:00+01:00", Horizon, "2025-01-01T00:00:00+01:00"},
		{"before the first hand-off", only2024, "2023-12-01T00:00:00+01:00", Horizon, "2023-12-01T00:00:00+01:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.s.FirstGap(mustInstant(t, tc.from), tc.horizon)
			switch {
			case tc.want == "" && ok:
				t.Errorf("FirstGap = %s, want none", got.Format(time.RFC3339))
			case tc.want != "" && (!ok || !got.Equal(mustInstant(t, tc.want))):
				t.Errorf("FirstGap = %s, %v; want %s", got.Format(time.RFC3339), ok, tc.want)
			}
		})
	}
}

func TestProblems(t *testing.T) {
	bad := &Schedule{
		Layers: []Layer{
			{Name: "x", Members: []string{"a", ""}, Start: LocalTime{2024, 2, 30, 9, 0, 0}, Shift: 500 * time.Millisecond},
			{Name: "x", Intervals: []timeinterval.TimeInterval{{
				Times:    []timeinterval.TimeRange{{StartMinute: 600, EndMinute: 500}},
				Location: &timeinterval.Location{},
			}}},
			{Members: []string{"a"}, Start: LocalTime{2024, 1, 1, 0, 0, 0}, Shift: day},
		},
		Overrides: []Override{
			{Start: mustInstant(t, "2024-01-02T00:00:00Z"), End: mustInstant(t, "2024-01-01T00:00:00Z")},
			{Contact: "a", Start: mustInstant(t, "2024-01-02T00:00:00Z")},
		},
		Fallback: []string{"ok", ""},
	}
	var got []string
	for _, p := range bad.Problems() {
		got = append(got, p.String())
	}
	want := []string{
		"time_zone: is required",
		"layers[0].members[1]: is empty",
		"layers[0].start: 2024-02-30T09:00:00 is not a date and time of day",
		"layers[0].shift: must be at least 1s",
		`layers[1].name: "x" is used by an earlier layer`,
		"layers[1].members: needs at least one member",
		"layers[1].start: is required",
		"layers[1].shift: must be at least 1s",
		"layers[1].intervals[0].location: is empty",
		"layers[1].intervals[0].times[0]: must be a range within 00:00 to 24:00",
		"layers[2].name: is required",
		"overrides[0].contact: is required",
		"overrides[0].end: must be after start",
		"overrides[1].end: is required",
		"fallback[1]: is empty",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Problems() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	err := bad.Validate()
	if err == nil || strings.Count(err.Error(), "\n") != len(want)-1 {
		t.Errorf("Validate() = %v, want one line per problem", err)
	}
	if empty := (&Schedule{Location: time.UTC}).Problems(); len(empty) != 1 || empty[0].Path != "layers" {
		t.Errorf("no layers: %v", empty)
	}
	if err := layered(t).Validate(); err != nil {
		t.Errorf("a good schedule: %v", err)
	}
}

func TestInvalidSchedulePanics(t *testing.T) {
	for name, s := range map[string]*Schedule{
		"no location": {Layers: []Layer{{Name: "x", Members: []string{"a"}, Shift: day}}},
		"no members":  {Location: time.UTC, Layers: []Layer{{Name: "x", Shift: day}}},
		"zero shift":  {Location: time.UTC, Layers: []Layer{{Name: "x", Members: []string{"a"}}}},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("OnCall on an invalid schedule did not panic")
				}
			}()
			s.OnCall(time.Unix(0, 0))
		})
	}
}

func BenchmarkOnCall(b *testing.B) {
	s := layered(b)
	at := mustInstant(b, "2024-03-06T12:00:00+01:00")
	for b.Loop() {
		s.OnCall(at)
	}
}

func BenchmarkFirstGapYear(b *testing.B) {
	s := layered(b)
	from := mustInstant(b, "2024-03-06T12:00:00+01:00")
	for b.Loop() {
		if _, ok := s.FirstGap(from, 365*day); ok {
			b.Fatal("gap in a schedule with a 24/7 layer")
		}
	}
}

func BenchmarkNextHandoffsSeconds(b *testing.B) {
	s := rotationSchedule(b, "UTC", "2024-01-01 00:00", time.Second, "a", "b")
	at := mustInstant(b, "2024-03-06T12:00:00Z")
	for b.Loop() {
		if hs := s.NextHandoffs(at, 100, Horizon); len(hs) != 100 {
			b.Fatalf("%d hand-offs", len(hs))
		}
	}
}
