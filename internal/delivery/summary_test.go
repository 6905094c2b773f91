package delivery

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate"
)

// owingDigest is a fixture that owes number a digest: of two SMS, a limit
// of one an hour let a through and suppressed b. Its sends go to sender,
// and history settles unknown outcomes, one resend allowed.
func owingDigest(t *testing.T, number string) (*fixture, *scriptSender, *fakeHistory) {
	t.Helper()
	sender := &scriptSender{}
	history := &fakeHistory{}
	f := unknownFixture(t, sender, history, 1, ledger.Window{Max: 1, Per: time.Hour})
	if err := f.deliver(context.Background(), append(msgs("a", number), msgs("b", number)...)); err != nil {
		t.Fatal(err)
	}
	return f, sender, history
}

// TestDigestOfUnknownOutcomeIsSettled: a digest whose answer was lost
// stays under its in-doubt mark, is not sent again before the grace
// period, and is then settled from sipgate's history: not found, it is
// sent once more, with the same text. It is not refunded, and what was
// suppressed meanwhile waits for the next digest.
func TestDigestOfUnknownOutcomeIsSettled(t *testing.T) {
	const number = "+4915100000001"
	f, sender, history := owingDigest(t, number)
	ctx := context.Background()
	f.clock.Advance(time.Hour)
	sender.mu.Lock()
	sender.errs = []error{lost{}}
	sender.mu.Unlock()
	if err := f.d.SendDigests(ctx, time.Second, f.limits); err != nil {
		t.Fatal(err)
	}
	if c := testutil.ToFloat64(f.metrics.Digests.WithLabelValues(Unknown.String())); c != 1 {
		t.Errorf("digests_total{result=unknown} = %v, want 1", c)
	}
	doubts, err := f.ledger.DigestsInDoubt()
	if err != nil || doubts[number].Covered.Alerts != 1 {
		t.Fatalf("digests in doubt = %+v, %v; want the digest of b", doubts, err)
	}
	// Not refunded: c, as little severe as a digest, finds the window
	// full and is owed in the next digest.
	c := msgs("c", number)
	c[0].Severity = ledger.MaxRank
	if err := f.deliver(ctx, c); err != nil {
		t.Fatal(err)
	}
	if n := f.count("r", Suppressed.String()); n != 2 {
		t.Errorf("suppressed = %d, want 2 (b, then c after the digest)", n)
	}

	// Within the grace period: neither asked nor sent.
	if err := f.d.SendDigests(ctx, time.Second, f.limits); err != nil {
		t.Fatal(err)
	}
	if n, asked := len(sender.sends()), len(history.asked()); n != 2 || asked != 0 {
		t.Fatalf("within the grace period: %d sent, history asked %d times; want 2 (a, the digest) and none", n, asked)
	}

	f.clock.Advance(settleAfter)
	if err := f.d.SendDigests(ctx, time.Second, f.limits); err != nil {
		t.Fatal(err)
	}
	sent := sender.sends()
	if len(sent) != 3 || sent[2].Message != sent[1].Message {
		t.Fatalf("sent %+v, want a, the digest and the digest again", sent)
	}
	if asked := history.asked(); len(asked) != 1 || asked[0].text != sent[1].Message {
		t.Errorf("history asked %+v, want once for the digest", asked)
	}
	if n := f.unknownOutcomes(settledResent); n != 1 {
		t.Errorf("unknown outcomes resent = %d, want 1", n)
	}
	pending, err := f.ledger.Pending()
	if err != nil || pending[number].Alerts != 1 {
		t.Errorf("owed after the resend: %+v, %v; want c alone", pending, err)
	}
	if doubts, err := f.ledger.DigestsInDoubt(); err != nil || len(doubts) != 0 {
		t.Errorf("digests in doubt after the resend: %+v, %v", doubts, err)
	}
	// c waits for the window: the digest took it.
	if err := f.d.SendDigests(ctx, time.Second, f.limits); err != nil {
		t.Fatal(err)
	}
	if n := len(sender.sends()); n != 3 {
		t.Errorf("sent %d, want still 3: the window is full", n)
	}
}

