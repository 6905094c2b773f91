package schedule

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/timeinterval"
)

// The reference below answers the same questions the slow, obvious way:
// hand-offs walked one by one from the start, each local time resolved
// with time.Date and a look at the clock around its answer, and changes
// found by asking at every minute. The package must agree with it.

// refIn resolves a local time as LocalTime.In documents, without
// firstAtOrAfter.
func refIn(l LocalTime, loc *time.Location) time.Time {
	t := time.Date(l.Year, l.Month, l.Day, l.Hour, l.Minute, l.Second, 0, loc)
	want := LocalTimeOf(time.Date(l.Year, l.Month, l.Day, l.Hour, l.Minute, l.Second, 0, time.UTC)).wall()
	shows := func(u time.Time) int64 { return LocalTimeOf(u).wall() }
	if shows(t) == want {
		// It exists; the clock may have shown it earlier too, when it was
		// put back (by up to two hours anywhere).
		for _, d := range []time.Duration{2 * time.Hour, time.Hour, 30 * time.Minute} {
			if e := t.Add(-d); shows(e) == want {
				return e
			}
		}
		return t
	}
	// It does not exist: find the jump over it, minute by minute.
	u := t.Truncate(time.Minute)
	if shows(u) < want {
		for shows(u) < want {
			u = u.Add(time.Minute)
		}
		return u
	}
	for shows(u.Add(-time.Minute)) >= want {
		u = u.Add(-time.Minute)
	}
	return u
}

type refModel struct {
	s        *Schedule
	handoffs [][]time.Time // per layer, from the first to one after the model's end
}

func newRefModel(s *Schedule, end time.Time) *refModel {
	m := &refModel{s: s}
	for _, l := range s.Layers {
		var hs []time.Time
		if l.Shift%day == 0 {
			days := int(l.Shift / day)
			for k := 0; len(hs) == 0 || !hs[len(hs)-1].After(end); k++ {
				st := l.Start
				st.Day += k * days
				hs = append(hs, refIn(st, s.Location))
			}
		} else {
			for h := refIn(l.Start, s.Location); len(hs) == 0 || !hs[len(hs)-1].After(end); h = h.Add(l.Shift) {
				hs = append(hs, h)
			}
		}
		m.handoffs = append(m.handoffs, hs)
	}
	return m
}

func (m *refModel) at(t time.Time) Assignment {
	for i := len(m.s.Overrides) - 1; i >= 0; i-- {
		if o := m.s.Overrides[i]; !t.Before(o.Start) && t.Before(o.End) {
			return Assignment{Contacts: []string{o.Contact}, Source: FromOverride}
		}
	}
	for i := len(m.s.Layers) - 1; i >= 0; i-- {
		l := m.s.Layers[i]
		hs := m.handoffs[i]
		k := sort.Search(len(hs), func(j int) bool { return hs[j].After(t) }) - 1
		if k < 0 {
			continue
		}
		if k == len(hs)-1 {
			panic(fmt.Sprintf("reference asked about %s, beyond its end", t))
		}
		active := len(l.Intervals) == 0
		for _, ti := range l.Intervals {
			active = active || contains(ti, t, m.s.Location)
		}
		if active {
			return Assignment{Contacts: []string{l.Members[k%len(l.Members)]}, Source: FromLayer, Layer: l.Name}
		}
	}
	return Assignment{Contacts: slices.Clone(m.s.Fallback), Source: FromFallback}
}

func describe(a Assignment) string {
	return fmt.Sprintf("%s %q %v", a.Source, a.Layer, a.Contacts)
}

