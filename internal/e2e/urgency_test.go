package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestStormDoesNotHoldCriticalsBack: a storm of 50 warning groups and 4
// critical ones, all at once through a real Alertmanager, to one person
// limited to 3 SMS a minute. Whatever order the groups arrive in, 3 of
// the criticals are paged (the limit counts, for a critical, only the
// criticals), the fourth waits for the digest behind those 3, and no more
// than 3 SMS of warnings go out.
func TestStormDoesNotHoldCriticalsBack(t *testing.T) {
	s := startStack(t, `
limits:
  per_recipient: [{max: 3, per: 1m}]
routes:
  - name: critical
    matchers: ['severity="critical"']
    to: [alice]
  - name: storm
    to: [alice]
`, 1)
	started := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	var alerts []amAlert
	for g := range 54 {
		severity := "warning"
		if g%13 == 6 { // groups 6, 19, 32 and 45, spread through the storm
			severity = "critical"
		}
		alerts = append(alerts, amAlert{
			Labels:      map[string]string{"alertname": fmt.Sprintf("Storm%02d", g), "instance": "node-1", "severity": severity},
			Annotations: map[string]string{"summary": "disk filling up"},
			StartsAt:    started,
		})
	}
	s.postAlerts(t, alerts...)

	handled := func(m metrics, route string) float64 {
		return m.sum("alertmanager_sipgate_sms_total", labels{"result": "accepted", "route": route}) +
			m.sum("alertmanager_sipgate_sms_total", labels{"result": "suppressed", "route": route})
	}
	eventually(t, waitLong, "every group notified", func() bool {
		m := s.metrics(t)
		return handled(m, "critical") >= 4 && handled(m, "storm") >= 50
	})
	m := s.metrics(t)
	if got := m.sum("alertmanager_sipgate_sms_total", labels{"result": "accepted", "route": "critical"}); got != 3 {
		t.Errorf("critical SMS accepted = %v, want 3: a storm of warnings must not hold criticals back", got)
	}
	if got := m.sum("alertmanager_sipgate_sms_total", labels{"result": "suppressed", "route": "critical"}); got != 1 {
		t.Errorf("critical SMS suppressed = %v, want 1: the fourth, behind 3 criticals", got)
	}
	warnings := m.sum("alertmanager_sipgate_sms_total", labels{"result": "accepted", "route": "storm"})
	if warnings > 3 {
		t.Errorf("warning SMS accepted = %v, want at most 3", warnings)
	}
	criticals := 0
	for _, msg := range s.fake.Messages() {
		if strings.Contains(msg.Message, " critical") {
			criticals++
		}
	}
	if criticals != 3 {
		t.Errorf("critical SMS at sipgate = %d, want 3", criticals)
	}
	if n := len(s.fake.Messages()); n != 3+int(warnings) {
		t.Errorf("SMS at sipgate = %d, want %d: 3 criticals and %v warnings", n, 3+int(warnings), warnings)
	}
}
