package delivery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate/sipgatetest"
)

// lost is a send error after which sipgate may have taken the SMS, as the
// sipgate client reports a timeout or a reset after the request went out.
type lost struct{}

func (lost) Error() string   { return "no answer after the request was sent" }
func (lost) Unknown() bool   { return true }
func (lost) Temporary() bool { return true }
func (lost) Reason() string  { return "transport" }

// scriptSender answers each send with the next of its errors (nil, or none
// left: accepted) and keeps what it was asked to send.
type scriptSender struct {
	mu   sync.Mutex
	errs []error
	sent []sipgate.SMS
}

func (s *scriptSender) SendSMS(_ context.Context, sms sipgate.SMS) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, sms)
	if len(s.errs) == 0 {
		return nil
	}
	err := s.errs[0]
	s.errs = s.errs[1:]
	return err
}

func (s *scriptSender) sends() []sipgate.SMS {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sipgate.SMS(nil), s.sent...)
}

// fakeHistory answers every lookup the same and keeps the lookups.
type fakeHistory struct {
	found bool
	err   error

	mu      sync.Mutex
	lookups []lookup
}

type lookup struct {
	recipient, text string
	since           time.Time
}

func (h *fakeHistory) FindSMS(_ context.Context, recipient, text string, since time.Time) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lookups = append(h.lookups, lookup{recipient, text, since})
	return h.found, h.err
}

func (h *fakeHistory) asked() []lookup {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]lookup(nil), h.lookups...)
}

const settleAfter = 10 * time.Second

// unknownFixture is a fixture whose sends go to sender and whose unknown
// outcomes are settled with history (none when nil), on an automatic clock.
func unknownFixture(t *testing.T, sender Sender, history History, resend int, limits ...ledger.Window) *fixture {
	t.Helper()
	f := newFixture(t, limits...)
	f.clock.auto = true
	f.with(func(o *Options) {
		o.Sender = sender
		if history != nil {
			o.History = history
		}
		o.SettleAfter = settleAfter
		o.ResendUnknown = resend
	})
	return f
}

func (f *fixture) unknownOutcomes(result string) int {
	return int(testutil.ToFloat64(f.metrics.UnknownOutcomes.WithLabelValues(result)))
}

// mustRetry asserts that err asks Alertmanager for a retry.
func mustRetry(t *testing.T, err error) {
	t.Helper()
	var rerr *RetryableError
	if !errors.As(err, &rerr) {
		t.Fatalf("Deliver: err = %v, want a *RetryableError", err)
	}
}

func TestUnknownOutcomeIsNotRetriedInTheSameCall(t *testing.T) {
	sender := &scriptSender{errs: []error{lost{}}}
	f := unknownFixture(t, sender, &fakeHistory{found: true}, 1)
	start := f.clock.Now()
	batch := msgs("n1", "+4915100000001")

	mustRetry(t, f.deliver(context.Background(), batch))
	if n := len(sender.sends()); n != 1 {
		t.Errorf("sent %d times in one call, want 1: an unknown outcome is not retried", n)
	}
	if w := f.clock.Waits(); len(w) != 0 {
		t.Errorf("waited %v in the call, want no backoff for an unknown outcome", w)
	}
	mark, ok, err := f.ledger.Doubt(batch[0].Key)
	if err != nil || !ok {
		t.Fatalf("Doubt = %v, %v; want the in-doubt mark", ok, err)
	}
	if mark.Number != batch[0].Number || mark.Text != batch[0].Text || !mark.Since.Equal(start) || mark.Resends != 0 {
		t.Errorf("mark = %+v, want number, text, first send at %v, no resend", mark, start)
	}
	if ok, _ := f.ledger.Delivered(batch[0].Key); ok {
		t.Error("an unknown outcome counts as delivered")
	}
	if n := f.count("r", Unknown.String()); n != 1 {
		t.Errorf("sms_total{result=unknown} = %d, want 1", n)
	}
	if n := testutil.CollectAndCount(f.metrics.SMSFailed); n != 0 {
		t.Errorf("sms_failed_total has %d series for an unknown outcome", n)
	}
	if l := f.logLine(t, "sms of unknown outcome"); l["notification"] != "n-test" || l["level"] != "WARN" {
		t.Errorf("log line %v: want a warning with the notification id", l)
	}
}

