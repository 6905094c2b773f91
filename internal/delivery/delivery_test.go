package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate/sipgatetest"
)

type fixture struct {
	fake    *sipgatetest.Server
	metrics *metrics.Metrics
	d       *Deliverer
	ledger  *ledger.Ledger
	path    string // the ledger's file
	limits  Limits
	clock   *fakeClock
	logs    *logBuffer
	options Options
}

// deliver is Deliver of the messages as notification "n-test", with the
// fixture's limits.
func (f *fixture) deliver(ctx context.Context, batch []Message) error {
	return f.d.Deliver(ctx, Batch{ID: "n-test", Limits: f.limits, ExternalURL: "http://am:9093", Messages: batch})
}

// firingSince is when the alerts of the tests began firing.
var firingSince = time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)

// firing are the firings of the alert ids, as the pager makes them.
func firing(ids ...string) []ledger.Firing {
	out := make([]ledger.Firing, len(ids))
	for i, id := range ids {
		out[i] = ledger.Firing{ID: id, Since: firingSince}
	}
	return out
}

// newFixture returns a Deliverer sending through a fake sipgate, on a fake
// clock that moves only when the test says so: a retry then waits until the
// test advances the clock or the context ends.
func newFixture(t *testing.T, limits ...ledger.Window) *fixture {
	t.Helper()
	fake := sipgatetest.NewServer("token-1", "secret")
	t.Cleanup(fake.Close)
	clock := newFakeClock(false)
	path := filepath.Join(t.TempDir(), "ledger.db")
	led, err := ledger.Open(path, ledger.Options{
		DedupWindow: 10 * time.Minute, PagedRetention: time.Hour, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	m := metrics.New(prometheus.NewRegistry())
	logs := &logBuffer{}
	o := Options{
		Sender:         sipgate.New(sipgate.Options{BaseURL: fake.URL, SMSID: "s0", Username: "token-1", Password: "secret"}),
		Ledger:         led,
		Metrics:        m,
		Logger:         slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Clock:          clock,
		Concurrency:    4,
		InitialBackoff: time.Millisecond,
		MaxBackoff:     10 * time.Millisecond,
		// Tests give deliveries deadlines of milliseconds;
		// TestNoSendStartsRightBeforeTheDeadline tests the bound.
		MinSendTime: -1,
	}
	return &fixture{fake: fake, metrics: m, d: New(o), ledger: led, path: path, limits: Limits{PerRecipient: limits}, clock: clock, logs: logs, options: o}
}

// with rebuilds the fixture's Deliverer with changed options.
func (f *fixture) with(change func(*Options)) {
	change(&f.options)
	f.d = New(f.options)
}

// logBuffer collects log output from concurrent sends.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns each JSON log line decoded.
func (b *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for line := range bytes.Lines(b.buf.Bytes()) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// logLine returns the first log line whose message starts with prefix.
func (f *fixture) logLine(t *testing.T, prefix string) map[string]any {
	t.Helper()
	for _, l := range f.logs.lines(t) {
		if msg, _ := l["msg"].(string); strings.HasPrefix(msg, prefix) {
			return l
		}
	}
	t.Fatalf("no log line starts with %q", prefix)
	return nil
}

func (f *fixture) count(route, result string) int {
	return int(testutil.ToFloat64(f.metrics.SMSSent.WithLabelValues(route, result)))
}

func msgs(key string, numbers ...string) []Message {
	var out []Message
	for _, n := range numbers {
		out = append(out, Message{Key: key + "/" + n, Route: "r", Contact: "c" + n[len(n)-1:], Number: n, Text: "FIRING 1 Test", Alerts: 1})
	}
	return out
}

func TestDeliverRetriesTransientFailures(t *testing.T) {
	f := newFixture(t)
	f.clock.auto = true
	f.fake.FailNext(2, 503, "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.deliver(ctx, msgs("n1", "+4915100000001")); err != nil {
		t.Fatal(err)
	}
	if got := len(f.fake.Messages()); got != 1 {
		t.Fatalf("accepted %d SMS, want 1", got)
	}
	if got := f.fake.Requests(); got != 3 {
		t.Errorf("requests = %d, want 3 (two 503s, then success)", got)
	}
	if got := testutil.ToFloat64(f.metrics.Retries.WithLabelValues("503")); got != 2 {
		t.Errorf("retries{reason=503} = %v, want 2", got)
	}
	// Backoff 1ms, then 2ms, each with ±50% jitter.
	if w := f.clock.Waits(); len(w) != 2 || w[0] < 500*time.Microsecond || w[0] >= 1500*time.Microsecond || w[1] < time.Millisecond || w[1] >= 3*time.Millisecond {
		t.Errorf("waits = %v, want about 1ms and 2ms", w)
	}
	if n := testutil.CollectAndCount(f.metrics.SMSFailed); n != 0 {
		t.Errorf("sms_failed_total has %d series for an SMS that got through", n)
	}
}

func TestDeliverHonoursRetryAfter(t *testing.T) {
	f := newFixture(t)
	f.clock.auto = true
	f.fake.FailNext(1, 429, "2")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.deliver(ctx, msgs("n1", "+4915100000001")); err != nil {
		t.Fatal(err)
	}
	if w := f.clock.Waits(); !slices.Equal(w, []time.Duration{2 * time.Second}) {
		t.Errorf("waits = %v, want the 2s sipgate asked for", w)
	}
	if got := len(f.fake.Messages()); got != 1 {
		t.Errorf("accepted %d SMS, want 1", got)
	}
}

func TestDeliverNeverSendsTwice(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// One recipient fails for good (402) and is not retried; the retry of
	// the notification sends only to the recipient whose send failed.
	f.fake.FailRecipient("+4915100000003", 402)
	f.fake.FailNext(100, 500, "")
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	err := f.deliver(short, msgs("n1", "+4915100000001", "+4915100000002", "+4915100000003"))
	cancel()
	var rerr *RetryableError
	if !errors.As(err, &rerr) {
		t.Fatalf("with sipgate failing: err = %v, want a RetryableError", err)
	}

	f.fake.FailNext(0, 0, "")
	if err := f.deliver(ctx, msgs("n1", "+4915100000001", "+4915100000002", "+4915100000003")); err != nil {
		t.Fatalf("second attempt: %v", err)
	}
	if err := f.deliver(ctx, msgs("n1", "+4915100000001", "+4915100000002", "+4915100000003")); err != nil {
		t.Fatalf("third attempt: %v", err)
	}
	got := map[string]int{}
	for _, m := range f.fake.Messages() {
		got[m.Recipient]++
	}
	if got["+4915100000001"] != 1 || got["+4915100000002"] != 1 || got["+4915100000003"] != 0 {
		t.Errorf("accepted per recipient = %v, want one each for ...01 and ...02, none for ...03", got)
	}
	if n := f.count("r", Deduplicated.String()); n != 2 {
		t.Errorf("deduplicated = %d, want 2", n)
	}
	if n := f.count("r", FailedPermanent.String()); n != 3 {
		t.Errorf("failed_permanent = %d, want 3", n)
	}
}

func TestDeliverPermanentFailureIsNotRetried(t *testing.T) {
	f := newFixture(t)
	f.fake.FailNext(1, 401, "")
	if err := f.deliver(context.Background(), msgs("n1", "+4915100000001")); err != nil {
		t.Fatalf("permanent failure: err = %v, want nil (deliberately not sent)", err)
	}
	if got := f.fake.Requests(); got != 1 {
		t.Errorf("requests = %d, want 1", got)
	}
}

func TestDeliverStopsBeforeDeadline(t *testing.T) {
	f := newFixture(t)
	f.fake.FailNext(1, 429, "60")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	err := f.deliver(ctx, msgs("n1", "+4915100000001"))
	if err == nil {
		t.Fatal("err = nil, want a retryable error")
	}
	if time.Since(start) > 500*time.Millisecond {
		t.Errorf("waited %v for a Retry-After beyond the deadline", time.Since(start))
	}
	if f.fake.Requests() != 1 {
		t.Errorf("requests = %d, want 1", f.fake.Requests())
	}
	if w := f.clock.Waits(); len(w) != 0 {
		t.Errorf("waited %v for a Retry-After beyond the deadline", w)
	}
}

func TestConcurrentDuplicatesSendOnce(t *testing.T) {
	f := newFixture(t)
	var wg sync.WaitGroup
	errs := make([]error, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range errs {
		// The same keys, in one order or the other, and once twice in one
		// call: none may wait for another until the deadline, which would
		// fail it with a retryable error.
		batch := msgs("ha", "+4915100000001", "+4915100000002")
		switch i % 3 {
		case 1:
			slices.Reverse(batch)
		case 2:
			batch = append(batch, batch[0])
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f.deliver(ctx, batch)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := len(f.fake.Messages()); got != 2 {
		t.Errorf("accepted %d SMS for 10 concurrent duplicates to 2 people, want 2", got)
	}
}

// queuedLedger is the fixture's ledger as the Deliverer sees it, but its
// TakeDoubt returns only once the next take of the batch arrived: with the
// turn passed as soon as a take is queued, the next message's take comes
// while this one waits; with the turn passed only when the take returned,
// it never would (each wait then gives up after a while, and is counted).
type queuedLedger struct {
	Ledger
	mu       sync.Mutex
	ranks    []int           // of the takes, in the order they came
	arrived  []chan struct{} // arrived[k] is closed when take k came
	overdue  int             // takes whose next never came while they waited
	giveUpIn time.Duration
}

func newQueuedLedger(l Ledger, takes int) *queuedLedger {
	q := &queuedLedger{Ledger: l, giveUpIn: 5 * time.Second}
	for range takes {
		q.arrived = append(q.arrived, make(chan struct{}))
	}
	return q
}

func (q *queuedLedger) TakeDoubt(key string, mark ledger.Doubt, rank int, perRecipient []ledger.Window, budget ledger.Window, force bool, queued func()) (time.Time, bool, error) {
	q.mu.Lock()
	k := len(q.ranks)
	q.ranks = append(q.ranks, rank)
	q.mu.Unlock()
	close(q.arrived[k])
	at, ok, err := q.Ledger.TakeDoubt(key, mark, rank, perRecipient, budget, force, queued)
	if k+1 < len(q.arrived) {
		select {
		case <-q.arrived[k+1]:
		case <-time.After(q.giveUpIn):
			q.mu.Lock()
			q.overdue++
			q.mu.Unlock()
		}
	}
	return at, ok, err
}

// TestTheNextTakeStartsOnceThisOneIsQueued: the messages of a batch take
// the limits in severity order, each as soon as the one before is queued
// in the ledger rather than committed, so that they share a commit.
func TestTheNextTakeStartsOnceThisOneIsQueued(t *testing.T) {
	f := newFixture(t)
	q := newQueuedLedger(f.ledger, 3)
	f.with(func(o *Options) { o.Ledger = q })
	var batch []Message
	for i, sev := range []int{2, 0, 1} {
		batch = append(batch, Message{
			Key: fmt.Sprintf("n%d", i), Route: "r", Contact: fmt.Sprint("c", i), Number: fmt.Sprintf("+491510000000%d", i),
			Text: fmt.Sprintf("severity %d", sev), Severity: sev,
		})
	}
	if err := f.deliver(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(q.ranks, []int{0, 1, 2}) || q.overdue != 0 {
		t.Errorf("takes of severities %v, %d of them waited for the next in vain; want 0, 1, 2, each followed while it waited", q.ranks, q.overdue)
	}
	if got := len(f.fake.Messages()); got != 3 {
		t.Errorf("sent %d SMS, want 3", got)
	}
}

func TestLimitsSuppressLeastSevereAndOweADigest(t *testing.T) {
	f := newFixture(t, ledger.Window{Max: 2, Per: time.Hour})
	ctx := context.Background()
	var batch []Message
	for i, sev := range []int{3, 0, 2, 1} {
		m := Message{
			Key: fmt.Sprintf("n%d", i), Route: "r", Contact: "alice", Number: "+4915100000001",
			Text: fmt.Sprintf("severity %d", sev), Severity: sev, Alerts: 5,
		}
		if sev > 1 { // the two least severe, which the limit holds back
			m.Paged = firing("suppressed-alert")
		}
		batch = append(batch, m)
	}
	if err := f.deliver(ctx, batch); err != nil {
		t.Fatalf("suppression must answer success, got %v", err)
	}
	var texts []string
	for _, m := range f.fake.Messages() {
		texts = append(texts, m.Message)
	}
	// The limit is decided in severity order; the sends then run
	// concurrently and may arrive in any order.
	slices.Sort(texts)
	if fmt.Sprint(texts) != "[severity 0 severity 1]" {
		t.Errorf("sent %q, want the two most severe", texts)
	}
	if got := testutil.ToFloat64(f.metrics.AlertsSuppressed.WithLabelValues("r")); got != 10 {
		t.Errorf("alerts_suppressed_total = %v, want 10", got)
	}
	if paged, _ := f.ledger.WasPaged("+4915100000001", firing("suppressed-alert")[0]); paged {
		t.Error("a suppressed alert counts as paged")
	}
	// A retry of the same messages counts nothing twice.
	if err := f.deliver(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(f.metrics.AlertsSuppressed.WithLabelValues("r")); got != 10 {
		t.Errorf("after a retry: alerts_suppressed_total = %v, want 10", got)
	}
	// A bypassing message goes out anyway.
	if err := f.deliver(ctx, []Message{{Key: "crit", Route: "crit", Contact: "alice", Number: "+4915100000001", Text: "bypass", BypassLimits: true}}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.fake.Messages()); n != 3 {
		t.Fatalf("accepted %d, want 3 with the bypassing one", n)
	}

	// The window is still full: no digest yet.
	if err := f.d.SendDigests(ctx, time.Second, f.limits); err != nil {
		t.Fatal(err)
	}
	if n := len(f.fake.Messages()); n != 3 {
		t.Fatalf("digest sent while the limit is reached")
	}
	pending, err := f.ledger.Pending()
	if err != nil || pending["+4915100000001"].Alerts != 10 {
		t.Fatalf("pending = %+v, %v; want 10 alerts owed", pending, err)
	}
}

func TestDigestWhenWindowOpens(t *testing.T) {
	f := newFixture(t, ledger.Window{Max: 1, Per: 300 * time.Millisecond})
	ctx := context.Background()
	if err := f.deliver(ctx, append(msgs("a", "+4915100000001"), msgs("b", "+4915100000001")...)); err != nil {
		t.Fatal(err)
	}
	if n := len(f.fake.Messages()); n != 1 {
		t.Fatalf("accepted %d, want 1", n)
	}
	f.clock.Advance(350 * time.Millisecond)
	if err := f.d.SendDigests(ctx, time.Second, f.limits); err != nil {
		t.Fatal(err)
	}
	got := f.fake.Messages()
	if len(got) != 2 || !regexp.MustCompile(`^Held back since 03:12 UTC: 1 firing\. http://am:9093$`).MatchString(got[1].Message) {
		t.Fatalf("messages = %+v, want a digest second", got)
	}
	if c := testutil.ToFloat64(f.metrics.Digests.WithLabelValues(Accepted.String())); c != 1 {
		t.Errorf("digests_total{accepted} = %v", c)
	}
	if pending, _ := f.ledger.Pending(); len(pending) != 0 {
		t.Errorf("digest still pending: %+v", pending)
	}
}

func TestAcceptedAlertsAreRememberedAsPaged(t *testing.T) {
	f := newFixture(t)
	m := msgs("n1", "+4915100000001", "+4915100000002")
	m[0].Paged = firing("fp1|1")
	m[1].Paged = firing("fp1|1")
	f.fake.FailRecipient("+4915100000002", 402)
	if err := f.deliver(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	for number, want := range map[string]bool{"+4915100000001": true, "+4915100000002": false} {
		if got, err := f.ledger.WasPaged(number, firing("fp1|1")[0]); err != nil || got != want {
			t.Errorf("WasPaged(%s) = %v, %v; want %v", number, got, err, want)
		}
	}
	// The resolved SMS finds whom the alert reached, with contact and
	// route, whatever routing says by then.
	by, err := f.ledger.PagedTo(firing("fp1|1"))
	if err != nil {
		t.Fatal(err)
	}
	if got := by["fp1|1"]; len(got) != 1 || got[0].Number != "+4915100000001" || got[0].Contact != "c1" || got[0].Route != "r" {
		t.Errorf("PagedTo = %+v; want only +4915100000001 as c1 by route r", got)
	}
}

type noopSender struct{}

func (noopSender) SendSMS(context.Context, sipgate.SMS) error { return nil }

// BenchmarkDeliver delivers a notification to three recipients through the
// real bbolt ledger (each accepted SMS is synced to disk) and a sender that
// answers at once: the service's own cost per notification.
func BenchmarkDeliver(b *testing.B) {
	led, err := ledger.Open(filepath.Join(b.TempDir(), "ledger.db"), ledger.Options{DedupWindow: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer led.Close()
	d := New(Options{
		Sender: noopSender{}, Ledger: led, Metrics: metrics.New(prometheus.NewRegistry()),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Concurrency: 8,
	})
	limits := Limits{PerRecipient: []ledger.Window{{Max: 1000000, Per: time.Hour}}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		batch := Batch{ID: strconv.Itoa(i), Limits: limits, Messages: msgs(strconv.Itoa(i), "+4915100000001", "+4915100000002", "+4915100000003")}
		if err := d.Deliver(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
}

func TestEveryLogLineNamesTheNotification(t *testing.T) {
	f := newFixture(t, ledger.Window{Max: 1, Per: time.Hour})
	f.clock.auto = true
	f.fake.FailNext(1, 503, "")
	f.fake.FailRecipient("+4915100000003", 402)
	batch := append(msgs("a", "+4915100000001", "+4915100000001"), msgs("b", "+4915100000001", "+4915100000003")...)
	if err := f.deliver(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, l := range f.logs.lines(t) {
		seen[l["msg"].(string)] = true
		if l["notification"] != "n-test" {
			t.Errorf("log line without notification=n-test: %v", l)
		}
	}
	// Every kind of line: a retry, and each outcome.
	for _, msg := range []string{
		"retrying sms",
		"sms accepted",
		"sms already delivered for this notification, not sent again",
		"sms suppressed by a limit, owed in a digest",
		"sms not sent, a retry cannot help",
	} {
		if !seen[msg] {
			t.Errorf("no log line %q; got %v", msg, slices.Sorted(maps.Keys(seen)))
		}
	}
}

// TestNoSendStartsRightBeforeTheDeadline: a request the deadline would cut
// off after it went out would leave an SMS of unknown outcome; it is not
// started, and the notification is worth a retry.
func TestNoSendStartsRightBeforeTheDeadline(t *testing.T) {
	f := newFixture(t)
	f.with(func(o *Options) { o.MinSendTime = time.Hour })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := f.deliver(ctx, msgs("late", "+4915100000001"))
	var rerr *RetryableError
	if !errors.As(err, &rerr) || !errors.Is(err, errNoTimeToSend) {
		t.Fatalf("err = %v, want a RetryableError for want of time", err)
	}
	if n := f.fake.Requests(); n != 0 {
		t.Errorf("%d requests reached sipgate, want none", n)
	}
	if _, ok, err := f.ledger.Doubt("late/+4915100000001"); err != nil || ok {
		t.Errorf("in-doubt mark present = %v (%v), want none: nothing was sent", ok, err)
	}
}

// panickySender panics when sending to panicky, once the send to slow is
// under way, and lets that send finish first.
type panickySender struct {
	panicky, slow string
	sending       chan struct{} // closed when the send to slow began
	release       chan struct{} // the send to slow returns once closed
	slowDone      atomic.Bool
}

func (s *panickySender) SendSMS(_ context.Context, m sipgate.SMS) error {
	switch m.Recipient {
	case s.slow:
		close(s.sending)
		<-s.release
		s.slowDone.Store(true)
	case s.panicky:
		<-s.sending
		close(s.release)
		panic("send failed badly")
	}
	return nil
}

// TestDeliverPanicWaitsForTheOtherSends: a panic of the send Deliver makes
// on its caller's goroutine (the last message's) reaches the caller only
// once the other sends are done, so none goes on without an owner.
func TestDeliverPanicWaitsForTheOtherSends(t *testing.T) {
	led, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{DedupWindow: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	s := &panickySender{slow: "+4915100000001", panicky: "+4915100000002", sending: make(chan struct{}), release: make(chan struct{})}
	d := New(Options{Sender: s, Ledger: led, Metrics: metrics.New(prometheus.NewRegistry()), Logger: slog.New(slog.DiscardHandler), Concurrency: 2, MinSendTime: -1})
	defer func() {
		if p := recover(); p != "send failed badly" {
			t.Fatalf("recovered %v, want the send's panic", p)
		}
		if !s.slowDone.Load() {
			t.Error("Deliver panicked while another send was still under way")
		}
	}()
	_ = d.Deliver(context.Background(), Batch{ID: "panic", Messages: msgs("panic", s.slow, s.panicky)})
	t.Fatal("Deliver returned, want the send's panic")
}

// TestDuplicateGivesUpWhenItsContextEnds: a message whose key another call
// is sending waits for it; when its context ends first it fails, to be
// retried, with the reason canceled.
func TestDuplicateGivesUpWhenItsContextEnds(t *testing.T) {
	f := newFixture(t)
	batch := msgs("n1", "+4915100000001")
	unlock, err := f.d.claims.Lock(context.Background(), batch[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = f.deliver(ctx, batch)
	var rerr *RetryableError
	if !errors.As(err, &rerr) || !errors.Is(err, context.Canceled) || reason(err) != reasonCanceled {
		t.Errorf("Deliver while the key is held, context canceled: %v (reason %q); want a retryable error, canceled", err, reason(err))
	}
	if n := testutil.ToFloat64(f.metrics.SMSFailed.WithLabelValues(batch[0].Route, reasonCanceled)); n != 1 {
		t.Errorf("sms_failed_total{reason=canceled} = %v, want 1", n)
	}
}
