package receiver

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
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
// being paged are bounded together, room taken as each alert is decoded.
// A notification that runs out of it is answered 503 with Retry-After
// and gives back what it took, as does one refused for what it is; a
// request that finds no room left is answered so before its body is read.
// Each passes once the others are paged.
func TestBusyBeyondMaxAlertsInFlight(t *testing.T) {
	valid := fixture(t, "webhook-firing-2-alerts.json")
	other := otherAlerts(t, valid)
	first, second := strings.Index(other, `{"status":"firing","labels"`), strings.LastIndex(other, `{"status":"firing","labels"`)
	end := strings.Index(other, `],"notification_reason"`)
	if first < 0 || second <= first || end < second {
		t.Fatal("the fixture has not two firing alerts")
	}
	invalidSecond := other[:second] + strings.Replace(other[second:], "firing", "burning", 1)
	oneAlert := strings.Replace(other[:first]+other[second:], `"groupKey":"other`, `"groupKey":"one`, 1)

	n := &blockingNotifier{entered: make(chan *notification.Notification, 4), release: make(chan struct{})}
	h, m := newHandler(n, Options{MaxAlertsInFlight: 3, Timeout: time.Minute})
	used := func(want int64, when string) {
		t.Helper()
		if got := h.AlertsInFlight(); got != int(want) {
			t.Errorf("%s: %d alerts in flight, want %d", when, got, want)
		}
	}
	codes := make(chan int, 2)
	go func() { codes <- post(h, strings.NewReader(valid)).Code }()
	receive(t, n.entered)
	used(2, "first notification paged")
	if got := h.NotificationsInFlight(); got != 1 {
		t.Errorf("first notification paged: %d notifications in flight, want 1", got)
	}

	if w := post(h, strings.NewReader(invalidSecond)); w.Code != http.StatusBadRequest {
		t.Errorf("invalid second alert: code = %d, want 400 (%s)", w.Code, w.Body)
	}
	used(2, "after the invalid notification")

	// Room for one alert of two: the oldest being decoded, it waits for
	// room (half of Timeout), then is turned away. Its wait is cut short
	// once it waits, by the end of its request.
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for h.budget.first.Load() == 0 && ctx.Err() == nil {
			runtime.Gosched()
		}
		cancel()
	}()
	w := httptest.NewRecorder()
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/api/v1/alerts", strings.NewReader(other))
	r.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(w, r)
	cancel()
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), "too many alerts in flight") {
		t.Fatalf("code = %d, Retry-After = %q, body %q; want 503, 1 and why", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	used(2, "after the notification without room")

	go func() { codes <- post(h, strings.NewReader(oneAlert)).Code }()
	receive(t, n.entered)
	used(3, "a one-alert notification paged too")
	// No room left: turned away before the body is read.
	body := &readCounter{r: strings.NewReader(other)}
	if w := post(h, body); w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
		t.Errorf("no room left: code = %d, Retry-After = %q; want 503 and 1 (%s)", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if got := body.reads.Load(); got != 0 {
		t.Errorf("no room left: body read %d times, want none", got)
	}
	if c := testutil.ToFloat64(m.WebhooksReceived.WithLabelValues(OtherReceiver, "503")); c != 2 {
		t.Errorf("webhooks_received_total{receiver=other,code=503} = %v, want 2", c)
	}

	close(n.release)
	for range 2 {
		if code := receive(t, codes); code != http.StatusOK {
			t.Errorf("held request answered %d, want 200", code)
		}
	}
	used(0, "once all were answered")
	if got := h.NotificationsInFlight(); got != 0 {
		t.Errorf("once all were answered: %d notifications in flight, want none", got)
	}
	if w := post(h, strings.NewReader(other)); w.Code != http.StatusOK {
		t.Errorf("the retry once the others were paged: code = %d, want 200 (%s)", w.Code, w.Body)
	}

	// Alerts past max_alerts are counted, not kept: they take no room.
	h, _ = newHandler(n, Options{MaxAlerts: 1, MaxAlertsInFlight: 1, Timeout: time.Minute})
	if w := post(h, strings.NewReader(valid)); w.Code != http.StatusOK {
		t.Errorf("2 alerts, max_alerts 1, room for 1: code = %d, want 200 (%s)", w.Code, w.Body)
	}
}

// TestAlertBudgetRefusesOnlyWhatDoesNotFit: a take too big for the room
// left, tried again and again, never turns away a concurrent take that
// fits.
func TestAlertBudgetRefusesOnlyWhatDoesNotFit(t *testing.T) {
	b := &alertBudget{max: 10}
	if !b.tryTake(0, 5) || b.tryTake(0, 6) || b.used.Load() != 5 {
		t.Fatalf("take 5 then 6 of 10: %d used, want 5 and the 6 refused", b.used.Load())
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				if b.tryTake(0, 6) {
					t.Error("a take of 6 fitted with 5 free")
					return
				}
			}
		}
	})
	refused := 0
	for range 100000 {
		if !b.tryTake(0, 1) {
			refused++
			continue
		}
		b.used.Add(-1)
	}
	close(stop)
	wg.Wait()
	if refused > 0 {
		t.Errorf("%d of 100000 takes of 1 refused with 5 of 10 free", refused)
	}
	if b.used.Load() != 5 {
		t.Errorf("%d used at the end, want 5", b.used.Load())
	}
}

