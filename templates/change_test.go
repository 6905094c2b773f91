package templates

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sms"
)

// TestDefaultMessageSaysWhatChanged: the built-in template tells a recipient what is new to
// them, as the pager fills in Change.
func TestDefaultMessageSaysWhatChanged(t *testing.T) {
	start := time.Date(2026, 11, 24, 12, 19, 0, 0, time.UTC)
	errRate := func(status, instance, summary string) template.Alert {
		a := alert(status, template.KV{"alertname": "HighErrorRate", "instance": instance, "severity": "critical"},
			template.KV{"summary": summary})
		a.StartsAt = start
		return a
	}
	web1 := errRate("firing", "web-1:8080", "5xx rate 9% on web-1:8080")
	web2 := errRate("firing", "web-2:8080", "5xx rate 7% on web-2:8080")
	web1Resolved := errRate("resolved", "web-1:8080", "5xx rate 9% on web-1:8080")
	disk := alert("firing", template.KV{"alertname": "DiskFull", "instance": "db-1", "severity": "warning"},
		template.KV{"summary": "Disk /var 95% full"})
	disk.StartsAt = start
	cpu := alert("firing", template.KV{"alertname": "HighCPU", "instance": "node-1", "severity": "critical"}, nil)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	group := func(status string, alerts ...template.Alert) *template.Data {
		return &template.Data{Status: status, Alerts: alerts, CommonLabels: template.KV{}, CommonAnnotations: template.KV{}}
	}
	tests := []struct {
		name   string
		data   *template.Data
		change Change
		want   string
	}{{
		name:   "first page",
		data:   group("firing", web1),
		change: Change{New: template.Alerts{web1}},
		want:   "FIRING 1 HighErrorRate critical web-1:8080: 5xx rate 9% on web-1:8080",
	}, {
		name:   "an alert joined",
		data:   group("firing", web1, web2),
		change: Change{New: template.Alerts{web2}, StillFiring: template.Alerts{web1}},
		want:   "FIRING +1 HighErrorRate critical web-2:8080 (2 firing): 5xx rate 7% on web-2:8080",
	}, {
		name:   "an alert joined as another resolved",
		data:   group("firing", web1Resolved, web2),
		change: Change{New: template.Alerts{web2}, Resolved: template.Alerts{web1Resolved}},
		want:   "FIRING +1 HighErrorRate critical web-2:8080 (1 firing, 1 resolved): 5xx rate 7% on web-2:8080",
	}, {
		name:   "one resolved, one still fires",
		data:   group("firing", web1Resolved, web2),
		change: Change{Resolved: template.Alerts{web1Resolved}, StillFiring: template.Alerts{web2}},
		want:   "RESOLVED web-1:8080 HighErrorRate; still firing 1: web-2:8080",
	}, {
		name:   "a repeat",
		data:   group("firing", disk),
		change: Change{StillFiring: template.Alerts{disk}, Repeat: true, FiringSince: start, Now: start.Add(2 * time.Hour)},
		want:   "STILL FIRING since 12:19 UTC (2h) DiskFull warning db-1: Disk /var 95% full",
	}, {
		name: "a repeat of two alerts, in the configured zone",
		data: group("firing", disk, cpu),
		change: Change{StillFiring: template.Alerts{disk, cpu}, Repeat: true, FiringSince: start,
			Now: start.Add(26*time.Hour + 30*time.Minute), TimeZone: berlin},
		want: "STILL FIRING since Nov 24 13:19 CET (1d2h) 2 (1 critical) HighCPU node-1; DiskFull db-1",
	}, {
		name:   "new alert of another name joins a mixed group",
		data:   group("firing", disk, cpu),
		change: Change{New: template.Alerts{cpu}, StillFiring: template.Alerts{disk}},
		want:   "FIRING +1 HighCPU critical node-1 (2 firing)",
	}}
	e := newEngine(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.RenderSMS(context.Background(), DefaultTemplate, &Data{Data: tt.data, Change: tt.change}, sms.Budget{MaxSegments: 1})
			if err != nil {
				t.Fatal(err)
			}
			if got.Text != tt.want {
				t.Errorf("text = %q\n          want %q", got.Text, tt.want)
			}
		})
	}
}

