package delivery

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
)

// summary is an SMS that sums up what the ledger holds: the one sent when
// quiet hours end (SendHeld), or a digest (SendDigests). Nothing comes
// again to settle one whose answer was lost, as a notification's retry
// does: its in-doubt mark lives in the ledger beside what it sums up, and
// the next periodic call settles it as settle does a notification's SMS:
// from sipgate's history, else by a resend, else given up and counted as
// sent. What the ledger calls differ in, the summary carries.
type summary struct {
	// what names it in log messages, route in labels and Events.
	what, route string
	// key names it in memory, for one that sipgate took but whose
	// release the ledger failed to write (see unrecorded).
	key             string
	number, contact string
	// text is what a first send says; a resend says its mark's.
	text string
	// doubt is the mark of an earlier send whose outcome is unknown.
	doubt *ledger.Doubt
	// sent counts its sends by outcome.
	sent *prometheus.CounterVec
	// attrs say what it tells, for the logs.
	attrs []any
	// take counts it against the limits and writes mark, when they allow
	// it; remark replaces the mark; unsent clears it and gives back the
	// send taken at at; release forgets what it told of and its mark,
	// noting its alerts as paged when sent (else it was dropped).
	take    func(mark ledger.Doubt) (at time.Time, allowed bool, err error)
	remark  func(mark ledger.Doubt) error
	unsent  func(at time.Time) error
	release func(sent bool) error
}

// sendSummary sends s once the limits allow it, or settles its earlier
// send of unknown outcome, each with timeout. It returns only what the
// ledger failed to do; how the send ended is logged and counted.
func (d *Deliverer) sendSummary(ctx context.Context, timeout time.Duration, s summary) error {
	log := d.o.Logger.With("route", s.route, "contact", s.contact, "number", phone.Mask(s.number))
	if s.doubt != nil {
		return d.settleSummary(ctx, timeout, s, log)
	}
	now := d.o.Clock.Now()
	mark := ledger.Doubt{Number: s.number, Text: s.text, Since: now, Last: now}
	at, allowed, err := s.take(mark)
	switch {
	case errors.Is(err, ledger.ErrHeldChanged), errors.Is(err, ledger.ErrDigestChanged):
		log.Debug(s.what+" changed while it was composed: composed again at the next check", "err", err)
		return nil
	case err != nil:
		return err
	case !allowed:
		log.Debug(s.what+" waits for the limits to allow it", s.attrs...)
		return nil
	}
	sendCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = d.send(sendCtx, s.number, s.text, log)
	outcome := Accepted
	switch {
	case err == nil:
	case unknown(err):
		// It may have gone out: no refund, and the mark stays.
		outcome = Unknown
		mark.Last = d.o.Clock.Now()
		d.remark(s, mark, log)
	default:
		outcome = failure(err)
		if err := s.unsent(at); err != nil {
			// The mark stays; the next call clears it again first.
			d.unrecorded.addUnsent(s.key, at)
			log.Error("clear the in-doubt mark of a "+s.what+" not sent, and refund it: held in memory, and cleared at the next check", "err", err)
		}
	}
	return d.summarySent(s, outcome, err, log)
}

