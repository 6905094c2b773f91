package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/receiver"
)

// recorder is a notifier that records what the service's own webhook
// handler decoded.
type recorder struct {
	mu           sync.Mutex
	groupKeys    map[string]int
	fingerprints map[string]int
	alerts       []int // per notification
}

func newRecorder() *recorder {
	return &recorder{groupKeys: map[string]int{}, fingerprints: map[string]int{}}
}

func (r *recorder) Notify(_ context.Context, n *notification.Notification, _ string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.groupKeys[n.GroupKey]++
	r.alerts = append(r.alerts, len(n.Alerts))
	for _, a := range n.Alerts {
		r.fingerprints[a.Fingerprint]++
	}
	return nil
}

// startReceiver serves the service's webhook handler, with the basic auth
// the tool's config sets, around notifier.
func startReceiver(t *testing.T, notifier receiver.Notifier) string {
	t.Helper()
	h := receiver.New(notifier, receiver.Options{
		MaxBodyBytes:      4 << 20,
		Timeout:           10 * time.Second,
		MaxInFlight:       64,
		BasicAuthUsername: webhookUser,
		BasicAuthPassword: webhookPass,
		Metrics:           metrics.New(prometheus.NewRegistry()),
		Logger:            slog.New(slog.DiscardHandler),
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/api/v1/alerts"
}

func testLoadOptions(t *testing.T, url string, alerts int) loadOptions {
	t.Helper()
	p, err := newPayloads("test", alerts)
	if err != nil {
		t.Fatal(err)
	}
	return loadOptions{
		url:         url,
		username:    webhookUser,
		password:    webhookPass,
		concurrency: 4,
		payloads:    p,
		client:      &http.Client{Timeout: 10 * time.Second},
	}
}

// TestLoadCount: a run bounded by count sends exactly that many
// notifications, which the service's webhook handler takes, each a group
// of its own with alerts of their own.
func TestLoadCount(t *testing.T) {
	rec := newRecorder()
	o := testLoadOptions(t, startReceiver(t, rec), 3)
	o.notifications = 50
	s := load(context.Background(), o)

	if s.sent != 50 || s.ok != 50 || s.failed != 0 || len(s.other) != 0 {
		t.Fatalf("sent %d, ok %d, failed %d (%s), other %v; want 50 sent and answered 200", s.sent, s.ok, s.failed, s.firstError, s.other)
	}
	if s.stopped != stoppedCount {
		t.Errorf("stopped = %q, want %q", s.stopped, stoppedCount)
	}
	if len(s.latencies) != 50 {
		t.Errorf("%d latencies, want 50", len(s.latencies))
	}
	for i := 1; i < len(s.latencies); i++ {
		if s.latencies[i] < s.latencies[i-1] {
			t.Fatalf("latencies not sorted at %d", i)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.groupKeys) != 50 {
		t.Errorf("%d distinct group keys, want 50", len(rec.groupKeys))
	}
	if len(rec.fingerprints) != 150 {
		t.Errorf("%d distinct fingerprints, want 150", len(rec.fingerprints))
	}
	for _, n := range rec.alerts {
		if n != 3 {
			t.Errorf("a notification of %d alerts, want 3", n)
		}
	}
}

// TestLoadRate: at a rate, notifications start on schedule and not
// before it, however fast the service answers; a latency then counts from
// the scheduled start, so it is never below the answer's own time.
func TestLoadRate(t *testing.T) {
	var seen atomic.Int64
	url := startReceiver(t, notifierFunc(func() { seen.Add(1) }))
	o := testLoadOptions(t, url, 2)
	o.notifications = 21
	o.rate = 200 // one each 5 ms: the last starts 100 ms in
	s := load(context.Background(), o)
	if s.sent != 21 || s.ok != 21 || seen.Load() != 21 {
		t.Fatalf("sent %d, ok %d, received %d; want 21 of each", s.sent, s.ok, seen.Load())
	}
	if s.elapsed < 100*time.Millisecond {
		t.Errorf("21 notifications at 200/s took %v, want at least 100ms: started ahead of schedule", s.elapsed)
	}
	// 1,000/s for 200 ms, by one worker that waits 5 ms for each answer:
	// it falls behind, and the latencies say so.
	slow := startReceiver(t, notifierFunc(func() { time.Sleep(5 * time.Millisecond) }))
	o = testLoadOptions(t, slow, 2)
	o.concurrency = 1
	o.notifications = 40
	o.rate = 1000
	s = load(context.Background(), o)
	if s.ok != 40 {
		t.Fatalf("ok %d, want 40", s.ok)
	}
	if last := s.latencies[len(s.latencies)-1]; last < 150*time.Millisecond {
		t.Errorf("the slowest of 40 notifications scheduled 1 ms apart, each answered after 5 ms by one worker, took %v; want at least 150ms, counted from its scheduled start", last)
	}
}

// TestLoadDuration: a run bounded by time alone ends, with every
// notification it started answered.
func TestLoadDuration(t *testing.T) {
	var seen atomic.Int64
	url := startReceiver(t, notifierFunc(func() { seen.Add(1) }))
	o := testLoadOptions(t, url, 2)
	o.duration = 200 * time.Millisecond
	s := load(context.Background(), o)
	if s.stopped != stoppedDuration {
		t.Errorf("stopped = %q, want %q", s.stopped, stoppedDuration)
	}
	if s.sent == 0 || s.ok != s.sent || int64(s.sent) != seen.Load() {
		t.Errorf("sent %d, ok %d, received %d: want some, all answered 200 and received", s.sent, s.ok, seen.Load())
	}
}

// TestLoadInterrupted: ending the context stops the run, in-flight
// requests included: they are cut off, not waited for.
func TestLoadInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const concurrency = 4
	// No notification is answered before its client hangs up (or the
	// receiver's timeout of 10 s, which fails the test); the last worker's
	// interrupts the run.
	hold := &holdingNotifier{interruptAt: concurrency, interrupt: cancel}
	o := testLoadOptions(t, startReceiver(t, hold), 1)
	o.concurrency = concurrency
	o.notifications = 1_000_000
	s := load(ctx, o)
	if s.stopped != stoppedInterrupted {
		t.Errorf("stopped = %q, want %q", s.stopped, stoppedInterrupted)
	}
	if s.sent != concurrency || s.failed != concurrency || s.ok != 0 || len(s.other) != 0 {
		t.Errorf("sent %d, failed %d, ok %d, other %v; want the %d in flight cut off", s.sent, s.failed, s.ok, s.other, concurrency)
	}
}

// holdingNotifier holds every notification until its request ends, and
// calls interrupt when it holds interruptAt of them.
type holdingNotifier struct {
	held        atomic.Int64
	interruptAt int64
	interrupt   func()
}

func (h *holdingNotifier) Notify(ctx context.Context, _ *notification.Notification, _ string) error {
	if h.held.Add(1) == h.interruptAt {
		h.interrupt()
	}
	<-ctx.Done()
	return ctx.Err()
}

// notifierFunc is a notifier that calls f and succeeds.
type notifierFunc func()

func (f notifierFunc) Notify(context.Context, *notification.Notification, string) error {
	f()
	return nil
}

// TestLoadCountsOtherAnswers: answers other than 200 and requests without
// one are counted apart, and have no latency.
func TestLoadCountsOtherAnswers(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 4 {
		case 1:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case 2:
			http.Error(w, "bad", http.StatusUnprocessableEntity)
		case 3:
			// No answer at all.
			panic(http.ErrAbortHandler)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	defer srv.Close()
	o := testLoadOptions(t, srv.URL, 2)
	o.concurrency = 1 // the server's turns then fall on known requests
	o.notifications = 40
	s := load(context.Background(), o)
	if s.sent != 40 || s.ok != 10 || s.other[503] != 10 || s.other[422] != 10 || s.failed != 10 {
		t.Errorf("sent %d, ok %d, other %v, failed %d; want 40, 10, 503 and 422 10 each, 10", s.sent, s.ok, s.other, s.failed)
	}
	if len(s.latencies) != s.ok {
		t.Errorf("%d latencies for %d answers 200", len(s.latencies), s.ok)
	}
	if s.firstError == "" {
		t.Error("no error recorded for the requests without an answer")
	}
}

func TestPercentile(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = ms(i + 1)
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"none", nil, 0.5, 0},
		{"one", []time.Duration{ms(7)}, 0.99, ms(7)},
		{"p50 of 100", hundred, 0.5, ms(50)},
		{"p99 of 100", hundred, 0.99, ms(99)},
		{"max of 100", hundred, 1, ms(100)},
		{"p50 of 3", []time.Duration{ms(1), ms(2), ms(3)}, 0.5, ms(2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.q); got != tt.want {
				t.Errorf("percentile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

// TestWarmupInterrupted: Ctrl-C during the warm-up ends the run with a
// report that says so, the warm-up's figures in it and nothing measured.
func TestWarmupInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const concurrency = 4
	hold := &holdingNotifier{interruptAt: concurrency, interrupt: cancel}
	url := strings.TrimSuffix(startReceiver(t, hold), "/api/v1/alerts")
	fake, err := startFakeSipgate("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	o := options{concurrency: concurrency, notifications: 100, warmup: time.Minute, alerts: 1, recipients: 1}
	res := newResult(o)
	warmedUp := false
	stats, err := runLoad(ctx, o, url, &http.Client{Timeout: 10 * time.Second}, fake, res, slog.New(slog.DiscardHandler), func() error {
		warmedUp = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if warmedUp || stats.stopped != stoppedInterrupted || res.Stopped != stoppedInterrupted || res.Sent != 0 {
		t.Errorf("warmed up %v, stopped %q/%q, sent %d; want the run interrupted in the warm-up, nothing measured", warmedUp, stats.stopped, res.Stopped, res.Sent)
	}
	if res.WarmupSent != concurrency || res.WarmupOK != 0 {
		t.Errorf("warm-up sent %d, ok %d; want the %d in flight, none answered", res.WarmupSent, res.WarmupOK, concurrency)
	}
	if p := res.problem(); !strings.Contains(p, "interrupted") {
		t.Errorf("problem %q, want it to say interrupted", p)
	}
}
