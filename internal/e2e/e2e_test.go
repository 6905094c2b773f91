package e2e

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAlertmanagerToSMS(t *testing.T) {
	s := startStack(t, defaultRoutes, 1)
	// Started now, so that Alertmanager waits group_wait and sends both
	// alerts in one notification; an older first alert is flushed at once,
	// alone, and the test would wait for that notification's 10 s flush
	// deadline while bob's SMS keeps failing.
	started := time.Now().UTC()
	alerts := []amAlert{
		{
			Labels:      map[string]string{"alertname": "HighLatency", "instance": "api-1", "severity": "critical"},
			Annotations: map[string]string{"summary": "p99 latency 2.3s"},
			StartsAt:    started,
		},
		{
			Labels:      map[string]string{"alertname": "HighLatency", "instance": "api-2", "severity": "warning"},
			Annotations: map[string]string{"summary": "p99 latency 0.9s"},
			StartsAt:    started,
		},
	}

	// bob's SMS fails until told otherwise: the service answers 503, and
	// Alertmanager retries the whole notification.
	s.fake.FailRecipient(bob, http.StatusInternalServerError)
	s.postAlerts(t, alerts...)
	s.waitSMS(t, 2)
	eventually(t, waitLong, "a 503 answer to Alertmanager", func() bool {
		return s.metrics(t).sum("alertmanager_sipgate_webhooks_received_total", labels{"code": "503", "receiver": "sms"}) > 0
	})
	s.fake.FailRecipient(bob, 0)
	s.waitSMS(t, 3)
	// Once Alertmanager's retry succeeded, it sends nothing more until the
	// alerts change: what the fake has now is all the firing SMS.
	s.waitNotified(t, 1)
	firing := s.fake.Messages()
	assertLines(t, "firing SMS", s.received(firing), []string{
		alice + ": FIRING 1 HighLatency critical api-1: p99 latency 2.3s" + amLink,
		bob + ": FIRING 1 HighLatency critical api-1: p99 latency 2.3s" + amLink,
		carol + ": FIRING 1 HighLatency warning api-2: p99 latency 0.9s" + amLink,
	})
	for _, m := range firing {
		if m.SMSID != "s1" {
			t.Errorf("smsId = %q, want s1", m.SMSID)
		}
	}

	// Resolve both: everyone who got the firing SMS gets a resolved one.
	for i := range alerts {
		alerts[i].EndsAt = time.Now().UTC()
	}
	s.postAlerts(t, alerts...)
	s.waitSMS(t, 6)
	s.waitNotified(t, 2)
	all := s.fake.Messages()
	assertLines(t, "resolved SMS", received(all[len(firing):]), []string{
		alice + ": RESOLVED 1 HighLatency critical api-1: p99 latency 2.3s",
		bob + ": RESOLVED 1 HighLatency critical api-1: p99 latency 2.3s",
		carol + ": RESOLVED 1 HighLatency warning api-2: p99 latency 0.9s",
	})

	metrics := s.metrics(t)
	for _, want := range []struct {
		name   string
		labels labels
		// value is the exact value wanted, or, with atLeast, the least.
		value   float64
		atLeast bool
	}{
		{"alertmanager_sipgate_sms_total", labels{"result": "accepted", "route": "critical"}, 4, false},
		{"alertmanager_sipgate_sms_total", labels{"result": "accepted", "route": "default"}, 2, false},
		// Alertmanager's retry after the 500 tells those already paged nothing new.
		{"alertmanager_sipgate_sms_unchanged_total", nil, 1, true},
		{"alertmanager_sipgate_sms_total", labels{"result": "failed_retryable", "route": "critical"}, 1, true},
		{"alertmanager_sipgate_sipgate_request_duration_seconds_count", labels{"code": "204"}, 6, false},
		{"alertmanager_sipgate_sipgate_retries_total", labels{"reason": "500"}, 1, true},
		{"alertmanager_sipgate_alerts_received_total", labels{"status": "resolved"}, 1, true},
		{"alertmanager_sipgate_ledger_entries", nil, 1, true},
		// Each accepted SMS wrote twice: its limit check, then its record.
		{"alertmanager_sipgate_ledger_writes_total", nil, 12, true},
		{"alertmanager_sipgate_ledger_commit_duration_seconds_count", nil, 1, true},
	} {
		got := metrics.sum(want.name, want.labels)
		if got != want.value && !(want.atLeast && got > want.value) {
			op := "="
			if want.atLeast {
				op = ">="
			}
			t.Errorf("%s%v = %v, want %s %v", want.name, want.labels, got, op, want.value)
		}
	}
	if !metrics.has("alertmanager_sipgate_build_info", nil) {
		t.Errorf("metrics lack alertmanager_sipgate_build_info")
	}
	logs := s.service.output.String()
	for _, secret := range []string{token, hookPW, alice, bob, carol} {
		if strings.Contains(metrics.text, secret) || strings.Contains(logs, secret) {
			t.Errorf("%q appears in metrics or logs", secret)
		}
	}
	if !strings.Contains(logs, "+49151******01") {
		t.Errorf("logs lack the masked number +49151******01")
	}

	if err := s.service.stop(t, 15*time.Second); err != nil {
		t.Errorf("service exited with %v after SIGTERM", err)
	}
}

