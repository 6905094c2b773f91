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
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/delivery"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
)

// nightInterval is the time interval of the quiet hours of the tests, 22:00 to
// 07:00 UTC.
const nightInterval = `
time_intervals:
  - name: night
    time_intervals:
      - times: [{start_time: '22:00', end_time: '24:00'}, {start_time: '00:00', end_time: '07:00'}]
`

// quietConfig pages alice through a route whose warnings wait through
// the night, 22:00 to 07:00 UTC, and bob about alerts marked for audit,
// without quiet hours.
const quietConfig = contacts + nightInterval + `
routes:
  - name: audit
    matchers: ['audit="yes"']
    to: [bob]
    continue: true
  - name: team
    matchers: ['team="web"']
    to: [alice]
    send_resolved: always
    quiet_hours: {time_intervals: [night], severities: [warning, info]}
  - name: rest
    to: [bob]
`

var (
	night   = time.Date(2026, 11, 25, 23, 0, 0, 0, time.UTC)
	morning = time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
)

func quietAlert(name, severity, status string) template.Alert {
	a := template.Alert{
		Status:      status,
		Labels:      template.KV{"alertname": name, "severity": severity, "team": "web"},
		Annotations: template.KV{},
		StartsAt:    time.Date(2026, 11, 25, 22, 30, 0, 0, time.UTC),
		Fingerprint: name,
	}
	if status == "resolved" {
		a.EndsAt = a.StartsAt.Add(time.Hour)
	}
	return a
}

func quietNotification(alerts ...template.Alert) *notification.Notification {
	status := "resolved"
	for _, a := range alerts {
		if a.Status == "firing" {
			status = "firing"
		}
	}
	return &notification.Notification{
		Data: &template.Data{Receiver: "sms", Status: status, Alerts: alerts, GroupLabels: template.KV{}, CommonLabels: template.KV{},
			CommonAnnotations: template.KV{}, ExternalURL: "http://am:9093"},
		Version: "4", GroupKey: "{}:{team=\"web\"}", ID: "n-test",
	}
}

// notifyAt has p handle n as if it arrived at the instant at.
func notifyAt(t *testing.T, p *Pager, n *notification.Notification, at time.Time) {
	t.Helper()
	p.now = func() time.Time { return at }
	n.Received = at
	if err := p.Notify(context.Background(), n, ""); err != nil {
		t.Fatal(err)
	}
}

// names lists each message as "contact: its firing alerts' names".
func names(msgs []delivery.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Contact+": "+strings.Join(m.Names, ","))
	}
	return out
}

// quietPager is a pager for cfg over a ledger of its own, closed when the
// test ends.
func quietPager(t *testing.T, cfg string) (*Pager, *ledgerDeliverer, *ledger.Ledger) {
	t.Helper()
	led := openLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	t.Cleanup(func() { led.Close() })
	p, d := pagerOver(t, cfg, led)
	return p, d, led
}

// heldOvernight has p hold alerts for alice at night and returns the one
// SMS due for her in the morning.
func heldOvernight(t *testing.T, p *Pager, led *ledger.Ledger, alerts ...template.Alert) ledger.HeldSMS {
	t.Helper()
	notifyAt(t, p, quietNotification(alerts...), night)
	due, err := led.DueHeld(morning)
	if err != nil || len(due) != 1 {
		t.Fatalf("due = %+v, %v", due, err)
	}
	return due[0]
}

// sending marks h in doubt, as delivery does when it begins to send it.
func sending(t *testing.T, led *ledger.Ledger, h ledger.HeldSMS) {
	t.Helper()
	if _, ok, err := led.TakeHeld(h, ledger.Doubt{Number: aliceNumber, Text: "held", Since: morning, Last: morning}, 2, nil, ledger.Window{}, false); err != nil || !ok {
		t.Fatal(ok, err)
	}
}

// TestQuietHoursHoldWhatWaits: at night the warning of a group waits in
// the ledger until 07:00 while its critical goes at once; a retry holds
// nothing twice and sends nothing new.
func TestQuietHoursHoldWhatWaits(t *testing.T) {
	p, d, led := quietPager(t, quietConfig)
	n := quietNotification(quietAlert("DiskFull", "warning", "firing"), quietAlert("NodeDown", "critical", "firing"))
	notifyAt(t, p, n, night)
	if got, want := names(d.msgs), []string{"alice: NodeDown"}; !slices.Equal(got, want) {
		t.Fatalf("sent %q, want %q: the warning waits", got, want)
	}
	if want := Key(n, n.Alerts[1:]) + "/" + aliceNumber; d.msgs[0].Key != want || !d.msgs[0].SendAt.IsZero() {
		t.Errorf("the critical's SMS has key %s and sendAt %s, want %s and none", d.msgs[0].Key, d.msgs[0].SendAt, want)
	}
	notifyAt(t, p, n, night.Add(time.Minute))
	if len(d.msgs) != 1 {
		t.Errorf("a retry sent %q, want nothing more: alice was told of NodeDown", names(d.msgs))
	}

	due, err := led.DueHeld(morning)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 1 || due[0].Number != aliceNumber || !due[0].Until.Equal(morning) || len(due[0].Alerts) != 1 {
		t.Fatalf("due at 07:00: %+v, want DiskFull held for alice", due)
	}
	a := due[0].Alerts[0]
	want := ledger.HeldAlert{ID: alertID(n.Alerts[0]), Since: n.Alerts[0].StartsAt, Name: "DiskFull", Alert: "DiskFull", Group: repeatGroup(n), Contact: "alice", Route: "team", Rank: 2, URL: "http://am:9093", At: a.At}
	if a != want {
		t.Errorf("held %+v\nwant %+v", a, want)
	}
	if due, _ := led.DueHeld(morning.Add(-time.Second)); len(due) != 0 {
		t.Errorf("due before 07:00: %+v", due)
	}
	if got := testutil.ToFloat64(p.metrics.SMSDeferred.WithLabelValues("team", "hold")); got != 2 {
		t.Errorf("sms_deferred_total{route=team,defer=hold} = %v, want 2 (the notification and its retry)", got)
	}
}

