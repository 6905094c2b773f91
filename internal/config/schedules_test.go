package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/schedule"
)

// schedulesBase is a config with contacts and a group for schedules to
// page; the tests add time_intervals, schedules and routes.
const schedulesBase = `
sipgate: {dry_run: true}
contacts:
  alice: {number: "+4915100000001"}
  bob: {number: "+4915100000002"}
  carol: {number: "+4915100000003"}
  dave: {number: "+4915100000004"}
groups:
  dba: [carol, dave]
`

// teamSchedule is a weekly 24/7 rotation of alice and the DBAs, under a
// business-hours layer of bob, with a holiday override and a fallback.
const teamSchedule = `
time_intervals:
  - name: office
    time_intervals:
      - weekdays: ['monday:friday']
        times: [{start_time: '09:00', end_time: '17:00'}]
schedules:
  ops:
    time_zone: Europe/Berlin
    layers:
      - name: weekly
        members: [alice, dba]
        start: "2024-01-01 09:00"
        shift: 1w
      - members: [bob]
        start: "2024-01-01 00:00"
        shift: 1d
        active_time_intervals: [office]
    overrides:
      - {contact: carol, start: "2024-12-24 00:00", end: "2024-12-27 00:00"}
    fallback: [alice]
routes:
  - name: default
    to: [ops, alice, ops]
`

// loadedAt is the instant the tests load configs at: a Wednesday noon in
// Berlin.
var loadedAt = time.Date(2024, 3, 6, 12, 0, 0, 0, time.FixedZone("CET", 3600))

func parseSchedules(t *testing.T, doc string) *Config {
	t.Helper()
	c, err := parseAt([]byte(schedulesBase+doc), "config.yml", loadedAt)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSchedulesLoad(t *testing.T) {
	c := parseSchedules(t, teamSchedule)
	r := c.Route("default")
	if fmt.Sprint(r.Schedules) != "[ops]" || fmt.Sprint(r.Recipients) != "[{alice +4915100000001}]" {
		t.Errorf("route default: schedules %v, recipients %v; want [ops] and alice", r.Schedules, r.Recipients)
	}
	s := c.Schedules["ops"]
	if s.Rotation == nil || s.Rotation.Location.String() != "Europe/Berlin" {
		t.Fatalf("schedule ops not built: %+v", s.Rotation)
	}
	if s.Layers[1].Name != "layers[1]" {
		t.Errorf("unnamed layer is named %q, want layers[1]", s.Layers[1].Name)
	}
	berlin := s.Rotation.Location
	for _, tc := range []struct {
		at     time.Time
		source schedule.Source
		want   string
	}{
		// Weeks from Monday 1 January 09:00: alice in even ones, the DBAs
		// (both) in odd ones, such as the tenth from 4 March; outside
		// office hours.
		{time.Date(2024, 1, 6, 12, 0, 0, 0, berlin), schedule.FromLayer, "[{alice +4915100000001}]"},
		{time.Date(2024, 3, 9, 3, 0, 0, 0, berlin), schedule.FromLayer, "[{carol +4915100000003} {dave +4915100000004}]"},
		// Office hours: bob.
		{time.Date(2024, 3, 6, 12, 0, 0, 0, berlin), schedule.FromLayer, "[{bob +4915100000002}]"},
		// The override, end exclusive.
		{time.Date(2024, 12, 24, 12, 0, 0, 0, berlin), schedule.FromOverride, "[{carol +4915100000003}]"},
		{time.Date(2024, 12, 27, 0, 0, 0, 0, berlin), schedule.FromLayer, "[{carol +4915100000003} {dave +4915100000004}]"},
		// Before every layer's start: the fallback.
		{time.Date(2023, 12, 31, 0, 0, 0, 0, berlin), schedule.FromFallback, "[{alice +4915100000001}]"},
	} {
		got, ok := c.OnCallAt("ops", tc.at)
		if !ok || got.Source != tc.source || fmt.Sprint(got.Recipients) != tc.want {
			t.Errorf("OnCallAt(ops, %s) = %v %s %v, want %s %s", tc.at, ok, got.Source, got.Recipients, tc.source, tc.want)
		}
	}
	if _, ok := c.OnCallAt("nope", loadedAt); ok {
		t.Error("OnCallAt of an unknown schedule says ok")
	}
	if fmt.Sprint(c.ScheduleNames()) != "[ops]" {
		t.Errorf("ScheduleNames() = %v", c.ScheduleNames())
	}
}

// TestSchedulesPrintedConfigLoads: --config.check prints schedules and
// time intervals in a form that loads again and means the same.
func TestSchedulesPrintedConfigLoads(t *testing.T) {
	c := parseSchedules(t, teamSchedule)
	again, err := parseAt([]byte(c.String()), "printed.yml", loadedAt)
	if err != nil {
		t.Fatalf("printed config does not load: %v\n%s", err, c)
	}
	for at := loadedAt; at.Before(loadedAt.Add(15 * 24 * time.Hour)); at = at.Add(37 * time.Minute) {
		a, _ := c.OnCallAt("ops", at)
		b, _ := again.OnCallAt("ops", at)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("at %s: the printed config pages %v, the original %v", at, b, a)
		}
	}
}

