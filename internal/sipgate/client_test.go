package sipgate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate/sipgatetest"
)

const (
	user     = "token-ABC123"
	password = "pa55-Secret-Token"
)

func newClient(baseURL string, change func(*Options)) *Client {
	o := Options{BaseURL: baseURL, SMSID: "s0", Username: user, Password: password, UserAgent: "alertmanager-sipgate/test"}
	if change != nil {
		change(&o)
	}
	return New(o)
}

// sipgateError asserts that err is an *Error that does not leak the
// password, and returns it.
func sipgateError(t *testing.T, err error) *Error {
	t.Helper()
	var serr *Error
	if !errors.As(err, &serr) {
		t.Fatalf("err = %v (%T), want *sipgate.Error", err, err)
	}
	if serr.Op != OpSend {
		t.Errorf("Op = %q, want %q", serr.Op, OpSend)
	}
	if strings.Contains(err.Error(), password) {
		t.Fatalf("error leaks the password: %v", err)
	}
	return serr
}

// recorded is what a client sent, as seen in front of the fake.
type recorded struct {
	header http.Header
	body   []byte
}

// recordingFake serves the fake behind a handler that keeps each request's
// headers and raw body, so that tests can check the wire format.
func recordingFake(t *testing.T) (fake *sipgatetest.Server, baseURL string, requests func() []recorded) {
	fake = sipgatetest.NewServer(user, password)
	var (
		mu  sync.Mutex
		got []recorded
	)
	h := fake.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, recorded{header: r.Header.Clone(), body: b})
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { srv.Close(); fake.Close() })
	return fake, srv.URL + "/v2", func() []recorded {
		mu.Lock()
		defer mu.Unlock()
		return append([]recorded(nil), got...)
	}
}

func TestSendSMSAccepted(t *testing.T) {
	sendAt := time.Now().Add(time.Hour).Truncate(time.Second)
	tests := []struct {
		name       string
		suffix     string // appended to the base URL
		sms        SMS
		wantSendAt any // the raw JSON value, nil when absent
	}{
		{name: "now", sms: SMS{Recipient: "+4915112345678", Message: "FIRING: disk full"}},
		{name: "trailing slash in base URL", suffix: "/", sms: SMS{Recipient: "+4915112345678", Message: "x"}},
		{name: "scheduled", sms: SMS{Recipient: "+4915112345678", Message: "later", SendAt: sendAt}, wantSendAt: json.Number(strconv.FormatInt(sendAt.Unix(), 10))},
		{name: "scheduled with fraction", sms: SMS{Recipient: "+49", Message: "later", SendAt: sendAt.Add(700 * time.Millisecond)}, wantSendAt: json.Number(strconv.FormatInt(sendAt.Unix(), 10))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, baseURL, requests := recordingFake(t)
			c := newClient(baseURL+tt.suffix, nil)
			if err := c.SendSMS(context.Background(), tt.sms); err != nil {
				t.Fatalf("SendSMS: %v", err)
			}

			reqs := requests()
			if len(reqs) != 1 {
				t.Fatalf("fake saw %d requests, want 1", len(reqs))
			}
			h := reqs[0].header
			for k, want := range map[string]string{
				"Content-Type": "application/json",
				"Accept":       "application/json",
				"User-Agent":   "alertmanager-sipgate/test",
			} {
				if got := h.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			r := http.Request{Header: h}
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
				t.Errorf("basic auth = %q, %q, %v; want the configured credentials", u, p, ok)
			}

			var body map[string]any
			d := json.NewDecoder(bytes.NewReader(reqs[0].body))
			d.UseNumber()
			if err := d.Decode(&body); err != nil {
				t.Fatalf("body %s: %v", reqs[0].body, err)
			}
			want := map[string]any{"smsId": "s0", "recipient": tt.sms.Recipient, "message": tt.sms.Message}
			if tt.wantSendAt != nil {
				want["sendAt"] = tt.wantSendAt
			}
			if len(body) != len(want) {
				t.Errorf("body %s has keys %v, want %v", reqs[0].body, body, want)
			}
			for k, v := range want {
				if body[k] != v {
					t.Errorf("body[%q] = %#v, want %#v", k, body[k], v)
				}
			}

			msgs := fake.Messages()
			if len(msgs) != 1 || msgs[0].Recipient != tt.sms.Recipient || msgs[0].Message != tt.sms.Message {
				t.Errorf("fake accepted %+v, want %+v", msgs, tt.sms)
			}
		})
	}
}