// TestQuietHoursResolvedCancels: an alert that resolves while its SMS is
// held is never sent, and its resolved SMS neither, though the route
// sends resolved alerts always; a retry of the resolved notification
// changes nothing. Whoever heard of it otherwise hears it resolved, once.
func TestQuietHoursResolvedCancels(t *testing.T) {
	p, d, led := quietPager(t, quietConfig)
	// bob is paged about the same alert through audit, without quiet hours.
	firing := quietAlert("DiskFull", "warning", "firing")
	firing.Labels["audit"] = "yes"
	notifyAt(t, p, quietNotification(firing), night)
	if got, want := names(d.msgs), []string{"bob: DiskFull"}; !slices.Equal(got, want) {
		t.Fatalf("sent %q, want %q", got, want)
	}
	resolved := firing
	resolved.Status, resolved.EndsAt = "resolved", night.Add(30*time.Minute)
	d.msgs = nil
	notifyAt(t, p, quietNotification(resolved), night.Add(30*time.Minute))
	if len(d.msgs) != 1 || d.msgs[0].Contact != "bob" || d.msgs[0].Resolved != 1 {
		t.Errorf("resolved notification sent %+v, want only bob's RESOLVED", d.msgs)
	}
	d.msgs = nil
	notifyAt(t, p, quietNotification(resolved), night.Add(31*time.Minute))
	if len(d.msgs) != 0 {
		t.Errorf("its retry sent %+v, want nothing: bob was told", d.msgs)
	}
	if due, err := led.DueHeld(morning); err != nil || len(due) != 0 {
		t.Errorf("due at 07:00: %+v, %v; want nothing: it resolved", due, err)
	}
	if got := testutil.ToFloat64(p.metrics.HeldCancelled); got != 1 {
		t.Errorf("deferred_cancelled_total = %v, want 1", got)
	}
}

// TestQuietHoursAfterTheRelease: once the held SMS went out (delivery
// notes its alerts paged), the alert resolving is told as after any page;
// a warning that resolves at night after it was paged by day waits as a
// resolved one.
func TestQuietHoursAfterTheRelease(t *testing.T) {
	p, d, led := quietPager(t, quietConfig)
	firing := quietAlert("DiskFull", "warning", "firing")
	if err := led.ReleaseHeld(heldOvernight(t, p, led, firing), true); err != nil {
		t.Fatal(err)
	}

	resolved := firing
	resolved.Status, resolved.EndsAt = "resolved", morning.Add(time.Hour)
	notifyAt(t, p, quietNotification(resolved), morning.Add(time.Hour))
	if len(d.msgs) != 1 || d.msgs[0].Contact != "alice" || d.msgs[0].Resolved != 1 {
		t.Fatalf("sent %+v, want alice's RESOLVED", d.msgs)
	}

	// Paged by day, resolved at night: the resolved SMS waits.
	d.msgs = nil
	cpu := quietAlert("HighCPU", "warning", "firing")
	notifyAt(t, p, quietNotification(cpu), morning.Add(2*time.Hour))
	cpu.Status, cpu.EndsAt = "resolved", night.Add(24*time.Hour)
	notifyAt(t, p, quietNotification(cpu), night.Add(24*time.Hour))
	if got, want := names(d.msgs), []string{"alice: HighCPU"}; !slices.Equal(got, want) {
		t.Errorf("sent %q, want only the firing SMS by day", got)
	}
	due, err := led.DueHeld(morning.Add(24 * time.Hour))
	if err != nil || len(due) != 1 || len(due[0].Alerts) != 1 || !due[0].Alerts[0].Resolved {
		t.Errorf("due the next morning: %+v, %v; want HighCPU held as resolved", due, err)
	}
}

// heldNames lists what the SMS held for alice and due at at tell of, as
// "15:04 alertname".
func heldNames(t *testing.T, led *ledger.Ledger, at time.Time) []string {
	t.Helper()
	due, err := led.DueHeld(at)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, h := range due {
		for _, a := range h.Alerts {
			if h.Number == aliceNumber {
				out = append(out, h.Until.UTC().Format("15:04")+" "+a.Name)
			}
		}
	}
	return out
}

