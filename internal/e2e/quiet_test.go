package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate/sipgatetest"
)

// quietWindow returns a time_intervals section with one interval, "now",
// from the start of the current minute (UTC, the service's default
// time_zone) to end, the first minute boundary at least margin from now,
// and end. Alertmanager's times have minute resolution: quiet hours that
// hold now can end no sooner than the next minute.
func quietWindow(now time.Time, margin time.Duration) (string, time.Time) {
	now = now.UTC()
	start := now.Truncate(time.Minute)
	end := start.Add(time.Minute)
	for end.Sub(now) < margin {
		end = end.Add(time.Minute)
	}
	midnight := start.Truncate(24 * time.Hour).Add(24 * time.Hour)
	hm := func(t time.Time) string { return t.Format("15:04") }
	var ranges []string
	switch {
	case end.Before(midnight):
		ranges = []string{fmt.Sprintf("{start_time: '%s', end_time: '%s'}", hm(start), hm(end))}
	case end.Equal(midnight):
		ranges = []string{fmt.Sprintf("{start_time: '%s', end_time: '24:00'}", hm(start))}
	default: // across midnight: a range cannot be
		ranges = []string{fmt.Sprintf("{start_time: '%s', end_time: '24:00'}", hm(start)), fmt.Sprintf("{start_time: '00:00', end_time: '%s'}", hm(end))}
	}
	return fmt.Sprintf(`
time_intervals:
  - name: now
    time_intervals:
      - times: [%s]
`, strings.Join(ranges, ", ")), end
}

// quietRoutes page alice; her warnings wait for the end of the quiet
// hours, her criticals do not.
const quietRoutes = `
limits:
  digest_check: 200ms
routes:
  - name: team
    to: [alice]
    send_resolved: if_paged
    quiet_hours: {time_intervals: [now], severities: [warning]%s}
`

// waitSMSUntil is waitSMS with a deadline of its own.
func (s *stack) waitSMSUntil(t *testing.T, n int, deadline time.Time) []sipgatetest.Message {
	t.Helper()
	ctx, cancel := context.WithDeadline(t.Context(), deadline)
	defer cancel()
	msgs, err := s.fake.WaitMessages(ctx, n)
	if err != nil {
		t.Fatalf("%v; got %q", err, received(msgs))
	}
	return msgs
}