// TestSummaryOfUnknownOutcomeSettles: how a held SMS or a digest of
// unknown outcome ends, by what the history says and how many resends
// are allowed.
func TestSummaryOfUnknownOutcomeSettles(t *testing.T) {
	for _, tc := range []struct {
		name          string
		found         bool
		historyErr    error
		resend        int
		resendErr     error
		down          bool // sipgate down for the resend
		wantSent      int  // SMS in all
		wantResult    string
		wantReleased  bool
		wantStillHeld bool
		// wantOutcomes is what Observe is told and deferred_sent_total
		// counts, in order: the lost answer, then its settling.
		wantOutcomes []Outcome
	}{
		{name: "found", found: true, resend: 1, wantSent: 1, wantResult: settledFound, wantReleased: true, wantOutcomes: []Outcome{Unknown, Accepted}},
		{name: "not found, resent", resend: 1, wantSent: 2, wantResult: settledResent, wantReleased: true, wantOutcomes: []Outcome{Unknown, Accepted}},
		{name: "history unreadable, resent", historyErr: errors.New("403"), resend: 1, wantSent: 2, wantResult: settledResent, wantReleased: true, wantOutcomes: []Outcome{Unknown, Accepted}},
		{name: "not found, no resend allowed", resend: 0, wantSent: 1, wantResult: settledGivenUp, wantReleased: true, wantOutcomes: []Outcome{Unknown, GivenUp}},
		{name: "resend refused for good", resend: 1, resendErr: refused{}, wantSent: 2, wantResult: settledGivenUp, wantReleased: true, wantOutcomes: []Outcome{Unknown, GivenUp}},
		{name: "resend failed", resend: 1, down: true, wantSent: 1, wantStillHeld: true, wantOutcomes: []Outcome{Unknown, FailedRetryable}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sender := &scriptSender{errs: []error{lost{}}}
			if tc.resendErr != nil {
				sender.errs = append(sender.errs, tc.resendErr)
			}
			down := &downSender{Sender: sender}
			history := &fakeHistory{found: tc.found, err: tc.historyErr}
			f := unknownFixture(t, down, history, tc.resend)
			var seen events
			f.with(func(o *Options) { o.Observe = seen.observe })
			ctx := context.Background()
			until := f.hold(t, 0, heldAlert("fp1|1", "DiskFull"))
			if err := f.d.SendHeld(ctx, time.Second, f.limits); err != nil {
				t.Fatal(err)
			}
			due, err := f.ledger.DueHeld(until)
			if err != nil || len(due) != 1 || due[0].Doubt == nil {
				t.Fatalf("after the lost answer: due = %+v, %v; want it in doubt", due, err)
			}
			// Whom it may have told counts as told meanwhile.
			if paged, _ := f.ledger.PagedTo(firing("fp1|1")); len(paged["fp1|1"]) != 1 {
				t.Errorf("paged = %+v while in doubt, want fp1|1 to alice", paged)
			}
			f.clock.Advance(settleAfter)
			down.down.Store(tc.down)
			if err := f.d.SendHeld(ctx, 50*time.Millisecond, f.limits); err != nil {
				t.Fatal(err)
			}
			down.down.Store(false)
			sent := sender.sends()
			if len(sent) != tc.wantSent {
				t.Fatalf("sent %d SMS, want %d", len(sent), tc.wantSent)
			}
			if tc.wantResult != "" {
				if n := f.unknownOutcomes(tc.wantResult); n != 1 {
					t.Errorf("unknown outcomes %s = %d, want 1", tc.wantResult, n)
				}
			}
			var outcomes []Outcome
			for _, e := range seen.list {
				outcomes = append(outcomes, e.Outcome)
			}
			if !slices.Equal(outcomes, tc.wantOutcomes) {
				t.Errorf("observed %v, want %v", outcomes, tc.wantOutcomes)
			}
			for _, o := range tc.wantOutcomes {
				if n := testutil.ToFloat64(f.metrics.HeldSent.WithLabelValues(o.String())); n != 1 {
					t.Errorf("deferred_sent_total{result=%q} = %v, want 1", o, n)
				}
			}
			if n := testutil.CollectAndCount(f.metrics.HeldSent); n != len(tc.wantOutcomes) {
				t.Errorf("deferred_sent_total has %d results, want %d", n, len(tc.wantOutcomes))
			}
			due, err = f.ledger.DueHeld(until)
			if err != nil {
				t.Fatal(err)
			}
			paged, _ := f.ledger.PagedTo(firing("fp1|1"))
			if tc.wantReleased && (len(due) != 0 || len(paged["fp1|1"]) != 1) {
				t.Errorf("due = %+v, paged = %+v; want it released and paged", due, paged)
			}
			if tc.wantStillHeld {
				// The resend's count is given back: the next call may
				// send it again.
				if len(due) != 1 || due[0].Doubt == nil || due[0].Doubt.Resends != 0 {
					t.Fatalf("due = %+v, paged = %+v; want it still in doubt, no resend counted", due, paged)
				}
				f.clock.Advance(settleAfter)
				if err := f.d.SendHeld(ctx, time.Second, f.limits); err != nil {
					t.Fatal(err)
				}
				if n := len(sender.sends()); n != 2 {
					t.Errorf("sent %d SMS, want 2: the resend tried again", n)
				}
				if due, _ := f.ledger.DueHeld(until); len(due) != 0 {
					t.Errorf("due = %+v after the resend went out", due)
				}
			}
		})
	}
}

