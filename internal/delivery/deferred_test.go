package delivery

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sms"
)

const heldNumber = "+4915100000001"

// hold holds alerts for heldNumber until the fake clock's time plus d,
// advancing the clock by a minute after each, so that they were held in
// order.
func (f *fixture) hold(t *testing.T, d time.Duration, alerts ...ledger.HeldAlert) time.Time {
	t.Helper()
	until := f.clock.Now().Add(d)
	for _, a := range alerts {
		if err := f.ledger.Hold(heldNumber, until, []ledger.HeldAlert{a}); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Minute)
	}
	return until
}

func heldAlert(id, name string) ledger.HeldAlert {
	return ledger.HeldAlert{ID: id, Since: firingSince, Name: name, Contact: "alice", Route: "team", Rank: 2, URL: "http://am:9093"}
}

// TestSendHeldWhenQuietHoursEnd: nothing goes out before the end; at the
// end one SMS tells of the alerts still held, in the order held, with the
// resolved ones counted apart; its firing alerts are then paged, and it is
// not sent again.
func TestSendHeldWhenQuietHoursEnd(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	done := heldAlert("fp9|1", "Old")
	done.Resolved = true
	until := f.hold(t, 4*time.Hour, heldAlert("fp2|1", "HighCPU"), heldAlert("fp1|1", "DiskFull"), heldAlert("fp3|1", "HighCPU"), done)

	if err := f.d.SendHeld(ctx, time.Second, f.limits); err != nil {
		t.Fatal(err)
	}
	if got := f.fake.Messages(); len(got) != 0 {
		t.Fatalf("before the end: %+v sent", got)
	}
	f.clock.Advance(until.Sub(f.clock.Now()))
	for range 2 {
		if err := f.d.SendHeld(ctx, time.Second, f.limits); err != nil {
			t.Fatal(err)
		}
	}
	got := f.fake.Messages()
	want := "Held for quiet hours since 03:12 UTC: 3 firing (HighCPU, DiskFull), 1 resolved. http://am:9093"
	if len(got) != 1 || got[0].Message != want || got[0].Recipient != heldNumber || got[0].SendAt != 0 {
		t.Fatalf("sent %+v, want once %q to %s", got, want, heldNumber)
	}
	paged, err := f.ledger.PagedTo(firing("fp1|1", "fp2|1", "fp3|1", "fp9|1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paged) != 3 || paged["fp9|1"] != nil || paged["fp1|1"][0].Contact != "alice" || paged["fp1|1"][0].Route != "team" {
		t.Errorf("paged = %+v, want the three firing alerts paged to alice by team", paged)
	}
	if n := testutil.ToFloat64(f.metrics.HeldSent.WithLabelValues("accepted")); n != 1 {
		t.Errorf("deferred_sent_total{result=accepted} = %v, want 1", n)
	}
	if l := f.logLine(t, "held sms sent"); l["route"] != HeldRoute || l["contact"] != "alice" || l["number"] != "+49151******01" {
		t.Errorf("log line %v", l)
	}
}

// TestSendHeldWaitsForTheLimits: a held SMS counts against the limits
// like any; while they allow no send it stays held.
func TestSendHeldWaitsForTheLimits(t *testing.T) {
	f := newFixture(t, ledger.Window{Max: 1, Per: time.Hour})
	ctx := context.Background()
	until := f.hold(t, 0, heldAlert("fp1|1", "DiskFull"))
	if err := f.deliver(ctx, msgs("first", heldNumber)); err != nil {
		t.Fatal(err)
	}
	if err := f.d.SendHeld(ctx, time.Second, f.limits); err != nil {
		t.Fatal(err)
	}
	if got := f.fake.Messages(); len(got) != 1 {
		t.Fatalf("sent %d SMS, want only the first: the limit holds the held one", len(got))
	}
	if due, _ := f.ledger.DueHeld(until); len(due) != 1 {
		t.Fatalf("due = %+v, want it still held", due)
	}
	f.clock.Advance(time.Hour)
	if err := f.d.SendHeld(ctx, time.Second, f.limits); err != nil {
		t.Fatal(err)
	}
	if got := f.fake.Messages(); len(got) != 2 {
		t.Fatalf("sent %d SMS, want the held one once the window has room", len(got))
	}
}

// TestSendHeldFailures: a failure a retry may fix leaves the SMS held for
// the next call; one it cannot fix drops it, and nobody counts as paged.
func TestSendHeldFailures(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	until := f.hold(t, 0, heldAlert("fp1|1", "DiskFull"))
	f.fake.Down(503, "")
	if err := f.d.SendHeld(ctx, 50*time.Millisecond, f.limits); err != nil {
		t.Fatal(err)
	}
	if due, _ := f.ledger.DueHeld(until); len(due) != 1 {
		t.Fatalf("after a 503: due = %+v, want it still held", due)
	}
	f.fake.Up()
	f.fake.FailRecipient(heldNumber, 402)
	if err := f.d.SendHeld(ctx, time.Second, f.limits); err != nil {
		t.Fatal(err)
	}
	if due, _ := f.ledger.DueHeld(until); len(due) != 0 {
		t.Errorf("after a 402: due = %+v, want it dropped", due)
	}
	if paged, _ := f.ledger.PagedTo(firing("fp1|1")); len(paged) != 0 {
		t.Errorf("paged = %+v after a dropped SMS", paged)
	}
	for result, want := range map[string]float64{"failed_retryable": 1, "failed_permanent": 1, "accepted": 0} {
		if n := testutil.ToFloat64(f.metrics.HeldSent.WithLabelValues(result)); n != want {
			t.Errorf("deferred_sent_total{result=%q} = %v, want %v", result, n, want)
		}
	}
}

// TestSendAtReachesSipgate: a message with SendAt asks sipgate to send it
// then; one whose SendAt has passed goes at once, as sipgate takes no
// sendAt in the past. Either counts as delivered and paged.
func TestSendAtReachesSipgate(t *testing.T) {
	f := newFixture(t)
	// The fake sipgate takes a sendAt up to a month after its own clock.
	f.clock.mu.Lock()
	f.clock.now = time.Now().Truncate(time.Second)
	f.clock.mu.Unlock()
	at := f.clock.Now().Add(4 * time.Hour)
	later := Message{Key: "later/" + heldNumber, Route: "team", Contact: "alice", Number: heldNumber, Text: "later", Paged: firing("fp1|1"), SendAt: at}
	past := Message{Key: "past/" + heldNumber, Route: "team", Contact: "alice", Number: heldNumber, Text: "past", SendAt: f.clock.Now()}
	if err := f.deliver(context.Background(), []Message{later, past}); err != nil {
		t.Fatal(err)
	}
	sendAt := map[string]int64{}
	for _, m := range f.fake.Messages() {
		sendAt[m.Message] = m.SendAt
	}
	if want := map[string]int64{"later": at.Unix(), "past": 0}; !reflect.DeepEqual(sendAt, want) {
		t.Errorf("sendAt by text = %v, want %v", sendAt, want)
	}
	if paged, _ := f.ledger.PagedTo(firing("fp1|1")); len(paged["fp1|1"]) != 1 {
		t.Errorf("paged = %+v, want fp1|1 paged once sipgate took it", paged)
	}
}

func TestHeldText(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	night := time.Date(2026, 11, 24, 21, 14, 0, 0, time.UTC) // 22:14 in Berlin
	at := func(a ledger.HeldAlert, d time.Duration) ledger.HeldAlert { a.At = night.Add(d); return a }
	resolved := func(a ledger.HeldAlert) ledger.HeldAlert { a.Resolved = true; return a }
	of := func(a ledger.HeldAlert, alert string) ledger.HeldAlert { a.Alert = alert; return a }
	for _, tc := range []struct {
		name   string
		alerts []ledger.HeldAlert
		want   string
	}{
		{
			name:   "names in the order held, each once, the earliest time",
			alerts: []ledger.HeldAlert{at(heldAlert("a", "HighCPU"), time.Hour), at(heldAlert("b", "DiskFull"), 0), at(heldAlert("c", "DiskFull"), 2*time.Hour)},
			want:   "Held for quiet hours since Nov 24 22:14 CET: 3 firing (DiskFull, HighCPU). http://am:9093",
		},
		{
			name:   "only resolved",
			alerts: []ledger.HeldAlert{resolved(at(heldAlert("a", "HighCPU"), 0))},
			want:   "Held for quiet hours since Nov 24 22:14 CET: 1 resolved. http://am:9093",
		},
		{
			// Two groups' RESOLVED of one alert, one of them after it fired
			// again unseen (a later start): one alert resolved.
			name: "an alert resolved of two starts counted once",
			alerts: []ledger.HeldAlert{resolved(at(of(heldAlert("fp1|0", "DiskFull"), "fp1"), 0)), resolved(at(of(heldAlert("fp1|10", "DiskFull"), "fp1"), time.Hour)),
				resolved(at(heldAlert("fp2|0", "DiskFull"), 0)), resolved(at(heldAlert("fp3|0", "DiskFull"), 0))},
			want: "Held for quiet hours since Nov 24 22:14 CET: 3 resolved. http://am:9093",
		},
		{
			name: "names beyond the bound counted",
			alerts: []ledger.HeldAlert{at(heldAlert("a", "A"), 0), at(heldAlert("b", "B"), 1), at(heldAlert("c", "C"), 2), at(heldAlert("d", "D"), 3),
				at(heldAlert("e", "E"), 4), at(heldAlert("f", "F"), 5), at(heldAlert("g", "G"), 6), at(heldAlert("h", "F"), 7)},
			want: "Held for quiet hours since Nov 24 22:14 CET: 8 firing (A, B, C, D, E, +2 more). http://am:9093",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.with(func(o *Options) { o.Location = func() *time.Location { return berlin } })
			got := f.d.summaryText(heldLead, summarize(ledger.HeldSMS{Number: heldNumber, Alerts: tc.alerts}).s)
			if got != tc.want {
				t.Errorf("\n got %q\nwant %q", got, tc.want)
			}
			if size := sms.Measure(got); size.Segments != 1 || size.Encoding != sms.GSM7 {
				t.Errorf("costs %+v, want one GSM-7 segment", size)
			}
		})
	}
}