func TestAge(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		-time.Second:                  "0s",
		45 * time.Second:              "45s",
		12 * time.Minute:              "12m",
		2 * time.Hour:                 "2h",
		2*time.Hour + 5*time.Minute:   "2h5m",
		72 * time.Hour:                "3d",
		76*time.Hour + 59*time.Minute: "3d4h",
	} {
		if got := (Change{Now: now}).Age(now.Add(-d)); got != want {
			t.Errorf("Age(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestParsedTextsAreBounded: every text renders right, the first
// maxParsed of them from the cache, those beyond parsed each time.
func TestParsedTextsAreBounded(t *testing.T) {
	e := newEngine(t)
	data := &Data{Data: samples()[0].data}
	for i := range maxParsed + 20 {
		for range 2 {
			got, err := e.RenderSMS(context.Background(), fmt.Sprintf("{{ .Status }} %d", i), data, sms.Budget{MaxSegments: 1})
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("firing %d", i); got.Text != want {
				t.Fatalf("text %q, want %q", got.Text, want)
			}
		}
	}
	n := 0
	e.parsed.Range(func(any, any) bool { n++; return true })
	if n != maxParsed {
		t.Errorf("%d texts kept parsed, want %d", n, maxParsed)
	}
}

// TestViewHasEveryField checks that a template sees every field of Alertmanager's data and of
// Change at the top of its view, with the value Data holds: an Alertmanager release that adds
// a field fails here until the view has it too.
func TestViewHasEveryField(t *testing.T) {
	d := &Data{Data: &template.Data{}, TruncatedAlerts: 3, SeverityOrder: []string{"page"}}
	sources := []reflect.Value{reflect.ValueOf(d.Data).Elem(), reflect.ValueOf(&d.Change).Elem(), reflect.ValueOf(d).Elem()}
	for _, src := range sources {
		for i := range src.NumField() {
			if f := src.Type().Field(i); f.IsExported() && !f.Anonymous {
				fill(t, f.Name, src.Field(i))
			}
		}
	}
	v := reflect.ValueOf(d.view()).Elem()
	for _, src := range sources {
		for i := range src.NumField() {
			f := src.Type().Field(i)
			if !f.IsExported() || f.Anonymous {
				continue
			}
			got, ok := v.Type().FieldByName(f.Name)
			if !ok || len(got.Index) != 1 || got.Type != f.Type {
				t.Errorf("the view has no top-level field %s of type %s", f.Name, f.Type)
				continue
			}
			if !reflect.DeepEqual(v.FieldByIndex(got.Index).Interface(), src.Field(i).Interface()) {
				t.Errorf("view().%s = %v, want %v", f.Name, v.FieldByIndex(got.Index), src.Field(i))
			}
		}
	}
	if got := d.view(); got.Data != d.Data || !reflect.DeepEqual(got.Change, d.Change) {
		t.Errorf("view() does not keep .Data and .Change")
	}
	// The methods of Data and Change, which templates call.
	for _, typ := range []reflect.Type{reflect.TypeOf(d), reflect.TypeOf(d.Change)} {
		for i := range typ.NumMethod() {
			if _, ok := reflect.TypeOf(d.view()).MethodByName(typ.Method(i).Name); !ok {
				t.Errorf("the view has no method %s of %s", typ.Method(i).Name, typ)
			}
		}
	}
	// toJson, which Alertmanager's templates have, writes the webhook's keys.
	want, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := json.Marshal(d.view()); err != nil || string(got) != string(want) {
		t.Errorf("json of the view = %s, %v; want that of Data: %s", got, err, want)
	}
}

// fill sets v, the field name, to a value that is not its zero value.
func fill(t *testing.T, name string, v reflect.Value) {
	t.Helper()
	switch x := v.Addr().Interface().(type) {
	case *string:
		*x = "value of " + name
	case *bool:
		*x = true
	case *int:
		*x = len(name)
	case *[]string:
		*x = []string{name}
	case *template.KV:
		*x = template.KV{name: "value"}
	case *template.Alerts:
		*x = template.Alerts{{Status: "firing", Labels: template.KV{"alertname": name}}}
	case *time.Time:
		*x = time.Date(2026, 11, 27, 12, 0, len(name), 0, time.UTC)
	case **time.Location:
		*x = time.FixedZone(name, 3600)
	default:
		t.Fatalf("fill: field %s of type %s: add a value for it here", name, v.Type())
	}
}
