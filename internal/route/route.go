// Package route decides who is paged for each alert.
package route

import (
	"slices"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
)

// Page is what one recipient gets for one notification: the alerts routed
// to them, rendered with the first route that reached them.
type Page struct {
	Route     *config.Route
	Recipient config.Recipient
	Alerts    template.Alerts
	// SendResolved[i] is the send_resolved of the routes that brought
	// Alerts[i] to the recipient, the most permissive when several did:
	// one route asking for resolved alerts is enough, whatever the others
	// (and the first, whose template applies) say.
	SendResolved []string
	// Routes[i] is the first route that brought Alerts[i] to the
	// recipient: its quiet hours decide whether the alert waits, whichever
	// route's template the page is rendered with.
	Routes []*config.Route
	// BypassLimits is set when any route that reached the recipient
	// bypasses the limits, not only the first: for an SMS of all the
	// page's alerts.
	BypassLimits bool
	// Bypass[i] is set when a route that brought Alerts[i] to the
	// recipient bypasses the limits: for an SMS of some of them (per_alert
	// mode, quiet hours), which another route's bypass must not free.
	Bypass []bool
	// alerts are the indexes in the notification of Alerts, while routing
	// collects them: an alert is large, and a storm's copied as the
	// pages grow would hold many megabytes twice.
	alerts []int
}

// PinIgnored says why a notification pinned to a route was routed by the
// matchers of all routes instead. Its values are those of the reason label
// of alertmanager_sipgate_pinned_route_ignored_total.
type PinIgnored string

const (
	// PinFollowed: no route was pinned, or the pinned one took the alerts.
	PinFollowed PinIgnored = ""
	// PinUnknownRoute: the config has no route of that name (a typo in
	// the URL, or a route renamed or removed by a reload).
	PinUnknownRoute PinIgnored = "unknown_route"
	// PinReceiverMismatch: the route names an Alertmanager receiver other
	// than the notification's, so the URL is not the one the route was
	// meant for.
	PinReceiverMismatch PinIgnored = "receiver_mismatch"
)

// Result is how the alerts of one notification are routed.
type Result struct {
	// Pages are what each recipient gets, in the order they were first
	// reached.
	Pages []Page
	// Unrouted are the alerts that no route matched and no default_route
	// took: to be reported, and paged with the route of unmatched.to when
	// the config has one (they are in Pages then).
	Unrouted template.Alerts
	// Receiver is the notification's Alertmanager receiver as named in
	// alertmanager.yml and in the routes' receiver fields.
	Receiver string
	// PinIgnored says why the pinned route was not followed.
	PinIgnored PinIgnored
	// Fallbacks are the schedules routing paged while nobody was on call,
	// each once: their fallback got the page instead (nobody, without
	// one). To be logged and counted.
	Fallbacks []string
}

// Pages routes every alert of a notification and gathers the result per
// recipient, so that a person reached by several routes gets one SMS.
// A route that names a schedule reaches whoever is on call at the instant
// at, the notification's arrival: the same person for every alert of it.
// With pinned set, all alerts go to that route regardless of its
// matchers, unless the config has no such route or the route is for
// another receiver: then they are routed by matchers as if nothing was
// pinned, and the result says why.
//
// Routing never fails: an alert that no route takes never keeps the
// others from being paged, since rejecting the notification would make
// Alertmanager drop or repeat the whole of it, pages included.
func Pages(c *config.Config, data *template.Data, pinned string, at time.Time) Result {
	res := Result{Receiver: unquote(data.Receiver)}
	var pages []*Page
	byNumber := map[string]*Page{}
	// lastAlert keeps an alert that several routes send to one person from
	// appearing twice in their page.
	lastAlert := map[string]int{}
	oc := onCall{config: c, at: at, result: &res}
	assign := func(r *config.Route, i int) {
		for _, rcpt := range oc.recipients(r) {
			p := byNumber[rcpt.Number]
			if p == nil {
				p = &Page{Route: r, Recipient: rcpt}
				byNumber[rcpt.Number] = p
				pages = append(pages, p)
			}
			p.BypassLimits = p.BypassLimits || r.BypassLimits
			if len(p.alerts) > 0 && lastAlert[rcpt.Number] == i {
				last := len(p.SendResolved) - 1
				p.SendResolved[last] = MostPermissive(p.SendResolved[last], r.SendResolved)
				p.Bypass[last] = p.Bypass[last] || r.BypassLimits
				continue
			}
			lastAlert[rcpt.Number] = i
			p.alerts = append(p.alerts, i)
			p.SendResolved = append(p.SendResolved, r.SendResolved)
			p.Routes = append(p.Routes, r)
			p.Bypass = append(p.Bypass, r.BypassLimits)
		}
	}

	if pinned != "" {
		r := c.Route(pinned)
		switch {
		case r == nil:
			res.PinIgnored = PinUnknownRoute
		case r.Receiver != "" && r.Receiver != res.Receiver:
			res.PinIgnored = PinReceiverMismatch
		default:
			for i := range data.Alerts {
				assign(r, i)
			}
			res.Pages = flatten(pages, data.Alerts)
			return res
		}
	}

	var fallback *config.Route
	if c.Unmatched != nil {
		fallback = c.Unmatched.Route
	}
	for i, a := range data.Alerts {
		matched := false
		for _, r := range c.Routes {
			if !matches(r, res.Receiver, a.Labels) {
				continue
			}
			matched = true
			assign(r, i)
			if !r.Continue {
				break
			}
		}
		switch {
		case matched:
		case c.DefaultRoute != "":
			assign(c.Route(c.DefaultRoute), i)
		default:
			res.Unrouted = append(res.Unrouted, a)
			if fallback != nil {
				assign(fallback, i)
			}
		}
	}
	res.Pages = flatten(pages, data.Alerts)
	return res
}

