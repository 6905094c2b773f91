package schedule

import (
	"testing"

	"github.com/prometheus/alertmanager/timeinterval"
)

// TestDaysOfMonthInASpringForwardMonth: days_of_month is read on the
// schedule's clock. Alertmanager's timeinterval divides the hours of the
// month by 24, so a month with a spring-forward switch (March in Berlin:
// 743 hours) had "30 days": the last day (-1) was the 30th, and 31 never
// came. The month-end layer paged its person a day early.
func TestDaysOfMonthInASpringForwardMonth(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	dom := func(b, e int) []timeinterval.TimeInterval {
		return []timeinterval.TimeInterval{{DaysOfMonth: []timeinterval.DayOfMonthRange{{InclusiveRange: timeinterval.InclusiveRange{Begin: b, End: e}}}}}
	}
	s := &Schedule{Name: "ops", Location: berlin, Fallback: []string{"fallback"}, Layers: []Layer{
		{Name: "24x7", Members: []string{"alice"}, Start: mustLocal(t, "2024-01-01 00:00"), Shift: week},
		{Name: "month-end", Members: []string{"carol"}, Start: mustLocal(t, "2024-01-01 00:00"), Shift: day, Intervals: dom(-1, -1)},
	}}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	for at, want := range map[string]string{
		"2025-03-30T12:00:00+02:00": "alice", // not the last day of March
		"2025-03-31T12:00:00+02:00": "carol", // the last day of March
		"2025-05-31T12:00:00+02:00": "carol", // control: no switch in May
	} {
		if got := s.At(mustInstant(t, at)).Contacts[0]; got != want {
			t.Errorf("days_of_month [-1]: At(%s) = %s, want %s", at, got, want)
		}
	}
	// Quiet hours on a Berlin clock: "the 31st" and "16th to 31st".
	for _, tc := range []struct {
		iv   []timeinterval.TimeInterval
		at   string
		want bool
	}{
		{dom(31, 31), "2025-03-31T12:00:00+02:00", true},
		{dom(16, 31), "2025-03-31T12:00:00+02:00", true},
		{dom(-1, -1), "2025-03-30T12:00:00+02:00", false},
	} {
		if got := (Intervals{List: tc.iv, Location: berlin}).Contains(mustInstant(t, tc.at)); got != tc.want {
			t.Errorf("days_of_month %d:%d Contains(%s) = %v, want %v", tc.iv[0].DaysOfMonth[0].Begin, tc.iv[0].DaysOfMonth[0].End, tc.at, got, tc.want)
		}
	}
}
