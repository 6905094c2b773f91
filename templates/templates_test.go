package templates

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sms"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func newEngine(t *testing.T, globs ...string) *Engine {
	t.Helper()
	e, err := New(globs)
	if err != nil {
		t.Fatalf("New(%q): %v", globs, err)
	}
	return e
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestGolden renders the webhook bodies a real Alertmanager v0.34.2 sent (copied from
// shared/alertmanager), and made-up ones shaped like them, with the default template into one
// segment of a route with encoding: gsm7:
//   - 50 alerts whose summary has typographic quotes and an emoji;
//   - Cyrillic alertname and values, transliterated;
//   - Chinese alertname and values: sent as UCS-2 rather than as question marks;
//   - a summary with two emoji, which become '?';
//   - an emoji in the instance label (and the summary), which becomes '?' in GSM-7;
//   - an emoji in the alertname and Chinese instances: UCS-2, the emoji kept;
//   - a group of several alertnames and severities (group_by: [cluster]);
//   - pods without an instance label, whose long runbook_url does not fit;
//   - a runbook_url and the link to Alertmanager, which fit.
//
// Refresh with: go test ./templates/ -update
func TestGolden(t *testing.T) {
	fixtures, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(fixtures) < 13 {
		t.Fatalf("found %d webhook fixtures in testdata, want the 4 from shared/alertmanager and 9 made up", len(fixtures))
	}
	e := newEngine(t)
	budget := sms.Budget{MaxSegments: 1, GSM7Only: true}
	for _, fixture := range fixtures {
		name := strings.TrimSuffix(filepath.Base(fixture), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(fixture)
			if err != nil {
				t.Fatal(err)
			}
			var msg notification.Notification
			if err := json.Unmarshal(body, &msg); err != nil {
				t.Fatalf("decode %s: %v", fixture, err)
			}
			if msg.Data == nil || msg.Status == "" || len(msg.Alerts) == 0 {
				t.Fatalf("%s decoded to no notification: %+v", fixture, msg)
			}

			got, err := e.RenderSMS(context.Background(), DefaultTemplate, &Data{Data: msg.Data, TruncatedAlerts: int(msg.TruncatedAlerts)}, budget)
			if err != nil {
				t.Fatalf("RenderSMS: %v", err)
			}
			// GSM-7 unless transliteration would have lost too much.
			encoding := sms.GSM7
			if got.TransliterationSkipped {
				encoding = sms.UCS2
			}
			if want := (sms.Size{Encoding: encoding, Units: got.Size.Units, Segments: 1}); got.Size != want || got.Size != sms.Measure(got.Text) {
				t.Errorf("message %q is %+v, want one %v segment", got.Text, got.Size, encoding)
			}
			// The template itself must emit a clean line, not rely on RenderSMS to squeeze out
			// stray spaces and newlines.
			raw, err := e.execute(context.Background(), DefaultTemplate, &Data{Data: msg.Data})
			if err != nil {
				t.Fatal(err)
			}
			if stripped := sms.Strip(raw); stripped != strings.Join(strings.Fields(stripped), " ") {
				t.Errorf("template output %q is not one clean line", stripped)
			}
			if !got.Truncated && !got.Transliterated && got.Text != sms.Strip(raw) {
				t.Errorf("template output %q differs from the rendered message %q", sms.Strip(raw), got.Text)
			}

			golden := filepath.Join("testdata", name+".sms.golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got.Text+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./templates/ -update to create it)", err)
			}
			if got.Text+"\n" != string(want) {
				t.Errorf("rendered\n  %q\nwant (%s)\n  %q", got.Text, golden, strings.TrimSuffix(string(want), "\n"))
			}
		})
	}
}

func alert(status string, labels, annotations template.KV) template.Alert {
	if annotations == nil {
		annotations = template.KV{}
	}
	return template.Alert{Status: status, Labels: labels, Annotations: annotations}
}