// TestOldestClaimWaitsForRoom: of the notifications being decoded, the
// oldest that runs out of room waits for it, and the others are turned
// away at once, giving it theirs: two large notifications decoded side by
// side do not both fail. It waits no longer than its context.
func TestOldestClaimWaitsForRoom(t *testing.T) {
	b := &alertBudget{max: 4}
	oldest, younger := b.claim(t.Context(), 0), b.claim(t.Context(), 0)
	for _, c := range []*claim{oldest, oldest, younger, younger} {
		if !c.take(1) {
			t.Fatal("a take within the room refused")
		}
	}
	took := make(chan bool)
	go func() { took <- oldest.take(1) }()
	waitUntilWaiting(t, b, oldest, took)
	if younger.take(1) {
		t.Fatal("the younger claim took room beyond the bound")
	}
	younger.release()
	if !receive(t, took) {
		t.Fatal("the oldest claim's take refused once the younger gave its room back")
	}
	if got := b.used.Load(); got != 3 {
		t.Errorf("%d alerts in flight, want the oldest claim's 3", got)
	}

	ctx, cancel := context.WithCancel(t.Context())
	waiting := b.claim(ctx, 0)
	oldest.release()
	other := b.claim(t.Context(), 0)
	for range 4 {
		if !other.take(1) {
			t.Fatal("a take within the room refused")
		}
	}
	go func() { took <- waiting.take(1) }()
	waitUntilWaiting(t, b, waiting, took)
	cancel()
	if receive(t, took) {
		t.Error("the oldest claim took room that was never given back")
	}
	waiting.release()
	other.release()
	if got := b.used.Load(); got != 0 || len(b.decoding) != 0 || b.first.Load() != 0 {
		t.Errorf("%d alerts and %d claims in flight, claim %d first, once all were released, want none", got, len(b.decoding), b.first.Load())
	}
}

// waitUntilWaiting returns once claim c waits for room, and fails the
// test if its take, whose answer took brings, returns before.
func waitUntilWaiting(t *testing.T, b *alertBudget, c *claim, took <-chan bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.first.Load() != c.seq {
		select {
		case ok := <-took:
			t.Fatalf("claim %d's take returned %v with no room given back, want it to wait", c.seq, ok)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("claim %d never waited for room", c.seq)
		}
		runtime.Gosched()
	}
}

// takeOnceRoomIsGivenBack has waiter, out of room, wait for it until
// paged, decoded, gives its room back, and fails the test unless the
// waiter then takes it.
func takeOnceRoomIsGivenBack(t *testing.T, b *alertBudget, waiter, paged *claim) {
	t.Helper()
	paged.decoded()
	took := make(chan bool)
	go func() { took <- waiter.take(1) }()
	waitUntilWaiting(t, b, waiter, took)
	paged.release()
	if !receive(t, took) {
		t.Fatal("the waiting claim's take refused once room was given back")
	}
}

