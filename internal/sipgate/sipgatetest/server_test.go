package sipgatetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	user = "token-ABC123"
	pass = "s3cr3t-token"
)

// post sends body to the fake the way a client would, with the given
// changes, and returns the status and Retry-After header.
func post(t *testing.T, url, method, contentType, username, password, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if username != "" {
		req.SetBasicAuth(username, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

func sms(recipient, message string) string {
	return fmt.Sprintf(`{"smsId":"s0","recipient":%q,"message":%q}`, recipient, message)
}

func TestServerChecksRequests(t *testing.T) {
	ahead := time.Now().Add(time.Hour).Unix()
	tooFar := time.Now().Add(60 * 24 * time.Hour).Unix()
	const ok = `{"smsId":"s0","recipient":"+4915112345678","message":"hi"}`
	tests := []struct {
		name        string
		path        string
		method      string
		contentType string
		user, pass  string
		body        string
		want        int
		wantSendAt  int64
	}{
		{name: "valid", body: ok, want: http.StatusNoContent},
		{name: "content type with charset", contentType: "application/json; charset=utf-8", body: ok, want: http.StatusNoContent},
		{name: "sendAt number", body: fmt.Sprintf(`{"smsId":"s12","recipient":"+49","message":"hi","sendAt":%d}`, ahead), want: http.StatusNoContent, wantSendAt: ahead},
		{name: "sendAt string like sipgate's example", body: fmt.Sprintf(`{"smsId":"s0","recipient":"+49","message":"hi","sendAt":"%d"}`, ahead), want: http.StatusNoContent, wantSendAt: ahead},
		{name: "unknown path", path: "/v2/sessions/fax", body: ok, want: http.StatusNotFound},
		{name: "no v2 prefix", path: "/sessions/sms", body: ok, want: http.StatusNotFound},
		{name: "wrong method", method: http.MethodGet, want: http.StatusMethodNotAllowed},
		{name: "no auth", user: "-", body: ok, want: http.StatusUnauthorized},
		{name: "wrong password", pass: "wrong", body: ok, want: http.StatusUnauthorized},
		{name: "wrong user", user: "token-OTHER", body: ok, want: http.StatusUnauthorized},
		{name: "no content type", contentType: "-", body: ok, want: http.StatusUnsupportedMediaType},
		{name: "form content type", contentType: "application/x-www-form-urlencoded", body: ok, want: http.StatusUnsupportedMediaType},
		{name: "undecodable JSON", body: `{"smsId":`, want: http.StatusBadRequest},
		{name: "wrong JSON type", body: `{"smsId":"s0","recipient":4915112345678,"message":"hi"}`, want: http.StatusBadRequest},
		{name: "missing smsId", body: `{"recipient":"+49","message":"hi"}`, want: http.StatusInternalServerError},
		{name: "invalid smsId", body: `{"smsId":"w0","recipient":"+49","message":"hi"}`, want: http.StatusBadRequest},
		{name: "empty smsId", body: `{"smsId":"","recipient":"+49","message":"hi"}`, want: http.StatusBadRequest},
		{name: "empty recipient", body: sms("", "hi"), want: http.StatusBadRequest},
		{name: "empty message", body: sms("+49", ""), want: http.StatusBadRequest},
		{name: "whitespace message", body: sms("+49", " \n\t"), want: http.StatusBadRequest},
		{name: "invalid sendAt", body: `{"smsId":"s0","recipient":"+49","message":"hi","sendAt":"tomorrow"}`, want: http.StatusBadRequest},
		{name: "negative sendAt", body: `{"smsId":"s0","recipient":"+49","message":"hi","sendAt":-5}`, want: http.StatusBadRequest},
		{name: "sendAt beyond a month", body: fmt.Sprintf(`{"smsId":"s0","recipient":"+49","message":"hi","sendAt":%d}`, tooFar), want: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(user, pass)
			defer s.Close()
			url := s.URL + "/sessions/sms"
			if tt.path != "" {
				url = strings.TrimSuffix(s.URL, "/v2") + tt.path
			}
			method, ct, u, p := http.MethodPost, "application/json", user, pass
			if tt.method != "" {
				method = tt.method
			}
			if tt.contentType == "-" {
				ct = ""
			} else if tt.contentType != "" {
				ct = tt.contentType
			}
			if tt.user == "-" {
				u = ""
			} else if tt.user != "" {
				u = tt.user
			}
			if tt.pass != "" {
				p = tt.pass
			}
			if got, _ := post(t, url, method, ct, u, p, tt.body); got != tt.want {
				t.Fatalf("status = %d, want %d", got, tt.want)
			}
			msgs := s.Messages()
			if tt.want != http.StatusNoContent {
				if len(msgs) != 0 {
					t.Fatalf("rejected request was recorded: %+v", msgs)
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("got %d messages, want 1", len(msgs))
			}
			if msgs[0].Message != "hi" || msgs[0].SendAt != tt.wantSendAt || msgs[0].Received.IsZero() {
				t.Errorf("message = %+v, want text hi, sendAt %d", msgs[0], tt.wantSendAt)
			}
		})
	}
}

func TestServerCountsRequests(t *testing.T) {
	s := NewServer(user, pass)
	defer s.Close()
	url := s.URL + "/sessions/sms"
	post(t, url, http.MethodPost, "application/json", user, "wrong", sms("+49", "a"))
	post(t, url, http.MethodPost, "application/json", user, pass, sms("+49", "b"))
	post(t, s.URL+"/balance", http.MethodPost, "application/json", user, pass, sms("+49", "c"))
	post(t, url, http.MethodGet, "", user, pass, "")
	if got := s.Requests(); got != 2 {
		t.Errorf("Requests() = %d, want 2 (POSTs to the SMS endpoint)", got)
	}
}

func TestServerFailNext(t *testing.T) {
	s := NewServer(user, pass)
	defer s.Close()
	url := s.URL + "/sessions/sms"
	s.FailNext(2, http.StatusServiceUnavailable, "3")

	// An invalid request is rejected for itself and leaves the budget alone.
	if got, _ := post(t, url, http.MethodPost, "application/json", user, pass, sms("+49", "")); got != http.StatusBadRequest {
		t.Fatalf("invalid request: status %d, want 400", got)
	}
	for i, want := range []struct {
		status     int
		retryAfter string
	}{{503, "3"}, {503, "3"}, {204, ""}} {
		got, ra := post(t, url, http.MethodPost, "application/json", user, pass, sms("+49", fmt.Sprint("try ", i)))
		if got != want.status || ra != want.retryAfter {
			t.Errorf("request %d: status %d, Retry-After %q; want %d, %q", i, got, ra, want.status, want.retryAfter)
		}
	}
	if msgs := s.Messages(); len(msgs) != 1 || msgs[0].Message != "try 2" {
		t.Errorf("messages = %+v, want only the third", msgs)
	}
}

func TestServerFailRecipient(t *testing.T) {
	s := NewServer(user, pass)
	defer s.Close()
	url := s.URL + "/sessions/sms"
	s.FailRecipient("+49111", http.StatusPaymentRequired)
	s.FailNext(1, http.StatusBadGateway, "")

	for _, step := range []struct {
		recipient string
		want      int
	}{
		{"+49111", 402}, // takes precedence and leaves FailNext alone
		{"+49111", 402}, // every time
		{"+49222", 502},
		{"+49222", 204},
	} {
		if got, _ := post(t, url, http.MethodPost, "application/json", user, pass, sms(step.recipient, "hi")); got != step.want {
			t.Errorf("to %s: status %d, want %d", step.recipient, got, step.want)
		}
	}
	s.FailRecipient("+49111", 0)
	if got, _ := post(t, url, http.MethodPost, "application/json", user, pass, sms("+49111", "hi")); got != 204 {
		t.Errorf("after removing the failure: status %d, want 204", got)
	}
	if got := len(s.Messages()); got != 2 {
		t.Errorf("accepted %d messages, want 2", got)
	}
}

func TestServerWaitMessagesConcurrent(t *testing.T) {
	s := NewServer(user, pass)
	defer s.Close()
	url := s.URL + "/sessions/sms"
	const n = 20

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var (
		wg   sync.WaitGroup
		msgs []Message
		err  error
	)
	wg.Go(func() { msgs, err = s.WaitMessages(ctx, n) })
	for i := range n {
		wg.Go(func() {
			if got, _ := post(t, url, http.MethodPost, "application/json", user, pass, sms("+49", fmt.Sprint(i))); got != 204 {
				t.Errorf("request %d: status %d", i, got)
			}
		})
	}
	wg.Wait()
	if err != nil || len(msgs) != n {
		t.Fatalf("WaitMessages = %d messages, %v; want %d", len(msgs), err, n)
	}
	if got := s.Requests(); got != n {
		t.Errorf("Requests() = %d, want %d", got, n)
	}
}

func TestServerWaitMessagesTimeout(t *testing.T) {
	s := NewServer(user, pass)
	defer s.Close()
	post(t, s.URL+"/sessions/sms", http.MethodPost, "application/json", user, pass, sms("+49", "only one"))

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	msgs, err := s.WaitMessages(ctx, 2)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want deadline exceeded", err)
	}
	if len(msgs) != 1 {
		t.Errorf("got %d messages, want the 1 accepted so far", len(msgs))
	}
}

// send posts one valid SMS with client c, which may carry a timeout, and
// returns the status or the transport error.
func send(ctx context.Context, c *http.Client, s *Server, recipient, message string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/sessions/sms", strings.NewReader(sms(recipient, message)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(user, pass)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// waitCtx is the deadline for waiting on something the test can observe.
func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond, which reads the fake's state, until it holds or
// the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx := waitCtx(t)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

func TestServerAnswerLateTimesOutAfterAccepting(t *testing.T) {
	s := NewServer(user, pass)
	defer s.Close()
	s.AnswerLate(time.Hour)

	c := &http.Client{Timeout: 500 * time.Millisecond}
	_, err := send(context.Background(), c, s, "+4915100000001", "late")
	var nerr net.Error
	if !errors.As(err, &nerr) || !nerr.Timeout() {
		t.Fatalf("err = %v, want a client timeout", err)
	}
	if msgs, err := s.WaitMessages(waitCtx(t), 1); err != nil || msgs[0].Message != "late" {
		t.Fatalf("messages = %+v, %v; want the SMS accepted although the client timed out", msgs, err)
	}
	// The client hung up, so the fake stops holding the request.
	eventually(t, "the held request ends", func() bool { return s.Held() == 0 })

	s.AnswerLate(0)
	if got, err := send(context.Background(), c, s, "+4915100000001", "prompt"); err != nil || got != http.StatusNoContent {
		t.Fatalf("after AnswerLate(0): %d, %v; want 204", got, err)
	}
}

func TestServerAnswerLateAnswersAfterTheDelay(t *testing.T) {
	s := NewServer(user, pass)
	defer s.Close()
	const delay = 100 * time.Millisecond
	s.AnswerLate(delay)

	start := time.Now()
	got, err := send(context.Background(), http.DefaultClient, s, "+4915100000001", "hi")
	if err != nil || got != http.StatusNoContent {
		t.Fatalf("send = %d, %v; want 204", got, err)
	}
	if took := time.Since(start); took < delay {
		t.Errorf("answered after %s, want at least %s", took, delay)
	}
}

func TestServerAnswerLateHeldUntilCancelOrClose(t *testing.T) {
	s := NewServer(user, pass)
	defer s.Close() // for an early failure; closing twice is fine
	s.AnswerLate(time.Hour)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errs := make(chan error, 2)
	go func() {
		_, err := send(ctx, http.DefaultClient, s, "+4915100000001", "cancelled")
		errs <- err
	}()
	go func() {
		_, err := send(context.Background(), http.DefaultClient, s, "+4915100000002", "closed")
		errs <- err
	}()
	if _, err := s.WaitMessages(waitCtx(t), 2); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both requests are held", func() bool { return s.Held() == 2 })

	// A client that gives up ends its request, the other stays held.
	cancel()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled send: err = %v, want context.Canceled", err)
	}
	eventually(t, "one request is held", func() bool { return s.Held() == 1 })

	// Close cuts off the held request instead of waiting an hour.
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-waitCtx(t).Done():
		t.Fatal("Close waits for a held request")
	}
	if err := <-errs; err == nil {
		t.Error("held send got an answer after Close, want none")
	}
}

func TestServerResetAfterAccept(t *testing.T) {
	s := NewServer(user, pass)
	defer s.Close()
	s.ResetAfterAccept(true)

	_, err := send(context.Background(), http.DefaultClient, s, "+4915100000001", "reset")
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("err = %v, want connection reset", err)
	}
	if msgs := s.Messages(); len(msgs) != 1 || msgs[0].Message != "reset" {
		t.Fatalf("messages = %+v, want the SMS accepted before the reset", msgs)
	}
	// A request sipgate rejects is answered as usual.
	if got, _ := post(t, s.URL+"/sessions/sms", http.MethodPost, "application/json", user, pass, sms("+49", "")); got != http.StatusBadRequest {
		t.Errorf("invalid request: status %d, want 400", got)
	}

	s.ResetAfterAccept(false)
	if got, err := send(context.Background(), http.DefaultClient, s, "+4915100000001", "ok"); err != nil || got != http.StatusNoContent {
		t.Fatalf("after ResetAfterAccept(false): %d, %v; want 204", got, err)
	}
	if got := len(s.Messages()); got != 2 {
		t.Errorf("accepted %d messages, want 2", got)
	}
}

