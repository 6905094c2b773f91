package pager

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/delivery"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sms"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/templates"
)

// Why a draft got the fallback text, the values of the "reason" label.
const (
	fallbackError   = "error"
	fallbackTimeout = "timeout"
)

// rendered is the text of drafts[i].
type rendered struct {
	i   int
	fit sms.Result
}

// renderAll renders the drafts one after the other in a goroutine of its
// own, because a template cannot be interrupted: when rendering runs past
// its share of the deadline, the drafts not rendered yet get the fallback
// text, and the page goes out anyway. The goroutine is left to finish the
// draft it is on and then stops. When ctx ends otherwise (Alertmanager hung
// up), nothing is sent: nobody waits for the answer, and a retry renders
// again.
func (p *Pager) renderAll(ctx context.Context, n *notification.Notification, drafts []draft) ([]delivery.Message, error) {
	rctx, cancel := context.WithDeadline(ctx, renderDeadline(ctx, time.Now()))
	defer cancel()
	data := sanitize(n.Data)
	done := make(chan rendered, len(drafts)) // never blocks the goroutine
	go func() {
		for i, d := range drafts {
			if rctx.Err() != nil {
				return
			}
			done <- rendered{i, p.render(n, d.page.Route, subset(data, d.alerts))}
		}
	}()
	fits := make([]*sms.Result, len(drafts))
	for range drafts {
		select {
		case r := <-done:
			fits[r.i] = &r.fit
			continue
		case <-rctx.Done():
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("render: %w", context.Cause(ctx))
		}
		break
	}
	// Drafts rendered while the deadline passed still count.
	for len(done) > 0 {
		r := <-done
		fits[r.i] = &r.fit
	}
	msgs := make([]delivery.Message, len(drafts))
	for i, d := range drafts {
		if fits[i] == nil {
			p.logger.Error("template did not finish in time, sending the fallback text", "notification", n.ID, "route", d.page.Route.Name)
			fit := p.fallback(d.page.Route, fallbackTimeout, subset(data, d.alerts), n.TruncatedAlerts)
			fits[i] = &fit
		}
		msgs[i] = p.message(n, d, *fits[i])
	}
	return msgs, nil
}

// renderDeadline is when rendering must be done: half the time left, so
// that the other half is there to send.
func renderDeadline(ctx context.Context, now time.Time) time.Time {
	deadline, ok := ctx.Deadline()
	if !ok {
		return now.Add(time.Hour)
	}
	return now.Add(deadline.Sub(now) / 2)
}

// render renders the route's template. A template that passed the check
// at load can still fail on real data (an index out of range, say); then
// the built-in template stands in, and should that fail too, the fallback
// text: a page must not be lost to a template bug.
func (p *Pager) render(n *notification.Notification, r *config.Route, data *template.Data) sms.Result {
	budget := budgetOf(r)
	fit, err := p.engine.RenderSMS(r.Template, data, budget)
	if err != nil && r.Template != templates.DefaultTemplate {
		p.metrics.TemplateErrors.WithLabelValues(r.Name).Inc()
		p.logger.Error("template failed, using the built-in one", "notification", n.ID, "route", r.Name, "err", err)
		fit, err = p.engine.RenderSMS(templates.DefaultTemplate, data, budget)
	}
	if err != nil {
		p.metrics.TemplateErrors.WithLabelValues(r.Name).Inc()
		p.logger.Error("built-in template failed, sending the fallback text", "notification", n.ID, "route", r.Name, "err", err)
		return p.fallback(r, fallbackError, data, n.TruncatedAlerts)
	}
	if fit.Truncated {
		p.metrics.Truncated.WithLabelValues(r.Name).Inc()
	}
	if fit.Transliterated {
		p.metrics.Transliterated.WithLabelValues(r.Name).Inc()
	}
	return fit
}