func TestUnknownOutcomeIsSettledWhenTheKeyComesAgain(t *testing.T) {
	const number = "+4915100000001"
	tests := []struct {
		name    string
		errs    []error // the sender's answers
		history *fakeHistory
		resend  int
		// results are Deliver's answers, call after call: true asks for a
		// retry.
		results []bool
		// wantSends is how often the SMS went to the sender in all.
		wantSends   int
		wantOutcome map[string]int // sms_unknown_outcome_total
		wantLookups int
		wantLog     string // a line the settling logs
	}{
		{
			name: "found in the history: not sent again", errs: []error{lost{}}, history: &fakeHistory{found: true}, resend: 1,
			results: []bool{true, false, false}, wantSends: 1, wantOutcome: map[string]int{settledFound: 1}, wantLookups: 1,
			wantLog: "sms of unknown outcome found in sipgate's history",
		},
		{
			name: "not found: sent again once", errs: []error{lost{}}, history: &fakeHistory{}, resend: 1,
			results: []bool{true, false, false}, wantSends: 2, wantOutcome: map[string]int{settledResent: 1}, wantLookups: 1,
			wantLog: "sms of unknown outcome not found in sipgate's history: sending it again",
		},
		{
			name: "history unreadable: sent again once", errs: []error{lost{}}, history: &fakeHistory{err: errors.New("sipgate denied reading the history (403)")}, resend: 1,
			results: []bool{true, false, false}, wantSends: 2, wantOutcome: map[string]int{settledResent: 1}, wantLookups: 1,
			wantLog: "sms of unknown outcome not found in sipgate's history: sending it again",
		},
		{
			name: "resend_unknown 0: not sent again", errs: []error{lost{}}, history: &fakeHistory{}, resend: 0,
			results: []bool{true, false, false}, wantSends: 1, wantOutcome: map[string]int{settledGivenUp: 1}, wantLookups: 1,
			wantLog: "sms of unknown outcome neither found in sipgate's history nor sent again",
		},
		{
			name: "no history (dry run): sent again once", errs: []error{lost{}}, resend: 1,
			results: []bool{true, false, false}, wantSends: 2, wantOutcome: map[string]int{settledResent: 1},
			wantLog: "sms of unknown outcome not found in sipgate's history: sending it again",
		},
		{
			name: "a resend of unknown outcome is never resent", errs: []error{lost{}, lost{}}, history: &fakeHistory{}, resend: 1,
			results: []bool{true, true, false, false}, wantSends: 2, wantOutcome: map[string]int{settledResent: 1, settledGivenUp: 1}, wantLookups: 2,
			wantLog: "sms of unknown outcome neither found in sipgate's history nor sent again",
		},
		{
			name: "a resend that certainly failed is not used up", errs: []error{lost{}, classified{temporary: false, reason: "balance"}}, history: &fakeHistory{}, resend: 1,
			results: []bool{true, false, false, false}, wantSends: 3, wantOutcome: map[string]int{settledResent: 1}, wantLookups: 2,
			wantLog: "sms not sent, a retry cannot help",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sender := &scriptSender{errs: tt.errs}
			var history History
			if tt.history != nil {
				history = tt.history
			}
			f := unknownFixture(t, sender, history, tt.resend)
			start := f.clock.Now()
			batch := msgs("n1", number)
			batch[0].Paged = firing("alert-1")
			for i, wantRetry := range tt.results {
				err := f.deliver(context.Background(), batch)
				var rerr *RetryableError
				if errors.As(err, &rerr) != wantRetry || (!wantRetry && err != nil) {
					t.Fatalf("Deliver #%d: err = %v, want a retry: %v", i+1, err, wantRetry)
				}
			}
			sends := sender.sends()
			if len(sends) != tt.wantSends {
				t.Errorf("sent %d times, want %d", len(sends), tt.wantSends)
			}
			for _, s := range sends {
				if s.Recipient != number || s.Message != batch[0].Text {
					t.Errorf("sent %+v, want the same SMS again", s)
				}
			}
			for _, result := range []string{settledFound, settledResent, settledGivenUp} {
				if got := f.unknownOutcomes(result); got != tt.wantOutcome[result] {
					t.Errorf("sms_unknown_outcome_total{result=%q} = %d, want %d", result, got, tt.wantOutcome[result])
				}
			}
			if ok, _ := f.ledger.Delivered(batch[0].Key); !ok {
				t.Error("settled SMS not recorded as delivered")
			}
			if _, ok, _ := f.ledger.Doubt(batch[0].Key); ok {
				t.Error("in-doubt mark left after settling")
			}
			if paged, _ := f.ledger.WasPaged(number, firing("alert-1")[0]); !paged {
				t.Error("settled SMS's alert not remembered as paged")
			}
			if tt.history != nil {
				lookups := tt.history.asked()
				if len(lookups) != tt.wantLookups {
					t.Errorf("history asked %d times, want %d", len(lookups), tt.wantLookups)
				}
				for _, l := range lookups {
					if l.recipient != number || l.text != batch[0].Text || !l.since.Equal(start) {
						t.Errorf("history asked for %+v, want the SMS since its first send at %v", l, start)
					}
				}
				// Each lookup waited for the grace period after the
				// latest send: no time passes here but the waits.
				for _, w := range f.clock.Waits() {
					if w != settleAfter {
						t.Errorf("waited %v, want only the grace period %v", w, settleAfter)
					}
				}
			} else if w := f.clock.Waits(); len(w) != 0 {
				t.Errorf("waited %v without a history to look in", w)
			}
			line := f.logLine(t, tt.wantLog)
			for _, l := range f.logs.lines(t) {
				if l["notification"] != "n-test" {
					t.Errorf("log line without notification=n-test: %v", l)
				}
			}
			if tt.wantOutcome[settledGivenUp] > 0 && line["level"] != "ERROR" {
				t.Errorf("giving up logged as %v, want ERROR: the page may not have arrived", line["level"])
			}
		})
	}
}

