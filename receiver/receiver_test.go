package receiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/delivery"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/pager"
)

// notifier records what it is asked and answers err.
type notifier struct {
	mu     sync.Mutex
	got    []*notification.Notification
	routes []string
	err    error
}

func (n *notifier) Notify(ctx context.Context, no *notification.Notification, route string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("no deadline")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	n.got = append(n.got, no)
	n.routes = append(n.routes, route)
	return n.err
}

func newHandler(n Notifier, o Options) (*Handler, *metrics.Metrics) {
	m := metrics.New(prometheus.NewRegistry())
	o.Metrics = m
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 4 << 20
	}
	if o.Timeout == 0 {
		o.Timeout = time.Second
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = 4
	}
	return New(n, o), m
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBadRequests(t *testing.T) {
	valid := fixture(t, "webhook-firing-2-alerts.json")
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		opts        Options
		auth        func(*http.Request)
		want        int
		reason      string
	}{
		{name: "malformed JSON", body: `{"version":`, want: 400, reason: "malformed JSON: unexpected EOF"},
		{name: "empty body", body: "", want: 400, reason: "malformed JSON: empty body"},
		{name: "cut off among the alerts", body: valid[:len(valid)/2], want: 400, reason: "malformed JSON: unexpected EOF"},
		{name: "garbage after the notification", body: valid + "\n x", want: 400, reason: "malformed JSON: invalid character 'x'"},
		{name: "second value after the notification", body: valid + "{}", want: 400, reason: "malformed JSON: data after the notification"},
		// JSON v2 says "cannot" or "unable to", chosen at random once
		// per process so that nobody relies on its wording: the next
		// reasons are matched from the word after it.
		{name: "not an object", body: `[` + valid + `]`, want: 400, reason: "unmarshal JSON array into Go notification.Notification"},
		{name: "alerts not an array", body: strings.Replace(valid, `"alerts":[`, `"alerts":"x","ignored":[`, 1), want: 400, reason: `unmarshal JSON string into Go template.Alerts within "/alerts"`},
		{name: "bad type in an alert", body: strings.Replace(valid, `"fingerprint":"5123ebe051319d85"`, `"fingerprint":5`, 1), want: 400, reason: `unmarshal JSON number into Go string within "/alerts/1/fingerprint"`},
		{name: "bad type outside the alerts", body: strings.Replace(valid, `"truncatedAlerts":0`, `"truncatedAlerts":"0"`, 1), want: 400, reason: `unmarshal JSON string into Go uint64 within "/truncatedAlerts"`},
		{name: "alerts twice", body: strings.Replace(valid, `"alerts":[`, `"Alerts":[{"status":"firing","labels":{"a":"b"}}],"alerts":[`, 1), want: 400, reason: "invalid notification: alerts: given twice"},
		{name: "alert without labels", body: strings.Replace(valid, `"labels":{"alertname":"HighErrorRate","instance":"web-2:8080"`, `"labelz":{"alertname":"HighErrorRate","instance":"web-2:8080"`, 1), want: 400, reason: "invalid notification: alerts[1].labels: is required"},
		{name: "wrong version", body: strings.Replace(valid, `"version":"4"`, `"version":"3"`, 1), want: 400, reason: `unsupported webhook version "3"`},
		{name: "no alerts", body: `{"version":"4","groupKey":"g","receiver":"r","status":"firing","alerts":[]}`, want: 400, reason: "alerts: must not be empty"},
		{name: "bad alert status", body: strings.Replace(valid, `"status":"firing","labels"`, `"status":"burning","labels"`, 1), want: 400, reason: `alerts[0].status: "burning" is not one of firing, resolved`},
		{name: "missing group key", body: strings.Replace(valid, `"groupKey"`, `"groupKeyX"`, 1), want: 400, reason: "groupKey: is required"},
		{name: "not JSON", contentType: "text/plain", body: valid, want: 415, reason: "is not application/json"},
		{name: "compressed", body: valid, auth: func(r *http.Request) { r.Header.Set("Content-Encoding", "gzip") }, want: 415, reason: `content encoding "gzip" is not supported: send plain JSON`},
		{name: "compressed, said second", body: valid, auth: func(r *http.Request) {
			r.Header.Add("Content-Encoding", "identity")
			r.Header.Add("Content-Encoding", "gzip")
		}, want: 415, reason: `content encoding "gzip" is not supported`},
		{name: "too large", body: valid, opts: Options{MaxBodyBytes: 100}, want: 413, reason: "body larger than 100 bytes"},
		{name: "too large by a byte", body: valid + " ", opts: Options{MaxBodyBytes: int64(len(valid))}, want: 413, reason: "larger than"},
		{name: "wrong method", method: http.MethodGet, want: 405},
		{name: "missing bearer", body: valid, opts: Options{BearerToken: "tok"}, want: 401},
		{name: "wrong bearer", body: valid, opts: Options{BearerToken: "tok"}, auth: func(r *http.Request) { r.Header.Set("Authorization", "Bearer tok2") }, want: 401},
		{name: "wrong basic", body: valid, opts: Options{BasicAuthUsername: "am", BasicAuthPassword: "pw"}, auth: func(r *http.Request) { r.SetBasicAuth("am", "px") }, want: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &notifier{}
			tt.opts.ReceiverName = NewReceivers("sms-bridge").Name
			h, m := newHandler(n, tt.opts)
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			r := httptest.NewRequest(method, "/api/v1/alerts", strings.NewReader(tt.body))
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			r.Header.Set("Content-Type", ct)
			if tt.auth != nil {
				tt.auth(r)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Errorf("code = %d, want %d (%s)", w.Code, tt.want, w.Body)
			}
			body := w.Body.String()
			if !strings.Contains(body, tt.reason) || strings.Count(strings.TrimSpace(body), "\n") > 0 {
				t.Errorf("body = %q, want one line containing %q", body, tt.reason)
			}
			if len(n.got) != 0 {
				t.Error("bad request reached the notifier")
			}
			// A refused request is counted, but nothing it says becomes a
			// label, not even a known receiver name.
			if tt.want != http.StatusMethodNotAllowed {
				if c := testutil.ToFloat64(m.WebhooksReceived.WithLabelValues(OtherReceiver, fmt.Sprint(tt.want))); c != 1 {
					t.Errorf("webhooks_received_total{receiver=other,code=%d} = %v, want 1", tt.want, c)
				}
				if c := testutil.CollectAndCount(m.WebhooksReceived); c != 1 {
					t.Errorf("webhooks_received_total has %d series, want 1", c)
				}
			}
		})
	}
}