func TestSendSMSStatuses(t *testing.T) {
	ok := SMS{Recipient: "+4915112345678", Message: "hi"}
	tests := []struct {
		name       string
		fail       int // status the fake answers through FailNext, 0 for none
		change     func(*Options)
		path       string // replaces /v2 in the base URL when set
		sms        SMS
		wantCode   int
		wantTemp   bool
		wantReason string
		wantMsg    string
	}{
		{name: "blank message", sms: SMS{Recipient: "+49", Message: "  "}, wantCode: 400, wantReason: "client", wantMsg: "sipgate rejected the request as invalid (400): message must not be empty"},
		{name: "invalid smsId", change: func(o *Options) { o.SMSID = "0" }, sms: ok, wantCode: 400, wantReason: "client", wantMsg: "(400): smsId must be s followed by a number"},
		{name: "wrong password", change: func(o *Options) { o.Password = "wrong" }, sms: ok, wantCode: 401, wantReason: "auth", wantMsg: "sipgate rejected the credentials (401)"},
		{name: "balance", fail: 402, sms: ok, wantCode: 402, wantReason: "balance", wantMsg: "sipgate account balance is too low (402)"},
		{name: "forbidden", fail: 403, sms: ok, wantCode: 403, wantReason: "auth", wantMsg: "sipgate denied the SMS extension: check sms_id and that SMS is booked (403)"},
		{name: "wrong base URL", path: "/v1", sms: ok, wantCode: 404, wantReason: "client", wantMsg: "sipgate endpoint not found: check the base URL (404)"},
		{name: "method", fail: 405, sms: ok, wantCode: 405, wantReason: "client", wantMsg: "(405)"},
		{name: "request timeout", fail: 408, sms: ok, wantCode: 408, wantTemp: true, wantReason: "client", wantMsg: "(408)"},
		{name: "content type", fail: 415, sms: ok, wantCode: 415, wantReason: "client", wantMsg: "sipgate rejected the content type (415)"},
		{name: "other 4xx", fail: 422, sms: ok, wantCode: 422, wantReason: "client", wantMsg: "sipgate answered unexpected status 422: Unprocessable Entity"},
		{name: "rate limit", fail: 429, sms: ok, wantCode: 429, wantTemp: true, wantReason: "rate_limited", wantMsg: "sipgate rate limit reached (429)"},
		{name: "internal error", fail: 500, sms: ok, wantCode: 500, wantTemp: true, wantReason: "server", wantMsg: "sipgate server error (500)"},
		{name: "bad gateway", fail: 502, sms: ok, wantCode: 502, wantTemp: true, wantReason: "server", wantMsg: "sipgate server error (502)"},
		{name: "unavailable", fail: 503, sms: ok, wantCode: 503, wantTemp: true, wantReason: "server", wantMsg: "sipgate server error (503)"},
		{name: "gateway timeout", fail: 504, sms: ok, wantCode: 504, wantTemp: true, wantReason: "server", wantMsg: "a gateway before sipgate gave up waiting for its answer: sipgate may have accepted the SMS (504)"},
		{name: "other 5xx", fail: 507, sms: ok, wantCode: 507, wantTemp: true, wantReason: "server", wantMsg: "sipgate server error (507)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := sipgatetest.NewServer(user, password)
			defer fake.Close()
			if tt.fail != 0 {
				fake.FailNext(1, tt.fail, "")
			}
			baseURL := fake.URL
			if tt.path != "" {
				baseURL = strings.TrimSuffix(baseURL, "/v2") + tt.path
			}
			err := newClient(baseURL, tt.change).SendSMS(context.Background(), tt.sms)
			serr := sipgateError(t, err)
			if serr.StatusCode != tt.wantCode {
				t.Errorf("StatusCode = %d, want %d", serr.StatusCode, tt.wantCode)
			}
			if serr.Temporary() != tt.wantTemp {
				t.Errorf("Temporary() = %v, want %v", serr.Temporary(), tt.wantTemp)
			}
			if serr.Reason() != tt.wantReason {
				t.Errorf("Reason() = %q, want %q", serr.Reason(), tt.wantReason)
			}
			if want := strconv.Itoa(tt.wantCode); serr.Code() != want {
				t.Errorf("Code() = %q, want %q", serr.Code(), want)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Error() = %q, want it to contain %q", err, tt.wantMsg)
			}
			if serr.RetryAfter() != 0 {
				t.Errorf("RetryAfter() = %v without a header", serr.RetryAfter())
			}
			if len(fake.Messages()) != 0 {
				t.Error("the fake accepted a message")
			}
		})
	}
}