var (
	testZones = []string{"UTC", "Europe/Berlin", "Australia/Sydney", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"}
	// testDays are the days of each test zone's daylight-saving switches,
	// and a leap day and a year end for all.
	testDays = map[string][]string{
		"Europe/Berlin":       {"2024-03-31", "2024-10-27", "2025-03-30", "2025-10-26"},
		"Australia/Sydney":    {"2024-04-07", "2024-10-06", "2025-04-06", "2025-10-05"},
		"America/New_York":    {"2024-03-10", "2024-11-03", "2025-03-09", "2025-11-02"},
		"Australia/Lord_Howe": {"2024-04-07", "2024-10-06", "2025-04-06", "2025-10-05"},
	}
	otherDays  = []string{"2028-02-29", "2024-12-31"}
	testShifts = []time.Duration{15 * time.Minute, time.Hour, 90 * time.Minute, 12 * time.Hour, 36 * time.Hour, day, 2 * day, week, 2 * week}
)

// randomSchedule builds a schedule with up to three layers (some limited
// by random time intervals, some starting inside the window), overrides
// and maybe a fallback, and a window of four days around a switch. Every
// hand-off and edge falls on a whole minute, so that asking at every minute
// finds every change.
func randomSchedule(t testing.TB, r *rand.Rand) (s *Schedule, from time.Time, window time.Duration) {
	loc := mustLoc(t, testZones[r.IntN(len(testZones))])
	days := testDays[loc.String()]
	if len(days) == 0 || r.IntN(4) == 0 {
		days = otherDays
	}
	d, err := time.ParseInLocation(time.DateOnly, days[r.IntN(len(days))], loc)
	if err != nil {
		t.Fatal(err)
	}
	window = 4 * day
	from = d.Add(-time.Duration(r.IntN(3*24*60)) * time.Minute)
	minute := func(lo, hi time.Duration) time.Time { // a whole minute in [from+lo, from+hi)
		return from.Add(lo + time.Duration(r.Int64N(int64((hi-lo)/time.Minute)))*time.Minute)
	}
	s = &Schedule{Name: "random", Location: loc}
	for i := range 1 + r.IntN(3) {
		l := Layer{Name: fmt.Sprintf("l%d", i), Shift: testShifts[r.IntN(len(testShifts))]}
		for range 1 + r.IntN(4) {
			l.Members = append(l.Members, string(rune('a'+r.IntN(4))))
		}
		start := minute(-60*day, 0)
		if r.IntN(5) == 0 {
			start = minute(0, window)
		}
		l.Start = LocalTimeOf(start.In(loc))
		l.Start.Minute -= l.Start.Minute % 15
		if r.IntN(4) == 0 {
			l.Start.Hour = 1 + r.IntN(2) // missing or repeated on switch days
		}
		if r.IntN(2) == 0 {
			for range 1 + r.IntN(2) {
				l.Intervals = append(l.Intervals, randomInterval(t, r))
			}
		}
		s.Layers = append(s.Layers, l)
	}
	for range r.IntN(3) {
		start := minute(-day, window)
		s.Overrides = append(s.Overrides, Override{
			Contact: string(rune('w' + r.IntN(3))),
			Start:   start,
			End:     start.Add(time.Duration(1+r.IntN(2000)) * time.Minute),
		})
	}
	if r.IntN(2) == 0 {
		s.Fallback = []string{"f"}
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("random schedule: %v", err)
	}
	return s, from, window
}

func randomInterval(t testing.TB, r *rand.Rand) timeinterval.TimeInterval {
	var ti timeinterval.TimeInterval
	if r.IntN(5) < 4 {
		for range 1 + r.IntN(2) {
			start := r.IntN(24 * 60)
			if r.IntN(3) == 0 {
				start = 60 + r.IntN(150) // around the switches, 01:00 to 03:30
			}
			ti.Times = append(ti.Times, timeinterval.TimeRange{StartMinute: start, EndMinute: start + 1 + r.IntN(24*60-start)})
		}
	}
	if r.IntN(5) < 3 {
		b := r.IntN(7)
		ti.Weekdays = []timeinterval.WeekdayRange{{InclusiveRange: timeinterval.InclusiveRange{Begin: b, End: b + r.IntN(7-b)}}}
	}
	if r.IntN(5) == 0 {
		if r.IntN(2) == 0 {
			b := 1 + r.IntN(28)
			ti.DaysOfMonth = []timeinterval.DayOfMonthRange{{InclusiveRange: timeinterval.InclusiveRange{Begin: b, End: b + r.IntN(29-b)}}}
		} else {
			ti.DaysOfMonth = []timeinterval.DayOfMonthRange{{InclusiveRange: timeinterval.InclusiveRange{Begin: -1 - r.IntN(7), End: -1}}}
		}
	}
	if r.IntN(10) < 3 {
		ti.Location = &timeinterval.Location{Location: mustLoc(t, testZones[r.IntN(len(testZones))])}
	}
	return ti
}

// checkOnCall compares OnCall and At at at with the reference, and checks that
// Since and Until are instants where the answer changes.
func checkOnCall(t *testing.T, s *Schedule, ref *refModel, at time.Time) {
	t.Helper()
	got := s.OnCall(at)
	want := ref.at(at)
	if !got.Assignment.equal(want) {
		t.Fatalf("OnCall(%s) = %s, the reference says %s", at, describe(got.Assignment), describe(want))
	}
	if a := s.At(at); !a.equal(want) {
		t.Fatalf("At(%s) = %s, the reference says %s", at, describe(a), describe(want))
	}
	if !got.Since.IsZero() {
		if got.Since.After(at) || !ref.at(got.Since).equal(want) || ref.at(got.Since.Add(-time.Nanosecond)).equal(want) {
			t.Fatalf("OnCall(%s).Since = %s, which is not where %s began", at, got.Since, describe(want))
		}
	}
	if !got.Until.IsZero() {
		if !got.Until.After(at) || ref.at(got.Until).equal(want) || !ref.at(got.Until.Add(-time.Nanosecond)).equal(want) {
			t.Fatalf("OnCall(%s).Until = %s, which is not where %s ends", at, got.Until, describe(want))
		}
	}
}

// FuzzOnCall compares OnCall with the reference for random schedules and
// instants, to the nanosecond.
func FuzzOnCall(f *testing.F) {
	for seed := range uint64(20) {
		f.Add(seed, seed*7919, uint32(seed*104729))
	}
	f.Fuzz(func(t *testing.T, seed1, seed2 uint64, offset uint32) {
		s, from, window := randomSchedule(t, rand.New(rand.NewPCG(seed1, seed2)))
		at := from.Add(time.Duration(offset) * time.Second % window).Add(time.Duration(offset % 1e9))
		ref := newRefModel(s, at.Add(Horizon+2*day))
		checkOnCall(t, s, ref, at)
	})
}

func TestOnCallMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		s, from, window := randomSchedule(t, r)
		at := from.Add(time.Duration(r.Int64N(int64(window))))
		ref := newRefModel(s, at.Add(Horizon+2*day))
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkOnCall(t, s, ref, at) })
	}
}

