package pager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/delivery"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sms"
)

// recorder keeps what the pager delivers: each batch, and all their
// messages in one list.
type recorder struct {
	batches []delivery.Batch
	msgs    []delivery.Message
}

// pagedSet is a PagedLedger of number/alert pairs, paged by no route it
// knows.
type pagedSet map[string]bool

func (p pagedSet) PagedTo(alerts []ledger.Firing) (map[string][]ledger.PagedRecipient, error) {
	out := map[string][]ledger.PagedRecipient{}
	for pair := range p {
		number, alert, _ := strings.Cut(pair, "/")
		if slices.ContainsFunc(alerts, func(a ledger.Firing) bool { return a.ID == alert }) {
			out[alert] = append(out[alert], ledger.PagedRecipient{Number: number})
		}
	}
	for _, rs := range out {
		slices.SortFunc(rs, func(a, b ledger.PagedRecipient) int { return strings.Compare(a.Number, b.Number) })
	}
	return out, nil
}

// LastRepeat: a pagedSet knows of no repeat, as a ledger of a group that
// was never repeated.
func (p pagedSet) LastRepeat(string) (ledger.Repeat, error) { return ledger.Repeat{}, nil }

// RecordRepeat forgets: tests of repeats use a real ledger.
func (p pagedSet) RecordRepeat(string, string) error { return nil }

func (p pagedSet) ResolvedIn(string, []string) (map[string]ledger.GroupResolved, error) {
	return nil, nil
}

func (p pagedSet) NoteGroup(string, string, []ledger.Firing, []string, bool) error { return nil }

// Hold, HeldFor and CancelHeld: a pagedSet holds nothing; tests of quiet
// hours use a real ledger.
func (p pagedSet) Hold(string, time.Time, []ledger.HeldAlert) error {
	return errors.New("pagedSet holds nothing")
}

func (p pagedSet) HeldFor([]ledger.Firing) (held, inDoubt map[string][]string, err error) {
	return nil, nil, nil
}

func (p pagedSet) CancelHeld([]ledger.Firing) (held, inDoubt map[string][]string, cancelled int, err error) {
	return nil, nil, 0, nil
}

func (r *recorder) Deliver(_ context.Context, b delivery.Batch) error {
	r.batches = append(r.batches, b)
	r.msgs = append(r.msgs, b.Messages...)
	return nil
}

