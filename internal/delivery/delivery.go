// Package delivery sends the SMS of one notification: concurrently per
// recipient, retrying what a retry can fix within the caller's deadline, and
// never twice to the same recipient for the same notification.
package delivery

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate"
)

// Sender sends one SMS; *sipgate.Client is the real one.
//
// Delivery decides what to do with a failure by asking the error, not by
// knowing its type (see outcome.go): Temporary() bool, RetryAfter()
// time.Duration, Reason() string, which must be one of a few words since
// it becomes the "reason" label, and Code() string, the HTTP status. An
// error that does not say whether it is temporary counts as temporary, so
// that no page is lost to an error nobody foresaw.
type Sender interface {
	SendSMS(ctx context.Context, sms sipgate.SMS) error
}

// Ledger remembers what was delivered and counts sends against limits;
// *ledger.Ledger is the real one.
type Ledger interface {
	Delivered(key string) (bool, error)
	Record(key string) error
	MarkPaged(number string, alerts []string) error
	Take(number string, perRecipient []ledger.Window, budget ledger.Window, force bool) (time.Time, bool, error)
	Refund(number string, at time.Time) error
	Suppress(number, contact string, alerts int, url string) error
	Pending() (map[string]ledger.Suppressed, error)
	Digested(number string, covered ledger.Suppressed) error
}

// Limits are the flood limits a message counts against; see ledger.Take.
type Limits struct {
	PerRecipient []ledger.Window
	Budget       ledger.Window
}

// Batch is the SMS of one notification and what they share.
type Batch struct {
	// ID names the notification on every log line of its delivery, so
	// that an operator can follow it from the webhook to each SMS.
	ID string
	// Limits are the flood limits every message counts against.
	Limits Limits
	// ExternalURL is the Alertmanager a digest of suppressed messages
	// points to.
	ExternalURL string
	Messages    []Message
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
	// Encoding and Segments are what the text costs, for metrics.
	Encoding string
	Segments int
	// Severity ranks the message, 0 most severe: when limits force a
	// choice, lower ranks go first.
	Severity int
	// Alerts is how many alerts the message tells of, for digests.
	Alerts int
	// Paged are the firing alerts to remember as paged once accepted.
	Paged        []string
	BypassLimits bool
}

// Options are a Deliverer's dependencies and tuning.
type Options struct {
	Sender  Sender
	Ledger  Ledger
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// Clock is what retries wait on and digests tell the time by; nil is
	// the system clock.
	Clock Clock
	// Concurrency bounds the parallel sends of one Deliver call.
	Concurrency int
	// InitialBackoff and MaxBackoff shape the exponential backoff between
	// retries of one SMS; zero means 250ms and 5s.
	InitialBackoff, MaxBackoff time.Duration
	// Location is the time zone of the times in digests.
	Location *time.Location
}

// Deliverer sends messages; safe for concurrent use.
type Deliverer struct {
	o Options
	// claims are the keys being sent right now, by any Deliver call.
	claims *claims
}