func TestServerResetAfterAnsweringLate(t *testing.T) {
	s := NewServer(user, pass)
	defer s.Close()
	const delay = 50 * time.Millisecond
	s.AnswerLate(delay)
	s.ResetAfterAccept(true)

	start := time.Now()
	_, err := send(context.Background(), http.DefaultClient, s, "+4915100000001", "late reset")
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("err = %v, want connection reset", err)
	}
	if took := time.Since(start); took < delay {
		t.Errorf("reset after %s, want at least %s", took, delay)
	}
}

func TestServerDown(t *testing.T) {
	s := NewServer(user, pass)
	defer s.Close()
	s.FailNext(1, http.StatusBadGateway, "")
	s.Down(http.StatusServiceUnavailable, "2")

	for _, tt := range []struct {
		name, path, method, user string
		body                     string
	}{
		{"sms", "/v2/sessions/sms", http.MethodPost, user, sms("+49", "a")},
		{"sms again", "/v2/sessions/sms", http.MethodPost, user, sms("+49", "b")},
		{"sms with wrong credentials", "/v2/sessions/sms", http.MethodPost, "token-OTHER", sms("+49", "c")},
		{"invalid sms", "/v2/sessions/sms", http.MethodPost, user, sms("+49", "")},
		{"history", "/v2/history", http.MethodGet, user, ""},
		{"balance", "/v2/balance", http.MethodGet, user, ""},
		{"unknown path", "/v2/nowhere", http.MethodGet, user, ""},
	} {
		url := strings.TrimSuffix(s.URL, "/v2") + tt.path
		got, ra := post(t, url, tt.method, "application/json", tt.user, pass, tt.body)
		if got != http.StatusServiceUnavailable || ra != "2" {
			t.Errorf("%s: status %d, Retry-After %q; want 503, 2", tt.name, got, ra)
		}
	}
	if got := s.Requests(); got != 4 {
		t.Errorf("Requests() = %d, want the 4 POSTs to the SMS endpoint", got)
	}
	if got := s.HistoryRequests(); got != 1 {
		t.Errorf("HistoryRequests() = %d, want 1", got)
	}
	if got := s.AccountRequests(); got != 1 {
		t.Errorf("AccountRequests() = %d, want 1", got)
	}
	if msgs := s.Messages(); len(msgs) != 0 {
		t.Fatalf("accepted %+v while down", msgs)
	}

	// Being down leaves FailNext's budget alone.
	s.Up()
	for _, want := range []int{http.StatusBadGateway, http.StatusNoContent} {
		if got, _ := post(t, s.URL+"/sessions/sms", http.MethodPost, "application/json", user, pass, sms("+49", "up")); got != want {
			t.Errorf("after Up: status %d, want %d", got, want)
		}
	}
}

