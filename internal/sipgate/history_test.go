package sipgate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate/sipgatetest"
)

const (
	historyUser     = "token-HIST01"
	historyPassword = "hist-Secret-Token"
	alice           = "+4915100000001"
	bob             = "+4915100000002"
)

// historyFake starts a fake sipgate and a client for it, with the SMS
// extension s0.
func historyFake(t *testing.T) (*sipgatetest.Server, *Client) {
	t.Helper()
	fake := sipgatetest.NewServer(historyUser, historyPassword)
	t.Cleanup(fake.Close)
	return fake, New(Options{BaseURL: fake.URL, SMSID: "s0", Username: historyUser, Password: historyPassword})
}

// sendAll sends each text to recipient through c and fails the test on any
// error.
func sendAll(t *testing.T, c *Client, recipient string, texts ...string) {
	t.Helper()
	for _, text := range texts {
		if err := c.SendSMS(context.Background(), SMS{Recipient: recipient, Message: text}); err != nil {
			t.Fatalf("send %q: %v", text, err)
		}
	}
}

// historyErr asserts that err is an *Error of the history search that
// leaks neither the password nor the searched number, and returns it.
func historyErr(t *testing.T, err error) *Error {
	t.Helper()
	var herr *Error
	if !errors.As(err, &herr) {
		t.Fatalf("err = %v (%T), want *Error", err, err)
	}
	if herr.Op != OpHistory {
		t.Errorf("Op = %q, want %q", herr.Op, OpHistory)
	}
	for _, secret := range []string{historyPassword, alice, url.QueryEscape(alice), strings.TrimPrefix(alice, "+")} {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error leaks %q: %v", secret, err)
		}
	}
	return herr
}

func TestFindSMS(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(*sipgatetest.Server)
		sinceD time.Duration // since = the send's start + sinceD
		find   string        // the recipient searched
		text   string        // the text searched
		want   bool
	}{
		{name: "found", find: alice, text: "FIRING 1 disk full", want: true},
		{name: "other text", find: alice, text: "RESOLVED 1 disk full"},
		{name: "text is a prefix", find: alice, text: "FIRING 1", want: false},
		{name: "text differs in case", find: alice, text: "firing 1 disk full"},
		{name: "other recipient", find: bob, text: "FIRING 1 disk full"},
		{name: "older than since", sinceD: 2 * historyClockSkew, find: alice, text: "FIRING 1 disk full"},
		{name: "within the clock skew", sinceD: historyClockSkew / 2, find: alice, text: "FIRING 1 disk full", want: true},
		{name: "not yet in the history", setup: func(f *sipgatetest.Server) { f.HistoryDelay(time.Hour) }, find: alice, text: "FIRING 1 disk full"},
		{name: "target with 00", setup: target(func(n string) string { return "00" + n[1:] }), find: alice, text: "FIRING 1 disk full", want: true},
		{name: "target without plus", setup: target(func(n string) string { return n[1:] }), find: alice, text: "FIRING 1 disk full", want: true},
		{name: "target national", setup: target(func(n string) string { return "0" + n[3:] }), find: alice, text: "FIRING 1 disk full", want: true},
		{name: "target with spaces", setup: target(func(n string) string { return n[:3] + " " + n[3:6] + " " + n[6:] }), find: alice, text: "FIRING 1 disk full", want: true},
		{name: "searched with 00", find: "00" + alice[1:], text: "FIRING 1 disk full", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c := historyFake(t)
			if tt.setup != nil {
				tt.setup(fake)
			}
			start := time.Now()
			sendAll(t, c, alice, "FIRING 1 disk full")
			sendAll(t, c, bob, "something else")

			got, err := c.FindSMS(context.Background(), tt.find, tt.text, start.Add(tt.sinceD))
			if err != nil || got != tt.want {
				t.Fatalf("FindSMS = %v, %v; want %v, nil", got, err, tt.want)
			}
			if n := fake.HistoryRequests(); n != 1 {
				t.Errorf("history requests = %d, want 1", n)
			}
		})
	}
}

func target(f func(string) string) func(*sipgatetest.Server) {
	return func(s *sipgatetest.Server) { s.HistoryTarget(f) }
}

