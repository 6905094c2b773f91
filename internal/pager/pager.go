// Package pager turns a notification into the SMS each recipient gets and
// hands them to delivery: the one place where routing, templates and
// delivery meet.
package pager

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/delivery"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/route"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/receiver"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/templates"
)

// Deliverer sends the messages of one notification.
type Deliverer interface {
	Deliver(ctx context.Context, msgs []delivery.Message) error
}

// Pager implements receiver.Notifier.
type Pager struct {
	config    *config.Config
	deliverer Deliverer
	metrics   *metrics.Metrics
	logger    *slog.Logger
}

// New returns a Pager for one immutable config.
func New(c *config.Config, d Deliverer, m *metrics.Metrics, l *slog.Logger) *Pager {
	return &Pager{config: c, deliverer: d, metrics: m, logger: l}
}

// Notify routes, renders and delivers the notification.
func (p *Pager) Notify(ctx context.Context, n *receiver.Notification, pinned string) error {
	pages, err := route.Pages(p.config, n.Data, pinned)
	switch {
	case errors.Is(err, route.ErrUnknownRoute):
		return fmt.Errorf("%w: %w", receiver.ErrNotFound, err)
	case errors.Is(err, route.ErrUnmatched):
		return fmt.Errorf("%w: %w", receiver.ErrUnprocessable, err)
	case err != nil:
		return fmt.Errorf("route notification: %w", err)
	}

	key := Key(n)
	msgs := make([]delivery.Message, 0, len(pages))
	for _, page := range pages {
		text, err := p.render(page, n.Data)
		if err != nil {
			return err
		}
		msgs = append(msgs, delivery.Message{
			Key:     key + "/" + page.Recipient.Number,
			Route:   page.Route.Name,
			Contact: page.Recipient.Label(),
			Number:  page.Recipient.Number,
			Text:    text,
		})
	}
	return p.deliverer.Deliver(ctx, msgs)
}

// render renders the page's route template. A template that passed the
// check at load can still fail on real data (an index out of range, say);
// then the built-in template stands in, because a page must not be lost to
// a template bug.
func (p *Pager) render(page route.Page, all *template.Data) (string, error) {
	data := subset(all, page.Alerts)
	text, err := p.config.Engine.Render(page.Route.Template, data, page.Route.MaxLength)
	if err == nil {
		return text, nil
	}
	p.metrics.TemplateErrors.WithLabelValues(page.Route.Name).Inc()
	p.logger.Error("template failed, using the built-in one", "route", page.Route.Name, "err", err)
	text, err2 := p.config.Engine.Render(templates.DefaultTemplate, data, page.Route.MaxLength)
	if err2 != nil {
		return "", fmt.Errorf("render route %s: %w; built-in template: %w", page.Route.Name, err, err2)
	}
	return text, nil
}

// subset is the notification as one recipient sees it: only their alerts,
// with status and common labels recomputed for those.
func subset(d *template.Data, alerts template.Alerts) *template.Data {
	if len(alerts) == len(d.Alerts) {
		return d
	}
	s := *d
	s.Alerts = alerts
	s.Status = "resolved"
	if len(alerts.Firing()) > 0 {
		s.Status = "firing"
	}
	s.CommonLabels = common(alerts, func(a template.Alert) template.KV { return a.Labels })
	s.CommonAnnotations = common(alerts, func(a template.Alert) template.KV { return a.Annotations })
	return &s
}

func common(alerts template.Alerts, kv func(template.Alert) template.KV) template.KV {
	out := template.KV{}
	if len(alerts) == 0 {
		return out
	}
	for k, v := range kv(alerts[0]) {
		out[k] = v
	}
	for _, a := range alerts[1:] {
		for k, v := range out {
			if kv(a)[k] != v {
				delete(out, k)
			}
		}
	}
	return out
}

// Key identifies a notification for the ledger. It covers what makes a
// page: the group, the receiver, and each alert's identity, status and
// start, so that an alert that fires again later pages again. It leaves out
// externalURL, so the two replicas of an HA pair produce the same key.
func Key(n *receiver.Notification) string {
	alerts := make([]string, len(n.Alerts))
	for i, a := range n.Alerts {
		alerts[i] = a.Fingerprint + "|" + a.Status + "|" + strconv.FormatInt(a.StartsAt.UnixNano(), 10)
	}
	sort.Strings(alerts)
	h := sha256.New()
	for _, s := range append([]string{n.GroupKey, n.Receiver}, alerts...) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
