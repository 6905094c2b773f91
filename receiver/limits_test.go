package receiver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
)

// blockingNotifier tells on entered about each notification it is given
// and holds it until release is closed.
type blockingNotifier struct {
	entered chan *notification.Notification
	release chan struct{}
}

func (b *blockingNotifier) Notify(ctx context.Context, n *notification.Notification, _ string) error {
	b.entered <- n
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readCounter is a request body that counts how often it is read.
type readCounter struct {
	r     io.Reader
	reads atomic.Int32
}

func (c *readCounter) Read(p []byte) (int, error) {
	c.reads.Add(1)
	return c.r.Read(p)
}

func post(h http.Handler, body io.Reader) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/api/v1/alerts", body)
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// receive waits for a value from c, or fails the test after a generous
// deadline.
func receive[T any](t *testing.T, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting")
		panic("unreachable")
	}
}

func TestBusyBeyondMaxInFlight(t *testing.T) {
	valid := fixture(t, "webhook-firing-2-alerts.json")
	n := &blockingNotifier{entered: make(chan *notification.Notification, 4), release: make(chan struct{})}
	h, m := newHandler(n, Options{MaxInFlight: 2, Timeout: time.Minute, ReceiverName: NewReceivers("sms-bridge").Name})

	codes := make(chan int, 2)
	// Of two groups and other alerts: notifications of one group, or of
	// the same alerts, wait for each other.
	for _, body := range []string{valid, otherAlerts(t, valid)} {
		go func() { codes <- post(h, strings.NewReader(body)).Code }()
	}
	receive(t, n.entered)
	receive(t, n.entered)

	// Both places are taken: the next request is turned away at once,
	// without a look at its body.
	body := &readCounter{r: strings.NewReader(valid)}
	w := post(h, body)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("code = %d, Retry-After = %q; want 503 and 1 (%s)", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if got := body.reads.Load(); got != 0 {
		t.Errorf("body read %d times, want none", got)
	}
	if w.Header().Get("Connection") != "close" {
		t.Errorf("Connection = %q, want close: the body was left unread", w.Header().Get("Connection"))
	}
	if c := testutil.ToFloat64(m.WebhooksReceived.WithLabelValues(OtherReceiver, "503")); c != 1 {
		t.Errorf("webhooks_received_total{receiver=other,code=503} = %v, want 1", c)
	}

	close(n.release)
	for range 2 {
		if code := receive(t, codes); code != http.StatusOK {
			t.Errorf("held request answered %d, want 200", code)
		}
	}
	// The places were given back.
	if w := post(h, strings.NewReader(valid)); w.Code != http.StatusOK {
		t.Errorf("code after release = %d, want 200 (%s)", w.Code, w.Body)
	}
	if c := testutil.ToFloat64(m.WebhooksReceived.WithLabelValues("sms-bridge", "200")); c != 3 {
		t.Errorf("webhooks_received_total{receiver=sms-bridge,code=200} = %v, want 3", c)
	}
}

// TestBusyBeyondMaxAlertsInFlight: the alerts kept of the notifications
// being paged are bounded together. Room for as many alerts as a body can
// hold (at most max_alerts) is taken before it is read, and cut to the
// alerts kept once decoded. A request that finds no room is answered 503
// with Retry-After before its body is read, and passes once the others
// are paged; one refused for what it is gives its room back.
func TestBusyBeyondMaxAlertsInFlight(t *testing.T) {
	valid := fixture(t, "webhook-firing-2-alerts.json")
	n := &blockingNotifier{entered: make(chan *notification.Notification, 4), release: make(chan struct{})}
	h, m := newHandler(n, Options{MaxAlerts: 50, MaxAlertsInFlight: 50, Timeout: time.Minute})

	first := make(chan int, 1)
	go func() { first <- post(h, strings.NewReader(valid)).Code }()
	receive(t, n.entered)
	if used := h.budget.used.Load(); used != 2 {
		t.Fatalf("%d alerts in flight, want the first notification's 2: its body had room for %d", used, len(valid)/minAlertBytes+1)
	}

	// A body that may hold max_alerts alerts finds room for 48 only.
	other := otherAlerts(t, valid)
	alert := other[strings.Index(other, `{"status":"firing","labels"`):strings.Index(other, `],"notification_reason"`)]
	big := strings.Replace(other, alert, strings.Repeat(alert+",", 30)+alert, 1)
	body := &readCounter{r: strings.NewReader(big)}
	w := post(h, body)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), "too many alerts in flight") {
		t.Fatalf("code = %d, Retry-After = %q, body %q; want 503, 1 and why", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if got := body.reads.Load(); got != 0 {
		t.Errorf("body read %d times, want none", got)
	}
	if used := h.budget.used.Load(); used != 2 {
		t.Errorf("%d alerts in flight after the refused request, want 2", used)
	}
	// A notification refused for an invalid alert gives its room back.
	second := strings.LastIndex(other, `{"status":"firing","labels"`)
	if second <= strings.Index(other, `{"status":"firing","labels"`) {
		t.Fatal("the fixture has no second firing alert to spoil")
	}
	invalidSecond := other[:second] + strings.Replace(other[second:], "firing", "burning", 1)
	if w := post(h, strings.NewReader(invalidSecond)); w.Code != http.StatusBadRequest {
		t.Errorf("invalid second alert: code = %d, want 400 (%s)", w.Code, w.Body)
	}
	if used := h.budget.used.Load(); used != 2 {
		t.Errorf("%d alerts in flight after the invalid notification, want 2", used)
	}
	if c := testutil.ToFloat64(m.WebhooksReceived.WithLabelValues(OtherReceiver, "503")); c != 1 {
		t.Errorf("webhooks_received_total{receiver=other,code=503} = %v, want 1", c)
	}

	close(n.release)
	if code := receive(t, first); code != http.StatusOK {
		t.Fatalf("held request answered %d, want 200", code)
	}
	if used := h.budget.used.Load(); used != 0 {
		t.Errorf("%d alerts in flight once all were answered, want 0", used)
	}
	if w := post(h, strings.NewReader(big)); w.Code != http.StatusOK {
		t.Errorf("the retry once the first was paged: code = %d, want 200 (%s)", w.Code, w.Body)
	}
}

// TestClaimTakesMoreRoomThanReserved: a body that holds more alerts than
// its reserve counted on takes more room alert by alert, and no more than
// the budget has; giving back leaves the budget as it was.
func TestClaimTakesMoreRoomThanReserved(t *testing.T) {
	b := &alertBudget{max: 3}
	c := claim{budget: b}
	if !c.reserve(minAlertBytes, 100) || c.reserved != 2 {
		t.Fatalf("reserve for a body of %d bytes: reserved %d, want 2", minAlertBytes, c.reserved)
	}
	for i := range 3 {
		if !c.take() {
			t.Fatalf("alert %d: no room, want room for 3", i+1)
		}
	}
	if c.take() {
		t.Error("a fourth alert found room in a budget of 3")
	}
	if used := b.used.Load(); used != 3 {
		t.Errorf("%d alerts taken, want 3", used)
	}
	c.trim()
	if used := b.used.Load(); used != 3 {
		t.Errorf("%d alerts taken after trim, want the 3 kept", used)
	}
	c.release()
	if used := b.used.Load(); used != 0 {
		t.Errorf("%d alerts taken after release, want 0", used)
	}
	// The smallest alert the webhook keeps is what minAlertBytes counts.
	const smallest = `{"status":"firing","labels":{"":""}}`
	if len(smallest)+1 != minAlertBytes {
		t.Errorf("minAlertBytes = %d, want %d: the smallest alert and its comma", minAlertBytes, len(smallest)+1)
	}
	body := `{"version":"4","groupKey":"g","status":"firing","receiver":"r","alerts":[` + smallest + "," + smallest + `]}`
	h, _ := newHandler(&notifier{}, Options{})
	if w := post(h, strings.NewReader(body)); w.Code != http.StatusOK {
		t.Errorf("two of the smallest alerts: code = %d, want 200 (%s)", w.Code, w.Body)
	}
	// A body of unknown length may hold max_alerts.
	if !c.reserve(-1, 3) || c.reserved != 3 {
		t.Errorf("reserve for a body of unknown length: reserved %d, want max_alerts 3", c.reserved)
	}
}

func TestUnreadBodyClosesConnection(t *testing.T) {
	valid := fixture(t, "webhook-firing-2-alerts.json")
	// Many valid alerts after an invalid first one: decoding stops at it.
	alert := valid[strings.Index(valid, `{"status":"firing","labels"`):strings.Index(valid, `],"notification_reason"`)]
	invalidFirst := strings.Replace(valid, `"alerts":[`, `"alerts":[{"status":"burning","labels":{"a":"b"}},`+strings.Repeat(alert+",", 200), 1)
	tests := []struct {
		name      string
		opts      Options
		body      string
		want      int
		wantClose bool
		wantReads bool
	}{
		{name: "unauthorized", opts: Options{BearerToken: "tok"}, body: valid, want: 401, wantClose: true},
		{name: "busy", opts: Options{MaxInFlight: -1}, body: valid, want: 503, wantClose: true},
		{name: "invalid alert among many", body: invalidFirst, want: 400, wantClose: true, wantReads: true},
		{name: "read to the end", body: valid, want: 200, wantReads: true},
		{name: "cut off, read to the end", body: `{"version":`, want: 400, wantReads: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newHandler(&notifier{}, tt.opts)
			body := &readCounter{r: strings.NewReader(tt.body)}
			w := post(h, body)
			if w.Code != tt.want {
				t.Fatalf("code = %d, want %d (%s)", w.Code, tt.want, w.Body)
			}
			if got := w.Header().Get("Connection") == "close"; got != tt.wantClose {
				t.Errorf("Connection: close = %v, want %v", got, tt.wantClose)
			}
			if got := body.reads.Load() > 0; got != tt.wantReads {
				t.Errorf("body read = %v, want %v", got, tt.wantReads)
			}
		})
	}
}