func TestSettleWaitsForTheGraceOnlyWithinTheDeadline(t *testing.T) {
	sender := &scriptSender{errs: []error{lost{}}}
	history := &fakeHistory{found: true}
	f := unknownFixture(t, sender, history, 1)
	batch := msgs("n1", "+4915100000001")
	mustRetry(t, f.deliver(context.Background(), batch))

	// 4s of the 10s grace passed; a deadline 1s away does not allow the
	// remaining 6: answered at once, neither looked up nor sent.
	f.clock.Advance(4 * time.Second)
	short, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := f.deliver(short, batch)
	mustRetry(t, err)
	if !errors.Is(err, errNotSettled) {
		t.Errorf("err = %v, want it to say the outcome is not settled yet", err)
	}
	if n := len(history.asked()); n != 0 {
		t.Errorf("history asked %d times before the grace period passed", n)
	}
	if n := len(sender.sends()); n != 1 {
		t.Errorf("sent %d times, want 1", n)
	}
	if w := f.clock.Waits(); len(w) != 0 {
		t.Errorf("waited %v past the deadline", w)
	}

	// A deadline that allows it: the call waits out the rest and settles.
	long, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := f.deliver(long, batch); err != nil {
		t.Fatal(err)
	}
	if w := f.clock.Waits(); len(w) != 1 || w[0] != 6*time.Second {
		t.Errorf("waited %v, want the 6s left of the grace period", w)
	}
	if n := len(sender.sends()); n != 1 {
		t.Errorf("sent %d times, want 1: the history shows it", n)
	}
	if n := f.count("r", Unknown.String()); n != 2 {
		t.Errorf("sms_total{result=unknown} = %d, want 2 (the send, the early retry)", n)
	}
}