// TestQuietHoursToldOnce: an alert held for alice is told to her once,
// by whichever SMS reaches her first: the group's next notification after
// the quiet hours ended but before the held SMS went out, an SMS of
// another route without quiet hours, or the held SMS of the night's first
// end when a reload moved it.
func TestQuietHoursToldOnce(t *testing.T) {
	disk, cpu := quietAlert("DiskFull", "warning", "firing"), quietAlert("HighCPU", "warning", "firing")
	t.Run("the group comes again after the end", func(t *testing.T) {
		p, d, led := quietPager(t, quietConfig)
		notifyAt(t, p, quietNotification(disk), night)
		notifyAt(t, p, quietNotification(disk, cpu), morning.Add(10*time.Second))
		if got, want := names(d.msgs), []string{"alice: DiskFull,HighCPU"}; !slices.Equal(got, want) {
			t.Fatalf("sent %q, want %q", got, want)
		}
		if held := heldNames(t, led, morning.Add(30*time.Second)); len(held) != 0 {
			t.Errorf("still held for alice: %q, which her SMS told of", held)
		}
	})
	t.Run("another route tells it at night", func(t *testing.T) {
		p, _, led := quietPager(t, quietConfig)
		notifyAt(t, p, quietNotification(disk), night)
		// A reload adds a route without quiet hours that takes the alert.
		cfg := strings.Replace(quietConfig, "routes:\n", "routes:\n  - name: nodes\n    matchers: ['alertname=~\"NodeDown|DiskFull\"']\n    to: [alice]\n    continue: true\n", 1)
		p, d := pagerOver(t, cfg, led)
		notifyAt(t, p, quietNotification(quietAlert("NodeDown", "warning", "firing"), disk), night.Add(30*time.Minute))
		if got, want := names(d.msgs), []string{"alice: NodeDown,DiskFull"}; !slices.Equal(got, want) {
			t.Fatalf("sent %q, want %q", got, want)
		}
		if held := heldNames(t, led, morning); len(held) != 0 {
			t.Errorf("still held for alice: %q, which the nodes route told her of", held)
		}
	})
	t.Run("a reload moves the end", func(t *testing.T) {
		p, d, led := quietPager(t, quietConfig)
		notifyAt(t, p, quietNotification(disk), night)
		p, d = pagerOver(t, strings.Replace(quietConfig, "end_time: '07:00'", "end_time: '08:00'", 1), led)
		notifyAt(t, p, quietNotification(disk, cpu), night.Add(30*time.Minute))
		if len(d.msgs) != 0 {
			t.Fatalf("sent at night: %q", names(d.msgs))
		}
		due, err := led.DueHeld(morning)
		if err != nil || len(due) != 1 {
			t.Fatalf("due at 07:00: %+v, %v", due, err)
		}
		if err := led.ReleaseHeld(due[0], true); err != nil { // the 07:00 SMS went out
			t.Fatal(err)
		}
		if got, want := heldNames(t, led, morning.Add(time.Hour)), []string{"08:00 HighCPU"}; !slices.Equal(got, want) {
			t.Errorf("held for alice at 08:00: %q, want %q: the 07:00 SMS told of DiskFull", got, want)
		}
	})
}

// TestQuietHoursRefiredHeldInDoubt: an alert paged and told resolved by
// day fires again with its old start at night and is held; while the
// 07:00 SMS that tells of it is in doubt, the group's next notification
// (a retry, the HA peer's copy) does not page it again: the held SMS may
// have told alice.
func TestQuietHoursRefiredHeldInDoubt(t *testing.T) {
	p, d, led := quietPager(t, quietConfig)
	disk := quietAlert("DiskFull", "warning", "firing")
	day := night.Add(-2 * time.Hour) // 21:00, before the quiet hours
	notifyAt(t, p, quietNotification(disk), day)
	notifyAt(t, p, quietNotification(quietAlert("DiskFull", "warning", "resolved")), day.Add(30*time.Minute))
	notifyAt(t, p, quietNotification(disk), night) // fires again with its old start: held
	if got := names(d.msgs); len(got) != 2 {
		t.Fatalf("sent %q before the night, want FIRING and RESOLVED", got)
	}
	due, err := led.DueHeld(morning)
	if err != nil || len(due) != 1 {
		t.Fatalf("due at 07:00: %+v, %v; want DiskFull held again", due, err)
	}
	sending(t, led, due[0]) // the 07:00 SMS is sent; its answer is lost
	d.msgs = nil
	notifyAt(t, p, quietNotification(disk), morning.Add(time.Minute))
	if len(d.msgs) != 0 {
		t.Errorf("sent %q, want nothing: the held SMS in doubt tells of DiskFull", names(d.msgs))
	}
}

// TestQuietHoursResolvedWhileTheHeldSMSIsSent: an alert that resolves
// while its held SMS is being sent, or of unknown outcome, is neither
// cancelled nor told: the notification fails, to come again; once the
// SMS went out, its retry tells alice it resolved.
func TestQuietHoursResolvedWhileTheHeldSMSIsSent(t *testing.T) {
	p, d, led := quietPager(t, quietConfig)
	firing := quietAlert("DiskFull", "warning", "firing")
	h := heldOvernight(t, p, led, firing)
	sending(t, led, h)

	resolved := firing
	resolved.Status, resolved.EndsAt = "resolved", morning
	n := quietNotification(resolved)
	p.now = func() time.Time { return morning }
	n.Received = morning
	if err := p.Notify(context.Background(), n, ""); !errors.Is(err, ledger.ErrHeldInDoubt) {
		t.Fatalf("Notify = %v, want ErrHeldInDoubt", err)
	}
	if len(d.msgs) != 0 {
		t.Errorf("sent %+v while the held SMS is in doubt", d.msgs)
	}
	if err := led.ReleaseHeld(h, true); err != nil {
		t.Fatal(err)
	}
	notifyAt(t, p, n, morning.Add(time.Minute))
	if len(d.msgs) != 1 || d.msgs[0].Contact != "alice" || d.msgs[0].Resolved != 1 {
		t.Errorf("sent %+v, want alice's RESOLVED", d.msgs)
	}
}