func budgetOf(r *config.Route) sms.Budget {
	return sms.Budget{MaxSegments: r.MaxSegments, GSM7Only: r.Encoding == config.EncodingGSM7}
}

// fallback is the text of a page whose templates failed or ran out of
// time, made without the template engine in time linear in the alerts:
// "FIRING 3 HighErrorRate critical, see http://am:9093". truncated are the
// alerts Alertmanager's max_alerts left out, counted in.
func (p *Pager) fallback(r *config.Route, reason string, data *template.Data, truncated uint64) sms.Result {
	p.metrics.TemplateFallbacks.WithLabelValues(r.Name, reason).Inc()
	alerts := data.Alerts.Firing()
	if data.Status != "firing" {
		alerts = data.Alerts
	}
	var b strings.Builder
	b.WriteString(strings.ToUpper(data.Status))
	b.WriteString(" " + strconv.FormatUint(uint64(len(alerts))+truncated, 10))
	if name := commonValue(alerts, "alertname"); name != "" {
		b.WriteString(" " + name)
	}
	if severity := p.highestSeverity(alerts); severity != "" {
		b.WriteString(" " + severity)
	}
	if data.ExternalURL != "" {
		b.WriteString(sms.Shorten(", see " + data.ExternalURL))
	}
	return sms.Fit(b.String(), budgetOf(r))
}

// commonValue is the label's value when all alerts share it, else the
// first alert's followed by "+N more" names.
func commonValue(alerts template.Alerts, label string) string {
	if len(alerts) == 0 {
		return ""
	}
	first, others := alerts[0].Labels[label], map[string]bool{}
	for _, a := range alerts[1:] {
		if v := a.Labels[label]; v != first {
			others[v] = true
		}
	}
	if len(others) == 0 {
		return first
	}
	return fmt.Sprintf("%s +%d more", first, len(others))
}

// highestSeverity is the most severe severity label of the alerts by the
// configured order, else the first alert's.
func (p *Pager) highestSeverity(alerts template.Alerts) string {
	best, rank := "", len(p.severity)+1
	for _, a := range alerts {
		s := a.Labels["severity"]
		r, ok := p.severity[s]
		if !ok {
			r = len(p.severity)
		}
		if s != "" && r < rank {
			best, rank = s, r
		}
	}
	return best
}

// sanitize returns the data with control characters and the fitter's
// marker characters taken out of every label and annotation value, so that
// alert data can neither reach sipgate as control codes nor change how a
// message is cut. Alerts that need no change are shared, not copied.
func sanitize(d *template.Data) *template.Data {
	var out *template.Data
	for i, a := range d.Alerts {
		if clean(a.Labels) && clean(a.Annotations) {
			continue
		}
		if out == nil {
			c := *d
			c.Alerts = append(template.Alerts(nil), d.Alerts...)
			out = &c
		}
		a.Labels, a.Annotations = scrub(a.Labels), scrub(a.Annotations)
		out.Alerts[i] = a
	}
	if out == nil {
		if clean(d.GroupLabels) && clean(d.CommonLabels) && clean(d.CommonAnnotations) {
			return d
		}
		c := *d
		out = &c
	}
	out.GroupLabels, out.CommonLabels, out.CommonAnnotations = scrub(d.GroupLabels), scrub(d.CommonLabels), scrub(d.CommonAnnotations)
	return out
}

func unsafeRune(r rune) bool {
	return sms.IsMarker(r) || (unicode.IsControl(r) && !unicode.IsSpace(r))
}

func clean(kv template.KV) bool {
	for _, v := range kv {
		if strings.IndexFunc(v, unsafeRune) >= 0 {
			return false
		}
	}
	return true
}

func scrub(kv template.KV) template.KV {
	if clean(kv) {
		return kv
	}
	out := make(template.KV, len(kv))
	for k, v := range kv {
		out[k] = strings.Map(func(r rune) rune {
			if unsafeRune(r) {
				return -1
			}
			return r
		}, v)
	}
	return out
}
