// Package delivery sends the SMS of one notification: concurrently per
// recipient, retrying what a retry can fix within the caller's deadline,
// never twice to the same recipient for the same notification, and, when
// sipgate's answer is lost, again only after sipgate's history could not
// show that the first one went out.
package delivery

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/breaker"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/keylock"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sms"
)

// Sender sends one SMS; *sipgate.Client is the real one.
//
// Delivery decides what to do with a failure by asking the error, not by
// knowing its type (see outcome.go): Temporary() bool, RetryAfter()
// time.Duration, Reason() string, which must be one of a few words since
// it becomes the "reason" label, Code() string, the HTTP status, and
// Unknown() bool, whether the SMS may have been sent nonetheless. An
// error that does not say whether it is temporary counts as temporary, so
// that no page is lost to an error nobody foresaw.
type Sender interface {
	SendSMS(ctx context.Context, sms sipgate.SMS) error
}

// Ledger remembers what was delivered, counts sends against limits and
// marks the sends whose outcome is not known yet; *ledger.Ledger is the
// real one. Each write is on disk when it returns, and an SMS costs two:
// TakeDoubt before the send, and one that records its result.
type Ledger interface {
	// Delivered reports whether key was delivered within the dedup
	// window, renewing its record (a write) when it is half the window
	// old; true with an error when only that renewal failed.
	Delivered(key string) (bool, error)
	// RecordPagedTo notes key as delivered, clears its in-doubt mark and
	// notes the alerts as paged to whom the SMS reached (with its contact
	// and route, for the resolved SMS), in one write.
	RecordPagedTo(key string, to ledger.PagedRecipient, alerts []ledger.Firing) error
	// RecordSuppressed adds the alerts of an SMS that a limit kept from
	// number to its digest and notes key as delivered, in one write.
	RecordSuppressed(key, number string, held ledger.Suppressed) error
	// TakeDoubt counts a send against the limits (ledger.Take) and marks
	// key in doubt when they allow it, in the same write; it calls queued
	// once that write is queued, after which a take is decided after it.
	TakeDoubt(key string, mark ledger.Doubt, rank int, perRecipient []ledger.Window, budget ledger.Window, force bool, queued func()) (time.Time, bool, error)
	// Unsent clears key's in-doubt mark and refunds its send.
	Unsent(key, number string, at time.Time) error
	Doubt(key string) (ledger.Doubt, bool, error)
	MarkDoubt(key string, mark ledger.Doubt) error
	// Pending returns the digests owed; a digest's send is marked in
	// doubt like an SMS's, in the same write as its TakeDigest, which
	// moves what it covers out of what is owed, and DigestUnsent,
	// MarkDigestDoubt and Digested clear, replace or settle it.
	Pending() (map[string]ledger.Suppressed, error)
	Owed(number string) (ledger.Suppressed, bool, error)
	DigestsInDoubt() (map[string]ledger.DigestDoubt, error)
	TakeDigest(number string, mark ledger.DigestDoubt, perRecipient []ledger.Window, budget ledger.Window) (time.Time, bool, error)
	MarkDigestDoubt(number string, mark ledger.Doubt) error
	DigestUnsent(number string, at time.Time) error
	Digested(number string) error
	// DueHeld returns what quiet hours held and is due at now, and
	// ReleaseHeld forgets what a sent SMS told of, noting its firing
	// alerts as paged when paged; the rest is as for digests.
	DueHeld(now time.Time) ([]ledger.HeldSMS, error)
	TakeHeld(h ledger.HeldSMS, mark ledger.Doubt, rank int, perRecipient []ledger.Window, budget ledger.Window, force bool) (time.Time, bool, error)
	MarkHeldDoubt(h ledger.HeldSMS, mark ledger.Doubt) error
	HeldUnsent(h ledger.HeldSMS, at time.Time) error
	ReleaseHeld(h ledger.HeldSMS, paged bool) error
}

