// Package delivery sends the SMS of one notification: concurrently per
// recipient, retrying what a retry can fix within the caller's deadline, and
// never twice to the same recipient for the same notification.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate"
)

// Sender sends one SMS; *sipgate.Client is the real one.
type Sender interface {
	SendSMS(ctx context.Context, sms sipgate.SMS) error
}

// Ledger remembers which messages were delivered; *ledger.Ledger is the
// real one.
type Ledger interface {
	Delivered(key string) (bool, error)
	Record(key string) error
}

// Message is one SMS to one recipient.
type Message struct {
	// Key identifies the notification and recipient in the ledger: two
	// messages with the same key are the same page.
	Key     string
	Route   string
	Contact string // for logs and metrics, never the number
	Number  string
	Text    string
}

// Options are a Deliverer's dependencies and tuning.
type Options struct {
	Sender  Sender
	Ledger  Ledger
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// Concurrency bounds the parallel sends of one Deliver call.
	Concurrency int
	// InitialBackoff and MaxBackoff shape the exponential backoff between
	// retries of one SMS; zero means 250ms and 5s.
	InitialBackoff, MaxBackoff time.Duration
}

// Deliverer sends messages; safe for concurrent use.
type Deliverer struct {
	o Options

	mu sync.Mutex
	// inflight holds the keys being sent right now, so that a duplicate
	// arriving meanwhile (the other replica of an HA pair) waits for the
	// outcome instead of sending a second SMS.
	inflight map[string]chan struct{}
}

// New returns a Deliverer.
func New(o Options) *Deliverer {
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = 250 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	return &Deliverer{o: o, inflight: map[string]chan struct{}{}}
}

// RetryableError reports that some messages failed in a way a later retry
// may fix; the caller should ask for the notification again.
type RetryableError struct {
	Failed, Total int
	Err           error // the first failure
}

func (e *RetryableError) Error() string {
	return fmt.Sprintf("%d of %d SMS failed, a retry may help: %v", e.Failed, e.Total, e.Err)
}

func (e *RetryableError) Unwrap() error { return e.Err }

// Temporary tells callers that asking again may succeed.
func (e *RetryableError) Temporary() bool { return true }

// Deliver sends every message and waits for all. It returns nil when each
// was accepted, already delivered before, or failed permanently (logged and
// counted: a retry cannot fix it), and a *RetryableError otherwise.
func (d *Deliverer) Deliver(ctx context.Context, msgs []Message) error {
	errs := make([]error, len(msgs))
	sem := make(chan struct{}, d.o.Concurrency)
	var wg sync.WaitGroup
	for i, m := range msgs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = d.deliver(ctx, m)
		}()
	}
	wg.Wait()

	failed := 0
	var first error
	for _, err := range errs {
		if err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
	}
	if failed > 0 {
		return &RetryableError{Failed: failed, Total: len(msgs), Err: first}
	}
	return nil
}

// deliver sends one message and returns an error only when a retry of the
// whole notification may help.
func (d *Deliverer) deliver(ctx context.Context, m Message) error {
	log := d.o.Logger.With("route", m.Route, "contact", m.Contact, "number", phone.Mask(m.Number))
	result, err := d.deliverOnce(ctx, m)
	d.o.Metrics.SMSSent.WithLabelValues(m.Route, result).Inc()
	switch result {
	case metrics.ResultAccepted:
		log.Info("sms accepted")
	case metrics.ResultDeduplicated:
		log.Info("sms already delivered for this notification, not sent again")
	case metrics.ResultFailedPermanent:
		log.Error("sms not sent, a retry cannot help", "err", err)
		return nil
	case metrics.ResultFailedRetryable:
		log.Warn("sms not sent, asking for a retry", "err", err)
		return fmt.Errorf("send SMS to %s: %w", m.Contact, err)
	}
	return nil
}

func (d *Deliverer) deliverOnce(ctx context.Context, m Message) (result string, err error) {
	release, err := d.claim(ctx, m.Key)
	if err != nil {
		return metrics.ResultFailedRetryable, err
	}
	defer release()

	delivered, err := d.o.Ledger.Delivered(m.Key)
	if err != nil {
		return metrics.ResultFailedRetryable, err
	}
	if delivered {
		return metrics.ResultDeduplicated, nil
	}
	if err := d.send(ctx, m); err != nil {
		if permanent(err) {
			return metrics.ResultFailedPermanent, err
		}
		return metrics.ResultFailedRetryable, err
	}
	if err := d.o.Ledger.Record(m.Key); err != nil {
		// The SMS is out: report it as such. Only a retry of this very
		// notification could now page the recipient twice.
		d.o.Logger.Error("sms accepted but not recorded in the ledger", "route", m.Route, "contact", m.Contact, "err", err)
	}
	return metrics.ResultAccepted, nil
}

// claim waits until no other request is sending the same key and marks it
// as in flight; release must be called when done.
func (d *Deliverer) claim(ctx context.Context, key string) (release func(), err error) {
	for {
		d.mu.Lock()
		busy, ok := d.inflight[key]
		if !ok {
			done := make(chan struct{})
			d.inflight[key] = done
			d.mu.Unlock()
			return func() {
				d.mu.Lock()
				delete(d.inflight, key)
				d.mu.Unlock()
				close(done)
			}, nil
		}
		d.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for a concurrent send of the same page: %w", ctx.Err())
		}
	}
}

// send calls the sender, retrying temporary failures with exponential
// backoff and jitter, honouring Retry-After, and giving up early when the
// next wait would pass the context's deadline.
func (d *Deliverer) send(ctx context.Context, m Message) error {
	sms := sipgate.SMS{Recipient: m.Number, Message: m.Text}
	for attempt := 0; ; attempt++ {
		err := d.o.Sender.SendSMS(ctx, sms)
		if err == nil || permanent(err) || ctx.Err() != nil {
			return err
		}
		wait := d.backoff(attempt)
		var serr *sipgate.Error
		if errors.As(err, &serr) && serr.RetryAfter() > wait {
			wait = serr.RetryAfter()
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return fmt.Errorf("%w (no time left for a retry in %s)", err, wait.Round(time.Millisecond))
		}
		d.o.Metrics.Retries.WithLabelValues(reason(err)).Inc()
		d.o.Logger.Debug("retrying sms", "route", m.Route, "contact", m.Contact, "attempt", attempt+1, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
	}
}

// backoff is InitialBackoff doubled per attempt, capped at MaxBackoff, with
// ±50% jitter so that concurrent retries spread out.
func (d *Deliverer) backoff(attempt int) time.Duration {
	b := d.o.InitialBackoff << min(attempt, 16)
	if b <= 0 || b > d.o.MaxBackoff {
		b = d.o.MaxBackoff
	}
	return b/2 + rand.N(b)
}

// permanent reports whether sipgate said a retry cannot help. Anything it
// did not classify counts as temporary, so that no page is lost to an error
// we did not foresee.
func permanent(err error) bool {
	var serr *sipgate.Error
	return errors.As(err, &serr) && !serr.Temporary()
}

func reason(err error) string {
	var serr *sipgate.Error
	if errors.As(err, &serr) && serr.StatusCode != 0 {
		return strconv.Itoa(serr.StatusCode)
	}
	return "error"
}

// LogSender is the sender of a dry run: it logs each SMS instead of sending.
type LogSender struct {
	Logger *slog.Logger
}

// SendSMS logs the SMS; it never fails.
func (s LogSender) SendSMS(_ context.Context, sms sipgate.SMS) error {
	s.Logger.Info("dry run: sms not sent", "number", phone.Mask(sms.Recipient), "message", sms.Message)
	return nil
}
