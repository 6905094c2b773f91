package oncall

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
)

// team is a weekly rotation of alice and the DBAs from Monday 1 January
// 2024 09:00 in Berlin, under a business-hours layer of bob, with an
// override for erin, and a second schedule that is all fallback.
const team = `
sipgate: {dry_run: true}
contacts:
  alice: {number: "+4915100000001"}
  bob: {number: "+4915100000002"}
  carol: {number: "+4915100000003"}
  dave: {number: "+4915100000004"}
  erin: {number: "+4915100000005"}
  frank: {number: "+4915100000006"}
groups:
  dba: [carol, dave]
time_intervals:
  - name: office
    time_intervals:
      - weekdays: ['monday:friday']
        times: [{start_time: '09:00', end_time: '17:00'}]
schedules:
  ops:
    time_zone: Europe/Berlin
    layers:
      - {name: weekly, members: [alice, dba], start: "2024-01-01 09:00", shift: 1w}
      - {name: office, members: [bob], start: "2024-01-01 00:00", shift: 1d, active_time_intervals: [office]}
    overrides:
      - {contact: erin, start: "2024-03-08 12:00", end: "2024-03-08 14:00"}
  later:
    time_zone: UTC
    layers: [{members: [frank], start: "2099-01-01 00:00", shift: 1d}]
    fallback: [dba]
routes: [{name: all, to: [ops, later]}]
`

func load(t *testing.T, doc string) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(doc), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wednesday is Wednesday 6 March 2024, 12:00 in Berlin: bob's office
// hours, in the DBAs' week.
var wednesday = time.Date(2024, 3, 6, 11, 0, 0, 0, time.UTC)

