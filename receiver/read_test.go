package receiver

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestReader: a payload read for a preview passes or fails exactly as the
// webhook would take it, with the webhook's status.
func TestReader(t *testing.T) {
	valid := fixture(t, "webhook-firing-2-alerts.json")
	tests := []struct {
		name       string
		body       string
		maxBytes   int64
		maxAlerts  int
		wantCode   int
		wantReason string
		wantAlerts int
	}{
		{name: "valid", body: valid, maxBytes: 1 << 20, wantAlerts: 2},
		{name: "max_alerts keeps the first", body: valid, maxBytes: 1 << 20, maxAlerts: 1, wantAlerts: 1},
		{name: "too large", body: valid, maxBytes: 100, wantCode: http.StatusRequestEntityTooLarge, wantReason: "body larger than 100 bytes"},
		{name: "empty", body: "", maxBytes: 1 << 20, wantCode: http.StatusBadRequest, wantReason: "malformed JSON: empty body"},
		{name: "not JSON", body: "receiver: x", maxBytes: 1 << 20, wantCode: http.StatusBadRequest, wantReason: "malformed JSON"},
		{name: "wrong version", body: strings.Replace(valid, `"version":"4"`, `"version":"3"`, 1), maxBytes: 1 << 20,
			wantCode: http.StatusBadRequest, wantReason: `unsupported webhook version "3"`},
		{name: "invalid alert", body: strings.Replace(valid, `"status":"firing","labels"`, `"status":"burning","labels"`, 1), maxBytes: 1 << 20,
			wantCode: http.StatusBadRequest, wantReason: "invalid notification: alerts[0].status"},
		{name: "truncatedAlerts past any group", body: strings.Replace(valid, `"truncatedAlerts":0`, `"truncatedAlerts":18446744073709551615`, 1), maxBytes: 1 << 20,
			wantCode: http.StatusBadRequest, wantReason: "truncatedAlerts: 18446744073709551615 is more alerts than any group holds"},
		// The reason quotes what was sent, but no more than a line of it.
		{name: "a megabyte of version", body: strings.Replace(valid, `"version":"4"`, `"version":"`+strings.Repeat("4", 1<<20)+`"`, 1), maxBytes: 2 << 20,
			wantCode: http.StatusBadRequest, wantReason: `unsupported webhook version "` + strings.Repeat("4", 64) + `"…, want "4"`},
		{name: "a megabyte of status", body: strings.Replace(valid, `"status":"firing","labels"`, `"status":"`+strings.Repeat("é", 1<<19)+`","labels"`, 1), maxBytes: 2 << 20,
			wantCode: http.StatusBadRequest, wantReason: `alerts[0].status: "` + strings.Repeat("é", 32) + `"… is not one of`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := NewReader(tt.maxBytes, tt.maxAlerts).Read(nil, strings.NewReader(tt.body))
			if tt.wantCode == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if len(n.Alerts) != tt.wantAlerts || n.ID == "" || n.Received.IsZero() {
					t.Errorf("%d alerts, id %q, received %v; want %d alerts, an id and a time", len(n.Alerts), n.ID, n.Received, tt.wantAlerts)
				}
				if want := uint64(2 - tt.wantAlerts); n.TruncatedAlerts != want {
					t.Errorf("truncatedAlerts = %d, want %d", n.TruncatedAlerts, want)
				}
				return
			}
			var re *ReadError
			if !errors.As(err, &re) {
				t.Fatalf("error %v is no *ReadError", err)
			}
			if re.Code != tt.wantCode || !strings.Contains(re.Reason, tt.wantReason) || len(re.Reason) > 300 {
				t.Errorf("got %d %.300q (%d bytes), want %d %q", re.Code, re.Reason, len(re.Reason), tt.wantCode, tt.wantReason)
			}
		})
	}
}