// withReceiver is the valid fixture sent by another Alertmanager receiver.
func withReceiver(t *testing.T, name string) string {
	return strings.Replace(fixture(t, "webhook-firing-2-alerts.json"), `"receiver":"sms-bridge"`, fmt.Sprintf(`"receiver":%q`, name), 1)
}

func TestReceiverLabel(t *testing.T) {
	tests := []struct {
		name     string
		known    func(string) (string, bool)
		receiver string
		want     string
	}{
		{name: "named by the config", known: NewReceivers("pager", "sms-bridge").Name, receiver: "sms-bridge", want: "sms-bridge"},
		{name: "quoted by Alertmanager", known: NewReceivers("sms.bridge").Name, receiver: `sms\.bridge`, want: "sms.bridge"},
		{name: "unknown", known: NewReceivers("sms-bridge").Name, receiver: "made-up-4711", want: OtherReceiver},
		{name: "not quoted the way Alertmanager does", known: NewReceivers("sms.bridge").Name, receiver: `sms\.\bridge`, want: OtherReceiver},
		{name: "no names known", known: nil, receiver: "sms-bridge", want: OtherReceiver},
		{name: "routes name no receiver", known: NewReceivers("", "").Name, receiver: "sms-bridge", want: OtherReceiver},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, m := newHandler(&notifier{}, Options{ReceiverName: tt.known})
			if w := post(h, strings.NewReader(withReceiver(t, tt.receiver))); w.Code != http.StatusOK {
				t.Fatalf("code = %d (%s)", w.Code, w.Body)
			}
			if c := testutil.ToFloat64(m.WebhooksReceived.WithLabelValues(tt.want, "200")); c != 1 {
				t.Errorf("webhooks_received_total{receiver=%q} = %v, want 1", tt.want, c)
			}
			if c := testutil.CollectAndCount(m.WebhooksReceived); c != 1 {
				t.Errorf("webhooks_received_total has %d series, want 1", c)
			}
		})
	}
}