func TestOutcomes(t *testing.T) {
	valid := fixture(t, "webhook-firing-2-alerts.json")
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"delivered", nil, 200},
		{"retry may help", errors.New("2 of 3 SMS failed"), 503},
		{"any error of a valid notification", fmt.Errorf("route notification: %w", errors.New("unknown route")), 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &notifier{err: tt.err}
			h, m := newHandler(n, Options{BasicAuthUsername: "am", BasicAuthPassword: "s3cret", ReceiverName: NewReceivers("sms-bridge").Name})
			r := httptest.NewRequest(http.MethodPost, "/api/v1/alerts/pinned", strings.NewReader(valid))
			r.Header.Set("Content-Type", "application/json; charset=utf-8")
			r.SetBasicAuth("am", "s3cret")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("code = %d, want %d (%s)", w.Code, tt.want, w.Body)
			}
			if len(n.got) != 1 || n.routes[0] != "pinned" {
				t.Fatalf("notifier got %d notifications, routes %v", len(n.got), n.routes)
			}
			got := n.got[0]
			if got.GroupKey != `{}:{alertname="HighErrorRate"}` || len(got.Alerts) != 2 || got.Alerts[1].Labels["instance"] != "web-2:8080" {
				t.Errorf("decoded notification = %+v", got)
			}
			if c := testutil.ToFloat64(m.WebhooksReceived.WithLabelValues("sms-bridge", fmt.Sprint(tt.want))); c != 1 {
				t.Errorf("webhooks_received_total{code=%d} = %v, want 1", tt.want, c)
			}
			if c := testutil.ToFloat64(m.AlertsReceived.WithLabelValues("firing")); c != 2 {
				t.Errorf("alerts_received_total{status=firing} = %v, want 2", c)
			}
		})
	}
}

// deliveries records what the pager hands to delivery, and fails with err.
type deliveries struct {
	mu   sync.Mutex
	msgs []delivery.Message
	err  error
}

