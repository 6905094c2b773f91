package delivery

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sms"
)

// SendDigests sends each recipient whose limits allow it again one SMS
// that says how many alerts were suppressed since when. It is called
// periodically with timeout for each digest; a digest that fails in a way a
// retry may fix stays owed for the next call. A digest of unknown outcome
// counts as sent: it only sums up what a limit held back, and sending it
// again at every call while sipgate's answers are lost would be the very
// flood the limit is for.
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
	log := d.o.Logger.With("route", "digest", "contact", s.Contact, "number", phone.Mask(number))
	at, allowed, err := d.o.Ledger.Take(number, limits.PerRecipient, limits.Budget, false)
	if err != nil || !allowed {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fit := sms.Fit(d.digestText(s), sms.Budget{MaxSegments: 1, GSM7Only: true})
	outcome := Accepted
	err = d.send(ctx, number, fit.Text, log)
	switch {
	case err == nil:
	case unknown(err):
		outcome = Unknown // it may have gone out: no refund
	default:
		d.refund(number, at, log)
		outcome = failure(err)
	}
	d.o.Metrics.Digests.WithLabelValues(outcome.String()).Inc()
	switch outcome {
	case Accepted:
		log.Info("digest sent", "alerts", s.Alerts, "since", s.Since)
	case Unknown:
		log.Warn("digest of unknown outcome, sipgate may have taken it: counted as sent, not sent again", "alerts", s.Alerts, "err", err)
	case FailedPermanent:
		log.Error("digest not sent, a retry cannot help: dropped", "alerts", s.Alerts, "reason", reason(err), "err", err)
	default:
		log.Warn("digest not sent, will try again", "reason", reason(err), "err", err)
		return nil
	}
	return d.o.Ledger.Digested(number, s)
}

// digestText is the SMS a recipient gets once a limit lets them have one
// again: "12 more alerts suppressed since 03:12, see http://am:9093".
func (d *Deliverer) digestText(s ledger.Suppressed) string {
	since := s.Since.In(d.o.Location)
	now := d.o.Clock.Now().In(d.o.Location)
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
