package pager

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
// own, because a template cannot be interrupted at any instant: when
// rendering runs past its share of the deadline, the drafts not rendered
// yet get the fallback text, and the page goes out anyway. The template
// being rendered stops at its next write (templates.Engine.RenderSMS),
// and the goroutine with it. When ctx ends otherwise (Alertmanager hung
// up), nothing is sent: nobody waits for the answer, and a retry renders
// again.
func (p *Pager) renderAll(ctx context.Context, n *notification.Notification, drafts []draft) ([]delivery.Message, error) {
	rctx, cancel := context.WithDeadline(ctx, renderDeadline(ctx, time.Now()))
	defer cancel()
	view := views(n.Data)
	done := make(chan rendered, len(drafts)) // never blocks the goroutine
	go func() {
		for i, d := range drafts {
			if rctx.Err() != nil {
				return
			}
			alerts, classes := d.shown()
			data := view(alerts)
			fit, ok := p.render(rctx, n, d.page.Route, data, p.change(data.Alerts, classes, d.repeat, d.now))
			if !ok {
				return // out of time: the fallback text, counted as such below
			}
			done <- rendered{i, fit}
		}
	}()
	fits := make([]*sms.Result, len(drafts))
collect:
	for range drafts {
		select {
		case r := <-done:
			fits[r.i] = &r.fit
		case <-rctx.Done():
			if ctx.Err() != nil {
				return nil, fmt.Errorf("render: %w", context.Cause(ctx))
			}
			break collect
		}
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
			alerts, _ := d.shown()
			fit := p.fallback(d.page.Route, fallbackTimeout, view(alerts), n.TruncatedAlerts)
			fits[i] = &fit
		}
		msgs[i] = p.message(n, d, *fits[i])
	}
	return msgs, nil
}

// views returns what a template sees of the notification for the alerts
// of one draft: only those alerts, sanitized, with the route labels marked
// as rendered. Alertmanager rendered them before it sent the webhook; the
// template function routeLabels would otherwise execute them again, as
// templates written by whoever controls alert data. A draft of all the
// alerts shares the data sanitized once.
func views(d *template.Data) func(template.Alerts) *template.Data {
	base := *d
	template.MarkRouteLabelsRendered(&base)
	full := sanitize(&base)
	return func(alerts template.Alerts) *template.Data {
		if sameAlerts(alerts, base.Alerts) {
			return full
		}
		return sanitize(subset(&base, alerts))
	}
}

// sameAlerts reports whether a and b are the same alerts in the same
// order, as when a draft tells of all the alerts of a notification: the
// change of a draft is told by the position of its alerts. Of the same
// length is not enough: a page lists the resolved alerts it tells to whom
// routing no longer sends them after the routed ones.
func sameAlerts(a, b template.Alerts) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := &a[i], &b[i]
		if x.Fingerprint != y.Fingerprint || !x.StartsAt.Equal(y.StartsAt) || x.Status != y.Status ||
			(x.Fingerprint == "" && !maps.Equal(x.Labels, y.Labels)) {
			return false
		}
	}
	return true
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
// text: a page must not be lost to a template bug. It returns false when
// ctx ended first: the template was stopped, not broken.
func (p *Pager) render(ctx context.Context, n *notification.Notification, r *config.Route, data *template.Data, change templates.Change) (sms.Result, bool) {
	budget := budgetOf(r)
	view := &templates.Data{Data: data, TruncatedAlerts: int(n.TruncatedAlerts), SeverityOrder: p.config.Limits.SeverityOrder, Change: change}
	fit, err := p.engine.RenderSMS(ctx, r.Template, view, budget)
	if stopped(ctx, err) {
		return sms.Result{}, false
	}
	if err != nil && r.Template != templates.DefaultTemplate {
		p.metrics.TemplateErrors.WithLabelValues(r.Name).Inc()
		p.logger.Error("template failed, using the built-in one", "notification", n.ID, "route", r.Name, "err", err)
		fit, err = p.engine.RenderSMS(ctx, templates.DefaultTemplate, view, budget)
		if stopped(ctx, err) {
			return sms.Result{}, false
		}
	}
	if err != nil {
		p.metrics.TemplateErrors.WithLabelValues(r.Name).Inc()
		p.logger.Error("built-in template failed, sending the fallback text", "notification", n.ID, "route", r.Name, "err", err)
		return p.fallback(r, fallbackError, data, n.TruncatedAlerts), true
	}
	if fit.Truncated {
		p.metrics.Truncated.WithLabelValues(r.Name).Inc()
	}
	if fit.Transliterated {
		p.metrics.Transliterated.WithLabelValues(r.Name).Inc()
	}
	if fit.TransliterationSkipped {
		p.metrics.TransliterationSkipped.WithLabelValues(r.Name).Inc()
	}
	return fit, true
}

