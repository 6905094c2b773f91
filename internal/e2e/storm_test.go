package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAlertStorm sends 500 alerts in 50 groups through a real Alertmanager
// at one person limited to 3 SMS per 8 seconds: 3 SMS arrive, every alert
// of the other notifications is counted as suppressed, a critical alert on
// a bypassing route still gets through, and once the window opens one
// digest tells how many alerts were suppressed.
func TestAlertStorm(t *testing.T) {
	const window = 8 * time.Second
	s := startStack(t, fmt.Sprintf(`
limits:
  per_recipient: [{max: 3, per: %s}]
  digest_check: 500ms
routes:
  - name: critical
    matchers: ['severity="critical"']
    to: [alice]
    bypass_limits: true
  - name: storm
    to: [alice]
`, window), 1)
	storm := labels{"route": "storm"}

	var alerts []amAlert
	started := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	for g := range 50 {
		for i := range 10 {
			alerts = append(alerts, amAlert{
				Labels: map[string]string{
					"alertname": fmt.Sprintf("Storm%02d", g),
					"instance":  fmt.Sprintf("node-%d", i),
					"severity":  "warning",
				},
				Annotations: map[string]string{"summary": "disk filling up"},
				StartsAt:    started,
			})
		}
	}
	s.postAlerts(t, alerts...)

	// Alertmanager may notify a group twice while its alerts arrive (first
	// 9, then all 10): every notification counts, each either sent or
	// suppressed, and only 3 are sent.
	eventually(t, waitLong, "every group notified", func() bool {
		m := s.metrics(t)
		return m.sum("alertmanager_sipgate_sms_total", labels{"result": "accepted", "route": "storm"})+
			m.sum("alertmanager_sipgate_sms_total", labels{"result": "suppressed", "route": "storm"}) >= 50
	})
	if got := s.metrics(t).sum("alertmanager_sipgate_sms_total", labels{"result": "accepted", "route": "storm"}); got != 3 {
		t.Errorf("storm SMS accepted = %v, want 3", got)
	}
	msgs := s.fake.Messages()
	if len(msgs) != 3 {
		t.Fatalf("SMS during the storm = %d, want 3", len(msgs))
	}
	// Every alert that no SMS told of is counted as suppressed.
	told := 0
	for _, m := range msgs {
		match := regexp.MustCompile(`^FIRING (\d+) Storm\d\d warning node-`).FindStringSubmatch(m.Message)
		if match == nil {
			t.Fatalf("storm SMS = %q", m.Message)
		}
		n, _ := strconv.Atoi(match[1])
		told += n
	}
	var suppressed float64
	eventually(t, 10*time.Second, fmt.Sprintf("the %d alerts no SMS told of counted as suppressed", 500-told), func() bool {
		suppressed = s.metrics(t).sum("alertmanager_sipgate_alerts_suppressed_total", storm)
		return suppressed >= float64(500-told)
	})

	// A critical alert on a bypassing route pages at once.
	s.postAlerts(t, amAlert{
		Labels:      map[string]string{"alertname": "DatacenterDown", "severity": "critical"},
		Annotations: map[string]string{"summary": "dc1 unreachable"},
		StartsAt:    started,
	})
	msgs = s.waitSMS(t, 4)
	if !strings.HasPrefix(msgs[3].Message, "FIRING 1 DatacenterDown critical") {
		t.Errorf("4th SMS = %q, want the critical alert", msgs[3].Message)
	}
	if since := msgs[3].Received.Sub(msgs[0].Received); since >= window {
		t.Errorf("the critical alert came %v after the first SMS, after the window: the bypass is not proven", since)
	}

	// When the window opens, one digest arrives.
	msgs = s.waitSMS(t, 5)
	digest := msgs[4]
	// The digest covers all that was suppressed until it was sent.
	suppressed = s.metrics(t).sum("alertmanager_sipgate_alerts_suppressed_total", storm)
	// The storm has no resolved alerts: all it held back is firing.
	re := regexp.MustCompile(fmt.Sprintf(`^Held back since \d\d:\d\d UTC: %d firing(?: \([^)]*\))?\. http://%s$`, int(suppressed), regexp.QuoteMeta(s.amAddr)))
	if !re.MatchString(digest.Message) || digest.Recipient != alice {
		t.Errorf("digest = %s: %q, want %s: %s", digest.Recipient, digest.Message, alice, re)
	}
	if first := msgs[0].Received; digest.Received.Sub(first) < window-time.Second {
		t.Errorf("digest %v after the first SMS, before the %v window opened", digest.Received.Sub(first), window)
	}

	// Nothing more is sent: Alertmanager is done and every notification
	// answered, so nothing more is suppressed; stopped, the service sends
	// nothing more, and its ledger owes no further digest.
	s.waitNotified(t, 1)
	metrics := s.metrics(t)
	if got := metrics.sum("alertmanager_sipgate_digests_total", labels{"result": "accepted"}); got != 1 {
		t.Errorf("digests_total = %v, want 1", got)
	}
	if got := metrics.sum("alertmanager_sipgate_alerts_suppressed_total", storm); got != suppressed {
		t.Errorf("%v alerts suppressed after the digest, want none", got-suppressed)
	}
	if err := s.service.stop(t, 15*time.Second); err != nil {
		t.Errorf("service exited with %v after SIGTERM", err)
	}
	if n := len(s.fake.Messages()); n != 5 {
		t.Errorf("SMS after the digest = %d, want 5 in all", n)
	}
	if owed := s.owedDigests(t); len(owed) != 0 {
		t.Errorf("digests still owed after the digest: %+v, want none", owed)
	}
}
