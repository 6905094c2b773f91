package config

import (
	"testing"
	"time"
)

// TestHalfMonthLayersOnMarch31: a layer for days 16 to 31 holds on March
// 31 in Berlin, a month of 743 hours that Alertmanager's timeinterval
// took for 30 days: the fallback was paged instead (and, without one, the
// config was rejected as leaving nobody on call).
func TestHalfMonthLayersOnMarch31(t *testing.T) {
	doc := `
time_intervals:
  - {name: first-half, time_intervals: [{days_of_month: ['1:15']}]}
  - {name: second-half, time_intervals: [{days_of_month: ['16:31']}]}
schedules:
  ops:
    time_zone: Europe/Berlin
    fallback: [dave]
    layers:
      - {name: first, members: [alice], start: "2024-01-01 00:00", shift: 1d, active_time_intervals: [first-half]}
      - {name: second, members: [bob], start: "2024-01-01 00:00", shift: 1d, active_time_intervals: [second-half]}
routes: [{name: r, to: [ops]}]
`
	c := parseSchedules(t, doc)
	at := time.Date(2024, 3, 31, 12, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	on, _ := c.OnCallAt("ops", at)
	if on.Source != "layer" || on.Contacts[0] != "bob" {
		t.Errorf("%s: on call %v (%s), want bob (days_of_month 16:31)", at.Format(time.RFC3339), on.Contacts, on.Source)
	}
}