func TestDefaultMessage(t *testing.T) {
	latency := template.KV{"summary": "p99 latency 2.3s"}
	tests := []struct {
		name string
		data *template.Data
		want string
	}{
		{
			name: "all instances when they fit",
			data: &template.Data{
				Status: "firing",
				Alerts: template.Alerts{
					alert("firing", template.KV{"alertname": "HighLatency", "instance": "api-1"}, latency),
					alert("firing", template.KV{"alertname": "HighLatency", "instance": "api-2"}, latency),
					alert("firing", template.KV{"alertname": "HighLatency", "instance": "api-3"}, latency),
				},
				CommonLabels:      template.KV{"alertname": "HighLatency", "severity": "critical"},
				CommonAnnotations: latency,
			},
			want: "FIRING 3 HighLatency critical api-1,api-2,api-3: p99 latency 2.3s",
		},
		{
			name: "instances that do not fit become +N more",
			data: &template.Data{
				Status: "firing",
				Alerts: template.Alerts{
					alert("firing", template.KV{"alertname": "HighLatency", "instance": longHost(1)}, latency),
					alert("firing", template.KV{"alertname": "HighLatency", "instance": longHost(2)}, latency),
					alert("firing", template.KV{"alertname": "HighLatency", "instance": longHost(3)}, latency),
				},
				CommonLabels:      template.KV{"alertname": "HighLatency", "severity": "critical"},
				CommonAnnotations: latency,
			},
			want: "FIRING 3 HighLatency critical " + longHost(1) + "," + longHost(2) + ",+1 more: p99 latency 2.3s",
		},
		{
			name: "a long summary is shortened",
			data: &template.Data{
				Status: "firing",
				Alerts: template.Alerts{
					alert("firing", template.KV{"alertname": "A", "instance": "i-1"}, nil),
					alert("firing", template.KV{"alertname": "A", "instance": "i-2"}, nil),
				},
				CommonLabels:      template.KV{"alertname": "A", "severity": "critical"},
				CommonAnnotations: template.KV{"summary": strings.Repeat("x", 200)},
			},
			want: "FIRING 2 A critical i-1,i-2: " + strings.Repeat("x", 128) + "...",
		},
		{
			name: "many instances and a long summary",
			data: &template.Data{
				Status: "firing",
				Alerts: func() template.Alerts {
					var as template.Alerts
					for i := range 40 {
						as = append(as, alert("firing", template.KV{"alertname": "A", "instance": fmt.Sprintf("web-%02d", i+1)}, nil))
					}
					return as
				}(),
				CommonLabels:      template.KV{"alertname": "A", "severity": "critical"},
				CommonAnnotations: template.KV{"summary": "Checkout p99 latency above the 500ms SLO, customers see timeouts"},
			},
			// 20 + 17 * 7 + 8 + 16 = 163 with 17 instances; 16 leave the summary 20.
			want: "FIRING 40 A critical web-01,web-02,web-03,web-04,web-05,web-06,web-07,web-08,web-09,web-10,web-11,web-12,web-13,web-14,web-15,web-16,+24 more: Checkout p99 l...",
		},
		{
			name: "an instance is listed and counted once",
			data: &template.Data{
				Status: "firing",
				Alerts: template.Alerts{
					alert("firing", template.KV{"alertname": "A", "instance": "a", "path": "/x"}, nil),
					alert("firing", template.KV{"alertname": "A", "instance": "a", "path": "/y"}, nil),
					alert("firing", template.KV{"alertname": "A", "instance": "b"}, nil),
					alert("firing", template.KV{"alertname": "A", "instance": "b", "path": "/z"}, nil),
				},
				CommonLabels: template.KV{"alertname": "A"},
			},
			want: "FIRING 4 A a,b",
		},
		{
			name: "pod, host and job stand in for a missing instance",
			data: &template.Data{
				Status: "firing",
				Alerts: template.Alerts{
					alert("firing", template.KV{"alertname": "A", "pod": "p-1", "job": "ignored"}, nil),
					alert("firing", template.KV{"alertname": "A", "host": "h-1", "job": "ignored"}, nil),
					alert("firing", template.KV{"alertname": "A", "job": "j"}, nil),
					alert("firing", template.KV{"alertname": "A"}, nil),
				},
			},
			want: "FIRING 4 A p-1,h-1,j",
		},
		{
			name: "a firing group counts and lists only its firing alerts",
			data: &template.Data{
				Status: "firing",
				Alerts: template.Alerts{
					alert("resolved", template.KV{"alertname": "Down", "instance": "web-1"}, template.KV{"summary": "web-1 down"}),
					alert("firing", template.KV{"alertname": "Down", "instance": "web-2"}, template.KV{"summary": "web-2 down"}),
					alert("resolved", template.KV{"alertname": "Down", "instance": "web-3"}, template.KV{"summary": "web-3 down"}),
				},
				GroupLabels:  template.KV{"alertname": "Down"},
				CommonLabels: template.KV{"alertname": "Down", "severity": "page"},
			},
			want: "FIRING 1 Down page web-2: web-2 down",
		},
		{
			name: "alertname from the group labels",
			data: &template.Data{
				Status: "resolved",
				Alerts: template.Alerts{
					alert("resolved", template.KV{"instance": "x"}, nil),
					alert("resolved", template.KV{"instance": "y"}, nil),
				},
				GroupLabels:       template.KV{"alertname": "Grouped"},
				CommonLabels:      template.KV{},
				CommonAnnotations: template.KV{"summary": "all good"},
			},
			want: "RESOLVED 2 Grouped x,y: all good",
		},
		{
			name: "one alertname of several severities: the highest counted, its locations first",
			data: &template.Data{
				Status: "resolved",
				Alerts: template.Alerts{
					alert("resolved", template.KV{"alertname": "Grouped", "instance": "x", "severity": "warning"}, nil),
					alert("resolved", template.KV{"alertname": "Grouped", "instance": "y", "severity": "critical"}, nil),
					alert("resolved", template.KV{"alertname": "Grouped", "instance": "z", "severity": "critical"}, nil),
				},
				GroupLabels:       template.KV{"alertname": "Grouped"},
				CommonLabels:      template.KV{"alertname": "Grouped"},
				CommonAnnotations: template.KV{"summary": "all good"},
			},
			want: "RESOLVED 3 (2 critical) Grouped y,z,x: all good",
		},
		{
			name: "summary of the most severe alert",
			data: &template.Data{
				Status: "firing",
				Alerts: template.Alerts{
					alert("firing", template.KV{"alertname": "A", "instance": "i-1", "severity": "warning"}, template.KV{"summary": "mild"}),
					alert("firing", template.KV{"alertname": "A", "instance": "i-2", "severity": "critical"}, template.KV{"summary": "bad"}),
				},
			},
			want: "FIRING 2 (1 critical) A i-2,i-1: bad",
		},
		{
			name: "several alertnames: each with its locations, no summary of one for all",
			data: &template.Data{
				Status: "firing",
				Alerts: template.Alerts{
					alert("firing", template.KV{"alertname": "First", "instance": "i-1"}, template.KV{"summary": "first summary"}),
					alert("firing", template.KV{"alertname": "Second", "instance": "i-2"}, template.KV{"summary": "second summary"}),
				},
				GroupLabels: template.KV{"team": "db"},
			},
			want: "FIRING 2 First i-1; Second i-2",
		},
		{
			name: "several alertnames: highest severity first, then by name, with a common summary",
			data: &template.Data{
				Status: "firing",
				Alerts: template.Alerts{
					alert("firing", template.KV{"alertname": "TargetDown", "instance": "api-3", "severity": "warning"}, template.KV{"summary": "x"}),
					alert("firing", template.KV{"alertname": "Unranked", "instance": "u-1", "severity": "page"}, template.KV{"summary": "x"}),
					alert("firing", template.KV{"alertname": "NoSeverity", "instance": "n-1"}, template.KV{"summary": "x"}),
					alert("firing", template.KV{"alertname": "HighCPU", "instance": "node-2", "severity": "critical"}, template.KV{"summary": "x"}),
					alert("firing", template.KV{"alertname": "DiskFull", "instance": "db-1", "severity": "critical"}, template.KV{"summary": "x"}),
					alert("firing", template.KV{"alertname": "HighCPU", "instance": "node-1", "severity": "info"}, template.KV{"summary": "x"}),
					alert("firing", template.KV{"alertname": "Debug", "instance": "d-1", "severity": "info"}, template.KV{"summary": "x"}),
				},
				CommonAnnotations: template.KV{"summary": "x"},
			},
			want: "FIRING 7 (2 critical) DiskFull db-1; HighCPU node-2,node-1; TargetDown api-3; Debug d-1; Unranked u-1; NoSeverity n-1: x",
		},
		{
			name: "several alertnames of one severity",
			data: &template.Data{
				Status: "firing",
				Alerts: template.Alerts{
					alert("firing", template.KV{"alertname": "B", "instance": "b-1", "severity": "warning"}, nil),
					alert("firing", template.KV{"alertname": "A", "instance": "a-1", "severity": "warning"}, nil),
				},
			},
			want: "FIRING 2 (2 warning) A a-1; B b-1",
		},
		{
			name: "several alertnames: locations dropped from the longest lists first, names survive",
			data: &template.Data{
				Status: "firing",
				Alerts: func() template.Alerts {
					var as template.Alerts
					for i := range 30 {
						as = append(as, alert("firing", template.KV{"alertname": "HighCPU", "instance": fmt.Sprintf("node-%02d", i+1), "severity": "critical"}, nil))
					}
					as = append(as, alert("firing", template.KV{"alertname": "DiskFull", "instance": "db-1", "severity": "warning"}, nil))
					return as
				}(),
			},
			want: "FIRING 31 (30 critical) HighCPU node-01,node-02,node-03,node-04,node-05,node-06,node-07,node-08,node-09,node-10,node-11,node-12,node-13,+17 more; DiskFull db-1",
		},
		{
			name: "without instance: pod, node, host, service, namespace, job, cluster",
			data: &template.Data{
				Status: "firing",
				Alerts: template.Alerts{
					alert("firing", template.KV{"alertname": "A", "pod": "p-1", "namespace": "ns", "job": "j"}, nil),
					alert("firing", template.KV{"alertname": "A", "node": "n-1", "cluster": "c"}, nil),
					alert("firing", template.KV{"alertname": "A", "host": "h-1", "service": "s"}, nil),
					alert("firing", template.KV{"alertname": "A", "service": "s", "namespace": "ns"}, nil),
					alert("firing", template.KV{"alertname": "A", "namespace": "ns", "job": "j"}, nil),
					alert("firing", template.KV{"alertname": "A", "job": "j", "cluster": "c"}, nil),
					alert("firing", template.KV{"alertname": "A", "cluster": "c"}, nil),
					alert("firing", template.KV{"alertname": "A", "container": "ignored"}, nil),
				},
			},
			want: "FIRING 8 A p-1,n-1,h-1,s,ns,j,c",
		},
		{
			name: "runbook and link while firing, where they fit",
			data: &template.Data{
				Status:            "firing",
				Receiver:          "sms & pager",
				ExternalURL:       "http://am:9093",
				Alerts:            template.Alerts{alert("firing", template.KV{"alertname": "A", "instance": "i-1"}, template.KV{"runbook_url": "https://r.example/A"})},
				CommonAnnotations: template.KV{"summary": "broken"},
			},
			want: "FIRING 1 A i-1: broken Runbook: https://r.example/A Alerts: http://am:9093/#/alerts?receiver=sms+%26+pager",
		},
		{
			name: "the link gives way first, then the runbook, before the summary is cut",
			data: &template.Data{
				Status:            "firing",
				Receiver:          "sms",
				ExternalURL:       "http://alertmanager.example.com:9093",
				Alerts:            template.Alerts{alert("firing", template.KV{"alertname": "A", "instance": "i-1"}, nil)},
				CommonAnnotations: template.KV{"summary": strings.Repeat("s", 80), "runbook_url": "https://runbooks.example.com/" + strings.Repeat("r", 30)},
			},
			want: "FIRING 1 A i-1: " + strings.Repeat("s", 80),
		},
		{
			name: "the runbook gives way, the link fits",
			data: &template.Data{
				Status:            "firing",
				Receiver:          "sms",
				ExternalURL:       "http://am:9093",
				Alerts:            template.Alerts{alert("firing", template.KV{"alertname": "A", "instance": "i-1"}, nil)},
				CommonAnnotations: template.KV{"summary": strings.Repeat("s", 60), "runbook_url": "https://runbooks.example.com/" + strings.Repeat("r", 50)},
			},
			want: "FIRING 1 A i-1: " + strings.Repeat("s", 60) + " Alerts: http://am:9093/#/alerts?receiver=sms",
		},
		{
			name: "several alertnames: only a common runbook",
			data: &template.Data{
				Status: "firing",
				Alerts: template.Alerts{
					alert("firing", template.KV{"alertname": "A", "instance": "i-1"}, template.KV{"runbook_url": "https://r/a"}),
					alert("firing", template.KV{"alertname": "B", "instance": "i-2"}, template.KV{"runbook_url": "https://r/b"}),
				},
			},
			want: "FIRING 2 A i-1; B i-2",
		},
		{
			name: "no runbook nor link once resolved",
			data: &template.Data{
				Status:            "resolved",
				Receiver:          "sms",
				ExternalURL:       "http://am:9093",
				Alerts:            template.Alerts{alert("resolved", template.KV{"alertname": "A", "instance": "i-1"}, template.KV{"runbook_url": "https://r/a"})},
				CommonAnnotations: template.KV{"runbook_url": "https://r/a"},
			},
			want: "RESOLVED 1 A i-1",
		},
		{
			name: "description when there is no summary",
			data: &template.Data{
				Status: "firing",
				Alerts: template.Alerts{
					alert("firing", template.KV{"alertname": "A"}, template.KV{"description": "the description"}),
				},
			},
			want: "FIRING 1 A: the description",
		},
		{
			name: "message annotation when there is no summary nor description",
			data: &template.Data{
				Status: "firing",
				Alerts: template.Alerts{
					alert("firing", template.KV{"alertname": "A"}, template.KV{"message": "the message"}),
				},
			},
			want: "FIRING 1 A: the message",
		},
		{
			name: "no summary leaves no colon",
			data: &template.Data{
				Status: "firing",
				Alerts: template.Alerts{
					alert("firing", template.KV{"alertname": "DiskFull", "instance": "db-1"}, template.KV{"runbook": "http://x"}),
				},
				CommonLabels: template.KV{"alertname": "DiskFull", "instance": "db-1", "severity": "warning"},
			},
			want: "FIRING 1 DiskFull warning db-1",
		},
		{
			name: "no alerts at all",
			data: &template.Data{Status: "firing"},
			want: "FIRING",
		},
		{
			name: "a multi-line summary becomes one line",
			data: &template.Data{
				Status: "firing",
				Alerts: template.Alerts{
					alert("firing", template.KV{"alertname": "A"}, nil),
				},
				CommonAnnotations: template.KV{"summary": "\n  line one\n\n\tline two  \n"},
			},
			want: "FIRING 1 A: line one line two",
		},
	}
	e := newEngine(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.RenderSMS(context.Background(), DefaultTemplate, &Data{Data: tt.data}, sms.Budget{MaxSegments: 1})
			if err != nil {
				t.Fatalf("RenderSMS: %v", err)
			}
			if got.Text != tt.want {
				t.Errorf("RenderSMS =\n  %q\nwant\n  %q", got.Text, tt.want)
			}
		})
	}
}