func TestFindSMSOnlyItsExtension(t *testing.T) {
	fake, _ := historyFake(t)
	other := New(Options{BaseURL: fake.URL, SMSID: "s1", Username: historyUser, Password: historyPassword})
	start := time.Now()
	sendAll(t, other, alice, "from s1")

	c := New(Options{BaseURL: fake.URL, SMSID: "s0", Username: historyUser, Password: historyPassword})
	if got, err := c.FindSMS(context.Background(), alice, "from s1", start); err != nil || got {
		t.Errorf("s0 finds s1's SMS: %v, %v; want false, nil", got, err)
	}
	if got, err := other.FindSMS(context.Background(), alice, "from s1", start); err != nil || !got {
		t.Errorf("s1 does not find its SMS: %v, %v; want true, nil", got, err)
	}
}

func TestFindSMSPages(t *testing.T) {
	tests := []struct {
		name      string
		newer     int // SMS to the same recipient sent after the one searched
		want      bool
		wantErr   error
		wantPages int
	}{
		{name: "first page", newer: historyPageSize - 1, want: true, wantPages: 1},
		{name: "second page", newer: historyPageSize + 10, want: true, wantPages: 2},
		{name: "last page read", newer: historyMaxPages*historyPageSize - 1, want: true, wantPages: historyMaxPages},
		{name: "beyond the bound", newer: historyMaxPages * historyPageSize, wantErr: ErrHistoryIncomplete, wantPages: historyMaxPages},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c := historyFake(t)
			start := time.Now()
			sendAll(t, c, alice, "the one")
			for i := range tt.newer {
				sendAll(t, c, alice, fmt.Sprint("newer ", i))
			}
			got, err := c.FindSMS(context.Background(), alice, "the one", start)
			if got != tt.want || !errors.Is(err, tt.wantErr) {
				t.Fatalf("FindSMS = %v, %v; want %v, %v", got, err, tt.want, tt.wantErr)
			}
			if n := fake.HistoryRequests(); n != tt.wantPages {
				t.Errorf("read %d pages, want %d", n, tt.wantPages)
			}
		})
	}
}

func TestFindSMSNotFoundReadsEveryPage(t *testing.T) {
	fake, c := historyFake(t)
	start := time.Now()
	for i := range historyPageSize + 1 {
		sendAll(t, c, alice, fmt.Sprint("other ", i))
	}
	if got, err := c.FindSMS(context.Background(), alice, "missing", start); got || err != nil {
		t.Fatalf("FindSMS = %v, %v; want false, nil", got, err)
	}
	if n := fake.HistoryRequests(); n != 2 {
		t.Errorf("read %d pages, want 2", n)
	}
}

func TestFindSMSErrors(t *testing.T) {
	tests := []struct {
		name          string
		setup         func(*sipgatetest.Server)
		password      string
		wantStatus    int
		wantTemporary bool
		wantRetry     time.Duration
		wantIn        string
		wantReason    string
	}{
		{name: "no history scope", setup: func(f *sipgatetest.Server) { f.HistoryForbidden(true) }, wantStatus: 403, wantIn: "history read scope", wantReason: "auth"},
		{name: "wrong credentials", password: "wrong", wantStatus: 401, wantIn: "credentials", wantReason: "auth"},
		{name: "sipgate down", setup: func(f *sipgatetest.Server) { f.Down(503, "3") }, wantStatus: 503, wantTemporary: true, wantRetry: 3 * time.Second, wantIn: "retry after 3s", wantReason: "server"},
		{name: "rate limited", setup: func(f *sipgatetest.Server) { f.Down(429, "") }, wantStatus: 429, wantTemporary: true, wantIn: "rate limit", wantReason: "rate_limited"},
		{name: "not found", setup: func(f *sipgatetest.Server) { f.Down(404, "") }, wantStatus: 404, wantIn: "status 404", wantReason: "client"},
		{name: "unreachable", setup: func(f *sipgatetest.Server) { f.Close() }, wantTemporary: true, wantIn: "/v2/history", wantReason: "transport"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, _ := historyFake(t)
			pw := historyPassword
			if tt.password != "" {
				pw = tt.password
			}
			dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sipgate_request_duration_seconds", Help: "test"}, []string{"code"})
			c := New(Options{BaseURL: fake.URL, SMSID: "s0", Username: historyUser, Password: pw, Duration: dur})
			if tt.setup != nil {
				tt.setup(fake)
			}
			got, err := c.FindSMS(context.Background(), alice, "hi", time.Now())
			if got || err == nil {
				t.Fatalf("FindSMS = %v, %v; want an error", got, err)
			}
			herr := historyErr(t, err)
			if herr.StatusCode != tt.wantStatus || herr.Temporary() != tt.wantTemporary || herr.RetryAfter() != tt.wantRetry {
				t.Errorf("status %d, temporary %v, retry %s; want %d, %v, %s", herr.StatusCode, herr.Temporary(), herr.RetryAfter(), tt.wantStatus, tt.wantTemporary, tt.wantRetry)
			}
			if herr.Reason() != tt.wantReason {
				t.Errorf("Reason() = %q, want %q", herr.Reason(), tt.wantReason)
			}
			if !strings.Contains(err.Error(), tt.wantIn) || !strings.HasPrefix(err.Error(), "sipgate: search history: ") {
				t.Errorf("error %q, want it to start with the context and mention %q", err, tt.wantIn)
			}
			code := "error"
			if tt.wantStatus != 0 {
				code = fmt.Sprint(tt.wantStatus)
			}
			if got := observations(t, dur); len(got) != 1 || got[code] != 1 {
				t.Errorf("durations observed per code = %v, want one for %s", got, code)
			}
		})
	}
}

