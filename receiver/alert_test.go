package receiver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/prometheus/alertmanager/template"
)

// alertCases are alerts for alertDecoder to decode as the library does:
// those it reads itself and those it leaves to the library, valid or not.
var alertCases = []string{
	`{}`,
	`null`,
	` { "status" : "firing" , "labels" : { "a" : "b" } } `,
	`{"status":"firing","labels":{"alertname":"HighErrorRate","instance":"web-1:8080"},"annotations":{"summary":"5xx"},"startsAt":"2026-11-24T22:12:02.020447644Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph","fingerprint":"0123456789abcdef"}`,
	`{"labels":{},"annotations":{}}`,
	`{"labels":{"a":"b","a":"c"}}`,
	`{"labels":{"a":"b"},"labels":{"c":"d"}}`,
	`{"status":"firing","status":"resolved"}`,
	`{"Status":"firing","LABELS":{"a":"b"}}`,
	`{"generator_url":"x","extra":[1,{"a":null}]}`,
	`{"labels":null,"annotations":{"a":null},"startsAt":null,"fingerprint":null}`,
	`{"labels":{"a\u00e9\n":"\ud83d\ude00\t\"\/"}}`,
	"{\"labels\":{\"a\":\"b\xff\xfe\"}}",
	"{\"status\":\"\xed\xa0\x80\"}",
	`{"startsAt":"2026-11-24T2:12:02Z","endsAt":"2026-11-24T22:12:02,5+24:00"}`,
	`{"startsAt":"2026-11-24T22:12:02.020447644+01:00"}`,
	`{"startsAt":"2026-11-24 22:12:02Z"}`,
	`{"startsAt":"2026-11-24T24:00:00Z"}`,
	`{"startsAt":"2026-11-24T22:12:02"}`,
	`{"startsAt":"\u0032026-11-24T22:12:02Z"}`,
	`{"startsAt":1}`,
	`{"labels":{"a":1}}`,
	`{"labels":["a"]}`,
	`{"labels":{"a":{"b":"c"}}}`,
	`{"status":true}`,
	`{"fingerprint":["x"]}`,
	`[]`,
	`"alert"`,
	`1`,
}

// decodeBoth decodes alert, the second alert of a body, with alertDecoder
// and with the library alone, and fails t where the two differ in the
// alert or in the error.
func decodeBoth(t *testing.T, alert string) {
	t.Helper()
	body := `{"alerts":[{"status":"firing"}, ` + alert + `]}`
	decode := func(f func(*jsontext.Decoder, *template.Alert) error) (template.Alert, error) {
		dec := jsontext.NewDecoder(strings.NewReader(body), decodeOptions)
		for range 3 { // {, "alerts", [
			if _, err := dec.ReadToken(); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
		}
		var first template.Alert
		if err := jsonv2.UnmarshalDecode(dec, &first); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		var a template.Alert
		return a, f(dec, &a)
	}
	// Maps handed back by alerts dropped before, as the decoder fills
	// them again: nothing of theirs may remain.
	var d alertDecoder
	d.reuse(template.KV{"alertname": "Dropped", "left": "over"}, template.KV{"summary": "left over"})
	got, gotErr := decode(d.decode)
	want, wantErr := decode(func(dec *jsontext.Decoder, a *template.Alert) error { return jsonv2.UnmarshalDecode(dec, a) })
	var syntax *jsontext.SyntacticError
	if errors.As(gotErr, &syntax) || errors.As(wantErr, &syntax) {
		// Reading the alert whole finds a syntax error before any other,
		// at times a byte apart and in words of its own ("at start of
		// string" where the library says "at start of value"), where the
		// library may first find a value of the wrong type: either way the
		// alert is refused as malformed.
		if gotErr == nil || wantErr == nil {
			t.Fatalf("%s: error %v, want %v", alert, gotErr, wantErr)
		}
		return
	}
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("%s: error %v, want %v", alert, gotErr, wantErr)
	}
	// Where the error is, which its text may leave out.
	var gotAt, wantAt *jsonv2.SemanticError
	if errors.As(gotErr, &gotAt) != errors.As(wantErr, &wantAt) ||
		gotAt != nil && (gotAt.ByteOffset != wantAt.ByteOffset || gotAt.JSONPointer != wantAt.JSONPointer) {
		t.Fatalf("%s: error at %+v, want at %+v", alert, gotAt, wantAt)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: decoded\n%#v\nwant\n%#v", alert, got, want)
	}
}