func (d *deliveries) Deliver(_ context.Context, b delivery.Batch) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.msgs = append(d.msgs, b.Messages...)
	return d.err
}

// TestRoutingNeverRejects runs the real router behind the handler: alerts
// that match no route and a pinned route that cannot be followed are
// answered as any notification, 200 once the routed alerts are paged (503
// when that fails), never a 4xx that makes Alertmanager drop the pages.
func TestRoutingNeverRejects(t *testing.T) {
	c, err := config.Parse([]byte(`
sipgate: {dry_run: true}
contacts:
  alice: {number: "+4915100000001"}
  bob: {number: "+4915100000002"}
reject_unmatched: true
routes:
  - {name: crit, matchers: ['instance="web-1:8080"'], to: [alice]}
  - {name: night, receiver: sms-night, to: [bob]}
`), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		failSend bool
		want     int
		ignored  string
	}{
		{name: "one alert routed, one not", path: "/api/v1/alerts", want: 200},
		{name: "pinned to an unknown route", path: "/api/v1/alerts/nope", want: 200, ignored: "unknown_route"},
		{name: "pinned to another receiver's route", path: "/api/v1/alerts/night", want: 200, ignored: "receiver_mismatch"},
		{name: "the routed alert's SMS fails", path: "/api/v1/alerts", failSend: true, want: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent := &deliveries{}
			if tt.failSend {
				sent.err = errors.New("sipgate: 500")
			}
			reg := prometheus.NewRegistry()
			m := metrics.New(reg)
			logger := slog.New(slog.NewTextHandler(io.Discard, nil))
			p, err := pager.New(c, sent, pagedNone{}, m, logger)
			if err != nil {
				t.Fatal(err)
			}
			h := New(p, Options{MaxBodyBytes: 1 << 20, Timeout: 5 * time.Second, MaxInFlight: 1, ReceiverName: NewReceivers("sms-night").Name, Metrics: m, Logger: logger})
			r := httptest.NewRequest(http.MethodPost, tt.path, strings.NewReader(fixture(t, "webhook-firing-2-alerts.json")))
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("code = %d (%s), want %d", w.Code, strings.TrimSpace(w.Body.String()), tt.want)
			}
			// web-1 is routed to alice; web-2 matches no route.
			if len(sent.msgs) != 1 || sent.msgs[0].Contact != "alice" || sent.msgs[0].Alerts != 1 || !strings.Contains(sent.msgs[0].Text, "web-1:8080") {
				t.Errorf("delivered %+v, want one SMS to alice about web-1:8080", sent.msgs)
			}
			if got := testutil.ToFloat64(m.AlertsUnrouted.WithLabelValues(OtherReceiver)); got != 1 {
				t.Errorf("alerts_unrouted_total{receiver=other} = %v, want 1", got)
			}
			wantIgnored := 0
			if tt.ignored != "" {
				wantIgnored = 1
				if got := testutil.ToFloat64(m.PinnedRouteIgnored.WithLabelValues(tt.ignored)); got != 1 {
					t.Errorf("pinned_route_ignored_total{reason=%s} = %v, want 1", tt.ignored, got)
				}
			}
			if n := testutil.CollectAndCount(m.PinnedRouteIgnored); n != wantIgnored {
				t.Errorf("pinned_route_ignored_total has %d series, want %d", n, wantIgnored)
			}
			if got := testutil.ToFloat64(m.WebhooksReceived.WithLabelValues(OtherReceiver, fmt.Sprint(tt.want))); got != 1 {
				t.Errorf("webhooks_received_total{receiver=other,code=%d} = %v, want 1", tt.want, got)
			}
		})
	}
}

// pagedNone is a ledger in which nothing was paged yet.
type pagedNone struct{}

func (pagedNone) PagedTo([]ledger.Firing) (map[string][]ledger.PagedRecipient, error) {
	return nil, nil
}

func (pagedNone) LastRepeat(string) (ledger.Repeat, error) { return ledger.Repeat{}, nil }

func (pagedNone) RecordRepeat(string, string) error { return nil }

func (pagedNone) ResolvedIn(string, []string) (map[string]ledger.GroupResolved, error) {
	return nil, nil
}