// getHistory asks the fake's history with the raw query and returns the
// status and, for 200, the page.
func getHistory(t *testing.T, s *Server, username, query string) (int, historyPage) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+"/history?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if username != "" {
		req.SetBasicAuth(username, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page historyPage
	if resp.StatusCode == http.StatusOK {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q, want application/json", ct)
		}
		if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
			t.Fatalf("decode history: %v", err)
		}
	}
	return resp.StatusCode, page
}

func contents(page historyPage) []string {
	var got []string
	for _, it := range page.Items {
		got = append(got, it.Content)
	}
	return got
}

func TestServerHistoryListsAcceptedSMS(t *testing.T) {
	s := NewServer(user, pass)
	defer s.Close()
	url := s.URL + "/sessions/sms"
	before := time.Now().Add(-time.Second)
	post(t, url, http.MethodPost, "application/json", user, pass, sms("+4915100000001", "first"))
	s.FailNext(1, http.StatusInternalServerError, "")
	post(t, url, http.MethodPost, "application/json", user, pass, sms("+4915100000001", "failed"))
	post(t, url, http.MethodPost, "application/json", user, pass, `{"smsId":"s1","recipient":"+4915100000002","message":"second"}`)

	status, page := getHistory(t, s, user, "")
	if status != http.StatusOK {
		t.Fatalf("status %d, want 200", status)
	}
	if page.TotalCount != 2 || !slices.Equal(contents(page), []string{"second", "first"}) {
		t.Fatalf("history = %d %q, want the 2 accepted SMS, newest first", page.TotalCount, contents(page))
	}
	msgs := s.Messages()
	it := page.Items[1]
	if it.ID != msgs[0].ID || it.ID == "" || it.ID == page.Items[0].ID {
		t.Errorf("id = %q, want the message's id %q, unique", it.ID, msgs[0].ID)
	}
	if it.Type != "SMS" || it.Direction != "OUTGOING" || it.Incoming || it.Target != "+4915100000001" ||
		it.Source == "" || it.Status == "" || !slices.Equal(it.ConnectionIDs, []string{"s0"}) || it.Scheduled != nil {
		t.Errorf("item = %+v, want an outgoing SMS to +4915100000001 from s0", it)
	}
	c, err := time.Parse(time.RFC3339, it.Created)
	if err != nil || c.Before(before) || c.After(time.Now()) || !strings.HasSuffix(it.Created, "Z") {
		t.Errorf("created = %q (%v), want RFC 3339 UTC between %v and now", it.Created, err, before)
	}
}