func TestList(t *testing.T) {
	c := load(t, team)
	l, err := List(c, wednesday, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "at": "2024-03-06T11:00:00Z",
  "schedules": [
    {
      "name": "later",
      "time_zone": "UTC",
      "on_call": {
        "members": [
          "dba"
        ],
        "contacts": [
          "carol",
          "dave"
        ],
        "source": "fallback"
      },
      "next_handoffs": []
    },
    {
      "name": "ops",
      "time_zone": "Europe/Berlin",
      "on_call": {
        "members": [
          "bob"
        ],
        "contacts": [
          "bob"
        ],
        "source": "layer",
        "layer": "office",
        "since": "2024-03-06T09:00:00+01:00",
        "until": "2024-03-06T17:00:00+01:00"
      },
      "next_handoffs": [
        {
          "members": [
            "dba"
          ],
          "contacts": [
            "carol",
            "dave"
          ],
          "source": "layer",
          "layer": "weekly",
          "since": "2024-03-06T17:00:00+01:00",
          "until": "2024-03-07T09:00:00+01:00"
        },
        {
          "members": [
            "bob"
          ],
          "contacts": [
            "bob"
          ],
          "source": "layer",
          "layer": "office",
          "since": "2024-03-07T09:00:00+01:00",
          "until": "2024-03-07T17:00:00+01:00"
        },
        {
          "members": [
            "dba"
          ],
          "contacts": [
            "carol",
            "dave"
          ],
          "source": "layer",
          "layer": "weekly",
          "since": "2024-03-07T17:00:00+01:00",
          "until": "2024-03-08T09:00:00+01:00"
        },
        {
          "members": [
            "bob"
          ],
          "contacts": [
            "bob"
          ],
          "source": "layer",
          "layer": "office",
          "since": "2024-03-08T09:00:00+01:00",
          "until": "2024-03-08T12:00:00+01:00"
        },
        {
          "members": [
            "erin"
          ],
          "contacts": [
            "erin"
          ],
          "source": "override",
          "since": "2024-03-08T12:00:00+01:00",
          "until": "2024-03-08T14:00:00+01:00"
        }
      ]
    }
  ]
}`
	if string(b) != want {
		t.Errorf("listing:\n%s\nwant:\n%s", b, want)
	}
	if strings.Contains(string(b), "+49") {
		t.Error("the listing shows a number")
	}

	one, err := List(c, wednesday, "ops")
	if err != nil || len(one.Schedules) != 1 || one.Schedules[0].Name != "ops" {
		t.Errorf("List(ops) = %+v, %v; want ops alone", one, err)
	}
	var unknown *UnknownScheduleError
	if _, err := List(c, wednesday, "opss"); !errors.As(err, &unknown) || unknown.Name != "opss" {
		t.Errorf("List(opss) = %v, want an UnknownScheduleError", err)
	}
}

func TestWriteTable(t *testing.T) {
	c := load(t, team)
	l, err := List(c, wednesday, "")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteTable(&b, l); err != nil {
		t.Fatal(err)
	}
	want := `at 2024-03-06T11:00:00Z

SCHEDULE             FROM                      UNTIL                     ON CALL           BY
later (UTC)          …                         …                         dba: carol, dave  fallback
ops (Europe/Berlin)  Wed 2024-03-06 09:00 CET  Wed 2024-03-06 17:00 CET  bob               layer office
                     Wed 2024-03-06 17:00 CET  Thu 2024-03-07 09:00 CET  dba: carol, dave  layer weekly
                     Thu 2024-03-07 09:00 CET  Thu 2024-03-07 17:00 CET  bob               layer office
                     Thu 2024-03-07 17:00 CET  Fri 2024-03-08 09:00 CET  dba: carol, dave  layer weekly
                     Fri 2024-03-08 09:00 CET  Fri 2024-03-08 12:00 CET  bob               layer office
                     Fri 2024-03-08 12:00 CET  Fri 2024-03-08 14:00 CET  erin              override
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestHandler(t *testing.T) {
	var current atomic.Pointer[config.Config]
	current.Store(load(t, team))
	h := Handler(current.Load, func() time.Time { return wednesday })
	get := func(query string) (int, string, http.Header) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/oncall"+query, nil))
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, string(b), rec.Header()
	}
	decode := func(body string) Listing {
		t.Helper()
		var l Listing
		if err := json.Unmarshal([]byte(body), &l); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		return l
	}
	onCall := func(l Listing, name string) string {
		for _, s := range l.Schedules {
			if s.Name == name {
				return strings.Join(s.OnCall.Contacts, ",")
			}
		}
		return "(no schedule " + name + ")"
	}

	code, body, hdr := get("")
	if l := decode(body); code != http.StatusOK || hdr.Get("Content-Type") != "application/json" || !l.At.Equal(wednesday) || onCall(l, "ops") != "bob" {
		t.Errorf("GET: %d %s, %s; want 200, JSON at %s with bob on call", code, hdr.Get("Content-Type"), body, wednesday)
	}
	// Another time: the override.
	code, body, _ = get("?at=2024-03-08T12:30:00%2B01:00&schedule=ops")
	if l := decode(body); code != http.StatusOK || len(l.Schedules) != 1 || onCall(l, "ops") != "erin" {
		t.Errorf("GET ?at= during the override: %d %s; want erin on call in ops alone", code, body)
	}
	for _, tc := range []struct{ query, want string }{
		{"?at=yesterday", "at: want an RFC 3339 time such as 2024-03-04T09:00:00+01:00\n"},
		{"?at=2024-03-08T12:30:00", "at: want an RFC 3339 time such as 2024-03-04T09:00:00+01:00\n"},
		// Valid, but the next hand-off falls in year 10000.
		{"?at=9999-12-31T23:59:59Z", "at: too close to year 0 or 9999 to list the hand-offs around it\n"},
	} {
		if code, body, _ := get(tc.query); code != http.StatusBadRequest || body != tc.want {
			t.Errorf("GET %s: %d %q, want 400 %q", tc.query, code, body, tc.want)
		}
	}
	if code, body, _ := get("?schedule=" + strings.Repeat("x", 100)); code != http.StatusNotFound || body != "unknown schedule\n" {
		t.Errorf("GET ?schedule=xxx…: %d %q, want 404 and a line that does not quote it", code, body)
	}

	// A reload: the next request lists the new config.
	current.Store(load(t, strings.Replace(team, "members: [bob]", "members: [frank]", 1)))
	if _, body, _ := get(""); onCall(decode(body), "ops") != "frank" {
		t.Errorf("after a reload: %s; want frank on call", body)
	}
}

