package pager

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
)

const previewConfig = contacts + `
routes:
  - name: web1
    matchers: ['instance="web-1:8080"']
    to: [alice]
    send_resolved: if_paged
  - name: rest
    matchers: ['instance="web-2:8080"']
    to: [bob]
    max_segments: 1
    template: '{{ shorten (print .CommonAnnotations.summary " " .CommonAnnotations.summary " " .CommonAnnotations.summary " " .CommonAnnotations.summary " " .CommonAnnotations.summary) }}'
unmatched: {report: true}
`

// TestPreviewIsNotify: a preview is what Notify delivers, field by field,
// fit included, and it sends nothing and counts nothing in the pager's
// metrics.
func TestPreviewIsNotify(t *testing.T) {
	p, rec, m := newPager(t, previewConfig)
	n := load(t, "webhook-firing-2-alerts.json")
	n.Alerts[1].Annotations["summary"] = strings.Repeat("Checkout 5xx rate above 5% ", 3)

	got, err := p.Preview(context.Background(), n, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.msgs) != 0 {
		t.Fatalf("the preview delivered %d messages", len(rec.msgs))
	}
	if c := testutil.ToFloat64(m.Truncated.WithLabelValues("rest")); c != 0 {
		t.Errorf("the preview counted %v truncated SMS in the pager's metrics", c)
	}
	if err := p.Notify(context.Background(), n, ""); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.SMS, rec.msgs) {
		t.Errorf("preview:\n%+v\nNotify delivered:\n%+v", got.SMS, rec.msgs)
	}
	if len(got.SMS) != 2 {
		t.Fatalf("%d SMS, want one to alice and one to bob", len(got.SMS))
	}
	if got.Config != p.config {
		t.Error("the preview does not name the config it was made with")
	}
	if fit := got.SMS[1].Fit; !fit.Truncated || fit.Cut.Spans != 1 || fit.Text != got.SMS[1].Text {
		t.Errorf("bob's SMS fit %+v, want the shorten part cut", fit)
	}
}

// TestPreviewNotes: what Notify logs while making the SMS comes with the
// preview, without the preview's notification id.
func TestPreviewNotes(t *testing.T) {
	p, _, _ := newPager(t, previewConfig)
	n := load(t, "webhook-firing-2-alerts.json")
	n.Alerts[1].Labels["instance"] = "db-1"
	got, err := p.Preview(context.Background(), n, "nope")
	if err != nil {
		t.Fatal(err)
	}
	messages := map[string]map[string]string{}
	for _, note := range got.Notes {
		attrs := map[string]string{}
		for _, a := range note.Attrs {
			attrs[a.Key] = a.Value
		}
		messages[note.Message] = attrs
	}
	unrouted, ok := messages["alerts match no route: reported, not paged"]
	if !ok || unrouted["unrouted"] != "1" || !strings.Contains(unrouted["labels"], `instance="db-1"`) {
		t.Errorf("no note of the unrouted alert: %+v", got.Notes)
	}
	if pin, ok := messages["pinned route not followed, routing by matchers instead"]; !ok || pin["reason"] != "unknown_route" {
		t.Errorf("no note of the pinned route: %+v", got.Notes)
	}
	for _, note := range got.Notes {
		for _, a := range note.Attrs {
			if a.Key == "notification" {
				t.Errorf("note %q carries the notification id", note.Message)
			}
		}
	}
}

// TestPreviewReadsTheLedgerAndWritesNothing: the service's preview knows
// what its ledger knows (a firing SMS already sent is not sent again) and
// leaves the ledger as it was, repeats included.
func TestPreviewReadsTheLedgerAndWritesNothing(t *testing.T) {
	led := openLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	p, d := pagerOver(t, previewConfig, led)
	n := load(t, "webhook-firing-2-alerts.json")
	if err := p.Notify(context.Background(), n, ""); err != nil {
		t.Fatal(err)
	}
	if len(d.msgs) != 2 {
		t.Fatalf("Notify sent %d SMS, want 2", len(d.msgs))
	}

	again, err := p.Preview(context.Background(), n, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(again.SMS) != 0 {
		t.Errorf("preview of a notification already paged has SMS: %+v", again.SMS)
	}
	if !hasNote(again, "sms not sent: the recipient was told all of it before") {
		t.Errorf("no note why nothing is sent: %+v", again.Notes)
	}

	repeat := *n
	data := *n.Data
	repeat.Data = &data
	data.NotificationReason = "repeat interval elapsed"
	group := repeatGroup(&repeat)
	for range 2 {
		got, err := p.Preview(context.Background(), &repeat, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(got.SMS) != 2 {
			t.Fatalf("preview of a repeat: %d SMS, want the reminders", len(got.SMS))
		}
	}
	if r, err := led.LastRepeat(group); err != nil || !r.At.IsZero() {
		t.Errorf("the preview recorded a repeat: %+v, %v", r, err)
	}
	if len(d.msgs) != 2 {
		t.Errorf("the previews delivered: %d SMS in all", len(d.msgs))
	}
}

// TestPreviewerAssumesFirstNotice: without a ledger, firing alerts are new
// to everyone, and resolved ones were paged to whom routing reaches now, so
// that send_resolved: if_paged sends them.
func TestPreviewerAssumesFirstNotice(t *testing.T) {
	c, err := config.Parse([]byte(previewConfig), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewPreviewer(c)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		n    *notification.Notification
		want []string
	}{
		{"firing", load(t, "webhook-firing-2-alerts.json"), []string{"alice web1 " + aliceNumber + ": FIRING", "bob rest " + bobNumber + ": Checkout"}},
		{"resolved", load(t, "webhook-resolved-2-alerts.json"), []string{"alice web1 " + aliceNumber + ": RESOLVED", "bob rest " + bobNumber + ": Checkout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Preview(context.Background(), tt.n, "")
			if err != nil {
				t.Fatal(err)
			}
			if s := sent(got.SMS); !reflect.DeepEqual(s, tt.want) {
				t.Errorf("SMS %q, want %q", s, tt.want)
			}
		})
	}
}

func hasNote(p *Preview, message string) bool {
	for _, n := range p.Notes {
		if n.Message == message {
			return true
		}
	}
	return false
}

// TestPreviewAt: a preview as of another time pages whoever the schedule
// has on call then.
func TestPreviewAt(t *testing.T) {
	c, err := config.Parse([]byte(contacts+`
schedules:
  ops:
    time_zone: UTC
    layers: [{members: [alice, bob], start: "2024-01-01 00:00", shift: 1d}]
routes: [{name: ops, to: [ops]}]
`), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewPreviewer(c)
	if err != nil {
		t.Fatal(err)
	}
	for at, want := range map[string]string{"2024-01-01T12:00:00Z": "alice", "2024-01-02T12:00:00Z": "bob"} {
		n := load(t, "webhook-firing-2-alerts.json")
		if n.Received, err = time.Parse(time.RFC3339, at); err != nil {
			t.Fatal(err)
		}
		got, err := v.Preview(context.Background(), n, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(got.SMS) != 1 || got.SMS[0].Contact != want {
			t.Errorf("at %s: %+v, want one SMS to %s", at, got.SMS, want)
		}
	}
}