// longHost is an instance name of 49 characters.
func longHost(i int) string {
	return fmt.Sprintf("api-%d.checkout.eu-central-1.prod.example.com:8443", i)
}

// TestRenderSMSText: the text RenderSMS makes of a template's output in one segment. How a
// text is cut to fit (rune counts, the cut mark) is sms.Fit's, tested in internal/sms.
func TestRenderSMSText(t *testing.T) {
	data := samples()[0].data
	tests := []struct {
		name          string
		text          string
		want          string
		wantTruncated bool
	}{
		{name: "fits", text: "abcdef", want: "abcdef"},
		{name: "over the budget: hard cut", text: strings.Repeat("x", 500), want: strings.Repeat("x", 157) + "...", wantTruncated: true},
		{name: "surrounding whitespace trimmed", text: " \n\t hello \n ", want: "hello"},
		{name: "whitespace runs collapsed", text: "a  b\n\nc\t\td \r\n e", want: "a b c d e"},
		{name: "collapsed before fitting", text: "ab" + strings.Repeat(" ", 200) + "cd" + strings.Repeat("\n", 200) + "ef", want: "ab cd ef"},
		{name: "collapses what the data brings", text: "{{ .Status }}\n{{ range .Alerts }}  {{ .Labels.instance }}\n{{ end }}", want: "firing web-1:8080 web-2:8080"},
		{name: "Alertmanager functions", text: `{{ .CommonLabels.alertname | toLower }} {{ .CommonLabels.Values | join "/" }}`, want: "higherrorrate HighErrorRate/checkout/critical"},
		{name: "Alertmanager's own templates", text: `{{ template "__subject" . }}`, want: "[FIRING:2] HighErrorRate (checkout critical)"},
		{name: "markup removed", text: `{{ shorten "a  b" }}  {{ items (list "c" "d") ", " }}`, want: "a b c, d"},
		{name: "markup does not count toward the budget", text: `{{ .Status }} {{ shorten (printf "%0153d" 0) }}`, want: "firing " + strings.Repeat("0", 153)},
	}
	e := newEngine(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.RenderSMS(context.Background(), tt.text, &Data{Data: data}, sms.Budget{MaxSegments: 1})
			if err != nil {
				t.Fatalf("RenderSMS: %v", err)
			}
			if got.Text != tt.want {
				t.Errorf("RenderSMS = %q, want %q", got.Text, tt.want)
			}
			if got.Truncated != tt.wantTruncated {
				t.Errorf("Truncated = %t, want %t", got.Truncated, tt.wantTruncated)
			}
			if got.Size != sms.Measure(got.Text) || got.Size.Segments != 1 {
				t.Errorf("Size = %+v, want one segment, Measure(Text) = %+v", got.Size, sms.Measure(got.Text))
			}
		})
	}
}

func TestRenderSMS(t *testing.T) {
	data := samples()[0].data
	one := sms.Budget{MaxSegments: 1}
	tests := []struct {
		name   string
		text   string
		budget sms.Budget
		want   sms.Result
	}{
		{
			name:   "fits",
			text:   `{{ .Status }} {{ len .Alerts.Firing }} {{ items (list "a" "b") "," }}`,
			budget: one,
			want:   sms.Result{Text: "firing 2 a,b", Size: sms.Size{Encoding: sms.GSM7, Units: 12, Segments: 1}},
		},
		{
			name:   "whitespace collapsed across the markup",
			text:   "\n {{ .Status }}  \n {{ shorten \"  x  \\n y \" }} \n {{ items (list \"a\" \" b\") \",  \" }}\t!\n",
			budget: one,
			want:   sms.Result{Text: "firing x y a, b !", Size: sms.Size{Encoding: sms.GSM7, Units: 17, Segments: 1}},
		},
		{
			name:   "cut to the budget",
			text:   `{{ .Status }} {{ items (list "a" "b" "c") "," }}{{ shorten (printf "%0200d" 0) }}`,
			budget: one,
			want: sms.Result{
				Text:      "firing a,b,c" + strings.Repeat("0", 145) + "...",
				Size:      sms.Size{Encoding: sms.GSM7, Units: 160, Segments: 1},
				Truncated: true,
				Cut:       sms.Cut{Spans: 1, SpanLimit: 148},
			},
		},
		{
			name:   "UCS-2 when the budget allows",
			text:   `{{ .Status }} {{ shorten "“5xx” 🔥" }}`,
			budget: one,
			want:   sms.Result{Text: "firing “5xx” 🔥", Size: sms.Size{Encoding: sms.UCS2, Units: 15, Segments: 1}},
		},
		{
			name:   "transliterated for gsm7",
			text:   `{{ .Status }} {{ shorten "“5xx” 🔥" }}`,
			budget: sms.Budget{MaxSegments: 1, GSM7Only: true},
			want: sms.Result{
				Text:           `firing "5xx" ?`,
				Size:           sms.Size{Encoding: sms.GSM7, Units: 14, Segments: 1},
				Transliterated: true,
			},
		},
		{
			name:   "markers in the data are plain text",
			text:   `{{ items (list "a\ue003" "\ue004b") "," }} {{ shorten "\ue001c" }}`,
			budget: one,
			want:   sms.Result{Text: "a,b c", Size: sms.Size{Encoding: sms.GSM7, Units: 5, Segments: 1}},
		},
	}
	e := newEngine(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.RenderSMS(context.Background(), tt.text, &Data{Data: data}, tt.budget)
			if err != nil {
				t.Fatalf("RenderSMS: %v", err)
			}
			if got != tt.want {
				t.Errorf("RenderSMS =\n  %+v\nwant\n  %+v", got, tt.want)
			}
		})
	}
}

