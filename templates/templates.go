// Package templates renders the SMS text of a notification with Alertmanager's template engine.
package templates

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"
	tmpltext "text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/alertmanager/template"
)

// DefaultTemplate is the text a route uses when it names no template of its own.
const DefaultTemplate = `{{ template "sms.default.message" . }}`

// ellipsis marks a message that Render cut to its maximum length.
const ellipsis = "…"

//go:embed default.tmpl
var defaultTmpl string

// ErrEmptyMessage is returned (wrapped) when a template renders nothing but whitespace.
// sipgate rejects an empty SMS, so such a message can never be sent; retrying cannot help.
var ErrEmptyMessage = errors.New("template rendered an empty message")

// Engine holds the parsed built-in and user templates; safe for concurrent use, immutable after New.
type Engine struct {
	// tmpl is never parsed into after New: ExecuteTextString parses the text to render into a
	// clone, which is what makes concurrent renders safe.
	tmpl *template.Template
}

// New loads Alertmanager's default templates, our embedded default.tmpl, then the user's globs
// (in that order, so users may override our named templates). A glob that matches nothing is
// not an error (like Alertmanager); a parse error is, wrapped with the glob (the error of the
// template parser names the file).
func New(globs []string) (*Engine, error) {
	t, err := template.FromGlobs(nil)
	if err != nil {
		return nil, fmt.Errorf("load Alertmanager's default templates: %w", err)
	}
	if err := t.Parse(strings.NewReader(defaultTmpl)); err != nil {
		return nil, fmt.Errorf("load built-in default.tmpl: %w", err)
	}
	for _, glob := range globs {
		if err := t.FromGlob(glob); err != nil {
			return nil, fmt.Errorf("load templates %q: %w", glob, err)
		}
	}
	return &Engine{tmpl: t}, nil
}

// Check parses text and test-renders it against built-in sample notifications (a firing group
// of 2 alerts and a resolved one), so a broken template is found at config load and never at
// run time. A parse error is returned as the template parser reports it; an error while
// executing, or an empty result (which Render would refuse), names the sample it happened with.
func (e *Engine) Check(text string) error {
	for _, s := range samples() {
		out, err := e.tmpl.ExecuteTextString(text, s.data)
		var execErr tmpltext.ExecError
		switch {
		case errors.As(err, &execErr):
			return fmt.Errorf("with the sample %s notification: %w", s.name, err)
		case err != nil:
			// Not an ExecError: the text does not parse, which is the same with every sample.
			return err
		case strings.TrimSpace(out) == "":
			return fmt.Errorf("with the sample %s notification: %w", s.name, ErrEmptyMessage)
		}
	}
	return nil
}

// Render executes text with data, then makes it SMS-ready: surrounding whitespace is trimmed,
// every run of whitespace (newlines included) becomes one space, and a result longer than
// maxLength runes is cut to maxLength-1 runes plus "…". maxLength <= 0 means no limit.
// A result that is empty after trimming is an error wrapping ErrEmptyMessage.
func (e *Engine) Render(text string, data *template.Data, maxLength int) (string, error) {
	if data == nil {
		return "", errors.New("render SMS text: no notification data")
	}
	out, err := e.tmpl.ExecuteTextString(text, data)
	if err != nil {
		return "", fmt.Errorf("render SMS text: %w", err)
	}
	msg := strings.Join(strings.Fields(out), " ")
	if msg == "" {
		return "", fmt.Errorf("render SMS text: %w", ErrEmptyMessage)
	}
	return truncate(msg, maxLength), nil
}

// truncate cuts s to at most maxLength runes, the last of them an ellipsis; s has no runs of
// whitespace, so at most one space needs trimming before the ellipsis.
func truncate(s string, maxLength int) string {
	if maxLength <= 0 || utf8.RuneCountInString(s) <= maxLength {
		return s
	}
	r := []rune(s)
	return strings.TrimRightFunc(string(r[:maxLength-1]), unicode.IsSpace) + ellipsis
}

type sample struct {
	name string
	data *template.Data
}

// samples returns fresh sample notifications for Check, shaped like the webhook bodies a real
// Alertmanager sends: every map present, two replicas of one alert, then the group resolved.
func samples() []sample {
	startsAt := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	endsAt := startsAt.Add(10 * time.Minute)
	alert := func(status, instance string, endsAt time.Time) template.Alert {
		return template.Alert{
			Status: status,
			Labels: template.KV{
				"alertname": "HighErrorRate",
				"instance":  instance,
				"job":       "checkout",
				"severity":  "critical",
			},
			Annotations: template.KV{
				"summary":     "Checkout 5xx rate above 5%",
				"description": "5xx ratio is 7.3% over the last 5m on " + instance,
			},
			StartsAt:     startsAt,
			EndsAt:       endsAt,
			GeneratorURL: "http://prometheus.example:9090/graph?g0.expr=up",
			Fingerprint:  "f8d0d89aa46f68ba" + instance,
		}
	}
	group := func(status, reason string, alerts ...template.Alert) *template.Data {
		return &template.Data{
			Receiver:           "sms",
			Status:             status,
			Alerts:             alerts,
			NotificationReason: reason,
			GroupLabels:        template.KV{"alertname": "HighErrorRate"},
			CommonLabels:       template.KV{"alertname": "HighErrorRate", "job": "checkout", "severity": "critical"},
			CommonAnnotations:  template.KV{"summary": "Checkout 5xx rate above 5%"},
			RouteLabels:        template.KV{},
			ExternalURL:        "http://alertmanager.example:9093",
		}
	}
	var zero time.Time
	return []sample{
		{"firing", group("firing", "first notification",
			alert("firing", "web-1:8080", zero), alert("firing", "web-2:8080", zero))},
		{"resolved", group("resolved", "all alerts resolved",
			alert("resolved", "web-1:8080", endsAt), alert("resolved", "web-2:8080", endsAt))},
	}
}
