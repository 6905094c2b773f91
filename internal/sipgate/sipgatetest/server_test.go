package sipgatetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
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
