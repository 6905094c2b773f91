package pager

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
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

// dedupPager is a pager for cfg whose deliverer sends no message the
// ledger has as delivered, over a ledger whose clock is the pager's (see
// notifyAt).
func dedupPager(t *testing.T, cfg string) (*Pager, *ledgerDeliverer, *ledger.Ledger) {
	t.Helper()
	var p *Pager
	clock := func() time.Time {
		if p != nil && p.now != nil {
			return p.now()
		}
		return time.Now()
	}
	led, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{DedupWindow: 10 * time.Minute, PagedRetention: 30 * 24 * time.Hour, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
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

// byReceiver routes Alertmanager's receiver ra to alice and rb to bob.
const byReceiver = contacts + `routes:
  - {name: a, receiver: ra, to: [alice], send_resolved: if_paged}
  - {name: b, receiver: rb, to: [bob], send_resolved: if_paged}
unmatched: {report: true}
`

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
	p, d, _ := dedupPager(t, byReceiver)
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

// failFor is dedupDeliverer where sipgate refuses number's SMS (the rest
// go out and are recorded), as a partial failure.
type failFor struct {
	dedupDeliverer
	number *string
}

func (f failFor) Deliver(ctx context.Context, b delivery.Batch) error {
	var keep []delivery.Message
	failed := false
	for _, m := range b.Messages {
		if m.Number == *f.number {
			failed = true
			continue
		}
		keep = append(keep, m)
	}
	b.Messages = keep
	if err := f.dedupDeliverer.Deliver(ctx, b); err != nil {
		return err
	}
	if failed {
		return errors.New("sipgate 503 for " + *f.number)
	}
	return nil
}

func repeatOfN(n *notification.Notification) *notification.Notification {
	m := *n
	d := *n.Data
	m.Data = &d
	d.NotificationReason = reasonRepeat
	return &m
}

// TestRefireAfterPartlyFailedResolved: a RESOLVED reaches alice but
// fails for bob (503); Alertmanager gives up on that flush, and the source
// comes back with the same start before the next, so Alertmanager still
// has the group as firing and next sends it as a repeat. Alice, whose
// last SMS said RESOLVED, hears that it fires: the group never said it
// resolved, but the dedup window has passed.
func TestRefireAfterPartlyFailedResolved(t *testing.T) {
	p, d, _ := dedupPager(t, contacts+"routes: [{name: oncall, to: [alice, bob], send_resolved: always}]")
	fail := ""
	p.deliverer = failFor{dedupDeliverer{d}, &fail}
	firing := load(t, "webhook-firing-2-alerts.json")
	now := time.Now()
	notifyAt(t, p, firing, now)
	fail = bobNumber
	p.now = func() time.Time { return now.Add(time.Minute) }
	if err := p.Notify(context.Background(), resolvedOf(firing), ""); err == nil {
		t.Fatal("want 503")
	}
	fail = ""
	d.msgs = nil
	notifyAt(t, p, repeatOfN(firing), now.Add(4*time.Hour))
	got := strings.Join(sent(d.msgs), "; ")
	if !strings.Contains(got, "alice") {
		t.Errorf("repeat after refire: sent %q; alice (told RESOLVED) hears nothing", got)
	}
}

// TestRefireWhenOwnGroupNeverSaidResolved: receiver rb's RESOLVED tells
// alice (paged by ra); the source comes back before ra's group flushed, so
// ra never says resolved. ra's repeat, hours later, tells alice it fires.
func TestRefireWhenOwnGroupNeverSaidResolved(t *testing.T) {
	p, d, _ := dedupPager(t, byReceiver)
	firing := load(t, "webhook-firing-2-alerts.json")
	now := time.Now()
	for i, step := range []struct {
		n    *notification.Notification
		at   time.Duration
		want string
	}{
		{asReceiver(firing, "ra"), 0, "alice a " + aliceNumber + ": FIRING"},
		{asReceiver(firing, "rb"), 0, "bob b " + bobNumber + ": FIRING"},
		{asReceiver(resolvedOf(firing), "rb"), time.Hour, "alice a " + aliceNumber + ": RESOLVED; bob b " + bobNumber + ": RESOLVED"},
		{asReceiver(firing, "rb"), time.Hour + 2*time.Minute, "bob b " + bobNumber + ": FIRING"},    // fires again
		{repeatOfN(asReceiver(firing, "ra")), 4 * time.Hour, "alice a " + aliceNumber + ": FIRING"}, // ra's repeat
	} {
		d.msgs = nil
		notifyAt(t, p, step.n, now.Add(step.at))
		if got := strings.Join(sent(d.msgs), "; "); got != step.want {
			t.Errorf("step %d: sent %q, want %q", i, got, step.want)
		}
	}
}

func withAlerts(n *notification.Notification, k int) *notification.Notification {
	m := *n
	d := *n.Data
	m.Data = &d
	d.Alerts = n.Alerts[:k:k]
	return &m
}

// TestStaleGroupRecordIsNoRefire: A (web-1) is in group a (alone) and
// group b (with C, web-2, bob's). b's record of A stays "resolved" after b
// fires A again (nobody's mark was resolved then); a retry of b's repeat
// from before A's second resolution tells alice nothing: b's word is older
// than her page.
func TestStaleGroupRecordIsNoRefire(t *testing.T) {
	var clk time.Time
	led, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{DedupWindow: 10 * time.Minute, PagedRetention: 30 * 24 * time.Hour, Now: func() time.Time { return clk }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	p, d := pagerOver(t, contacts+`routes:
  - {name: w1, matchers: ['instance="web-1:8080"'], to: [alice], send_resolved: always}
  - {name: w2, matchers: ['instance="web-2:8080"'], to: [bob], send_resolved: always}
unmatched: {report: true}
`, led)
	fail := ""
	p.deliverer = failFor{dedupDeliverer{d}, &fail}
	firing := load(t, "webhook-firing-2-alerts.json")
	a, b := `{}:{alertname="a"}`, `{}:{team="b"}`
	aF, bF := inGroup(withAlerts(firing, 1), a), inGroup(firing, b)
	bHalf := inGroup(firing, b)
	bHalf.Data = &*bHalf.Data
	hd := *bHalf.Data
	hd.Alerts = append(resolvedOf(firing).Alerts[:1:1], firing.Alerts[1])
	bHalf.Data = &hd
	now := time.Now()
	for i, step := range []struct {
		n    *notification.Notification
		at   time.Duration
		want string
	}{
		{aF, 0, "alice w1 " + aliceNumber + ": FIRING"},
		{bF, 0, "bob w2 " + bobNumber + ": FIRING"},
		{resolvedOf(aF), time.Hour, "alice w1 " + aliceNumber + ": RESOLVED"},
		{bHalf, time.Hour, ""},
		{aF, time.Hour + 2*time.Minute, "alice w1 " + aliceNumber + ": FIRING"}, // A fires again
		{bF, time.Hour + 2*time.Minute, ""},
	} {
		d.msgs = nil
		clk = now.Add(step.at)
		notifyAt(t, p, step.n, now.Add(step.at))
		if got := strings.Join(sent(d.msgs), "; "); got != step.want {
			t.Fatalf("step %d: sent %q, want %q", i, got, step.want)
		}
	}
	// b's repeat fails for bob (503); A resolves again; the repeat's retry.
	fail = bobNumber
	clk = now.Add(time.Hour + 29*time.Minute)
	p.now = func() time.Time { return clk }
	rep := repeatOfN(bF)
	if err := p.Notify(context.Background(), rep, ""); err == nil {
		t.Fatal("want 503")
	}
	d.msgs = nil
	clk = now.Add(time.Hour + 30*time.Minute)
	notifyAt(t, p, resolvedOf(aF), clk)
	if got := strings.Join(sent(d.msgs), "; "); got != "alice w1 "+aliceNumber+": RESOLVED" {
		t.Fatalf("second RESOLVED: %q", got)
	}
	d.msgs = nil
	clk = now.Add(time.Hour + 31*time.Minute)
	p.now = func() time.Time { return clk }
	_ = p.Notify(context.Background(), rep, "")
	for _, m := range d.msgs {
		if m.Number == aliceNumber {
			t.Errorf("alice, told A RESOLVED a minute ago, gets %q from a retry of b's old repeat", sent([]delivery.Message{m}))
		}
	}
}

// TestPreviewOfAnUnsureRefire: the preview of the peer's firing
// notification within the dedup window of the group's resolved word is a
// preview, whose note says it is answered 503.
func TestPreviewOfAnUnsureRefire(t *testing.T) {
	p, _, _ := dedupPager(t, contacts+"routes: [{name: oncall, to: [alice], send_resolved: always}]")
	firing := load(t, "webhook-firing-2-alerts.json")
	now := time.Now()
	notifyAt(t, p, firing, now)
	notifyAt(t, p, resolvedOf(firing), now.Add(time.Second))
	peer := peerOf(firing)
	peer.Received = now.Add(2 * time.Second)
	pv, err := p.Preview(context.Background(), peer, "")
	if err != nil {
		t.Fatalf("preview failed: %v", err)
	}
	if !slices.ContainsFunc(pv.Notes, func(n Note) bool { return strings.Contains(n.Message, "answered 503") }) {
		t.Errorf("notes %+v, want one that says the notification is answered 503", pv.Notes)
	}
}

// withStatus is n with its alerts' statuses set in order.
func withStatus(n *notification.Notification, status ...string) *notification.Notification {
	m := *n
	d := *n.Data
	m.Data = &d
	d.Alerts = make(template.Alerts, len(n.Alerts))
	for i, a := range n.Alerts {
		a.Status = status[i]
		if a.Status == "resolved" {
			a.EndsAt = a.StartsAt.Add(time.Hour)
		}
		d.Alerts[i] = a
	}
	return &m
}

// TestRefireAfterAnUnsureNotification: a notification answered 503 for
// one alert's unsure refire still notes the group's resolved word on
// another, which it told: that alert firing again from the same
// Alertmanager within the window is paged at once.
func TestRefireAfterAnUnsureNotification(t *testing.T) {
	p, d, _ := dedupPager(t, contacts+`routes:
  - {name: w1, matchers: ['instance="web-1:8080"'], to: [alice], send_resolved: always}
  - {name: w2, matchers: ['instance="web-2:8080"'], to: [bob], send_resolved: always}
unmatched: {report: true}
`)
	firing := load(t, "webhook-firing-2-alerts.json")
	now := time.Now()
	for i, step := range []struct {
		n       *notification.Notification
		at      time.Duration
		want    string
		wantErr error
	}{
		{n: firing, want: "alice w1 " + aliceNumber + ": FIRING; bob w2 " + bobNumber + ": FIRING"},
		{n: withStatus(firing, "firing", "resolved"), at: time.Hour, want: "bob w2 " + bobNumber + ": RESOLVED"},
		// The other Alertmanager: web-1 resolved, web-2 firing, unsure.
		{n: peerOf(withStatus(firing, "resolved", "firing")), at: time.Hour + time.Minute, want: "alice w1 " + aliceNumber + ": RESOLVED", wantErr: errFiringAgainUnsure},
		// web-1 fires again, from the same one.
		{n: peerOf(firing), at: time.Hour + 3*time.Minute, want: "alice w1 " + aliceNumber + ": FIRING", wantErr: errFiringAgainUnsure},
		{n: peerOf(firing), at: time.Hour + 11*time.Minute, want: "bob w2 " + bobNumber + ": FIRING"},
	} {
		d.msgs = nil
		at := now.Add(step.at)
		p.now = func() time.Time { return at }
		step.n.Received = at
		if err := p.Notify(context.Background(), step.n, ""); !errors.Is(err, step.wantErr) {
			t.Errorf("step %d: %v, want %v", i, err, step.wantErr)
		}
		if got := strings.Join(sent(d.msgs), "; "); got != step.want {
			t.Errorf("step %d: sent %q, want %q", i, got, step.want)
		}
	}
}
