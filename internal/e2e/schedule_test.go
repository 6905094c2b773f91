package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/oncall"
)

// secondsRotation pages a schedule whose members, alice and bob, take
// turns every 6 seconds: hand-offs happen while a test runs.
const secondsRotation = `
schedules:
  ops:
    time_zone: Europe/Berlin
    layers: [{name: seconds, members: [alice, bob], start: "2024-01-01 00:00:00", shift: 6s}]
routes:
  - name: oncall
    to: [ops]
`

// onCall asks the service's /api/v1/oncall who is on call in ops now.
func (s *stack) onCall(t *testing.T) string {
	t.Helper()
	var l oncall.Listing
	if err := json.Unmarshal([]byte(get(t, url(s.svcAddr, "/api/v1/oncall?schedule=ops"))), &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Schedules) != 1 || len(l.Schedules[0].OnCall.Contacts) != 1 {
		t.Fatalf("/api/v1/oncall: %+v, want one person on call in ops", l)
	}
	return l.Schedules[0].OnCall.Contacts[0]
}

// waitHandoff waits until someone other than from is on call in ops, and
// returns who.
func (s *stack) waitHandoff(t *testing.T, from string) string {
	t.Helper()
	var now string
	poll(t, waitLong, func() (bool, string) {
		now = s.onCall(t)
		return now != from, "a hand-off from " + from
	})
	return now
}

// TestScheduleHandsOff: Alertmanager sends an alert while one person is
// on call and, after the rotation handed off, another alert: the first
// pages whoever was on call then, the second the new person, and nobody
// gets both.
func TestScheduleHandsOff(t *testing.T) {
	s := startStack(t, secondsRotation, 1)
	numbers := map[string]string{"alice": alice, "bob": bob}

	// Start at a hand-off, so that the first alert is paged well within
	// the shift that follows it.
	first := s.waitHandoff(t, s.onCall(t))
	s.postAlerts(t, amAlert{Labels: map[string]string{"alertname": "DiskFull", "severity": "critical"}, StartsAt: time.Now().UTC()})
	got := s.waitSMS(t, 1)
	if got[0].Recipient != numbers[first] || !strings.Contains(got[0].Message, "DiskFull") {
		t.Fatalf("first SMS %s: %s, want one about DiskFull to %s (%s), on call when it fired", got[0].Recipient, got[0].Message, first, numbers[first])
	}

	second := s.waitHandoff(t, first)
	s.postAlerts(t, amAlert{Labels: map[string]string{"alertname": "NodeDown", "severity": "critical"}, StartsAt: time.Now().UTC()})
	s.waitSMS(t, 2)
	// Both notifications answered: every SMS they cause has arrived.
	s.waitNotified(t, 2)
	all := s.fake.Messages()
	if len(all) != 2 {
		t.Fatalf("SMS %q, want one per alert", received(all))
	}
	if all[1].Recipient != numbers[second] || !strings.Contains(all[1].Message, "NodeDown") {
		t.Errorf("second SMS %s: %s, want one about NodeDown to %s (%s), on call after the hand-off", all[1].Recipient, all[1].Message, second, numbers[second])
	}

	// The gauge follows the rotation: at some scrape, whoever the API says
	// is on call is 1, the other 0.
	eventually(t, waitLong, "the oncall gauge agreeing with /api/v1/oncall", func() bool {
		who := s.onCall(t)
		m := s.metrics(t)
		other := map[string]string{"alice": "bob", "bob": "alice"}[who]
		return m.sum("alertmanager_sipgate_oncall", labels{"schedule": "ops", "contact": who}) == 1 &&
			m.has("alertmanager_sipgate_oncall", labels{"schedule": "ops", "contact": other}) &&
			m.sum("alertmanager_sipgate_oncall", labels{"schedule": "ops", "contact": other}) == 0
	})
}
