package pager

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/bounded"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sms"
)

// renderRoutes are the route settings FuzzRender picks from: each config
// has a route for critical alerts that continues, so that its recipient
// sees only some alerts of a group, and one for all of them.
var renderRoutes = []string{
	"{}",
	"{encoding: gsm7, mode: per_alert}",
	"{max_segments: 3, mode: per_alert, summary_above: 2}",
	// Every string of the data, keys included.
	`{max_segments: 2, encoding: gsm7, template: '{{ .Status }} {{ .Receiver }} {{ .ExternalURL }} {{ range .GroupLabels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}{{ range .Alerts }}{{ .Status }} {{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}{{ range .Annotations.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}{{ .GeneratorURL }} {{ .Fingerprint }} {{ end }}'}`,
	`{max_segments: 10, mode: per_alert, template: '{{ range .Alerts }}{{ .Labels.SortedPairs.Values | join " " }} {{ .Annotations.SortedPairs.Values | join " " }}{{ end }}'}`,
	// The markup of the fitter around hostile text.
	`{template: '{{ .Status | toUpper }} {{ items (labelValues .Alerts "instance" "alertname") "," }}{{ shorten (print ": " .CommonAnnotations.summary) }}{{ range .Alerts }}{{ shorten .Annotations.description }}{{ end }}'}`,
	// Fails on one alert: the built-in one stands in.
	`{encoding: gsm7, mode: per_alert, template: '{{ (index .Alerts 1).Labels.alertname }}'}`,
	// Route labels, as Alertmanager rendered them.
	`{template: '{{ .Status }} {{ .RouteLabels.instance }} {{ range .RouteLabels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}'}`,
	// Empty without an alertname: the built-in one stands in.
	`{max_segments: 2, template: '{{ .CommonLabels.alertname }}'}`,
}

// hostileLabels are what FuzzRender's which argument puts the fuzzed key
// and value in.
const (
	hostileLabel = 1 << iota
	hostileAnnotation
	hostileAlertname
	hostileEverywhere // every alert, else the first
	resolveFirst
)