// observations returns how many durations h observed per code label.
func observations(t *testing.T, h *prometheus.HistogramVec) map[string]uint64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(h)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "code" {
					got[l.GetValue()] += m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return got
}

func TestFindSMSInvalidArguments(t *testing.T) {
	fake, c := historyFake(t)
	tests := []struct {
		name, recipient, text string
		since                 time.Time
	}{
		{"no recipient", "", "hi", time.Now()},
		{"recipient without digits", "alice", "hi", time.Now()},
		{"no text", alice, "", time.Now()},
		{"no since", alice, "hi", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.FindSMS(context.Background(), tt.recipient, tt.text, tt.since)
			if herr := historyErr(t, err); got || herr.Temporary() || herr.Reason() != "client" {
				t.Errorf("FindSMS = %v, %v; want a permanent error", got, err)
			}
		})
	}
	bad := New(Options{BaseURL: "ftp://example.com", SMSID: "s0"})
	if _, err := bad.FindSMS(context.Background(), alice, "hi", time.Now()); historyErr(t, err).Temporary() {
		t.Errorf("invalid base URL: %v, want a permanent error", err)
	}
	if n := fake.HistoryRequests(); n != 0 {
		t.Errorf("sent %d history requests, want none", n)
	}
}

func TestFindSMSContextEnds(t *testing.T) {
	// A history that never answers, so that only the context can end the
	// search.
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	c := New(Options{BaseURL: srv.URL + "/v2", SMSID: "s0", Username: historyUser, Password: historyPassword})

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.FindSMS(ctx, alice, "hi", time.Now())
		errc <- err
	}()
	<-arrived
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	var herr *Error
	if errors.As(err, &herr) {
		t.Errorf("err is an *Error (%v); the caller gave up, not sipgate", herr)
	}
}

// TestFindSMSRequest checks what goes over the wire: the filters sipgate
// documents, arrays as repeated keys, auth and headers.
func TestFindSMSRequest(t *testing.T) {
	fake := sipgatetest.NewServer(historyUser, historyPassword)
	defer fake.Close()
	var (
		mu  sync.Mutex
		got []*http.Request
	)
	h := fake.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Clone(context.Background()))
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c := New(Options{BaseURL: srv.URL + "/v2/", SMSID: "s7", Username: historyUser, Password: historyPassword, UserAgent: "alertmanager-sipgate/test"})

	since := time.Date(2026, 3, 1, 12, 30, 0, 0, time.FixedZone("CET", 3600))
	if found, err := c.FindSMS(context.Background(), alice, "hi", since); found || err != nil {
		t.Fatalf("FindSMS = %v, %v; want false, nil", found, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1", len(got))
	}
	r := got[0]
	if r.Method != http.MethodGet || r.URL.Path != "/v2/history" {
		t.Errorf("request %s %s, want GET /v2/history", r.Method, r.URL.Path)
	}
	want := url.Values{
		"types":         {"SMS"},
		"directions":    {"OUTGOING"},
		"connectionIds": {"s7"},
		"phonenumber":   {alice},
		"from":          {"2026-03-01T11:29:00Z"},
		"offset":        {"0"},
		"limit":         {fmt.Sprint(historyPageSize)},
	}
	if q := r.URL.Query(); q.Encode() != want.Encode() {
		t.Errorf("query = %s, want %s", q.Encode(), want.Encode())
	}
	if u, p, ok := r.BasicAuth(); !ok || u != historyUser || p != historyPassword {
		t.Errorf("basic auth = %q, %v; want the client's credentials", u, ok)
	}
	if r.Header.Get("Accept") != "application/json" || r.Header.Get("User-Agent") != "alertmanager-sipgate/test" {
		t.Errorf("headers = %v, want Accept application/json and the user agent", r.Header)
	}
}