// TestRoomGivenBackIsTheWaitersUntilDecoded: once the oldest claim being
// decoded has waited for room, no other takes any, and no request is let
// in, until its decoding ends: else a stream of small notifications
// would take each alert given back and starve it.
func TestRoomGivenBackIsTheWaitersUntilDecoded(t *testing.T) {
	b := &alertBudget{max: 6}
	oldest, paged := b.claim(t.Context(), 0), b.claim(t.Context(), 0)
	for _, c := range []*claim{oldest, oldest, oldest, paged, paged, paged} {
		if !c.take(1) {
			t.Fatal("a take within the room refused")
		}
	}
	takeOnceRoomIsGivenBack(t, b, oldest, paged)
	// A deadline for the newcomer, should it wait: it holds nothing yet.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	newcomer := b.claim(ctx, 0)
	defer newcomer.release()
	if !b.full() {
		t.Error("a request is let in while the room given back is the waiting claim's")
	}
	if newcomer.take(1) {
		t.Error("a younger claim took the room given back to the one that waited")
	}
	if !oldest.take(1) {
		t.Fatal("the claim that waited was refused room that is free")
	}
	oldest.decoded()
	if b.full() {
		t.Error("no request is let in with room free once the waiting claim is decoded")
	}
	if !newcomer.take(1) {
		t.Error("a claim was refused room that is free once the waiting claim is decoded")
	}
	oldest.release()
}

// TestDecodingNotificationWaitsForRoomOfOnePaged: the right to wait
// belongs to the oldest notification still being decoded, not to an
// older one that is being paged and takes no more room: a notification
// that runs out of room while another is paged, as nearly always in a
// storm, waits for the room the paged one gives back.
func TestDecodingNotificationWaitsForRoomOfOnePaged(t *testing.T) {
	valid := fixture(t, "webhook-firing-2-alerts.json")
	n := &blockingNotifier{entered: make(chan *notification.Notification, 2), release: make(chan struct{})}
	// Valid as a config: max_alerts_in_flight >= max_alerts.
	h, _ := newHandler(n, Options{MaxAlertsInFlight: 3, MaxAlerts: 2, Timeout: time.Minute})
	paged := make(chan int, 1)
	go func() { paged <- post(h, strings.NewReader(valid)).Code }()
	receive(t, n.entered) // being paged, it holds 2 of 3

	codes := make(chan int, 1)
	go func() { codes <- post(h, strings.NewReader(otherAlerts(t, valid))).Code }()
	for h.budget.first.Load() == 0 {
		select {
		case code := <-codes:
			t.Fatalf("the only notification being decoded, out of room, answered %d at once; want it to wait for the paged one's room", code)
		case <-time.After(time.Millisecond):
		}
	}
	close(n.release)
	if code := receive(t, codes); code != http.StatusOK {
		t.Errorf("answered %d once the paged one gave its room back, want 200", code)
	}
	if code := receive(t, paged); code != http.StatusOK {
		t.Errorf("the paged one answered %d, want 200", code)
	}
}

// TestLoneClaimOutOfRoomFailsAtOnce: a claim that alone holds all the
// room (only Options a config refuses allow it) has nobody to wait for,
// and is refused at once rather than at the end of its context.
func TestLoneClaimOutOfRoomFailsAtOnce(t *testing.T) {
	b := &alertBudget{max: 1}
	lone := b.claim(t.Context(), 0) // no deadline: a wait would never end
	defer lone.release()
	if !lone.take(1) {
		t.Fatal("a take within the room refused")
	}
	took := make(chan bool)
	go func() { took <- lone.take(1) }()
	if receive(t, took) {
		t.Error("a claim took more room than there is")
	}
}

// TestWaiterGetsRoomGivenBackAsItLooks: the oldest claim being decoded
// is out of room, held by one decoded (paged) claim, which gives it back
// at the same moment. The waiter always gets the room, even when it is
// given back between its failed take and its look at who holds room (it
// would find itself alone and give up). The race is narrow: it showed in
// about one of 2,000 to 20,000 rounds.
func TestWaiterGetsRoomGivenBackAsItLooks(t *testing.T) {
	refused := 0
	const rounds = 20000
	for range rounds {
		b := &alertBudget{max: 2}
		paged, oldest := b.claim(t.Context(), 0), b.claim(t.Context(), 0)
		if !paged.take(1) || !oldest.take(1) {
			t.Fatal("a take within the room refused")
		}
		paged.decoded()
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { <-start; paged.release() })
		close(start)
		if !oldest.take(1) {
			refused++
		}
		wg.Wait()
		oldest.release()
	}
	if refused > 0 {
		t.Errorf("%d of %d times, the oldest claim being decoded was refused the room another gave back at once", refused, rounds)
	}
}