type refused struct{}

func (refused) Error() string   { return "402 payment required" }
func (refused) Temporary() bool { return false }
func (refused) Reason() string  { return "balance" }

// downSender answers 503 without sending while down is set.
type downSender struct {
	Sender
	down atomic.Bool
}

func (s *downSender) SendSMS(ctx context.Context, sms sipgate.SMS) error {
	if s.down.Load() {
		return unavailable{}
	}
	return s.Sender.SendSMS(ctx, sms)
}

type unavailable struct{}

func (unavailable) Error() string   { return "503 service unavailable" }
func (unavailable) Temporary() bool { return true }
func (unavailable) Reason() string  { return "server" }

// TestHeldInDoubtKeepsWhatJoinedApart: while a held SMS is in doubt, its
// alerts cannot be cancelled (their resolved notification must come
// again), and an alert held since for the same end is not counted as
// told: it goes in an SMS of its own once the first is settled.
func TestHeldInDoubtKeepsWhatJoinedApart(t *testing.T) {
	sender := &scriptSender{errs: []error{lost{}}}
	history := &fakeHistory{found: true}
	f := unknownFixture(t, sender, history, 1)
	ctx := context.Background()
	until := f.hold(t, 0, heldAlert("fp1|1", "DiskFull"))
	if err := f.d.SendHeld(ctx, time.Second, f.limits); err != nil {
		t.Fatal(err)
	}
	if _, inDoubt, n, err := f.ledger.CancelHeld([]ledger.Firing{{ID: "fp1|1"}}); err != nil || n != 0 || len(inDoubt["fp1|1"]) != 1 {
		t.Errorf("CancelHeld of an alert in doubt = %v, %d, %v; want it left alone, in doubt", inDoubt, n, err)
	}
	if err := f.ledger.Hold(heldNumber, until, []ledger.HeldAlert{heldAlert("fp2|1", "HighCPU")}); err != nil {
		t.Fatal(err)
	}
	// The late one can be cancelled: nobody was told of it.
	late := heldAlert("fp3|1", "Late")
	if err := f.ledger.Hold(heldNumber, until, []ledger.HeldAlert{late}); err != nil {
		t.Fatal(err)
	}
	if _, _, n, err := f.ledger.CancelHeld([]ledger.Firing{{ID: "fp3|1"}}); err != nil || n != 1 {
		t.Errorf("CancelHeld of an alert held after the send: %d, %v; want it cancelled", n, err)
	}
	f.clock.Advance(settleAfter)
	for range 2 {
		if err := f.d.SendHeld(ctx, time.Second, f.limits); err != nil {
			t.Fatal(err)
		}
	}
	sent := sender.sends()
	if len(sent) != 2 || sent[0].Message == sent[1].Message {
		t.Fatalf("sent %+v, want the first SMS once and then one about fp2|1", sent)
	}
	if want := "Held for quiet hours since 03:13 UTC: 1 firing (HighCPU). http://am:9093"; sent[1].Message != want {
		t.Errorf("second SMS %q, want %q", sent[1].Message, want)
	}
	paged, _ := f.ledger.PagedTo(firing("fp1|1", "fp2|1", "fp3|1"))
	if len(paged["fp1|1"]) != 1 || len(paged["fp2|1"]) != 1 || len(paged["fp3|1"]) != 0 {
		t.Errorf("paged = %+v, want fp1|1 and fp2|1", paged)
	}
}

