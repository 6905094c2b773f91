// Package breaker remembers across notifications that sipgate is in
// trouble, so that while it is down callers are told at once not to call it,
// and a single probe request per interval finds out when it is back.
//
// Without it every SMS retries sipgate on its own: in a 60 s outage the
// service sent 2,304 requests, and a Retry-After that one request was given
// meant nothing to the next. A Breaker is shared by all sends, so that what
// one request learns holds for all.
//
// # States
//
// Closed: every request goes. Consecutive failures that say sipgate is in
// trouble are counted; at Options.Threshold of them the breaker opens. A
// failure that carries a Retry-After opens it at once, whatever the count.
//
// Open: Allow refuses at once with an *OpenError, which is temporary and
// says when the next probe may go, until that time comes. Then exactly one
// caller is let through as the probe (half-open); everybody else is still
// refused. The probe's success closes the breaker; its failure keeps it
// open for another Options.ProbeInterval, or for the Retry-After sipgate
// gave if that is longer. So while sipgate is down, about one request per
// ProbeInterval reaches it, and the first caller after sipgate is back
// closes the breaker for everyone.
//
// # Reporting
//
// Every Ticket that Allow hands out must be reported, once: Success,
// Failure, Rejected, Abandon, or Report, which picks one of these from the
// request's error. The first report counts and later ones are ignored, so
// `defer ticket.Abandon()` right after Allow is a safe net for the paths
// that return early. A probe whose ticket is never reported (a bug, or a
// request that hangs without a deadline) stops blocking other probes after
// Options.ProbeTimeout: then the next caller is let through as a new probe,
// and the old ticket's late report is ignored.
package breaker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// Defaults of the Options, exported so that a config layer can show them.
const (
	DefaultThreshold     = 5
	DefaultProbeInterval = time.Second
	DefaultMaxRetryAfter = 2 * time.Minute
	DefaultProbeTimeout  = 15 * time.Second
)

// ReasonOpen is the Reason of an *OpenError: the value of a "reason"
// metric label for SMS not sent because the breaker was open.
const ReasonOpen = "circuit_open"

// Options tune a Breaker; the zero value of each field means its default.
type Options struct {
	// Threshold is how many failures in a row, with no success or
	// rejection between them, open the breaker. Default 5.
	Threshold int
	// ProbeInterval is the least time between two probes while the breaker
	// is open, and so about the rate at which a down sipgate is called.
	// Default 1s.
	ProbeInterval time.Duration
	// MaxRetryAfter caps how long a Retry-After keeps the breaker open, so
	// that a bogus header cannot hold every page for hours. A Retry-After
	// shorter than ProbeInterval counts as ProbeInterval. Default 2m;
	// raised to ProbeInterval if smaller.
	MaxRetryAfter time.Duration
	// ProbeTimeout is how long a probe that has not been reported blocks
	// the next one. It should exceed the longest a request to sipgate can
	// take (the sipgate client's timeout is 10s), so that a slow probe is
	// not joined by a second one. Default 15s.
	ProbeTimeout time.Duration
	// Now is the clock; nil means time.Now. Tests pass a fake one.
	Now func() time.Time
	// Logger gets a line when the breaker opens and closes; nil logs
	// nothing.
	Logger *slog.Logger
}

// State is where a Breaker stands; its String is meant for logs and
// labels.
type State int

// The states of a Breaker; the zero State is Closed.
const (
	// Closed: requests go to sipgate.
	Closed State = iota
	// Open: requests are refused until the next probe may go.
	Open
	// HalfOpen: open, with a probe in flight; other requests are refused.
	HalfOpen
)

func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half_open"
	default:
		return "State(" + strconv.Itoa(int(s)) + ")"
	}
}