func TestFindSMSUnreadableAnswer(t *testing.T) {
	tests := []struct{ name, body, wantIn string }{
		{"not JSON", "<html>maintenance</html>", "cannot read"},
		{"undated match", `{"items":[{"type":"SMS","direction":"OUTGOING","target":"+4915100000001","content":"hi","created":"yesterday"}],"totalCount":1}`, "unreadable creation time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			c := New(Options{BaseURL: srv.URL, SMSID: "s0", Username: historyUser, Password: historyPassword})
			found, err := c.FindSMS(context.Background(), alice, "hi", time.Now())
			if found || err == nil || !strings.Contains(err.Error(), tt.wantIn) {
				t.Fatalf("FindSMS = %v, %v; want an error saying %q", found, err, tt.wantIn)
			}
			historyErr(t, err)
		})
	}
}

func TestHistoryEntryFieldsAndTimes(t *testing.T) {
	tests := []struct {
		name, body string
		want       bool
	}{
		{"content", `{"type":"SMS","direction":"OUTGOING","target":"+4915100000001","content":"hi","created":"2026-03-01T12:00:00Z"}`, true},
		{"smsContent", `{"type":"SMS","direction":"OUTGOING","target":"+4915100000001","smsContent":"hi","created":"2026-03-01T12:00:00Z"}`, true},
		{"fractional seconds and offset", `{"type":"SMS","target":"+4915100000001","content":"hi","created":"2026-03-01T13:00:00.123+01:00"}`, true},
		{"offset without colon", `{"type":"SMS","target":"+4915100000001","content":"hi","created":"2026-03-01T13:00:00.000+0100"}`, true},
		{"a call", `{"type":"CALL","direction":"OUTGOING","target":"+4915100000001","content":"hi","created":"2026-03-01T12:00:00Z"}`, false},
		{"incoming", `{"type":"SMS","direction":"INCOMING","target":"+4915100000001","content":"hi","created":"2026-03-01T12:00:00Z"}`, false},
		{"too old", `{"type":"SMS","target":"+4915100000001","content":"hi","created":"2026-03-01T11:58:59Z"}`, false},
	}
	since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, `{"items":[%s],"totalCount":1}`, tt.body)
			}))
			defer srv.Close()
			c := New(Options{BaseURL: srv.URL, SMSID: "s0", Username: historyUser, Password: historyPassword})
			if found, err := c.FindSMS(context.Background(), alice, "hi", since); found != tt.want || err != nil {
				t.Errorf("FindSMS = %v, %v; want %v, nil", found, err, tt.want)
			}
		})
	}
}

func TestSameNumber(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"+4915112345678", "+4915112345678", true},
		{"+4915112345678", "004915112345678", true},
		{"+4915112345678", "4915112345678", true},
		{"+4915112345678", "015112345678", true},
		{"015112345678", "+49 151 1234 5678", true},
		{"+49 (151) 1234-5678", "+4915112345678", true},
		{"+4915112345678", "+4915112345679", false},
		{"+4915112345678", "+4315112345678", false}, // another country
		{"+4915112345678", "015112345679", false},
		{"+4915112345678", "05678", false}, // too short to be a national number
		{"+4915112345678", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.a+" "+tt.b, func(t *testing.T) {
			if got := sameNumber(tt.a, tt.b); got != tt.want {
				t.Errorf("sameNumber(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

// TestFindSMSSettlesUnknownOutcomes is the case FindSMS exists for: a send
// whose answer never came, although sipgate accepted the SMS.
func TestFindSMSSettlesUnknownOutcomes(t *testing.T) {
	tests := []struct {
		name  string
		fault func(*sipgatetest.Server)
	}{
		{"answer after the client's timeout", func(f *sipgatetest.Server) { f.AnswerLate(time.Hour) }},
		{"reset after accepting", func(f *sipgatetest.Server) { f.ResetAfterAccept(true) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := sipgatetest.NewServer(historyUser, historyPassword)
			defer fake.Close()
			c := New(Options{BaseURL: fake.URL, SMSID: "s0", Username: historyUser, Password: historyPassword,
				HTTPClient: &http.Client{Timeout: 500 * time.Millisecond}})
			tt.fault(fake)

			start := time.Now()
			if err := c.SendSMS(context.Background(), SMS{Recipient: alice, Message: "FIRING 1"}); err == nil {
				t.Fatal("SendSMS succeeded, want the fault's error")
			}
			if found, err := c.FindSMS(context.Background(), alice, "FIRING 1", start); !found || err != nil {
				t.Errorf("FindSMS = %v, %v; want true, nil", found, err)
			}
		})
	}
}