// TestQuietHoursHoldThroughARestart: during quiet hours two warnings and
// a critical fire. The critical pages at once; the warnings are held, and
// Alertmanager hears 200. One warning resolves meanwhile: it is never
// sent. The service restarts while the other is held, and when the quiet
// hours end the restarted service sends alice one SMS about it, which
// counts as a page: its resolved SMS reaches her (send_resolved: if_paged).
func TestQuietHoursHoldThroughARestart(t *testing.T) {
	// Most of it is waiting for a minute to end: run beside the others.
	t.Parallel()
	window, end := quietWindow(time.Now(), 30*time.Second)
	s := startStack(t, window+fmt.Sprintf(quietRoutes, ""), 1)
	started := time.Now().UTC().Truncate(time.Second)
	alert := func(name, severity string) amAlert {
		return amAlert{Labels: map[string]string{"alertname": name, "severity": severity}, StartsAt: started}
	}
	disk, flapping, node := alert("QuietDiskFull", "warning"), alert("QuietFlapping", "warning"), alert("QuietNodeDown", "critical")
	s.postAlerts(t, disk, flapping, node)
	got := s.step(t, 0, 1, 3)
	if got[0].Recipient != alice || !strings.HasPrefix(got[0].Message, "FIRING 1 QuietNodeDown critical") {
		t.Fatalf("SMS %q, want only the critical's, at once", s.received(got))
	}
	m := s.metrics(t)
	if n := m.sum("alertmanager_sipgate_sms_deferred_total", labels{"route": "team", "defer": "hold"}); n != 2 {
		t.Errorf("sms_deferred_total{route=team,defer=hold} = %v, want 2", n)
	}
	if n := m.sum("alertmanager_sipgate_deferred_held", nil); n != 1 {
		t.Errorf("deferred_held = %v, want 1: one SMS for alice", n)
	}

	s.postAlerts(t, resolved(flapping))
	s.waitNotified(t, 4)
	if n := s.metrics(t).sum("alertmanager_sipgate_deferred_cancelled_total", nil); n != 1 {
		t.Errorf("deferred_cancelled_total = %v, want 1: QuietFlapping resolved while held", n)
	}

	if left := time.Until(end); left < 3*time.Second {
		t.Fatalf("the quiet hours end in %v, too soon to restart while an SMS is held: the steps before took too long", left)
	}
	if err := s.service.stop(t, waitLong); err != nil {
		t.Fatalf("service stopped with %v", err)
	}
	s.startService(t)
	if n := s.metrics(t).sum("alertmanager_sipgate_deferred_held", nil); n != 1 {
		t.Errorf("after the restart, deferred_held = %v, want 1", n)
	}

	all := s.waitSMSUntil(t, 2, end.Add(waitLong))
	heldSMS := all[1]
	want := regexp.MustCompile(`^Held for quiet hours since (\w{3} \d+ )?\d\d:\d\d UTC: 1 firing \(QuietDiskFull\)\. http://` + regexp.QuoteMeta(s.amAddr) + `$`)
	if heldSMS.Recipient != alice || !want.MatchString(heldSMS.Message) {
		t.Errorf("held SMS %s: %q, want to alice: %s", heldSMS.Recipient, heldSMS.Message, want)
	}
	if heldSMS.Received.Before(end) {
		t.Errorf("held SMS sent at %s, before the quiet hours ended at %s", heldSMS.Received.UTC(), end)
	}
	eventually(t, waitLong, "the held SMS counted as sent and no longer held", func() bool {
		m := s.metrics(t)
		return m.sum("alertmanager_sipgate_deferred_sent_total", labels{"result": "accepted"}) == 1 &&
			m.sum("alertmanager_sipgate_deferred_held", nil) == 0
	})

	s.postAlerts(t, resolved(disk))
	s.waitAlertmanagersDone(t, 5)
	all = s.waitSMS(t, 3)
	assertLines(t, "SMS", s.received(all), []string{
		alice + ": FIRING 1 QuietNodeDown critical" + amLink,
		alice + ": " + heldSMS.Message,
		alice + ": RESOLVED 1 QuietDiskFull warning",
	})
	for _, m := range all {
		if strings.Contains(m.Message, "QuietFlapping") {
			t.Errorf("SMS about the alert that resolved while held: %q", m.Message)
		}
	}
}

// TestQuietHoursSendAt: with defer: send_at the warning's SMS goes to
// sipgate at once, with sendAt at the end of the quiet hours; the
// critical's has none.
func TestQuietHoursSendAt(t *testing.T) {
	// Most of it is waiting for a minute to end: run beside the others.
	t.Parallel()
	window, end := quietWindow(time.Now(), 10*time.Second)
	s := startStack(t, window+fmt.Sprintf(quietRoutes, ", defer: send_at"), 1)
	started := time.Now().UTC().Truncate(time.Second)
	s.postAlerts(t,
		amAlert{Labels: map[string]string{"alertname": "LaterDiskFull", "severity": "warning"}, StartsAt: started},
		amAlert{Labels: map[string]string{"alertname": "NowNodeDown", "severity": "critical"}, StartsAt: started},
	)
	got := s.step(t, 0, 2, 2)
	sendAt := map[string]int64{}
	for _, m := range got {
		name := strings.Fields(m.Message)[2]
		sendAt[name] = m.SendAt
		if m.Recipient != alice || !strings.HasPrefix(m.Message, "FIRING 1 ") {
			t.Errorf("SMS %s: %q, want a firing SMS to alice", m.Recipient, m.Message)
		}
	}
	if len(sendAt) != 2 || sendAt["LaterDiskFull"] != end.Unix() || sendAt["NowNodeDown"] != 0 {
		t.Errorf("sendAt by alert %v, want LaterDiskFull at the end of the quiet hours (%d, %s), NowNodeDown none", sendAt, end.Unix(), end)
	}
	if n := s.metrics(t).sum("alertmanager_sipgate_sms_deferred_total", labels{"route": "team", "defer": "send_at"}); n != 1 {
		t.Errorf("sms_deferred_total{route=team,defer=send_at} = %v, want 1", n)
	}
}
