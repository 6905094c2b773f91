package breaker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/breaker"
)

// clock is a fake clock that moves only when told, so no test sleeps.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// The interfaces delivery asks an error through (errors.As).
type (
	temporary  interface{ Temporary() bool }
	retryAfter interface{ RetryAfter() time.Duration }
	reasoner   interface{ Reason() string }
)

// report is one report on a ticket, as a test step.
type report struct {
	name string
	do   func(*breaker.Ticket)
}

var (
	success  = report{"success", (*breaker.Ticket).Success}
	rejected = report{"rejected", (*breaker.Ticket).Rejected}
	abandon  = report{"abandon", (*breaker.Ticket).Abandon}
	failure  = failAfter(0)
)

func failAfter(d time.Duration) report {
	return report{"failure(" + d.String() + ")", func(t *breaker.Ticket) { t.Failure(d) }}
}

func repeat(r report, n int) []report {
	out := make([]report, n)
	for i := range out {
		out[i] = r
	}
	return out
}

func seq(parts ...[]report) []report {
	var out []report
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func one(r report) []report { return []report{r} }

// allow calls Allow and fails the test if it is refused.
func allow(t *testing.T, b *breaker.Breaker) *breaker.Ticket {
	t.Helper()
	tk, err := b.Allow()
	if err != nil {
		t.Fatalf("Allow refused: %v", err)
	}
	if tk == nil {
		t.Fatal("Allow returned neither a ticket nor an error")
	}
	return tk
}

// refused calls Allow, fails the test if it is let through, and returns the
// wait the refusal asks for.
func refused(t *testing.T, b *breaker.Breaker) time.Duration {
	t.Helper()
	tk, err := b.Allow()
	if err == nil {
		t.Fatal("Allow let a request through, want a refusal")
	}
	if tk != nil {
		t.Error("a refusal came with a ticket")
	}
	var ra retryAfter
	if !errors.As(err, &ra) {
		t.Fatalf("refusal %v has no RetryAfter", err)
	}
	return ra.RetryAfter()
}

// openAt trips b with failures at the current time, and fails the test if
// that does not open it.
func openAt(t *testing.T, b *breaker.Breaker) {
	t.Helper()
	for range breaker.DefaultThreshold {
		allow(t, b).Failure(0)
	}
	if s := b.Stats(); s.State != breaker.Open {
		t.Fatalf("state after %d failures = %s, want open", breaker.DefaultThreshold, s.State)
	}
}

func TestClosedBreakerCountsFailures(t *testing.T) {
	tests := []struct {
		name    string
		opts    breaker.Options
		reports []report
		// wait is the refusal's RetryAfter right after the reports; 0
		// means the breaker must still be closed.
		wait time.Duration
	}{
		{name: "four failures stay closed", reports: repeat(failure, 4)},
		{name: "the fifth failure opens", reports: repeat(failure, 5), wait: time.Second},
		{name: "a success ends the run", reports: seq(repeat(failure, 4), one(success), repeat(failure, 4))},
		{name: "a rejection ends the run", reports: seq(repeat(failure, 4), one(rejected), repeat(failure, 4))},
		{name: "rejections never open", reports: repeat(rejected, 50)},
		{name: "abandoned requests never open", reports: repeat(abandon, 50)},
		{
			name:    "abandoned requests neither count nor end the run",
			reports: seq(repeat(failure, 2), repeat(abandon, 3), repeat(failure, 3)),
			wait:    time.Second,
		},
		{name: "Retry-After opens at once", reports: one(failAfter(2 * time.Second)), wait: 2 * time.Second},
		{
			name:    "Retry-After opens at once after a success",
			reports: seq(one(success), one(failAfter(3*time.Second))),
			wait:    3 * time.Second,
		},
		{name: "a Retry-After below the probe interval waits the interval", reports: one(failAfter(100 * time.Millisecond)), wait: time.Second},
		{name: "a Retry-After is capped", reports: one(failAfter(time.Hour)), wait: breaker.DefaultMaxRetryAfter},
		{
			name:    "a Retry-After is capped at MaxRetryAfter",
			opts:    breaker.Options{MaxRetryAfter: 10 * time.Second},
			reports: one(failAfter(time.Hour)),
			wait:    10 * time.Second,
		},
		{name: "threshold 1", opts: breaker.Options{Threshold: 1}, reports: one(failure), wait: time.Second},
		{
			name:    "the probe interval is how long it opens",
			opts:    breaker.Options{ProbeInterval: 5 * time.Second},
			reports: repeat(failure, 5),
			wait:    5 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			tt.opts.Now = c.Now
			b := breaker.New(tt.opts)
			for _, r := range tt.reports {
				r.do(allow(t, b))
			}
			s := b.Stats()
			if tt.wait == 0 {
				if s.State != breaker.Closed {
					t.Fatalf("state = %s, want closed", s.State)
				}
				allow(t, b).Abandon()
				return
			}
			if s.State != breaker.Open || s.Opened != 1 {
				t.Fatalf("state = %s after %d openings, want open after 1", s.State, s.Opened)
			}
			if got := refused(t, b); got != tt.wait {
				t.Errorf("RetryAfter = %s, want %s", got, tt.wait)
			}
			if want := c.Now().Add(tt.wait); !s.NextProbe.Equal(want) {
				t.Errorf("NextProbe = %s, want %s", s.NextProbe, want)
			}
			c.Advance(tt.wait - time.Millisecond)
			if got := refused(t, b); got != time.Millisecond {
				t.Errorf("RetryAfter 1ms before the probe time = %s", got)
			}
			c.Advance(time.Millisecond)
			allow(t, b)
			if s := b.Stats(); s.State != breaker.HalfOpen || s.Probes != 1 || s.FastFailed != 2 {
				t.Errorf("stats with the probe out = %+v, want half_open, 1 probe, 2 fast-failed", s)
			}
		})
	}
}

