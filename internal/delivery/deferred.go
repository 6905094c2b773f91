package delivery

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
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
// fails in a way a retry may fix, stays held for the next call. One of
// unknown outcome is settled by the next call once sipgate would list it
// (see summary); until then, a resolved alert it told of is neither
// cancelled nor told (ledger.ErrHeldInDoubt). Once sent, its firing
// alerts count as paged: their resolved alerts and repeats go to the
// recipient as after any page.
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
		// Not cut off by ctx (see SendDigests): its own timeout bounds it.
		if err := d.sendSummary(context.WithoutCancel(ctx), timeout, d.heldSMS(h, limits)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// heldSMS is the summary that sends h.
func (d *Deliverer) heldSMS(h ledger.HeldSMS, limits Limits) summary {
	sum := summarize(h)
	l := d.o.Ledger
	return summary{
		what: "held sms", route: HeldRoute,
		key:    "held\x00" + h.Number + "\x00" + h.Until.UTC().Format(time.RFC3339Nano),
		number: h.Number, contact: sum.s.Contact,
		text:  d.summaryText(heldLead, sum.s),
		doubt: h.Doubt,
		sent:  d.o.Metrics.HeldSent,
		attrs: []any{"firing", sum.s.Alerts, "resolved", sum.s.Resolved, "since", sum.s.Since, "until", h.Until},
		take: func(mark ledger.Doubt) (time.Time, bool, error) {
			return l.TakeHeld(h, mark, sum.rank, limits.PerRecipient, limits.Budget, sum.bypass)
		},
		remark:  func(mark ledger.Doubt) error { return l.MarkHeldDoubt(h, mark) },
		unsent:  func(at time.Time) error { return l.HeldUnsent(h, at) },
		release: func(sent bool) error { return l.ReleaseHeld(h, sent) },
	}
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
// ledger.MaxNames, the others counted), the resolved alerts counted apart,
// since the first was held, with the contact and Alertmanager of the
// latest.
func summarize(h ledger.HeldSMS) heldSummary {
	alerts := slices.Clone(h.Alerts)
	slices.SortStableFunc(alerts, func(a, b ledger.HeldAlert) int { return a.At.Compare(b.At) })
	sum := heldSummary{rank: ledger.MaxRank}
	more := map[string]bool{}
	// Two groups may each hold a RESOLVED of one alert, of two firings
	// when one group did not see it fire again: it resolved once.
	resolved := map[string]bool{}
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
			alert := a.Alert
			if alert == "" { // held before the alert was kept
				alert = a.ID
			}
			if !resolved[alert] {
				resolved[alert] = true
				sum.s.Resolved++
			}
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