// stopped reports whether err is the template stopped because ctx ended,
// not an error of its own that came after the deadline.
func stopped(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() != nil && errors.Is(err, context.Cause(ctx))
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
	// Label values may hold line breaks and tabs, which RenderSMS would
	// collapse: so does the fallback, word by word.
	words := strings.Fields(strings.ToUpper(data.Status))
	if data.Status != "firing" {
		truncated = 0 // a RESOLVED counts what resolved (see the built-in template)
	}
	words = append(words, strconv.FormatUint(uint64(len(alerts))+truncated, 10))
	// An alertname is kept legible, as the templates' legible keeps it:
	// transliterated to "???", 磁盘满 would tell nothing.
	for _, w := range strings.Fields(commonValue(alerts, "alertname")) {
		words = append(words, sms.Legible(w))
	}
	words = append(words, strings.Fields(p.highestSeverity(alerts))...)
	var b strings.Builder
	b.WriteString(strings.Join(words, " "))
	if url := strings.Join(strings.Fields(data.ExternalURL), " "); url != "" {
		b.WriteString(sms.Shorten(", see " + url))
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

// sanitize returns the data with control characters and the characters the
// fitter reserves for its markers taken out of every string a template can
// show (label and annotation names and values, the receiver, the URLs), so
// that alert data can neither reach sipgate as control codes nor change how
// a message is cut. Data and alerts that need no change are shared, not
// copied.
func sanitize(d *template.Data) *template.Data {
	var out *template.Data
	copyData := func() {
		if out == nil {
			c := *d
			out = &c
		}
	}
	alertsCopied := false
	for i, a := range d.Alerts {
		if cleanAlert(a) {
			continue
		}
		copyData()
		if !alertsCopied {
			out.Alerts = append(template.Alerts(nil), d.Alerts...)
			alertsCopied = true
		}
		a.Status, a.GeneratorURL, a.Fingerprint = scrubString(a.Status), scrubString(a.GeneratorURL), scrubString(a.Fingerprint)
		a.Labels, a.Annotations = scrub(a.Labels), scrub(a.Annotations)
		out.Alerts[i] = a
	}
	if !cleanString(d.Receiver) || !cleanString(d.Status) || !cleanString(d.NotificationReason) || !cleanString(d.ExternalURL) ||
		!clean(d.GroupLabels) || !clean(d.CommonLabels) || !clean(d.CommonAnnotations) || !clean(d.RouteLabels) {
		copyData()
		out.Receiver, out.Status = scrubString(d.Receiver), scrubString(d.Status)
		out.NotificationReason, out.ExternalURL = scrubString(d.NotificationReason), scrubString(d.ExternalURL)
		out.GroupLabels, out.CommonLabels = scrub(d.GroupLabels), scrub(d.CommonLabels)
		out.CommonAnnotations, out.RouteLabels = scrub(d.CommonAnnotations), scrub(d.RouteLabels)
	}
	if out == nil {
		return d
	}
	return out
}

// unsafeRune reports whether r may not go from alert data into a message:
// a control character other than white space (which rendering collapses),
// or one of the private-use characters U+E000 to U+E00F, where the fitter
// takes its markers from.
func unsafeRune(r rune) bool {
	return sms.IsMarker(r) || (r >= 0xE000 && r <= 0xE00F) || (unicode.IsControl(r) && !unicode.IsSpace(r))
}

// cleanString reports whether s has no unsafe rune. Alert data is nearly
// all ASCII, checked here a byte at a time; from the first other byte on,
// runes are decoded.
func cleanString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return strings.IndexFunc(s[i:], unsafeRune) < 0
		}
		// The ASCII controls but the white space \t, \n, \v, \f and \r.
		if (c < ' ' && (c < '\t' || c > '\r')) || c == 0x7f {
			return false
		}
	}
	return true
}

func scrubString(s string) string {
	if cleanString(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unsafeRune(r) {
			return -1
		}
		return r
	}, s)
}

func cleanAlert(a template.Alert) bool {
	return cleanString(a.Status) && cleanString(a.GeneratorURL) && cleanString(a.Fingerprint) && clean(a.Labels) && clean(a.Annotations)
}

func clean(kv template.KV) bool {
	for k, v := range kv {
		if !cleanString(k) || !cleanString(v) {
			return false
		}
	}
	return true
}

// scrub returns kv with its names and values sanitized. Two names that
// become one keep the value of the one that was clean, else of the first
// in order, so that the result does not depend on map order.
func scrub(kv template.KV) template.KV {
	if clean(kv) {
		return kv
	}
	out := make(template.KV, len(kv))
	var dirty []string
	for k, v := range kv {
		if cleanString(k) {
			out[k] = scrubString(v)
		} else {
			dirty = append(dirty, k)
		}
	}
	sort.Strings(dirty)
	for _, k := range dirty {
		if c := scrubString(k); !has(out, c) {
			out[c] = scrubString(kv[k])
		}
	}
	return out
}

func has(kv template.KV, k string) bool {
	_, ok := kv[k]
	return ok
}