func TestServerHistoryFilters(t *testing.T) {
	s := NewServer(user, pass)
	defer s.Close()
	url := s.URL + "/sessions/sms"
	for _, body := range []string{
		sms("+4915100000001", "a"),
		sms("+4915100000002", "b"),
		`{"smsId":"s1","recipient":"+4915100000001","message":"c"}`,
		sms("+4915100000001", "d"),
	} {
		if got, _ := post(t, url, http.MethodPost, "application/json", user, pass, body); got != http.StatusNoContent {
			t.Fatalf("send %s: status %d", body, got)
		}
	}
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	future := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000Z") // as JavaScript writes dates

	tests := []struct {
		name, query string
		want        []string
		wantTotal   int
	}{
		{"all", "", []string{"d", "c", "b", "a"}, 4},
		{"types SMS", "types=SMS", []string{"d", "c", "b", "a"}, 4},
		{"types repeated", "types=CALL&types=SMS", []string{"d", "c", "b", "a"}, 4},
		{"types without SMS", "types=CALL&types=FAX", nil, 0},
		{"outgoing", "directions=OUTGOING", []string{"d", "c", "b", "a"}, 4},
		{"incoming", "directions=INCOMING", nil, 0},
		{"connection s0", "connectionIds=s0", []string{"d", "b", "a"}, 3},
		{"connection s1", "connectionIds=s1", []string{"c"}, 1},
		{"connections repeated", "connectionIds=s0&connectionIds=s1", []string{"d", "c", "b", "a"}, 4},
		{"number E.164", "phonenumber=%2B4915100000001", []string{"d", "c", "a"}, 3},
		{"number with 00", "phonenumber=004915100000001", []string{"d", "c", "a"}, 3},
		{"number without plus", "phonenumber=4915100000001", []string{"d", "c", "a"}, 3},
		{"other number", "phonenumber=%2B4915100000009", nil, 0},
		{"from the past", "from=" + past, []string{"d", "c", "b", "a"}, 4},
		{"from the future", "from=" + future, nil, 0},
		{"to the future", "to=" + future, []string{"d", "c", "b", "a"}, 4},
		{"to the past", "to=" + past, nil, 0},
		{"unstarred", "starred=UNSTARRED", []string{"d", "c", "b", "a"}, 4},
		{"starred", "starred=STARRED", nil, 0},
		{"not archived", "archived=false", []string{"d", "c", "b", "a"}, 4},
		{"archived", "archived=true", nil, 0},
		{"first page", "limit=2", []string{"d", "c"}, 4},
		{"second page", "limit=2&offset=2", []string{"b", "a"}, 4},
		{"past the end", "limit=2&offset=4", nil, 4},
		{"all filters", "types=SMS&directions=OUTGOING&connectionIds=s0&phonenumber=%2B4915100000001&from=" + past + "&offset=1&limit=1", []string{"a"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, page := getHistory(t, s, user, tt.query)
			if status != http.StatusOK {
				t.Fatalf("status %d, want 200", status)
			}
			if got := contents(page); !slices.Equal(got, tt.want) || page.TotalCount != tt.wantTotal {
				t.Errorf("got %q, totalCount %d; want %q, %d", got, page.TotalCount, tt.want, tt.wantTotal)
			}
		})
	}
}

