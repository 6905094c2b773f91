package delivery

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
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
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	fake := sipgatetest.NewServer("token-1", "secret")
	t.Cleanup(fake.Close)
	led, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	m := metrics.New(prometheus.NewRegistry())
	client := sipgate.New(sipgate.Options{BaseURL: fake.URL, SMSID: "s0", Username: "token-1", Password: "secret"})
	d := New(Options{
		Sender:         client,
		Ledger:         led,
		Metrics:        m,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Concurrency:    4,
		InitialBackoff: time.Millisecond,
		MaxBackoff:     10 * time.Millisecond,
	})
	return &fixture{fake: fake, metrics: m, d: d}
}

func (f *fixture) count(route, result string) int {
	return int(testutil.ToFloat64(f.metrics.SMSSent.WithLabelValues(route, result)))
}

func msgs(key string, numbers ...string) []Message {
	var out []Message
	for _, n := range numbers {
		out = append(out, Message{Key: key + "/" + n, Route: "r", Contact: "c" + n[len(n)-1:], Number: n, Text: "FIRING 1 Test"})
	}
	return out
}

func TestDeliverRetriesTransientFailures(t *testing.T) {
	f := newFixture(t)
	f.fake.FailNext(2, 503, "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.d.Deliver(ctx, msgs("n1", "+4915100000001")); err != nil {
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
}

func TestDeliverNeverSendsTwice(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// One recipient fails for good (402) and is not retried; the retry of
	// the notification sends only to the recipient whose send failed.
	f.fake.FailRecipient("+4915100000003", 402)
	f.fake.FailNext(100, 500, "")
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	err := f.d.Deliver(short, msgs("n1", "+4915100000001", "+4915100000002", "+4915100000003"))
	cancel()
	var rerr *RetryableError
	if !errors.As(err, &rerr) || !rerr.Temporary() {
		t.Fatalf("with sipgate failing: err = %v, want a RetryableError", err)
	}

	f.fake.FailNext(0, 0, "")
	if err := f.d.Deliver(ctx, msgs("n1", "+4915100000001", "+4915100000002", "+4915100000003")); err != nil {
		t.Fatalf("second attempt: %v", err)
	}
	if err := f.d.Deliver(ctx, msgs("n1", "+4915100000001", "+4915100000002", "+4915100000003")); err != nil {
		t.Fatalf("third attempt: %v", err)
	}
	got := map[string]int{}
	for _, m := range f.fake.Messages() {
		got[m.Recipient]++
	}
	if got["+4915100000001"] != 1 || got["+4915100000002"] != 1 || got["+4915100000003"] != 0 {
		t.Errorf("accepted per recipient = %v, want one each for ...01 and ...02, none for ...03", got)
	}
	if n := f.count("r", metrics.ResultDeduplicated); n != 2 {
		t.Errorf("deduplicated = %d, want 2", n)
	}
	if n := f.count("r", metrics.ResultFailedPermanent); n != 3 {
		t.Errorf("failed_permanent = %d, want 3", n)
	}
}

func TestDeliverPermanentFailureIsNotRetried(t *testing.T) {
	f := newFixture(t)
	f.fake.FailNext(1, 401, "")
	if err := f.d.Deliver(context.Background(), msgs("n1", "+4915100000001")); err != nil {
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
	err := f.d.Deliver(ctx, msgs("n1", "+4915100000001"))
	if err == nil {
		t.Fatal("err = nil, want a retryable error")
	}
	if time.Since(start) > 500*time.Millisecond {
		t.Errorf("waited %v for a Retry-After beyond the deadline", time.Since(start))
	}
	if f.fake.Requests() != 1 {
		t.Errorf("requests = %d, want 1", f.fake.Requests())
	}
}

func TestConcurrentDuplicatesSendOnce(t *testing.T) {
	f := newFixture(t)
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f.d.Deliver(context.Background(), msgs("ha", "+4915100000001", "+4915100000002"))
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