// TestAlertBudgetUnderConcurrentClaims: claims of all sizes decoded,
// paged and cancelled side by side; meanwhile the bound holds, and once
// all are done nothing is held and no claim has the room to itself.
func TestAlertBudgetUnderConcurrentClaims(t *testing.T) {
	b := &alertBudget{max: 20}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if u := b.used.Load(); u > b.max || u < 0 {
				t.Errorf("%d used of %d", u, b.max)
				return
			}
		}
	})
	var cw sync.WaitGroup
	for g := range 8 {
		cw.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 2000 {
				if b.full() {
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.IntN(2000))*time.Microsecond)
				c := b.claim(ctx, 0)
				n := 1 + r.IntN(15)
				ok := true
				for range n {
					if !c.take(1 + int64(r.IntN(3))) { // alerts of weight 1 to 3
						ok = false
						break
					}
				}
				c.decoded()
				if ok && r.IntN(2) == 0 {
					// Held while paged: the others run meanwhile.
					for range r.IntN(50) {
						runtime.Gosched()
					}
				}
				c.release()
				cancel()
			}
		})
	}
	cw.Wait()
	close(stop)
	wg.Wait()
	if u, d, f := b.used.Load(), len(b.decoding), b.first.Load(); u != 0 || d != 0 || f != 0 {
		t.Errorf("once all are done: %d used, %d decoding, first %d; want none", u, d, f)
	}
}