func TestServerHistoryRejects(t *testing.T) {
	s := NewServer(user, pass)
	defer s.Close()
	tests := []struct {
		name, user, query string
		want              int
	}{
		{"no auth", "", "", http.StatusUnauthorized},
		{"wrong user", "token-OTHER", "", http.StatusUnauthorized},
		{"comma separated types", user, "types=SMS,CALL", http.StatusBadRequest},
		{"unknown type", user, "types=MMS", http.StatusBadRequest},
		{"unknown direction", user, "directions=OUT", http.StatusBadRequest},
		{"date without time", user, "from=2026-01-01", http.StatusBadRequest},
		{"unix from", user, "from=1767225600", http.StatusBadRequest},
		{"zero limit", user, "limit=0", http.StatusBadRequest},
		{"huge limit", user, "limit=100000", http.StatusBadRequest},
		{"negative offset", user, "offset=-1", http.StatusBadRequest},
		{"misspelt filter", user, "phoneNumber=%2B49", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := getHistory(t, s, tt.user, tt.query); got != tt.want {
				t.Errorf("status %d, want %d", got, tt.want)
			}
		})
	}
	if got, _ := post(t, s.URL+"/history", http.MethodPost, "application/json", user, pass, "{}"); got != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", got)
	}
	if got := s.HistoryRequests(); got != len(tests) {
		t.Errorf("HistoryRequests() = %d, want %d (the GETs)", got, len(tests))
	}
}