func load(t *testing.T, name string) *notification.Notification {
	t.Helper()
	b, err := os.ReadFile("../../receiver/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var n notification.Notification
	if err := json.Unmarshal(b, &n); err != nil {
		t.Fatal(err)
	}
	return &n
}

func newPager(t *testing.T, cfg string, paged ...string) (*Pager, *recorder, *metrics.Metrics) {
	t.Helper()
	c, err := config.Parse([]byte(cfg), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	m := metrics.New(prometheus.NewRegistry())
	set := pagedSet{}
	for _, p := range paged {
		set[p] = true
	}
	p, err := New(c, rec, set, m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return p, rec, m
}

func TestNotifyRendersPerRecipient(t *testing.T) {
	p, rec, _ := newPager(t, `
sipgate: {dry_run: true}
contacts:
  alice: {number: "+4915100000001"}
  bob: {number: "+4915100000002"}
routes:
  - name: web1
    matchers: ['instance="web-1:8080"']
    to: [alice]
    continue: true
  - name: all
    to: [bob]
`)
	n := load(t, "webhook-firing-2-alerts.json")
	n.ID = "n-1"
	if err := p.Notify(context.Background(), n, ""); err != nil {
		t.Fatal(err)
	}
	ids := []ledger.Firing{firing(n.Alerts[0], repeatGroup(n)), firing(n.Alerts[1], repeatGroup(n))}
	want := []delivery.Message{
		{Route: "web1", Contact: "alice", Number: "+4915100000001", Text: "FIRING 1 HighErrorRate critical web-1:8080: Checkout 5xx rate above 5% Alerts: http://vm:9093/#/alerts?receiver=sms-bridge",
			Alerts: 1, Firing: 1, Names: []string{"HighErrorRate"}, Paged: ids[:1]},
		{Route: "all", Contact: "bob", Number: "+4915100000002", Text: "FIRING 2 HighErrorRate critical web-1:8080,web-2:8080: Checkout 5xx rate above 5% Alerts: http://vm:9093/#/alerts?receiver=sms-bridge",
			Alerts: 2, Firing: 2, Names: []string{"HighErrorRate"}, Paged: ids},
	}
	if len(rec.msgs) != len(want) {
		t.Fatalf("messages = %+v", rec.msgs)
	}
	for i, w := range want {
		w.Key = Key(n, n.Alerts[:w.Alerts]) + "/" + w.Number
		w.Encoding, w.Segments = "gsm7", 1
		w.Fit = sms.Result{Text: w.Text, Size: sms.Measure(w.Text)} // nothing cut
		if got := rec.msgs[i]; !reflect.DeepEqual(got, w) {
			t.Errorf("message %d:\n got %+v\nwant %+v", i, got, w)
		}
	}
	// What the messages share travels once, with the notification's id.
	if len(rec.batches) != 1 {
		t.Fatalf("delivered %d batches, want 1", len(rec.batches))
	}
	if b := rec.batches[0]; b.ID != n.ID || b.ExternalURL != "http://vm:9093" || !reflect.DeepEqual(b.Limits, p.Limits()) {
		t.Errorf("batch ID %q, ExternalURL %q, Limits %+v; want %q, http://vm:9093, %+v", b.ID, b.ExternalURL, b.Limits, n.ID, p.Limits())
	}
}

func TestTemplateFailureFallsBackToBuiltIn(t *testing.T) {
	// Passes the load-time check (the samples have two alerts) but fails
	// on a notification with one.
	p, rec, m := newPager(t, `
sipgate: {dry_run: true}
routes:
  - name: r
    to: ["+4915100000001"]
    template: '{{ (index .Alerts 1).Labels.instance }}'
`)
	if err := p.Notify(context.Background(), load(t, "webhook-firing-2-alerts.json"), ""); err != nil {
		t.Fatal(err)
	}
	n := load(t, "webhook-firing-2-alerts.json")
	n.Alerts = n.Alerts[:1]
	if err := p.Notify(context.Background(), n, ""); err != nil {
		t.Fatal(err)
	}
	if len(rec.msgs) != 2 || rec.msgs[0].Text != "web-2:8080" || rec.msgs[1].Text != "FIRING 1 HighErrorRate critical web-1:8080: Checkout 5xx rate above 5% Alerts: http://vm:9093/#/alerts?receiver=sms-bridge" {
		t.Errorf("messages = %+v", rec.msgs)
	}
	if got := testutil.ToFloat64(m.TemplateErrors.WithLabelValues("r")); got != 1 {
		t.Errorf("template_errors_total = %v, want 1", got)
	}
}

// TestNotifyPagesRoutedAlerts: alerts that no route takes and a pinned
// route that cannot be followed never keep the routed alerts from being
// paged; they are logged with the notification's id and counted.
func TestNotifyPagesRoutedAlerts(t *testing.T) {
	const routes = `
sipgate: {dry_run: true}
contacts:
  alice: {number: "+4915100000001"}
  bob: {number: "+4915100000002"}
  lead: {number: "+4915100000009"}
routes:
  - {name: crit, matchers: ['severity="critical"'], to: [alice]}
  - {name: night, receiver: sms-night, to: [bob]}
  - {name: day, receiver: sms-day, matchers: ['team="db"'], to: [bob]}
`
	tests := []struct {
		name      string
		config    string
		receiver  string
		pinned    string
		want      []string // "route contact: text"
		unrouted  map[string]float64
		ignored   map[string]float64
		logs      []string
		wantNoLog []string
	}{
		{
			name:     "deprecated reject_unmatched: the routed alert is paged, the other reported",
			config:   "reject_unmatched: true",
			want:     []string{"crit alice: FIRING 1 HighErrorRate critical web-1:8080: Checkout 5xx rate above 5% Alerts: http://vm:9093/#/alerts?receiver=sms-bridge"},
			unrouted: map[string]float64{"other": 1},
			logs: []string{
				`msg="alerts match no route: reported, not paged" notification=n-1 receiver=sms-bridge unrouted=1 alerts=2`,
				`alertname=\"DiskFull\"`, `instance=\"db-1\"`, `severity=\"warning\"`, `+49151******78`,
			},
			wantNoLog: []string{"+4915112345678"},
		},
		{
			name:     "unmatched.to pages the unrouted alert",
			config:   "unmatched: {to: [lead]}",
			want:     []string{"crit alice: FIRING 1 HighErrorRate critical web-1:8080: Checkout 5xx rate above 5% Alerts: http://vm:9093/#/alerts?receiver=sms-bridge", "unmatched lead: FIRING 1 DiskFull warning db-1 Alerts: http://vm:9093/#/alerts?receiver=sms-bridge"},
			unrouted: map[string]float64{"other": 1},
			logs:     []string{`msg="alerts match no route: paged to unmatched.to" notification=n-1`},
		},
		{
			name:     "a receiver a route names is the label",
			config:   "unmatched: {report: true}",
			receiver: "sms-day",
			want:     []string{"crit alice: FIRING 1 HighErrorRate critical web-1:8080: Checkout 5xx rate above 5% Alerts: http://vm:9093/#/alerts?receiver=sms-day"},
			unrouted: map[string]float64{"sms-day": 1},
			logs:     []string{`receiver=sms-day unrouted=1`},
		},
		{
			name:     "unknown pinned route: matchers reach the receiver's route",
			config:   "unmatched: {report: true}",
			receiver: "sms-night",
			pinned:   "nope",
			want:     []string{"crit alice: FIRING 1 HighErrorRate critical web-1:8080: Checkout 5xx rate above 5% Alerts: http://vm:9093/#/alerts?receiver=sms-night", "night bob: FIRING 1 DiskFull warning db-1 Alerts: http://vm:9093/#/alerts?receiver=sms-night"},
			ignored:  map[string]float64{"unknown_route": 1},
			logs:     []string{`msg="pinned route not followed, routing by matchers instead" notification=n-1 pinned=nope reason=unknown_route receiver=sms-night`},
		},
		{
			name:     "unknown pinned route: routed by matchers",
			config:   "unmatched: {to: [lead]}",
			pinned:   "crti",
			want:     []string{"crit alice: FIRING 1 HighErrorRate critical web-1:8080: Checkout 5xx rate above 5% Alerts: http://vm:9093/#/alerts?receiver=sms-bridge", "unmatched lead: FIRING 1 DiskFull warning db-1 Alerts: http://vm:9093/#/alerts?receiver=sms-bridge"},
			unrouted: map[string]float64{"other": 1},
			ignored:  map[string]float64{"unknown_route": 1},
			logs:     []string{`pinned=crti reason=unknown_route receiver=sms-bridge`},
		},
		{
			name:     "pinned route of another receiver: routed by matchers",
			config:   "unmatched: {report: true}",
			pinned:   "night",
			want:     []string{"crit alice: FIRING 1 HighErrorRate critical web-1:8080: Checkout 5xx rate above 5% Alerts: http://vm:9093/#/alerts?receiver=sms-bridge"},
			unrouted: map[string]float64{"other": 1},
			ignored:  map[string]float64{"receiver_mismatch": 1},
			logs:     []string{`pinned=night reason=receiver_mismatch receiver=sms-bridge route_receiver=sms-night`},
		},
		{
			name:      "pinned route of the receiver takes every alert",
			config:    "unmatched: {report: true}",
			receiver:  "sms-night",
			pinned:    "night",
			want:      []string{"night bob: FIRING 2 (1 critical) HighErrorRate web-1:8080; DiskFull db-1: Checkout 5xx rate above 5% Alerts: http://vm:9093/#/alerts?receiver=sms-night"},
			wantNoLog: []string{"level=WARN"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, rec, m := newPager(t, routes+tt.config+"\n")
			var logs strings.Builder
			p.logger = slog.New(slog.NewTextHandler(&logs, nil))
			n := load(t, "webhook-firing-2-alerts.json")
			n.ID = "n-1"
			if tt.receiver != "" {
				n.Receiver = tt.receiver
			}
			n.Alerts[1].Labels = template.KV{"alertname": "DiskFull", "severity": "warning", "instance": "db-1", "owner": "+4915112345678"}
			n.Alerts[1].Annotations = template.KV{}
			if err := p.Notify(context.Background(), n, tt.pinned); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, msg := range rec.msgs {
				got = append(got, msg.Route+" "+msg.Contact+": "+msg.Text)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("messages:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			for name, tc := range map[string]struct {
				vec  *prometheus.CounterVec
				want map[string]float64
			}{"alerts_unrouted_total": {m.AlertsUnrouted, tt.unrouted}, "pinned_route_ignored_total": {m.PinnedRouteIgnored, tt.ignored}} {
				if n := testutil.CollectAndCount(tc.vec); n != len(tc.want) {
					t.Errorf("%s has %d series, want %v", name, n, tc.want)
				}
				for label, want := range tc.want {
					if got := testutil.ToFloat64(tc.vec.WithLabelValues(label)); got != want {
						t.Errorf("%s{%s} = %v, want %v", name, label, got, want)
					}
				}
			}
			for _, want := range tt.logs {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, logs.String())
				}
			}
			for _, unwanted := range tt.wantNoLog {
				if strings.Contains(logs.String(), unwanted) {
					t.Errorf("log has %q:\n%s", unwanted, logs.String())
				}
			}
		})
	}
}

// TestUnroutedLogIsBounded: however many alerts match no route and
// however long their labels, the report is one bounded line.
func TestUnroutedLogIsBounded(t *testing.T) {
	p, rec, m := newPager(t, "sipgate: {dry_run: true}\nunmatched: {report: true}\nroutes: [{name: r, matchers: ['x=\"y\"'], to: [\"+4915100000001\"]}]\n")
	var logs strings.Builder
	p.logger = slog.New(slog.NewTextHandler(&logs, nil))
	n := load(t, "webhook-firing-2-alerts.json")
	n.Alerts = nil
	for i := range 25 {
		n.Alerts = append(n.Alerts, template.Alert{Status: "firing", Fingerprint: strconv.Itoa(i),
			Labels: template.KV{"alertname": fmt.Sprintf("A%02d", i), "huge": strings.Repeat("x", 10000)}})
	}
	if err := p.Notify(context.Background(), n, ""); err != nil {
		t.Fatal(err)
	}
	if len(rec.msgs) != 0 {
		t.Errorf("paged %+v, want nobody", rec.msgs)
	}
	if got := testutil.ToFloat64(m.AlertsUnrouted.WithLabelValues("other")); got != 25 {
		t.Errorf("alerts_unrouted_total = %v, want 25", got)
	}
	out := logs.String()
	if lines := strings.Count(out, "\n"); lines != 1 {
		t.Errorf("%d log lines, want 1:\n%s", lines, out)
	}
	if !strings.Contains(out, `alertname=\"A09\"`) || strings.Contains(out, `alertname=\"A10\"`) || !strings.Contains(out, "and 15 more") {
		t.Errorf("log does not list the first 10 alerts and count the rest:\n%.2000s", out)
	}
	if len(out) > reportAlerts*(reportLabelsBytes+20)+500 {
		t.Errorf("log line of %d bytes is not bounded", len(out))
	}
}

func TestKey(t *testing.T) {
	base := load(t, "webhook-firing-2-alerts.json")
	k := Key(base, base.Alerts)

	replica := load(t, "webhook-firing-2-alerts.json")
	replica.ExternalURL = "http://am-2:9093"
	replica.Alerts[0], replica.Alerts[1] = replica.Alerts[1], replica.Alerts[0]
	if Key(replica, replica.Alerts) != k {
		t.Error("HA replica (other externalURL, other order) has another key")
	}
	// A later notification of the group with more alerts: a page about
	// the first alert alone is the same page.
	if Key(base, base.Alerts[:1]) != Key(replica, replica.Alerts[1:]) {
		t.Error("the same alert in a grown group has another key")
	}

	// The ledger holds keys across upgrades: a key made otherwise would
	// page again for a notification an older version delivered.
	if want := "9ee51974d96fc58af8b8e9ef9324dccb89cf721b9dcb40fc501c88c6aba988ce"; k != want {
		t.Errorf("key = %s, want %s as every version before made it", k, want)
	}

	refired := load(t, "webhook-firing-2-alerts.json")
	refired.Alerts[0].StartsAt = refired.Alerts[0].StartsAt.Add(time.Hour)
	resolved := load(t, "webhook-firing-2-alerts.json")
	resolved.Alerts[0].Status = "resolved"
	otherReceiver := load(t, "webhook-firing-2-alerts.json")
	otherReceiver.Receiver = "other"
	for name, n := range map[string]*notification.Notification{"refired": refired, "resolved": resolved, "other receiver": otherReceiver} {
		if Key(n, n.Alerts) == k {
			t.Errorf("%s notification has the same key", name)
		}
	}
}

func TestModes(t *testing.T) {
	firing := load(t, "webhook-firing-2-alerts.json")
	resolved := load(t, "webhook-resolved-2-alerts.json")
	tests := []struct {
		name  string
		route string
		n     *notification.Notification
		paged []string
		want  []string // "alerts of the key: text"
	}{
		{
			name:  "per alert",
			route: "mode: per_alert",
			n:     firing,
			want: []string{
				"0: FIRING 1 HighErrorRate critical web-1:8080: Checkout 5xx rate above 5% Alerts: http://vm:9093/#/alerts?receiver=sms-bridge",
				"1: FIRING 1 HighErrorRate critical web-2:8080: Checkout 5xx rate above 5% Alerts: http://vm:9093/#/alerts?receiver=sms-bridge",
			},
		},
		{
			name:  "per alert up to a summary",
			route: "{mode: per_alert, summary_above: 1}",
			n:     firing,
			want:  []string{"01: FIRING 2 HighErrorRate critical web-1:8080,web-2:8080: Checkout 5xx rate above 5% Alerts: http://vm:9093/#/alerts?receiver=sms-bridge"},
		},
		{
			name:  "resolved never",
			route: "send_resolved: never",
			n:     resolved,
		},
		{
			name:  "resolved if paged",
			route: "send_resolved: if_paged",
			n:     resolved,
			paged: []string{"+4915100000001/" + alertID(resolved.Alerts[1])},
			want:  []string{"1: RESOLVED 1 HighErrorRate critical web-2:8080: Checkout 5xx rate above 5%"},
		},
		{
			name:  "two segments, gsm7",
			route: "{max_segments: 2, encoding: gsm7, template: '{{ range .Alerts }}{{ .Annotations.description }} “quoted” {{ end }}'}",
			n:     firing,
			want:  []string{"01: 5xx ratio is 7.3% over the last 5m on web-1:8080 \"quoted\" 5xx ratio is 9.1% over the last 5m on web-2:8080 \"quoted\""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			route := strings.TrimPrefix(strings.TrimSuffix(tt.route, "}"), "{")
			p, rec, _ := newPager(t, "sipgate: {dry_run: true}\nroutes: [{name: r, to: [\"+4915100000001\"], "+route+"}]\n", tt.paged...)
			if err := p.Notify(context.Background(), tt.n, ""); err != nil {
				t.Fatal(err)
			}
			// Name each key by the indexes of the alerts it covers.
			keys := map[string]string{}
			for _, set := range []string{"0", "1", "01"} {
				var alerts template.Alerts
				for _, c := range set {
					alerts = append(alerts, tt.n.Alerts[c-'0'])
				}
				keys[Key(tt.n, alerts)+"/+4915100000001"] = set
			}
			var got []string
			for _, m := range rec.msgs {
				got = append(got, keys[m.Key]+": "+m.Text)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("messages:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestSeverityRank(t *testing.T) {
	p, rec, _ := newPager(t, `
sipgate: {dry_run: true}
limits: {severity_order: [page, critical]}
routes: [{name: r, to: ["+4915100000001"], mode: per_alert}]
`)
	n := load(t, "webhook-firing-2-alerts.json")
	n.Alerts[1].Labels = template.KV{"alertname": "X", "severity": "page"}
	if err := p.Notify(context.Background(), n, ""); err != nil {
		t.Fatal(err)
	}
	if len(rec.msgs) != 2 || rec.msgs[0].Severity != 1 || rec.msgs[1].Severity != 0 {
		t.Errorf("severities = %+v, want 1 (critical) and 0 (page)", rec.msgs)
	}
}

// BenchmarkNotify routes and renders a real two-alert notification for
// three recipients, the work done per webhook before any I/O.
func BenchmarkNotify(b *testing.B) {
	c, err := config.Parse([]byte(`
sipgate: {dry_run: true}
contacts:
  alice: {number: "+4915100000001"}
  bob: {number: "+4915100000002"}
routes:
  - {name: crit, matchers: ['severity="critical"'], to: [alice, bob], continue: true}
  - {name: all, to: ["+4915100000003"]}
`), "bench.yml")
	if err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile("../../receiver/testdata/webhook-firing-2-alerts.json")
	if err != nil {
		b.Fatal(err)
	}
	var n notification.Notification
	if err := json.Unmarshal(raw, &n); err != nil {
		b.Fatal(err)
	}
	p, err := New(c, discard{}, pagedSet{}, metrics.New(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Notify(context.Background(), &n, ""); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Deliver(context.Context, delivery.Batch) error { return nil }

// TestBypassLimitsFreesOnlyItsRoutesAlerts: a storm of warnings that only
// a limited per_alert route brings to a person stays limited, though one
// critical of the group reaches them by a bypass_limits route: all 21
// SMS bypassed the limits, as the page did.
func TestBypassLimitsFreesOnlyItsRoutesAlerts(t *testing.T) {
	p, rec, _ := newPager(t, `
sipgate: {dry_run: true}
limits: {per_recipient: [{max: 3, per: 10m}]}
unmatched: {report: true}
routes:
  - {name: warn, matchers: ['severity="warning"'], to: ["+4915100000001"], mode: per_alert, continue: true}
  - {name: crit, matchers: ['severity="critical"'], to: ["+4915100000001"], bypass_limits: true}
`)
	n := load(t, "webhook-firing-2-alerts.json")
	base := n.Alerts[0]
	var alerts template.Alerts
	for i := range 20 {
		a := base
		a.Fingerprint = fmt.Sprintf("%016x", i+1)
		a.Labels = template.KV{"alertname": "DiskFull", "severity": "warning", "instance": fmt.Sprint(i)}
		alerts = append(alerts, a)
	}
	c := base
	c.Fingerprint = "00000000000000ff"
	c.Labels = template.KV{"alertname": "DBDown", "severity": "critical"}
	n.Alerts = append(alerts, c)
	if err := p.Notify(context.Background(), n, ""); err != nil {
		t.Fatal(err)
	}
	if len(rec.msgs) != 21 {
		t.Fatalf("%d SMS, want one per alert", len(rec.msgs))
	}
	for _, m := range rec.msgs {
		if want := m.Names[0] == "DBDown"; m.BypassLimits != want {
			t.Errorf("SMS of %s: bypasses the limits %v, want %v", m.Names[0], m.BypassLimits, want)
		}
	}
}