// settleSummary decides what became of s's earlier send of unknown
// outcome, once the grace period after it has passed: found in sipgate's
// history, it counts as sent; not found, or the history unreadable, it is
// sent again if fewer than ResendUnknown resends may have gone out, else
// given up and counted as sent, as it well may be.
func (d *Deliverer) settleSummary(ctx context.Context, timeout time.Duration, s summary, log *slog.Logger) error {
	mark := *s.doubt
	log = log.With("unknown_since", mark.Since, "resends", mark.Resends)
	if d.unrecorded.has(s.key) {
		// sipgate took it here, and only its release failed.
		return d.releaseSummary(s, true, log)
	}
	if at, ok := d.unrecorded.unsentAt(s.key); ok {
		// Certainly not sent here; only clearing its mark failed.
		if err := s.unsent(at); err != nil {
			return err
		}
		d.unrecorded.remove(s.key)
		s.doubt = nil
		return d.sendSummary(ctx, timeout, s)
	}
	if d.o.Clock.Now().Before(mark.Last.Add(d.o.SettleAfter)) {
		return nil // sipgate may not list it yet: the next call asks
	}
	lookCtx, cancel := context.WithTimeout(ctx, timeout)
	found, err := d.lookUp(lookCtx, mark)
	cancel()
	switch {
	case found:
		d.o.Metrics.UnknownOutcomes.WithLabelValues(settledFound).Inc()
		log.Info(s.what + " of unknown outcome found in sipgate's history: counted as sent")
		d.count(s, Accepted, nil)
		return d.releaseSummary(s, true, log)
	case mark.Resends >= d.o.ResendUnknown && d.waitsForHistory(mark, err):
		log.Warn(s.what+" of unknown outcome not settled: no resend is left, and sipgate's history cannot be read for now; asked again at the next check", "err", err)
		return nil
	case mark.Resends >= d.o.ResendUnknown:
		return d.giveUp(s, err, log)
	}
	log.Warn(s.what+" of unknown outcome not found in sipgate's history: sending it again", "err", err)
	// The mark counts the resend before it goes out, so that a crash
	// during it cannot allow another.
	again := mark
	again.Resends++
	again.Last = d.o.Clock.Now()
	if err := s.remark(again); err != nil {
		return err
	}
	sendCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = d.send(sendCtx, s.number, mark.Text, log)
	if err == nil || unknown(err) {
		d.o.Metrics.UnknownOutcomes.WithLabelValues(settledResent).Inc()
	}
	switch {
	case err == nil:
		return d.summarySent(s, Accepted, nil, log)
	case unknown(err):
		again.Last = d.o.Clock.Now()
		d.remark(s, again, log)
		return d.summarySent(s, Unknown, err, log)
	case permanent(err):
		// The first send may have gone out: given up, not dropped.
		return d.giveUp(s, err, log)
	}
	// Certainly not sent again: the resend's count is given back.
	d.remark(s, mark, log)
	return d.summarySent(s, FailedRetryable, err, log)
}

// giveUp ends s's send of unknown outcome that is neither found nor to be
// sent again: counted as sent, so that its alerts are told as paged, and
// as given up, so that the status page and the metrics tell it apart.
func (d *Deliverer) giveUp(s summary, err error, log *slog.Logger) error {
	d.o.Metrics.UnknownOutcomes.WithLabelValues(settledGivenUp).Inc()
	d.count(s, GivenUp, err)
	log.Error(s.what+" of unknown outcome neither found in sipgate's history nor sent again: counted as sent, it may not have arrived", "err", err)
	return d.releaseSummary(s, true, log)
}

// summarySent counts, logs and records how a send of s ended.
func (d *Deliverer) summarySent(s summary, outcome Outcome, err error, log *slog.Logger) error {
	d.count(s, outcome, err)
	switch outcome {
	case Accepted:
		log.Info(s.what+" sent", s.attrs...)
		return d.releaseSummary(s, true, log)
	case Unknown:
		log.Warn(s.what+" of unknown outcome, sipgate may have taken it: settled at the next check, from sipgate's history", append(s.attrs, "err", err)...)
	case FailedPermanent:
		log.Error(s.what+" not sent, a retry cannot help: dropped", append(s.attrs, "reason", reason(err), "err", err)...)
		return d.releaseSummary(s, false, log)
	default:
		log.Warn(s.what+" not sent, will try again", append(s.attrs, "reason", reason(err), "err", err)...)
	}
	return nil
}

// count counts how a send of s ended, or how its unknown outcome was
// settled, and tells Options.Observe.
func (d *Deliverer) count(s summary, outcome Outcome, err error) {
	s.sent.WithLabelValues(outcome.String()).Inc()
	d.observe("", s.route, s.contact, s.number, outcome, err)
}

// releaseSummary releases s. When that fails for one sipgate took, its
// key is held in memory, so that the next call releases it instead of
// taking its mark for a lost answer (after a restart, it is settled as
// one).
func (d *Deliverer) releaseSummary(s summary, sent bool, log *slog.Logger) error {
	if err := s.release(sent); err != nil {
		if sent {
			d.unrecorded.add(s.key)
		}
		return err
	}
	d.unrecorded.remove(s.key)
	return nil
}

// remark replaces s's in-doubt mark. Failing that leaves the mark as it
// was: logged, not returned, since the send's outcome is what matters.
func (d *Deliverer) remark(s summary, mark ledger.Doubt, log *slog.Logger) {
	if err := s.remark(mark); err != nil {
		log.Error("update the in-doubt mark of a "+s.what, "err", err)
	}
}
