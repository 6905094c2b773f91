package pager

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/delivery"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
)

// group is a notification of the HighErrorRate group with the alerts,
// as Alertmanager sends it for the reason.
func group(reason, externalURL string, alerts ...template.Alert) *notification.Notification {
	status := "resolved"
	for _, a := range alerts {
		if a.Status == "firing" {
			status = "firing"
		}
	}
	return &notification.Notification{
		Data: &template.Data{
			Receiver: "sms", Status: status, Alerts: alerts, NotificationReason: reason,
			GroupLabels:       template.KV{"alertname": "HighErrorRate"},
			CommonLabels:      template.KV{"alertname": "HighErrorRate", "severity": "critical"},
			CommonAnnotations: template.KV{},
			ExternalURL:       externalURL,
		},
		GroupKey: `{}:{alertname="HighErrorRate"}`,
	}
}

var changeStart = time.Date(2026, 11, 24, 12, 19, 0, 0, time.UTC)

func errorRate(status, instance, summary string) template.Alert {
	a := template.Alert{
		Status:      status,
		Labels:      template.KV{"alertname": "HighErrorRate", "instance": instance, "severity": "critical"},
		Annotations: template.KV{"summary": summary},
		StartsAt:    changeStart,
		Fingerprint: "fp-" + instance,
	}
	if status == "resolved" {
		a.EndsAt = changeStart.Add(time.Hour)
	}
	return a
}

// changeStack is a pager over a real ledger whose clock and the pager's
// are one, and a deliverer that fails when told to.
type changeStack struct {
	pager *Pager
	led   *ledger.Ledger
	got   *failingDeliverer
	now   time.Time
}

type failingDeliverer struct {
	ledgerDeliverer
	fail bool
}

func (d *failingDeliverer) Deliver(ctx context.Context, b delivery.Batch) error {
	if d.fail {
		d.recorder.batches = append(d.recorder.batches, b)
		return errors.New("sipgate down")
	}
	return d.ledgerDeliverer.Deliver(ctx, b)
}

