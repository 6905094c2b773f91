package pager

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/delivery"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/receiver"
)

type recorder struct{ msgs []delivery.Message }

func (r *recorder) Deliver(_ context.Context, msgs []delivery.Message) error {
	r.msgs = append(r.msgs, msgs...)
	return nil
}

func load(t *testing.T, name string) *receiver.Notification {
	t.Helper()
	b, err := os.ReadFile("../../receiver/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var n receiver.Notification
	if err := json.Unmarshal(b, &n); err != nil {
		t.Fatal(err)
	}
	return &n
}

func newPager(t *testing.T, cfg string) (*Pager, *recorder, *metrics.Metrics) {
	t.Helper()
	c, err := config.Parse([]byte(cfg), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	m := metrics.New(prometheus.NewRegistry())
	return New(c, rec, m, slog.New(slog.NewTextHandler(io.Discard, nil))), rec, m
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
	if err := p.Notify(context.Background(), n, ""); err != nil {
		t.Fatal(err)
	}
	want := []delivery.Message{
		{Route: "web1", Contact: "alice", Number: "+4915100000001", Text: "FIRING 1 HighErrorRate web-1:8080 critical: Checkout 5xx rate above 5%"},
		{Route: "all", Contact: "bob", Number: "+4915100000002", Text: "FIRING 2 HighErrorRate web-1:8080,web-2:8080 critical: Checkout 5xx rate above 5%"},
	}
	if len(rec.msgs) != len(want) {
		t.Fatalf("messages = %+v", rec.msgs)
	}
	for i, w := range want {
		got := rec.msgs[i]
		w.Key = Key(n) + "/" + w.Number
		if got != w {
			t.Errorf("message %d:\n got %+v\nwant %+v", i, got, w)
		}
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
	if len(rec.msgs) != 2 || rec.msgs[0].Text != "web-2:8080" || rec.msgs[1].Text != "FIRING 1 HighErrorRate web-1:8080 critical: Checkout 5xx rate above 5%" {
		t.Errorf("messages = %+v", rec.msgs)
	}
	if got := testutil.ToFloat64(m.TemplateErrors.WithLabelValues("r")); got != 1 {
		t.Errorf("template_errors_total = %v, want 1", got)
	}
}

func TestNotifyMapsRouteErrors(t *testing.T) {
	p, _, _ := newPager(t, `
sipgate: {dry_run: true}
reject_unmatched: true
routes: [{name: r, matchers: ['severity="page"'], to: ["+4915100000001"]}]
`)
	n := load(t, "webhook-firing-2-alerts.json")
	if err := p.Notify(context.Background(), n, "nope"); !errors.Is(err, receiver.ErrNotFound) {
		t.Errorf("unknown pinned route: err = %v, want ErrNotFound", err)
	}
	if err := p.Notify(context.Background(), n, ""); !errors.Is(err, receiver.ErrUnprocessable) {
		t.Errorf("unmatched alerts: err = %v, want ErrUnprocessable", err)
	}
}

func TestKey(t *testing.T) {
	base := load(t, "webhook-firing-2-alerts.json")
	k := Key(base)

	replica := load(t, "webhook-firing-2-alerts.json")
	replica.ExternalURL = "http://am-2:9093"
	replica.Alerts[0], replica.Alerts[1] = replica.Alerts[1], replica.Alerts[0]
	if Key(replica) != k {
		t.Error("HA replica (other externalURL, other order) has another key")
	}

	refired := load(t, "webhook-firing-2-alerts.json")
	refired.Alerts[0].StartsAt = refired.Alerts[0].StartsAt.Add(time.Hour)
	resolved := load(t, "webhook-firing-2-alerts.json")
	resolved.Alerts[0].Status = "resolved"
	otherReceiver := load(t, "webhook-firing-2-alerts.json")
	otherReceiver.Receiver = "other"
	for name, n := range map[string]*receiver.Notification{"refired": refired, "resolved": resolved, "other receiver": otherReceiver} {
		if Key(n) == k {
			t.Errorf("%s notification has the same key", name)
		}
	}
}
