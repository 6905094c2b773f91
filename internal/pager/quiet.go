package pager

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/route"
)

// HeldLedger keeps what quiet hours hold until they end; *ledger.Ledger
// is the real one. Delivery sends it then (delivery.SendHeld).
type HeldLedger interface {
	// Hold keeps alerts of an SMS to number until the instant until.
	Hold(number string, until time.Time, alerts []ledger.HeldAlert) error
	// HeldFor returns, per alert, the numbers its firing SMS is or was
	// held for, and those of them whose held SMS telling of it is being
	// sent or of unknown outcome. CancelHeld is HeldFor that also cancels
	// the others, saying how many it cancelled now.
	HeldFor(alerts []ledger.Firing) (held, inDoubt map[string][]string, err error)
	CancelHeld(alerts []ledger.Firing) (held, inDoubt map[string][]string, cancelled int, err error)
}

// heldResolved is what the ledger holds of a notification's resolved
// alerts: per alert, the numbers its firing SMS is or was held for, and
// those whose held SMS telling of it is being sent or of unknown outcome.
type heldResolved struct {
	held, inDoubt map[string][]string
}

// cancelHeld cancels the held firing SMS of the notification's resolved
// alerts, whoever they were held for. A retry of the notification finds
// the same, from cancelled entries that the ledger keeps for the dedup
// window.
func (p *Pager) cancelHeld(n *notification.Notification) (heldResolved, error) {
	var resolved []ledger.Firing
	var group string
	for _, a := range n.Alerts {
		if a.Status == "resolved" {
			if group == "" {
				group = repeatGroup(n)
			}
			resolved = append(resolved, firing(a, group))
		}
	}
	if len(resolved) == 0 {
		return heldResolved{}, nil
	}
	held, inDoubt, cancelled, err := p.paged.CancelHeld(resolved)
	if err != nil {
		return heldResolved{}, fmt.Errorf("cancel the held sms of resolved alerts: %w", err)
	}
	if cancelled > 0 {
		p.metrics.HeldCancelled.Add(float64(cancelled))
		p.logger.Info("held sms cancelled: their alerts resolved before the quiet hours ended", "notification", n.ID, "alerts", cancelled)
	}
	if len(inDoubt) > 0 {
		p.logger.Warn("resolved alerts whose held sms is being sent or of unknown outcome: told once it is settled, when the notification comes again",
			"notification", n.ID, "alerts", len(inDoubt))
	}
	return heldResolved{held: held, inDoubt: inDoubt}, nil
}

// withhold takes out of the pages the resolved alerts that are not to be
// told now: those whose firing SMS quiet hours held, to whom no SMS told
// of them and whom it was held for, or whose route would hold it now (as
// after a hand-off): nobody is told that an alert resolved that they
// never heard of for quiet hours. And every resolved alert to whom a held
// SMS telling of one of them is in doubt. Those hear of them all in one SMS when the
// notification comes again: told some now, the retry's SMS, with other
// alerts and so another key, would tell them again.
func (h heldResolved) withhold(pages []route.Page, t told, routes alertRoutes, now time.Time) []route.Page {
	if len(h.held) == 0 && len(h.inDoubt) == 0 {
		return pages
	}
	waiting := map[string]bool{}
	for _, numbers := range h.inDoubt {
		for _, number := range numbers {
			waiting[number] = true
		}
	}
	out := make([]route.Page, 0, len(pages))
	for _, page := range pages {
		number := page.Recipient.Number
		page.Alerts = slices.DeleteFunc(slices.Clone(page.Alerts), func(a template.Alert) bool {
			if a.Status != "resolved" {
				return false
			}
			if waiting[number] {
				return true
			}
			id := alertID(a)
			if _, paged := t.pagedAt(number, id); paged || len(h.held[id]) == 0 {
				return false
			}
			if slices.Contains(h.held[id], number) {
				return true
			}
			rt := routes.route(number, id)
			if rt == nil || !rt.QuietHours.Defers(a.Labels["severity"]) {
				return false
			}
			_, quiet := rt.QuietHours.End(now)
			return quiet
		})
		out = append(out, page)
	}
	return out
}

// inDoubtErr asks for the notification again when a resolved alert was
// withheld because its held SMS is in doubt.
func (h heldResolved) inDoubtErr() error {
	if len(h.inDoubt) == 0 {
		return nil
	}
	return fmt.Errorf("%d resolved alerts not told yet: %w", len(h.inDoubt), ledger.ErrHeldInDoubt)
}

