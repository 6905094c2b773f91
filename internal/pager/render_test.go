package pager

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sms"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/templates"
)

// stuckRenderer is a template engine that never finishes, until released.
type stuckRenderer struct {
	started chan struct{}
	release chan struct{}
}

func (s *stuckRenderer) RenderSMS(context.Context, string, *templates.Data, sms.Budget) (sms.Result, error) {
	s.started <- struct{}{}
	<-s.release
	return sms.Result{}, errors.New("released")
}

// failingRenderer fails every template.
type failingRenderer struct{}

func (failingRenderer) RenderSMS(context.Context, string, *templates.Data, sms.Budget) (sms.Result, error) {
	return sms.Result{}, errors.New("boom")
}

const oneRoute = `
sipgate: {dry_run: true}
routes:
  - name: r
    to: ["+4915100000001"]
`

func TestRenderPastItsTimeSendsTheFallback(t *testing.T) {
	p, rec, m := newPager(t, oneRoute)
	stuck := &stuckRenderer{started: make(chan struct{}, 1), release: make(chan struct{})}
	defer close(stuck.release)
	p.engine = stuck
	n := load(t, "webhook-firing-2-alerts.json")
	n.TruncatedAlerts = 10
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := p.Notify(ctx, n, ""); err != nil {
		t.Fatal(err)
	}
	want := "FIRING 12 HighErrorRate critical, see http://vm:9093"
	if len(rec.msgs) != 1 || rec.msgs[0].Text != want {
		t.Fatalf("messages = %+v, want one with %q", rec.msgs, want)
	}
	if got := testutil.ToFloat64(m.TemplateFallbacks.WithLabelValues("r", fallbackTimeout)); got != 1 {
		t.Errorf("template_fallbacks_total{reason=timeout} = %v, want 1", got)
	}
}

func TestRenderStopsWhenAlertmanagerHangsUp(t *testing.T) {
	p, rec, _ := newPager(t, oneRoute)
	stuck := &stuckRenderer{started: make(chan struct{}, 1), release: make(chan struct{})}
	defer close(stuck.release)
	p.engine = stuck
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	errs := make(chan error, 1)
	go func() { errs <- p.Notify(ctx, load(t, "webhook-firing-2-alerts.json"), "") }()
	<-stuck.started
	cancel()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if len(rec.msgs) != 0 {
		t.Errorf("delivered %+v after Alertmanager hung up", rec.msgs)
	}
}

func TestFailingTemplatesSendTheFallback(t *testing.T) {
	p, rec, m := newPager(t, `
sipgate: {dry_run: true}
routes:
  - name: r
    to: ["+4915100000001"]
    max_segments: 1
`)
	p.engine = failingRenderer{}
	n := load(t, "webhook-firing-2-alerts.json")
	n.Alerts[1].Labels["alertname"] = "Other"
	n.Alerts[1].Labels["severity"] = "warning"
	if err := p.Notify(context.Background(), n, ""); err != nil {
		t.Fatal(err)
	}
	want := "FIRING 2 HighErrorRate +1 more critical, see http://vm:9093"
	if len(rec.msgs) != 1 || rec.msgs[0].Text != want {
		t.Fatalf("messages = %+v, want one with %q", rec.msgs, want)
	}
	if got := testutil.ToFloat64(m.TemplateFallbacks.WithLabelValues("r", fallbackError)); got != 1 {
		t.Errorf("template_fallbacks_total{reason=error} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.TemplateErrors.WithLabelValues("r")); got != 1 {
		t.Errorf("template_errors_total = %v, want 1 (the route uses the built-in template)", got)
	}
}

func TestAlertDataCannotSteerTheText(t *testing.T) {
	p, rec, _ := newPager(t, oneRoute)
	n := load(t, "webhook-firing-2-alerts.json")
	// Control codes, and the fitter's own markers: a span start without
	// its end would otherwise make the fitter cut the rest of the text.
	for i := range n.Alerts {
		n.Alerts[i].Annotations["summary"] = "Checkout\x00 5xx\x1b[31m rate\ue000 above 5%"
	}
	n.CommonAnnotations["summary"] = n.Alerts[0].Annotations["summary"]
	if err := p.Notify(context.Background(), n, ""); err != nil {
		t.Fatal(err)
	}
	want := "FIRING 2 HighErrorRate critical web-1:8080,web-2:8080: Checkout 5xx[31m rate above 5% Alerts: http://vm:9093/#/alerts?receiver=sms-bridge"
	if len(rec.msgs) != 1 || rec.msgs[0].Text != want {
		t.Fatalf("messages = %+v, want one with %q", rec.msgs, want)
	}
}

// TestEncodingCounters: a gsm7 route counts what it transliterated, and
// the texts it sent as they were because transliterating would have turned
// an alertname into question marks.
func TestEncodingCounters(t *testing.T) {
	tests := []struct {
		name                 string
		alertname            string
		want                 string
		transliterated, kept float64
	}{
		{name: "Cyrillic", alertname: "ДискЗаполнен", want: "FIRING 2 DiskZapolnen critical web-1:8080,web-2:8080", transliterated: 1},
		{name: "Chinese", alertname: "磁盘已满", want: "FIRING 2 磁盘已满 critical web-1:8080,web-2:8080", kept: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, rec, m := newPager(t, "sms: {encoding: gsm7}\n"+oneRoute)
			n := load(t, "webhook-firing-2-alerts.json")
			for i := range n.Alerts {
				n.Alerts[i].Labels["alertname"] = tt.alertname
			}
			n.CommonLabels["alertname"] = tt.alertname
			if err := p.Notify(context.Background(), n, ""); err != nil {
				t.Fatal(err)
			}
			if len(rec.msgs) != 1 || !strings.HasPrefix(rec.msgs[0].Text, tt.want) {
				t.Fatalf("messages = %+v, want one starting %q", rec.msgs, tt.want)
			}
			if got := testutil.ToFloat64(m.Transliterated.WithLabelValues("r")); got != tt.transliterated {
				t.Errorf("sms_transliterated_total = %v, want %v", got, tt.transliterated)
			}
			if got := testutil.ToFloat64(m.TransliterationSkipped.WithLabelValues("r")); got != tt.kept {
				t.Errorf("sms_transliteration_skipped_total = %v, want %v", got, tt.kept)
			}
		})
	}
}