func TestCertainFailuresAreStillRetriedInTheCall(t *testing.T) {
	closed := sipgatetest.NewServer("token-1", "secret")
	refused := sipgate.New(sipgate.Options{BaseURL: closed.URL, SMSID: "s0", Username: "token-1", Password: "secret"})
	closed.Close()

	tests := []struct {
		name string
		// fail makes the first two sends fail.
		fail func(f *fixture, attempts *int) Sender
	}{
		{name: "connection refused", fail: func(f *fixture, attempts *int) Sender {
			client := f.options.Sender
			return senderFunc(func(ctx context.Context, sms sipgate.SMS) error {
				if *attempts++; *attempts <= 2 {
					return refused.SendSMS(ctx, sms)
				}
				return client.SendSMS(ctx, sms)
			})
		}},
		{name: "503 from sipgate", fail: func(f *fixture, attempts *int) Sender {
			client := f.options.Sender
			f.fake.FailNext(2, http.StatusServiceUnavailable, "")
			return senderFunc(func(ctx context.Context, sms sipgate.SMS) error {
				*attempts++
				return client.SendSMS(ctx, sms)
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.clock.auto = true
			attempts := 0 // only the Deliver call's goroutine counts
			f.with(func(o *Options) { o.Sender = tt.fail(f, &attempts) })
			batch := msgs("n1", "+4915100000001")
			if err := f.deliver(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			if attempts != 3 || len(f.fake.Messages()) != 1 {
				t.Errorf("%d attempts, %d accepted; want 3 attempts in the call, 1 accepted", attempts, len(f.fake.Messages()))
			}
			if _, ok, _ := f.ledger.Doubt(batch[0].Key); ok {
				t.Error("in-doubt mark left after the SMS was accepted")
			}
			if n := testutil.CollectAndCount(f.metrics.UnknownOutcomes); n != 0 {
				t.Errorf("sms_unknown_outcome_total has %d series without an unknown outcome", n)
			}
		})
	}
}

func TestCertainFailureClearsTheMarkAndRefunds(t *testing.T) {
	sender := &scriptSender{errs: []error{classified{temporary: false, reason: "balance"}}}
	f := unknownFixture(t, sender, &fakeHistory{}, 1, ledger.Window{Max: 1, Per: time.Hour})
	first := msgs("n1", "+4915100000001")
	if err := f.deliver(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := f.ledger.Doubt(first[0].Key); ok {
		t.Error("in-doubt mark left after a send that certainly failed")
	}
	// Refunded: the limit of one lets the next page through.
	if err := f.deliver(context.Background(), msgs("n2", "+4915100000001")); err != nil {
		t.Fatal(err)
	}
	if n := len(sender.sends()); n != 2 {
		t.Errorf("sent %d, want 2: the failed send was not given back to the limit", n)
	}
}

func TestUnknownOutcomesCountOnceAgainstLimits(t *testing.T) {
	sender := &scriptSender{errs: []error{lost{}}}
	f := unknownFixture(t, sender, &fakeHistory{}, 1, ledger.Window{Max: 2, Per: time.Hour})
	ctx := context.Background()
	a := msgs("a", "+4915100000001")
	mustRetry(t, f.deliver(ctx, a))
	if err := f.deliver(ctx, a); err != nil { // not found: resent
		t.Fatal(err)
	}
	// The first send counts once: neither refunded for its unknown
	// outcome nor counted again for the resend.
	if err := f.deliver(ctx, append(msgs("b", "+4915100000001"), msgs("c", "+4915100000001")...)); err != nil {
		t.Fatal(err)
	}
	if n := len(sender.sends()); n != 3 {
		t.Errorf("sent %d SMS, want 3: a, a again, b (c is over the limit of 2)", n)
	}
	if n := f.count("r", Suppressed.String()); n != 1 {
		t.Errorf("suppressed = %d, want 1 (c)", n)
	}
}

// realClientFixture is a fixture whose sends and history lookups go
// through the real sipgate client to the fake sipgate, with a short client
// timeout, on an automatic clock that starts now: the history search runs
// from the clock's time.
func realClientFixture(t *testing.T, resend int) (*fixture, *sipgate.Client) {
	f := newFixture(t)
	f.clock.now = time.Now()
	f.clock.auto = true
	client := sipgate.New(sipgate.Options{
		BaseURL: f.fake.URL, SMSID: "s0", Username: "token-1", Password: "secret",
		HTTPClient: &http.Client{Timeout: 200 * time.Millisecond},
	})
	f.with(func(o *Options) {
		o.Sender, o.History = client, client
		o.SettleAfter, o.ResendUnknown = time.Second, resend
	})
	return f, client
}

func TestRealClientUnknownOutcomesThroughTheDeliverer(t *testing.T) {
	numbers := []string{"+4915100000001", "+4915100000002", "+4915100000003"}
	tests := []struct {
		name          string
		fault         func(*sipgatetest.Server)
		historyDenied bool
		wantPerPerson int
	}{
		{name: "answer late, history shows it", fault: func(s *sipgatetest.Server) { s.AnswerLate(time.Minute) }, wantPerPerson: 1},
		{name: "reset after accepting, history shows it", fault: func(s *sipgatetest.Server) { s.ResetAfterAccept(true) }, wantPerPerson: 1},
		{name: "answer late, history forbidden", fault: func(s *sipgatetest.Server) { s.AnswerLate(time.Minute) }, historyDenied: true, wantPerPerson: 2},
		{name: "reset after accepting, history forbidden", fault: func(s *sipgatetest.Server) { s.ResetAfterAccept(true) }, historyDenied: true, wantPerPerson: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := realClientFixture(t, 1)
			tt.fault(f.fake)
			f.fake.HistoryForbidden(tt.historyDenied)
			batch := msgs("n1", numbers...)
			// Each call has a deadline, as the webhook's has, long enough
			// for the grace period of 1s (on the automatic clock, no wait).
			deliver := func() error { return f.deliverWithin(2*time.Second, batch) }
			// Alertmanager retries until it hears success; then once more,
			// as the other replica of an HA pair would.
			calls := 0
			for err := errors.New("first"); err != nil; calls++ {
				if calls == 5 {
					t.Fatalf("still failing after %d calls: %v", calls, err)
				}
				err = deliver()
			}
			if err := deliver(); err != nil {
				t.Fatal(err)
			}
			perPerson := map[string]int{}
			for _, m := range f.fake.Messages() {
				perPerson[m.Recipient]++
			}
			for _, n := range numbers {
				if perPerson[n] != tt.wantPerPerson {
					t.Errorf("%s got %d SMS, want %d", n, perPerson[n], tt.wantPerPerson)
				}
			}
			if n := f.count("r", Deduplicated.String()); n != len(numbers) {
				t.Errorf("deduplicated = %d, want %d on the last call", n, len(numbers))
			}
			settled := map[bool]string{false: settledFound, true: settledGivenUp}[tt.historyDenied]
			if n := f.unknownOutcomes(settled); n != len(numbers) {
				t.Errorf("sms_unknown_outcome_total{result=%q} = %d, want %d; logs: %v", settled, n, len(numbers), f.logs.lines(t))
			}
		})
	}
}

// blockingSender sends through next, then tells sent and hangs until its
// context ends: a process that dies right after sipgate took the SMS.
type blockingSender struct {
	next Sender
	sent chan struct{}
}

func (s blockingSender) SendSMS(ctx context.Context, sms sipgate.SMS) error {
	if err := s.next.SendSMS(ctx, sms); err != nil {
		return err
	}
	s.sent <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

func TestCrashDuringSendIsSettledAfterRestart(t *testing.T) {
	for _, tt := range []struct {
		name          string
		historyDenied bool
		wantSMS       int
	}{
		{name: "history shows it", wantSMS: 1},
		{name: "history forbidden", historyDenied: true, wantSMS: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, client := realClientFixture(t, 1)
			f.fake.HistoryForbidden(tt.historyDenied)
			sent := make(chan struct{}, 1)
			f.with(func(o *Options) { o.Sender = blockingSender{next: client, sent: sent} })
			batch := msgs("n1", "+4915100000001")

			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- f.deliver(ctx, batch) }()
			<-sent
			// The ledger file as a crash now leaves it: the mark was
			// committed before the send.
			crashed := copyFile(t, f.path)
			cancel()
			<-done

			restarted, err := ledger.Open(crashed, ledger.Options{DedupWindow: 10 * time.Minute, PagedRetention: time.Hour, Now: f.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			defer restarted.Close()
			f.with(func(o *Options) { o.Sender, o.Ledger = client, restarted })
			if err := f.deliver(context.Background(), batch); err != nil {
				t.Fatalf("after the restart: %v", err)
			}
			if n := len(f.fake.Messages()); n != tt.wantSMS {
				t.Errorf("sipgate took %d SMS, want %d", n, tt.wantSMS)
			}
			if ok, _ := restarted.Delivered(batch[0].Key); !ok {
				t.Error("not recorded as delivered after settling")
			}
		})
	}
}

// copyFile copies the file as it is on disk now and returns the copy's
// path.
func copyFile(t *testing.T, from string) string {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "crashed.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// recordFails is the real ledger whose next n records of a handled SMS
// fail.
type recordFails struct {
	*ledger.Ledger
	n atomic.Int32
}

func (l *recordFails) RecordPagedTo(key string, to ledger.PagedRecipient, alerts []ledger.Firing) error {
	if l.n.Add(-1) >= 0 {
		return errors.New("write: no space left on device")
	}
	return l.Ledger.RecordPagedTo(key, to, alerts)
}

// TestAcceptedButUnrecordedIsNotSettledAgain: sipgate took the SMS and the
// ledger failed to record it, which leaves its in-doubt mark. The
// notification is answered with a retry: else nothing would record it
// (its alerts paged, for their resolved SMS). The retry must not take the
// mark for a lost answer: sipgate lists the SMS in its history late, and
// settling would send it again though its answer came. It records it
// instead; after a restart, which forgets that, the mark is settled as a
// lost answer is.
func TestAcceptedButUnrecordedIsNotSettledAgain(t *testing.T) {
	f, _ := realClientFixture(t, 1)
	f.fake.HistoryDelay(time.Hour) // sipgate lists it late
	led := &recordFails{Ledger: f.ledger}
	led.n.Store(1)
	f.with(func(o *Options) { o.Ledger = led })
	batch := msgs("n1", "+4915100000001")
	var retry *RetryableError
	if err := f.deliver(context.Background(), batch); !errors.Is(err, errUnrecorded) || !errors.As(err, &retry) {
		t.Fatalf("the notification whose record failed: %v, want a retry asked for", err)
	}
	if err := f.deliver(context.Background(), batch); err != nil {
		t.Fatalf("its retry: %v", err)
	}
	if n := len(f.fake.Messages()); n != 1 {
		t.Errorf("sipgate took %d SMS for one page whose acceptance it answered, want 1", n)
	}
	if ok, _ := f.ledger.Delivered(batch[0].Key); !ok {
		t.Error("not recorded by the second copy")
	}
	if _, inDoubt, _ := f.ledger.Doubt(batch[0].Key); inDoubt {
		t.Error("in-doubt mark left after the record")
	}
	if n := f.unknownOutcomes(settledResent); n != 0 {
		t.Errorf("sms_unknown_outcome_total{result=resent} = %d, want 0", n)
	}
}

// renewFails is a ledger whose every key was delivered but whose renewal
// of it in the dedup window fails.
type renewFails struct{ *ledger.Ledger }

func (renewFails) Delivered(string) (bool, error) {
	return true, errors.New("ledger renew delivered: write: no space left on device")
}

// TestDeliveredWhoseRenewalFailedIsDeduplicated: a delivery found in the
// ledger counts as delivered even when renewing its record failed; the
// notification is answered as done, not failed.
func TestDeliveredWhoseRenewalFailedIsDeduplicated(t *testing.T) {
	f := newFixture(t)
	f.with(func(o *Options) { o.Ledger = renewFails{f.ledger} })
	if err := f.deliver(context.Background(), msgs("n1", "+4915100000001")); err != nil {
		t.Fatalf("Deliver = %v, want success", err)
	}
	if n := len(f.fake.Messages()); n != 0 {
		t.Errorf("sipgate took %d SMS, want none", n)
	}
	if n := f.count("r", Deduplicated.String()); n != 1 {
		t.Errorf("deduplicated = %d, want 1", n)
	}
	if l := f.logLine(t, "sms delivered before, but its record not renewed"); l["err"] == nil {
		t.Errorf("log line %v, want the error", l)
	}
}

// markDoubtCounter counts the writes of in-doubt marks after the first
// send's.
type markDoubtCounter struct {
	*ledger.Ledger
	n atomic.Int32
}

func (l *markDoubtCounter) MarkDoubt(key string, mark ledger.Doubt) error {
	l.n.Add(1)
	return l.Ledger.MarkDoubt(key, mark)
}

// TestResendWithNoTimeLeftCountsNothing: a resend that the deadline
// leaves no time for is not started, and not counted in the in-doubt mark
// either: giving a count back is a write that may fail, and a resend
// counted but never made would be given up at the next copy.
func TestResendWithNoTimeLeftCountsNothing(t *testing.T) {
	sender := &scriptSender{errs: []error{lost{}}}
	f := unknownFixture(t, sender, &fakeHistory{found: false}, 1)
	f.with(func(o *Options) { o.MinSendTime = time.Second })
	batch := msgs("n1", "+4915100000001")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.deliver(ctx, batch); err == nil {
		t.Fatal("a send of unknown outcome answered as done")
	}
	led := &markDoubtCounter{Ledger: f.ledger}
	f.with(func(o *Options) { o.Ledger = led })
	f.clock.Advance(settleAfter) // the history may be asked now
	short, cancelShort := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancelShort()
	mustRetry(t, f.deliver(short, batch))
	if n := led.n.Load(); n != 0 {
		t.Errorf("%d writes of the in-doubt mark for a resend never started, want none", n)
	}
	if mark, ok, _ := f.ledger.Doubt(batch[0].Key); !ok || mark.Resends != 0 {
		t.Errorf("mark = %+v, %v; want it kept, with no resend counted", mark, ok)
	}
	if n := len(sender.sends()); n != 1 {
		t.Errorf("sent %d, want only the first", n)
	}
}

// TestGatewayErrorsAreRetriedNotGivenUp: while sipgate is down behind a
// gateway that answers 502, every send and every look at the history
// fails. Each notification is answered with a retry, however often it
// comes, and the page goes out once sipgate is back. Taken for unknown
// outcomes, the 502s used up the resend, and with the history unreadable
// the page was given up: success to Alertmanager, nobody paged.
func TestGatewayErrorsAreRetriedNotGivenUp(t *testing.T) {
	fake := sipgatetest.NewServer("token-1", "secret")
	defer fake.Close()
	var down atomic.Bool
	down.Store(true)
	client := behindGateway(t, fake, func(w http.ResponseWriter, r *http.Request) bool {
		if down.Load() {
			http.Error(w, "bad gateway: connect() failed (111: Connection refused)", http.StatusBadGateway)
		}
		return down.Load()
	})
	f := unknownFixture(t, client, client, 1)
	batch := msgs("n1", "+4915100000001")
	for i := range 3 {
		f.clock.Advance(time.Minute)
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := f.deliver(ctx, batch)
		cancel()
		if err == nil {
			t.Fatalf("notification %d answered success while sipgate was unreachable (given up: %d)", i+1, f.unknownOutcomes(settledGivenUp))
		}
	}
	down.Store(false)
	if err := f.deliver(context.Background(), batch); err != nil {
		t.Fatalf("once sipgate is back: %v", err)
	}
	if n := len(fake.Messages()); n != 1 {
		t.Errorf("sipgate took %d SMS, want the page once", n)
	}
}

// TestLostAnswerSettledAfterALongRestart: sipgate took the SMS, and the
// service stopped before recording it. Alertmanager sends the
// notification again at every group_interval until it is answered, so the
// retry may come long after the dedup window, once the service is back:
// the in-doubt mark must still be there to be settled from the history,
// not taken for a first send.
func TestLostAnswerSettledAfterALongRestart(t *testing.T) {
	sender := &scriptSender{}
	history := &fakeHistory{found: true}
	f := unknownFixture(t, sender, history, 0)
	led := &recordFails{Ledger: f.ledger}
	led.n.Store(1)
	f.with(func(o *Options) { o.Ledger = led })
	batch := msgs("n1", "+4915100000001")
	if err := f.deliver(context.Background(), batch); err == nil {
		t.Fatal("the notification whose record failed was answered as done")
	}
	// Back after half an hour (the dedup window is 10 minutes), nothing
	// in memory.
	f.with(func(o *Options) { o.Ledger = f.ledger })
	f.clock.Advance(30 * time.Minute)
	if err := f.deliver(context.Background(), batch); err != nil {
		t.Fatalf("the retry: %v", err)
	}
	if n := len(sender.sends()); n != 1 || len(history.asked()) != 1 {
		t.Errorf("sent %d SMS for one page, asked the history %d times; want 1 SMS, settled from the history", n, len(history.asked()))
	}
}

// TestGatewayTimeoutAfterSipgateTookItIsNotSentAgain: a gateway before
// sipgate gave up waiting and answered 504, but sipgate took the SMS.
// The retry asks the history before anything goes out again, finds it,
// and pages nobody twice; each 504 used to send the SMS once more.
func TestGatewayTimeoutAfterSipgateTookItIsNotSentAgain(t *testing.T) {
	fake := sipgatetest.NewServer("token-1", "secret")
	defer fake.Close()
	var slow atomic.Bool
	slow.Store(true)
	client := behindGateway(t, fake, func(w http.ResponseWriter, r *http.Request) bool {
		if !slow.Load() || r.Method != http.MethodPost {
			return false
		}
		fake.Handler().ServeHTTP(httptest.NewRecorder(), r) // taken, the answer lost
		http.Error(w, "gateway timeout", http.StatusGatewayTimeout)
		return true
	})
	f := unknownFixture(t, client, client, 1)
	batch := msgs("n1", "+4915100000001")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	mustRetry(t, f.deliver(ctx, batch))
	cancel()
	slow.Store(false)
	for i := range 2 {
		if err := f.deliver(context.Background(), batch); err != nil {
			t.Fatalf("retry %d: %v", i+1, err)
		}
	}
	if n := len(fake.Messages()); n != 1 {
		t.Errorf("sipgate took %d SMS for one page, want 1", n)
	}
	if n := f.unknownOutcomes(settledFound); n != 1 {
		t.Errorf("sms_unknown_outcome_total{result=found_in_history} = %d, want 1", n)
	}
}

// historyTrouble is a history read that failed for now: sipgate or a
// gateway before it in trouble.
type historyTrouble struct{}

func (historyTrouble) Error() string   { return "history: 503 Service Unavailable" }
func (historyTrouble) Temporary() bool { return true }

// TestUnknownOutcomeWaitsForTheHistoryOnceTheResendIsUsed: the SMS and its
// resend both got no answer, and sipgate's history cannot be read for now.
// Given up then, the page would be lost whenever neither went out; it
// waits for the history instead, asking for retries, and is settled by
// it once it can be read.
func TestUnknownOutcomeWaitsForTheHistoryOnceTheResendIsUsed(t *testing.T) {
	sender := &scriptSender{errs: []error{lost{}, lost{}}}
	history := &fakeHistory{err: historyTrouble{}}
	f := unknownFixture(t, sender, history, 1)
	batch := msgs("n1", "+4915100000001")
	for i := range 4 {
		mustRetry(t, f.deliver(context.Background(), batch))
		if n := len(sender.sends()); n > 2 {
			t.Fatalf("after notification %d: %d sends, want the SMS and one resend", i+1, n)
		}
	}
	if n := f.unknownOutcomes(settledGivenUp); n != 0 {
		t.Fatalf("given up %d times while the history could not be read", n)
	}
	history.mu.Lock()
	history.err, history.found = nil, true
	history.mu.Unlock()
	if err := f.deliver(context.Background(), batch); err != nil {
		t.Fatalf("once the history can be read: %v", err)
	}
	if n, found := len(sender.sends()), f.unknownOutcomes(settledFound); n != 2 || found != 1 {
		t.Errorf("%d sends, %d found in the history; want 2 and the page settled from the history", n, found)
	}
}

// behindGateway returns a client of fake behind a gateway (over TLS, on
// loopback) that answers a request itself when fault does, and passes it
// on to fake otherwise.
func behindGateway(t *testing.T, fake *sipgatetest.Server, fault func(http.ResponseWriter, *http.Request) bool) *sipgate.Client {
	t.Helper()
	gateway := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !fault(w, r) {
			fake.Handler().ServeHTTP(w, r)
		}
	}))
	t.Cleanup(gateway.Close)
	return sipgate.New(sipgate.Options{BaseURL: gateway.URL + "/v2", SMSID: "s0", Username: "token-1", Password: "secret", HTTPClient: gateway.Client()})
}

// TestUnknownOutcomeWaitsForTheHistoryAnHourAtMost: the wait for the
// history ends an hour after the last send, when the outcome is given up:
// a history broken alone must not keep the notification failing (nor the
// digests to its number held up) for the life of its mark. A history that
// cannot list the SMS at all is no reason to wait.
func TestUnknownOutcomeWaitsForTheHistoryAnHourAtMost(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		wait     time.Duration
		waitsFor bool
	}{
		{"in trouble, within the hour", historyTrouble{}, 59 * time.Minute, true},
		{"in trouble, for an hour", historyTrouble{}, time.Hour, false},
		{"too many newer SMS to search", fmt.Errorf("search history: %w", sipgate.ErrHistoryIncomplete), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sender := &scriptSender{errs: []error{lost{}}}
			f := unknownFixture(t, sender, &fakeHistory{err: tc.err}, 0)
			f.retainDay(t)
			batch := msgs("n1", "+4915100000001")
			mustRetry(t, f.deliver(context.Background(), batch))
			f.clock.Advance(tc.wait)
			err := f.deliver(context.Background(), batch)
			if waited := err != nil; waited != tc.waitsFor || len(sender.sends()) != 1 {
				t.Errorf("after %s: %v, %d sends; want a wait: %v, and no resend", tc.wait, err, len(sender.sends()), tc.waitsFor)
			}
			if n := f.unknownOutcomes(settledGivenUp); (n == 1) == tc.waitsFor {
				t.Errorf("given up %d times, want a wait: %v", n, tc.waitsFor)
			}
		})
	}
}