func newChangeStack(t *testing.T, cfg string) *changeStack {
	t.Helper()
	s := &changeStack{now: changeStart.Add(time.Minute)}
	led, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{
		DedupWindow: 10 * time.Minute, PagedRetention: 24 * time.Hour, Now: func() time.Time { return s.now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	p, d := pagerOver(t, cfg, led)
	s.got = &failingDeliverer{ledgerDeliverer: *d}
	p.deliverer = s.got
	p.now = func() time.Time { return s.now }
	s.pager, s.led = p, led
	return s
}

// notify posts n and returns the texts and keys of the SMS it made.
func (s *changeStack) notify(t *testing.T, n *notification.Notification) (texts, keys []string, err error) {
	t.Helper()
	before := len(s.got.batches)
	err = s.pager.Notify(context.Background(), n, "")
	for _, b := range s.got.batches[before:] {
		for _, m := range b.Messages {
			texts = append(texts, m.Text)
			keys = append(keys, m.Key)
		}
	}
	return texts, keys, err
}

func one(t *testing.T, what string, texts []string, err error, want string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if len(texts) != 1 || texts[0] != want {
		t.Fatalf("%s: SMS %q\nwant one: %q", what, texts, want)
	}
}

// TestEachSMSSaysWhatChanged follows a group as it grows, partly
// resolves, is retried and repeats: each SMS tells only what is new to
// its recipient.
func TestEachSMSSaysWhatChanged(t *testing.T) {
	s := newChangeStack(t, contacts+"routes: [{name: oncall, to: [alice], send_resolved: if_paged}]")
	web1 := errorRate("firing", "web-1:8080", "5xx rate 9% on web-1:8080")
	web2 := errorRate("firing", "web-2:8080", "5xx rate 7% on web-2:8080")
	const am = "http://am-1:9093"

	texts, _, err := s.notify(t, group("first notification", am, web1))
	one(t, "first", texts, err, "FIRING 1 HighErrorRate critical web-1:8080: 5xx rate 9% on web-1:8080 Alerts: http://am-1:9093/#/alerts?receiver=sms")

	grown := group("new alerts added", am, web1, web2)
	texts, _, err = s.notify(t, grown)
	one(t, "grown", texts, err, "FIRING +1 HighErrorRate critical web-2:8080 (2 firing): 5xx rate 7% on web-2:8080 Alerts: http://am-1:9093/#/alerts?receiver=sms")

	// The HA peer's copy, or a retry: nothing new, not sent, counted.
	texts, _, err = s.notify(t, grown)
	if err != nil || len(texts) != 0 {
		t.Fatalf("copy of the grown group: SMS %q, err %v; want none", texts, err)
	}
	if got := testutil.ToFloat64(s.pager.metrics.Unchanged.WithLabelValues("oncall")); got != 1 {
		t.Errorf("sms_unchanged_total = %v, want 1", got)
	}

	texts, _, err = s.notify(t, group("some alerts resolved", am, errorRate("resolved", "web-1:8080", ""), web2))
	one(t, "partly resolved", texts, err, "RESOLVED web-1:8080 HighErrorRate; still firing 1: web-2:8080")

	// Two hours on, Alertmanager repeats the group.
	s.now = changeStart.Add(2 * time.Hour)
	repeat := group(reasonRepeat, am, web2)
	texts, keys, err := s.notify(t, repeat)
	one(t, "repeat", texts, err, "STILL FIRING since 12:19 UTC (2h) HighErrorRate critical web-2:8080: 5xx rate 7% on web-2:8080 Alerts: http://am-1:9093/#/alerts?receiver=sms")
	firstRepeat := keys[0]

	// The HA peer's copy of that repeat, 15 s later: the same key, which
	// delivery's dedup window catches.
	s.now = s.now.Add(15 * time.Second)
	_, keys, err = s.notify(t, group(reasonRepeat, "http://am-2:9093", web2))
	if err != nil || len(keys) != 1 || keys[0] != firstRepeat {
		t.Fatalf("HA copy of the repeat: keys %q, err %v; want the repeat's key %q", keys, err, firstRepeat)
	}

	// The next repeat, 4 minutes on (below the dedup window): a new key.
	s.now = s.now.Add(4 * time.Minute)
	_, keys, err = s.notify(t, repeat)
	if err != nil || len(keys) != 1 || keys[0] == firstRepeat {
		t.Fatalf("next repeat: keys %q, err %v; want one new key", keys, err)
	}
	secondRepeat := keys[0]

	// A repeat that fails is retried: the retry has the key of the try.
	s.now = s.now.Add(4 * time.Minute)
	s.got.fail = true
	_, keys, err = s.notify(t, repeat)
	if err == nil || len(keys) != 1 || keys[0] == secondRepeat {
		t.Fatalf("failing repeat: keys %q, err %v; want an error and a new key", keys, err)
	}
	tried := keys[0]
	s.got.fail = false
	_, keys, err = s.notify(t, repeat)
	if err != nil || len(keys) != 1 || keys[0] != tried {
		t.Fatalf("retry of the failed repeat: keys %q, err %v; want the key of the try %q", keys, err, tried)
	}
}

// TestOldAlertmanagerRepeats: without notification_reason (Alertmanager
// before v0.32), nothing new to the recipient is a repeat once they were
// last paged longer than the dedup window ago.
func TestOldAlertmanagerRepeats(t *testing.T) {
	s := newChangeStack(t, contacts+"routes: [{name: oncall, to: [alice]}]")
	web1 := errorRate("firing", "web-1:8080", "5xx rate 9% on web-1:8080")
	texts, _, err := s.notify(t, group("", "", web1))
	one(t, "first", texts, err, "FIRING 1 HighErrorRate critical web-1:8080: 5xx rate 9% on web-1:8080")

	s.now = s.now.Add(5 * time.Minute)
	if texts, _, err := s.notify(t, group("", "", web1)); err != nil || len(texts) != 0 {
		t.Fatalf("within the dedup window: SMS %q, err %v; want none", texts, err)
	}
	s.now = s.now.Add(6 * time.Minute)
	texts, _, err = s.notify(t, group("", "", web1))
	one(t, "after the dedup window", texts, err, "STILL FIRING since 12:19 UTC (12m) HighErrorRate critical web-1:8080: 5xx rate 9% on web-1:8080")
}

// TestRepeatOfALongGroupKey: a group key longer than a ledger key may be
// (Alertmanager's holds every label of group_by: [...]) still has its
// repeats noted; the repeat is answered with success, not an error after
// its SMS went out.
func TestRepeatOfALongGroupKey(t *testing.T) {
	s := newChangeStack(t, contacts+"routes: [{name: oncall, to: [alice]}]")
	web1 := errorRate("firing", "web-1:8080", "5xx rate 9% on web-1:8080")
	long := func(reason string) *notification.Notification {
		n := group(reason, "http://am-1:9093", web1)
		n.GroupKey = `{}:{alertname="HighErrorRate", query="` + strings.Repeat("x", 40<<10) + `"}`
		return n
	}
	texts, _, err := s.notify(t, long("first notification"))
	one(t, "first", texts, err, "FIRING 1 HighErrorRate critical web-1:8080: 5xx rate 9% on web-1:8080 Alerts: http://am-1:9093/#/alerts?receiver=sms")

	s.now = changeStart.Add(2 * time.Hour)
	texts, _, err = s.notify(t, long(reasonRepeat))
	one(t, "repeat", texts, err, "STILL FIRING since 12:19 UTC (2h) HighErrorRate critical web-1:8080: 5xx rate 9% on web-1:8080 Alerts: http://am-1:9093/#/alerts?receiver=sms")
	if r, err := s.led.LastRepeat(repeatGroup(long(reasonRepeat))); err != nil || !r.At.Equal(s.now) {
		t.Errorf("last repeat = %+v, %v; want one at %s", r, err, s.now)
	}
}

// TestAlertIDWithoutFingerprint: an alert posted without a fingerprint
// is known by the one Alertmanager would give it, short however large its
// labels (a ledger key has a size limit).
func TestAlertIDWithoutFingerprint(t *testing.T) {
	labels := template.KV{"alertname": "DiskFull", "instance": strings.Repeat("x", 64<<10)}
	a := template.Alert{Labels: labels, StartsAt: changeStart}
	set := model.LabelSet{}
	for k, v := range labels {
		set[model.LabelName(k)] = model.LabelValue(v)
	}
	want := set.Fingerprint().String() + "|" + strconv.FormatInt(changeStart.UnixNano(), 10)
	if got := alertID(a); got != want {
		t.Errorf("alertID = %.80q, want %q", got, want)
	}
	a.Fingerprint = "f8d0d89aa46f68ba"
	if got := alertID(a); !strings.HasPrefix(got, "f8d0d89aa46f68ba|") {
		t.Errorf("alertID with a fingerprint = %q, want it used", got)
	}
}

// TestHugeFingerprintPagedOnce: an alert of a hand-made post with a
// fingerprint longer than a ledger key may be is paged, and marked as
// paged: the same alert in another group pages nobody again.
func TestHugeFingerprintPagedOnce(t *testing.T) {
	led := openLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	t.Cleanup(func() { led.Close() })
	p, d := pagerOver(t, contacts+"routes:\n  - name: all\n    to: [alice]\n", led)
	a := quietAlert("DiskFull", "critical", "firing")
	a.Fingerprint = strings.Repeat("f", 40_000)
	for _, group := range []string{"g1", "g2"} {
		n := quietNotification(a)
		n.GroupKey = group
		if err := p.Notify(context.Background(), n, ""); err != nil {
			t.Fatalf("group %s: %v", group, err)
		}
	}
	if got, want := names(d.msgs), []string{"alice: DiskFull"}; !slices.Equal(got, want) {
		t.Errorf("sent %q, want %q", got, want)
	}
	if id := alertID(a); len(id) > 2*maxFingerprint {
		t.Errorf("alert id of %d bytes", len(id))
	}
}

// hangingUpDeliverer delivers, and has Alertmanager hang up meanwhile.
type hangingUpDeliverer struct {
	*failingDeliverer
	hangUp context.CancelFunc
}

func (d hangingUpDeliverer) Deliver(ctx context.Context, b delivery.Batch) error {
	d.hangUp()
	return d.failingDeliverer.Deliver(ctx, b)
}

// answeredToNobody posts n while Alertmanager hangs up during its sends,
// and returns the key of the first SMS sent.
func (s *changeStack) answeredToNobody(t *testing.T, n *notification.Notification) string {
	t.Helper()
	ctx, hangUp := context.WithCancel(context.Background())
	s.pager.deliverer = hangingUpDeliverer{s.got, hangUp}
	defer func() { s.pager.deliverer = s.got }()
	if err := s.pager.Notify(ctx, n, ""); err == nil {
		t.Fatal("the notification answered to nobody says it was done")
	}
	return s.got.batches[len(s.got.batches)-1].Messages[0].Key
}

// TestRepeatAnsweredToNobodyIsNotNotedAnswered: Alertmanager hung up
// while a repeat's reminder went out, so it never heard the answer and
// sends the repeat again. That retry is the same repeat, with the key of
// the reminder sent: it must not be noted as answered and start a new
// cycle, whose key would send a second reminder.
func TestRepeatAnsweredToNobodyIsNotNotedAnswered(t *testing.T) {
	s := newChangeStack(t, contacts+"routes: [{name: oncall, to: [alice]}]")
	web1 := errorRate("firing", "web-1:8080", "5xx rate 9% on web-1:8080")
	const am = "http://am-1:9093"
	_, _, err := s.notify(t, group("first notification", am, web1))
	if err != nil {
		t.Fatal(err)
	}
	s.now = changeStart.Add(2 * time.Hour)
	repeat := group(reasonRepeat, am, web1)
	sent := s.answeredToNobody(t, repeat)
	if r, _ := s.led.LastRepeat(repeatGroup(repeat)); !r.At.IsZero() {
		t.Errorf("the repeat noted as answered at %v, though nobody heard the answer", r.At)
	}
	s.now = s.now.Add(20 * time.Second)
	_, keys, err := s.notify(t, repeat)
	if err != nil || len(keys) != 1 || keys[0] != sent {
		t.Fatalf("the retry of the repeat: keys %q, err %v; want the key of the reminder sent, %q", keys, err, sent)
	}
	if r, _ := s.led.LastRepeat(repeatGroup(repeat)); !r.At.Equal(s.now) {
		t.Errorf("the retry answered: repeat noted at %v, want %v", r.At, s.now)
	}
}

// TestLateCopyWithANewAlertDoesNotUnresolve: group b's firing
// notification, built before group a said web-1 resolved and retried
// after alice was told so, also brings web-2, new to her. She must hear
// of web-2, not that web-1 still fires; and when both resolve she must
// not be told again that web-1 resolved.
func TestLateCopyWithANewAlertDoesNotUnresolve(t *testing.T) {
	s := newChangeStack(t, contacts+"routes: [{name: oncall, to: [alice], send_resolved: always}]")
	const am = "http://am-1:9093"
	web1 := errorRate("firing", "web-1:8080", "5xx rate 9% on web-1:8080")
	web2 := errorRate("firing", "web-2:8080", "5xx rate 7% on web-2:8080")
	a, b := `{}:{alertname="a"}`, `{}:{team="b"}`

	texts, _, err := s.notify(t, inGroup(group("", am, web1), a))
	one(t, "a fires", texts, err, "FIRING 1 HighErrorRate critical web-1:8080: 5xx rate 9% on web-1:8080 Alerts: http://am-1:9093/#/alerts?receiver=sms")
	s.now = s.now.Add(time.Minute)
	texts, _, err = s.notify(t, inGroup(group("", am, errorRate("resolved", "web-1:8080", "")), a))
	one(t, "a resolved", texts, err, "RESOLVED 1 HighErrorRate critical web-1:8080")

	s.now = s.now.Add(time.Minute)
	texts, _, err = s.notify(t, inGroup(group("", am, web1, web2), b)) // late: built before a's RESOLVED
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range texts {
		if strings.Contains(text, "2 firing") || strings.Contains(text, "web-1") {
			t.Errorf("late copy of group b: alice told %q; web-1 resolved, she was told so a minute ago", text)
		}
	}

	s.now = s.now.Add(time.Minute)
	toldNoMoreOfWeb1(t, s, inGroup(group("", am, errorRate("resolved", "web-1:8080", ""), errorRate("resolved", "web-2:8080", "")), b))
}

// toldNoMoreOfWeb1 posts n, whose web-1 resolved, which alice was told
// already: no SMS may name web-1 again.
func toldNoMoreOfWeb1(t *testing.T, s *changeStack, n *notification.Notification) {
	t.Helper()
	texts, _, err := s.notify(t, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range texts {
		if strings.Contains(text, "web-1") {
			t.Errorf("the group resolved: alice told %q; she was told web-1 resolved already", text)
		}
	}
}

// TestLaggingPeerWithANewAlert: the HA variant: group a's other
// Alertmanager, lagging, sends web-1 firing (stale) with web-2 new, a
// minute after alice was told web-1 resolved.
func TestLaggingPeerWithANewAlert(t *testing.T) {
	s := newChangeStack(t, contacts+"routes: [{name: oncall, to: [alice], send_resolved: always}]")
	web1 := errorRate("firing", "web-1:8080", "5xx rate 9% on web-1:8080")
	web2 := errorRate("firing", "web-2:8080", "5xx rate 7% on web-2:8080")
	if _, _, err := s.notify(t, group("", "http://am-1:9093", web1)); err != nil {
		t.Fatal(err)
	}
	s.now = s.now.Add(time.Minute)
	if _, _, err := s.notify(t, group("", "http://am-1:9093", errorRate("resolved", "web-1:8080", ""))); err != nil {
		t.Fatal(err)
	}
	s.now = s.now.Add(time.Minute)
	texts, _, err := s.notify(t, group("", "http://am-2:9093", web1, web2))
	if err == nil {
		t.Error("the lagging peer's web-1 is unsure, but the notification was answered as done")
	}
	for _, text := range texts {
		if strings.Contains(text, "2 firing") {
			t.Errorf("lagging peer: alice told %q while web-1's firing is unsure", text)
		}
	}
	// After the window, the group resolves: the SMS above left web-1's
	// resolved mark as it was.
	s.now = s.now.Add(11 * time.Minute)
	toldNoMoreOfWeb1(t, s, group("", "http://am-1:9093", errorRate("resolved", "web-1:8080", ""), errorRate("resolved", "web-2:8080", "")))
}

// TestRepeatRetryKeepsItsKeyAfterAnAlertWasToldResolved: a repeat's
// reminder went out, but Alertmanager hung up; before its retry, another
// group told alice that one of the repeat's alerts resolved. The retry is
// the same repeat: its key, made of all its alerts, finds the reminder
// delivered, whatever the late alert now counts as.
func TestRepeatRetryKeepsItsKeyAfterAnAlertWasToldResolved(t *testing.T) {
	s := newChangeStack(t, contacts+"routes: [{name: oncall, to: [alice], send_resolved: always}]")
	const am = "http://am-1:9093"
	web1, web2 := errorRate("firing", "web-1:8080", "x"), errorRate("firing", "web-2:8080", "y")
	a, b := `{}:{alertname="a"}`, `{}:{team="b"}`
	if _, _, err := s.notify(t, inGroup(group("first notification", am, web1, web2), b)); err != nil {
		t.Fatal(err)
	}
	s.now = changeStart.Add(2 * time.Hour)
	repeat := inGroup(group(reasonRepeat, am, web1, web2), b)
	sent := s.answeredToNobody(t, repeat)
	s.now = s.now.Add(10 * time.Second)
	texts, _, err := s.notify(t, inGroup(group("", am, errorRate("resolved", "web-1:8080", "")), a))
	one(t, "a resolved", texts, err, "RESOLVED 1 HighErrorRate critical web-1:8080")
	s.now = s.now.Add(10 * time.Second)
	texts, keys, err := s.notify(t, repeat)
	if err != nil {
		t.Fatal(err)
	}
	for i := range keys {
		if keys[i] != sent {
			t.Errorf("the repeat's retry made %q under a new key", texts[i])
		}
	}
}
