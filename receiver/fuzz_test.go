package receiver

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/bounded"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
)

// Credentials of the fuzzed handler when the input asks for auth.
const (
	fuzzToken = "fuzz-bearer-token"
	fuzzUser  = "alertmanager"
	fuzzPass  = "fuzz-password"
)

// Knobs of the auth byte of FuzzWebhook: the low two bits say what the
// handler requires, the next two what the request presents, and the high
// four, when not zero, the alerts it keeps, of one notification and of
// all at once alike (the least a config allows).
const (
	needBearer = 1 << 0
	needBasic  = 1 << 1

	presentNone   = 0 << 2
	presentBearer = 1 << 2
	presentBasic  = 2 << 2
	presentWrong  = 3 << 2
	presentMask   = 3 << 2

	roomShift = 4
)

// documentedCodes are the statuses the handler answers a POST with.
var documentedCodes = map[int]bool{200: true, 400: true, 401: true, 413: true, 415: true, 503: true}

// fuzzPinned is a route a seed pins the notification to.
const fuzzPinned = "night"

// fuzzNotifier handles every notification as the pager does, whatever
// route is pinned and whether routes match its alerts; only an alert
// labelled fail="yes" makes it fail, as a send that may work when
// retried, with the alertname in the error.
type fuzzNotifier struct {
	mu  sync.Mutex
	got []*notification.Notification
}

func (f *fuzzNotifier) Notify(ctx context.Context, n *notification.Notification, route string) error {
	f.mu.Lock()
	f.got = append(f.got, n)
	f.mu.Unlock()
	if _, ok := ctx.Deadline(); !ok {
		return fmt.Errorf("no deadline")
	}
	for _, a := range n.Alerts {
		if a.Labels["fail"] == "yes" {
			return fmt.Errorf("send SMS about %s of receiver %q: sipgate answered 500", a.Labels["alertname"], n.Receiver)
		}
	}
	return nil
}

