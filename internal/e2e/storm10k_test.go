package e2e

import (
	"fmt"
	"testing"
	"time"
)

// bigGroup is how many alerts the one huge group has.
const bigGroup = 10000

// bigGroupAlerts are bigGroup alerts of one alertname on distinct
// instances, with labels, annotations and a generator URL the size of
// real ones: Alertmanager's webhook body for them is about 7 MB.
func bigGroupAlerts() []amAlert {
	started := time.Now().UTC()
	alerts := make([]amAlert, bigGroup)
	for i := range alerts {
		instance := fmt.Sprintf("node-%05d:9100", i)
		alerts[i] = amAlert{
			Labels: map[string]string{
				"alertname":  "NodeFilesystemFull",
				"instance":   instance,
				"job":        "node-exporter",
				"severity":   "warning",
				"team":       "platform",
				"cluster":    "eu-central-prod-1",
				"namespace":  "monitoring",
				"device":     "/dev/nvme0n1p1",
				"mountpoint": "/var/lib/containerd",
			},
			Annotations: map[string]string{
				"summary":     "disk filling up",
				"description": fmt.Sprintf("Filesystem /var/lib/containerd on %s has less than 5%% space left and will be full within 4 hours at the current rate.", instance),
				"runbook_url": "https://runbooks.example.com/node/NodeFilesystemFull",
			},
			StartsAt: started,
		}
	}
	return alerts
}

// TestBigGroupIsPaged sends one group of 10,000 alerts through a real
// Alertmanager: the one person the route pages gets exactly one SMS that
// counts all 10,000, rendered by the default template (no fallback), also
// when Alertmanager's max_alerts cut the payload to 100 alerts.
func TestBigGroupIsPaged(t *testing.T) {
	for _, tc := range []struct {
		name string
		// amWebhook is more of Alertmanager's webhook config.
		amWebhook []string
		// sms is the one SMS alice gets.
		sms string
		// truncated is what alerts_truncated_total counts.
		truncated float64
	}{
		{
			name: "whole group",
			sms:  "FIRING 10000 NodeFilesystemFull warning node-00000:9100,node-00001:9100,node-00002:9100,node-00003:9100,node-00004:9100,+9995 more: disk filling up",
		},
		{
			name:      "max_alerts 100",
			amWebhook: []string{"max_alerts: 100"},
			// The count is of the whole group; the instances are of the
			// alerts the payload carries.
			sms:       "FIRING 10000 NodeFilesystemFull warning node-00000:9100,node-00001:9100,node-00002:9100,node-00003:9100,node-00004:9100,node-00005:9100,+94 more: disk fillin...",
			truncated: bigGroup - 100,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startStackWith(t, stackOptions{
				routes:        "routes: [{name: storm, to: [alice]}]\n",
				alertmanagers: 1,
				// Alertmanager's webhook body for the whole group is about
				// 7 MB, above the default bound of 4 MiB: raised so that the
				// group arrives whole.
				webhook: []string{"max_body_bytes: 16777216"},
				// Within Alertmanager's flush deadline of 10 s, and long
				// enough to decode and page 10,000 alerts on a busy machine.
				webhookTimeout: 5 * time.Second,
				// Posting 10,000 alerts takes Alertmanager a while: a group
				// flushed after the default 1 s might carry only part of
				// them, and page twice.
				groupWait: 5 * time.Second,
				amWebhook: tc.amWebhook,
			})
			began := time.Now()
			s.postAlerts(t, bigGroupAlerts()...)
			posted := time.Since(began)
			msgs := s.waitSMS(t, 1)
			t.Logf("posted in %v, paged %v after the post began", posted.Round(time.Millisecond), msgs[0].Received.Sub(began).Round(time.Millisecond))
			// Once Alertmanager is done, the SMS it caused are all there.
			s.waitNotified(t, 1)
			assertLines(t, "SMS for the big group", received(s.fake.Messages()), []string{alice + ": " + tc.sms})

			m := s.metrics(t)
			if got := m.sum("alertmanager_sipgate_template_fallbacks_total", nil); got != 0 {
				t.Errorf("template_fallbacks_total = %v, want 0: the route's template rendered the big group", got)
			}
			if got := m.sum("alertmanager_sipgate_alerts_truncated_total", nil); got != tc.truncated {
				t.Errorf("alerts_truncated_total = %v, want %v", got, tc.truncated)
			}
			if got, want := m.sum("alertmanager_sipgate_alerts_received_total", labels{"status": "firing"}), float64(bigGroup)-tc.truncated; got != want {
				t.Errorf("alerts_received_total{firing} = %v, want %v", got, want)
			}
		})
	}
}