// hangingHistory answers no lookup before its context ends.
type hangingHistory struct{}

func (hangingHistory) FindSMS(ctx context.Context, _, _ string, _ time.Time) (bool, error) {
	<-ctx.Done()
	return false, ctx.Err()
}

// TestUnknownOutcomeStopsWaitingForAHistoryThatHangs: a history that
// never answers within the notification's deadline ends that wait, too,
// an hour after the last send.
func TestUnknownOutcomeStopsWaitingForAHistoryThatHangs(t *testing.T) {
	sender := &scriptSender{errs: []error{lost{}}}
	f := unknownFixture(t, sender, hangingHistory{}, 0)
	f.retainDay(t)
	batch := msgs("n1", "+4915100000001")
	deliver := func() error { return f.deliverWithin(200*time.Millisecond, batch) }
	mustRetry(t, deliver())
	f.clock.Advance(time.Minute)
	mustRetry(t, deliver())
	f.clock.Advance(time.Hour)
	if err := deliver(); err != nil {
		t.Fatalf("an hour on: %v, want it given up", err)
	}
	if n, given := len(sender.sends()), f.unknownOutcomes(settledGivenUp); n != 1 || given != 1 {
		t.Errorf("%d sends, given up %d times; want 1 and 1", n, given)
	}
}

