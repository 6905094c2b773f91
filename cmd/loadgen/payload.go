package main

import (
	"crypto/sha256"
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"
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
//
// The body is encoded once, with markers where a notification's own values
// go, and each body is the pieces between the markers with those values
// put in: encoding the fixture anew for each notification took a third of
// this tool's CPU, which the service then did not have.
type payloads struct {
	run   string
	parts []part
	size  int // about the length of a body
}

// part is a piece of the body: literal bytes, or where a notification's
// value goes.
type part struct {
	literal []byte
	value   valueKind
	alert   int // for fingerprintValue: the alert's index
}

type valueKind int

const (
	literalPart      valueKind = iota
	groupValue                 // the notification's group, the value of groupLabel
	startsValue                // when its alerts began firing: now
	fingerprintValue           // an alert's fingerprint
)

// groupLabel is the label that puts each notification's alerts in a group
// of their own, as if Alertmanager grouped by it.
const groupLabel = "loadgen_group"

// The markers newPayloads encodes where a notification's values go; none
// is in the fixture, nor needs escaping in JSON.
const (
	groupMarker       = "LOADGEN-MARK-GROUP"
	startsMarker      = "LOADGEN-MARK-STARTS"
	fingerprintMarker = "LOADGEN-MARK-FINGERPRINT-"
)

var markers = regexp.MustCompile(groupMarker + "|" + startsMarker + "|" + fingerprintMarker + "[0-9]+")

// safeRun is what a run may be made of: it goes into JSON strings, and
// into the groupKey as Alertmanager quotes a label value, unescaped.
var safeRun = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// newPayloads returns the payloads of run, each with alerts alerts.
func newPayloads(run string, alerts int) (*payloads, error) {
	if alerts < 1 {
		return nil, fmt.Errorf("alerts per notification: %d, want at least 1", alerts)
	}
	if !safeRun.MatchString(run) {
		return nil, fmt.Errorf("run %q: want letters, digits, _ and - only", run)
	}
	var msg map[string]any
	if err := json.Unmarshal(fixture, &msg); err != nil {
		return nil, fmt.Errorf("decode embedded fixture: %w", err)
	}
	raw, _ := msg["alerts"].([]any)
	var templates []map[string]any
	for i, a := range raw {
		m, ok := a.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("embedded fixture: alerts[%d] is not an object", i)
		}
		templates = append(templates, m)
	}
	if len(templates) == 0 {
		return nil, fmt.Errorf("embedded fixture has no alerts")
	}
	msg["groupKey"] = fmt.Sprintf(`{}:{alertname="HighErrorRate", %s="%s"}`, groupLabel, groupMarker)
	msg["groupLabels"] = withLabel(msg["groupLabels"], groupMarker)
	msg["commonLabels"] = withLabel(msg["commonLabels"], groupMarker)
	all := make([]any, alerts)
	for i := range all {
		a := maps.Clone(templates[i%len(templates)])
		labels := withLabel(a["labels"], groupMarker)
		labels["instance"] = fmt.Sprintf("web-%d:8080", i+1)
		a["labels"] = labels
		a["fingerprint"] = fingerprintMarker + strconv.Itoa(i)
		a["startsAt"] = startsMarker
		all[i] = a
	}
	msg["alerts"] = all
	body, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("encode the payload: %w", err)
	}
	p := &payloads{run: run}
	last := 0
	for _, m := range markers.FindAllIndex(body, -1) {
		p.parts = append(p.parts, part{literal: body[last:m[0]]})
		switch mark := string(body[m[0]:m[1]]); {
		case mark == groupMarker:
			p.parts = append(p.parts, part{value: groupValue})
		case mark == startsMarker:
			p.parts = append(p.parts, part{value: startsValue})
		default:
			i, _ := strconv.Atoi(strings.TrimPrefix(mark, fingerprintMarker))
			p.parts = append(p.parts, part{value: fingerprintValue, alert: i})
		}
		last = m[1]
	}
	p.parts = append(p.parts, part{literal: body[last:]})
	p.size = len(body)
	return p, nil
}

// body returns the JSON body of notification n, whose alerts began
// firing now, as a new group's do when Alertmanager first sends it.
func (p *payloads) body(n int) ([]byte, error) {
	group := p.run + "-" + strconv.Itoa(n)
	var buf [len(time.RFC3339Nano)]byte
	now := time.Now().UTC().AppendFormat(buf[:0], time.RFC3339Nano)
	b := make([]byte, 0, p.size)
	for _, pt := range p.parts {
		switch pt.value {
		case literalPart:
			b = append(b, pt.literal...)
		case groupValue:
			b = append(b, group...)
		case startsValue:
			b = append(b, now...)
		case fingerprintValue:
			b = append(b, fingerprint(group, pt.alert)...)
		}
	}
	return b, nil
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