// releaseBetween is a ledger whose held SMS h is released, as sent, when
// CancelHeld is called: the release of a held SMS racing a resolved
// notification.
type releaseBetween struct {
	*ledger.Ledger
	h *ledger.HeldSMS
}

func (l *releaseBetween) CancelHeld(alerts []ledger.Firing) (held, inDoubt map[string][]string, cancelled int, err error) {
	if l.h != nil {
		if err := l.Ledger.ReleaseHeld(*l.h, true); err != nil {
			return nil, nil, 0, err
		}
		l.h = nil
	}
	return l.Ledger.CancelHeld(alerts)
}

// TestQuietHoursReleasedWhileResolving: a held SMS released while its
// alert's resolved notification is handled is seen as paged: on an
// if_paged route the resolved SMS goes out.
func TestQuietHoursReleasedWhileResolving(t *testing.T) {
	cfg := strings.Replace(quietConfig, "send_resolved: always", "send_resolved: if_paged", 1)
	p, d, led := quietPager(t, cfg)
	disk := quietAlert("DiskFull", "warning", "firing")
	h := heldOvernight(t, p, led, disk)
	p.paged = &releaseBetween{Ledger: led, h: &h}
	resolved := disk
	resolved.Status, resolved.EndsAt = "resolved", morning
	notifyAt(t, p, quietNotification(resolved), morning.Add(time.Minute))
	if len(d.msgs) != 1 || d.msgs[0].Contact != "alice" || d.msgs[0].Resolved != 1 {
		t.Errorf("sent %+v, want alice's RESOLVED", d.msgs)
	}
}

// TestQuietHoursInDoubtHoldsUpOnlyItsOwn: while a held SMS is in doubt,
// the rest of a notification goes out: a new critical pages alice at
// once, and the held alert is not paged to her again as news; only the
// notification's answer asks for it again.
func TestQuietHoursInDoubtHoldsUpOnlyItsOwn(t *testing.T) {
	p, d, led := quietPager(t, quietConfig)
	disk, cpu := quietAlert("DiskFull", "warning", "firing"), quietAlert("HighCPU", "warning", "firing")
	h := heldOvernight(t, p, led, disk, cpu)
	sending(t, led, h)

	// After the quiet hours the group comes again unchanged for alice:
	// what the held SMS told is not news, so nothing goes out.
	notifyAt(t, p, quietNotification(disk, cpu), morning.Add(time.Minute))
	if len(d.msgs) != 0 {
		t.Fatalf("sent %q, want nothing: the held SMS told alice", names(d.msgs))
	}
	down := quietAlert("NodeDown", "critical", "firing")

	// DiskFull resolves while the held SMS is in doubt, and so does
	// NodeDown, which alice was paged for, and a critical joins: that
	// goes out, both RESOLVED wait.
	notifyAt(t, p, quietNotification(disk, cpu, down), morning.Add(time.Minute))
	d.msgs = nil
	resolved, downResolved := disk, down
	resolved.Status, resolved.EndsAt = "resolved", morning.Add(2*time.Minute)
	downResolved.Status, downResolved.EndsAt = "resolved", morning.Add(2*time.Minute)
	full := quietAlert("PartitionFull", "critical", "firing")
	n := quietNotification(resolved, cpu, downResolved, full)
	p.now = func() time.Time { return morning.Add(2 * time.Minute) }
	n.Received = morning.Add(2 * time.Minute)
	if err := p.Notify(context.Background(), n, ""); !errors.Is(err, ledger.ErrHeldInDoubt) {
		t.Fatalf("Notify = %v, want ErrHeldInDoubt", err)
	}
	if len(d.msgs) != 1 || d.msgs[0].Resolved != 0 || !slices.Contains(d.msgs[0].Names, "PartitionFull") {
		t.Fatalf("sent %+v, want alice's FIRING with PartitionFull and no RESOLVED", d.msgs)
	}

	// Settled as sent: the retry tells both RESOLVED, in one SMS.
	if err := led.ReleaseHeld(h, true); err != nil {
		t.Fatal(err)
	}
	d.msgs = nil
	notifyAt(t, p, n, morning.Add(3*time.Minute))
	if len(d.msgs) != 1 || d.msgs[0].Resolved != 2 {
		t.Errorf("retry sent %+v, want one SMS with both RESOLVED", d.msgs)
	}
}

