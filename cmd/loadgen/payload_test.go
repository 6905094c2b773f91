package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
)

// TestPayloads: each body is the fixture with a group of its own: its
// groupKey, group label and fingerprints are its own, the rest is what
// Alertmanager sent.
func TestPayloads(t *testing.T) {
	p, err := newPayloads("run1", 5)
	if err != nil {
		t.Fatal(err)
	}
	groupKeys := map[string]bool{}
	fingerprints := map[string]bool{}
	for n := range 3 {
		b, err := p.body(n)
		if err != nil {
			t.Fatal(err)
		}
		var msg notification.Notification
		if err := json.Unmarshal(b, &msg); err != nil {
			t.Fatal(err)
		}
		if msg.Version != "4" || msg.Receiver != "sms-bridge" || msg.Status != "firing" || msg.ExternalURL != "http://vm:9093" {
			t.Errorf("notification %d: version %q, receiver %q, status %q, externalURL %q: not the fixture's", n, msg.Version, msg.Receiver, msg.Status, msg.ExternalURL)
		}
		group := msg.GroupLabels[groupLabel]
		if group == "" || !strings.Contains(msg.GroupKey, group) || msg.CommonLabels[groupLabel] != group {
			t.Errorf("notification %d: groupKey %q, groupLabels %v, commonLabels %v: no group of its own", n, msg.GroupKey, msg.GroupLabels, msg.CommonLabels)
		}
		groupKeys[msg.GroupKey] = true
		if len(msg.Alerts) != 5 {
			t.Fatalf("notification %d: %d alerts, want 5", n, len(msg.Alerts))
		}
		instances := map[string]bool{}
		for _, a := range msg.Alerts {
			fingerprints[a.Fingerprint] = true
			instances[a.Labels["instance"]] = true
			if a.Labels[groupLabel] != group || a.Labels["alertname"] != "HighErrorRate" || a.Status != "firing" {
				t.Errorf("notification %d: alert labels %v, status %q", n, a.Labels, a.Status)
			}
			if len(a.Fingerprint) != 16 {
				t.Errorf("fingerprint %q: want 16 hex digits", a.Fingerprint)
			}
		}
		if len(instances) != 5 {
			t.Errorf("notification %d: %d distinct instances, want 5", n, len(instances))
		}
	}
	if len(groupKeys) != 3 || len(fingerprints) != 15 {
		t.Errorf("%d group keys and %d fingerprints in 3 notifications of 5 alerts; want all distinct", len(groupKeys), len(fingerprints))
	}

	// Another run's notification 0 is another group.
	other, err := newPayloads("run2", 5)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := p.body(0)
	b, _ := other.body(0)
	var ma, mb notification.Notification
	if err := json.Unmarshal(a, &ma); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &mb); err != nil {
		t.Fatal(err)
	}
	if ma.GroupKey == mb.GroupKey || ma.Alerts[0].Fingerprint == mb.Alerts[0].Fingerprint {
		t.Error("two runs send the same group")
	}
}

func TestPayloadsNoAlerts(t *testing.T) {
	if _, err := newPayloads("run", 0); err == nil {
		t.Error("newPayloads with 0 alerts succeeded")
	}
}