// TestWaiterKeepsTheRoomNoLongerThanItsWait: a claim that waited and got
// room keeps the room given back to itself only while its wait's context
// lasts: a client that trickles the rest of its body must not turn every
// other request away until the body's deadline.
func TestWaiterKeepsTheRoomNoLongerThanItsWait(t *testing.T) {
	b := &alertBudget{max: 3}
	ctx, cancel := context.WithCancel(t.Context())
	slow, paged := b.claim(ctx, 0), b.claim(t.Context(), 0)
	for _, c := range []*claim{slow, paged, paged} {
		if !c.take(1) {
			t.Fatal("a take within the room refused")
		}
	}
	takeOnceRoomIsGivenBack(t, b, slow, paged)
	if !b.full() {
		t.Fatal("a request is let in while the room given back is the waiting claim's")
	}
	cancel() // the wait's context ends; slow is still decoding
	deadline := time.Now().Add(10 * time.Second)
	for b.full() {
		if time.Now().After(deadline) {
			t.Fatalf("the room stays claim %d's after its wait's context ended: every request is turned away", b.first.Load())
		}
		runtime.Gosched()
	}
	other := b.claim(t.Context(), 0)
	if !other.take(1) {
		t.Error("a claim was refused free room after the waiting claim's context ended")
	}
	other.release()
	slow.release()
	if got := b.used.Load(); got != 0 || b.first.Load() != 0 {
		t.Errorf("%d alerts in flight, claim %d first, once all were released, want none", got, b.first.Load())
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
		// Room for one of its two alerts (a config refuses that): alone,
		// with nobody to wait for, it gives up mid-body.
		{name: "out of room for alerts", opts: Options{MaxAlertsInFlight: 1, Timeout: time.Minute}, body: valid, want: 503, wantClose: true, wantReads: true},
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

func TestAlertWeight(t *testing.T) {
	for _, tt := range []struct {
		size    int64
		entries int
		want    int64
	}{
		{size: 0, want: 1},
		{size: 490, entries: 8, want: 1}, // as Prometheus sends it
		{size: 767, entries: 15, want: 1},
		{size: 768, want: 2},
		{size: 100, entries: 16, want: 2},
		{size: 1600, entries: 12, want: 3},
		{size: 1335, entries: 112, want: 9},
		{size: -1, want: 1},
		{size: 1 << 22, want: 1 + 1<<22/alertWeightBytes},
	} {
		if got := alertWeight(tt.size, tt.entries); got != tt.want {
			t.Errorf("alertWeight(%d, %d) = %d, want %d", tt.size, tt.entries, got, tt.want)
		}
	}
}

// TestClaimTakesNoMoreThanItsMost: a notification's claim takes no more
// than max_alerts in all, however heavy its alerts, so that the room a
// config makes sure of lets the largest pass; without a cap it takes what
// its alerts weigh.
func TestClaimTakesNoMoreThanItsMost(t *testing.T) {
	b := &alertBudget{max: 100}
	c := b.claim(t.Context(), 10)
	for _, tt := range []struct{ take, taken int64 }{
		{3, 3}, {3, 6}, {3, 9},
		{3, 10}, // the last of the notification's room: 1
		{3, 10},
	} {
		if !c.take(tt.take) || c.taken != tt.taken {
			t.Errorf("take(%d): the claim holds %d, want %d", tt.take, c.taken, tt.taken)
		}
	}
	if got := b.used.Load(); got != 10 {
		t.Errorf("%d in use, want 10", got)
	}
	c.decoded()
	c.release()
	uncapped := b.claim(t.Context(), 0)
	if !uncapped.take(30) || b.used.Load() != 30 {
		t.Errorf("a claim without a cap took %d of its 30", b.used.Load())
	}
	uncapped.decoded()
	uncapped.release()
}

// heavyAlerts is a notification of n alerts of about size bytes each in
// JSON, most of it one long annotation.
func heavyAlerts(group string, n, size int) string {
	alerts := make([]string, n)
	for i := range alerts {
		a := fmt.Sprintf(`{"status":"firing","labels":{"alertname":"Heavy","i":"%d"},"annotations":{"description":"%%s"},"startsAt":"2026-11-24T22:12:02Z","fingerprint":"%016x"}`, i, i)
		alerts[i] = fmt.Sprintf(a, strings.Repeat("x", size-len(a)+2))
	}
	return fmt.Sprintf(`{"version":"4","groupKey":%q,"receiver":"sms-bridge","status":"firing","externalURL":"http://am:9093","alerts":[%s],"groupLabels":{},"commonLabels":{},"commonAnnotations":{}}`, group, strings.Join(alerts, ","))
}

// TestHeavyAlertsTakeMoreRoom: an alert takes room of the alerts in flight
// by what it holds, one, one more for each 768 bytes of its JSON and one
// more for each 16 labels and annotations; a notification takes no more
// than max_alerts in all, so that the largest passes where a config lets
// it.
func TestHeavyAlertsTakeMoreRoom(t *testing.T) {
	n := &blockingNotifier{entered: make(chan *notification.Notification, 4)}
	h, _ := newHandler(n, Options{MaxAlertsInFlight: 10, MaxAlerts: 8, Timeout: time.Minute})
	for _, tt := range []struct {
		what     string
		body     string
		inFlight int
	}{
		{"two alerts of 1,600 bytes, three each", heavyAlerts("{}:{a=\"1\"}", 2, 1600), 6},
		// 16, capped at max_alerts: it passes once there is room for that.
		{"four alerts of 2,400 bytes, four each", heavyAlerts("{}:{a=\"3\"}", 4, 2400), 8},
	} {
		n.release = make(chan struct{})
		code := make(chan int, 1)
		go func() { code <- post(h, strings.NewReader(tt.body)).Code }()
		receive(t, n.entered)
		if got := h.AlertsInFlight(); got != tt.inFlight {
			t.Errorf("%s paged: %d in flight, want %d", tt.what, got, tt.inFlight)
		}
		close(n.release)
		if c := receive(t, code); c != http.StatusOK {
			t.Errorf("%s: answered %d, want 200", tt.what, c)
		}
	}
}

// TestHeavyTakeWaitsForRoomOfItsWeight: the oldest claim being decoded
// that runs out of room for an alert of more than one waits until there
// is room for all of it, takes that much, and gives back as much; a claim
// alone that holds nearly all the room is refused at once.
func TestHeavyTakeWaitsForRoomOfItsWeight(t *testing.T) {
	b := &alertBudget{max: 5}
	oldest, younger := b.claim(t.Context(), 0), b.claim(t.Context(), 0)
	if !oldest.take(1) || !younger.take(3) {
		t.Fatal("a take within the room refused")
	}
	younger.decoded()
	took := make(chan bool)
	go func() { took <- oldest.take(3) }()
	waitUntilWaiting(t, b, oldest, took)
	younger.release()
	if !receive(t, took) {
		t.Fatal("the oldest claim's take of 3 refused once 3 were given back")
	}
	if got := b.used.Load(); got != 4 {
		t.Errorf("%d in use, want the oldest claim's 4", got)
	}
	oldest.decoded()
	oldest.release()
	if got := b.used.Load(); got != 0 {
		t.Errorf("%d in use once all were released, want 0", got)
	}

	alone := b.claim(t.Context(), 0)
	if !alone.take(4) {
		t.Fatal("a take within the room refused")
	}
	done := make(chan bool, 1)
	go func() { done <- alone.take(2) }()
	if receive(t, done) {
		t.Error("a claim alone took 2 with 1 left")
	}
	alone.decoded()
	alone.release()
	if got := b.used.Load(); got != 0 {
		t.Errorf("%d in use once all were released, want 0", got)
	}
}
