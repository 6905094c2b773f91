package delivery

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sms"
)

// SendDigests sends each recipient whose limits allow it again one SMS
// that says how many alerts were suppressed since when. It is called
// periodically with timeout for each digest; a digest that fails in a way a
// retry may fix stays owed for the next call. A digest is sent under an
// in-doubt mark that holds what it tells, as a webhook's SMS is: one of
// unknown outcome stays owed and is settled at a later call from sipgate's
// history, sent at most ResendUnknown times more, which cannot become the
// flood the limits are for; one that sipgate took is noted sent and taken
// off what is owed in one write, so neither a crash nor a failed write
// sends it twice.
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
	m := Message{
		// What is owed since s.Since: a digest sent takes it off, and
		// what is suppressed later is owed since then.
		Key:   "digest/" + number + "/" + strconv.FormatInt(s.Since.UnixNano(), 10),
		Route: "digest", Contact: s.Contact, Number: number,
		Text: d.digestText(s), digest: &s,
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	outcome, err := d.sendSummaryOnce(ctx, limits, m, ledger.MaxRank, false, log)
	if errors.Is(err, errNotAllowed) {
		return nil
	}
	d.o.Metrics.Digests.WithLabelValues(outcome.String()).Inc()
	d.observe("", "digest", s.Contact, number, outcome, err)
	switch outcome {
	case Accepted:
		log.Info("digest sent", "firing", s.Alerts, "resolved", s.Resolved, "since", s.Since)
	case Deduplicated:
		log.Info("digest sent before, noted now", "since", s.Since)
	case GivenUp:
		log.Error("digest of unknown outcome neither found in sipgate's history nor sent again: counted as sent, it may not have arrived", "since", s.Since, "err", err)
	case Unknown:
		log.Warn("digest of unknown outcome, sipgate may have taken it: still owed, to be settled from sipgate's history", "firing", s.Alerts, "resolved", s.Resolved, "err", err)
	case FailedPermanent:
		log.Error("digest not sent, a retry cannot help: dropped", "firing", s.Alerts, "resolved", s.Resolved, "reason", reason(err), "err", err)
		return d.o.Ledger.Digested(number, s)
	default:
		log.Warn("digest not sent, will try again", "reason", reason(err), "err", err)
	}
	return nil
}

// sendSummaryOnce sends m, an SMS that sums up what was held back (a
// digest, the SMS at the end of quiet hours), or settles an earlier send
// of it, as deliverOnce does a webhook's SMS: an earlier send is settled
// with the text, and for a digest what it covered, that its in-doubt mark
// keeps, so that what was held back since is told by the next one. It
// returns errNotAllowed when the limits allow no send of rank yet.
func (d *Deliverer) sendSummaryOnce(ctx context.Context, limits Limits, m Message, rank int, bypass bool, log *slog.Logger) (Outcome, error) {
	mark, inDoubt, err := d.o.Ledger.Doubt(m.Key)
	if err != nil {
		return FailedRetryable, ledgerError{err}
	}
	if inDoubt {
		m.Text = mark.Text
		if mark.Covered != nil {
			m.digest = mark.Covered
		}
		if d.unrecorded.has(m.Key) {
			d.record(m, true, log)
			return Deduplicated, nil
		}
		return d.settle(ctx, m, mark, log)
	}
	if delivered, err := d.o.Ledger.Delivered(m.Key); err != nil {
		return FailedRetryable, ledgerError{err}
	} else if delivered {
		return Deduplicated, nil
	}
	now := d.o.Clock.Now()
	mark = ledger.Doubt{Number: m.Number, Text: m.Text, Since: now, Last: now, Covered: m.digest}
	at, allowed, err := d.o.Ledger.TakeDoubt(m.Key, mark, rank, limits.PerRecipient, limits.Budget, bypass)
	if err != nil {
		return FailedRetryable, ledgerError{err}
	}
	if !allowed {
		return FailedRetryable, errNotAllowed
	}
	err = d.send(ctx, m.Number, m.Text, log)
	return d.afterSend(m, mark, err, func() { d.unsent(m.Key, m.Number, at, log) }, log)
}

// errNotAllowed: the limits allow no send of a summary yet.
var errNotAllowed = errors.New("the limits allow no send yet")

// digestBudget is one GSM-7 segment: a digest sums up a flood, it must
// not cost like one, nor go UCS-2 and lose half its room to a name.
var digestBudget = sms.Budget{MaxSegments: 1, GSM7Only: true}

// digestText is the SMS a recipient gets once a limit lets them have one
// again, fitted to digestBudget:
//
//	Held back since 12:21 UTC: 2 firing (HighCPU, TargetDown), 1 resolved. http://am:9093
func (d *Deliverer) digestText(s ledger.Suppressed) string {
	return d.summaryText("Held back since ", s)
}

// summaryText is an SMS that sums up alerts held back since s.Since, the
// digest's and the one at the end of quiet hours, fitted to digestBudget,
// lead its first words. The time is in the configured zone, named, and has
// its date when it is not today. The names are what gives way to fit: the
// last ones first, counted in "+N more", down to none; a name that would
// lose characters to '?' in GSM-7 is only counted. The counts, the time
// and the link stay.
func (d *Deliverer) summaryText(lead string, s ledger.Suppressed) string {
	since := s.Since.In(d.o.Location)
	now := d.o.Clock.Now().In(d.o.Location)
	layout := "15:04 MST"
	if y, m, day := since.Date(); y != now.Year() || m != now.Month() || day != now.Day() {
		layout = "Jan 2 15:04 MST"
	}
	var names []string
	more := s.MoreNames
	for _, name := range s.Names {
		if sms.Fit(sms.Legible(name), digestBudget).TransliterationSkipped {
			more++
			continue
		}
		names = append(names, name)
	}
	compose := func(names []string, more int) string {
		text := lead + since.Format(layout) + ":"
		if s.Alerts > 0 {
			text += " " + strconv.Itoa(s.Alerts) + " firing"
			if more > 0 {
				names = append(slices.Clip(names), "+"+strconv.Itoa(more)+" more")
			}
			if len(names) > 0 {
				text += " (" + strings.Join(names, ", ") + ")"
			}
		}
		if s.Resolved > 0 {
			if s.Alerts > 0 {
				text += ","
			}
			text += " " + strconv.Itoa(s.Resolved) + " resolved"
		}
		text += "."
		if s.URL != "" {
			text += " " + s.URL
		}
		return text
	}
	for n := len(names); n > 0; n-- {
		fit := sms.Fit(compose(names[:n], more+len(names)-n), digestBudget)
		if !fit.Truncated && !fit.TransliterationSkipped {
			return fit.Text
		}
	}
	// No name fits, or the rest would not go as GSM-7: the counts alone.
	return sms.Fit(compose(nil, 0), digestBudget).Text
}

// held is what a digest says of m if a limit holds it back.
func held(m Message, url string) ledger.Suppressed {
	firing := m.Firing
	if m.Firing+m.Resolved == 0 {
		firing = m.Alerts
	}
	return ledger.Suppressed{Contact: m.Contact, Alerts: firing, Resolved: m.Resolved, Names: m.Names, URL: url}
}