// Breaker decides whether a request may go to sipgate, from what earlier
// requests reported. It is safe for concurrent use; the zero Breaker is not
// usable, call New.
type Breaker struct {
	o Options

	mu sync.Mutex
	// open is true in the states Open and HalfOpen.
	open bool
	// failures are the consecutive failures counted while closed.
	failures int
	// era counts the times the breaker opened or closed. A ticket of an
	// earlier era reports on a request made under other conditions, and
	// only a Retry-After in it still counts.
	era uint64
	// While open: since when, why, when the next probe may go, and the
	// probe in flight (nil if none).
	since time.Time
	cause string
	next  time.Time
	probe *Ticket
	// Totals since New, for Stats; fastFailedAtOpen is fastFailed when the
	// breaker last opened, so that closing can log the refusals of one
	// outage.
	opened, probes, fastFailed, fastFailedAtOpen uint64
}

// New returns a closed Breaker.
func New(o Options) *Breaker {
	if o.Threshold <= 0 {
		o.Threshold = DefaultThreshold
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = DefaultProbeInterval
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = DefaultMaxRetryAfter
	}
	o.MaxRetryAfter = max(o.MaxRetryAfter, o.ProbeInterval)
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = DefaultProbeTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Breaker{o: o}
}

// Allow asks whether one request may go to sipgate now. If so, it returns
// a Ticket on which the caller must report how the request went. If not, it
// returns a nil Ticket and an *OpenError; the caller must not call sipgate.
//
// Call it once per request, right before sending, and again for each
// retry: a retry is a request like any other.
func (b *Breaker) Allow() (*Ticket, error) {
	now := b.o.Now()
	b.mu.Lock()
	if !b.open {
		t := &Ticket{b: b, era: b.era}
		b.mu.Unlock()
		return t, nil
	}
	inFlight := b.probe != nil && now.Before(b.probe.expires)
	if inFlight || now.Before(b.next) {
		b.fastFailed++
		err := b.openError(now)
		b.mu.Unlock()
		return nil, err
	}
	expired := b.probe != nil
	t := &Ticket{b: b, era: b.era, probe: true, expires: now.Add(b.o.ProbeTimeout)}
	b.probe = t
	// Whatever becomes of this probe, the next one waits an interval:
	// that alone bounds the requests a down sipgate gets.
	b.next = now.Add(b.o.ProbeInterval)
	b.probes++
	b.mu.Unlock()
	if expired {
		b.o.Logger.Warn("sipgate probe not reported in time, letting another through",
			"probe_timeout", b.o.ProbeTimeout)
	}
	return t, nil
}

// openError is the refusal at now; b.mu is held and the breaker is open.
func (b *Breaker) openError(now time.Time) *OpenError {
	wait := b.next.Sub(now)
	if wait <= 0 {
		// A probe is in flight past the probe time: its outcome decides,
		// or its expiry lets the next one go.
		wait = min(b.o.ProbeInterval, b.probe.expires.Sub(now))
	}
	return &OpenError{Cause: b.cause, OpenFor: now.Sub(b.since), Wait: wait}
}

// Stats are a Breaker's state and totals, for metrics.
type Stats struct {
	State State
	// ConsecutiveFailures is the run of failures counted towards
	// Threshold while closed; 0 while open.
	ConsecutiveFailures int
	// Since is when the breaker opened and NextProbe when the next probe
	// may go; both zero while closed.
	Since, NextProbe time.Time
	// Opened counts the times the breaker opened from closed, Probes the
	// requests let through while open, FastFailed the requests refused.
	// All three only grow: counters.
	Opened, Probes, FastFailed uint64
}

// Stats returns the current state and totals. For the gauge
// alertmanager_sipgate_sipgate_circuit_open, export State != Closed; for
// the counter of fast-failed requests, FastFailed.
func (b *Breaker) Stats() Stats {
	now := b.o.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	s := Stats{
		State:               Closed,
		ConsecutiveFailures: b.failures,
		Opened:              b.opened,
		Probes:              b.probes,
		FastFailed:          b.fastFailed,
	}
	if b.open {
		s.State = Open
		if b.probe != nil && now.Before(b.probe.expires) {
			s.State = HalfOpen
		}
		s.Since, s.NextProbe = b.since, b.next
	}
	return s
}

