// Package delivery sends the SMS of one notification: concurrently per
// recipient, retrying what a retry can fix within the caller's deadline, and
// never twice to the same recipient for the same notification.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sms"
)

// Sender sends one SMS; *sipgate.Client is the real one.
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
	Paged []string
	// ExternalURL is the Alertmanager to point a digest to.
	ExternalURL  string
	Limits       Limits
	BypassLimits bool
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
	// Location is the time zone of the times in digests.
	Location *time.Location
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
	if o.Location == nil {
		o.Location = time.Local
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
// was accepted, already delivered before, suppressed by a limit (owed in a
// digest), or failed permanently (logged and counted: a retry cannot fix
// it), and a *RetryableError otherwise.
func (d *Deliverer) Deliver(ctx context.Context, msgs []Message) error {
	msgs = slices.Clone(msgs)
	slices.SortStableFunc(msgs, func(a, b Message) int { return a.Severity - b.Severity })
	errs := make([]error, len(msgs))
	sem := make(chan struct{}, d.o.Concurrency)
	var wg sync.WaitGroup
	// Sends run concurrently, but each takes its turn at the limits in
	// severity order: turn[i] closes once message i was counted.
	turn := make([]chan struct{}, len(msgs)+1)
	for i := range turn {
		turn[i] = make(chan struct{})
	}
	close(turn[0])
	for i, m := range msgs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = d.deliver(ctx, m, turn[i], turn[i+1])
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
// whole notification may help. It waits for myTurn before counting against
// the limits and closes done once it did or never will.
func (d *Deliverer) deliver(ctx context.Context, m Message, myTurn <-chan struct{}, done chan<- struct{}) error {
	log := d.o.Logger.With("route", m.Route, "contact", m.Contact, "number", phone.Mask(m.Number))
	var once sync.Once
	// The turn passes on once this message counted against the limits, or
	// at the latest when it is done, whether or not it counted.
	passTurn := func() { once.Do(func() { close(done) }) }
	defer passTurn()
	// The turn comes before the claim: whoever holds a claim has had its
	// turn and waits for nothing but I/O, so two requests that share keys
	// in a different order cannot wait for each other.
	<-myTurn
	result, err := d.deliverOnce(ctx, m, passTurn)
	d.o.Metrics.SMSSent.WithLabelValues(m.Route, result).Inc()
	switch result {
	case metrics.ResultAccepted:
		d.o.Metrics.Segments.WithLabelValues(m.Route, m.Encoding).Add(float64(m.Segments))
		log.Info("sms accepted", "segments", m.Segments)
	case metrics.ResultSuppressed:
		d.o.Metrics.AlertsSuppressed.WithLabelValues(m.Route).Add(float64(m.Alerts))
		log.Warn("sms suppressed by a limit, owed in a digest", "alerts", m.Alerts)
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

func (d *Deliverer) deliverOnce(ctx context.Context, m Message, passTurn func()) (result string, err error) {
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
	at, allowed, err := d.o.Ledger.Take(m.Number, m.Limits.PerRecipient, m.Limits.Budget, m.BypassLimits)
	passTurn()
	if err != nil {
		return metrics.ResultFailedRetryable, err
	}
	if !allowed {
		if err := d.o.Ledger.Suppress(m.Number, m.Contact, m.Alerts, m.ExternalURL); err != nil {
			return metrics.ResultFailedRetryable, err
		}
		// Handled: a retry of the notification must not count it twice.
		// Not paged, though: send_resolved: if_paged owes no resolved SMS.
		d.record(m, false)
		return metrics.ResultSuppressed, nil
	}
	if err := d.send(ctx, m.Number, m.Text, m.Route, m.Contact); err != nil {
		if rerr := d.o.Ledger.Refund(m.Number, at); rerr != nil {
			d.o.Logger.Error("refund a failed send to the limits", "route", m.Route, "contact", m.Contact, "err", rerr)
		}
		if permanent(err) {
			return metrics.ResultFailedPermanent, err
		}
		return metrics.ResultFailedRetryable, err
	}
	d.record(m, true)
	return metrics.ResultAccepted, nil
}

// record notes a handled message in the ledger, and its alerts as paged
// when it was sent. Failing that only risks a second SMS on a retry of this
// very notification: logged, not returned.
func (d *Deliverer) record(m Message, paged bool) {
	if err := d.o.Ledger.Record(m.Key); err != nil {
		d.o.Logger.Error("sms handled but not recorded in the ledger", "route", m.Route, "contact", m.Contact, "err", err)
	}
	if !paged {
		return
	}
	if err := d.o.Ledger.MarkPaged(m.Number, m.Paged); err != nil {
		d.o.Logger.Error("sms handled but its alerts not recorded as paged", "route", m.Route, "contact", m.Contact, "err", err)
	}
}

// SendDigests sends each recipient whose limits allow it again one SMS
// that says how many alerts were suppressed since when. It is called
// periodically with timeout for each digest; a digest that fails in a way a
// retry may fix stays owed for the next call.
func (d *Deliverer) SendDigests(ctx context.Context, timeout time.Duration, limits Limits) error {
	pending, err := d.o.Ledger.Pending()
	if err != nil {
		return err
	}
	var errs []error
	for _, number := range slices.Sorted(maps.Keys(pending)) {
		if err := d.sendDigest(ctx, timeout, limits, number, pending[number]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (d *Deliverer) sendDigest(ctx context.Context, timeout time.Duration, limits Limits, number string, s ledger.Suppressed) error {
	log := d.o.Logger.With("contact", s.Contact, "number", phone.Mask(number))
	at, allowed, err := d.o.Ledger.Take(number, limits.PerRecipient, limits.Budget, false)
	if err != nil || !allowed {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fit := sms.Fit(d.digestText(s), sms.Budget{MaxSegments: 1, GSM7Only: true})
	err = d.send(ctx, number, fit.Text, "digest", s.Contact)
	if err != nil {
		// Nothing was sent: it does not count against the limits.
		if rerr := d.o.Ledger.Refund(number, at); rerr != nil {
			log.Error("refund a failed digest to the limits", "err", rerr)
		}
	}
	switch {
	case err == nil:
		d.o.Metrics.Digests.WithLabelValues(metrics.ResultAccepted).Inc()
		log.Info("digest sent", "alerts", s.Alerts, "since", s.Since)
	case permanent(err):
		d.o.Metrics.Digests.WithLabelValues(metrics.ResultFailedPermanent).Inc()
		log.Error("digest not sent, a retry cannot help: dropped", "alerts", s.Alerts, "err", err)
	default:
		d.o.Metrics.Digests.WithLabelValues(metrics.ResultFailedRetryable).Inc()
		log.Warn("digest not sent, will try again", "err", err)
		return nil
	}
	return d.o.Ledger.Digested(number, s)
}

// digestText is the SMS a recipient gets once a limit lets them have one
// again: "12 more alerts suppressed since 03:12, see http://am:9093".
func (d *Deliverer) digestText(s ledger.Suppressed) string {
	since := s.Since.In(d.o.Location)
	now := time.Now().In(d.o.Location)
	layout := "15:04"
	if since.YearDay() != now.YearDay() || since.Year() != now.Year() {
		layout = "Jan 2 15:04"
	}
	text := fmt.Sprintf("%d more alerts suppressed since %s", s.Alerts, since.Format(layout))
	if s.Alerts == 1 {
		text = fmt.Sprintf("1 more alert suppressed since %s", since.Format(layout))
	}
	if s.URL != "" {
		text += ", see " + sms.Shorten(s.URL)
	}
	return text
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
func (d *Deliverer) send(ctx context.Context, number, text, route, contact string) error {
	sms := sipgate.SMS{Recipient: number, Message: text}
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
		d.o.Logger.Debug("retrying sms", "route", route, "contact", contact, "attempt", attempt+1, "wait", wait, "err", err)
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