// TestHeldSentAfterACrashBeforeTheSend: a mark written just before a
// crash, the send never made, is settled after the restart: not in the
// history, the SMS goes out once.
func TestHeldSentAfterACrashBeforeTheSend(t *testing.T) {
	sender := &scriptSender{}
	f := unknownFixture(t, sender, &fakeHistory{}, 1)
	until := f.hold(t, 0, heldAlert("fp1|1", "DiskFull"))
	due, err := f.ledger.DueHeld(until)
	if err != nil || len(due) != 1 {
		t.Fatal(due, err)
	}
	now := f.clock.Now()
	if _, ok, err := f.ledger.TakeHeld(due[0], ledger.Doubt{Number: heldNumber, Text: "the text", Since: now, Last: now}, 2, nil, ledger.Window{}, false); err != nil || !ok {
		t.Fatal(ok, err)
	}
	// The restart: a new Deliverer on the same ledger.
	f.with(func(*Options) {})
	f.clock.Advance(settleAfter)
	for range 2 {
		if err := f.d.SendHeld(context.Background(), time.Second, f.limits); err != nil {
			t.Fatal(err)
		}
	}
	if sent := sender.sends(); len(sent) != 1 || sent[0].Message != "the text" {
		t.Errorf("sent %+v, want the marked text once", sent)
	}
}

// releaseFails is a ledger whose ReleaseHeld and Digested fail while fail
// is set.
type releaseFails struct {
	*ledger.Ledger
	fail atomic.Bool
}

func (l *releaseFails) ReleaseHeld(h ledger.HeldSMS, paged bool) error {
	if l.fail.Load() {
		return errors.New("disk full")
	}
	return l.Ledger.ReleaseHeld(h, paged)
}

func (l *releaseFails) Digested(number string) error {
	if l.fail.Load() {
		return errors.New("disk full")
	}
	return l.Ledger.Digested(number)
}

