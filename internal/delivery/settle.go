package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
)

// A send of unknown outcome (sipgate got the whole request, then no answer
// came, or the process died during the send) is settled when its key comes
// again: by Alertmanager's retry, the other replica of an HA pair, or after
// a restart. The in-doubt mark in the ledger carries it across. A held SMS
// or digest is settled the same way by the next periodic check (see
// summary).
//
// Values of the "result" label of sms_unknown_outcome_total: how a send of
// unknown outcome was settled.
const (
	settledFound   = "found_in_history" // sipgate's history lists it: delivered
	settledResent  = "resent"           // sent again, and that may have gone out
	settledGivenUp = "given_up"         // not found, no resend allowed: counted as delivered
)

var (
	// errNotSettled: the outcome cannot be settled in this call (the grace
	// period ends after its deadline, or its context ended); the
	// notification must come again.
	errNotSettled = errors.New("the outcome of an earlier send is not settled yet")
	errNotFound   = errors.New("sipgate's history does not list it")
	errNoHistory  = errors.New("no history to look it up in")
)

// settle decides what became of a message whose earlier send has an
// unknown outcome, before anything is sent again. Once the grace period
// after that send has passed, sipgate's history is asked: when it lists
// the SMS, the SMS counts as delivered. When it does not or cannot tell,
// the SMS is sent again if fewer than ResendUnknown resends may have gone
// out already; else it is given up and counts as delivered, as it well may
// be. Nothing here counts against the limits again: the first send did.
func (d *Deliverer) settle(ctx context.Context, m Message, mark ledger.Doubt, log *slog.Logger) (Outcome, error) {
	log = log.With("unknown_since", mark.Since, "resends", mark.Resends)
	found, err := d.lookUp(ctx, mark)
	switch {
	case found:
		d.o.Metrics.UnknownOutcomes.WithLabelValues(settledFound).Inc()
		log.Info("sms of unknown outcome found in sipgate's history: counted as delivered")
		d.record(m, true, log)
		return Accepted, nil
	case errors.Is(err, errNotSettled) && (d.o.Clock.Now().Sub(mark.Last) < maxHistoryWait || d.o.Clock.Now().Before(mark.Last.Add(d.o.SettleAfter))):
		// Past the hour, a history that could not answer in time
		// settles it no more, once the grace period has passed.
		return Unknown, err
	case mark.Resends >= d.o.ResendUnknown && d.waitsForHistory(mark, err):
		return Unknown, fmt.Errorf("%w: no resend is left, and the history cannot be read for now: %w", errNotSettled, err)
	case mark.Resends >= d.o.ResendUnknown:
		d.o.Metrics.UnknownOutcomes.WithLabelValues(settledGivenUp).Inc()
		d.record(m, true, log)
		return GivenUp, err
	}
	log.Warn("sms of unknown outcome not found in sipgate's history: sending it again", "err", err)
	return d.resend(ctx, m, mark, log)
}

// maxHistoryWait bounds how long an outcome that no resend may settle
// waits for sipgate's history, from its last send: long enough for an
// outage of sipgate and its history together, short enough that a
// history broken alone neither keeps a notification failing nor holds up
// the digests to its number for long.
const maxHistoryWait = time.Hour

// waitsForHistory reports whether an outcome that no resend may settle
// waits for the history rather than being given up: when err, lookUp's,
// says that the history could not be read for now (sipgate or a gateway
// before it in trouble: an error that says it is temporary), and the last
// send is less than maxHistoryWait ago. Given up at once, the page was
// lost whenever an outage outlasted the resend. A history that does not
// list the SMS, cannot list it (too many newer SMS), or is not to be read
// at all (none, a token without its scope) is no reason to wait.
func (d *Deliverer) waitsForHistory(mark ledger.Doubt, err error) bool {
	var t temporaryError
	return errors.As(err, &t) && t.Temporary() && d.o.Clock.Now().Sub(mark.Last) < maxHistoryWait
}