// deferQuiet takes out of the drafts the alerts that their routes' quiet
// hours defer now: with defer: hold they are held in the ledger for one
// SMS per recipient at the end of the quiet hours, with defer: send_at
// they become an SMS of their own that sipgate is asked to send then. The
// rest of a draft goes at once, if it tells its recipient anything new.
// Each alert is deferred by the quiet hours of the route that brought it
// to the recipient (see draft.quietRoute).
func (p *Pager) deferQuiet(n *notification.Notification, drafts []draft, now time.Time) ([]draft, error) {
	if !p.quiet {
		// No route has quiet hours: nothing waits, and a storm's alerts
		// need not each be looked up for the route that brought them.
		return drafts, nil
	}
	type heldSMS struct {
		number string
		until  time.Time
	}
	var out []draft
	holds := map[heldSMS][]ledger.HeldAlert{}
	var order []heldSMS
	// When the quiet hours of each route end, worked out once: the same
	// for every alert and recipient of the notification.
	type end struct {
		at time.Time
		ok bool
	}
	ends := map[*config.QuietHours]end{}
	endOf := func(q *config.QuietHours) (time.Time, bool) {
		e, done := ends[q]
		if !done {
			e.at, e.ok = q.End(now)
			ends[q] = e
		}
		return e.at, e.ok
	}
	for _, d := range drafts {
		rest, later := quietSplit(n, d, d.quietRoute, endOf)
		if rest != nil {
			out = append(out, *rest)
		}
		for _, l := range later {
			r := l.route
			p.metrics.SMSDeferred.WithLabelValues(r.Name, r.QuietHours.Defer).Inc()
			attrs := []any{"notification", n.ID, "route", r.Name, "contact", d.page.Recipient.Label(),
				"number", phone.Mask(d.page.Recipient.Number), "alerts", len(l.draft.alerts), "until", l.until}
			if r.QuietHours.Defer == config.DeferSendAt {
				l.draft.sendAt = l.until
				out = append(out, l.draft)
				p.logger.Info("sms deferred for quiet hours: sipgate is asked to send it when they end", attrs...)
				continue
			}
			k := heldSMS{d.page.Recipient.Number, l.until}
			if _, ok := holds[k]; !ok {
				order = append(order, k)
			}
			holds[k] = append(holds[k], p.heldAlerts(n, l.draft, r)...)
			p.logger.Info("sms held for quiet hours: sent when they end, about the alerts still firing then", attrs...)
		}
	}
	for _, k := range order {
		if err := p.paged.Hold(k.number, k.until, holds[k]); err != nil {
			return nil, fmt.Errorf("hold an sms for quiet hours: %w", err)
		}
	}
	return out, nil
}

// deferral is the part of a draft that a route's quiet hours defer, and
// until when.
type deferral struct {
	draft draft
	route *config.Route
	until time.Time
}

// quietSplit splits d into the draft that goes now and the parts that
// quiet hours defer: each alert's by those of its route, routeOf(alert),
// until their end, which endOf says; one part per route. rest is nil, and
// a part left out, when it has no alerts, or tells its recipient nothing
// new and is no repeat. Quiet hours that do not hold now, or do not end
// within config.MaxQuietHours, defer nothing.
func quietSplit(n *notification.Notification, d draft, routeOf func(template.Alert) *config.Route, endOf func(*config.QuietHours) (time.Time, bool)) (rest *draft, later []deferral) {
	var keep []int
	var routes []*config.Route // of the parts, in the order first met
	wait := map[*config.Route][]int{}
	for i, a := range d.alerts {
		r := routeOf(a)
		if !r.QuietHours.Defers(a.Labels["severity"]) {
			keep = append(keep, i)
			continue
		}
		if _, ok := endOf(r.QuietHours); !ok {
			keep = append(keep, i)
			continue
		}
		if _, ok := wait[r]; !ok {
			routes = append(routes, r)
		}
		wait[r] = append(wait[r], i)
	}
	if len(routes) == 0 {
		return &d, nil
	}
	for _, r := range routes {
		if p := part(n, d, wait[r]); p != nil {
			until, _ := endOf(r.QuietHours)
			later = append(later, deferral{draft: *p, route: r, until: until})
		}
	}
	return part(n, d, keep), later
}

// part is the draft of d's alerts at the indices idx, with a ledger key of
// its own, or nil (see quietSplit).
func part(n *notification.Notification, d draft, idx []int) *draft {
	switch len(idx) {
	case 0:
		return nil
	case len(d.alerts):
		return &d
	}
	number := d.page.Recipient.Number
	// What follows the alerts' part of the key: the repeat's, if any.
	suffix := strings.TrimPrefix(d.key, Key(n, d.alerts)+"/"+number)
	e := d
	e.alerts, e.classes = make(template.Alerts, len(idx)), make([]class, len(idx))
	for j, i := range idx {
		e.alerts[j], e.classes[j] = d.alerts[i], d.classes[i]
	}
	if !e.repeat && !news(e.classes) {
		return nil
	}
	e.key = Key(n, e.alerts) + "/" + number + suffix
	return &e
}

// heldAlerts are the alerts of a held draft as the ledger keeps them,
// held by the quiet hours of route r.
func (p *Pager) heldAlerts(n *notification.Notification, d draft, r *config.Route) []ledger.HeldAlert {
	alerts, _ := d.shown()
	out := make([]ledger.HeldAlert, len(alerts))
	group := repeatGroup(n)
	for i, a := range alerts {
		rank, ok := p.severity[a.Labels["severity"]]
		if !ok {
			rank = len(p.severity)
		}
		f := firing(a, group)
		out[i] = ledger.HeldAlert{
			ID: f.ID, Since: a.StartsAt, Name: a.Labels["alertname"], Resolved: f.Resolved, Alert: f.Alert, Group: f.Group,
			Contact: d.page.Recipient.Label(), Route: r.Name, Rank: rank,
			BypassLimits: d.bypassOf(a), URL: n.ExternalURL,
		}
	}
	return out
}