func TestSendSMSRetryAfterHeader(t *testing.T) {
	tests := []struct {
		name     string
		header   string
		min, max time.Duration
	}{
		{name: "seconds", header: "7", min: 7 * time.Second, max: 7 * time.Second},
		{name: "HTTP date", header: time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat), min: 28 * time.Second, max: 30 * time.Second},
		{name: "garbage", header: "soon", min: 0, max: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := sipgatetest.NewServer(user, password)
			defer fake.Close()
			fake.FailNext(1, http.StatusTooManyRequests, tt.header)
			err := newClient(fake.URL, nil).SendSMS(context.Background(), SMS{Recipient: "+49", Message: "hi"})
			serr := sipgateError(t, err)
			if got := serr.RetryAfter(); got < tt.min || got > tt.max {
				t.Errorf("RetryAfter() = %v, want in [%v, %v]", got, tt.min, tt.max)
			}
			if tt.min > 0 && !strings.Contains(err.Error(), "retry after") {
				t.Errorf("Error() = %q does not mention the wait", err)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"120", 2 * time.Minute},
		{" 3 ", 3 * time.Second},
		{"-1", 0},
		{"99999999999999", maxRetryAfter},
		{"1.5", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"Fri, 02 Jan 2026 03:05:35 GMT", 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{now.AddDate(1, 0, 0).Format(http.TimeFormat), maxRetryAfter},
		{"tomorrow", 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := retryAfter(tt.in, now); got != tt.want {
				t.Errorf("retryAfter(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestSendSMSLongBodyIsCut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "first line\n\tsecond  line "+strings.Repeat("ä", 200))
	}))
	defer srv.Close()
	err := newClient(srv.URL, nil).SendSMS(context.Background(), SMS{Recipient: "+49", Message: "hi"})
	serr := sipgateError(t, err)
	if !strings.HasPrefix(serr.Body, "first line second line ää") {
		t.Errorf("Body = %q, want the head on one line", serr.Body)
	}
	if len(serr.Body) > maxBody || strings.ContainsAny(serr.Body, "\n\t\uFFFD") {
		t.Errorf("Body = %q (%d bytes), want at most %d bytes of valid single-line text", serr.Body, len(serr.Body), maxBody)
	}
}

// hanging answers nothing until the client gives up or the test ends.
func hanging(t *testing.T) string {
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body lets the server notice the client hanging up.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) }) // runs first
	return srv.URL
}

