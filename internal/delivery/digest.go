package delivery

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sms"
)

// SendDigests sends each recipient whose limits allow it again one SMS
// that says how many alerts were suppressed since when. It is called
// periodically with timeout for each digest; a digest that fails in a way a
// retry may fix stays owed for the next call. One of unknown outcome is
// settled by the next call once sipgate would list it (see summary), and
// what was suppressed meanwhile waits for the digest after it, which tells
// of that alone. When ctx ends (shutdown), no further digest begins, but
// the one under way is not cut off: within its timeout, its answer is
// heard, not left for the next start to settle, perhaps by a resend.
func (d *Deliverer) SendDigests(ctx context.Context, timeout time.Duration, limits Limits) error {
	pending, err := d.o.Ledger.Pending()
	if err != nil {
		return err
	}
	doubts, err := d.o.Ledger.DigestsInDoubt()
	if err != nil {
		return err
	}
	var errs []error
	for _, number := range slices.Sorted(maps.Keys(pending)) {
		if ctx.Err() != nil {
			return errors.Join(errs...)
		}
		if _, ok := doubts[number]; ok {
			continue
		}
		// Read again: the sends before this one may have taken long.
		owed, ok, err := d.o.Ledger.Owed(number)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok || d.o.Clock.Now().Before(owed.NotBefore) {
			continue
		}
		if err := d.sendSummary(context.WithoutCancel(ctx), timeout, d.digest(number, owed, nil, limits)); err != nil {
			errs = append(errs, err)
		}
	}
	for _, number := range slices.Sorted(maps.Keys(doubts)) {
		if ctx.Err() != nil {
			break
		}
		mark := doubts[number]
		if err := d.sendSummary(context.WithoutCancel(ctx), timeout, d.digest(number, mark.Covered, &mark.Doubt, limits)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// digest is the summary that sends number a digest of s, or settles the
// one in doubt that covered s.
func (d *Deliverer) digest(number string, s ledger.Suppressed, doubt *ledger.Doubt, limits Limits) summary {
	l := d.o.Ledger
	return summary{
		what: "digest", route: "digest",
		key:    "digest\x00" + number,
		number: number, contact: s.Contact,
		text:  d.digestText(s),
		doubt: doubt,
		sent:  d.o.Metrics.Digests,
		attrs: []any{"firing", s.Alerts, "resolved", s.Resolved, "since", s.Since},
		take: func(mark ledger.Doubt) (time.Time, bool, error) {
			return l.TakeDigest(number, ledger.DigestDoubt{Doubt: mark, Covered: s}, limits.PerRecipient, limits.Budget)
		},
		remark:  func(mark ledger.Doubt) error { return l.MarkDigestDoubt(number, mark) },
		unsent:  func(at time.Time) error { return l.DigestUnsent(number, at) },
		release: func(bool) error { return l.Digested(number) },
	}
}

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
	loc := d.o.Location()
	since := s.Since.In(loc)
	now := d.o.Clock.Now().In(loc)
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
	return ledger.Suppressed{Contact: m.Contact, Alerts: firing, Resolved: m.Resolved, Names: m.Names, URL: url, NotBefore: m.SendAt}
}