// History looks an SMS up in sipgate's history; *sipgate.Client is the
// real one. (false, nil) means it is not listed now, which does not prove
// that it was not sent.
type History interface {
	FindSMS(ctx context.Context, recipient, text string, since time.Time) (bool, error)
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
	// Fit is how Text was fitted to its route's budget: what was cut or
	// transliterated, for a preview to show. Delivery does not read it.
	Fit sms.Result
	// Severity ranks the message, 0 most severe: when limits force a
	// choice, lower ranks go first, and a window's limit counts for it only
	// the sends at least as severe (see ledger.Take), so less severe ones
	// never hold it back.
	Severity int
	// Alerts is how many alerts the message tells of, for metrics.
	Alerts int
	// Firing and Resolved count the message's alerts by status, and Names
	// are its firing alerts' distinct alertnames: what a digest says of
	// the message if a limit holds it back. A message with neither count
	// set counts its Alerts as firing.
	Firing, Resolved int
	Names            []string
	// Paged are the alerts to remember once accepted: the firing ones as
	// paged, the resolved ones (Resolved set) as told so.
	Paged        []ledger.Firing
	BypassLimits bool
	// SendAt, when set, has sipgate send the SMS then, not at once: the
	// end of quiet hours with defer: send_at. Once sipgate took it, it
	// counts as delivered and its alerts as paged.
	SendAt time.Time
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
	// Location returns the time zone of the times in digests, asked at
	// each one so that a reload of time_zone applies to them as to the
	// SMS; nil is UTC.
	Location func() *time.Location
	// History settles sends of unknown outcome; nil (a dry run) cannot,
	// so such an SMS counts as not found.
	History History
	// SettleAfter is how long after a send of unknown outcome the history
	// is asked, so that sipgate has listed the SMS if it took it; zero
	// means 10s.
	SettleAfter time.Duration
	// ResendUnknown is how many times an SMS of unknown outcome that the
	// history does not show is sent again: 1, or 0 for at most once.
	ResendUnknown int
	// Breaker, shared by every send, keeps requests from reaching a sipgate
	// known to be down; nil calls sipgate every time.
	Breaker *breaker.Breaker
	// MinSendTime is the least time before the deadline a request to
	// sipgate is started with; zero means 250ms, negative none.
	MinSendTime time.Duration
	// Observe, when set, is told how each SMS and digest ended, once it
	// ended (see Event). It is called from the sending goroutines, so it
	// must be safe for concurrent use, and quick.
	Observe func(Event)
}

