package receiver

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
)

func acceptAll(int, *template.Alert) error { return nil }

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
		{"alerts twice, the last counts", `{"alerts":[{"status":"firing"}],"version":"4","alerts":[{"status":"resolved"},{"status":"firing"}]}`},
		{"unknown keys", `{"version":"4","future":{"nested":[1,{"a":[]}]},"alerts":[{"status":"firing","labels":{"a":"b"},"extra":[1,2]}],"x":null}`},
		{"white space", " \n\t{ \"version\" : \"4\" , \"alerts\" : [ { \"status\" : \"firing\" } ] } \n"},
		{"no data fields", `{"version":"4","groupKey":"g"}`},
		{"a member twice, maps merged", `{"commonLabels":{"a":"b"},"version":"3","commonLabels":{"c":"d"},"VERSION":"4","alerts":[]}`},
		{"an alert's key twice, maps merged", `{"alerts":[{"labels":{"a":"b"},"status":"firing","labels":{"c":"d"},"status":"resolved"}]}`},
		{"delimiters in keys do not match", `{"alerts":[{"generator_url":"x","generator-URL":"y","GENERATORURL":"z"}]}`},
		{"invalid UTF-8", "{\"alerts\":[{\"labels\":{\"a\":\"b\xff\xfe\"}}]}"},
		{"nulls", `{"alerts":[{"labels":null,"annotations":{"a":null},"startsAt":null,"fingerprint":null}]}`},
		{"times", `{"alerts":[{"startsAt":"2026-11-24T22:12:02.020447644+01:00","endsAt":"2026-11-24T22:12:02Z"}]}`},
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
	_, err := decodeNotification(strings.NewReader(body), func(i int, a *template.Alert) error {
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
	n, err := decodeNotification(strings.NewReader(body), func(int, *template.Alert) error { checked++; return nil }, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Alerts) != 3 || n.TruncatedAlerts != 5+7 || checked != 10 {
		t.Errorf("kept %d alerts, truncated %d, checked %d; want 3, 12, 10", len(n.Alerts), n.TruncatedAlerts, checked)
	}
	bad := `{"version":"4","alerts":[` + alert + `,` + alert + `,{"status":"burning","labels":{"a":"b"}}]}`
	if _, err := decodeNotification(strings.NewReader(bad), func(_ int, a *template.Alert) error {
		if a.Status != "firing" {
			return errors.New("bad status")
		}
		return nil
	}, 1); err == nil {
		t.Error("an invalid alert beyond the bound was not checked")
	}
}

// TestDecodeRejectsAsUnmarshal: what json.Unmarshal refuses, the
// streaming decoder refuses too, also inside an alert.
func TestDecodeRejectsAsUnmarshal(t *testing.T) {
	for _, body := range []string{
		`{"alerts":[{"startsAt":"2026-11-24 22:12:02Z"}]}`,
		`{"alerts":[{"startsAt":"2026-11-24T24:00:00Z"}]}`,
		`{"alerts":[{"startsAt":"2026-11-24T22:12:02"}]}`,
		`{"alerts":[{"startsAt":"2026-11-24T22:12:02.Z"}]}`,
		`{"alerts":[{"startsAt":1}]}`,
		`{"alerts":[{"labels":{"a":1}}]}`,
		`{"alerts":[{"labels":["a"]}]}`,
		`{"alerts":[{"status":true}]}`,
		`{"alerts":[{"status":"firing",}]}`,
		`{"alerts":[{"status":"firing"},]}`,
		`{"alerts":[{"status":"fir` + "\x01" + `ing"}]}`,
		`{"alerts":[{"status":"\x"}]}`,
		`{"alerts":[{"status":"firing"}] "version":"4"}`,
		`{"alerts":[{"status":"firing"}]`,
		`{"alerts":[{"status":"firing"}]}}`,
		`{"alerts":{}}`,
		`{"alerts":[1]}`,
		`{"alerts":[null, "x"]}`,
		`{"version":4,"alerts":[]}`,
	} {
		var n notification.Notification
		if err := json.Unmarshal([]byte(body), &n); err == nil {
			t.Errorf("json.Unmarshal accepts %s: not a case for this test", body)
			continue
		}
		if _, err := decodeNotification(strings.NewReader(body), acceptAll, 0); err == nil {
			t.Errorf("decoded %s, which json.Unmarshal refuses", body)
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