// TestQuietHoursSendAt: with defer: send_at the warning's SMS goes to
// delivery at once, with sendAt at the end of the quiet hours; by day,
// and for the critical, there is none.
func TestQuietHoursSendAt(t *testing.T) {
	p, d, led := quietPager(t, strings.Replace(quietConfig, "severities: [warning, info]}", "severities: [warning, info], defer: send_at}", 1))
	n := quietNotification(quietAlert("DiskFull", "warning", "firing"), quietAlert("NodeDown", "critical", "firing"))
	notifyAt(t, p, n, night)
	sendAt := map[string]time.Time{}
	for _, m := range d.msgs {
		sendAt[strings.Join(m.Names, ",")] = m.SendAt
	}
	if len(d.msgs) != 2 || !sendAt["DiskFull"].Equal(morning) || !sendAt["NodeDown"].IsZero() {
		t.Errorf("sent %q with sendAt %v, want DiskFull at 07:00 and NodeDown now", names(d.msgs), sendAt)
	}
	if due, _ := led.DueHeld(morning); len(due) != 0 {
		t.Errorf("held %+v: send_at holds nothing here", due)
	}
	if got := testutil.ToFloat64(p.metrics.SMSDeferred.WithLabelValues("team", "send_at")); got != 1 {
		t.Errorf("sms_deferred_total{route=team,defer=send_at} = %v, want 1", got)
	}

	d.msgs = nil
	day := quietNotification(quietAlert("HighCPU", "warning", "firing"))
	notifyAt(t, p, day, morning)
	if len(d.msgs) != 1 || !d.msgs[0].SendAt.IsZero() {
		t.Errorf("by day: %+v, want one SMS without sendAt", d.msgs)
	}
}