// TestSummaryAcceptedButNotReleasedIsNotSentAgain: when the ledger fails
// to forget what a held SMS or digest that sipgate took told of, the next
// call releases it, without asking the history (which may not list it
// yet) and without sending it again.
func TestSummaryAcceptedButNotReleasedIsNotSentAgain(t *testing.T) {
	const number = "+4915100000001"
	f, sender, history := owingDigest(t, number)
	ctx := context.Background()
	until := f.hold(t, 0, heldAlert("fp1|1", "DiskFull"))
	l := &releaseFails{Ledger: f.ledger}
	f.with(func(o *Options) { o.Ledger = l })
	f.clock.Advance(time.Hour)
	l.fail.Store(true)
	if err := f.d.SendDigests(ctx, time.Second, Limits{}); err == nil {
		t.Error("SendDigests hid the failed release")
	}
	if err := f.d.SendHeld(ctx, time.Second, Limits{}); err == nil {
		t.Error("SendHeld hid the failed release")
	}
	l.fail.Store(false)
	f.clock.Advance(settleAfter)
	if err := f.d.SendDigests(ctx, time.Second, Limits{}); err != nil {
		t.Fatal(err)
	}
	if err := f.d.SendHeld(ctx, time.Second, Limits{}); err != nil {
		t.Fatal(err)
	}
	if sent := sender.sends(); len(sent) != 3 {
		t.Errorf("sent %d SMS, want 3: a, the digest and the held SMS, once each", len(sent))
	}
	if asked := history.asked(); len(asked) != 0 {
		t.Errorf("history asked %+v, want never", asked)
	}
	if pending, _ := f.ledger.Pending(); len(pending) != 0 {
		t.Errorf("still owed: %+v", pending)
	}
	if due, _ := f.ledger.DueHeld(until); len(due) != 0 {
		t.Errorf("still held: %+v", due)
	}
	if paged, _ := f.ledger.PagedTo(firing("fp1|1")); len(paged["fp1|1"]) != 1 {
		t.Errorf("paged = %+v, want fp1|1 paged", paged)
	}
}

// TestRealClientSummariesOfUnknownOutcome: a held SMS and a digest whose
// answers sipgate's connection lost, through the real client to the fake
// sipgate, reach their recipients once when the history shows them, and
// at most twice when it cannot be read.
func TestRealClientSummariesOfUnknownOutcome(t *testing.T) {
	const heldTo, digestTo = heldNumber, "+4915100000002"
	for _, tt := range []struct {
		name          string
		historyDenied bool
		want          int
	}{
		{name: "history shows them", want: 1},
		{name: "history forbidden", historyDenied: true, want: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := realClientFixture(t, 1)
			f.fake.ResetAfterAccept(true)
			f.fake.HistoryForbidden(tt.historyDenied)
			// Held without moving the clock: the history is searched from
			// the clock's time, and the fake lists SMS by the real one.
			until := f.clock.Now()
			if err := f.ledger.Hold(heldTo, until, []ledger.HeldAlert{heldAlert("fp1|1", "DiskFull")}); err != nil {
				t.Fatal(err)
			}
			if err := f.ledger.Suppress(digestTo, ledger.Suppressed{Contact: "bob", Alerts: 1, Names: []string{"HighCPU"}}); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for range 4 {
				if err := f.d.SendHeld(ctx, 2*time.Second, f.limits); err != nil {
					t.Fatal(err)
				}
				if err := f.d.SendDigests(ctx, 2*time.Second, f.limits); err != nil {
					t.Fatal(err)
				}
				f.fake.ResetAfterAccept(false)
				f.clock.Advance(time.Second) // the fixture's settle_after
			}
			perPerson := map[string]int{}
			for _, m := range f.fake.Messages() {
				perPerson[m.Recipient]++
			}
			if perPerson[heldTo] != tt.want || perPerson[digestTo] != tt.want {
				t.Errorf("SMS per person %v, want %d each", perPerson, tt.want)
			}
			if due, _ := f.ledger.DueHeld(until); len(due) != 0 {
				t.Errorf("still held: %+v", due)
			}
			if owed, _ := f.ledger.Pending(); len(owed) != 0 {
				t.Errorf("still owed: %+v", owed)
			}
			settled := map[bool]string{false: settledFound, true: settledResent}[tt.historyDenied]
			if n := f.unknownOutcomes(settled); n != 2 {
				t.Errorf("sms_unknown_outcome_total{result=%q} = %d, want 2", settled, n)
			}
		})
	}
}

// unsentFails is a ledger whose writes for a send that certainly did not
// go out fail while fail is set.
type unsentFails struct {
	*ledger.Ledger
	fail atomic.Bool
}