// New returns a Deliverer.
func New(o Options) *Deliverer {
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = 250 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	return &Deliverer{o: o, claims: newClaims()}
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

// Deliver sends every message of the batch and waits for all. It returns
// nil when each was accepted, already delivered before, suppressed by a
// limit (owed in a digest), or failed permanently (logged and counted: a
// retry cannot fix it), and a *RetryableError otherwise.
//
// The sends run concurrently, but each message takes its turn at the
// limits in severity order (see turns), and a message whose key another
// call is sending waits for that outcome (see claims).
func (d *Deliverer) Deliver(ctx context.Context, b Batch) error {
	msgs := slices.Clone(b.Messages)
	slices.SortStableFunc(msgs, func(x, y Message) int { return cmp.Compare(x.Severity, y.Severity) })
	log := d.o.Logger.With("notification", b.ID)
	turns := newTurns(len(msgs))
	errs := make([]error, len(msgs))
	sem := make(chan struct{}, d.o.Concurrency)
	var wg sync.WaitGroup
	for i, m := range msgs {
		// Started in severity order, so the turns a message waits for
		// belong to messages already running: the bound cannot starve one.
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			turn := turns.wait(i)
			defer turn.pass()
			errs[i] = d.deliver(ctx, &b, m, turn, log)
		})
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

// deliver sends one message while holding its turn, logs and counts the
// outcome, and returns an error only when a retry of the whole
// notification may help.
func (d *Deliverer) deliver(ctx context.Context, b *Batch, m Message, turn *turn, log *slog.Logger) error {
	log = log.With("route", m.Route, "contact", m.Contact, "number", phone.Mask(m.Number))
	outcome, err := d.deliverOnce(ctx, b, m, turn, log)
	d.o.Metrics.SMSSent.WithLabelValues(m.Route, outcome.String()).Inc()
	if outcome.failed() {
		d.o.Metrics.SMSFailed.WithLabelValues(m.Route, reason(err)).Inc()
	}
	switch outcome {
	case Accepted:
		d.o.Metrics.Segments.WithLabelValues(m.Route, m.Encoding).Add(float64(m.Segments))
		log.Info("sms accepted", "segments", m.Segments)
	case Suppressed:
		d.o.Metrics.AlertsSuppressed.WithLabelValues(m.Route).Add(float64(m.Alerts))
		log.Warn("sms suppressed by a limit, owed in a digest", "alerts", m.Alerts)
	case Deduplicated:
		log.Info("sms already delivered for this notification, not sent again")
	case FailedPermanent:
		log.Error("sms not sent, a retry cannot help", "reason", reason(err), "err", err)
	case FailedRetryable:
		log.Warn("sms not sent, asking for a retry", "reason", reason(err), "err", err)
		return fmt.Errorf("send SMS to %s: %w", m.Contact, err)
	}
	return nil
}

// deliverOnce claims the message's key, then checks the ledger, counts the
// message against the limits (which ends its turn) and sends it.
//
// The turn comes before the claim: the caller holds the turn already, and
// whoever holds a claim waits for nothing but I/O from then on. So two
// calls that share keys in a different order cannot wait for each other:
// one waiting for a claim holds a turn, but a claim holder never waits for
// a turn.
func (d *Deliverer) deliverOnce(ctx context.Context, b *Batch, m Message, turn *turn, log *slog.Logger) (Outcome, error) {
	release, err := d.claims.claim(ctx, m.Key)
	if err != nil {
		return FailedRetryable, err
	}
	defer release()

	delivered, err := d.o.Ledger.Delivered(m.Key)
	if err != nil {
		return FailedRetryable, ledgerError{err}
	}
	if delivered {
		return Deduplicated, nil
	}
	at, allowed, err := d.o.Ledger.Take(m.Number, b.Limits.PerRecipient, b.Limits.Budget, m.BypassLimits)
	turn.pass()
	if err != nil {
		return FailedRetryable, ledgerError{err}
	}
	if !allowed {
		if err := d.o.Ledger.Suppress(m.Number, m.Contact, m.Alerts, b.ExternalURL); err != nil {
			return FailedRetryable, ledgerError{err}
		}
		// Handled: a retry of the notification must not count it twice.
		// Not paged, though: send_resolved: if_paged owes no resolved SMS.
		d.record(m, false, log)
		return Suppressed, nil
	}
	if err := d.send(ctx, m.Number, m.Text, log); err != nil {
		d.refund(m.Number, at, log)
		return failure(err), err
	}
	d.record(m, true, log)
	return Accepted, nil
}

// record notes a handled message in the ledger, and its alerts as paged
// when it was sent. Failing that only risks a second SMS on a retry of this
// very notification: logged, not returned.
func (d *Deliverer) record(m Message, paged bool, log *slog.Logger) {
	if err := d.o.Ledger.Record(m.Key); err != nil {
		log.Error("sms handled but not recorded in the ledger", "err", err)
	}
	if !paged {
		return
	}
	if err := d.o.Ledger.MarkPaged(m.Number, m.Paged); err != nil {
		log.Error("sms handled but its alerts not recorded as paged", "err", err)
	}
}

// refund gives a send that failed back to the limits: nothing was sent.
func (d *Deliverer) refund(number string, at time.Time, log *slog.Logger) {
	if err := d.o.Ledger.Refund(number, at); err != nil {
		log.Error("refund a failed send to the limits", "err", err)
	}
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