// TestQuietHoursPreviewHoldsNothing: a preview at night says the SMS is
// held, and holds nothing.
func TestQuietHoursPreviewHoldsNothing(t *testing.T) {
	p, _, led := quietPager(t, quietConfig)
	n := quietNotification(quietAlert("DiskFull", "warning", "firing"))
	n.Received = night
	pv, err := p.Preview(context.Background(), n, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(pv.SMS) != 0 {
		t.Errorf("preview SMS %q, want none: it is held", names(pv.SMS))
	}
	if !slices.ContainsFunc(pv.Notes, func(n Note) bool { return strings.HasPrefix(n.Message, "sms held for quiet hours") }) {
		t.Errorf("notes %+v do not say it is held", pv.Notes)
	}
	if due, _ := led.DueHeld(morning); len(due) != 0 {
		t.Errorf("a preview held %+v", due)
	}
}

// TestQuietHoursPreviewOfAResolvedAlertInDoubt: the preview of a resolved
// alert whose held SMS is in doubt shows what Notify does: the rest of
// the notification, the RESOLVED withheld with a note, and no error.
func TestQuietHoursPreviewOfAResolvedAlertInDoubt(t *testing.T) {
	p, _, led := quietPager(t, quietConfig)
	disk := quietAlert("DiskFull", "warning", "firing")
	h := heldOvernight(t, p, led, disk)
	sending(t, led, h)

	resolved := disk
	resolved.Status, resolved.EndsAt = "resolved", morning.Add(2*time.Minute)
	n := quietNotification(resolved, quietAlert("PartitionFull", "critical", "firing"))
	n.Received = morning.Add(2 * time.Minute)
	pv, err := p.Preview(context.Background(), n, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(pv.SMS) != 1 || pv.SMS[0].Resolved != 0 || !slices.Contains(pv.SMS[0].Names, "PartitionFull") {
		t.Errorf("preview SMS %+v, want alice's FIRING with PartitionFull and no RESOLVED", pv.SMS)
	}
	if !slices.ContainsFunc(pv.Notes, func(n Note) bool { return strings.HasPrefix(n.Message, "resolved alerts whose held sms is being sent") }) {
		t.Errorf("notes %+v do not say the RESOLVED waits", pv.Notes)
	}
	if due, _ := led.DueHeld(morning); len(due) != 1 || due[0].Doubt == nil {
		t.Errorf("after the preview: due %+v, want the held SMS still in doubt", due)
	}
}

// TestQuietHoursHeldResolvedOutlivesFiringCopies: a RESOLVED held for the
// night stays held through a late firing copy from the other Alertmanager
// (which cannot be told from the alert firing again), and through a flap:
// the alert resolving again holds it again.
func TestQuietHoursHeldResolvedOutlivesFiringCopies(t *testing.T) {
	disk, res := quietAlert("DiskFull", "warning", "firing"), quietAlert("DiskFull", "warning", "resolved")
	for name, after := range map[string][]*notification.Notification{
		"a late copy":                  {peerOf(quietNotification(disk)), peerOf(quietNotification(res))},
		"firing again, resolved again": {quietNotification(disk), quietNotification(res)},
	} {
		t.Run(name, func(t *testing.T) {
			p, _, led := quietPager(t, quietConfig)
			notifyAt(t, p, quietNotification(disk), night.Add(-2*time.Hour)) // paged by day
			notifyAt(t, p, quietNotification(res), night)
			for i, n := range after {
				notifyAt(t, p, n, night.Add(time.Duration(i+1)*time.Minute))
				if due, err := led.DueHeld(morning); err != nil || len(due) != 1 || !due[0].Alerts[0].Resolved {
					t.Errorf("after notification %d: due at 07:00 %+v, %v; want DiskFull's RESOLVED", i, due, err)
				}
			}
		})
	}
}

// criticalThenTeam is the README's example of quiet hours reduced to one
// person: criticals page at once through their own route, everything else
// goes through team, whose warnings wait through the night.
const criticalThenTeam = contacts + nightInterval + `
routes:
  - name: critical
    matchers: ['severity="critical"']
    to: [alice]
  - name: team
    to: [alice]
    quiet_hours: {time_intervals: [night], severities: [warning, info]}
`

// TestQuietHoursFollowEachAlertsRoute: at night a warning waits by the
// quiet hours of the route that brought it, whatever the order of the
// group's alerts and whichever route's template the SMS has. The SMS
// took its route from the first alert, and with a critical first the
// warning went out at night with it: alone, when the critical was old
// news.
func TestQuietHoursFollowEachAlertsRoute(t *testing.T) {
	crit := quietAlert("NodeDown", "critical", "firing")
	warn := quietAlert("DiskFull", "warning", "firing")
	for _, tc := range []struct {
		name       string
		alerts     template.Alerts
		pagedFirst bool // the critical was paged at 21:00
		want       []string
	}{
		{name: "warning first, critical told before", alerts: template.Alerts{warn, crit}, pagedFirst: true},
		{name: "critical first, told before", alerts: template.Alerts{crit, warn}, pagedFirst: true},
		{name: "critical first, new", alerts: template.Alerts{crit, warn}, want: []string{"alice: NodeDown"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, d, led := quietPager(t, criticalThenTeam)
			if tc.pagedFirst {
				notifyAt(t, p, quietNotification(crit), night.Add(-2*time.Hour))
				d.msgs = nil
			}
			notifyAt(t, p, quietNotification(tc.alerts...), night)
			if got := names(d.msgs); !slices.Equal(got, tc.want) {
				t.Errorf("sent at 23:00: %q, want %q", got, tc.want)
			}
			if got, want := heldNames(t, led, morning), []string{"07:00 DiskFull"}; !slices.Equal(got, want) {
				t.Errorf("held for alice: %q, want %q", got, want)
			}
		})
	}
}

// nightlyHandOff: alice and bob take turns daily, handing off at
// midnight; the team's warnings wait through the night.
const nightlyHandOff = contacts + nightInterval + `
schedules:
  ops:
    time_zone: UTC
    layers: [{members: [alice, bob], start: "2026-11-01 00:00", shift: 1d}]
routes:
  - name: team
    to: [ops]
    send_resolved: always
    quiet_hours: {time_intervals: [night], severities: [warning]}
`

// TestQuietHoursResolvedAfterAHandOff: a warning at 23:00 is held for
// alice; at midnight bob takes over; at 01:00 the warning resolves. Nobody
// was told it fired, so nobody is told it resolved: bob, whom routing
// reaches now, got a RESOLVED held for 07:00.
func TestQuietHoursResolvedAfterAHandOff(t *testing.T) {
	p, d, led := quietPager(t, nightlyHandOff)
	if on, _ := p.config.OnCallAt("ops", night.Add(2*time.Hour)); on.Contacts[0] != "bob" {
		t.Fatalf("on call at 01:00: %v, want bob", on.Contacts)
	}
	w := quietAlert("DiskFull", "warning", "firing")
	notifyAt(t, p, quietNotification(w), night)
	w.Status, w.EndsAt = "resolved", night.Add(2*time.Hour)
	notifyAt(t, p, quietNotification(w), night.Add(2*time.Hour))
	if len(d.msgs) != 0 {
		t.Errorf("sent at 01:00: %q", names(d.msgs))
	}
	due, err := led.DueHeld(morning)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range due {
		for _, a := range h.Alerts {
			t.Errorf("due at 07:00 for %s: %s (resolved %v), though nobody heard it fire", a.Contact, a.Name, a.Resolved)
		}
	}
}

// TestQuietHoursKeepAlwaysOfOtherRoutes: an alert held for alice by her
// team's quiet hours resolves; bob, whom a route without quiet hours and
// with send_resolved: always reaches (added by a reload after the alert
// fired), hears that it resolved, as he would had alice's route no quiet
// hours. Quiet hours withhold it only from whom they would have held it
// for.
func TestQuietHoursKeepAlwaysOfOtherRoutes(t *testing.T) {
	base := contacts + nightInterval + `
routes:
  - name: team
    to: [alice]
    continue: true
`
	for _, quiet := range []bool{false, true} {
		cfg := base
		if quiet {
			cfg += "    quiet_hours: {time_intervals: [night], severities: [warning]}\n"
		}
		p, _, led := quietPager(t, cfg)
		x := quietAlert("DiskFull", "warning", "firing")
		notifyAt(t, p, quietNotification(x), night)
		p, d := pagerOver(t, cfg+"  - name: ops\n    to: [bob]\n    send_resolved: always\n", led)
		x.Status, x.EndsAt = "resolved", night.Add(30*time.Minute)
		notifyAt(t, p, quietNotification(x), night.Add(30*time.Minute))
		if !slices.ContainsFunc(d.msgs, func(m delivery.Message) bool { return m.Contact == "bob" && m.Resolved == 1 }) {
			t.Errorf("alice's route with quiet hours %v: sent %+v, want bob told it resolved", quiet, d.msgs)
		}
	}
}

// TestQuietHoursOfThePagingRoute: bob was paged by day of a warning by
// team, whose warnings wait at night, and of a critical by crit. A
// reload sends team to alice. At night the warning resolves: bob, still
// reached by crit for the critical, hears of it at the end of the quiet
// hours of team, the route that paged him of it, not at once by crit's.
func TestQuietHoursOfThePagingRoute(t *testing.T) {
	const before = contacts + nightInterval + `
routes:
  - name: crit
    matchers: ['severity="critical"']
    to: [bob]
  - name: team
    to: [bob]
    send_resolved: always
    quiet_hours: {time_intervals: [night], severities: [warning]}
`
	p, d, led := quietPager(t, before)
	disk, node := quietAlert("DiskFull", "warning", "firing"), quietAlert("NodeDown", "critical", "firing")
	disk.StartsAt, node.StartsAt = night.Add(-90*time.Minute), night.Add(-90*time.Minute)
	notifyAt(t, p, quietNotification(disk, node), night.Add(-75*time.Minute))
	if got := names(d.msgs); len(got) != 1 {
		t.Fatalf("at 21:45 sent %q, want bob's page of both", got)
	}
	p, d = pagerOver(t, strings.Replace(before, "    to: [bob]\n    send_resolved: always", "    to: [alice]\n    send_resolved: always", 1), led)
	disk.Status, disk.EndsAt = "resolved", night.Add(-45*time.Minute)
	notifyAt(t, p, quietNotification(disk, node), night.Add(-45*time.Minute))
	if len(d.msgs) != 0 {
		t.Errorf("at 22:15 sent %q; bob's resolved warning waits for 07:00", names(d.msgs))
	}
	due, err := led.DueHeld(morning)
	if err != nil {
		t.Fatal(err)
	}
	// (alice, whom team reaches now, hears of it too: send_resolved: always.)
	i := slices.IndexFunc(due, func(h ledger.HeldSMS) bool { return h.Number == bobNumber })
	if i < 0 || len(due[i].Alerts) != 1 || !due[i].Alerts[0].Resolved || due[i].Alerts[0].Route != "team" {
		t.Errorf("due at 07:00: %+v; want bob's DiskFull, resolved, held by team", due)
	}
}

// TestQuietHoursThatWouldNotHoldKeepTheResolved: an alert held for alice
// resolves; bob's route has quiet hours of its own that would not hold
// the alert now (other days, other severities). He hears that it
// resolved, as send_resolved: always says.
func TestQuietHoursThatWouldNotHoldKeepTheResolved(t *testing.T) {
	base := contacts + nightInterval + `
  - name: weekend
    time_intervals:
      - weekdays: [saturday, sunday]
routes:
  - name: team
    to: [alice]
    continue: true
    quiet_hours: {time_intervals: [night], severities: [warning]}
`
	for _, quiet := range []string{"{time_intervals: [weekend], severities: [warning]}", "{time_intervals: [night], severities: [info]}"} {
		p, _, led := quietPager(t, base)
		x := quietAlert("DiskFull", "warning", "firing")
		notifyAt(t, p, quietNotification(x), night)
		p, d := pagerOver(t, base+"  - name: ops\n    to: [bob]\n    send_resolved: always\n    quiet_hours: "+quiet+"\n", led)
		x.Status, x.EndsAt = "resolved", night.Add(30*time.Minute)
		notifyAt(t, p, quietNotification(x), night.Add(30*time.Minute))
		if !slices.ContainsFunc(d.msgs, func(m delivery.Message) bool { return m.Contact == "bob" && m.Resolved == 1 }) {
			t.Errorf("bob's quiet hours %s: sent %+v, want bob told it resolved", quiet, d.msgs)
		}
	}
}

// TestQuietPartKeepsItsKeyWhenAnAlertTurnsLate: a notification whose
// quiet hours split it is retried after another group told alice that
// one of its alerts resolved. Each SMS of the retry, the part deferred
// and the part sent now, keeps the key of the first attempt, and finds
// it delivered: a key of the alerts shown would change with what the
// ledger says meanwhile, and page twice.
func TestQuietPartKeepsItsKeyWhenAnAlertTurnsLate(t *testing.T) {
	cfg := contacts + nightInterval + `
routes:
  - {name: critical, matchers: ['severity="critical"'], to: [alice], send_resolved: always}
  - {name: team, to: [alice], quiet_hours: {time_intervals: [night], severities: [warning], defer: send_at}}
`
	s := newChangeStack(t, cfg)
	down := quietAlert("NodeDown", "critical", "firing")
	s.now = night.Add(-2 * time.Hour)
	if _, _, err := s.notify(t, quietNotification(down)); err != nil {
		t.Fatal(err)
	}
	s.now = night
	n := quietNotification(down, quietAlert("CPU", "critical", "firing"), quietAlert("DiskFull", "warning", "firing"))
	s.got.fail = true
	_, first, _ := s.notify(t, n)
	s.got.fail = false
	s.now = night.Add(10 * time.Second)
	other := quietNotification(quietAlert("NodeDown", "critical", "resolved"))
	other.GroupKey = "{}:{other}"
	if _, _, err := s.notify(t, other); err != nil {
		t.Fatal(err)
	}
	s.now = night.Add(20 * time.Second)
	_, retry, err := s.notify(t, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range retry {
		if !slices.Contains(first, k) {
			t.Errorf("the retry made key %q, not among the first attempt's %q", k, first)
		}
	}
}

// TestQuietHoursRefireResolvedIsToldOnce: alice was paged by the first
// firing in the evening. At night the alert resolves (her RESOLVED held
// for 07:00), fires again with a new start (Alertmanager sends it as
// news; its SMS held too) and resolves again (the held firing cancelled).
// The morning SMS tells her once that the alert resolved:
//   - seen: the first RESOLVED is of the first firing; the second
//     firing was seen, so its RESOLVED is no unseen refire's, and does
//     not reach her again by the first firing's mark, which only the
//     held SMS notes as told;
//   - unseen: the first RESOLVED is of an unseen refire, which reaches
//     her through the first firing's note; once it was answered, the
//     next firing's RESOLVED does not fall back to that note again.
func TestQuietHoursRefireResolvedIsToldOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		// unseen: the first RESOLVED carries a start of its own, 22:30.
		unseen bool
	}{
		{"seen", false},
		{"unseen", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, d, led := quietPager(t, quietConfig)
			evening := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
			first := quietAlert("DiskFull", "warning", "firing")
			first.StartsAt = evening.Add(-time.Minute)
			notifyAt(t, p, quietNotification(first), evening)
			if len(d.msgs) != 1 {
				t.Fatalf("evening: sent %q", sent(d.msgs))
			}
			resolved := first
			if tc.unseen {
				resolved.StartsAt = night.Add(-30 * time.Minute)
			}
			resolved.Status, resolved.EndsAt = "resolved", night
			notifyAt(t, p, quietNotification(resolved), night)
			next := first
			next.StartsAt = night.Add(5 * time.Minute)
			notifyAt(t, p, quietNotification(next), night.Add(10*time.Minute))
			next.Status, next.EndsAt = "resolved", night.Add(15*time.Minute)
			notifyAt(t, p, quietNotification(next), night.Add(20*time.Minute))
			if len(d.msgs) != 1 {
				t.Fatalf("night: sent %q, want nothing at once", sent(d.msgs[1:]))
			}
			due, err := led.DueHeld(morning)
			if err != nil {
				t.Fatal(err)
			}
			var told []string
			for _, h := range due {
				for _, a := range h.Alerts {
					if a.Resolved {
						told = append(told, h.Number+" "+a.ID)
					}
				}
			}
			if len(told) != 1 {
				t.Errorf("the morning SMS tells that DiskFull resolved %d times (%q), want once", len(told), told)
			}
		})
	}
}