// TestHADuplicateAndBadInput posts to the service directly what the two
// replicas of an HA pair send: the same notification with a different
// externalURL. Only the first pages.
func TestHADuplicateAndBadInput(t *testing.T) {
	s := startStack(t, defaultRoutes, 0)
	body := readFixture(t)

	replica2 := bytes.ReplaceAll(body, []byte(`"externalURL":"http://vm:9093"`), []byte(`"externalURL":"http://vm2:9093"`))
	for i, b := range [][]byte{body, replica2} {
		if code, reason := s.postWebhook(t, "/api/v1/alerts/default", "application/json", b, true); code != http.StatusOK {
			t.Fatalf("replica %d: %d %s", i+1, code, reason)
		}
	}
	msgs := s.fake.Messages()
	assertLines(t, "SMS for an HA pair's notification", received(msgs), []string{
		carol + ": FIRING 2 HighErrorRate critical web-1:8080,web-2:8080: Checkout 5xx rate above 5% Alerts: http://vm:9093/#/alerts?receiver=sms-bridge",
	})

	for _, tc := range []struct {
		name, path, contentType string
		body                    []byte
		auth                    bool
		want                    int
	}{
		{"no auth", "/api/v1/alerts", "application/json", body, false, 401},
		// Routed by matchers instead, and already delivered.
		{"unknown route", "/api/v1/alerts/nope", "application/json", body, true, 200},
		{"malformed", "/api/v1/alerts", "application/json", []byte("{"), true, 400},
		{"not JSON", "/api/v1/alerts", "text/plain", body, true, 415},
	} {
		if code, reason := s.postWebhook(t, tc.path, tc.contentType, tc.body, tc.auth); code != tc.want {
			t.Errorf("%s: %d %q, want %d", tc.name, code, reason, tc.want)
		}
	}
	if got := len(s.fake.Messages()); got != 1 {
		t.Errorf("%d SMS after the bad requests, want still the one", got)
	}
	if got := s.metrics(t).sum("alertmanager_sipgate_pinned_route_ignored_total", labels{"reason": "unknown_route"}); got != 1 {
		t.Errorf("pinned_route_ignored_total{reason=unknown_route} = %v, want 1", got)
	}
}

// TestHAPair runs two clustered Alertmanagers that both send every
// notification, with different external URLs: each person still gets one
// SMS.
func TestHAPair(t *testing.T) {
	// The stack waits until gossip settled (--cluster.settle-timeout); then
	// both replicas flush a new alert after group_wait at the same moment,
	// before either hears of the other's notification.
	s := startStack(t, defaultRoutes, 2)
	s.postAlerts(t, amAlert{
		Labels:      map[string]string{"alertname": "HAPair", "instance": "db-1", "severity": "critical"},
		Annotations: map[string]string{"summary": "replicated"},
		StartsAt:    time.Now().UTC(),
	})
	eventually(t, waitLong, "a webhook from each replica", func() bool {
		return s.metrics(t).sum("alertmanager_sipgate_webhooks_received_total", labels{"code": "200", "receiver": "sms"}) >= 2
	})
	s.waitNotified(t, 1)
	assertLines(t, "SMS from an HA pair", s.received(s.fake.Messages()), []string{
		alice + ": FIRING 1 HAPair critical db-1: replicated" + amLink,
		bob + ": FIRING 1 HAPair critical db-1: replicated" + amLink,
	})
	// The second copy of each SMS is either deduplicated by its ledger key
	// or, when the first copy's paged marks were already written, not sent
	// because it tells nothing new: which one is down to timing.
	m := s.metrics(t)
	deduplicated := m.sum("alertmanager_sipgate_sms_total", labels{"result": "deduplicated", "route": "critical"})
	unchanged := m.sum("alertmanager_sipgate_sms_unchanged_total", labels{"route": "critical"})
	if deduplicated+unchanged < 2 {
		t.Errorf("deduplicated %v + unchanged %v, want at least the second replica's 2", deduplicated, unchanged)
	}
}
