package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate"
)

// send calls the sender, retrying temporary failures with exponential
// backoff and jitter, honouring Retry-After, and giving up early when the
// next wait would pass the context's deadline. A failure of unknown outcome
// is never retried here: the SMS may have gone out, and only the caller
// can settle that.
func (d *Deliverer) send(ctx context.Context, number, text string, log *slog.Logger) error {
	return d.sendAt(ctx, number, text, time.Time{}, log)
}

// sendAt is send with sipgate asked to send the SMS at the instant at,
// or at once when at is zero or has passed: what sipgate does with a
// sendAt in the past is not documented.
func (d *Deliverer) sendAt(ctx context.Context, number, text string, at time.Time, log *slog.Logger) error {
	sms := sipgate.SMS{Recipient: number, Message: text}
	if at.After(d.o.Clock.Now()) {
		sms.SendAt = at
	}
	for attempt := 0; ; attempt++ {
		if err := d.timeToSend(ctx); err != nil {
			return err
		}
		refused, err := d.attempt(ctx, sms)
		if err == nil || permanent(err) || unknown(err) || ctx.Err() != nil {
			return err
		}
		wait := max(d.backoff(attempt), retryAfter(err))
		if refused {
			// The breaker knows when its next probe may go: waiting longer
			// would only delay the page once sipgate is back.
			wait = retryAfter(err)
		}
		// The deadline is on the system clock, not d.o.Clock: contexts
		// know no other.
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait+d.o.MinSendTime {
			return fmt.Errorf("%w (no time left for a retry in %s)", err, wait.Round(time.Millisecond))
		}
		if !refused {
			d.o.Metrics.Retries.WithLabelValues(code(err)).Inc()
		}
		log.Debug("retrying sms", "attempt", attempt+1, "wait", wait, "err", err)
		select {
		case <-d.o.Clock.After(wait):
		case <-ctx.Done():
			return err
		}
	}
}

// errNoTimeToSend is a send not started because the deadline was too
// near: certainly not sent, and worth a retry of the notification.
var errNoTimeToSend = errors.New("no time left to send the SMS")

// timeToSend returns an error wrapping errNoTimeToSend when ctx's deadline
// is less than MinSendTime away: a request that the deadline would cut
// off after it went out leaves an SMS of unknown outcome, which uses up
// its one resend, so it is better not started.
func (d *Deliverer) timeToSend(ctx context.Context) error {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d.o.MinSendTime {
		return fmt.Errorf("%w: %s left before the deadline", errNoTimeToSend, time.Until(deadline).Round(time.Millisecond))
	}
	return nil
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

// attempt sends once, unless the breaker says sipgate is known to be in
// trouble: then it returns the breaker's refusal, which is temporary and
// says when to try again, without calling sipgate. What sipgate answers is
// reported to the breaker, so that every send learns from it.
func (d *Deliverer) attempt(ctx context.Context, sms sipgate.SMS) (refused bool, err error) {
	if d.o.Breaker == nil {
		return false, d.o.Sender.SendSMS(ctx, sms)
	}
	ticket, err := d.o.Breaker.Allow()
	if err != nil {
		return true, err
	}
	err = d.o.Sender.SendSMS(ctx, sms)
	ticket.Report(err)
	return false, err
}