func TestSchedulesWithoutGapNeedNoFallback(t *testing.T) {
	// A 24/7 layer under the business-hours one: someone is always on call.
	doc := strings.Replace(teamSchedule, "    fallback: [alice]\n", "", 1)
	c := parseSchedules(t, doc)
	if c.Schedules["ops"].Rotation == nil {
		t.Fatal("schedule not built")
	}
}

func TestScheduleProblems(t *testing.T) {
	layer := func(extra string) string {
		return "schedules:\n  ops:\n    time_zone: Europe/Berlin\n    fallback: [alice]\n    layers:\n      - {members: [alice], start: \"2024-01-01 09:00\", shift: 1d" + extra + "}\n" +
			"routes: [{name: r, to: [ops]}]\n"
	}
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"name of a contact", "schedules:\n  alice: {time_zone: UTC, layers: [{members: [bob], start: \"2024-01-01 00:00\", shift: 1d}]}\nroutes: [{name: r, to: [bob]}]\n",
			[]string{`schedules.alice: "alice" is already a contact's name: contacts, groups and schedules share one name space`}},
		{"name of a group", "schedules:\n  dba: {time_zone: UTC, layers: [{members: [bob], start: \"2024-01-01 00:00\", shift: 1d}]}\nroutes: [{name: r, to: [bob]}]\n",
			[]string{`schedules.dba: "dba" is already a group's name`}},
		{"empty", "schedules:\n  ops:\nroutes: [{name: r, to: [bob]}]\n",
			[]string{"schedules.ops: is empty: a schedule needs time_zone and layers"}},
		{"no time zone", strings.Replace(layer(""), "time_zone: Europe/Berlin", "time_zone: ''", 1),
			[]string{"schedules.ops.time_zone: is required: the IANA name of the team's clock, such as Europe/Berlin"}},
		{"unknown time zone", strings.Replace(layer(""), "Europe/Berlin", "Europe/Berlinn", 1),
			[]string{`schedules.ops.time_zone: "Europe/Berlinn" is not a known IANA time zone`}},
		{"host's zone", strings.Replace(layer(""), "Europe/Berlin", "Local", 1),
			[]string{`schedules.ops.time_zone: "Local" is the host's zone`}},
		{"no layers", "schedules:\n  ops: {time_zone: UTC, fallback: [alice]}\nroutes: [{name: r, to: [ops]}]\n",
			[]string{"schedules.ops.layers: needs at least one layer"}},
		{"unknown member", strings.Replace(layer(""), "members: [alice]", "members: [alcie, bob]", 1),
			[]string{`schedules.ops.layers[0].members[0]: unknown contact or group "alcie" (did you mean "alice"?)`}},
		{"no members", strings.Replace(layer(""), "members: [alice]", "members: []", 1),
			[]string{"schedules.ops.layers[0].members: needs at least one member"}},
		{"schedule as member", strings.Replace(layer(""), "members: [alice]", "members: [ops]", 1),
			[]string{`schedules.ops.layers[0].members[0]: "ops" is a schedule: a schedule's members, overrides and fallback are contacts or groups`}},
		{"number as member", strings.Replace(layer(""), "members: [alice]", "members: [\"+4915100000009\"]", 1),
			[]string{`schedules.ops.layers[0].members[0]: unknown contact or group "+4915100000009"`}},
		{"no start", strings.Replace(layer(""), `start: "2024-01-01 09:00", `, "", 1),
			[]string{`schedules.ops.layers[0].start: is required: a local date and time such as "2024-01-01 09:00"`}},
		{"start that is no date", strings.Replace(layer(""), "2024-01-01 09:00", "2024-02-30 09:00", 1),
			[]string{`schedules.ops.layers[0].start: local time "2024-02-30 09:00": parsing time "2024-02-30 09:00": day out of range`}},
		{"start with a zone", strings.Replace(layer(""), "2024-01-01 09:00", "2024-01-01T09:00:00+01:00", 1),
			[]string{`schedules.ops.layers[0].start: local time "2024-01-01T09:00:00+01:00": want YYYY-MM-DD HH:MM or YYYY-MM-DD HH:MM:SS, without a zone`}},
		{"no shift", strings.Replace(layer(""), ", shift: 1d", "", 1),
			[]string{"schedules.ops.layers[0].shift: must be at least 1s"}},
		{"two layers of one name", "schedules:\n  ops:\n    time_zone: UTC\n    fallback: [alice]\n    layers:\n" +
			"      - {name: a, members: [alice], start: \"2024-01-01 09:00\", shift: 1d}\n" +
			"      - {name: a, members: [bob], start: \"2024-01-01 09:00\", shift: 1d}\nroutes: [{name: r, to: [ops]}]\n",
			[]string{`schedules.ops.layers[1].name: "a" is used by an earlier layer`}},
		{"unknown time interval", "time_intervals: [{name: office, time_intervals: [{weekdays: [monday]}]}]\n" + layer(", active_time_intervals: [ofice]"),
			[]string{`schedules.ops.layers[0].active_time_intervals[0]: unknown time interval "ofice" (did you mean "office"?)`}},
		{"time interval twice", "time_intervals: [{name: office, time_intervals: [{weekdays: [monday]}]}, {name: office, time_intervals: [{weekdays: [friday]}]}]\n" + layer(""),
			[]string{`time_intervals[1].name: "office" is used by an earlier time interval`}},
		{"empty time interval", "time_intervals: [{name: office, time_intervals: []}]\n" + layer(""),
			[]string{"time_intervals[0].time_intervals: needs at least one interval"}},
		{"override backwards", strings.Replace(layer(""), "    fallback:", "    overrides: [{contact: bob, start: \"2024-03-02 00:00\", end: \"2024-03-01 00:00\"}]\n    fallback:", 1),
			[]string{"schedules.ops.overrides[0].end: must be after start"}},
		{"override of nobody", strings.Replace(layer(""), "    fallback:", "    overrides: [{contact: bobb, start: \"2024-03-01 00:00\", end: \"2024-03-02 00:00\"}]\n    fallback:", 1),
			[]string{`schedules.ops.overrides[0].contact: unknown contact or group "bobb" (did you mean "bob"?)`}},
		{"override without contact", strings.Replace(layer(""), "    fallback:", "    overrides: [{start: \"2024-03-01 00:00\", end: \"2024-03-02 00:00\"}]\n    fallback:", 1),
			[]string{"schedules.ops.overrides[0].contact: is required"}},
		{"override without end", strings.Replace(layer(""), "    fallback:", "    overrides: [{contact: bob, start: \"2024-03-01 00:00\"}]\n    fallback:", 1),
			[]string{`schedules.ops.overrides[0].end: is required: a local date and time`}},
		{"unknown fallback", strings.Replace(layer(""), "fallback: [alice]", "fallback: [alice, caro]", 1),
			[]string{`schedules.ops.fallback[1]: unknown contact or group "caro" (did you mean "carol"?)`}},
		{"route to an unknown schedule", strings.Replace(layer(""), "to: [ops]", "to: [opss]", 1),
			[]string{`routes[0].to[0]: unknown contact, group or schedule "opss" and not an E.164 number (did you mean "ops"?)`, "routes[0].to: pages nobody"}},
		{"unknown key", strings.Replace(layer(""), "shift: 1d", "shift: 1d, shfit: 2d", 1),
			[]string{"field shfit not found"}},
		// Office hours only, no fallback: loaded on a Wednesday at noon, the
		// first gap is at 17:00 that day, on the schedule's clock.
		{"gap without fallback", "time_intervals: [{name: office, time_intervals: [{weekdays: ['monday:friday'], times: [{start_time: '09:00', end_time: '17:00'}]}]}]\n" +
			strings.Replace(layer(", active_time_intervals: [office]"), "    fallback: [alice]\n", "", 1),
			[]string{"schedules.ops.fallback: is required: nobody is on call at 2024-03-06 17:00:00 CET (Europe/Berlin)"}},
		// A rotation that starts after the config is loaded leaves a gap
		// from the moment of loading.
		{"start after loading", strings.Replace(strings.Replace(layer(""), "    fallback: [alice]\n", "", 1), "2024-01-01 09:00", "2024-04-01 09:00", 1),
			[]string{"schedules.ops.fallback: is required: nobody is on call at 2024-03-06 12:00:00 CET (Europe/Berlin)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseAt([]byte(schedulesBase+tc.doc), "config.yml", loadedAt)
			if err == nil {
				t.Fatal("loaded")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), "config.yml: "+want) && !strings.Contains(err.Error(), want) {
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