// outcome is what a ticket reports.
type outcome int

const (
	success outcome = iota
	failure
	rejected
	abandoned
)

// settle applies one ticket's report at now; b.mu is held. It returns
// what to log once the lock is released.
func (b *Breaker) settle(t *Ticket, o outcome, retryAfter time.Duration, now time.Time) func() {
	if o == abandoned {
		if t == b.probe {
			// The probe slot is free, but b.next, set when the probe went,
			// still holds the next one back for the rest of the interval.
			b.probe = nil
		}
		return nil
	}
	if o == failure && retryAfter > 0 {
		// Retry-After is sipgate's own word on when to come back, and it
		// is news whichever request brings it, however old.
		until := now.Add(max(b.o.ProbeInterval, min(retryAfter, b.o.MaxRetryAfter)))
		switch {
		case !b.open:
			return b.trip(now, until, "sipgate asked to retry after "+retryAfter.String())
		case t == b.probe:
			return b.reopen(until)
		default:
			b.next = later(b.next, until)
			return nil
		}
	}
	if t.era != b.era || (t.probe && t != b.probe) {
		// Made under other conditions (before the breaker opened, or a
		// probe that expired): only the current requests decide.
		return nil
	}
	switch {
	case t.probe && o == failure:
		return b.reopen(now.Add(b.o.ProbeInterval))
	case t.probe:
		return b.reset(now)
	case o == failure:
		b.failures++
		if b.failures >= b.o.Threshold {
			return b.trip(now, now.Add(b.o.ProbeInterval), strconv.Itoa(b.failures)+" consecutive failures")
		}
	default:
		b.failures = 0
	}
	return nil
}

// trip opens the closed breaker until until; b.mu is held.
func (b *Breaker) trip(now, until time.Time, cause string) func() {
	b.open, b.failures, b.era = true, 0, b.era+1
	b.since, b.cause, b.next, b.probe = now, cause, until, nil
	b.opened++
	b.fastFailedAtOpen = b.fastFailed
	wait := until.Sub(now)
	return func() {
		b.o.Logger.Warn("sipgate circuit opened: refusing SMS without calling sipgate until a probe succeeds",
			"cause", cause, "next_probe_in", wait)
	}
}

// reopen keeps the breaker open after its probe failed; b.mu is held.
func (b *Breaker) reopen(until time.Time) func() {
	b.probe = nil
	b.next = later(b.next, until)
	return nil
}