func TestServerHistoryForbidden(t *testing.T) {
	s := NewServer(user, pass)
	defer s.Close()
	post(t, s.URL+"/sessions/sms", http.MethodPost, "application/json", user, pass, sms("+49", "hi"))

	s.HistoryForbidden(true)
	if got, _ := getHistory(t, s, user, ""); got != http.StatusForbidden {
		t.Fatalf("status %d, want 403", got)
	}
	if got, _ := getHistory(t, s, "token-OTHER", ""); got != http.StatusUnauthorized {
		t.Errorf("wrong credentials: status %d, want 401 before 403", got)
	}
	// The token still sends SMS.
	if got, _ := post(t, s.URL+"/sessions/sms", http.MethodPost, "application/json", user, pass, sms("+49", "again")); got != http.StatusNoContent {
		t.Errorf("send: status %d, want 204", got)
	}
	s.HistoryForbidden(false)
	if got, page := getHistory(t, s, user, ""); got != http.StatusOK || page.TotalCount != 2 {
		t.Errorf("after HistoryForbidden(false): status %d, %d items; want 200, 2", got, page.TotalCount)
	}
}

func TestServerHistoryDelay(t *testing.T) {
	s := NewServer(user, pass)
	defer s.Close()
	post(t, s.URL+"/sessions/sms", http.MethodPost, "application/json", user, pass, sms("+49", "before"))
	const delay = time.Second
	s.HistoryDelay(delay)

	sent := time.Now()
	post(t, s.URL+"/sessions/sms", http.MethodPost, "application/json", user, pass, sms("+49", "delayed"))
	if _, page := getHistory(t, s, user, ""); !slices.Equal(contents(page), []string{"before"}) {
		t.Fatalf("history right after sending = %q, want only the SMS from before the delay", contents(page))
	}
	if got := len(s.Messages()); got != 2 {
		t.Fatalf("Messages() has %d, want 2: the delay is the history's only", got)
	}
	// The fault is the delay itself: wait for it to show.
	eventually(t, "the delayed SMS is in the history", func() bool {
		_, page := getHistory(t, s, user, "")
		return page.TotalCount == 2
	})
	if took := time.Since(sent); took < delay {
		t.Errorf("appeared after %s, want at least %s", took, delay)
	}
}