// FuzzRender pages real notifications with hostile label and annotation
// values: control characters, the fitter's markers, invalid UTF-8, huge
// strings, emoji, right-to-left marks. Whatever the data, every message is
// non-empty, free of control characters and markers, valid UTF-8, and
// costs no more segments than its route allows; and rendering ends.
//
// Run it longer with
//
//	go test -run '^$' -fuzz '^FuzzRender$' -fuzztime 10m ./internal/pager/
func FuzzRender(f *testing.F) {
	var payloads [][]byte
	for _, name := range []string{"webhook-firing-2-alerts.json", "webhook-resolved-2-alerts.json"} {
		b, err := os.ReadFile("../../receiver/testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		payloads = append(payloads, b)
	}
	hostile := []string{
		"\x00\x1b[31m\x7f\u0085\u009b",
		"\ue000span\ue001 \ue002list\ue004,\ue005\ue003 \ue00f",
		"\xff\xfe\xc0\x80",
		"🔥🚨 ＦＵＬＬ 漢字 \u200f\u202eRTL\u202c \u200d",
		"line\nbreak\r\ttab\v\f\u2028\u2029",
		"+49 151 1234 5678",
		"",
		`{{ printf "%0900000000d" 1 }}`,
	}
	for i, h := range hostile {
		for route := range renderRoutes {
			f.Add(uint8(i%len(payloads)), uint8(route), uint8(i*7+route), "instance", h, "sum "+h, "http://am\x00:9093/"+h, uint8(route*9), uint16(0))
		}
	}
	f.Add(uint8(0), uint8(0), uint8(hostileEverywhere|hostileLabel), "x", "long value ", "", "", uint8(255), uint16(3000))
	// Huge values, some 100 kB, through the built-in template, every string
	// and the fitter's markup.
	for _, route := range []uint8{0, 3, 5} {
		f.Add(route%2, route, uint8(hostileLabel|hostileAnnotation|hostileAlertname), "instance", "🔥 huge\u202e\ue000 ", "", "", uint8(0), uint16(6000))
		f.Add(route%2, route, uint8(hostileLabel|hostileAnnotation), "instance", "huge,", "", "", uint8(0), uint16(20000))
	}

	m := metrics.New(prometheus.NewRegistry())
	rec := &recorder{}
	pagers := make([]*Pager, len(renderRoutes))
	cfgs := make([]*config.Config, len(renderRoutes))
	for i, route := range renderRoutes {
		settings := strings.TrimSuffix(strings.TrimPrefix(route, "{"), "}")
		if settings != "" {
			settings = ", " + settings
		}
		c, err := config.Parse([]byte(`
sipgate: {dry_run: true}
contacts:
  alice: {number: "+4915100000001"}
  bob: {number: "+4915100000002"}
routes:
  - {name: crit, matchers: ['severity="critical"', 'instance!="web-2:8080"'], to: [alice], continue: true`+settings+`}
  - {name: all, to: [bob]`+settings+`}
`), "fuzz.yml")
		if err != nil {
			f.Fatalf("route %s: %v", route, err)
		}
		p, err := New(c, rec, pagedSet{}, m, slog.New(slog.DiscardHandler))
		if err != nil {
			f.Fatal(err)
		}
		pagers[i], cfgs[i] = p, c
	}

	f.Fuzz(func(t *testing.T, payload, route, which uint8, key, value, summary, externalURL string, copies uint8, repeat uint16) {
		var n notification.Notification
		if err := json.Unmarshal(payloads[int(payload)%len(payloads)], &n); err != nil {
			t.Fatal(err)
		}
		// A huge value, up to 1 MiB in all its copies.
		if len(value) > 0 && repeat > 0 {
			value = strings.Repeat(value, max(1, min(int(repeat), (1<<20)/(len(value)*(int(copies)+1)))))
		}
		n.ExternalURL = externalURL
		n.Receiver += key
		n.GroupLabels[key] = value
		n.CommonAnnotations["summary"] = summary
		if n.RouteLabels == nil {
			n.RouteLabels = template.KV{}
		}
		n.RouteLabels[key] = value
		// A storm of copies with distinct instances.
		base := n.Alerts
		for i := range int(copies) {
			a := base[i%len(base)]
			a.Labels = copyKV(a.Labels)
			a.Labels["instance"] = fmt.Sprintf("host-%d:%s", i, value)
			a.Fingerprint = fmt.Sprint(i)
			n.Alerts = append(n.Alerts, a)
		}
		for i := range n.Alerts {
			if i > 0 && which&hostileEverywhere == 0 {
				break
			}
			a := &n.Alerts[i]
			a.Labels, a.Annotations = copyKV(a.Labels), copyKV(a.Annotations)
			if which&hostileLabel != 0 {
				a.Labels[key] = value
			}
			if which&hostileAnnotation != 0 {
				a.Annotations[key] = value
				a.Annotations["summary"] = summary
				a.Annotations["description"] = value + summary
			}
			if which&hostileAlertname != 0 {
				a.Labels["alertname"] = value
			}
			a.GeneratorURL = externalURL
		}
		if which&resolveFirst != 0 {
			n.Alerts[0].Status = "resolved"
		}
		n.ID = "fuzz"

		i := int(route) % len(pagers)
		p, c := pagers[i], cfgs[i]
		rec.batches, rec.msgs = nil, nil
		// Transliteration skipped before, by route: then a gsm7 route may send UCS-2.
		skipped := map[string]float64{}
		for _, r := range c.Routes {
			skipped[r.Name] = testutil.ToFloat64(m.TransliterationSkipped.WithLabelValues(r.Name))
		}
		var err error
		allocated := bounded.Allocated(t, 20*time.Second, func() { err = p.Notify(context.Background(), &n, "") })
		if err != nil {
			t.Fatalf("route %s: %v", renderRoutes[i], err)
		}
		if len(rec.msgs) == 0 {
			t.Fatalf("route %s: nothing sent", renderRoutes[i])
		}
		if bound := uint64(64*(len(value)+len(summary)+len(key)+len(externalURL))*(int(copies)+3) + 64<<20); allocated > bound {
			t.Errorf("route %s: rendering allocated %d bytes, more than %d", renderRoutes[i], allocated, bound)
		}
		for _, msg := range rec.msgs {
			if !checkMessage(t, c.Route(msg.Route), msg.Text, msg.Segments, skipped[msg.Route] < testutil.ToFloat64(m.TransliterationSkipped.WithLabelValues(msg.Route))) {
				break
			}
		}
	})
}

// checkMessage fails unless text is an SMS that can go to sipgate as it is
// and fits the route, and reports whether it is. A gsm7 route's text is
// GSM-7 unless transliterating it was skipped (ucs2Allowed).
func checkMessage(t *testing.T, r *config.Route, text string, segments int, ucs2Allowed bool) bool {
	t.Helper()
	ok := true
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("route %s: "+format, append([]any{r.Name}, args...)...)
		ok = false
	}
	if sms.Blank(text) {
		fail("empty message")
	}
	if !utf8.ValidString(text) {
		fail("invalid UTF-8 in %q", text)
	}
	if i := strings.IndexFunc(text, func(r rune) bool { return unicode.IsControl(r) || (r >= 0xE000 && r <= 0xE00F) || sms.IsMarker(r) }); i >= 0 {
		fail("%U in %q", []rune(text[i:])[0], text)
	}
	size := sms.Measure(text)
	if size.Segments > r.MaxSegments || size.Segments != segments {
		fail("%d segments (the message says %d), max %d: %q", size.Segments, segments, r.MaxSegments, text)
	}
	if r.Encoding == config.EncodingGSM7 && size.Encoding != sms.GSM7 && !ucs2Allowed {
		fail("%s message on a gsm7 route: %q", size.Encoding, text)
	}
	return ok
}

func copyKV(kv template.KV) template.KV {
	out := make(template.KV, len(kv))
	for k, v := range kv {
		out[k] = v
	}
	return out
}

// TestRouteLabelsAreNotExecuted: the route labels of a webhook are what
// Alertmanager rendered; executed again, they would be templates written by
// whoever controls alert data, and one of those can make gigabytes. A config
// whose templates cannot call routeLabels at all is as safe.
func TestRouteLabelsAreNotExecuted(t *testing.T) {
	c, err := config.Parse([]byte(`
sipgate: {dry_run: true}
routes:
  - name: r
    to: ["+4915100000001"]
    max_segments: 2
    template: '{{ .Status }} {{ routeLabels "team" }}'
`), "test.yml")
	if err != nil {
		if !strings.Contains(err.Error(), "routeLabels") {
			t.Fatal(err)
		}
		t.Logf("templates cannot call routeLabels: %v", err)
		return
	}
	rec := &recorder{}
	p, err := New(c, rec, pagedSet{}, metrics.New(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	n := load(t, "webhook-firing-2-alerts.json")
	n.RouteLabels = template.KV{"team": `{{ .ExternalURL }} {{ printf "%d%d" 4 2 }}`}
	if err := p.Notify(context.Background(), n, ""); err != nil {
		t.Fatal(err)
	}
	if len(rec.msgs) != 1 {
		t.Fatalf("messages = %+v, want one", rec.msgs)
	}
	if text := rec.msgs[0].Text; strings.Contains(text, "vm:9093") || strings.Contains(text, "42") {
		t.Errorf("the route label was executed: %q", text)
	}
}