func TestAlertDecoderAsLibrary(t *testing.T) {
	for _, alert := range alertCases {
		decodeBoth(t, alert)
	}
}

// TestAlertDecoderReadsAlertmanagersAlerts: the alerts of every captured
// webhook take the fast way, or it would go unmeasured and untested.
func TestAlertDecoderReadsAlertmanagersAlerts(t *testing.T) {
	names, err := filepath.Glob("testdata/*.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("no captured webhooks: %v", err)
	}
	for _, name := range names {
		body, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var n struct {
			Alerts []jsontext.Value `json:"alerts"`
		}
		if err := jsonv2.Unmarshal(body, &n); err != nil || len(n.Alerts) == 0 {
			t.Fatalf("%s: %d alerts, %v", name, len(n.Alerts), err)
		}
		for i, raw := range n.Alerts {
			var (
				d alertDecoder
				a template.Alert
			)
			if !d.read(raw, &a) {
				t.Errorf("%s: alerts[%d] left to the library: %s", name, i, raw)
			}
			decodeBoth(t, string(raw))
		}
	}
}

// TestAlertDecoderSharesRepeatedStrings: label names and values that
// alerts repeat are one string, and the table stays bounded however many
// distinct values come.
func TestAlertDecoderSharesRepeatedStrings(t *testing.T) {
	var d alertDecoder
	alerts := make([]template.Alert, 2*maxShared)
	for i := range alerts {
		raw := fmt.Sprintf(`{"labels":{"alertname":"HighErrorRate","instance":"web-%d"}}`, i)
		if !d.read([]byte(raw), &alerts[i]) {
			t.Fatalf("left to the library: %s", raw)
		}
	}
	first, last := alerts[0].Labels["alertname"], alerts[len(alerts)-1].Labels["alertname"]
	if first != "HighErrorRate" || last != first {
		t.Fatalf("alertname %q and %q", first, last)
	}
	if unsafe.StringData(first) != unsafe.StringData(last) {
		t.Error("the alertname of the first and of the last alert are two strings")
	}
	if len(d.shared) > maxShared {
		t.Errorf("%d strings shared, want at most %d", len(d.shared), maxShared)
	}
	if !reflect.DeepEqual(alerts[len(alerts)-1].Labels, template.KV{"alertname": "HighErrorRate", "instance": fmt.Sprintf("web-%d", len(alerts)-1)}) {
		t.Errorf("last alert's labels %v", alerts[len(alerts)-1].Labels)
	}
}

// FuzzAlertDecoder holds alertDecoder to the library's decoding of any
// alert.
func FuzzAlertDecoder(f *testing.F) {
	for _, alert := range alertCases {
		f.Add(alert)
	}
	f.Fuzz(func(t *testing.T, alert string) {
		decodeBoth(t, alert)
	})
}

// TestValidAlertAgreesWithTheRules: the shortcut past the validator passes
// an alert exactly when the validator's rules for template.Alert would,
// whatever else the alert holds.
func TestValidAlertAgreesWithTheRules(t *testing.T) {
	v := newValidator()
	statuses := []string{"firing", "resolved", "", "Firing", "RESOLVED", "pending", " firing", "firing ", "resolve"}
	labels := []template.KV{nil, {}, {"alertname": "Down"}, {"": ""}, {"alertname": "Down", "severity": "critical"}}
	at := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	others := []template.Alert{
		{},
		{Annotations: template.KV{"summary": "x"}, StartsAt: at, GeneratorURL: "http://prometheus", Fingerprint: "fp"},
		{Annotations: template.KV{}, EndsAt: at},
	}
	n := 0
	for _, status := range statuses {
		for _, kv := range labels {
			for _, a := range others {
				a.Status, a.Labels = status, kv
				err := v.Struct(&a)
				if got := validAlert(&a); got != (err == nil) {
					t.Errorf("validAlert(%+v) = %v, but the validator says %v", a, got, err)
				}
				if err == nil {
					n++
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no alert passed the validator: the cases test nothing")
	}
}