// TestCollapse: normalising whitespace sees through the markup, so that stripping the markup
// afterwards gives what normalising after stripping would.
func TestCollapse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // sms.Strip(collapse(in))
	}{
		{"plain", "  a \n\t b  ", "a b"},
		{"span inside a run", "a \ue000 b \ue001 c", "a b c"},
		{"markup at the ends", " \ue000 a\ue001 ", "a"},
		{"list separator with a space", "x \ue002a\ue004, \ue005b\ue003 y", "x a, b y"},
		{"separator of only whitespace", "x\ue002a\ue004  \n\ue005b\ue003", "xa b"},
		{"only markup and whitespace", " \ue000 \ue001 ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := collapse(tt.in)
			if s := sms.Strip(got); s != tt.want {
				t.Errorf("Strip(collapse(%q)) = %q, want %q", tt.in, s, tt.want)
			}
			if want := strings.Join(strings.Fields(sms.Strip(tt.in)), " "); tt.want != want {
				t.Errorf("test case: want %q, but collapsing after Strip gives %q", tt.want, want)
			}
			if n := strings.Count(got, "\ue000") + strings.Count(got, "\ue002"); n != strings.Count(tt.in, "\ue000")+strings.Count(tt.in, "\ue002") {
				t.Errorf("collapse(%q) = %q lost markers", tt.in, got)
			}
		})
	}
}

// TestCollapseDropsControlCharacters: what sipgate would not get is not
// in the text, so a text of nothing else is empty.
func TestCollapseDropsControlCharacters(t *testing.T) {
	for in, want := range map[string]string{
		"a\x07b":               "ab",
		"\x00 a \x1b[1m b\x7f": "a [1m b",
		"a\u009fb \u0085\n c":  "ab c", // U+0085 is white space, U+009F is not
		"\x07":                 "",
		"a \x07 b":             "a b",
	} {
		if got := collapse(in); got != want {
			t.Errorf("collapse(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRenderSMSErrors(t *testing.T) {
	data := samples()[0].data
	tests := []struct {
		name      string
		text      string
		data      *template.Data
		budget    sms.Budget
		wantEmpty bool   // the error wraps ErrEmptyMessage
		wantText  string // the error contains this
	}{
		{name: "empty text", text: "", data: data, wantEmpty: true},
		{name: "only whitespace", text: " \n\t ", data: data, wantEmpty: true},
		{name: "renders nothing", text: `{{ if false }}x{{ end }}`, data: data, wantEmpty: true},
		{name: "renders a missing label", text: ` {{ .CommonLabels.nothere }} `, data: data, wantEmpty: true},
		{name: "only markup", text: `{{ items (list "" " ") "" }} {{ shorten " " }}`, data: data, wantEmpty: true},
		{name: "transliterated to nothing", text: "\u200b\ufeff", data: data, budget: sms.Budget{GSM7Only: true}, wantEmpty: true},
		{name: "only control characters", text: `{{ printf "%c%c" 7 0x85 }} `, data: data, wantEmpty: true},
		{name: "fails to execute", text: `{{ index .Alerts 9 }}`, data: data, wantText: "index out of range"},
		{name: "unknown field", text: `{{ .Nothere }}`, data: data, wantText: `executing "" at <.Nothere>: can't evaluate field Nothere in type *templates.Data`},
		{name: "items of no list", text: `{{ items .Status "," }}`, data: data, wantText: "items: want a list of strings, got string"},
		{name: "does not parse", text: `{{ .Status `, data: data, wantText: "unclosed action"},
		{name: "no data", text: DefaultTemplate, data: nil, wantText: "no notification data"},
	}
	e := newEngine(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.RenderSMS(context.Background(), tt.text, &Data{Data: tt.data}, tt.budget)
			if err == nil {
				t.Fatalf("RenderSMS = %+v, want an error", got)
			}
			if got != (sms.Result{}) {
				t.Errorf("RenderSMS returned %+v along with error %v", got, err)
			}
			if errors.Is(err, ErrEmptyMessage) != tt.wantEmpty {
				t.Errorf("errors.Is(%v, ErrEmptyMessage) = %t, want %t", err, !tt.wantEmpty, tt.wantEmpty)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", err, tt.wantText)
			}
		})
	}
}

func TestTemplateFuncs(t *testing.T) {
	data := samples()[0].data
	tests := []struct {
		name string
		text string
		want string
	}{
		{name: "shorten", text: `{{ shorten "abc" }}`, want: "abc"},
		{name: "items of list", text: `{{ items (list "a" "b" 3) "," }}`, want: "a,b,3"},
		{name: "items of append", text: `{{ items (append (list "a") "b") ", " }}`, want: "a, b"},
		{name: "items of stringSlice", text: `{{ items (stringSlice "a" "b") "/" }}`, want: "a/b"},
		{name: "items of template.Strings", text: `{{ items .CommonLabels.Values " " }}`, want: "HighErrorRate checkout critical"},
		{name: "items of an empty list", text: `x{{ items (list) "," }}`, want: "x"},
		{name: "labelValues", text: `{{ join "," (labelValues .Alerts "instance") }}`, want: "web-1:8080,web-2:8080"},
		{name: "labelValues distinct", text: `{{ join "," (labelValues .Alerts "job") }}`, want: "checkout"},
		{name: "labelValues falls back", text: `{{ join "," (labelValues .Alerts "pod" "job" "instance") }}`, want: "checkout"},
		{name: "labelValues into items", text: `{{ items (labelValues .Alerts "instance") ";" }}`, want: "web-1:8080;web-2:8080"},
		{name: "labelValues of no label", text: `x{{ range labelValues .Alerts "nothere" }}{{ . }}{{ end }}`, want: "x"},
		{name: "smsSegments of one", text: `{{ smsSegments "abc" }}`, want: "1"},
		{name: "smsSegments of 161 septets", text: `{{ smsSegments (printf "%0161d" 0) }}`, want: "2"},
		{name: "smsSegments of 71 UCS-2 units", text: `{{ smsSegments (printf "%069d" 0 | printf "%s😀") }}`, want: "2"},
		{name: "smsSegments ignores markup", text: `{{ smsSegments (shorten (printf "%0160d" 0)) }}`, want: "1"},
		{name: "smsTruncate GSM-7", text: `{{ "abcdefghij" | smsTruncate 6 }}`, want: "abc..."},
		{name: "smsTruncate UCS-2", text: `{{ smsTruncate 3 "жжжжж" }}`, want: "жж…"},
		{name: "smsTruncate short enough", text: `{{ smsTruncate 3 "abc" }}`, want: "abc"},
		{name: "smsTruncate removes markup", text: `{{ shorten "abcdefghij" | smsTruncate 6 }}`, want: "abc..."},
		{name: "optional", text: `a{{ optional " b" }}`, want: "a b"},
		{name: "legible", text: `a {{ legible "b" }}`, want: "a b"},
		{name: "location", text: `{{ range .Alerts }}{{ location . }} {{ end }}`, want: "web-1:8080 web-2:8080"},
		{name: "locations", text: `{{ items (locations .Alerts) "," }}`, want: "web-1:8080,web-2:8080"},
		{name: "byAlertname", text: `{{ range byAlertname .Alerts .SeverityOrder }}{{ .Name }} {{ .Severity }} {{ len .Alerts }} {{ join "," .Locations }}{{ end }}`, want: "HighErrorRate critical 2 web-1:8080,web-2:8080"},
		{name: "byAlertname with an order of its own", text: `{{ range byAlertname .Alerts (stringSlice "critical") }}{{ .Name }}{{ end }}`, want: "HighErrorRate"},
		{name: "byAlertname with no order", text: `{{ range byAlertname .Alerts nil }}{{ .Name }}{{ end }}`, want: "HighErrorRate"},
		{name: "topSeverity", text: `{{ with topSeverity .Alerts.Firing .SeverityOrder }}{{ .Count }} {{ .Severity }}{{ end }}`, want: "2 critical"},
	}
	e := newEngine(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.Check(tt.text); err != nil {
				t.Errorf("Check: %v", err)
			}
			got, err := e.RenderSMS(context.Background(), tt.text, &Data{Data: data}, sms.Budget{MaxSegments: 10})
			if err != nil {
				t.Fatalf("RenderSMS: %v", err)
			}
			if got.Text != tt.want {
				t.Errorf("RenderSMS = %q, want %q", got.Text, tt.want)
			}
		})
	}
}

