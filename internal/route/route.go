// Package route decides who is paged for each alert.
package route

import (
	"fmt"
	"strings"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
)

// Page is what one recipient gets for one notification: the alerts routed
// to them, rendered with the first route that reached them.
type Page struct {
	Route     *config.Route
	Recipient config.Recipient
	Alerts    template.Alerts
	// BypassLimits is set when any route that reached the recipient
	// bypasses the limits, not only the first.
	BypassLimits bool
}

// Pages routes every alert of a notification and gathers the result per
// recipient, so that a person reached by several routes gets one SMS. With
// pinned set, all alerts go to that route regardless of its matchers. It
// fails with notification.ErrUnknownRoute or notification.ErrUnmatched.
func Pages(c *config.Config, data *template.Data, pinned string) ([]Page, error) {
	var pages []*Page
	byNumber := map[string]*Page{}
	// lastAlert keeps an alert that several routes send to one person from
	// appearing twice in their page.
	lastAlert := map[string]int{}
	assign := func(r *config.Route, i int) {
		for _, rcpt := range r.Recipients {
			p := byNumber[rcpt.Number]
			if p == nil {
				p = &Page{Route: r, Recipient: rcpt}
				byNumber[rcpt.Number] = p
				pages = append(pages, p)
			}
			p.BypassLimits = p.BypassLimits || r.BypassLimits
			if len(p.Alerts) > 0 && lastAlert[rcpt.Number] == i {
				continue
			}
			lastAlert[rcpt.Number] = i
			p.Alerts = append(p.Alerts, data.Alerts[i])
		}
	}

	if pinned != "" {
		r := c.Route(pinned)
		if r == nil {
			return nil, fmt.Errorf("%w %q", notification.ErrUnknownRoute, pinned)
		}
		for i := range data.Alerts {
			assign(r, i)
		}
		return flatten(pages), nil
	}

	receiver := unquote(data.Receiver)
	var unmatched []string
	for i, a := range data.Alerts {
		matched := false
		for _, r := range c.Routes {
			if !matches(r, receiver, a.Labels) {
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
			unmatched = append(unmatched, a.Labels["alertname"])
		}
	}
	if len(unmatched) > 0 {
		return nil, fmt.Errorf("%w alerts %s of receiver %q", notification.ErrUnmatched, strings.Join(unmatched, ","), receiver)
	}
	return flatten(pages), nil
}

func flatten(pages []*Page) []Page {
	out := make([]Page, len(pages))
	for i, p := range pages {
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