// retainDay opens the fixture's ledger again with a paged retention of a
// day, not the fixture's hour: an in-doubt mark lives that long.
func (f *fixture) retainDay(t *testing.T) {
	t.Helper()
	if err := f.ledger.Close(); err != nil {
		t.Fatal(err)
	}
	led, err := ledger.Open(f.path, ledger.Options{DedupWindow: 10 * time.Minute, PagedRetention: 24 * time.Hour, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	f.ledger = led
	f.with(func(o *Options) { o.Ledger = led })
}

// TestPastTheHourTheGracePeriodStillHolds: an outcome older than the
// hour's wait is not resent before its grace period has passed, however
// long settle_after is: the history may list it yet.
func TestPastTheHourTheGracePeriodStillHolds(t *testing.T) {
	sender := &scriptSender{errs: []error{lost{}}}
	f := unknownFixture(t, sender, &fakeHistory{found: true}, 1)
	f.retainDay(t)
	f.with(func(o *Options) { o.SettleAfter = 2 * time.Hour })
	batch := msgs("n1", "+4915100000001")
	deliver := func() error { return f.deliverWithin(2*time.Second, batch) }
	mustRetry(t, deliver())
	f.clock.Advance(90 * time.Minute)
	mustRetry(t, deliver())
	if n := len(sender.sends()); n != 1 {
		t.Errorf("%d sends before the grace period passed, want 1", n)
	}
}

// TestAHangingHistoryLeavesTimeForTheResend: a history that never
// answers must not take all of the notification's time: past the hour,
// the resend that is left goes out within the same deadline.
func TestAHangingHistoryLeavesTimeForTheResend(t *testing.T) {
	sender := &scriptSender{errs: []error{lost{}}}
	f := unknownFixture(t, sender, hangingHistory{}, 1)
	f.retainDay(t)
	f.with(func(o *Options) { o.MinSendTime = 50 * time.Millisecond })
	batch := msgs("n1", "+4915100000001")
	deliver := func() error { return f.deliverWithin(500*time.Millisecond, batch) }
	mustRetry(t, deliver())
	f.clock.Advance(2 * time.Hour)
	if err := deliver(); err != nil {
		t.Fatalf("two hours on: %v, want the resend sent", err)
	}
	if n := len(sender.sends()); n != 2 {
		t.Errorf("%d sends, want the SMS and its resend", n)
	}
}

// realWaitClock is the fake clock whose waits take as long as they say,
// so that they spend a request's real deadline.
type realWaitClock struct{ *fakeClock }

func (c realWaitClock) After(d time.Duration) <-chan time.Time {
	<-time.After(d)
	c.Advance(d)
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return ch
}

// ctxHistory finds every SMS it is asked for in time.
type ctxHistory struct{}

func (ctxHistory) FindSMS(ctx context.Context, _, _ string, _ time.Time) (bool, error) {
	return ctx.Err() == nil, ctx.Err()
}

// TestTheLookupHasTimeAfterTheGracePeriod: the time a lookup leaves for
// a resend is not taken from it when no resend could follow anyway, nor
// is a grace period waited out that would leave the lookup no time.
func TestTheLookupHasTimeAfterTheGracePeriod(t *testing.T) {
	for _, tc := range []struct {
		name string
		// settle is what is left of the grace period.
		settle   time.Duration
		deadline time.Duration
		// wantSettled: found in this call; else asked for again, at once.
		wantSettled bool
		maxTook     time.Duration
	}{
		{"grace over, little time left", 0, 400 * time.Millisecond, true, time.Second},
		{"grace ends too near the deadline", time.Second, 1300 * time.Millisecond, false, 500 * time.Millisecond},
		{"grace ends in time", 300 * time.Millisecond, 2 * time.Second, true, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sender := &scriptSender{errs: []error{lost{}}}
			f := unknownFixture(t, sender, ctxHistory{}, 1)
			f.with(func(o *Options) {
				o.MinSendTime, o.SettleAfter, o.Clock = 250*time.Millisecond, settleAfter, realWaitClock{f.clock}
			})
			batch := msgs("n1", "+4915100000001")
			mustRetry(t, f.deliver(context.Background(), batch))
			f.clock.Advance(settleAfter - tc.settle) // the grace period has tc.settle to go
			ctx, cancel := context.WithTimeout(context.Background(), tc.deadline)
			defer cancel()
			start := time.Now()
			err := f.deliver(ctx, batch)
			if settled := err == nil; settled != tc.wantSettled || time.Since(start) > tc.maxTook {
				t.Errorf("%v after %s; want settled %v within %s", err, time.Since(start).Round(time.Millisecond), tc.wantSettled, tc.maxTook)
			}
			if n := len(sender.sends()); n != 1 {
				t.Errorf("%d sends, want 1", n)
			}
		})
	}
}

// deliverWithin is deliver with a deadline d from now, as a notification
// has its webhook.timeout.
func (f *fixture) deliverWithin(d time.Duration, batch []Message) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return f.deliver(ctx, batch)
}