// TestReceiverLabelsBounded sends what made /metrics grow for good: many
// receiver names, in requests accepted and refused.
func TestReceiverLabelsBounded(t *testing.T) {
	h, m := newHandler(&notifier{}, Options{ReceiverName: NewReceivers("sms-bridge").Name})
	for i := range 200 {
		name := fmt.Sprintf("receiver-%d", i)
		if w := post(h, strings.NewReader(withReceiver(t, name))); w.Code != http.StatusOK {
			t.Fatalf("code = %d (%s)", w.Code, w.Body)
		}
		bad := strings.Replace(withReceiver(t, name), `"version":"4"`, `"version":"3"`, 1)
		if w := post(h, strings.NewReader(bad)); w.Code != http.StatusBadRequest {
			t.Fatalf("code = %d (%s)", w.Code, w.Body)
		}
	}
	if c := testutil.CollectAndCount(m.WebhooksReceived); c != 2 {
		t.Errorf("webhooks_received_total has %d series, want 2 (other: 200 and 400)", c)
	}
}

func TestReceiverLabelFollowsReload(t *testing.T) {
	var current atomic.Pointer[Receivers]
	set := func(names ...string) {
		r := NewReceivers(names...)
		current.Store(&r)
	}
	set("pager")
	h, m := newHandler(&notifier{}, Options{ReceiverName: func(s string) (string, bool) { return current.Load().Name(s) }})
	send := func() {
		t.Helper()
		if w := post(h, strings.NewReader(withReceiver(t, "sms-bridge"))); w.Code != http.StatusOK {
			t.Fatalf("code = %d (%s)", w.Code, w.Body)
		}
	}
	send()
	set("pager", "sms-bridge") // a reload adds a route for the receiver
	send()
	set("pager") // and another takes it away
	send()
	for label, want := range map[string]float64{OtherReceiver: 2, "sms-bridge": 1} {
		if c := testutil.ToFloat64(m.WebhooksReceived.WithLabelValues(label, "200")); c != want {
			t.Errorf("webhooks_received_total{receiver=%q} = %v, want %v", label, c, want)
		}
	}
}