// TestUserTemplateFuncs: the functions also work in a user's template files.
func TestUserTemplateFuncs(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "user.tmpl", `{{ define "user.sms" }}{{ .Status }} {{ items (stringSlice "a" "b" "c") "," }}{{ shorten ": summary" }}{{ end }}`)
	e := newEngine(t, filepath.Join(dir, "*.tmpl"))
	got, err := e.RenderSMS(context.Background(), `{{ template "user.sms" . }}`, &Data{Data: samples()[0].data}, sms.Budget{MaxSegments: 1})
	if err != nil {
		t.Fatalf("RenderSMS: %v", err)
	}
	if want := "firing a,b,c: summary"; got.Text != want {
		t.Errorf("RenderSMS = %q, want %q", got.Text, want)
	}
}

func TestUserTemplates(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "override.tmpl", `{{ define "sms.default.message" }}CUSTOM {{ .Status }} {{ template "team" . }}{{ end }}`)
	writeFile(t, dir, "added.tmpl", `{{ define "team" }}team={{ .CommonLabels.team }}{{ end }}
{{ define "my.sms" }}{{ .Alerts.Firing | len }} firing on {{ .CommonLabels.job }}{{ end }}`)
	writeFile(t, dir, "ignored.txt", `{{ this is not a template`)

	data := samples()[0].data
	data.CommonLabels["team"] = "payments"
	tests := []struct {
		name  string
		globs []string
		text  string
		want  string
	}{
		{name: "no user templates", text: DefaultTemplate, want: "FIRING 2 HighErrorRate critical web-1:8080,web-2:8080: Checkout 5xx rate above 5% Alerts: http://alertmanager.example:9093/#/alerts?receiver=sms"},
		{name: "overrides the built-in default", globs: []string{filepath.Join(dir, "*.tmpl")}, text: DefaultTemplate, want: "CUSTOM firing team=payments"},
		{name: "adds a template", globs: []string{filepath.Join(dir, "*.tmpl")}, text: `{{ template "my.sms" . }}`, want: "2 firing on checkout"},
		{name: "a glob that matches nothing", globs: []string{filepath.Join(dir, "none", "*.tmpl"), filepath.Join(dir, "added.tmpl")}, text: DefaultTemplate, want: "FIRING 2 HighErrorRate critical web-1:8080,web-2:8080: Checkout 5xx rate above 5% Alerts: http://alertmanager.example:9093/#/alerts?receiver=sms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t, tt.globs...)
			if err := e.Check(tt.text); err != nil {
				t.Errorf("Check: %v", err)
			}
			got, err := e.RenderSMS(context.Background(), tt.text, &Data{Data: data}, sms.Budget{MaxSegments: 1})
			if err != nil {
				t.Fatalf("RenderSMS: %v", err)
			}
			if got.Text != tt.want {
				t.Errorf("RenderSMS = %q, want %q", got.Text, tt.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "good.tmpl", `{{ define "good" }}ok{{ end }}`)
	writeFile(t, dir, "broken.tmpl", `{{ define "broken" }}{{ foo . }}{{ end }}`)
	tests := []struct {
		name  string
		globs []string
		want  []string // the error contains each
	}{
		{name: "undefined function", globs: []string{filepath.Join(dir, "*.tmpl")}, want: []string{"broken.tmpl", `function "foo" not defined`}},
		{name: "bad glob", globs: []string{filepath.Join(dir, "[")}, want: []string{"syntax error in pattern"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(tt.globs)
			if err == nil {
				t.Fatalf("New(%q) = %v, want an error", tt.globs, e)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "user.tmpl", `{{ define "user.sms" }}{{ .Status }} {{ .CommonLabels.alertname }}{{ end }}`)
	e := newEngine(t, filepath.Join(dir, "*.tmpl"))

	tests := []struct {
		name      string
		text      string
		wantErr   []string // the error contains each; none means valid
		wantEmpty bool     // the error wraps ErrEmptyMessage
	}{
		{name: "default template", text: DefaultTemplate},
		{name: "Alertmanager functions", text: `{{ .CommonLabels.alertname | toLower }}: {{ len .Alerts.Firing }} firing since {{ (index .Alerts 0).StartsAt | date "15:04" }}`},
		{name: "Alertmanager's own templates", text: `{{ template "__subject" . }}`},
		{name: "user template", text: `{{ template "user.sms" . }}`},
		{name: "branches on status", text: `{{ if eq .Status "firing" }}{{ len .Alerts.Firing }} firing{{ else }}all resolved{{ end }}`},
		{name: "undefined function", text: `{{ .Status | foo }}`, wantErr: []string{`function "foo" not defined`}},
		{name: "does not parse", text: `{{ if .Status }}x`, wantErr: []string{"unexpected EOF"}},
		{name: "missing named template", text: `{{ template "nope" . }}`, wantErr: []string{`template "nope" not defined`, "firing"}},
		{name: "fails on execution", text: `{{ index .Alerts 7 }}`, wantErr: []string{"index out of range", "firing"}},
		{name: "fails only when resolved", text: `{{ (index .Alerts.Firing 0).Labels.instance }}`, wantErr: []string{"index out of range", "resolved"}},
		{name: "unknown time zone", text: `{{ now | tz "Nowhere/Atlantis" }}`, wantErr: []string{"Nowhere/Atlantis"}},
		{name: "empty", text: "", wantErr: []string{"firing"}, wantEmpty: true},
		{name: "empty when resolved", text: `{{ if eq .Status "firing" }}fire{{ end }}`, wantErr: []string{"resolved"}, wantEmpty: true},
		{name: "SMS functions", text: `{{ .Status }} {{ items .CommonLabels.Values "," }}{{ shorten .CommonAnnotations.summary }} {{ smsSegments .Status }} {{ .Status | smsTruncate 4 }}`},
		{name: "only markup", text: `{{ items (list "") "," }} {{ shorten "" }}`, wantErr: []string{"firing"}, wantEmpty: true},
		{name: "only control characters", text: `{{ printf "%c" 7 }}`, wantErr: []string{"firing"}, wantEmpty: true},
		{name: "items of no list", text: `{{ items 42 "," }}`, wantErr: []string{"items: want a list of strings, got int", "firing"}},
		{name: "labelValues without a name", text: `{{ labelValues .Alerts }}`, wantErr: []string{"labelValues: want one or more label names", "firing"}},
		{name: "labelValues of no alerts", text: `{{ labelValues .CommonLabels "job" }}`, wantErr: []string{"expected []template.Alert; got template.KV", "firing"}},
		{name: "grouping functions", text: `{{ range byAlertname .Alerts .SeverityOrder }}{{ .Name }}{{ end }} {{ (topSeverity .Alerts nil).Severity }} {{ locations .Alerts }} {{ location (index .Alerts 0) }}`},
		{name: "byAlertname without an order", text: `{{ byAlertname .Alerts }}`, wantErr: []string{"wrong number of args for byAlertname", "firing"}},
		{name: "location of the alerts", text: `{{ location .Alerts }}`, wantErr: []string{"expected template.Alert", "firing"}},
		{name: "unknown field", text: `{{ .Nothere }}`, wantErr: []string{"can't evaluate field Nothere in type *templates.Data", "firing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.Check(tt.text)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Errorf("Check: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Check accepted the template, want an error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if errors.Is(err, ErrEmptyMessage) != tt.wantEmpty {
				t.Errorf("errors.Is(%v, ErrEmptyMessage) = %t, want %t", err, !tt.wantEmpty, tt.wantEmpty)
			}
		})
	}
}

// TestConcurrentUse runs under -race: one Engine serves every request, and every render of the
// same notification gives the same message.
func TestConcurrentUse(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "user.tmpl", `{{ define "user.sms" }}{{ .Status }} {{ len .Alerts }}{{ end }}`)
	e := newEngine(t, filepath.Join(dir, "*.tmpl"))
	budget := sms.Budget{MaxSegments: 1}
	var want []sms.Result
	for _, s := range samples()[:2] {
		r, err := e.RenderSMS(context.Background(), DefaultTemplate, &Data{Data: s.data}, budget)
		if err != nil {
			t.Fatalf("RenderSMS with the sample %s notification: %v", s.name, err)
		}
		if !strings.HasPrefix(r.Text, strings.ToUpper(s.data.Status)+" 2 HighErrorRate") {
			t.Fatalf("unexpected message %q", r.Text)
		}
		want = append(want, r)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		wg.Go(func() {
			s := samples()[i%2]
			for range 20 {
				if err := e.Check(`{{ template "user.sms" . }}`); err != nil {
					errs <- err
					return
				}
				got, err := e.RenderSMS(context.Background(), DefaultTemplate, &Data{Data: s.data}, budget)
				if err != nil {
					errs <- err
					return
				}
				if got != want[i%2] {
					errs <- fmt.Errorf("RenderSMS = %+v, want %+v", got, want[i%2])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// storm returns a firing group of n alerts of one alertname, each on its own instance, shaped
// like what Alertmanager sends in an alert storm.
func storm(n int) *template.Data {
	alerts := make(template.Alerts, n)
	for i := range alerts {
		instance := fmt.Sprintf("checkout-%05d.prod.example.com:8080", i+1)
		alerts[i] = template.Alert{
			Status: "firing",
			Labels: template.KV{
				"alertname": "HighLatency",
				"instance":  instance,
				"job":       "checkout",
				"service":   "checkout",
				"severity":  "critical",
			},
			Annotations: template.KV{
				"summary":     "Checkout p99 latency above the 500ms SLO",
				"description": "p99 latency of the checkout service is 2.1s over the last 5m on " + instance,
			},
			Fingerprint: fmt.Sprintf("%016x", i),
		}
	}
	return &template.Data{
		Receiver:          "sms",
		Status:            "firing",
		Alerts:            alerts,
		GroupLabels:       template.KV{"alertname": "HighLatency"},
		CommonLabels:      template.KV{"alertname": "HighLatency", "job": "checkout", "service": "checkout", "severity": "critical"},
		CommonAnnotations: template.KV{"summary": "Checkout p99 latency above the 500ms SLO"},
		RouteLabels:       template.KV{},
	}
}

// BenchmarkRenderSMS renders notifications of 2 to 10,000 alerts with the built-in template into
// one segment, as a route with the defaults does.
func BenchmarkRenderSMS(b *testing.B) {
	e, err := New(nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{2, 1000, 10000} {
		b.Run(fmt.Sprintf("alerts=%d", n), func(b *testing.B) {
			data := storm(n)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.RenderSMS(context.Background(), DefaultTemplate, &Data{Data: data}, sms.Budget{MaxSegments: 1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestLabelValues(t *testing.T) {
	labels := func(kv ...string) template.Alert {
		a := template.Alert{Labels: template.KV{}}
		for i := 0; i < len(kv); i += 2 {
			a.Labels[kv[i]] = kv[i+1]
		}
		return a
	}
	tests := []struct {
		name   string
		alerts []template.Alert
		names  []string
		want   []string
	}{
		{name: "no alerts", names: []string{"instance"}, want: []string{}},
		{
			name:   "distinct in alert order",
			alerts: []template.Alert{labels("instance", "b"), labels("instance", "a"), labels("instance", "b"), labels("instance", "c"), labels("instance", "a")},
			names:  []string{"instance"},
			want:   []string{"b", "a", "c"},
		},
		{
			name:   "alerts without the label or with it empty give none",
			alerts: []template.Alert{labels("job", "j"), labels("instance", ""), labels("instance", "a"), {}},
			names:  []string{"instance"},
			want:   []string{"a"},
		},
		{
			name: "the first of the names an alert has",
			alerts: []template.Alert{
				labels("pod", "p-1", "job", "ignored"),
				labels("host", "h-1", "job", "ignored"),
				labels("instance", "", "job", "j"),
				labels("instance", "i-1", "pod", "ignored"),
				labels("pod", "i-1"),
			},
			names: []string{"instance", "pod", "host", "job"},
			want:  []string{"p-1", "h-1", "j", "i-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := labelValues(tt.alerts, tt.names...)
			if err != nil {
				t.Fatalf("labelValues: %v", err)
			}
			if got == nil || !slices.Equal(got, tt.want) {
				t.Errorf("labelValues = %#v, want %#v", got, tt.want)
			}
		})
	}
	if _, err := labelValues([]template.Alert{labels("instance", "a")}); err == nil {
		t.Error("labelValues without a label name: want an error")
	}
}

// TestFuncNames: our functions must not replace Alertmanager's nor text/template's builtins, or
// a template written for Alertmanager would mean something else here.
func TestFuncNames(t *testing.T) {
	builtins := []string{"and", "call", "html", "index", "slice", "js", "len", "not", "or", "print",
		"printf", "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne"}
	for name := range funcMap() {
		if _, ok := template.DefaultFuncs[name]; ok {
			t.Errorf("template function %q shadows Alertmanager's", name)
		}
		if slices.Contains(builtins, name) {
			t.Errorf("template function %q shadows a text/template builtin", name)
		}
	}
}

// TestStorm: a storm of thousands of alerts renders to one segment, and what rendering costs
// grows with the number of alerts, not with its square (the built-in template once rescanned
// the instances it had collected for every alert: 134 MB for 1,000 alerts).
func TestStorm(t *testing.T) {
	e := newEngine(t)
	budget := sms.Budget{MaxSegments: 1}
	got, err := e.RenderSMS(context.Background(), DefaultTemplate, &Data{Data: storm(10000)}, budget)
	if err != nil {
		t.Fatalf("RenderSMS: %v", err)
	}
	want := "FIRING 10000 HighLatency critical checkout-00001.prod.example.com:8080,checkout-00002.prod.example.com:8080,+9998 more: Checkout p99 latency above the 500ms SLO"
	if got.Text != want || !got.Truncated || got.Size.Segments != 1 {
		t.Errorf("RenderSMS =\n  %q %+v\nwant\n  %q, one segment, truncated", got.Text, got.Size, want)
	}

	// Allocations count what the template and the fitter do per alert; quadratic work shows as
	// 100 times the allocations for 10 times the alerts, linear as at most 10.
	allocs := func(n int) float64 {
		data := storm(n)
		return testing.AllocsPerRun(2, func() {
			if _, err := e.RenderSMS(context.Background(), DefaultTemplate, &Data{Data: data}, budget); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large := allocs(500), allocs(5000)
	if large > 12*small {
		t.Errorf("RenderSMS allocates %.0f times for 500 alerts and %.0f for 5,000: more than linear", small, large)
	}

	// A storm of several alertnames and severities, each alert on an instance of its own.
	got, err = e.RenderSMS(context.Background(), DefaultTemplate, &Data{Data: mixedStorm(10000)}, budget)
	if err != nil {
		t.Fatalf("RenderSMS: %v", err)
	}
	want = "FIRING 10000 (4000 critical) Storm0 node-00000,+1999 more; Storm3 node-00003,+1999 more; Storm1 +2000 more; Storm4 +2000 more; Storm2 +2000 more: storm"
	if got.Text != want || got.Size.Segments != 1 {
		t.Errorf("RenderSMS of several alertnames =\n  %q %+v\nwant\n  %q, one segment", got.Text, got.Size, want)
	}
	mixedAllocs := func(n int) float64 {
		data := mixedStorm(n)
		return testing.AllocsPerRun(2, func() {
			if _, err := e.RenderSMS(context.Background(), DefaultTemplate, &Data{Data: data}, budget); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large = mixedAllocs(500), mixedAllocs(5000)
	if large > 12*small {
		t.Errorf("RenderSMS of several alertnames allocates %.0f times for 500 alerts and %.0f for 5,000: more than linear", small, large)
	}
}

// mixedStorm returns a firing group of n alerts of 5 alertnames and 3 severities (each name
// has one), each alert on an instance of its own.
func mixedStorm(n int) *template.Data {
	severities := []string{"critical", "warning", "info"}
	alerts := make(template.Alerts, n)
	for i := range alerts {
		alerts[i] = template.Alert{
			Status: "firing",
			Labels: template.KV{
				"alertname": fmt.Sprintf("Storm%d", i%5),
				"instance":  fmt.Sprintf("node-%05d", i),
				"severity":  severities[i%5%3],
			},
			Annotations: template.KV{"summary": "storm"},
		}
	}
	return &template.Data{Status: "firing", Alerts: alerts, CommonAnnotations: template.KV{"summary": "storm"}}
}

// FuzzCollapse: the quick check that a text needs no collapsing agrees with collapsing it, and
// collapsing normalises whitespace as if the markers were not there, and drops control characters
// other than whitespace.
func FuzzCollapse(f *testing.F) {
	for _, s := range []string{
		"", "a", "a b", " a", "a ", "a  b", "a\nb", "a\u00a0b", "a\xffb",
		"FIRING 2 A critical \ue002a\ue004,\ue005b\ue003\ue000: summary\ue001",
		"a \ue000 b", "a\ue000 b", "a \ue000b", " \ue000a", "a\ue001 ", "\ue000\ue001",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		slow := recollapse(s)
		if collapsed(s) && slow != s {
			t.Fatalf("collapsed(%q) but collapsing gives %q", s, slow)
		}
		if !collapsed(slow) {
			t.Fatalf("collapsed(%q) = false for what collapsing %q gave", slow, s)
		}
		if got := collapse(s); got != slow {
			t.Fatalf("collapse(%q) = %q, want %q", s, got, slow)
		}
		if utf8.ValidString(s) {
			visible := strings.Map(func(r rune) rune {
				if unicode.IsControl(r) && !unicode.IsSpace(r) {
					return -1
				}
				return r
			}, sms.Strip(s))
			if got, want := sms.Strip(slow), strings.Join(strings.Fields(visible), " "); got != want {
				t.Fatalf("Strip(collapse(%q)) = %q, want %q", s, got, want)
			}
		}
	})
}

// TestDefaultMessageCountsTruncatedAlerts: when Alertmanager's max_alerts cut the payload, the
// count is of the whole group, not of the alerts that made it into the payload.
func TestDefaultMessageCountsTruncatedAlerts(t *testing.T) {
	data := &template.Data{
		Status: "firing",
		Alerts: template.Alerts{
			alert("firing", template.KV{"alertname": "HighCPU", "instance": "node-1"}, nil),
			alert("firing", template.KV{"alertname": "HighCPU", "instance": "node-2"}, nil),
		},
		CommonLabels: template.KV{"alertname": "HighCPU"},
	}
	e := newEngine(t)
	for truncated, want := range map[int]string{
		0:     "FIRING 2 HighCPU node-1,node-2",
		10008: "FIRING 10010 HighCPU node-1,node-2",
	} {
		got, err := e.RenderSMS(context.Background(), DefaultTemplate, &Data{Data: data, TruncatedAlerts: truncated}, sms.Budget{MaxSegments: 1})
		if err != nil {
			t.Fatal(err)
		}
		if got.Text != want {
			t.Errorf("truncated %d: text = %q, want %q", truncated, got.Text, want)
		}
	}
	// A resolved SMS counts what resolved: whether the alerts left out
	// did is not known. "RESOLVED 10010" told of one that resolved.
	resolved := &template.Data{
		Status:       "resolved",
		Alerts:       template.Alerts{alert("resolved", template.KV{"alertname": "HighCPU", "instance": "node-1"}, nil)},
		CommonLabels: template.KV{"alertname": "HighCPU"},
	}
	got, err := e.RenderSMS(context.Background(), DefaultTemplate, &Data{Data: resolved, TruncatedAlerts: 10008}, sms.Budget{MaxSegments: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := "RESOLVED 1 HighCPU node-1"; got.Text != want {
		t.Errorf("resolved, 10008 left out: text = %q, want %q", got.Text, want)
	}
}

// TestByAlertname: groups by alertname, the most severe first, then by name; alerts and
// locations of a group, the most severe first, then in the order given.
func TestByAlertname(t *testing.T) {
	a := func(name, instance, severity string) template.Alert {
		labels := template.KV{"alertname": name, "instance": instance}
		if severity != "" {
			labels["severity"] = severity
		}
		return template.Alert{Labels: labels}
	}
	type group struct {
		name, severity string
		locations      []string
	}
	tests := []struct {
		name   string
		alerts []template.Alert
		order  []string
		want   []group
	}{
		{name: "no alerts", want: []group{}},
		{
			name:   "one name, one severity: in the order given",
			alerts: []template.Alert{a("A", "b", "warning"), a("A", "a", "warning"), a("A", "b", "warning")},
			want:   []group{{"A", "warning", []string{"b", "a"}}},
		},
		{
			name:   "one name, several severities: most severe first, a location once",
			alerts: []template.Alert{a("A", "1", "info"), a("A", "2", "warning"), a("A", "3", ""), a("A", "4", "critical"), a("A", "1", "critical"), a("A", "5", "error")},
			want:   []group{{"A", "critical", []string{"4", "1", "5", "2", "3"}}},
		},
		{
			name:   "groups by their most severe alert, then by name",
			alerts: []template.Alert{a("Z", "z", "warning"), a("Y", "y", ""), a("B", "b1", "info"), a("B", "b2", "critical"), a("A", "a", "critical"), a("X", "x", "P1")},
			want: []group{
				{"A", "critical", []string{"a"}}, {"B", "critical", []string{"b2", "b1"}}, {"Z", "warning", []string{"z"}},
				{"X", "P1", []string{"x"}}, {"Y", "", []string{"y"}},
			},
		},
		{
			name:   "severities not in the order rank alike: the first counts",
			alerts: []template.Alert{a("A", "1", "low"), a("A", "2", "high"), a("B", "3", "high")},
			want:   []group{{"A", "low", []string{"1", "2"}}, {"B", "high", []string{"3"}}},
		},
		{
			name:   "an order of the config's",
			alerts: []template.Alert{a("A", "a", "critical"), a("B", "b", "page"), a("C", "c", "warning")},
			order:  []string{"page", "critical"},
			want:   []group{{"B", "page", []string{"b"}}, {"A", "critical", []string{"a"}}, {"C", "warning", []string{"c"}}},
		},
		{
			name:   "alerts without an alertname or a location",
			alerts: []template.Alert{{Labels: template.KV{"severity": "critical"}}, a("A", "", "")},
			want:   []group{{"", "critical", []string{}}, {"A", "", []string{}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := []group{}
			total := 0
			for _, g := range byAlertname(tt.alerts, tt.order) {
				got = append(got, group{g.Name, g.Severity, g.Locations})
				total += len(g.Alerts)
				for _, alert := range g.Alerts {
					if alert.Labels["alertname"] != g.Name {
						t.Errorf("group %q has an alert named %q", g.Name, alert.Labels["alertname"])
					}
				}
			}
			if !slices.EqualFunc(got, tt.want, func(a, b group) bool {
				return a.name == b.name && a.severity == b.severity && slices.Equal(a.locations, b.locations)
			}) {
				t.Errorf("byAlertname =\n  %+v\nwant\n  %+v", got, tt.want)
			}
			if total != len(tt.alerts) {
				t.Errorf("the groups have %d alerts, want %d", total, len(tt.alerts))
			}
		})
	}
}

func TestTopSeverity(t *testing.T) {
	sev := func(ss ...string) []template.Alert {
		var as []template.Alert
		for _, s := range ss {
			as = append(as, template.Alert{Labels: template.KV{"severity": s}})
		}
		return as
	}
	tests := []struct {
		name   string
		alerts []template.Alert
		order  []string
		want   SeverityCount
	}{
		{name: "no alerts", want: SeverityCount{}},
		{name: "no severity", alerts: sev("", ""), want: SeverityCount{}},
		{name: "the highest, counted", alerts: sev("warning", "critical", "", "critical", "info"), want: SeverityCount{"critical", 2}},
		{name: "known before unknown", alerts: sev("P1", "info", "P1"), want: SeverityCount{"info", 1}},
		{name: "unknown: the first", alerts: sev("", "P2", "P1", "P2"), want: SeverityCount{"P2", 2}},
		{name: "an order of the config's", alerts: sev("critical", "page", "page"), order: []string{"page", "critical"}, want: SeverityCount{"page", 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := topSeverity(tt.alerts, tt.order); got != tt.want {
				t.Errorf("topSeverity = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestDefaultMessageSeverityOrder: the built-in template ranks severities by Data.SeverityOrder,
// the config's limits.severity_order.
func TestDefaultMessageSeverityOrder(t *testing.T) {
	data := &template.Data{
		Status: "firing",
		Alerts: template.Alerts{
			alert("firing", template.KV{"alertname": "A", "instance": "a-1", "severity": "critical"}, nil),
			alert("firing", template.KV{"alertname": "B", "instance": "b-1", "severity": "page"}, nil),
			alert("firing", template.KV{"alertname": "B", "instance": "b-2", "severity": "page"}, nil),
		},
	}
	e := newEngine(t)
	for _, tt := range []struct {
		order []string
		want  string
	}{
		{nil, "FIRING 3 (1 critical) A a-1; B b-1,b-2"},
		{[]string{"page", "critical"}, "FIRING 3 (2 page) B b-1,b-2; A a-1"},
	} {
		got, err := e.RenderSMS(context.Background(), DefaultTemplate, &Data{Data: data, SeverityOrder: tt.order}, sms.Budget{MaxSegments: 1})
		if err != nil {
			t.Fatal(err)
		}
		if got.Text != tt.want {
			t.Errorf("order %q: %q, want %q", tt.order, got.Text, tt.want)
		}
	}
}

// TestDefaultMessageEncoding: with encoding: gsm7, Cyrillic and Greek are transliterated, a few
// characters may become '?', more, or any of an alertname, send the message as UCS-2.
func TestDefaultMessageEncoding(t *testing.T) {
	one := func(name, instance, summary string) *template.Data {
		return &template.Data{
			Status: "firing",
			Alerts: template.Alerts{alert("firing", template.KV{"alertname": name, "instance": instance, "severity": "critical"}, template.KV{"summary": summary})},
		}
	}
	mixed := &template.Data{
		Status: "firing",
		Alerts: template.Alerts{
			alert("firing", template.KV{"alertname": "DiskFull", "instance": "db-1", "severity": "critical"}, nil),
			alert("firing", template.KV{"alertname": "ディスク", "instance": "db-2", "severity": "warning"}, nil),
		},
	}
	tests := []struct {
		name        string
		data        *template.Data
		want        string
		wantSkipped bool
	}{
		{name: "Cyrillic", data: one("ДискЗаполнен", "сервер-7", "Диск /var заполнен"), want: "FIRING 1 DiskZapolnen critical server-7: Disk /var zapolnen"},
		{name: "Greek", data: one("ΔίσκοςΓεμάτος", "διακομιστής-7", "Ο δίσκος /var γέμισε"), want: "FIRING 1 DiskosGematos critical diakomistis-7: O diskos /var gemise"},
		{name: "three characters lost", data: one("DiskFull", "db-1", "🔥 磁盘 full"), want: "FIRING 1 DiskFull critical db-1: ? ?? full"},
		{name: "four characters lost: UCS-2", data: one("DiskFull", "db-1", "磁盘已满"), want: "FIRING 1 DiskFull critical db-1: 磁盘已满", wantSkipped: true},
		{name: "an alertname would lose a character: UCS-2", data: one("Disk满", "db-1", "full"), want: "FIRING 1 Disk满 critical db-1: full", wantSkipped: true},
		{name: "an alertname of a group of several", data: mixed, want: "FIRING 2 (1 critical) DiskFull db-1; ディスク db-2", wantSkipped: true},
		{name: "a location may lose a character or two", data: one("DiskFull", "db-满", "full"), want: "FIRING 1 DiskFull critical db-?: full"},
	}
	e := newEngine(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.RenderSMS(context.Background(), DefaultTemplate, &Data{Data: tt.data}, sms.Budget{MaxSegments: 1, GSM7Only: true})
			if err != nil {
				t.Fatal(err)
			}
			if got.Text != tt.want || got.TransliterationSkipped != tt.wantSkipped {
				t.Errorf("RenderSMS = %q, TransliterationSkipped %t; want %q, %t", got.Text, got.TransliterationSkipped, tt.want, tt.wantSkipped)
			}
		})
	}
}

// TestRouteLabelsFunctionIsRefused: Alertmanager's routeLabels renders nothing with this
// service's data, so a template that calls it is refused at load, with what to use instead.
func TestRouteLabelsFunctionIsRefused(t *testing.T) {
	e := newEngine(t)
	if err := e.Check(`{{ routeLabels "team" }}`); !errors.Is(err, errRouteLabels) {
		t.Errorf("Check: err = %v, want errRouteLabels", err)
	}
	if err := e.Check(`{{ .RouteLabels.team }} {{ .Status }}`); err != nil {
		t.Errorf("Check of .RouteLabels: %v", err)
	}
	file := writeFile(t, t.TempDir(), "team.tmpl", `{{ define "team" }}{{ routeLabels "team" }}{{ end }}`)
	if _, err := New([]string{file}); !errors.Is(err, errRouteLabels) || !strings.Contains(err.Error(), file) {
		t.Errorf("New: err = %v, want errRouteLabels naming %s", err, file)
	}
}

// TestInvisibleTextIsEmpty: a text of zero-width and direction characters
// shows nothing on the phone; it is empty, so that the built-in template
// stands in, and a template that makes only such text fails the check.
func TestInvisibleTextIsEmpty(t *testing.T) {
	e := newEngine(t)
	const text = `{{ .CommonAnnotations.summary }}`
	if err := e.Check(text); err != nil {
		t.Fatalf("Check(%q): %v", text, err)
	}
	for _, summary := range []string{"\u200b", "\u200e\u200f", "\ufeff", "\u2060\u200d", "\u00ad", " \ufe0f "} {
		d := &template.Data{Status: "firing", Alerts: template.Alerts{alert("firing", template.KV{"alertname": "A"}, template.KV{"summary": summary})},
			CommonAnnotations: template.KV{"summary": summary}}
		got, err := e.RenderSMS(context.Background(), text, &Data{Data: d}, sms.Budget{MaxSegments: 1})
		if !errors.Is(err, ErrEmptyMessage) {
			t.Errorf("summary %+q: RenderSMS = %+q, %v; want ErrEmptyMessage", summary, got.Text, err)
		}
	}
	if err := e.Check(`{{ "\u200b\u200e" }}`); !errors.Is(err, ErrEmptyMessage) {
		t.Errorf("Check of a template of zero-width characters: %v, want ErrEmptyMessage", err)
	}
}

// TestRenderStopsAtItsContextAndItsBound: a template stops at its next
// write once its context ends (the pager has sent the fallback text by
// then) or once it wrote MaxOutput, instead of running on without bound:
// one quadratic in the alerts allocated gigabytes after its page had gone.
func TestRenderStopsAtItsContextAndItsBound(t *testing.T) {
	e := newEngine(t)
	const quadratic = `{{ range .Alerts }}{{ range $.Alerts }}{{ .Labels.instance }} {{ end }}{{ end }}`
	if err := e.Check(quadratic); err != nil {
		t.Fatalf("Check: %v", err)
	}
	data := &Data{Data: storm(1000)} // 36 MB of output in full
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.RenderSMS(ctx, quadratic, data, sms.Budget{MaxSegments: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("render with its context ended: %v, want context.Canceled", err)
	}
	if _, err := e.RenderSMS(context.Background(), quadratic, data, sms.Budget{MaxSegments: 1}); !errors.Is(err, errOutputTooLong) {
		t.Errorf("render of %d MiB and more: %v, want errOutputTooLong", MaxOutput>>20, err)
	}
	// The built-in template of a big storm is well within the bound.
	if _, err := e.RenderSMS(context.Background(), DefaultTemplate, &Data{Data: storm(20000)}, sms.Budget{MaxSegments: 1}); err != nil {
		t.Errorf("built-in template of 20,000 alerts: %v", err)
	}
}