// TestCleanStringAsUnsafeRune: the byte-wise check of ASCII says what
// unsafeRune says of every rune, alone and after ASCII, and of strings
// that switch between the two.
func TestCleanStringAsUnsafeRune(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue // not encodable in UTF-8
		}
		want := !unsafeRune(r)
		for _, s := range []string{string(r), "web-1:8080 " + string(r), string(r) + " web-1", "é" + string(r)} {
			if got := cleanString(s); got != want {
				t.Fatalf("cleanString(%q) = %v, want %v", s, got, want)
			}
		}
	}
	if cleanString("ok é then \x01") || !cleanString("tab\tand\nnewline\r\n") || cleanString("\xff\x7f") {
		t.Error("mixed strings judged wrong")
	}
}

// TestRenderStoppedByItsDeadlineIsNoTemplateError: a template stopped
// because the render deadline passed is not broken: render says it did
// not render, renderAll sends the fallback text counted as a timeout, and
// neither template counts an error. It counted two errors and a fallback
// for an error, and logged that the built-in template failed.
func TestRenderStoppedByItsDeadlineIsNoTemplateError(t *testing.T) {
	p, _, m := newPager(t, `
sipgate: {dry_run: true}
routes:
  - name: r
    to: ["+4915100000001"]
    template: '{{ range .Alerts }}{{ .Labels.instance }}{{ end }}'
`)
	n := load(t, "webhook-firing-2-alerts.json")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if fit, ok := p.render(ctx, n, p.config.Routes[0], n.Data, templates.Change{}); ok {
		t.Errorf("render with its deadline passed = %q, true; want not rendered", fit.Text)
	}
	if got := testutil.ToFloat64(m.TemplateErrors.WithLabelValues("r")); got != 0 {
		t.Errorf("template_errors_total = %v, want 0", got)
	}
	if got := testutil.CollectAndCount(m.TemplateFallbacks); got != 0 {
		t.Errorf("template_fallbacks_total has %d series, want none: renderAll counts the timeout", got)
	}
}

// TestRenderErrorAfterTheDeadlineIsATemplateError: a template that fails
// on its own (an index out of range, before it wrote anything) is a
// template error also when the deadline has passed meanwhile.
func TestRenderErrorAfterTheDeadlineIsATemplateError(t *testing.T) {
	p, _, m := newPager(t, `
sipgate: {dry_run: true}
routes:
  - name: r
    to: ["+4915100000001"]
    template: '{{ if eq .CommonLabels.team "payments" }}{{ (index .Alerts 5).Labels.instance }}{{ else }}ok{{ end }}'
`)
	n := load(t, "webhook-firing-2-alerts.json")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// The built-in template, asked next, is stopped by the deadline.
	p.render(ctx, n, p.config.Routes[0], n.Data, templates.Change{})
	if got := testutil.ToFloat64(m.TemplateErrors.WithLabelValues("r")); got != 1 {
		t.Errorf("template_errors_total = %v, want 1: the index out of range", got)
	}
}
