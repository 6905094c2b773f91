package pager

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/delivery"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate"
)

// ledgerDeliverer records what the pager delivers and writes what
// delivery writes when sipgate accepts an SMS: the key, and its firing
// alerts as paged to its recipient by its route.
type ledgerDeliverer struct {
	recorder
	led *ledger.Ledger
}

func (d *ledgerDeliverer) Deliver(ctx context.Context, b delivery.Batch) error {
	if err := d.recorder.Deliver(ctx, b); err != nil {
		return err
	}
	for _, m := range b.Messages {
		if err := d.led.RecordPagedTo(m.Key, ledger.PagedRecipient{Number: m.Number, Contact: m.Contact, Route: m.Route}, m.Paged); err != nil {
			return err
		}
	}
	return nil
}

func openLedger(t *testing.T, path string) *ledger.Ledger {
	t.Helper()
	led, err := ledger.Open(path, ledger.Options{DedupWindow: 10 * time.Minute, PagedRetention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return led
}

// pagerOver builds a pager for cfg over the ledger, as start and each
// reload do.
func pagerOver(t *testing.T, cfg string, led *ledger.Ledger) (*Pager, *ledgerDeliverer) {
	t.Helper()
	c, err := config.Parse([]byte(cfg), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	d := &ledgerDeliverer{led: led}
	p, err := New(c, d, led, metrics.New(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return p, d
}

// resolvedOf is n with all its alerts resolved, as Alertmanager sends it
// when the group recovers.
func resolvedOf(n *notification.Notification) *notification.Notification {
	r := *n
	d := *n.Data
	r.Data = &d
	d.Status = "resolved"
	d.Alerts = make(template.Alerts, len(n.Alerts))
	for i, a := range n.Alerts {
		a.Status = "resolved"
		a.EndsAt = a.StartsAt.Add(time.Hour)
		d.Alerts[i] = a
	}
	return &r
}

// sent lists messages as "contact route number: first word", sorted.
func sent(msgs []delivery.Message) []string {
	var out []string
	for _, m := range msgs {
		word, _, _ := strings.Cut(m.Text, " ")
		out = append(out, m.Contact+" "+m.Route+" "+m.Number+": "+word)
	}
	slices.Sort(out)
	return out
}

const (
	aliceNumber = "+4915100000001"
	bobNumber   = "+4915100000002"
	contacts    = `
sipgate: {dry_run: true}
contacts:
  alice: {number: "` + aliceNumber + `"}
  bob: {number: "` + bobNumber + `"}
`
)

// TestResolvedReachesWhoeverWasPaged: a resolved alert goes to whom its
// firing SMS reached, though a reload changed routing in between (the
// ledger reopened too, as after a restart); send_resolved of the routes
// that reach a person now decides for them, the most permissive winning.
func TestResolvedReachesWhoeverWasPaged(t *testing.T) {
	tests := []struct {
		name          string
		before, after string
		want          []string
	}{
		{
			name:   "hand-off, if_paged: only the one paged hears it resolved",
			before: contacts + "routes: [{name: oncall, to: [alice], send_resolved: if_paged}]",
			after:  contacts + "routes: [{name: oncall, to: [bob], send_resolved: if_paged}]",
			want:   []string{"alice oncall " + aliceNumber + ": RESOLVED"},
		},
		{
			name:   "hand-off, always: the one paged and whom routing reaches now",
			before: contacts + "routes: [{name: oncall, to: [alice]}]",
			after:  contacts + "routes: [{name: oncall, to: [bob]}]",
			want:   []string{"alice oncall " + aliceNumber + ": RESOLVED", "bob oncall " + bobNumber + ": RESOLVED"},
		},
		{
			name:   "paging route gone: built-in template, the old route's name",
			before: contacts + "routes: [{name: oncall, to: [alice], template: 'custom {{ .Status }}'}]",
			after:  contacts + "routes: [{name: night, to: [bob], send_resolved: if_paged}]",
			want:   []string{"alice oncall " + aliceNumber + ": RESOLVED"},
		},
		{
			name:   "contact gone from the config: still told, by the name it had",
			before: contacts + "routes: [{name: oncall, to: [alice], send_resolved: if_paged}]",
			after: "sipgate: {dry_run: true}\ncontacts: {bob: {number: \"" + bobNumber + "\"}}\n" +
				"routes: [{name: oncall, to: [bob], send_resolved: if_paged}]",
			want: []string{"alice oncall " + aliceNumber + ": RESOLVED"},
		},
		{
			name:   "paging route now says never",
			before: contacts + "routes: [{name: oncall, to: [alice], send_resolved: if_paged}]",
			after:  contacts + "routes: [{name: oncall, to: [bob], send_resolved: never}]",
		},
		{
			name:   "routing unchanged, never",
			before: contacts + "routes: [{name: oncall, to: [alice], send_resolved: never}]",
			after:  contacts + "routes: [{name: oncall, to: [alice], send_resolved: never}]",
		},
		{
			name: "never and always to one person: always wins, first route's template",
			before: contacts + "routes: [{name: quiet, to: [alice], send_resolved: never, continue: true}," +
				" {name: loud, to: [alice, bob], send_resolved: always}]",
			after: contacts + "routes: [{name: quiet, to: [alice], send_resolved: never, continue: true}," +
				" {name: loud, to: [alice, bob], send_resolved: always}]",
			want: []string{"alice quiet " + aliceNumber + ": RESOLVED", "bob loud " + bobNumber + ": RESOLVED"},
		},
		{
			name: "never and if_paged to one person paged: resolved sent",
			before: contacts + "routes: [{name: quiet, to: [alice], send_resolved: never, continue: true}," +
				" {name: paged, to: [alice], send_resolved: if_paged}]",
			after: contacts + "routes: [{name: quiet, to: [alice], send_resolved: never, continue: true}," +
				" {name: paged, to: [alice], send_resolved: if_paged}]",
			want: []string{"alice quiet " + aliceNumber + ": RESOLVED"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ledger.db")
			led := openLedger(t, path)
			before, firing := pagerOver(t, tt.before, led)
			n := load(t, "webhook-firing-2-alerts.json")
			if err := before.Notify(context.Background(), n, ""); err != nil {
				t.Fatal(err)
			}
			if len(firing.msgs) == 0 {
				t.Fatal("the firing notification paged nobody")
			}
			if err := led.Close(); err != nil {
				t.Fatal(err)
			}
			led = openLedger(t, path)
			t.Cleanup(func() { led.Close() })
			after, got := pagerOver(t, tt.after, led)
			if err := after.Notify(context.Background(), resolvedOf(n), ""); err != nil {
				t.Fatal(err)
			}
			if s := sent(got.msgs); !slices.Equal(s, tt.want) {
				t.Errorf("resolved SMS:\n%s\nwant\n%s", strings.Join(s, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestResolvedJoinsThePageOfWhomRoutingReachesNow: someone paged for an
// alert whom routing now reaches for other alerts of the group hears of
// its recovery in that same SMS, not a second one.
func TestResolvedJoinsThePageOfWhomRoutingReachesNow(t *testing.T) {
	led := openLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	t.Cleanup(func() { led.Close() })
	before, _ := pagerOver(t, contacts+"routes: [{name: oncall, to: [alice], send_resolved: if_paged}]", led)
	n := load(t, "webhook-firing-2-alerts.json")
	if err := before.Notify(context.Background(), n, ""); err != nil {
		t.Fatal(err)
	}
	// Now web-1 goes to bob, web-2 still to alice; web-1 resolves.
	after, got := pagerOver(t, contacts+`routes:
  - {name: web1, matchers: ['instance="web-1:8080"'], to: [bob], send_resolved: if_paged}
  - {name: rest, to: [alice], send_resolved: if_paged}
`, led)
	next := resolvedOf(n)
	next.Data.Status = "firing"
	next.Alerts[1] = n.Alerts[1]
	if err := after.Notify(context.Background(), next, ""); err != nil {
		t.Fatal(err)
	}
	if len(got.msgs) != 1 {
		t.Fatalf("messages: %s; want one to alice", strings.Join(sent(got.msgs), "; "))
	}
	m := got.msgs[0]
	if m.Number != aliceNumber || m.Route != "rest" || m.Key != Key(next, next.Alerts)+"/"+aliceNumber {
		t.Errorf("message %+v; want alice's, by route rest, of both alerts: web-1 resolved, web-2 firing", m)
	}
	// The resolved alert comes after the routed one in alice's page:
	// the text is of the page's order, not the notification's.
	if want := "RESOLVED web-1:8080 HighErrorRate; still firing 1: web-2:8080"; m.Text != want {
		t.Errorf("text %q, want %q", m.Text, want)
	}
}

// TestAnAlertGivenTwice: a notification that lists an alert twice (a
// hand-made post; Alertmanager never does) finds whom its firing SMS
// reached all the same, and its recovery reaches them in one SMS.
func TestAnAlertGivenTwice(t *testing.T) {
	led := openLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	t.Cleanup(func() { led.Close() })
	p, got := pagerOver(t, contacts+"routes: [{name: oncall, to: [alice], send_resolved: if_paged}]", led)
	n := load(t, "webhook-firing-2-alerts.json")
	if err := p.Notify(context.Background(), n, ""); err != nil {
		t.Fatal(err)
	}
	got.msgs = nil
	r := resolvedOf(n)
	r.Alerts = append(template.Alerts{r.Alerts[1]}, r.Alerts...)
	if err := p.Notify(context.Background(), r, ""); err != nil {
		t.Fatal(err)
	}
	if s, want := sent(got.msgs), []string{"alice oncall " + aliceNumber + ": RESOLVED"}; !slices.Equal(s, want) {
		t.Fatalf("resolved SMS: %q; want %q", s, want)
	}
	if m := got.msgs[0]; m.Key != Key(r, r.Alerts)+"/"+aliceNumber {
		t.Errorf("the SMS is not of all the alerts: key %s", m.Key)
	}
}

// failingFor records the recipients of the SMS sent and fails those to
// number, as sipgate's repeating 500 for one request or an outage that
// began after the others were sent does: with a wait longer than any
// deadline, so the notification fails and Alertmanager sends it again.
type failingFor struct {
	smsRecorder
	number string
}

func (s *failingFor) SendSMS(ctx context.Context, m sipgate.SMS) error {
	if m.Recipient == s.number {
		return &sipgate.Error{Op: sipgate.OpSend, StatusCode: 500, Retry: time.Hour}
	}
	return s.smsRecorder.SendSMS(ctx, m)
}

// TestRetriesOutlastingTheDedupWindowPageNobodyAgain: Alertmanager sends a
// notification that failed for one recipient again at every
// group_interval for as long as it fails. The others got their resolved
// SMS the first time; they must not get it again when the retries go on
// for longer than the dedup window (resolved alerts are always news to
// the pager: only the ledger's record of the delivery keeps it from being
// sent again).
func TestRetriesOutlastingTheDedupWindowPageNobodyAgain(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	led, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{DedupWindow: 10 * time.Minute, PagedRetention: 24 * time.Hour, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	c, err := config.Parse([]byte(contacts+"routes: [{name: oncall, to: [alice, bob]}]"), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(prometheus.NewRegistry())
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	sms := &failingFor{number: bobNumber}
	d := delivery.New(delivery.Options{Sender: sms, Ledger: led, Metrics: m, Logger: logger, MinSendTime: -1})
	p, err := New(c, d, led, m, logger)
	if err != nil {
		t.Fatal(err)
	}
	p.now = clock

	notify := func(n *notification.Notification) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return p.Notify(ctx, n, "")
	}
	firing := load(t, "webhook-firing-2-alerts.json")
	if err := notify(firing); err == nil {
		t.Fatal("Notify succeeded though bob's SMS failed")
	}
	if got := sms.take(); !slices.Equal(got, []string{aliceNumber}) {
		t.Fatalf("firing: sent to %v, want alice", got)
	}
	resolved := resolvedOf(firing)
	// Retries every 5 minutes for 25 minutes: two and a half windows.
	for i := range 6 {
		if err := notify(resolved); err == nil {
			t.Fatalf("retry %d: Notify succeeded though bob's SMS failed", i)
		}
		want := []string(nil)
		if i == 0 {
			want = []string{aliceNumber}
		}
		if got := sms.take(); !slices.Equal(got, want) {
			t.Errorf("resolved, %v after the first: sent to %v, want %v", 5*time.Minute*time.Duration(i), got, want)
		}
		mu.Lock()
		now = now.Add(5 * time.Minute)
		mu.Unlock()
	}
}

// TestRefiredAfterResolvedIsPaged: an alert that fires again with its old
// start after its recipient was told it resolved (Alertmanager resolved
// it while Prometheus could not reach it, and Prometheus sends it again as
// it was) is news to them, in an SMS of a key of its own: the first
// page's key is still in the ledger. A retry of it tells nothing new.
func TestRefiredAfterResolvedIsPaged(t *testing.T) {
	led := openLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	t.Cleanup(func() { led.Close() })
	p, d := pagerOver(t, contacts+"routes: [{name: oncall, to: [alice]}]", led)
	firing := load(t, "webhook-firing-2-alerts.json")
	for _, n := range []*notification.Notification{firing, resolvedOf(firing), firing, firing} {
		if err := p.Notify(context.Background(), n, ""); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"alice oncall " + aliceNumber + ": FIRING", "alice oncall " + aliceNumber + ": RESOLVED", "alice oncall " + aliceNumber + ": FIRING"}
	if got := sent(d.msgs); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Fatalf("sent %q, want %q", got, want)
	}
	if first, again := d.msgs[0], d.msgs[2]; first.Key == again.Key || again.Firing != 2 {
		t.Errorf("the SMS of the alerts firing again: key %q, %d firing; want a key other than the first page's %q, 2 firing", again.Key, again.Firing, first.Key)
	}
}

// TestResolvedToldOnceAcrossGroups: an alert in two groups (two
// Alertmanager routes that continue, or two receivers) pages its
// recipient once, and tells them once that it resolved.
func TestResolvedToldOnceAcrossGroups(t *testing.T) {
	led := openLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	t.Cleanup(func() { led.Close() })
	p, d := pagerOver(t, contacts+"routes: [{name: oncall, to: [alice], send_resolved: always}]", led)
	firing := load(t, "webhook-firing-2-alerts.json")
	for _, n := range []*notification.Notification{firing, resolvedOf(firing)} {
		for _, group := range []string{"{}:{alertname=\"a\"}", "{}:{team=\"b\"}"} {
			m := *n
			m.GroupKey = group
			if err := p.Notify(context.Background(), &m, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := []string{"alice oncall " + aliceNumber + ": FIRING", "alice oncall " + aliceNumber + ": RESOLVED"}
	if got := sent(d.msgs); !slices.Equal(got, want) {
		t.Errorf("sent %q, want %q", got, want)
	}
}

// inGroup is n as the group of key group sends it.
func inGroup(n *notification.Notification, group string) *notification.Notification {
	m := *n
	m.GroupKey = group
	return &m
}

// TestALateCopyAfterResolvedIsNoRefire: an alert in two groups; group b's
// firing notification, which told alice nothing new, is retried after
// group a's RESOLVED reached her (it failed for someone else, say). It is
// a late copy, not the alert firing again: she hears nothing. The group's
// own firing notification from its other Alertmanager within the dedup
// window may be either: it is asked for again (an error, which the
// webhook answers 503); from the same one, or later, the alert fires
// again.
func TestALateCopyAfterResolvedIsNoRefire(t *testing.T) {
	led := openLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	t.Cleanup(func() { led.Close() })
	p, d := pagerOver(t, contacts+"routes: [{name: oncall, to: [alice], send_resolved: always}]", led)
	firing := load(t, "webhook-firing-2-alerts.json")
	peer := *firing
	peer.Data = &template.Data{}
	*peer.Data = *firing.Data
	peer.ExternalURL = "http://am-2:9093"
	a, b := `{}:{alertname="a"}`, `{}:{team="b"}`
	now := time.Now()
	for i, step := range []struct {
		n       *notification.Notification
		at      time.Time
		want    string // what alice gets, if anything
		wantErr error
	}{
		{n: inGroup(firing, a), at: now, want: "FIRING"},
		{n: inGroup(firing, b), at: now},
		{n: inGroup(resolvedOf(firing), a), at: now, want: "RESOLVED"},
		{n: inGroup(firing, b), at: now}, // group b's retry
		{n: inGroup(&peer, a), at: now, wantErr: errFiringAgainUnsure},
		{n: inGroup(&peer, a), at: now.Add(11 * time.Minute), want: "FIRING"}, // past the dedup window: fires again
	} {
		d.msgs = nil
		p.now = func() time.Time { return step.at }
		step.n.Received = step.at
		if err := p.Notify(context.Background(), step.n, ""); !errors.Is(err, step.wantErr) {
			t.Fatalf("step %d: %v, want %v", i, err, step.wantErr)
		}
		var got string
		if len(d.msgs) > 0 {
			got = strings.Join(sent(d.msgs), "; ")
		}
		if want := step.want; (want == "") != (got == "") || !strings.HasSuffix(got, want) {
			t.Errorf("step %d: sent %q, want %q", i, got, want)
		}
	}
}

// TestResolvedToldOnceToWhomRoutingNoLongerReaches: alice, paged before a
// reload took her off the route, hears that the alert resolved once,
// though the alert is in two groups.
func TestResolvedToldOnceToWhomRoutingNoLongerReaches(t *testing.T) {
	led := openLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	t.Cleanup(func() { led.Close() })
	before, d := pagerOver(t, contacts+"routes: [{name: oncall, to: [alice]}]", led)
	firing := load(t, "webhook-firing-2-alerts.json")
	if err := before.Notify(context.Background(), firing, ""); err != nil {
		t.Fatal(err)
	}
	after, d2 := pagerOver(t, contacts+"routes: [{name: oncall, to: [bob], send_resolved: if_paged}]", led)
	for _, group := range []string{`{}:{alertname="a"}`, `{}:{team="b"}`} {
		if err := after.Notify(context.Background(), inGroup(resolvedOf(firing), group), ""); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"alice oncall " + aliceNumber + ": FIRING"}
	if got := sent(d.msgs); !slices.Equal(got, want) {
		t.Fatalf("before the reload: sent %q, want %q", got, want)
	}
	if got, want := sent(d2.msgs), []string{"alice oncall " + aliceNumber + ": RESOLVED"}; !slices.Equal(got, want) {
		t.Errorf("after: sent %q, want %q", got, want)
	}
}

// TestResolvedAddedBypassesAsItsPagingRoute: a resolved alert told to
// whom a bypassing route paged, though routing no longer sends it there,
// bypasses the limits as that route does: in an SMS of its own, and also
// when it joins the SMS of a limited per_alert route that reaches the
// person now for other alerts.
func TestResolvedAddedBypassesAsItsPagingRoute(t *testing.T) {
	before := contacts + `limits: {per_recipient: [{max: 3, per: 10m}]}
routes: [{name: crit, to: [alice], bypass_limits: true}]`
	for name, after := range map[string]string{
		"own SMS": contacts + `limits: {per_recipient: [{max: 3, per: 10m}]}
routes:
  - {name: crit, matchers: ['instance="web-1:8080"'], to: [bob], bypass_limits: true}
  - {name: rest, matchers: ['instance="none"'], to: [alice], mode: per_alert}
unmatched: {report: true}
`,
		"joins a limited page": contacts + `limits: {per_recipient: [{max: 3, per: 10m}]}
routes:
  - {name: crit, matchers: ['instance="web-1:8080"'], to: [bob], bypass_limits: true}
  - {name: rest, to: [alice], mode: per_alert}
`,
	} {
		t.Run(name, func(t *testing.T) {
			led := openLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
			t.Cleanup(func() { led.Close() })
			first, _ := pagerOver(t, before, led)
			n := load(t, "webhook-firing-2-alerts.json")
			if err := first.Notify(context.Background(), n, ""); err != nil {
				t.Fatal(err)
			}
			p, got := pagerOver(t, after, led)
			next := resolvedOf(n)
			next.Data.Status = "firing"
			next.Alerts[1] = n.Alerts[1]
			if err := p.Notify(context.Background(), next, ""); err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(got.msgs, func(m delivery.Message) bool { return m.Number == aliceNumber && m.Resolved == 1 })
			if i < 0 {
				t.Fatalf("no resolved SMS to alice: %s", strings.Join(sent(got.msgs), "; "))
			}
			if !got.msgs[i].BypassLimits {
				t.Errorf("alice's SMS %q (route %s) of web-1 resolved, paged by the bypassing route crit, is limited", got.msgs[i].Text, got.msgs[i].Route)
			}
		})
	}
}

// startingAt is n with its alerts' starts moved by d, as Alertmanager
// sends them after they resolved and fired again.
func startingAt(n *notification.Notification, d time.Duration) *notification.Notification {
	r := *n
	data := *n.Data
	r.Data = &data
	data.Alerts = slices.Clone(n.Alerts)
	for i := range data.Alerts {
		data.Alerts[i].StartsAt = data.Alerts[i].StartsAt.Add(d)
	}
	return &r
}

// TestResolvedAfterAnUnseenRefireReachesWhomTheFiringPaged: the alerts
// resolved and fired again between two notifications of their group, so
// Alertmanager sent neither (it compares fingerprints, not starts); when
// they resolve again, the group's RESOLVED carries starts that no SMS
// paged anyone about. Alice, paged by the first firing and told nothing
// since, hears that they resolved, once: not again from a retry, nor from
// another group's RESOLVED of the same alerts. Bob, whom routing reaches
// now and nothing paged, hears nothing (if_paged); nor does anyone of
// alerts whose group never paged them.
func TestResolvedAfterAnUnseenRefireReachesWhomTheFiringPaged(t *testing.T) {
	led := openLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	t.Cleanup(func() { led.Close() })
	p, d := pagerOver(t, contacts+"routes: [{name: oncall, to: [alice], send_resolved: if_paged}]", led)
	first := load(t, "webhook-firing-2-alerts.json")
	if err := p.Notify(context.Background(), first, ""); err != nil {
		t.Fatal(err)
	}
	later := resolvedOf(startingAt(first, 10*time.Minute))
	p, d2 := pagerOver(t, contacts+"routes: [{name: oncall, to: [alice, bob], send_resolved: if_paged}]", led)
	for _, n := range []*notification.Notification{later, later, inGroup(later, `{}:{team="b"}`)} {
		if err := p.Notify(context.Background(), n, ""); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"alice oncall " + aliceNumber + ": RESOLVED"}
	if got := sent(d2.msgs); !slices.Equal(got, want) {
		t.Fatalf("after the firing SMS %q, sent %q, want %q", sent(d.msgs), got, want)
	}
	if m := d2.msgs[0]; m.Resolved != 2 || m.Firing != 0 {
		t.Errorf("the RESOLVED told of %d resolved and %d firing alerts, want 2 and 0", m.Resolved, m.Firing)
	}
	// The mark of the firing that paged her notes it.
	paged, err := led.PagedTo([]ledger.Firing{firing(first.Alerts[0], repeatGroup(first))})
	if err != nil {
		t.Fatal(err)
	}
	if marks := paged[alertID(first.Alerts[0])]; len(marks) != 1 || marks[0].Resolved.IsZero() {
		t.Errorf("alice's mark of the first firing: %+v, want one, told resolved", marks)
	}

	// Alerts whose group paged nobody: nobody hears of them.
	other := inGroup(resolvedOf(startingAt(first, 20*time.Minute)), `{}:{team="c"}`)
	if err := p.Notify(context.Background(), other, ""); err != nil {
		t.Fatal(err)
	}
	if len(d2.msgs) != 1 {
		t.Errorf("a RESOLVED of a group that paged nobody sent %q", sent(d2.msgs[1:]))
	}
}

// TestUnseenRefireResolvedOnceAcrossGroups: the alerts are in two groups
// of Alertmanager (two of its receivers). oncall (if_paged) paged alice;
// team (always) reaches her too, and paged nobody, since she had heard.
// The alerts resolved and fired again unseen by both, and the RESOLVED of
// the later firing comes from both, in either order: alice hears it once,
// as she did before the unseen refire had a fallback (team's alone).
func TestUnseenRefireResolvedOnceAcrossGroups(t *testing.T) {
	for _, teamFirst := range []bool{true, false} {
		led := openLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
		t.Cleanup(func() { led.Close() })
		p, d := pagerOver(t, contacts+`routes:
- {name: oncall, to: [alice], send_resolved: if_paged}
- {name: team, to: [alice], send_resolved: always}
`, led)
		first := load(t, "webhook-firing-2-alerts.json")
		oncall, team := `{}:{pager="oncall"}`, `{}:{pager="team"}`
		notify := func(n *notification.Notification, pinned string) {
			t.Helper()
			if err := p.Notify(context.Background(), n, pinned); err != nil {
				t.Fatal(err)
			}
		}
		notify(inGroup(first, oncall), "oncall")
		notify(inGroup(first, team), "team")
		later := resolvedOf(startingAt(first, 10*time.Minute))
		if teamFirst {
			notify(inGroup(later, team), "team")
			notify(inGroup(later, oncall), "oncall")
		} else {
			notify(inGroup(later, oncall), "oncall")
			notify(inGroup(later, team), "team")
		}
		resolved := 0
		for _, m := range d.msgs {
			if m.Resolved > 0 {
				resolved++
			}
		}
		if resolved != 1 {
			t.Errorf("team first %v: sent %q, alice told %d times that the alerts resolved, want once", teamFirst, sent(d.msgs), resolved)
		}
	}
}

// TestUnseenRefireAfterAFiringPagedAgain: the first unseen refire's
// RESOLVED reached alice through the firing that paged her. The later
// firing then came again with its start (Alertmanager resolved it when
// its source went quiet) and paged her anew; after another unseen refire,
// its RESOLVED reaches her through that firing: the group's resolved word
// on it, older than its page, is of an earlier round.
func TestUnseenRefireAfterAFiringPagedAgain(t *testing.T) {
	led := openLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	t.Cleanup(func() { led.Close() })
	p, d := pagerOver(t, contacts+"routes: [{name: oncall, to: [alice], send_resolved: if_paged}]", led)
	first := load(t, "webhook-firing-2-alerts.json")
	second := startingAt(first, 10*time.Minute)
	third := startingAt(first, 20*time.Minute)
	for _, n := range []*notification.Notification{first, resolvedOf(second), second, resolvedOf(third)} {
		if err := p.Notify(context.Background(), n, ""); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"alice oncall " + aliceNumber + ": FIRING", "alice oncall " + aliceNumber + ": FIRING",
		"alice oncall " + aliceNumber + ": RESOLVED", "alice oncall " + aliceNumber + ": RESOLVED",
	} // sorted
	if got := sent(d.msgs); !slices.Equal(got, want) {
		t.Errorf("sent %q\nwant %q", got, want)
	}
}

// TestUnseenRefireAfterAFailedResolved: the group's RESOLVED of the first
// firing failed until Alertmanager gave up, so it logged no notification
// and sent the refire that followed neither resolved nor firing. The
// RESOLVED of the later firing reaches alice, whom the first paged: the
// failed one's word does not count as the group's.
func TestUnseenRefireAfterAFailedResolved(t *testing.T) {
	s := newChangeStack(t, contacts+"routes: [{name: oncall, to: [alice], send_resolved: if_paged}]")
	first := load(t, "webhook-firing-2-alerts.json")
	texts, _, err := s.notify(t, first)
	if err != nil || len(texts) != 1 {
		t.Fatalf("firing: %q %v", texts, err)
	}
	s.now = s.now.Add(5 * time.Minute)
	s.got.fail = true
	if _, _, err := s.notify(t, resolvedOf(first)); err == nil {
		t.Fatal("the failing RESOLVED answered success")
	}
	s.got.fail = false
	s.now = s.now.Add(20 * time.Minute)
	texts, _, err = s.notify(t, resolvedOf(startingAt(first, 10*time.Minute)))
	if err != nil || len(texts) != 1 || !strings.Contains(texts[0], "RESOLVED") {
		t.Errorf("RESOLVED after the unseen refire: sent %q (%v), want alice told once", texts, err)
	}
}