func (pagedNone) NoteGroup(string, string, []ledger.Firing, []string, bool) error { return nil }

func (pagedNone) Hold(string, time.Time, []ledger.HeldAlert) error { return nil }

func (pagedNone) HeldFor([]ledger.Firing) (held, inDoubt map[string][]string, err error) {
	return nil, nil, nil
}

func (pagedNone) CancelHeld([]ledger.Firing) (held, inDoubt map[string][]string, cancelled int, err error) {
	return nil, nil, 0, nil
}

// TestNotifySeesClientDisconnect: the Notifier learns that Alertmanager hung
// up, so that it need not begin work nobody waits for (the pager still
// finishes sends it began).
func TestNotifySeesClientDisconnect(t *testing.T) {
	n := &notifier{}
	h, _ := newHandler(n, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/api/v1/alerts", strings.NewReader(fixture(t, "webhook-resolved-2-alerts.json")))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusServiceUnavailable || len(n.got) != 0 {
		t.Errorf("code = %d, notifications = %d; want 503 and the notifier told the client is gone", w.Code, len(n.got))
	}
}

func TestEachNotificationGetsItsOwnID(t *testing.T) {
	n := &notifier{}
	h, _ := newHandler(n, Options{})
	for range 2 {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/alerts", strings.NewReader(fixture(t, "webhook-firing-2-alerts.json")))
		r.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if len(n.got) != 2 {
		t.Fatalf("notifications = %d, want 2", len(n.got))
	}
	a, b := n.got[0].ID, n.got[1].ID
	if len(a) != 16 || len(b) != 16 || a == b {
		t.Errorf("ids = %q, %q; want two distinct 16-digit ids", a, b)
	}
}

// TestAnyPinnedPathReachesTheNotifier: a pinned route with slashes, even an
// escaped one, is the notifier's to route, never the mux's 404.
func TestAnyPinnedPathReachesTheNotifier(t *testing.T) {
	for _, path := range []string{"/api/v1/alerts/a/b", "/api/v1/alerts/%2F", "/api/v1/alerts/"} {
		n := &notifier{}
		h, _ := newHandler(n, Options{})
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(fixture(t, "webhook-firing-2-alerts.json")))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK || len(n.got) != 1 {
			t.Errorf("%s: code %d (%s), notifications %d; want 200 and the notification handled", path, w.Code, strings.TrimSpace(w.Body.String()), len(n.got))
		}
	}
}

// holdFirst holds the first notification it is asked until release is
// closed, and answers the others at once.
type holdFirst struct {
	entered chan struct{} // closed when the first is held
	release chan struct{}
	mu      sync.Mutex
	calls   int
}

func (h *holdFirst) Notify(context.Context, *notification.Notification, string) error {
	h.mu.Lock()
	h.calls++
	first := h.calls == 1
	h.mu.Unlock()
	if first {
		close(h.entered)
		<-h.release
	}
	return nil
}

// otherAlerts is a notification with the fixture's alerts replaced by
// alerts of other fingerprints, of another group.
func otherAlerts(t *testing.T, body string) string {
	t.Helper()
	other := strings.NewReplacer(`"groupKey":"`, `"groupKey":"other`,
		`"fingerprint":"f8d0d89aa46f68ba"`, `"fingerprint":"0000000000000001"`,
		`"fingerprint":"5123ebe051319d85"`, `"fingerprint":"0000000000000002"`).Replace(body)
	if strings.Contains(other, "f8d0d89aa46f68ba") || strings.Contains(other, "5123ebe051319d85") || !strings.Contains(other, `"groupKey":"other`) {
		t.Fatal("the fixture's groupKey and fingerprints are not the ones to replace")
	}
	return other
}

