package config

import (
	"strings"
	"testing"
	"time"
)

// quietRoute pages alice through a route whose warnings and infos wait
// through the night (22:00 to 07:00 in Berlin) and the weekend.
const quietRoute = `
time_zone: Europe/Berlin
time_intervals:
  - name: night
    time_intervals:
      - times: [{start_time: '22:00', end_time: '24:00'}, {start_time: '00:00', end_time: '07:00'}]
  - name: weekend
    time_intervals:
      - weekdays: [saturday, sunday]
routes:
  - name: team
    to: [alice]
    quiet_hours:
      time_intervals: [night, weekend]
      severities: [warning, info]
`

func TestQuietHoursLoad(t *testing.T) {
	c := parseSchedules(t, quietRoute)
	q := c.Route("team").QuietHours
	if q == nil || q.Defer != DeferHold {
		t.Fatalf("quiet hours %+v, want defer: hold by default", q)
	}
	if len(q.Intervals.List) != 2 || q.Intervals.Location.String() != "Europe/Berlin" {
		t.Fatalf("intervals %+v, want night and weekend on Europe/Berlin's clock", q.Intervals)
	}
	berlin := q.Intervals.Location
	for _, tc := range []struct {
		name     string
		severity string
		at       time.Time
		want     time.Time // zero: sent at once
	}{
		{"a warning at night waits for 07:00", "warning", time.Date(2024, 3, 6, 23, 30, 0, 0, berlin), time.Date(2024, 3, 7, 7, 0, 0, 0, berlin)},
		{"an info on Friday night waits for Monday 07:00", "info", time.Date(2024, 3, 8, 23, 0, 0, 0, berlin), time.Date(2024, 3, 11, 7, 0, 0, 0, berlin)},
		{"a critical at night goes at once", "critical", time.Date(2024, 3, 6, 23, 30, 0, 0, berlin), time.Time{}},
		{"no severity goes at once", "", time.Date(2024, 3, 6, 23, 30, 0, 0, berlin), time.Time{}},
		{"a warning by day goes at once", "warning", time.Date(2024, 3, 6, 12, 0, 0, 0, berlin), time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := q.Until(tc.severity, tc.at)
			if ok != !tc.want.IsZero() || !got.Equal(tc.want) {
				t.Errorf("Until(%q, %s) = %s %v, want %s", tc.severity, tc.at, got, ok, tc.want)
			}
		})
	}
	var none *QuietHours
	if _, ok := none.Until("warning", time.Now()); ok {
		t.Error("a route without quiet hours defers")
	}
}

// TestQuietHoursPrintedConfigLoads: the effective config prints quiet
// hours, defer included, in a form that loads again.
func TestQuietHoursPrintedConfigLoads(t *testing.T) {
	c := parseSchedules(t, strings.Replace(quietRoute, "      severities:", "      defer: send_at\n      severities:", 1))
	printed := c.String()
	if !strings.Contains(printed, "defer: send_at") {
		t.Errorf("printed config lacks defer:\n%s", printed)
	}
	again, err := parseAt([]byte(printed), "printed.yml", loadedAt)
	if err != nil {
		t.Fatalf("printed config does not load: %v\n%s", err, printed)
	}
	if q := again.Route("team").QuietHours; q.Defer != DeferSendAt || len(q.Intervals.List) != 2 {
		t.Errorf("printed config's quiet hours %+v", q)
	}
}

func TestQuietHoursWarnings(t *testing.T) {
	c := parseSchedules(t, strings.Replace(quietRoute, "[warning, info]", "[warning, warn]", 1))
	want := `config.yml: routes[0].quiet_hours.severities[1]: "warn" is not in limits.severity_order`
	if len(c.Warnings) != 1 || !strings.HasPrefix(c.Warnings[0], want) {
		t.Errorf("warnings %q, want one that starts %q", c.Warnings, want)
	}
}

func TestQuietHoursProblems(t *testing.T) {
	for _, tc := range []struct {
		name, old, new string
		want           []string
	}{
		{"unknown time interval", "[night, weekend]", "[night, wekend]",
			[]string{`routes[0].quiet_hours.time_intervals[1]: unknown time interval "wekend" (did you mean "weekend"?)`}},
		{"no time intervals", "      time_intervals: [night, weekend]\n", "",
			[]string{"routes[0].quiet_hours.time_intervals: is required: the names of time_intervals during which the SMS wait"}},
		{"no severities", "      severities: [warning, info]\n", "",
			[]string{"routes[0].quiet_hours.severities: is required: the values of the severity label whose SMS wait, such as [warning, info]"}},
		{"empty severity", "[warning, info]", "[warning, '']",
			[]string{"routes[0].quiet_hours.severities[1]: is empty"}},
		{"unknown defer", "      severities:", "      defer: later\n      severities:",
			[]string{`routes[0].quiet_hours.defer: "later" is neither hold (kept here, sent when the quiet hours end if still firing) nor send_at (handed to sipgate now, sent by sipgate then)`}},
		{"defer outside quiet_hours", "    quiet_hours:", "    defer: send_at\n    quiet_hours:",
			[]string{"field defer not found in type config.Route"}},
		{"misspelt key", "      severities:", "      severity: [critical]\n      severities:",
			[]string{"field severity not found in type config.QuietHours"}},
		// Loaded on a Wednesday: every day of the week is quiet, so the
		// quiet hours never end.
		{"never ends", "weekdays: [saturday, sunday]", "weekdays: ['sunday:saturday']",
			[]string{"routes[0].quiet_hours.time_intervals: quiet hours from 2024-03-06 12:00 CET on last longer than 30d without a break"}},
		// All of December, found months ahead, and joined to the night
		// before it.
		{"a month long", "weekdays: [saturday, sunday]", "months: [december]",
			[]string{"routes[0].quiet_hours.time_intervals: quiet hours from 2024-11-30 22:00 CET on last longer than 30d"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(quietRoute, tc.old, tc.new, 1)
			if doc == quietRoute {
				t.Fatalf("%q is not in the config", tc.old)
			}
			_, err := parseAt([]byte(schedulesBase+doc), "config.yml", loadedAt)
			if err == nil {
				t.Fatal("loaded")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q:\n%v", want, err)
				}
			}
			if lines := strings.Count(err.Error(), "\n") + 1; lines != len(tc.want) {
				t.Errorf("%d problems, want %d:\n%v", lines, len(tc.want), err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "config.yml: ") {
					t.Errorf("line %q does not name the file", line)
				}
			}
		})
	}
}
