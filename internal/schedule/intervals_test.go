package schedule

import (
	"testing"
	"time"

	"github.com/prometheus/alertmanager/timeinterval"
)

// nights is 22:00 to 07:00 as alertmanager.yml must write it: two ranges,
// since a range cannot cross midnight.
func nights() []timeinterval.TimeInterval {
	return []timeinterval.TimeInterval{{Times: []timeinterval.TimeRange{
		{StartMinute: 22 * 60, EndMinute: 24 * 60},
		{StartMinute: 0, EndMinute: 7 * 60},
	}}}
}

// weekend is Saturday and Sunday, all day.
func weekend() []timeinterval.TimeInterval {
	return []timeinterval.TimeInterval{{Weekdays: []timeinterval.WeekdayRange{{InclusiveRange: timeinterval.InclusiveRange{Begin: 6, End: 6}}, {InclusiveRange: timeinterval.InclusiveRange{Begin: 0, End: 0}}}}}
}

func TestIntervalsEnd(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	utcIn := func(loc string) []timeinterval.TimeInterval {
		l := mustLoc(t, loc)
		ti := nights()
		ti[0].Location = &timeinterval.Location{Location: l}
		return ti
	}
	for _, tc := range []struct {
		name    string
		iv      Intervals
		at      string
		horizon time.Duration
		want    string // RFC 3339; "" for none
	}{
		{"before midnight: the end is next morning, past the seam", Intervals{nights(), berlin}, "2025-11-25T23:10:00+01:00", week, "2025-11-26T07:00:00+01:00"},
		{"after midnight", Intervals{nights(), berlin}, "2025-11-26T03:00:00+01:00", week, "2025-11-26T07:00:00+01:00"},
		{"last minute", Intervals{nights(), berlin}, "2025-11-26T06:59:59+01:00", week, "2025-11-26T07:00:00+01:00"},
		{"not contained: nothing ends", Intervals{nights(), berlin}, "2025-11-26T07:00:00+01:00", week, ""},
		{"read on the given clock, not UTC", Intervals{nights(), berlin}, "2025-11-25T21:30:00Z", week, "2025-11-26T06:00:00Z"},
		{"an interval's own location wins", Intervals{utcIn("UTC"), berlin}, "2025-11-25T22:30:00Z", week, "2025-11-26T07:00:00Z"},
		{"nil location is UTC", Intervals{nights(), nil}, "2025-11-25T23:00:00Z", week, "2025-11-26T07:00:00Z"},
		{"spring forward: 7:00 comes an hour sooner", Intervals{nights(), berlin}, "2025-03-29T23:00:00+01:00", week, "2025-03-30T07:00:00+02:00"},
		{"fall back: 7:00 comes an hour later", Intervals{nights(), berlin}, "2025-10-25T23:00:00+02:00", week, "2025-10-26T07:00:00+01:00"},
		{"weekend and nights join into one stretch", Intervals{append(weekend(), nights()...), berlin}, "2025-11-28T23:00:00+01:00", week, "2025-12-01T07:00:00+01:00"},
		{"beyond the horizon", Intervals{weekend(), berlin}, "2025-11-29T10:00:00+01:00", 12 * time.Hour, ""},
		{"exactly at the horizon", Intervals{nights(), berlin}, "2025-11-26T06:00:00+01:00", time.Hour, "2025-11-26T07:00:00+01:00"},
		{"no intervals", Intervals{nil, berlin}, "2025-11-26T03:00:00+01:00", week, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.iv.End(mustInstant(t, tc.at), tc.horizon)
			switch {
			case tc.want == "" && ok:
				t.Errorf("End = %s, want none", got.Format(time.RFC3339))
			case tc.want != "" && (!ok || !got.Equal(mustInstant(t, tc.want))):
				t.Errorf("End = %s %v, want %s", got.Format(time.RFC3339), ok, tc.want)
			}
		})
	}
}

func TestIntervalsFirstLongerThan(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	always := []timeinterval.TimeInterval{{Weekdays: []timeinterval.WeekdayRange{{InclusiveRange: timeinterval.InclusiveRange{Begin: 0, End: 6}}}}}
	december := []timeinterval.TimeInterval{{Months: []timeinterval.MonthRange{{InclusiveRange: timeinterval.InclusiveRange{Begin: 12, End: 12}}}}}
	for _, tc := range []struct {
		name    string
		iv      Intervals
		from    string
		longest time.Duration
		want    string // "" for none
	}{
		{"nights are short", Intervals{nights(), berlin}, "2025-11-25T12:00:00+01:00", 10 * time.Hour, ""},
		{"nights longer than 8h", Intervals{nights(), berlin}, "2025-11-25T12:00:00+01:00", 8 * time.Hour, "2025-11-25T22:00:00+01:00"},
		{"always, from the start", Intervals{always, berlin}, "2025-11-25T12:00:00+01:00", 30 * day, "2025-11-25T12:00:00+01:00"},
		{"december, months ahead", Intervals{december, berlin}, "2025-03-01T00:00:00+01:00", 30 * day, "2025-12-01T00:00:00+01:00"},
		{"weekends are 48h but for the one of the October switch", Intervals{weekend(), berlin}, "2025-11-25T12:00:00+01:00", 48 * time.Hour, "2026-10-24T00:00:00+02:00"},
		{"no weekend is longer than 49h", Intervals{weekend(), berlin}, "2025-11-25T12:00:00+01:00", 49 * time.Hour, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.iv.FirstLongerThan(mustInstant(t, tc.from), 366*day, tc.longest)
			switch {
			case tc.want == "" && ok:
				t.Errorf("FirstLongerThan = %s, want none", got.Format(time.RFC3339))
			case tc.want != "" && (!ok || !got.Equal(mustInstant(t, tc.want))):
				t.Errorf("FirstLongerThan = %s %v, want %s", got.Format(time.RFC3339), ok, tc.want)
			}
		})
	}
}

func TestIntervalsContains(t *testing.T) {
	iv := Intervals{nights(), mustLoc(t, "Europe/Berlin")}
	for at, want := range map[string]bool{
		"2025-11-25T21:59:59+01:00": false,
		"2025-11-25T22:00:00+01:00": true,
		"2025-11-26T00:00:00+01:00": true,
		"2025-11-26T06:59:59+01:00": true,
		"2025-11-26T07:00:00+01:00": false,
	} {
		if got := iv.Contains(mustInstant(t, at)); got != want {
			t.Errorf("Contains(%s) = %v, want %v", at, got, want)
		}
	}
	if (Intervals{}).Contains(time.Now()) {
		t.Error("the zero Intervals hold")
	}
}