// TestQuietHoursHeldFiringCancelledByAnUnseenRefire: alice's firing SMS
// is held at night; the alert resolves and fires again with a new start
// between two notifications of its group, which sends neither, and then
// resolves, its RESOLVED carrying the later start. The held FIRING of the
// earlier firing, of an alert that has ended, is cancelled: at 07:00 she
// would hear that it fires and never that it ended. Nor is she told at
// night that it resolved, having never heard of it.
func TestQuietHoursHeldFiringCancelledByAnUnseenRefire(t *testing.T) {
	p, d, led := quietPager(t, quietConfig)
	firing := quietAlert("DiskFull", "warning", "firing")
	notifyAt(t, p, quietNotification(firing), night)
	resolved := firing
	resolved.StartsAt = firing.StartsAt.Add(40 * time.Minute)
	resolved.Status, resolved.EndsAt = "resolved", night.Add(20*time.Minute)
	notifyAt(t, p, quietNotification(resolved), night.Add(30*time.Minute))
	if due, err := led.DueHeld(morning); err != nil || len(due) != 0 {
		t.Errorf("due at 07:00: %+v (%v), want nothing: the alert resolved", due, err)
	}
	if len(d.msgs) != 0 {
		t.Errorf("sent at night %q, want nothing", sent(d.msgs))
	}
}