func TestCollector(t *testing.T) {
	var current atomic.Pointer[config.Config]
	current.Store(load(t, team))
	now := wednesday
	c := NewCollector(current.Load, func() time.Time { return now })
	check := func(want string) {
		t.Helper()
		if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
			t.Error(err)
		}
	}
	const help = `# HELP alertmanager_sipgate_oncall 1 for each contact a page to the schedule reaches now (its fallback when nobody is on call), 0 for the schedule's other contacts.
# TYPE alertmanager_sipgate_oncall gauge
`
	check(help + `
alertmanager_sipgate_oncall{contact="alice",schedule="ops"} 0
alertmanager_sipgate_oncall{contact="bob",schedule="ops"} 1
alertmanager_sipgate_oncall{contact="carol",schedule="ops"} 0
alertmanager_sipgate_oncall{contact="dave",schedule="ops"} 0
alertmanager_sipgate_oncall{contact="erin",schedule="ops"} 0
alertmanager_sipgate_oncall{contact="carol",schedule="later"} 1
alertmanager_sipgate_oncall{contact="dave",schedule="later"} 1
alertmanager_sipgate_oncall{contact="frank",schedule="later"} 0
`)
	// At the next scrape, after 17:00: the DBAs.
	now = wednesday.Add(6 * time.Hour)
	check(help + `
alertmanager_sipgate_oncall{contact="alice",schedule="ops"} 0
alertmanager_sipgate_oncall{contact="bob",schedule="ops"} 0
alertmanager_sipgate_oncall{contact="carol",schedule="ops"} 1
alertmanager_sipgate_oncall{contact="dave",schedule="ops"} 1
alertmanager_sipgate_oncall{contact="erin",schedule="ops"} 0
alertmanager_sipgate_oncall{contact="carol",schedule="later"} 1
alertmanager_sipgate_oncall{contact="dave",schedule="later"} 1
alertmanager_sipgate_oncall{contact="frank",schedule="later"} 0
`)
	// A reload that drops the schedules drops their series.
	current.Store(load(t, team[:strings.Index(team, "time_intervals:")]+"routes: [{name: all, to: [alice]}]\n"))
	check("")
}

// TestCollectorContactsSharingANumber: two contacts of one number (a
// team's duty phone under two names) each have their series, and the one
// on call shows 1.
func TestCollectorContactsSharingANumber(t *testing.T) {
	cfg := load(t, `
sipgate: {dry_run: true}
contacts:
  alice: {number: "+4915100000001"}
  duty: {number: "+4915100000001"}
schedules:
  ops:
    time_zone: UTC
    layers: [{members: [alice, duty], start: "2024-01-01 00:00", shift: 1d}]
routes: [{name: all, to: [ops]}]
`)
	// Tuesday 2 January 2024: duty's day.
	c := NewCollector(func() *config.Config { return cfg }, func() time.Time { return time.Date(2024, 1, 2, 12, 0, 0, 0, time.UTC) })
	const want = `# HELP alertmanager_sipgate_oncall 1 for each contact a page to the schedule reaches now (its fallback when nobody is on call), 0 for the schedule's other contacts.
# TYPE alertmanager_sipgate_oncall gauge
alertmanager_sipgate_oncall{contact="alice",schedule="ops"} 0
alertmanager_sipgate_oncall{contact="duty",schedule="ops"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