// reset closes the breaker after its probe succeeded; b.mu is held.
func (b *Breaker) reset(now time.Time) func() {
	openFor := now.Sub(b.since)
	refused := b.fastFailed - b.fastFailedAtOpen
	b.open, b.failures, b.era = false, 0, b.era+1
	b.since, b.cause, b.next, b.probe = time.Time{}, "", time.Time{}, nil
	return func() {
		b.o.Logger.Info("sipgate circuit closed: a probe succeeded",
			"open_for", openFor, "refused", refused)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Ticket is the permission for one request, on which its caller reports how
// it went. Report once; the first report counts and later ones are
// ignored. The methods of a nil Ticket do nothing.
type Ticket struct {
	b   *Breaker
	era uint64
	// probe is true for the one request let through while open, which
	// stops blocking further probes at expires.
	probe   bool
	expires time.Time
	// reported is guarded by b.mu.
	reported bool
}

// Success reports that sipgate accepted the request (2xx): it is up.
// Closes the breaker if this was the probe; resets the failure count.
func (t *Ticket) Success() { t.report(success, 0) }

// Failure reports that sipgate is in trouble: no response (connection
// refused, reset, TLS failure), a timeout, 408, 429 or any 5xx.
// retryAfter is the Retry-After sipgate sent, 0 if none; any non-zero
// value opens the breaker at once for at least that long (at most
// Options.MaxRetryAfter).
func (t *Ticket) Failure(retryAfter time.Duration) { t.report(failure, retryAfter) }

// Rejected reports that sipgate answered but refused this request on its
// merits (400, 401, 402, 403, 404, ...): the request, credentials or
// account must change, and sipgate is up. It does not count as a failure:
// it ends a run of failures and, if this was the probe, closes the breaker,
// so that the operator sees sipgate's own error and not "circuit open".
func (t *Ticket) Rejected() { t.report(rejected, 0) }

// Abandon reports that the outcome is unknown because the caller gave up
// (its context ended) or never sent the request. It says nothing about
// sipgate: nothing is counted, and if this was the probe, the next caller
// after the probe interval becomes the probe. Safe to defer right after
// Allow: it does nothing once another report was made.
func (t *Ticket) Abandon() { t.report(abandoned, 0) }

// Report picks the report from the request's error, asking it as delivery
// does (errors.As): nil is Success; an error with Temporary() false is
// Rejected; one with Temporary() true is Failure with its RetryAfter(), if
// it has one; an unclassified error that is the caller's context ending
// (context.Canceled, context.DeadlineExceeded) is Abandon; any other
// unclassified error is Failure, as delivery retries what nobody
// classified.
//
// The sipgate client's errors are classified, and a timeout of its own
// HTTP client is Temporary: only the caller's own context ending makes an
// unclassified error. That is Abandon, not Failure, because a context can
// end for reasons of its own (Alertmanager hung up, shutdown, a deadline
// spent before the request went), and counting those would open the
// breaker while sipgate is well. The price: a sipgate that hangs is only
// counted when the client's own timeout fires before the caller's
// deadline.
func (t *Ticket) Report(err error) {
	var temp interface{ Temporary() bool }
	switch {
	case err == nil:
		t.Success()
	case errors.As(err, &temp) && !isContextError(temp):
		if !temp.Temporary() {
			t.Rejected()
			return
		}
		var ra interface{ RetryAfter() time.Duration }
		var wait time.Duration
		if errors.As(err, &ra) {
			wait = ra.RetryAfter()
		}
		t.Failure(wait)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		t.Abandon()
	default:
		t.Failure(0)
	}
}

// isContextError reports whether the error that answered Temporary is a
// context's own: context.DeadlineExceeded says Temporary() true, but it is
// the caller's deadline, not sipgate, that passed.
func isContextError(temp interface{ Temporary() bool }) bool {
	err, ok := temp.(error)
	return ok && (err == context.DeadlineExceeded || err == context.Canceled)
}

func (t *Ticket) report(o outcome, retryAfter time.Duration) {
	if t == nil {
		return
	}
	b := t.b
	now := b.o.Now()
	b.mu.Lock()
	if t.reported {
		b.mu.Unlock()
		return
	}
	t.reported = true
	log := b.settle(t, o, retryAfter, now)
	b.mu.Unlock()
	if log != nil {
		log()
	}
}

// OpenError is Allow's refusal: sipgate is known to be in trouble, so the
// request was not sent. Delivery treats it like any temporary sipgate
// failure (errors.As with Temporary, RetryAfter and Reason): the SMS is
// certainly not sent, and a retry after RetryAfter may go through.
type OpenError struct {
	// Cause is why the breaker opened, e.g. "5 consecutive failures".
	Cause string
	// OpenFor is how long the breaker has been open.
	OpenFor time.Duration
	// Wait is the time until the next probe may go.
	Wait time.Duration
}

func (e *OpenError) Error() string {
	return fmt.Sprintf("sipgate circuit open for %s (%s): not calling sipgate, next probe in %s",
		e.OpenFor.Round(time.Millisecond), e.Cause, e.Wait.Round(time.Millisecond))
}

// Temporary is true: the breaker closes once sipgate answers again.
func (e *OpenError) Temporary() bool { return true }

// RetryAfter is the time until the next probe may go; a request before
// then is refused for sure, one after it may be the probe or find the
// breaker closed.
func (e *OpenError) RetryAfter() time.Duration { return e.Wait }

// Reason is ReasonOpen, for the "reason" label of failed SMS.
func (e *OpenError) Reason() string { return ReasonOpen }