// MostPermissive returns whichever of two send_resolved values sends
// resolved alerts to more people: always, then if_paged, then never.
func MostPermissive(a, b string) string {
	if resolvedRank(b) > resolvedRank(a) {
		return b
	}
	return a
}

// resolvedRank orders send_resolved from least to most permissive.
func resolvedRank(s string) int {
	switch s {
	case config.ResolvedAlways:
		return 2
	case config.ResolvedIfPaged:
		return 1
	default:
		return 0
	}
}

// flatten returns the pages with their alerts: the notification's own
// slice for a page of all of them, in order, else a copy of its alerts.
func flatten(pages []*Page, alerts template.Alerts) []Page {
	out := make([]Page, len(pages))
	for i, p := range pages {
		if len(p.alerts) == len(alerts) {
			p.Alerts = alerts[:len(alerts):len(alerts)] // an append copies
		} else {
			p.Alerts = make(template.Alerts, len(p.alerts))
			for j, k := range p.alerts {
				p.Alerts[j] = alerts[k]
			}
		}
		p.alerts = nil
		out[i] = *p
	}
	return out
}

func matches(r *config.Route, receiver string, labels template.KV) bool {
	if r.Receiver != "" && r.Receiver != receiver {
		return false
	}
	set := make(model.LabelSet, len(labels))
	for k, v := range labels {
		set[model.LabelName(k)] = model.LabelValue(v)
	}
	return r.LabelMatchers.Matches(set)
}

// unquote undoes the regexp.QuoteMeta that Alertmanager applies to the
// receiver name of a webhook, so routes name receivers as written in
// alertmanager.yml.
func unquote(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	escaped := false
	for _, c := range s {
		if c == '\\' && !escaped {
			escaped = true
			continue
		}
		escaped = false
		b.WriteRune(c)
	}
	return b.String()
}

// onCall answers whom the routes of one notification reach, schedules
// resolved at one instant: each route and schedule once, however many
// alerts take it.
type onCall struct {
	config *config.Config
	at     time.Time
	result *Result
	routes map[*config.Route][]config.Recipient
}

// recipients are whom r reaches: its contacts, groups and numbers, then
// whoever its schedules have on call, each number once.
func (o *onCall) recipients(r *config.Route) []config.Recipient {
	if len(r.Schedules) == 0 {
		return r.Recipients
	}
	if got, ok := o.routes[r]; ok {
		return got
	}
	out := slices.Clone(r.Recipients)
	for _, name := range r.Schedules {
		on, ok := o.config.OnCallAt(name, o.at)
		if !ok {
			continue
		}
		if on.Fallback() && !slices.Contains(o.result.Fallbacks, name) {
			o.result.Fallbacks = append(o.result.Fallbacks, name)
		}
		for _, rcpt := range on.Recipients {
			if !slices.ContainsFunc(out, func(x config.Recipient) bool { return x.Number == rcpt.Number }) {
				out = append(out, rcpt)
			}
		}
	}
	if o.routes == nil {
		o.routes = map[*config.Route][]config.Recipient{}
	}
	o.routes[r] = out
	return out
}
