package pager

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/delivery"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
)

// dedupDeliverer is ledgerDeliverer that, as delivery does, sends no
// message whose key the ledger has as delivered.
type dedupDeliverer struct{ *ledgerDeliverer }

func (d dedupDeliverer) Deliver(ctx context.Context, b delivery.Batch) error {
	var keep []delivery.Message
	for _, m := range b.Messages {
		if ok, err := d.led.Delivered(m.Key); err != nil {
			return err
		} else if !ok {
			keep = append(keep, m)
		}
	}
	b.Messages = keep
	return d.ledgerDeliverer.Deliver(ctx, b)
}

func dedupPager(t *testing.T, cfg string) (*Pager, *ledgerDeliverer, *ledger.Ledger) {
	led := openLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	t.Cleanup(func() { led.Close() })
	p, d := pagerOver(t, cfg, led)
	p.deliverer = dedupDeliverer{d}
	return p, d, led
}

func peerOf(n *notification.Notification) *notification.Notification {
	m := *n
	m.Data = &template.Data{}
	*m.Data = *n.Data
	m.ExternalURL = "http://am-2:9093"
	return &m
}

// TestLateResolvedCopyAfterRefire: the other Alertmanager's copy of the
// RESOLVED notification, late (it kept failing for someone else), after
// the group paged the alert firing again, tells nothing.
func TestLateResolvedCopyAfterRefire(t *testing.T) {
	p, d, _ := dedupPager(t, contacts+"routes: [{name: oncall, to: [alice], send_resolved: always}]")
	firing := load(t, "webhook-firing-2-alerts.json")
	res := resolvedOf(firing)
	now := time.Now()
	for i, step := range []struct {
		n    *notification.Notification
		want string
	}{
		{firing, "FIRING"},
		{res, "RESOLVED"},
		{firing, "FIRING"}, // fires again with its old start (same AM, same group)
		{peerOf(res), ""},  // AM2's late copy of step 1's RESOLVED
	} {
		d.msgs = nil
		notifyAt(t, p, step.n, now.Add(time.Duration(i)*time.Second))
		got := strings.Join(sent(d.msgs), "; ")
		if (step.want == "") != (got == "") || !strings.HasSuffix(got, step.want) {
			t.Errorf("step %d: sent %q, want %q", i, got, step.want)
		}
	}
}