// TestLongRotationsMatchReference asks about instants up to three years
// after a layer's start, at any second, where the shortcut through the
// wall clock and the walk from the start are furthest apart.
func TestLongRotationsMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 200 {
		loc := mustLoc(t, testZones[r.IntN(len(testZones))])
		start := LocalTime{2023, time.Month(1 + r.IntN(12)), 1 + r.IntN(28), r.IntN(24), 15 * r.IntN(4), r.IntN(60)}
		shift := testShifts[r.IntN(len(testShifts))]
		if shift < 12*time.Hour {
			shift = day // keep the walk short
		}
		s := &Schedule{Location: loc, Layers: []Layer{{Name: "l", Members: []string{"a", "b", "c", "d", "e"}[:1+r.IntN(5)], Start: start, Shift: shift}}}
		at := refIn(start, loc).Add(time.Duration(r.Int64N(int64(3 * 365 * day))))
		ref := newRefModel(s, at.Add(Horizon+2*shift))
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkOnCall(t, s, ref, at) })
	}
}

// TestChangesMatchStepping compares NextHandoffs and FirstGap with the
// changes the reference finds by asking at every minute of the window.
func TestChangesMatchStepping(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	runs := 40
	if testing.Short() {
		runs = 8
	}
	for i := range runs {
		s, from, window := randomSchedule(t, r)
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			ref := newRefModel(s, from.Add(window+Horizon+2*day))
			var want []string
			var gap time.Time
			prev := ref.at(from)
			if prev.Fallback() {
				gap = from
			}
			for m := from.Add(time.Minute); !m.After(from.Add(window)); m = m.Add(time.Minute) {
				cur := ref.at(m)
				if gap.IsZero() && cur.Fallback() {
					gap = m
				}
				if !cur.equal(prev) {
					want = append(want, m.UTC().Format(time.RFC3339)+" "+describe(cur))
				}
				prev = cur
			}
			var got []string
			for _, h := range s.NextHandoffs(from, 1<<20, window) {
				got = append(got, h.At.UTC().Format(time.RFC3339)+" "+describe(h.Assignment))
			}
			if !slices.Equal(got, want) {
				t.Errorf("NextHandoffs from %s =\n%s\nthe reference says\n%s", from, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			g, ok := s.FirstGap(from, window)
			if ok != !gap.IsZero() || ok && !g.Equal(gap) {
				t.Errorf("FirstGap(%s) = %s, %v; the reference says %s", from, g, ok, gap)
			}
		})
	}
}