// Deliverer sends messages; safe for concurrent use.
type Deliverer struct {
	o Options
	// claims are the keys being sent right now, by any Deliver call, so
	// that a duplicate arriving meanwhile (from the other replica of an
	// HA pair, or twice in one batch) waits for the outcome, which the
	// ledger then shows, instead of sending a second SMS.
	claims keylock.Set[string]
	// unrecorded are the keys handled whose record failed.
	unrecorded *unrecorded
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
	switch {
	case o.MinSendTime == 0:
		o.MinSendTime = 250 * time.Millisecond
	case o.MinSendTime < 0:
		o.MinSendTime = 0
	}
	if o.Location == nil {
		o.Location = func() *time.Location { return time.UTC }
	}
	if o.SettleAfter <= 0 {
		o.SettleAfter = 10 * time.Second
	}
	o.ResendUnknown = max(o.ResendUnknown, 0)
	return &Deliverer{o: o, unrecorded: newUnrecorded()}
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
// limit (owed in a digest), failed permanently (logged and counted: a
// retry cannot fix it) or given up after an unknown outcome, and a
// *RetryableError otherwise: also when the outcome of a send is unknown,
// so that the notification comes again and settles it.
//
// The sends run concurrently, but each message takes its turn at the
// limits in severity order (see turns), and a message whose key another
// call is sending waits for that outcome (see Deliverer.claims).
func (d *Deliverer) Deliver(ctx context.Context, b Batch) error {
	msgs := slices.Clone(b.Messages)
	slices.SortStableFunc(msgs, func(x, y Message) int { return cmp.Compare(x.Severity, y.Severity) })
	log := d.o.Logger.With("notification", b.ID)
	turns := newTurns(len(msgs))
	errs := make([]error, len(msgs))
	sem := make(chan struct{}, d.o.Concurrency)
	var wg sync.WaitGroup
	// Also while a panic of the send made on this goroutine unwinds: no
	// send outlives the call.
	defer wg.Wait()
	for i, m := range msgs {
		// Started in severity order, so the turns a message waits for
		// belong to messages already running: the bound cannot starve one.
		sem <- struct{}{}
		send := func() {
			defer func() { <-sem }()
			turn := turns.wait(i)
			defer turn.pass()
			errs[i] = d.deliver(ctx, &b, m, turn, log)
		}
		if i == len(msgs)-1 {
			// The caller sends the last message itself instead of only
			// waiting: a notification of one SMS starts no goroutine,
			// whose stack would grow anew through every commit.
			send()
			break
		}
		wg.Go(send)
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
	d.observe(b.ID, m.Route, m.Contact, m.Number, outcome, err)
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
	case Unknown:
		log.Warn("sms of unknown outcome, sipgate may have taken it: not sent again now, asking for a retry to settle it", "err", err)
		return fmt.Errorf("send SMS to %s: %w", m.Contact, err)
	case GivenUp:
		log.Error("sms of unknown outcome neither found in sipgate's history nor sent again: counted as delivered, it may not have arrived", "err", err)
	}
	if d.unrecorded.has(m.Key) {
		// Handled, but not recorded: without the retry that this asks
		// for, nothing would write its record (the alerts paged, for
		// the resolved SMS) before a restart.
		return fmt.Errorf("record the sms to %s: %w", m.Contact, errUnrecorded)
	}
	return nil
}

// errUnrecorded: an SMS was handled but the ledger failed to record it. The
// notification's retry records it without sending it again.
var errUnrecorded = errors.New("handled, but the ledger failed to record it: held in memory until the retry")

// deliverOnce claims the message's key, then checks the ledger and either
// settles an earlier send of unknown outcome or sends the message.
//
// The turn comes before the claim: the caller holds the turn already, and
// whoever holds a claim waits for nothing but I/O from then on. So two
// calls that share keys in a different order cannot wait for each other:
// one waiting for a claim holds a turn, but a claim holder never waits for
// a turn.
func (d *Deliverer) deliverOnce(ctx context.Context, b *Batch, m Message, turn *turn, log *slog.Logger) (Outcome, error) {
	release, err := d.claims.Lock(ctx, m.Key)
	if err != nil {
		return FailedRetryable, fmt.Errorf("wait for a concurrent send of the same page: %w", err)
	}
	defer release()

	delivered, err := d.o.Ledger.Delivered(m.Key)
	switch {
	case delivered:
		if err != nil {
			log.Error("sms delivered before, but its record not renewed in the dedup window", "err", err)
		}
		return Deduplicated, nil
	case err != nil:
		return FailedRetryable, ledgerError{err}
	}
	mark, inDoubt, err := d.o.Ledger.Doubt(m.Key)
	if err != nil {
		return FailedRetryable, ledgerError{err}
	}
	if !inDoubt {
		// A record that failed matters while the mark it left lives.
		d.unrecorded.remove(m.Key)
		return d.sendFirst(ctx, b, m, turn, log)
	}
	if at, ok := d.unrecorded.unsentAt(m.Key); ok {
		// Certainly not sent here; only clearing its mark failed.
		if err := d.o.Ledger.Unsent(m.Key, m.Number, at); err != nil {
			return FailedRetryable, ledgerError{err}
		}
		d.unrecorded.remove(m.Key)
		return d.sendFirst(ctx, b, m, turn, log)
	}
	// Its first send counted against the limits: none of its turn.
	turn.pass()
	if d.unrecorded.has(m.Key) {
		// Handled here, its record failed: not a lost answer.
		d.record(m, true, log)
		return Deduplicated, nil
	}
	return d.settle(ctx, m, mark, log)
}

// sendFirst counts the message against the limits, marking it in doubt in
// the same write, which ends its turn, and sends it. The mark stays when
// the outcome is unknown, for the notification's retry to settle; it goes
// with the result otherwise.
func (d *Deliverer) sendFirst(ctx context.Context, b *Batch, m Message, turn *turn, log *slog.Logger) (Outcome, error) {
	now := d.o.Clock.Now()
	mark := ledger.Doubt{Number: m.Number, Text: m.Text, Since: now, Last: now, SendAt: m.SendAt}
	// The turn passes once the take is queued: the next message's take
	// is decided after this one all the same (unless this one's write
	// fails, which fails the message), and shares its commit rather than
	// waiting for it.
	at, allowed, err := d.o.Ledger.TakeDoubt(m.Key, mark, m.Severity, b.Limits.PerRecipient, b.Limits.Budget, m.BypassLimits, turn.pass)
	turn.pass()
	if err != nil {
		return FailedRetryable, ledgerError{err}
	}
	if !allowed {
		// Owed in a digest, and handled in the same write: a retry of the
		// notification must not count it twice. Not paged, though:
		// send_resolved: if_paged owes no resolved SMS.
		if err := d.o.Ledger.RecordSuppressed(m.Key, m.Number, held(m, b.ExternalURL)); err != nil {
			return FailedRetryable, ledgerError{err}
		}
		return Suppressed, nil
	}
	err = d.sendAt(ctx, m.Number, m.Text, m.SendAt, log)
	// Only a send that certainly did not go out is refunded.
	return d.afterSend(m, mark, err, func() { d.unsent(m.Key, m.Number, at, log) }, log)
}

// afterSend updates the ledger for err, the result of a send of m made
// under the in-doubt mark mark. When sipgate took it, m is recorded as
// delivered. When it may have gone out, mark stays, its grace period
// before the history is asked running from now, when the answer was given
// up. When it certainly did not go out, notSent undoes what the send took.
// The first send and a resend differ only in that.
func (d *Deliverer) afterSend(m Message, mark ledger.Doubt, err error, notSent func(), log *slog.Logger) (Outcome, error) {
	switch {
	case err == nil:
		d.record(m, true, log)
		return Accepted, nil
	case unknown(err):
		mark.Last = d.o.Clock.Now()
		d.markDoubt(m.Key, mark, log)
		return Unknown, err
	default:
		notSent()
		return failure(err), err
	}
}

// record notes a handled message in the ledger, and its alerts as paged
// when it was sent, in one write. Failing that is logged, not returned:
// the message was handled. Its key is held in memory then (unrecorded),
// so that the notification's next copy, which deliver asks for, writes
// the record again instead of settling the message from sipgate's
// history.
func (d *Deliverer) record(m Message, paged bool, log *slog.Logger) {
	var alerts []ledger.Firing
	if paged {
		alerts = m.Paged
	}
	if err := d.o.Ledger.RecordPagedTo(m.Key, ledger.PagedRecipient{Number: m.Number, Contact: m.Contact, Route: m.Route}, alerts); err != nil {
		d.unrecorded.add(m.Key)
		log.Error("sms handled but not recorded in the ledger, nor its alerts as paged: held in memory, and recorded when its notification comes again", "err", err)
		return
	}
	d.unrecorded.remove(m.Key)
}

// unsent clears the in-doubt mark of a send that certainly did not go out
// and gives it back to the limits. Failing that leaves the mark and the
// count, logged, not returned: the key is held in memory (unrecorded), so
// that the notification's retry clears them again and sends, instead of
// taking the mark for a lost answer.
func (d *Deliverer) unsent(key, number string, at time.Time, log *slog.Logger) {
	if err := d.o.Ledger.Unsent(key, number, at); err != nil {
		d.unrecorded.addUnsent(key, at)
		log.Error("clear the in-doubt mark of an sms not sent, and refund it: held in memory, and cleared when its notification comes again", "err", err)
		return
	}
	d.unrecorded.remove(key)
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