// TestAGroupIsNotifiedOneAtATime: while a notification of a group is
// being paged, another of the same group waits for it, and is answered
// 503 when its deadline comes first, without reaching the notifier; so do
// another group with one of its alerts, and the same group to another
// webhook of the receiver (a pinned route). A group of other alerts goes
// on meanwhile.
func TestAGroupIsNotifiedOneAtATime(t *testing.T) {
	hold := &holdFirst{entered: make(chan struct{}), release: make(chan struct{})}
	h, _ := newHandler(hold, Options{Timeout: 200 * time.Millisecond})
	serveAt := func(path, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	serve := func(body string) *httptest.ResponseRecorder { return serveAt("/api/v1/alerts", body) }
	group := fixture(t, "webhook-firing-2-alerts.json")
	other := otherAlerts(t, group)
	// Another group with the first alert of group and an alert of its own.
	sharing := strings.Replace(other, `"fingerprint":"0000000000000001"`, `"fingerprint":"f8d0d89aa46f68ba"`, 1)
	first := make(chan int)
	go func() { first <- serve(group).Code }()
	<-hold.entered

	if w := serve(group); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "same group") {
		t.Errorf("same group while the first is paged: %d %q; want 503 saying why", w.Code, w.Body.String())
	}
	if w := serve(other); w.Code != http.StatusOK {
		t.Errorf("another group of other alerts meanwhile: %d %q; want 200", w.Code, w.Body.String())
	}
	if w := serve(sharing); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "same alerts") {
		t.Errorf("another group with one of the alerts meanwhile: %d %q; want 503 saying why", w.Code, w.Body.String())
	}
	// Alertmanager sends to each webhook of a receiver at once; the
	// same person may be reached through both.
	if w := serveAt("/api/v1/alerts/night", group); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "same alerts") {
		t.Errorf("the same group to a pinned route meanwhile: %d %q; want 503 saying why", w.Code, w.Body.String())
	}
	close(hold.release)
	if code := <-first; code != http.StatusOK {
		t.Errorf("first: %d", code)
	}
	if w := serve(group); w.Code != http.StatusOK {
		t.Errorf("same group once the first is done: %d %q; want 200", w.Code, w.Body.String())
	}
	if w := serve(sharing); w.Code != http.StatusOK {
		t.Errorf("the group with one of the alerts once the first is done: %d %q; want 200", w.Code, w.Body.String())
	}
	if w := serveAt("/api/v1/alerts/night", group); w.Code != http.StatusOK {
		t.Errorf("the pinned route once the first is done: %d %q; want 200", w.Code, w.Body.String())
	}
	if hold.calls != 5 {
		t.Errorf("the notifier was asked %d times, want 5: the first, the group of other alerts, and the three once the first was done", hold.calls)
	}
}

// TestBearerSchemeIsCaseInsensitive: Alertmanager sends
// authorization.type as written in alertmanager.yml, and the scheme is
// case-insensitive (RFC 9110): "bearer" answered 401, which Alertmanager
// does not retry, lost every page of the receiver.
func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	valid := fixture(t, "webhook-firing-2-alerts.json")
	for _, tc := range []struct {
		header string
		want   int
	}{
		{"Bearer tok", http.StatusOK},
		{"bearer tok", http.StatusOK},
		{"BEARER tok", http.StatusOK},
		{"bearer tok2", http.StatusUnauthorized},
		{"Basic tok", http.StatusUnauthorized},
		{"Bearertok", http.StatusUnauthorized},
		{"tok", http.StatusUnauthorized},
	} {
		n := &notifier{}
		h, _ := newHandler(n, Options{BearerToken: "tok", ReceiverName: NewReceivers("sms-bridge").Name})
		r := httptest.NewRequest(http.MethodPost, "/api/v1/alerts", strings.NewReader(valid))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", tc.header)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want || (tc.want == http.StatusOK) != (len(n.got) == 1) {
			t.Errorf("Authorization: %q: %d %q, notified %d times; want %d", tc.header, w.Code, strings.TrimSpace(w.Body.String()), len(n.got), tc.want)
		}
	}
}

func TestHex64(t *testing.T) {
	for s, want := range map[string]uint64{
		"f8d0d89aa46f68ba": 0xf8d0d89aa46f68ba,
		"0000000000000001": 1,
		"FFFFFFFFFFFFFFFF": 0xffffffffffffffff,
	} {
		if got, ok := hex64(s); !ok || got != want {
			t.Errorf("hex64(%q) = %x, %v; want %x, true", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "f8d0d89aa46f68b", "f8d0d89aa46f68bab", "g8d0d89aa46f68ba", "+8d0d89aa46f68ba", "0x0d89aa46f68bab"} {
		if _, ok := hex64(s); ok {
			t.Errorf("hex64(%q) ok, want not 16 hex digits", s)
		}
	}
}