// TestQuietHoursHeldUnseenRefireResolvedToldOnceAcrossGroups: alice was
// paged in the evening by two groups of the same alert. At night it
// resolves and fires again unseen by the first group, whose RESOLVED,
// of the later start, reaches her through that group's note of the
// evening's firing and waits for 07:00; once answered, the group forgets
// the note. The morning SMS tells her; the second group's RESOLVED of the
// evening's firing, after it, is no news to her.
func TestQuietHoursHeldUnseenRefireResolvedToldOnceAcrossGroups(t *testing.T) {
	p, d, led := quietPager(t, quietConfig)
	evening := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	first := quietAlert("DiskFull", "warning", "firing")
	first.StartsAt = evening.Add(-time.Minute)
	inGroup := func(a template.Alert, key string) *notification.Notification {
		n := quietNotification(a)
		n.GroupKey = key
		return n
	}
	const g1, g2 = `{}:{team="web"}`, `{}:{team="web",other="yes"}`
	notifyAt(t, p, inGroup(first, g1), evening)
	notifyAt(t, p, inGroup(first, g2), evening.Add(time.Minute))
	paged := len(d.msgs)
	if paged == 0 {
		t.Fatal("evening: nothing sent")
	}
	refire := first
	refire.StartsAt = night.Add(-30 * time.Minute)
	refire.Status, refire.EndsAt = "resolved", night
	notifyAt(t, p, inGroup(refire, g1), night)
	due, err := led.DueHeld(morning)
	if err != nil || len(due) != 1 {
		t.Fatalf("due at 07:00: %+v, %v; want alice's RESOLVED", due, err)
	}
	if err := led.ReleaseHeld(due[0], true); err != nil {
		t.Fatal(err)
	}
	resolved := first
	resolved.Status, resolved.EndsAt = "resolved", night.Add(-40*time.Minute)
	notifyAt(t, p, inGroup(resolved, g2), morning.Add(30*time.Minute))
	if got := sent(d.msgs[paged:]); len(got) != 0 {
		t.Errorf("after the morning SMS, the second group's RESOLVED sent %q, want nothing: she was told", got)
	}
}