func (l *unsentFails) Unsent(key, number string, at time.Time) error {
	if l.fail.Load() {
		return errors.New("disk full")
	}
	return l.Ledger.Unsent(key, number, at)
}

func (l *unsentFails) HeldUnsent(h ledger.HeldSMS, at time.Time) error {
	if l.fail.Load() {
		return errors.New("disk full")
	}
	return l.Ledger.HeldUnsent(h, at)
}

// TestUnsentButNotClearedIsSentNotGivenUp: when a send certainly failed
// and the ledger could not clear its in-doubt mark, the next copy of the
// notification, or the next check of a held SMS, clears it and sends,
// rather than taking it for a lost answer and, with no resend allowed,
// giving it up unsent.
func TestUnsentButNotClearedIsSentNotGivenUp(t *testing.T) {
	sender := &scriptSender{}
	down := &downSender{Sender: sender}
	history := &fakeHistory{}
	f := unknownFixture(t, down, history, 0)
	l := &unsentFails{Ledger: f.ledger}
	f.with(func(o *Options) { o.Ledger = l })
	ctx := context.Background()
	until := f.hold(t, 0, heldAlert("fp1|1", "DiskFull"))
	down.down.Store(true)
	l.fail.Store(true)
	if err := f.d.SendHeld(ctx, 50*time.Millisecond, f.limits); err != nil {
		t.Fatal(err)
	}
	deliverCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	mustRetry(t, f.deliver(deliverCtx, msgs("page", "+4915100000002")))
	cancel()
	down.down.Store(false)
	l.fail.Store(false)
	f.clock.Advance(settleAfter)
	if err := f.d.SendHeld(ctx, time.Second, f.limits); err != nil {
		t.Fatal(err)
	}
	if err := f.deliver(ctx, msgs("page", "+4915100000002")); err != nil {
		t.Fatal(err)
	}
	if n := len(sender.sends()); n != 2 {
		t.Errorf("sent %d SMS, want 2: the held SMS and the page, once each", n)
	}
	if n := f.unknownOutcomes(settledGivenUp); n != 0 || len(history.asked()) != 0 {
		t.Errorf("given up %d, history asked %d times: a certain failure taken for a lost answer", n, len(history.asked()))
	}
	if due, _ := f.ledger.DueHeld(until); len(due) != 0 {
		t.Errorf("still held: %+v", due)
	}
}

// TestSummaryWaitsForTheHistoryOnceNoResendIsLeft: a held SMS of unknown
// outcome that no resend may settle waits while sipgate's history cannot
// be read, instead of being given up, and is settled once it can.
func TestSummaryWaitsForTheHistoryOnceNoResendIsLeft(t *testing.T) {
	sender := &scriptSender{errs: []error{lost{}}}
	history := &fakeHistory{err: historyTrouble{}}
	f := unknownFixture(t, sender, history, 0)
	ctx := context.Background()
	until := f.hold(t, 0, heldAlert("fp1|1", "DiskFull"))
	for range 3 {
		if err := f.d.SendHeld(ctx, time.Second, f.limits); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(settleAfter)
	}
	if n, given := len(sender.sends()), f.unknownOutcomes(settledGivenUp); n != 1 || given != 0 {
		t.Fatalf("%d sent, %d given up while the history could not be read; want 1 and none", n, given)
	}
	if due, err := f.ledger.DueHeld(until); err != nil || len(due) != 1 || due[0].Doubt == nil {
		t.Fatalf("due = %+v, %v; want it still in doubt", due, err)
	}
	history.mu.Lock()
	history.err, history.found = nil, true
	history.mu.Unlock()
	if err := f.d.SendHeld(ctx, time.Second, f.limits); err != nil {
		t.Fatal(err)
	}
	if due, _ := f.ledger.DueHeld(until); len(due) != 0 || f.unknownOutcomes(settledFound) != 1 {
		t.Errorf("due = %+v; want it settled from the history", due)
	}
}
