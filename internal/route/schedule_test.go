package route

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
)

// scheduleCfg has an hourly rotation of alice and the db group from
// midnight UTC on 1 January 2024, and a schedule that starts only on
// 1 February, before which its fallback, carol, is paged.
const scheduleCfg = `
sipgate: {dry_run: true}
contacts:
  alice: {number: "+4915100000001"}
  bob: {number: "+4915100000002"}
  carol: {number: "+4915100000003"}
  dave: {number: "+4915100000004"}
groups:
  db: [bob, dave]
schedules:
  ops:
    time_zone: UTC
    layers: [{members: [alice, db], start: "2024-01-01 00:00", shift: 1h}]
  later:
    time_zone: Europe/Berlin
    layers: [{members: [dave], start: "2024-02-01 00:00", shift: 1d}]
    fallback: [carol]
routes:
  - name: critical
    matchers: ['severity="critical"']
    to: [ops, alice]
    continue: true
  - name: db
    matchers: ['team="db"']
    to: [later, ops]
unmatched: {to: [later]}
`

func TestPagesSchedules(t *testing.T) {
	c, err := config.Parse([]byte(scheduleCfg), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name      string
		at        time.Time
		alerts    []template.Alert
		want      string
		fallbacks string
	}{
		{"alice on call and named too: one page", at("2024-01-01T00:30:00Z"),
			[]template.Alert{alert("A", "severity", "critical")}, "critical:alice=A", "[]"},
		// A route's contacts first, then whoever its schedules have on call.
		{"the db group on call: each member", at("2024-01-01T01:30:00Z"),
			[]template.Alert{alert("A", "severity", "critical")}, "critical:alice=A critical:bob=A critical:dave=A", "[]"},
		{"at the hand-off the next is on call", at("2024-01-01T02:00:00Z"),
			[]template.Alert{alert("A", "severity", "critical")}, "critical:alice=A", "[]"},
		{"nobody on call: the fallback, reported once", at("2024-01-31T22:59:59Z"),
			[]template.Alert{alert("A", "team", "db"), alert("B", "team", "db", "severity", "critical"), alert("U")},
			"db:carol=A,B,U db:alice=A,B", "[later]"},
		{"on call at midnight Berlin", at("2024-01-31T23:00:00Z"),
			[]template.Alert{alert("A", "team", "db")}, "db:dave=A db:bob=A", "[]"},
		{"unmatched.to pages a schedule too", at("2024-02-01T12:00:00Z"),
			[]template.Alert{alert("U")}, "unmatched:dave=U", "[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Pages(c, &template.Data{Alerts: tc.alerts}, "", tc.at)
			if got := summary(res.Pages); got != tc.want {
				t.Errorf("pages = %s, want %s", got, tc.want)
			}
			if got := fmt.Sprint(res.Fallbacks); got != tc.fallbacks {
				t.Errorf("fallbacks = %s, want %s", got, tc.fallbacks)
			}
		})
	}
}

// TestPagesScheduleOfPinnedRoute: a notification pinned to a route that
// pages a schedule reaches whoever is on call too.
func TestPagesScheduleOfPinnedRoute(t *testing.T) {
	c, err := config.Parse([]byte(scheduleCfg), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	res := Pages(c, &template.Data{Alerts: []template.Alert{alert("A")}}, "db", time.Date(2024, 1, 1, 3, 0, 0, 0, time.UTC))
	if got, want := summary(res.Pages), "db:carol=A db:bob=A db:dave=A"; got != want {
		t.Errorf("pages = %s, want %s", got, want)
	}
}
