package receiver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
)

func acceptAll(int, *template.Alert, int64) error { return nil }

// TestDecodeAsUnmarshal holds decodeNotification to what json.Unmarshal
// makes of the same body.
func TestDecodeAsUnmarshal(t *testing.T) {
	firing := fixture(t, "webhook-firing-2-alerts.json")
	tests := []struct {
		name string
		body string
	}{
		{"firing", firing},
		{"resolved", fixture(t, "webhook-resolved-2-alerts.json")},
		{"alerts last", `{"version":"4","groupKey":"g","receiver":"r","status":"firing","alerts":[{"status":"firing","labels":{"a":"b"}}]}`},
		{"only alerts", `{"alerts":[{"status":"firing","labels":{"a":"b"}},{}]}`},
		{"alerts null", `{"version":"4","alerts":null}`},
		{"alerts empty", `{"version":"4","alerts":[]}`},
		{"keys in another case", `{"Version":"4","RECEIVER":"r","Alerts":[{"Status":"firing","Labels":{"a":"b"}}]}`},
		{"unknown keys", `{"version":"4","future":{"nested":[1,{"a":[]}]},"alerts":[{"status":"firing","labels":{"a":"b"},"extra":[1,2]}],"x":null}`},
		{"white space", " \n\t{ \"version\" : \"4\" , \"alerts\" : [ { \"status\" : \"firing\" } ] } \n"},
		{"no data fields", `{"version":"4","groupKey":"g"}`},
		{"a member twice, maps merged", `{"commonLabels":{"a":"b"},"version":"3","commonLabels":{"c":"d"},"VERSION":"4","alerts":[]}`},
		{"an alert's key twice, maps merged", `{"alerts":[{"labels":{"a":"b"},"status":"firing","labels":{"c":"d"},"status":"resolved"}]}`},
		{"delimiters in keys do not match", `{"alerts":[{"generator_url":"x","generator-URL":"y","GENERATORURL":"z"}]}`},
		{"invalid UTF-8", "{\"alerts\":[{\"labels\":{\"a\":\"b\xff\xfe\"}}]}"},
		{"nulls", `{"alerts":[{"labels":null,"annotations":{"a":null},"startsAt":null,"fingerprint":null}]}`},
		{"times", `{"alerts":[{"startsAt":"2026-11-24T22:12:02.020447644+01:00","endsAt":"2026-11-24T22:12:02Z"}]}`},
		{"times as time.Time reads them", `{"alerts":[{"startsAt":"2026-11-24T2:12:02Z","endsAt":"2026-11-24T22:12:02,5+24:00"}]}`},
		{"null after a value leaves it", `{"version":"4","alerts":[{"status":"firing","startsAt":"2026-11-24T22:12:02Z","fingerprint":"x","status":null,"startsAt":null,"fingerprint":null}],"version":null}`},
		{"body null", `null`},
		{"alerts null among other members", `{"version":"4","alerts":null,"receiver":"r"}`},
		{"escapes", `{"alerts":[{"labels":{"a\u00e9\n":"\ud83d\ude00\t\"\/"}}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want notification.Notification
			if err := json.Unmarshal([]byte(tt.body), &want); err != nil {
				t.Fatal(err)
			}
			got, err := decodeNotification(strings.NewReader(tt.body), acceptAll, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, &want) {
				t.Errorf("decoded\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestDecodeStopsAtCheck(t *testing.T) {
	alert := `{"status":"firing","labels":{"a":"b"}}`
	body := `{"version":"4","alerts":[` + alert + `,` + alert + strings.Repeat(`,`+alert, 1000) + `]}`
	errStop := errors.New("stop")
	var checked []int
	_, err := decodeNotification(strings.NewReader(body), func(i int, a *template.Alert, _ int64) error {
		checked = append(checked, i)
		if a.Labels["a"] != "b" {
			t.Errorf("alert %d checked before it was decoded: %+v", i, a)
		}
		if i == 1 {
			return errStop
		}
		return nil
	}, 0)
	if !errors.Is(err, errStop) {
		t.Errorf("err = %v, want the check's", err)
	}
	if !reflect.DeepEqual(checked, []int{0, 1}) {
		t.Errorf("checked alerts %v, want [0 1] and no further", checked)
	}
}

// TestDecodeKeepsAtMostMaxAlerts: alerts beyond the bound are checked, then
// counted with the ones Alertmanager truncated, not kept.
func TestDecodeKeepsAtMostMaxAlerts(t *testing.T) {
	alert := `{"status":"firing","labels":{"a":"b"}}`
	body := `{"version":"4","truncatedAlerts":5,"alerts":[` + alert + strings.Repeat(`,`+alert, 9) + `]}`
	checked := 0
	n, err := decodeNotification(strings.NewReader(body), func(int, *template.Alert, int64) error { checked++; return nil }, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Alerts) != 3 || n.TruncatedAlerts != 5+7 || checked != 10 {
		t.Errorf("kept %d alerts, truncated %d, checked %d; want 3, 12, 10", len(n.Alerts), n.TruncatedAlerts, checked)
	}
	bad := `{"version":"4","alerts":[` + alert + `,` + alert + `,{"status":"burning","labels":{"a":"b"}}]}`
	if _, err := decodeNotification(strings.NewReader(bad), func(_ int, a *template.Alert, _ int64) error {
		if a.Status != "firing" {
			return errors.New("bad status")
		}
		return nil
	}, 1); err == nil {
		t.Error("an invalid alert beyond the bound was not checked")
	}
}

// TestDecodeChecksDroppedAlertsAsTheyAre: the alerts beyond the bound
// share the maps they are decoded into, and each is checked with its own
// labels and annotations alone, none left from the one before.
func TestDecodeChecksDroppedAlertsAsTheyAre(t *testing.T) {
	body := `{"version":"4","alerts":[{"status":"firing","labels":{"k":"kept"}},` +
		`{"status":"firing","labels":{"a":"b","c":"d"},"annotations":{"s":"1"}},` +
		`{"status":"firing","labels":{"x":"y"}},` +
		`{"status":"resolved"},` +
		`{"status":"firing","labels":{"e":"\u0066"},"annotations":{}}]}`
	var checked []string
	n, err := decodeNotification(strings.NewReader(body), func(_ int, a *template.Alert, _ int64) error {
		checked = append(checked, fmt.Sprintf("%s %v %v nil=%v,%v", a.Status, map[string]string(a.Labels), map[string]string(a.Annotations), a.Labels == nil, a.Annotations == nil))
		return nil
	}, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"firing map[k:kept] map[] nil=false,true",
		"firing map[a:b c:d] map[s:1] nil=false,false",
		"firing map[x:y] map[] nil=false,true",
		"resolved map[] map[] nil=true,true",
		"firing map[e:f] map[] nil=false,false",
	}
	if !slices.Equal(checked, want) {
		t.Errorf("checked:\n%s\nwant:\n%s", strings.Join(checked, "\n"), strings.Join(want, "\n"))
	}
	if len(n.Alerts) != 1 || n.Alerts[0].Labels["k"] != "kept" || len(n.Alerts[0].Labels) != 1 {
		t.Errorf("kept %v, want the first alert alone, as it was", n.Alerts)
	}
}

// TestDroppedAlertsCostNoAllocations: a body of tiny alerts past the bound
// (Alertmanager's truncation aside, a client may send any number) costs
// allocations for the alerts kept, not for its length.
func TestDroppedAlertsCostNoAllocations(t *testing.T) {
	tiny := func(i int) string {
		return fmt.Sprintf(`{"status":"firing","labels":{"alertname":"Tiny","i":"%d"},"annotations":{"s":"%d"}}`, i, i)
	}
	allocs := func(alerts int) float64 {
		b := string(payload(1<<30, alerts, tiny))
		return testing.AllocsPerRun(5, func() {
			if _, err := decodeNotification(strings.NewReader(b), acceptAll, 10); err != nil {
				t.Fatal(err)
			}
		})
	}
	few, many := allocs(100), allocs(2100)
	// Each dropped alert's values are strings of their own (the table of
	// shared strings fills up): two of the 2,000 more alerts' four
	// strings, at most, where a map and an alert of their own took more.
	if extra := many - few; extra > 2*2000 {
		t.Errorf("2,000 more alerts past the bound took %.0f more allocations (%.0f against %.0f), want at most 4,000", extra, many, few)
	}
}

// TestDecodeRejectsAsUnmarshal: what json.Unmarshal refuses, the
// streaming decoder refuses too, also inside an alert.
func TestDecodeRejectsAsUnmarshal(t *testing.T) {
	for _, tt := range []struct{ name, body string }{
		{"space in a time", `{"alerts":[{"startsAt":"2026-11-24 22:12:02Z"}]}`},
		{"hour 24", `{"alerts":[{"startsAt":"2026-11-24T24:00:00Z"}]}`},
		{"time without zone", `{"alerts":[{"startsAt":"2026-11-24T22:12:02"}]}`},
		{"empty fraction", `{"alerts":[{"startsAt":"2026-11-24T22:12:02.Z"}]}`},
		{"number for a time", `{"alerts":[{"startsAt":1}]}`},
		{"number for a label", `{"alerts":[{"labels":{"a":1}}]}`},
		{"array for labels", `{"alerts":[{"labels":["a"]}]}`},
		{"bool for a status", `{"alerts":[{"status":true}]}`},
		{"comma before a brace", `{"alerts":[{"status":"firing",}]}`},
		{"comma before a bracket", `{"alerts":[{"status":"firing"},]}`},
		{"control character in a string", `{"alerts":[{"status":"fir` + "\x01" + `ing"}]}`},
		{"bad escape", `{"alerts":[{"status":"\x"}]}`},
		{"missing comma", `{"alerts":[{"status":"firing"}] "version":"4"}`},
		{"cut off", `{"alerts":[{"status":"firing"}]`},
		{"a brace too many", `{"alerts":[{"status":"firing"}]}}`},
		{"object for alerts", `{"alerts":{}}`},
		{"number for an alert", `{"alerts":[1]}`},
		{"string for an alert", `{"alerts":[null, "x"]}`},
		{"number for the version", `{"version":4,"alerts":[]}`},
		{"array for the body", `[{"version":"4"}]`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var n notification.Notification
			if err := json.Unmarshal([]byte(tt.body), &n); err == nil {
				t.Fatalf("json.Unmarshal accepts %s: not a case for this test", tt.body)
			}
			if _, err := decodeNotification(strings.NewReader(tt.body), acceptAll, 0); err == nil {
				t.Errorf("decoded %s, which json.Unmarshal refuses", tt.body)
			}
		})
	}
}

// TestDecodeRefusesAlertsTwice: json.Unmarshal would decode a second
// alerts array into the alerts of the first, mixing two alerts into one;
// Alertmanager never sends that, and it is refused.
func TestDecodeRefusesAlertsTwice(t *testing.T) {
	for _, body := range []string{
		`{"alerts":[{"status":"firing","labels":{"a":"b"}}],"alerts":[{"status":"resolved"}]}`,
		`{"alerts":[],"version":"4","Alerts":null}`,
	} {
		_, err := decodeNotification(strings.NewReader(body), acceptAll, 0)
		if got := readError(err); got.code != 400 || got.reason != "invalid notification: alerts: given twice" {
			t.Errorf("%s: answered %d %q, want 400 and alerts given twice", body, got.code, got.reason)
		}
	}
}

// errReader gives what it holds, then fails.
type errReader struct {
	data string
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestDecodeReturnsReadErrors: a body that cannot be read to its end
// fails with the reader's error, wherever it breaks off, not with a
// syntax error the decoder makes of it: the answer tells a lost
// connection or a body too large from a malformed one.
func TestDecodeReturnsReadErrors(t *testing.T) {
	body := fixture(t, "webhook-firing-2-alerts.json")
	errLost := errors.New("connection reset")
	for cut := range len(body) {
		_, err := decodeNotification(&errReader{data: body[:cut], err: errLost}, acceptAll, 0)
		if err != errLost { // the reader's error itself, not one wrapping it
			t.Fatalf("cut after %d bytes: %v, want the reader's error as it is", cut, err)
		}
	}
}

// BenchmarkDecode decodes the captured 2-alert notification: the share of
// a small webhook's cost that decoding is.
func BenchmarkDecode(b *testing.B) {
	body, err := os.ReadFile("testdata/webhook-firing-2-alerts.json")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		n, err := decodeNotification(bytes.NewReader(body), acceptAll, 0)
		if err != nil || len(n.Alerts) != 2 {
			b.Fatalf("decoded %v, %v", n, err)
		}
	}
}

// BenchmarkDecodeStorm decodes a notification of 1,000 alerts as
// Prometheus and Alertmanager send them: most of a storm's cost to answer.
func BenchmarkDecodeStorm(b *testing.B) {
	body := payload(1<<30, 1000, realisticAlert)
	for b.Loop() {
		n, err := decodeNotification(bytes.NewReader(body), acceptAll, 0)
		if err != nil || len(n.Alerts) != 1000 {
			b.Fatalf("decoded %d alerts, %v", len(n.Alerts), err)
		}
	}
}