func TestSendSMSTransportErrors(t *testing.T) {
	closed := sipgatetest.NewServer(user, password)
	closedURL := closed.URL
	closed.Close()

	tests := []struct {
		name    string
		baseURL string
		change  func(*Options)
		wantIs  error
	}{
		{name: "connection refused", baseURL: closedURL, wantIs: syscall.ECONNREFUSED},
		{name: "client timeout", baseURL: hanging(t), change: func(o *Options) { o.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := newClient(tt.baseURL, tt.change).SendSMS(context.Background(), SMS{Recipient: "+49", Message: "hi"})
			serr := sipgateError(t, err)
			if serr.StatusCode != 0 || serr.Err == nil || !serr.Temporary() {
				t.Errorf("got StatusCode %d, Err %v, Temporary %v; want a temporary transport error", serr.StatusCode, serr.Err, serr.Temporary())
			}
			if serr.Reason() != "transport" || serr.Code() != "error" {
				t.Errorf("Reason() = %q, Code() = %q; want transport, error", serr.Reason(), serr.Code())
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.wantIs)
			}
		})
	}
}

func TestSendSMSInvalidBaseURL(t *testing.T) {
	for _, u := range []string{"ftp://example.com/v2", "api.sipgate.com/v2", "http://[::1"} {
		t.Run(u, func(t *testing.T) {
			err := newClient(u, nil).SendSMS(context.Background(), SMS{Recipient: "+49", Message: "hi"})
			serr := sipgateError(t, err)
			if serr.Temporary() {
				t.Errorf("Temporary() = true for %v; no retry fixes a bad URL", err)
			}
			if serr.Reason() != "client" {
				t.Errorf("Reason() = %q for %v, want client: the request must change", serr.Reason(), err)
			}
		})
	}
}

func TestSendSMSContextEnds(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name   string
		ctx    func() (context.Context, context.CancelFunc)
		wantIs error
	}{
		{name: "deadline", ctx: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, wantIs: context.DeadlineExceeded},
		{name: "canceled before", ctx: func() (context.Context, context.CancelFunc) { return canceled, func() {} }, wantIs: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			err := newClient(hanging(t), nil).SendSMS(ctx, SMS{Recipient: "+49", Message: "hi"})
			if !errors.Is(err, tt.wantIs) {
				t.Fatalf("err = %v, want %v", err, tt.wantIs)
			}
			var serr *Error
			if errors.As(err, &serr) {
				t.Errorf("err is an *Error (%v); the caller's own deadline is not sipgate's failure", serr)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error leaks the password: %v", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("SendSMS took %v, ignoring the context", d)
			}
		})
	}
}

func TestSendSMSDuration(t *testing.T) {
	fake := sipgatetest.NewServer(user, password)
	defer fake.Close()
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "d_seconds", Help: "h"}, []string{"code"})
	reg.MustRegister(h)
	c := newClient(fake.URL, func(o *Options) { o.Duration = h })
	sms := SMS{Recipient: "+49", Message: "hi"}

	_ = c.SendSMS(context.Background(), sms)
	_ = c.SendSMS(context.Background(), sms)
	fake.FailNext(1, http.StatusServiceUnavailable, "")
	_ = c.SendSMS(context.Background(), sms)
	fake.Close()
	_ = c.SendSMS(context.Background(), sms)

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetHistogram().GetSampleCount()
		}
	}
	want := map[string]uint64{"204": 2, "503": 1, "error": 1}
	if len(got) != len(want) {
		t.Errorf("observations = %v, want %v", got, want)
	}
	for code, n := range want {
		if got[code] != n {
			t.Errorf("observations with code %q = %d, want %d", code, got[code], n)
		}
	}
}

func TestSendSMSMasksNumbersInErrorBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"message":"invalid recipient +4915112345678 (0151 1234567)"}`, http.StatusBadRequest)
	}))
	defer srv.Close()
	err := New(Options{BaseURL: srv.URL, SMSID: "s0"}).SendSMS(context.Background(), SMS{Recipient: "+4915112345678", Message: "x"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, leak := range []string{"+4915112345678", "0151 1234567"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error %q shows the number %q", err, leak)
		}
	}
	if !strings.Contains(err.Error(), "invalid recipient +49151*") {
		t.Errorf("error %q lacks the masked number", err)
	}
}

// unknownOutcome is what delivery asks of a failure: whether sipgate may
// have accepted the SMS.
// TestSendSMSRedirectIsNoAnswer: a redirect (a proxy's maintenance page, a
// moved endpoint) is reported as itself, a temporary failure: followed,
// the POST became a GET, and the page's 200 read as the SMS accepted, or
// its 404 as refused for good. Either way nobody was paged, and
// Alertmanager heard success.
func TestSendSMSRedirectIsNoAnswer(t *testing.T) {
	for _, page := range []int{http.StatusOK, http.StatusNotFound} {
		t.Run(strconv.Itoa(page), func(t *testing.T) {
			mux := http.NewServeMux()
			mux.HandleFunc("POST /v2/sessions/sms", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/maintenance", http.StatusFound)
			})
			var followed atomic.Int32
			mux.HandleFunc("/maintenance", func(w http.ResponseWriter, _ *http.Request) {
				followed.Add(1)
				w.WriteHeader(page)
			})
			srv := httptest.NewServer(mux)
			defer srv.Close()
			err := newClient(srv.URL+"/v2", nil).SendSMS(context.Background(), SMS{Recipient: "+4915112345678", Message: "hi"})
			serr := sipgateError(t, err)
			if serr.StatusCode != http.StatusFound || !serr.Temporary() || serr.Unknown() {
				t.Errorf("status %d, temporary %v, unknown %v; want 302, true, false", serr.StatusCode, serr.Temporary(), serr.Unknown())
			}
			if !strings.Contains(err.Error(), "redirected the request, which is not followed") {
				t.Errorf("Error() = %q does not say a redirect was not followed", err)
			}
			if n := followed.Load(); n != 0 {
				t.Errorf("the redirect was followed %d times", n)
			}
		})
	}
}

type unknownOutcome interface{ Unknown() bool }

func TestSendSMSTellsUnknownFromUnsent(t *testing.T) {
	closed := sipgatetest.NewServer(user, password)
	closedURL := closed.URL
	closed.Close()
	// A plain HTTP server asked for TLS: the handshake fails.
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	shortTimeout := func(o *Options) { o.HTTPClient = &http.Client{Timeout: 100 * time.Millisecond} }

	tests := []struct {
		name        string
		baseURL     string
		fake        func(*sipgatetest.Server) // faults of a fresh fake, whose URL is used when baseURL is empty
		change      func(*Options)
		sms         SMS
		wantUnknown bool
		wantSent    int // SMS the fake accepted
	}{
		{name: "connection refused", baseURL: closedURL},
		{name: "TLS handshake fails", baseURL: strings.Replace(plain.URL, "http://", "https://", 1) + "/v2"},
		{name: "request cannot be built", baseURL: "ftp://example.com/v2"},
		{name: "server error status", fake: func(s *sipgatetest.Server) { s.FailNext(1, 503, "") }},
		{name: "bad gateway", fake: func(s *sipgatetest.Server) { s.FailNext(1, 502, "") }},
		{name: "gateway timeout", fake: func(s *sipgatetest.Server) { s.FailNext(1, 504, "") }, wantUnknown: true},
		{name: "client error status", fake: func(s *sipgatetest.Server) { s.FailNext(1, 402, "") }},
		{name: "request not written in full", baseURL: resetBeforeBody(t), sms: SMS{Recipient: "+49", Message: strings.Repeat("x", 16<<20)}},
		{name: "answer after the client timeout", fake: func(s *sipgatetest.Server) { s.AnswerLate(time.Minute) }, change: shortTimeout, wantUnknown: true, wantSent: 1},
		{name: "reset after accepting", fake: func(s *sipgatetest.Server) { s.ResetAfterAccept(true) }, wantUnknown: true, wantSent: 1},
		{name: "no answer at all", baseURL: hanging(t), change: shortTimeout, wantUnknown: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			baseURL := tt.baseURL
			var fake *sipgatetest.Server
			if tt.fake != nil {
				fake = sipgatetest.NewServer(user, password)
				defer fake.Close()
				tt.fake(fake)
				baseURL = fake.URL
			}
			sms := tt.sms
			if sms.Message == "" {
				sms = SMS{Recipient: "+4915112345678", Message: "hi"}
			}
			err := newClient(baseURL, tt.change).SendSMS(context.Background(), sms)
			serr := sipgateError(t, err)
			var u unknownOutcome
			if !errors.As(err, &u) || u.Unknown() != tt.wantUnknown || serr.Unknown() != tt.wantUnknown {
				t.Errorf("Unknown() = %v for %v, want %v", serr.Unknown(), err, tt.wantUnknown)
			}
			if tt.wantUnknown && !strings.Contains(err.Error(), "may have accepted") {
				t.Errorf("Error() = %q does not say the SMS may have been sent", err)
			}
			if fake != nil && len(fake.Messages()) != tt.wantSent {
				t.Errorf("the fake accepted %d SMS, want %d", len(fake.Messages()), tt.wantSent)
			}
		})
	}
}

// resetBeforeBody is a server that resets each connection as soon as it
// read the request's headers, before the body: the client fails while
// still writing it.
func resetBeforeBody(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		if tc, ok := conn.(interface{ SetLinger(int) error }); ok {
			_ = tc.SetLinger(0)
		}
		_ = conn.Close()
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestSendSMSContextEndsAfterWriting(t *testing.T) {
	tests := []struct {
		name        string
		baseURL     string
		ctx         func() (context.Context, context.CancelFunc)
		wantIs      error
		wantUnknown bool
	}{
		{name: "deadline while waiting for the answer", baseURL: hanging(t), ctx: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, wantIs: context.DeadlineExceeded, wantUnknown: true},
		{name: "canceled before the request went out", baseURL: hanging(t), ctx: func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, wantIs: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			err := newClient(tt.baseURL, nil).SendSMS(ctx, SMS{Recipient: "+49", Message: "hi"})
			if !errors.Is(err, tt.wantIs) {
				t.Fatalf("err = %v, want %v", err, tt.wantIs)
			}
			var serr *Error
			if errors.As(err, &serr) {
				t.Errorf("err is an *Error (%v); the caller's own deadline is not sipgate's failure", serr)
			}
			var u unknownOutcome
			if !errors.As(err, &u) || u.Unknown() != tt.wantUnknown {
				t.Errorf("err = %v: Unknown() answered %v, want %v", err, u != nil && u.Unknown(), tt.wantUnknown)
			}
		})
	}
}

// TestControlCharactersNeverReachSipgate: whatever text a caller gives, no
// control character goes out, and the history finds the SMS by the text
// the caller gave.
func TestControlCharactersNeverReachSipgate(t *testing.T) {
	fake := sipgatetest.NewServer("token-1", "secret")
	defer fake.Close()
	c := New(Options{BaseURL: fake.URL, SMSID: "s0", Username: "token-1", Password: "secret"})
	text := "FIRING\x00 1\x1b[31m Disk\u0085Full\x7f\tnow\n"
	start := time.Now()
	if err := c.SendSMS(context.Background(), SMS{Recipient: "+4915100000001", Message: text}); err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	if len(msgs) != 1 || msgs[0].Message != "FIRING 1[31m DiskFullnow" {
		t.Fatalf("sipgate got %+v, want the text without control characters", msgs)
	}
	found, err := c.FindSMS(context.Background(), "+4915100000001", text, start)
	if err != nil || !found {
		t.Errorf("FindSMS = %v, %v; want the SMS found by the text given to SendSMS", found, err)
	}
}
