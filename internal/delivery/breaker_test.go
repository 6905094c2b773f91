package delivery

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/breaker"
)

// TestBreakerKeepsADownSipgateFromBeingHammered: while sipgate answers 503,
// the sends of every notification together call it about once per probe
// interval, not once per retry; once it is back, the next send goes out.
func TestBreakerKeepsADownSipgateFromBeingHammered(t *testing.T) {
	f := newFixture(t)
	f.clock = newFakeClock(true) // every wait passes at once, moving the time
	const threshold, probe = 3, time.Second
	br := breaker.New(breaker.Options{Threshold: threshold, ProbeInterval: probe, Now: f.clock.Now})
	f.with(func(o *Options) { o.Clock, o.Breaker = f.clock, br })
	f.fake.Down(http.StatusServiceUnavailable, "")
	start := f.clock.Now()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.deliver(ctx, msgs("outage", "+4915100000001", "+4915100000002")) }()
	// Let the outage last for some probes, then give up as Alertmanager
	// would at its deadline.
	for f.fake.Requests() < threshold+10 {
		select {
		case err := <-done:
			t.Fatalf("Deliver returned %v during the outage", err)
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("Deliver succeeded while sipgate was down")
	}
	requests, elapsed := f.fake.Requests(), f.clock.Now().Sub(start)
	if limit := threshold + 1 + int(elapsed/probe); requests > limit {
		t.Errorf("%d requests reached sipgate in %s of outage, want at most %d (one per %s after %d failures)", requests, elapsed, limit, probe, threshold)
	}
	if st := br.Stats(); st.State == breaker.Closed || st.FastFailed == 0 {
		t.Errorf("breaker %+v, want open with refused sends", st)
	}
	if got := testutil.ToFloat64(f.metrics.Retries.WithLabelValues("error")); got != 0 {
		t.Errorf("sipgate_retries_total{reason=error} = %v: a refusal by the breaker is no retry of a request", got)
	}

	f.fake.Up()
	before := f.fake.Requests()
	ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := f.deliver(ctx, msgs("after", "+4915100000001")); err != nil {
		t.Fatalf("after sipgate came back: %v", err)
	}
	if got := f.fake.Requests() - before; got != 1 {
		t.Errorf("%d requests after recovery, want the one that went out", got)
	}
	if st := br.Stats(); st.State != breaker.Closed {
		t.Errorf("breaker %v after a success, want closed", st.State)
	}
}