// TestResolvedRetryAcrossRetention: the retry of a RESOLVED notification
// that crosses the end of the paged retention of the alert's mark is the
// same SMS, and not sent again.
func TestResolvedRetryAcrossRetention(t *testing.T) {
	var clk time.Time
	led, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{DedupWindow: 10 * time.Minute, PagedRetention: time.Hour, Now: func() time.Time { return clk }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	p, d := pagerOver(t, contacts+"routes: [{name: oncall, to: [alice], send_resolved: always}]", led)
	p.deliverer = dedupDeliverer{d}
	firing := load(t, "webhook-firing-2-alerts.json")
	res := resolvedOf(firing)
	t0 := time.Now()
	for i, step := range []struct {
		n    *notification.Notification
		at   time.Time
		want string
	}{
		{firing, t0, "FIRING"},
		{res, t0.Add(time.Hour - time.Second), "RESOLVED"},
		{res, t0.Add(time.Hour + time.Second), ""}, // its retry, 2s later
	} {
		d.msgs = nil
		clk = step.at
		notifyAt(t, p, step.n, step.at)
		got := strings.Join(sent(d.msgs), "; ")
		if (step.want == "") != (got == "") || !strings.HasSuffix(got, step.want) {
			t.Errorf("step %d: sent %q, want %q", i, got, step.want)
		}
	}
}

// asReceiver is n as Alertmanager's receiver recv sends it, in a group of
// its own.
func asReceiver(n *notification.Notification, recv string) *notification.Notification {
	m := *n
	m.Data = &template.Data{}
	*m.Data = *n.Data
	m.Receiver = recv
	m.GroupKey = "{}/" + recv + ":{alertname=\"HighErrorRate\"}"
	return &m
}

// TestRefireAfterResolvedToldByAnotherReceiver: two Alertmanager
// receivers send the same alert, routed here by receiver. Receiver rb's
// RESOLVED arrives first and tells alice too (she was paged, and routing
// of rb does not reach her); ra's RESOLVED tells nobody again. When the
// alert fires again with its old start, ra's notification pages her: ra
// said it resolved, whoever told her.
func TestRefireAfterResolvedToldByAnotherReceiver(t *testing.T) {
	p, d, _ := dedupPager(t, contacts+`routes:
  - {name: a, receiver: ra, to: [alice], send_resolved: if_paged}
  - {name: b, receiver: rb, to: [bob], send_resolved: if_paged}
unmatched: {report: true}
`)
	firing := load(t, "webhook-firing-2-alerts.json")
	now := time.Now()
	for i, step := range []struct {
		n    *notification.Notification
		want string
	}{
		{asReceiver(firing, "ra"), "alice a " + aliceNumber + ": FIRING"},
		{asReceiver(firing, "rb"), "bob b " + bobNumber + ": FIRING"},
		{asReceiver(resolvedOf(firing), "rb"), "alice a " + aliceNumber + ": RESOLVED; bob b " + bobNumber + ": RESOLVED"},
		{asReceiver(resolvedOf(firing), "ra"), ""},
		{asReceiver(firing, "ra"), "alice a " + aliceNumber + ": FIRING"}, // fires again
		{asReceiver(firing, "rb"), "bob b " + bobNumber + ": FIRING"},
	} {
		d.msgs = nil
		notifyAt(t, p, step.n, now.Add(time.Duration(i)*time.Second))
		if got := strings.Join(sent(d.msgs), "; "); got != step.want {
			t.Errorf("step %d: sent %q, want %q", i, got, step.want)
		}
	}
}

// TestLateCopyAfterResolvedIsNoRepeat: group b's firing notification,
// retried after group a's RESOLVED reached alice, more than the dedup
// window after her page, from an Alertmanager that does not say why it
// sends (before v0.32): not a repeat, which would remind her that the
// resolved alert still fires; group a's retry tells nothing again.
func TestLateCopyAfterResolvedIsNoRepeat(t *testing.T) {
	p, d, _ := dedupPager(t, contacts+"routes: [{name: oncall, to: [alice], send_resolved: always}]")
	firing := load(t, "webhook-firing-2-alerts.json")
	firing.NotificationReason = "" // Alertmanager before v0.32
	a, b := `{}:{alertname="a"}`, `{}:{team="b"}`
	now := time.Now()
	for i, step := range []struct {
		n    *notification.Notification
		at   time.Duration
		want string
	}{
		{inGroup(firing, a), 0, "FIRING"},
		{inGroup(firing, b), 0, ""},
		{inGroup(resolvedOf(firing), a), 11 * time.Minute, "RESOLVED"},
		{inGroup(firing, b), 12 * time.Minute, ""},             // group b's retry
		{inGroup(resolvedOf(firing), a), 13 * time.Minute, ""}, // group a's retry (failed for bob, say)
	} {
		d.msgs = nil
		notifyAt(t, p, step.n, now.Add(step.at))
		got := strings.Join(sent(d.msgs), "; ")
		if (step.want == "") != (got == "") || !strings.HasSuffix(got, step.want) {
			t.Errorf("step %d: sent %q, want %q", i, got, step.want)
		}
	}
}

// TestRefireAfterHeldResolved: the alert told resolved by the 07:00 SMS
// that quiet hours held fires again with its old start: it is paged.
func TestRefireAfterHeldResolved(t *testing.T) {
	p, d, led := quietPager(t, quietConfig)
	disk := quietAlert("DiskFull", "warning", "firing")
	day := night.Add(-2 * time.Hour)
	notifyAt(t, p, quietNotification(disk), day) // FIRING by day
	notifyAt(t, p, quietNotification(quietAlert("DiskFull", "warning", "resolved")), night)
	due, err := led.DueHeld(morning)
	if err != nil || len(due) != 1 || !due[0].Alerts[0].Resolved {
		t.Fatalf("due %+v %v", due, err)
	}
	if err := led.ReleaseHeld(due[0], true); err != nil { // 07:00 RESOLVED went out
		t.Fatal(err)
	}
	d.msgs = nil
	notifyAt(t, p, quietNotification(disk), morning.Add(time.Hour)) // fires again, old start
	if len(d.msgs) != 1 {
		t.Fatalf("sent %q after the held RESOLVED; want FIRING again", names(d.msgs))
	}
}