// TestHeldCountsAsItsMostSevereAlert: the SMS takes the limits' room of
// its most severe alert, and bypasses them when any of its alerts came by
// a route that does.
func TestHeldCountsAsItsMostSevereAlert(t *testing.T) {
	a, b := heldAlert("a", "A"), heldAlert("b", "B")
	a.Rank, b.Rank, b.BypassLimits = 3, 1, true
	sum := summarize(ledger.HeldSMS{Alerts: []ledger.HeldAlert{a, b}})
	if sum.rank != 1 || !sum.bypass {
		t.Errorf("rank %d, bypass %v; want 1, true", sum.rank, sum.bypass)
	}
	if sum = summarize(ledger.HeldSMS{Alerts: []ledger.HeldAlert{a}}); sum.rank != 3 || sum.bypass {
		t.Errorf("rank %d, bypass %v; want 3, false", sum.rank, sum.bypass)
	}
}

// TestSendAtCountsWhenItArrives: the limits count an SMS that sipgate is
// asked to send later when it arrives, not when it is handed over. Four
// warnings handed over 15 minutes apart in the night, all for 07:00,
// under one SMS per 10 minutes: one goes, three are owed in a digest, and
// the digest comes once the window after 07:00 has room, not in the night.
func TestSendAtCountsWhenItArrives(t *testing.T) {
	const per = 10 * time.Minute
	f := newFixture(t, ledger.Window{Max: 1, Per: per})
	f.clock.mu.Lock()
	f.clock.now = time.Now().Truncate(time.Second)
	f.clock.mu.Unlock()
	morning := f.clock.Now().Add(8 * time.Hour)
	ctx := context.Background()
	for i := range 4 {
		key := strconv.Itoa(i)
		m := Message{Key: key, Route: "team", Contact: "alice", Number: heldNumber, Text: "warning " + key, Alerts: 1, Firing: 1, Names: []string{"W" + key}, SendAt: morning}
		if err := f.deliver(ctx, []Message{m}); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(15 * time.Minute)
	}
	if got := f.fake.Messages(); len(got) != 1 || got[0].SendAt != morning.Unix() {
		t.Fatalf("sipgate took %+v, want one SMS for the morning", got)
	}
	if n := testutil.ToFloat64(f.metrics.AlertsSuppressed.WithLabelValues("team")); n != 3 {
		t.Errorf("alerts_suppressed_total = %v, want the three others", n)
	}
	// Through the night and until the window after 07:00 has room: no digest.
	for _, at := range []time.Time{f.clock.Now().Add(time.Hour), morning, morning.Add(per - time.Second)} {
		f.clock.Advance(at.Sub(f.clock.Now()))
		if err := f.d.SendDigests(ctx, time.Second, f.limits); err != nil {
			t.Fatal(err)
		}
		if n := len(f.fake.Messages()); n != 1 {
			t.Fatalf("at %s: %d SMS, want the digest to wait for the window after the morning's SMS", at.Sub(morning), n)
		}
	}
	f.clock.Advance(morning.Add(per + time.Second).Sub(f.clock.Now()))
	if err := f.d.SendDigests(ctx, time.Second, f.limits); err != nil {
		t.Fatal(err)
	}
	if got := f.fake.Messages(); len(got) != 2 || !strings.Contains(got[1].Message, "3 firing (W1, W2, W3)") {
		t.Fatalf("sipgate took %+v, want the digest of three second", got)
	}
}