func TestServerHistoryTarget(t *testing.T) {
	s := NewServer(user, pass)
	defer s.Close()
	post(t, s.URL+"/sessions/sms", http.MethodPost, "application/json", user, pass, sms("+4915100000001", "hi"))
	s.HistoryTarget(func(n string) string { return "00" + strings.TrimPrefix(n, "+") })

	_, page := getHistory(t, s, user, "phonenumber=%2B4915100000001")
	if len(page.Items) != 1 || page.Items[0].Target != "004915100000001" {
		t.Fatalf("items = %+v, want one with target 004915100000001", page.Items)
	}
}

// TestServerFaultsConcurrent changes every fault while requests run, for
// the race detector.
func TestServerFaultsConcurrent(t *testing.T) {
	s := NewServer(user, pass)
	defer s.Close()
	c := &http.Client{Timeout: 5 * time.Second}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() { _, _ = send(context.Background(), c, s, "+4915100000001", fmt.Sprint(i)) })
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, s.URL+"/history?types=SMS", nil)
			req.SetBasicAuth(user, pass)
			if resp, err := c.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
		wg.Go(func() {
			on := i%2 == 0
			s.AnswerLate(time.Duration(i%3) * time.Millisecond)
			s.ResetAfterAccept(on)
			s.HistoryForbidden(on)
			s.HistoryDelay(time.Duration(i%3) * time.Millisecond)
			s.HistoryTarget(func(n string) string { return n })
			if on {
				s.Down(http.StatusServiceUnavailable, "")
			} else {
				s.Up()
			}
			_, _, _ = s.Held(), s.Requests(), s.HistoryRequests()
		})
	}
	wg.Wait()
	if got := s.Requests(); got != 20 {
		t.Errorf("Requests() = %d, want 20", got)
	}
}
