package delivery

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
)

// HeldRoute is the route of the SMS sent at the end of quiet hours, in
// logs, metrics and Events: it may tell of alerts of several routes.
const HeldRoute = "quiet_hours"

// heldLead begins the SMS sent at the end of quiet hours.
const heldLead = "Held for quiet hours since "

// SendHeld sends each recipient whose quiet hours ended one SMS about the
// alerts they held that still fire, and those that resolved after their
// firing SMS reached the recipient, once the limits allow it:
//
//	Held for quiet hours since 22:14 CET: 3 firing (DiskFull, HighCPU). http://am:9093
//
// It is called periodically with timeout for each SMS, and tells the time
// by the Deliverer's Clock. An SMS the limits do not allow yet, or that
// fails in a way a retry may fix, stays held for the next call. It is sent
// under an in-doubt mark, as a webhook's SMS is: one of unknown outcome
// stays held, and a later call settles it from sipgate's history, sending
// it again at most ResendUnknown times; one that sipgate took is recorded
// before it is released, so that neither a crash in between nor a failed
// release sends it twice. Once sent, its firing alerts count as paged:
// their resolved alerts and repeats go to the recipient as after any page.
func (d *Deliverer) SendHeld(ctx context.Context, timeout time.Duration, limits Limits) error {
	due, err := d.o.Ledger.DueHeld(d.o.Clock.Now())
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range due {
		if ctx.Err() != nil {
			break
		}
		if err := d.sendHeld(ctx, timeout, limits, h); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (d *Deliverer) sendHeld(ctx context.Context, timeout time.Duration, limits Limits, h ledger.HeldSMS) error {
	sum := summarize(h)
	log := d.o.Logger.With("route", HeldRoute, "contact", sum.s.Contact, "number", phone.Mask(h.Number))
	m := Message{
		Key:   "held/" + h.Number + "/" + strconv.FormatInt(h.Until.UnixNano(), 10),
		Route: HeldRoute, Contact: sum.s.Contact, Number: h.Number,
		Text: d.summaryText(heldLead, sum.s),
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	outcome, err := d.sendSummaryOnce(ctx, limits, m, sum.rank, sum.bypass, log)
	if errors.Is(err, errNotAllowed) {
		log.Debug("held sms waits for the limits to allow it", "firing", sum.s.Alerts, "resolved", sum.s.Resolved)
		return nil
	}
	d.o.Metrics.HeldSent.WithLabelValues(outcome.String()).Inc()
	d.observe("", HeldRoute, sum.s.Contact, h.Number, outcome, err)
	attrs := []any{"firing", sum.s.Alerts, "resolved", sum.s.Resolved, "since", sum.s.Since, "until", h.Until}
	switch outcome {
	case Accepted:
		log.Info("held sms sent: quiet hours ended", attrs...)
	case Deduplicated:
		log.Info("held sms sent before, released now", attrs...)
	case GivenUp:
		log.Error("held sms of unknown outcome neither found in sipgate's history nor sent again: counted as sent, it may not have arrived", append(attrs, "err", err)...)
	case Unknown:
		log.Warn("held sms of unknown outcome, sipgate may have taken it: kept, to be settled from sipgate's history", append(attrs, "err", err)...)
		return nil
	case FailedPermanent:
		log.Error("held sms not sent, a retry cannot help: dropped", append(attrs, "reason", reason(err), "err", err)...)
		return d.o.Ledger.ReleaseHeld(h, false)
	default:
		log.Warn("held sms not sent, will try again", append(attrs, "reason", reason(err), "err", err)...)
		return nil
	}
	return d.o.Ledger.ReleaseHeld(h, true)
}

// heldSummary is what the SMS of a held SMS says, and how it counts
// against the limits: as its most severe alert, and not at all when one
// of its alerts came by a route that bypasses them.
type heldSummary struct {
	s      ledger.Suppressed
	rank   int
	bypass bool
}

// summarize sums h up as a digest would: the firing alerts counted, with
// their distinct names in the order they were held (at most
// ledger.MaxNames, the others counted), the resolved ones counted apart,
// since the first was held, with the contact and Alertmanager of the
// latest.
func summarize(h ledger.HeldSMS) heldSummary {
	alerts := slices.Clone(h.Alerts)
	slices.SortStableFunc(alerts, func(a, b ledger.HeldAlert) int { return a.At.Compare(b.At) })
	sum := heldSummary{rank: ledger.MaxRank}
	more := map[string]bool{}
	for _, a := range alerts {
		if sum.s.Since.IsZero() || a.At.Before(sum.s.Since) {
			sum.s.Since = a.At
		}
		if a.URL != "" {
			sum.s.URL = a.URL
		}
		if a.Contact != "" {
			sum.s.Contact = a.Contact
		}
		sum.rank = min(sum.rank, a.Rank)
		sum.bypass = sum.bypass || a.BypassLimits
		if a.Resolved {
			sum.s.Resolved++
			continue
		}
		sum.s.Alerts++
		switch {
		case a.Name == "" || slices.Contains(sum.s.Names, a.Name):
		case len(sum.s.Names) < ledger.MaxNames:
			sum.s.Names = append(sum.s.Names, a.Name)
		default:
			more[a.Name] = true
		}
	}
	sum.s.MoreNames = len(more)
	return sum
}