func TestOpenErrorAsDeliverySeesIt(t *testing.T) {
	c := newClock()
	b := breaker.New(breaker.Options{Now: c.Now})
	openAt(t, b)
	c.Advance(400 * time.Millisecond)

	_, err := b.Allow()
	err = fmt.Errorf("send SMS to alice: %w", err)

	var temp temporary
	if !errors.As(err, &temp) || !temp.Temporary() {
		t.Errorf("%v is not temporary", err)
	}
	var ra retryAfter
	if !errors.As(err, &ra) || ra.RetryAfter() != 600*time.Millisecond {
		t.Errorf("%v: RetryAfter is not 600ms", err)
	}
	var rs reasoner
	if !errors.As(err, &rs) || rs.Reason() != "circuit_open" {
		t.Errorf("%v: Reason is not circuit_open", err)
	}
	want := "send SMS to alice: sipgate circuit open for 400ms (5 consecutive failures): not calling sipgate, next probe in 600ms"
	if err.Error() != want {
		t.Errorf("message\n got %q\nwant %q", err, want)
	}
}

// TestOneProbeAmongConcurrentCallers lets many goroutines ask at the same
// instant, round after round: exactly one may be the probe.
func TestOneProbeAmongConcurrentCallers(t *testing.T) {
	const callers = 64
	c := newClock()
	b := breaker.New(breaker.Options{Now: c.Now})

	// race lets callers ask at once and returns the tickets handed out.
	race := func() []*breaker.Ticket {
		start := make(chan struct{})
		var (
			mu      sync.Mutex
			tickets []*breaker.Ticket
			wg      sync.WaitGroup
		)
		for range callers {
			wg.Go(func() {
				<-start
				if tk, err := b.Allow(); err == nil {
					mu.Lock()
					tickets = append(tickets, tk)
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		return tickets
	}

	for round := range 10 {
		openAt(t, b)
		for probe := range 5 {
			c.Advance(time.Second - time.Millisecond)
			if got := race(); len(got) != 0 {
				t.Fatalf("round %d, probe %d: %d let through 1ms before the probe time, want 0", round, probe, len(got))
			}
			c.Advance(time.Millisecond)
			got := race()
			if len(got) != 1 {
				t.Fatalf("round %d, probe %d: %d let through at the probe time, want 1", round, probe, len(got))
			}
			if probe < 4 {
				got[0].Failure(0)
			} else {
				got[0].Success()
			}
		}
		if got := race(); len(got) != callers {
			t.Fatalf("round %d: %d of %d let through after the probe succeeded", round, len(got), callers)
		}
	}
	s := b.Stats()
	if s.Opened != 10 || s.Probes != 50 || s.FastFailed != 10*5*(2*callers-1) {
		t.Errorf("stats = %+v, want 10 openings, 50 probes, %d fast-failed", s, 10*5*(2*callers-1))
	}
}

// classified is an error that answers delivery's questions, like the
// sipgate client's.
type classified struct {
	temporary bool
	wait      time.Duration
}

func (e classified) Error() string             { return "classified" }
func (e classified) Temporary() bool           { return e.temporary }
func (e classified) RetryAfter() time.Duration { return e.wait }

// clientTimeout is like the sipgate client's error for a timeout of its own
// HTTP client: temporary, and errors.Is context.DeadlineExceeded as
// net/http's timeouts are.
type clientTimeout struct{}

func (clientTimeout) Error() string        { return "Client.Timeout exceeded while awaiting headers" }
func (clientTimeout) Temporary() bool      { return true }
func (clientTimeout) Is(target error) bool { return target == context.DeadlineExceeded }
func wrap(err error) error                 { return fmt.Errorf("sipgate: send SMS: %w", err) }
func reportErr(name string, err error) report {
	return report{name, func(t *breaker.Ticket) { t.Report(err) }}
}
func both(a, b report) report {
	return report{a.name + " then " + b.name, func(t *breaker.Ticket) { a.do(t); b.do(t) }}
}

// TestProbeOutcome reports the probe in each way, 300ms after it went, and
// checks when the next request may go.
func TestProbeOutcome(t *testing.T) {
	const reportAfter = 300 * time.Millisecond
	tests := []struct {
		report report
		// next is when the next request may go, after the probe went; 0
		// means the breaker must be closed.
		next time.Duration
	}{
		{report: success},
		{report: rejected},
		{report: failure, next: reportAfter + time.Second},
		{report: failAfter(5 * time.Second), next: reportAfter + 5*time.Second},
		{report: failAfter(200 * time.Millisecond), next: reportAfter + time.Second},
		{report: abandon, next: time.Second},
		{report: both(success, abandon)},
		{report: both(abandon, success), next: time.Second},
		{report: both(failure, success), next: reportAfter + time.Second},
		{report: reportErr("Report(nil)", nil)},
		{report: reportErr("Report(permanent)", wrap(classified{temporary: false}))},
		{report: reportErr("Report(temporary)", wrap(classified{temporary: true})), next: reportAfter + time.Second},
		{report: reportErr("Report(temporary, retry after 4s)", wrap(classified{temporary: true, wait: 4 * time.Second})), next: reportAfter + 4*time.Second},
		{report: reportErr("Report(client timeout)", wrap(clientTimeout{})), next: reportAfter + time.Second},
		{report: reportErr("Report(context canceled)", wrap(context.Canceled)), next: time.Second},
		{report: reportErr("Report(deadline exceeded)", wrap(context.DeadlineExceeded)), next: time.Second},
		{report: reportErr("Report(unclassified)", errors.New("boom")), next: reportAfter + time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.report.name, func(t *testing.T) {
			c := newClock()
			b := breaker.New(breaker.Options{Now: c.Now})
			openAt(t, b)
			c.Advance(time.Second)
			probe := allow(t, b)
			c.Advance(reportAfter)
			tt.report.do(probe)

			if tt.next == 0 {
				if s := b.Stats(); s.State != breaker.Closed {
					t.Fatalf("state = %s, want closed", s.State)
				}
				allow(t, b)
				allow(t, b)
				return
			}
			if s := b.Stats(); s.State != breaker.Open {
				t.Fatalf("state = %s, want open", s.State)
			}
			c.Advance(tt.next - reportAfter - time.Millisecond)
			if got := refused(t, b); got != time.Millisecond {
				t.Errorf("RetryAfter 1ms before the next probe = %s", got)
			}
			c.Advance(time.Millisecond)
			allow(t, b)
			refused(t, b)
		})
	}
}

// TestUnreportedProbeExpires: a probe nobody reports holds the next one
// back for ProbeTimeout, not for ever, and its late report is ignored.
func TestUnreportedProbeExpires(t *testing.T) {
	var logs bytes.Buffer
	c := newClock()
	b := breaker.New(breaker.Options{Now: c.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	openAt(t, b)
	c.Advance(time.Second)
	lost := allow(t, b)

	probeAt := c.Now()
	for _, at := range []time.Duration{0, time.Second, 10 * time.Second, breaker.DefaultProbeTimeout - time.Millisecond} {
		c.Advance(probeAt.Add(at).Sub(c.Now()))
		refused(t, b)
		if s := b.Stats(); s.State != breaker.HalfOpen {
			t.Fatalf("state %s after the probe went: %s, want half_open", at, s.State)
		}
	}
	c.Advance(time.Millisecond)
	if s := b.Stats(); s.State != breaker.Open {
		t.Fatalf("state once the probe expired: %s, want open", s.State)
	}
	second := allow(t, b)
	if !strings.Contains(logs.String(), "probe not reported in time") {
		t.Errorf("no log line about the lost probe in:\n%s", logs.String())
	}

	lost.Success()
	if s := b.Stats(); s.State != breaker.HalfOpen {
		t.Fatalf("state after the expired probe's late success: %s, want half_open", s.State)
	}
	refused(t, b)
	second.Success()
	if s := b.Stats(); s.State != breaker.Closed {
		t.Fatalf("state after the current probe's success: %s, want closed", s.State)
	}
}

// TestReportsFromBeforeItOpened: requests in flight when the breaker
// opened report afterwards. Only a Retry-After among them counts.
func TestReportsFromBeforeItOpened(t *testing.T) {
	c := newClock()
	b := breaker.New(breaker.Options{Now: c.Now})
	inFlight := make([]*breaker.Ticket, 3)
	for i := range inFlight {
		inFlight[i] = allow(t, b)
	}
	openAt(t, b)
	c.Advance(200 * time.Millisecond)

	inFlight[0].Success()
	if got := refused(t, b); got != 800*time.Millisecond {
		t.Fatalf("after an old success: RetryAfter = %s, want 800ms (still open)", got)
	}
	inFlight[1].Failure(0)
	if got := refused(t, b); got != 800*time.Millisecond {
		t.Fatalf("after an old failure: RetryAfter = %s, want 800ms (unchanged)", got)
	}
	inFlight[2].Failure(10 * time.Second)
	if got := refused(t, b); got != 10*time.Second {
		t.Fatalf("after an old Retry-After of 10s: RetryAfter = %s, want 10s", got)
	}
	if s := b.Stats(); s.Opened != 1 {
		t.Errorf("opened %d times, want 1", s.Opened)
	}
}

// TestOutage hammers the breaker with callers through a simulated 60s
// sipgate outage: sipgate answers 503 from 10s to 70s, each request takes
// 30ms, and 8 callers ask every 10ms (800 requests a second). At every
// step, it checks that the breaker lets through everybody while closed,
// and while open exactly one caller once the next probe time has come and
// nobody before.
func TestOutage(t *testing.T) {
	const (
		step    = 10 * time.Millisecond
		callers = 8
		latency = 3 * step
		downAt  = 10 * time.Second
		upAt    = 70 * time.Second
		end     = 80 * time.Second
		// Asked before the first failure came back: nothing can stop
		// those.
		beforeOpen = callers * int(latency/step)
	)
	var logs bytes.Buffer
	c := newClock()
	b := breaker.New(breaker.Options{Now: c.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})

	type request struct {
		ticket *breaker.Ticket
		at     time.Duration
		up     bool // sipgate was up when the request reached it
	}
	var (
		mu       sync.Mutex
		sent     []request
		inFlight []request
		refusals int64
		closedAt time.Duration = -1
	)
	for at := time.Duration(0); at < end; at += step {
		// The answers that are due come back, concurrently.
		var wg sync.WaitGroup
		var pending []request
		for _, r := range inFlight {
			if at-r.at < latency {
				pending = append(pending, r)
				continue
			}
			wg.Go(func() {
				if r.up {
					r.ticket.Success()
				} else {
					r.ticket.Failure(0)
				}
			})
		}
		inFlight = pending
		wg.Wait()

		s := b.Stats()
		want := callers
		if s.State != breaker.Closed {
			want = 0
			if !c.Now().Before(s.NextProbe) {
				want = 1
			}
		} else if at >= upAt && closedAt < 0 {
			closedAt = at
		}
		var allowed atomic.Int64
		for range callers {
			wg.Go(func() {
				tk, err := b.Allow()
				if err != nil {
					return
				}
				allowed.Add(1)
				r := request{ticket: tk, at: at, up: at < downAt || at >= upAt}
				mu.Lock()
				sent = append(sent, r)
				inFlight = append(inFlight, r)
				mu.Unlock()
			})
		}
		wg.Wait()
		if got := allowed.Load(); got != int64(want) {
			t.Fatalf("at %s (%s, next probe at %s): %d of %d let through, want %d",
				at, s.State, s.NextProbe.Sub(newClock().Now()), got, callers, want)
		}
		refusals += int64(callers - want)
		c.Advance(step)
	}

	var duringOutage []time.Duration
	firstAfter := time.Duration(-1)
	for _, r := range sent {
		if !r.up && r.at >= downAt {
			duringOutage = append(duringOutage, r.at)
		}
		if r.at >= upAt && firstAfter < 0 {
			firstAfter = r.at
		}
	}
	if len(duringOutage) < beforeOpen {
		t.Fatalf("only %d requests reached sipgate in the outage, want at least %d", len(duringOutage), beforeOpen)
	}
	probes := duringOutage[beforeOpen:]
	for i := 1; i < len(probes); i++ {
		if gap := probes[i] - probes[i-1]; gap < time.Second {
			t.Fatalf("probes at %s and %s: %s apart, want at least 1s", probes[i-1], probes[i], gap)
		}
	}
	if n := len(probes); n < 55 || n > 60 {
		t.Errorf("%d probes reached sipgate in the 60s outage, want about 60", n)
	}
	t.Logf("requests to sipgate in the 60s outage: %d before it opened, then %d probes; %d refused; first request %s and closed %s after recovery",
		beforeOpen, len(probes), refusals, firstAfter-upAt, closedAt-upAt)

	if firstAfter < 0 || firstAfter-upAt > time.Second+latency {
		t.Errorf("first request %s after recovery, want within the probe interval and a request's latency", firstAfter-upAt)
	}
	if closedAt < 0 || closedAt != firstAfter+latency {
		t.Errorf("closed at %s, want when the first request after recovery (at %s) came back", closedAt, firstAfter)
	}
	s := b.Stats()
	if s.State != breaker.Closed || s.Opened != 1 || s.Probes != uint64(len(probes)+1) || s.FastFailed != uint64(refusals) {
		t.Errorf("stats at the end = %+v; want closed, opened once, %d probes, %d fast-failed", s, len(probes)+1, refusals)
	}
	if n := strings.Count(logs.String(), "circuit opened"); n != 1 {
		t.Errorf("logged the opening %d times, want once:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "circuit closed"); n != 1 {
		t.Errorf("logged the closing %d times, want once:\n%s", n, logs.String())
	}
}