// lookUp asks sipgate's history for the SMS of mark once the grace period
// after its latest send has passed. It returns an error wrapping
// errNotSettled when the history must be asked later, and otherwise
// whether the SMS was found or why not.
func (d *Deliverer) lookUp(ctx context.Context, mark ledger.Doubt) (bool, error) {
	if d.o.History == nil {
		return false, errNoHistory
	}
	if err := d.waitGrace(ctx, mark.Last); err != nil {
		return false, err
	}
	// The lookup leaves the time a resend needs: a history that hangs must
	// not take all of it, or no resend could ever follow. With less than
	// twice that left, no resend could follow anyway: it takes all.
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) > 2*d.resendReserve() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-d.resendReserve()))
		defer cancel()
	}
	found, err := d.o.History.FindSMS(ctx, mark.Number, mark.Text, mark.Since)
	switch {
	case found:
		return true, nil
	case ctx.Err() != nil:
		return false, fmt.Errorf("%w: look it up in sipgate's history: %w", errNotSettled, ctx.Err())
	case err != nil:
		return false, fmt.Errorf("look it up in sipgate's history: %w", err)
	}
	return false, errNotFound
}

// waitGrace waits until SettleAfter has passed since last, so that sipgate
// lists the SMS in its history if it took it. It does not start a wait
// that would outlast the context's deadline: it returns errNotSettled at
// once, and the notification's retry finds the wait shorter.
func (d *Deliverer) waitGrace(ctx context.Context, last time.Time) error {
	wait := last.Add(d.o.SettleAfter).Sub(d.o.Clock.Now())
	if wait <= 0 {
		return nil
	}
	// The deadline is on the system clock, not d.o.Clock: see send. A
	// wait that would leave the lookup after it no more than the resend's
	// time is not begun either: it would be spent for nothing.
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait+2*d.resendReserve() {
		return fmt.Errorf("%w: its grace period ends in %s, too near this request's deadline", errNotSettled, wait.Round(time.Millisecond))
	}
	select {
	case <-d.o.Clock.After(wait):
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", errNotSettled, ctx.Err())
	}
}

// resendReserve is the time a lookup leaves before the deadline for the
// resend that may follow it: twice the least a send starts with, as the
// resend's mark is written first.
func (d *Deliverer) resendReserve() time.Duration {
	return 2 * max(d.o.MinSendTime, 0)
}

// resend sends the SMS of mark again. The mark counts the resend before it
// goes out, so that a crash during it cannot allow another, and gives it
// back when it certainly did not go out. A resend of unknown outcome is
// settled like the first send, but never resent. One the deadline leaves
// no time for is not counted at all: giving the count back is a write
// that may fail, and a resend counted but never made is one given up.
func (d *Deliverer) resend(ctx context.Context, m Message, mark ledger.Doubt, log *slog.Logger) (Outcome, error) {
	if err := d.timeToSend(ctx); err != nil {
		return FailedRetryable, err
	}
	again := mark
	again.Resends++
	again.Last = d.o.Clock.Now()
	if err := d.o.Ledger.MarkDoubt(m.Key, again); err != nil {
		return FailedRetryable, ledgerError{err}
	}
	err := d.sendAt(ctx, mark.Number, mark.Text, m.SendAt, log)
	if err == nil || unknown(err) {
		d.o.Metrics.UnknownOutcomes.WithLabelValues(settledResent).Inc()
	}
	// A resend that certainly did not go out gives its count back.
	return d.afterSend(m, again, err, func() { d.markDoubt(m.Key, mark, log) }, log)
}

// markDoubt updates key's in-doubt mark. Failing that leaves the mark as
// it was: logged, not returned, since the send's outcome is what the
// caller must hear.
func (d *Deliverer) markDoubt(key string, mark ledger.Doubt, log *slog.Logger) {
	if err := d.o.Ledger.MarkDoubt(key, mark); err != nil {
		log.Error("update the in-doubt mark of an sms", "err", err)
	}
}
