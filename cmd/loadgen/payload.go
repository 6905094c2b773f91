package main

import (
	"crypto/sha256"
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

// fixture is a webhook body a real Alertmanager v0.34.2 sent: one group of
// two firing alerts. Every notification is made from it, so the service
// decodes, routes and renders what it gets in production.
//
//go:embed webhook-firing-2-alerts.json
var fixture []byte

// payloads makes the body of the n-th notification of one run: the fixture
// with its own group, as Alertmanager would send for a group of its own.
// Each notification has a groupKey and alert fingerprints no other has, in
// this run or another (run tells runs apart), so the service's ledger
// never takes one for a repeat and every notification pages.
type payloads struct {
	run    string
	alerts int
	// base is the fixture's top level without its alerts, which are
	// templates, taken in turn.
	base      map[string]any
	templates []map[string]any
}

// groupLabel is the label that puts each notification's alerts in a group
// of their own, as if Alertmanager grouped by it.
const groupLabel = "loadgen_group"

// newPayloads returns the payloads of run, each with alerts alerts.
func newPayloads(run string, alerts int) (*payloads, error) {
	if alerts < 1 {
		return nil, fmt.Errorf("alerts per notification: %d, want at least 1", alerts)
	}
	var base map[string]any
	if err := json.Unmarshal(fixture, &base); err != nil {
		return nil, fmt.Errorf("decode embedded fixture: %w", err)
	}
	raw, _ := base["alerts"].([]any)
	p := &payloads{run: run, alerts: alerts, base: base}
	for i, a := range raw {
		m, ok := a.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("embedded fixture: alerts[%d] is not an object", i)
		}
		p.templates = append(p.templates, m)
	}
	if len(p.templates) == 0 {
		return nil, fmt.Errorf("embedded fixture has no alerts")
	}
	delete(base, "alerts")
	return p, nil
}

// body returns the JSON body of notification n, whose alerts began
// firing now, as a new group's do when Alertmanager first sends it.
func (p *payloads) body(n int) ([]byte, error) {
	group := fmt.Sprintf("%s-%d", p.run, n)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	msg := maps.Clone(p.base)
	msg["groupKey"] = fmt.Sprintf(`{}:{alertname="HighErrorRate", %s=%q}`, groupLabel, group)
	msg["groupLabels"] = withLabel(msg["groupLabels"], group)
	msg["commonLabels"] = withLabel(msg["commonLabels"], group)
	alerts := make([]any, p.alerts)
	for i := range alerts {
		a := maps.Clone(p.templates[i%len(p.templates)])
		labels := withLabel(a["labels"], group)
		labels["instance"] = fmt.Sprintf("web-%d:8080", i+1)
		a["labels"] = labels
		a["fingerprint"] = fingerprint(group, i)
		a["startsAt"] = now
		alerts[i] = a
	}
	msg["alerts"] = alerts
	return json.Marshal(msg)
}

// withLabel returns a copy of the label set ls with the group label set.
func withLabel(ls any, group string) map[string]any {
	m, _ := ls.(map[string]any)
	out := make(map[string]any, len(m)+1)
	maps.Copy(out, m)
	out[groupLabel] = group
	return out
}

// fingerprint is the i-th alert's of group: 16 hex digits, as
// Alertmanager's, scattered over their range as a hash of whole label
// sets is.
func fingerprint(group string, i int) string {
	return fmt.Sprintf("%.8x", sha256.Sum256(fmt.Appendf(nil, "%s/%d", group, i)))
}