// FuzzWebhook posts arbitrary bodies with a few header variants to the
// handler. Whatever arrives, the handler answers one of its documented
// statuses with a one-line body, within a time and an allocation that do
// not grow beyond the body limit; it answers 200 only for a notification
// that the layers behind it can rely on.
//
// Run it longer with
//
//	go test -run '^$' -fuzz '^FuzzWebhook$' -fuzztime 10m ./receiver/
func FuzzWebhook(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.json")
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seed payloads in testdata: %v", err)
	}
	for _, name := range seeds {
		body, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body, "application/json", uint8(0), "", uint16(0xffff))
		f.Add(body, "application/json; charset=utf-8", uint8(needBearer|presentBearer), fuzzPinned, uint16(0xffff))
		f.Add(body, "application/json", uint8(needBasic|presentBasic), "other", uint16(0xffff))
		f.Add(body, "application/json", uint8(needBasic|presentWrong), "", uint16(0xffff))
		f.Add(body, "text/plain", uint8(0), "", uint16(0xffff))
		f.Add(body, "application/json", uint8(0), "", uint16(len(body)/2))
		f.Add(body, "application/json", uint8(1<<roomShift), "", uint16(0xffff))
		f.Add(body, "application/json", uint8(needBearer|presentBearer|3<<roomShift), "", uint16(0xffff))
		f.Add(bytes.Replace(body, []byte(`"labels":{`), []byte(`"labels":{"fail":"yes",`), 1), "application/json", uint8(0), "", uint16(0xffff))
	}
	f.Add([]byte(`{"version":"4","groupKey":"g","receiver":"r","status":"firing","alerts":[{"status":"firing","labels":{"a\nb":"c"}}]}`), "application/json", uint8(0), "", uint16(0xffff))
	f.Add([]byte(`{"version":"4","groupKey":"g","receiver":"r","status":"firing","alerts":[{"status":"firing","labels":{"a\nb":1}}]}`), "application/json", uint8(0), "", uint16(0xffff))
	f.Add([]byte(`{"version":"4","alerts":[{"status":"burning\n"}]}`), "application/json", uint8(0), "", uint16(0xffff))
	f.Add([]byte(`{"version":"4"} trailing`), "application/json", uint8(0), "", uint16(0xffff))
	f.Add([]byte(`{"version":"4"} "a\nb"`), "application/json", uint8(0), "", uint16(0xffff))
	f.Add([]byte(`[]`), "", uint8(0), "", uint16(0))

	m := metrics.New(prometheus.NewRegistry())
	logger := slog.New(slog.DiscardHandler)
	// The handler must accept the real payloads, or every check below
	// would pass on a handler that rejects everything.
	for _, name := range seeds {
		body, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, "/api/v1/alerts", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		New(&fuzzNotifier{}, Options{MaxBodyBytes: 1 << 20, Timeout: time.Minute, MaxInFlight: 1, Metrics: m, Logger: logger}).ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			f.Fatalf("%s: status %d (%q), want 200", name, w.Code, w.Body)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType string, auth uint8, route string, limit uint16) {
		o := Options{
			MaxBodyBytes: int64(limit) + 1,
			Timeout:      time.Minute,
			MaxInFlight:  1,
			Metrics:      m,
			Logger:       logger,
		}
		if room := int(auth >> roomShift); room > 0 {
			o.MaxAlerts, o.MaxAlertsInFlight = room, room
		}
		switch {
		case auth&needBearer != 0:
			o.BearerToken = fuzzToken
		case auth&needBasic != 0:
			o.BasicAuthUsername, o.BasicAuthPassword = fuzzUser, fuzzPass
		}
		notifier := &fuzzNotifier{}
		h := New(notifier, o)

		if route == "." || route == ".." {
			// The mux redirects to the clean path: not the handler's answer.
			t.Skip("path is cleaned by the mux")
		}
		target := "/api/v1/alerts"
		if route != "" {
			target += "/" + url.PathEscape(route)
		}
		r := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
		r.Header["Content-Type"] = []string{contentType}
		switch auth & presentMask {
		case presentBearer:
			r.Header.Set("Authorization", "Bearer "+fuzzToken)
		case presentBasic:
			r.SetBasicAuth(fuzzUser, fuzzPass)
		case presentWrong:
			r.SetBasicAuth(fuzzUser, fuzzToken)
			r.Header.Add("Authorization", "Bearer "+fuzzPass)
		}
		w := httptest.NewRecorder()

		allocated := bounded.Allocated(t, 10*time.Second, func() { h.ServeHTTP(w, r) })

		// Decoding holds what the body decodes to, a small multiple of
		// the bytes read, and never more than the limit lets in.
		if bound := 64*min(uint64(len(body)), uint64(o.MaxBodyBytes)) + 4<<20; allocated > bound {
			t.Errorf("serving a %d-byte body (limit %d) allocated %d bytes, more than %d", len(body), o.MaxBodyBytes, allocated, bound)
		}
		code, reply := w.Code, w.Body.String()
		if !documentedCodes[code] {
			t.Fatalf("status %d is not a documented one (%q)", code, reply)
		}
		if !strings.HasSuffix(reply, "\n") || strings.ContainsAny(strings.TrimSuffix(reply, "\n"), "\r\n") || strings.TrimSpace(reply) == "" {
			t.Errorf("status %d: body %q is not one line", code, reply)
		}

		authorized := auth&(needBearer|needBasic) == 0 ||
			(auth&needBearer != 0 && auth&presentMask == presentBearer) ||
			(auth&needBearer == 0 && auth&needBasic != 0 && auth&presentMask == presentBasic)
		if authorized != (code != http.StatusUnauthorized) {
			t.Errorf("auth %#x: status %d (%q)", auth, code, reply)
		}
		if code == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
		if contentType == "application/json" && code == http.StatusUnsupportedMediaType {
			t.Errorf("application/json answered 415 (%q)", reply)
		}
		if !strings.Contains(strings.ToLower(contentType), "json") && code == http.StatusOK {
			t.Errorf("content type %q answered %d, want 415 (%q)", contentType, code, reply)
		}
		if int64(len(body)) > o.MaxBodyBytes && code == http.StatusOK {
			t.Errorf("a %d-byte body over the limit of %d was accepted", len(body), o.MaxBodyBytes)
		}
		if int64(len(body)) <= o.MaxBodyBytes && code == http.StatusRequestEntityTooLarge {
			t.Errorf("a %d-byte body within the limit of %d answered 413", len(body), o.MaxBodyBytes)
		}

		// Nothing a client sends becomes a label value: with no receiver
		// known, one receiver label value, and the two alert statuses.
		if n := testutil.CollectAndCount(m.WebhooksReceived); n > len(documentedCodes) {
			t.Errorf("%d series of webhooks received, more than one per status code", n)
		}
		if n := testutil.CollectAndCount(m.AlertsReceived); n > 2 {
			t.Errorf("%d series of alerts received, more than one per alert status", n)
		}

		// Whatever the answer, the room of its alerts is given back; and
		// a notification alone always has room for those it keeps.
		h.budget.mu.Lock()
		used, live := h.budget.used.Load(), len(h.budget.decoding)
		h.budget.mu.Unlock()
		if used != 0 || live != 0 {
			t.Errorf("status %d: %d alerts and %d notifications in flight once answered, want none", code, used, live)
		}
		if o.MaxAlertsInFlight > 0 && reply == errAlertsBusy.reason+"\n" {
			t.Errorf("a notification alone found no room for %d alerts", o.MaxAlerts)
		}

		notifier.mu.Lock()
		defer notifier.mu.Unlock()
		switch code {
		case http.StatusOK:
			// Only the notifier answers this.
			if len(notifier.got) != 1 {
				t.Fatalf("status %d after %d notifications, want 1", code, len(notifier.got))
			}
			checkNotification(t, notifier.got[0])
			if got := len(notifier.got[0].Alerts); o.MaxAlerts > 0 && got > o.MaxAlerts {
				t.Errorf("kept %d alerts, more than max_alerts %d", got, o.MaxAlerts)
			}
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			if len(notifier.got) != 0 {
				t.Errorf("status %d, yet the notification reached the notifier", code)
			}
		}
	})
}

// checkNotification fails unless n is what the layers behind the receiver
// count on: Alertmanager's webhook version, at least one alert, each
// firing or resolved, with labels, and an id to log it by.
func checkNotification(t *testing.T, n *notification.Notification) {
	t.Helper()
	if n.Version != notification.Version || n.Data == nil || len(n.Alerts) == 0 || n.ID == "" {
		t.Fatalf("accepted notification version %q, id %q, data %+v", n.Version, n.ID, n.Data)
	}
	if n.Status != "firing" && n.Status != "resolved" {
		t.Errorf("accepted notification with status %q", n.Status)
	}
	for i, a := range n.Alerts {
		if a.Status != "firing" && a.Status != "resolved" {
			t.Errorf("accepted alert %d with status %q", i, a.Status)
		}
		if len(a.Labels) == 0 {
			t.Errorf("accepted alert %d without labels", i)
		}
	}
}
