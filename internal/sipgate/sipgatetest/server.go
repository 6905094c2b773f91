// Package sipgatetest is a fake sipgate REST API for tests: it checks
// requests the way sipgate does, records the SMS it accepts and can be told
// to fail.
package sipgatetest

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// smsPath is where sipgate takes SMS, below the host.
const smsPath = "/v2/sessions/sms"

// maxSendAhead is how far ahead sipgate schedules an SMS.
const maxSendAhead = 31 * 24 * time.Hour

var smsIDPattern = regexp.MustCompile(`^s[0-9]+$`)

// Message is one SMS the fake accepted.
type Message struct {
	SMSID     string
	Recipient string
	Message   string
	SendAt    int64 // Unix seconds, 0 when the request had no sendAt
	Received  time.Time
}

// Server is a fake sipgate on 127.0.0.1. It is safe for concurrent use.
type Server struct {
	// URL is the base URL to configure clients with, ending in /v2 like
	// https://api.sipgate.com/v2.
	URL string

	srv                *httptest.Server
	username, password string

	mu         sync.Mutex
	messages   []Message
	requests   int
	failN      int
	failStatus int
	failRetry  string
	failTo     map[string]int
	// accepted is closed and replaced whenever a message is accepted, so
	// that WaitMessages can wait without polling.
	accepted chan struct{}
}

// NewServer starts a fake sipgate that accepts these basic auth
// credentials. The caller must Close it.
func NewServer(username, password string) *Server {
	s := &Server{
		username: username,
		password: password,
		failTo:   map[string]int{},
		accepted: make(chan struct{}),
	}
	// Listen on 127.0.0.1 explicitly: httptest falls back to [::1], and
	// tests must never listen beyond the loopback interface.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("sipgatetest: listen on 127.0.0.1: %v", err))
	}
	s.srv = httptest.NewUnstartedServer(s.Handler())
	s.srv.Listener.Close()
	s.srv.Listener = l
	s.srv.Start()
	s.URL = s.srv.URL + "/v2"
	return s
}

// Close shuts the server down, waiting for requests in flight.
func (s *Server) Close() { s.srv.Close() }

// Handler is the fake's HTTP handler, for tests that serve it themselves.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// FailNext makes the next n requests that sipgate would accept answer
// status instead, with a Retry-After header when retryAfter is not empty.
// Requests rejected for their auth or body do not count against n.
func (s *Server) FailNext(n int, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus, s.failRetry = n, status, retryAfter
}

// FailRecipient makes every otherwise valid request to recipient answer
// status, for permanent failures such as a number sipgate refuses. Status 0
// removes the failure. It takes precedence over FailNext.
func (s *Server) FailRecipient(recipient string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status == 0 {
		delete(s.failTo, recipient)
		return
	}
	s.failTo[recipient] = status
}

// Messages returns the SMS the fake accepted, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Requests returns how many POSTs reached the SMS endpoint, whatever their
// answer.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// WaitMessages blocks until at least n messages were accepted and returns
// them all. When ctx ends first it returns those accepted so far and an
// error wrapping ctx.Err().
func (s *Server) WaitMessages(ctx context.Context, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		got, accepted := len(s.messages), s.accepted
		s.mu.Unlock()
		if got >= n {
			return s.Messages(), nil
		}
		select {
		case <-accepted:
		case <-ctx.Done():
			return s.Messages(), fmt.Errorf("wait for %d sms, got %d: %w", n, got, ctx.Err())
		}
	}
}

// request is the body sipgate takes. Pointers tell a missing smsId (which
// sipgate answers with 500) from an invalid one (400).
type request struct {
	SMSID     *string         `json:"smsId"`
	Recipient string          `json:"recipient"`
	Message   string          `json:"message"`
	SendAt    json.RawMessage `json:"sendAt"`
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != smsPath {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()

	if u, p, ok := r.BasicAuth(); !ok || !equal(u, s.username) || !equal(p, s.password) {
		w.Header().Set("WWW-Authenticate", `Basic realm="sipgate"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		http.Error(w, "unsupported media type", http.StatusUnsupportedMediaType)
		return
	}
	var req request
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, "invalid JSON: "+err.Error(), http.StatusBadRequest)
		return
	}
	if req.SMSID == nil {
		// sipgate does not validate a missing smsId and fails internally.
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	sendAt, err := parseSendAt(req.SendAt, time.Now())
	switch {
	case !smsIDPattern.MatchString(*req.SMSID):
		http.Error(w, "smsId must be s followed by a number", http.StatusBadRequest)
		return
	case strings.TrimSpace(req.Recipient) == "":
		http.Error(w, "recipient must not be empty", http.StatusBadRequest)
		return
	case strings.TrimSpace(req.Message) == "":
		http.Error(w, "message must not be empty", http.StatusBadRequest)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}

	status, retryAfter := s.answer(Message{
		SMSID:     *req.SMSID,
		Recipient: req.Recipient,
		Message:   req.Message,
		SendAt:    sendAt,
		Received:  time.Now(),
	})
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	if status != http.StatusNoContent {
		http.Error(w, http.StatusText(status), status)
		return
	}
	w.WriteHeader(status)
}

// answer decides the status for a valid request, applying FailRecipient and
// FailNext, and records m when it is accepted.
func (s *Server) answer(m Message) (status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status, ok := s.failTo[m.Recipient]; ok {
		return status, ""
	}
	if s.failN > 0 {
		s.failN--
		return s.failStatus, s.failRetry
	}
	s.messages = append(s.messages, m)
	close(s.accepted)
	s.accepted = make(chan struct{})
	return http.StatusNoContent, ""
}

// parseSendAt accepts sendAt as a number or, as sipgate's own example sends
// it, a string of digits; 0 when absent.
func parseSendAt(raw json.RawMessage, now time.Time) (int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		raw = json.RawMessage(str)
	}
	sec, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || sec <= 0 {
		return 0, fmt.Errorf("invalid sendAt %s: want Unix seconds", raw)
	}
	if time.Unix(sec, 0).After(now.Add(maxSendAhead)) {
		return 0, fmt.Errorf("invalid sendAt %d: more than a month ahead", sec)
	}
	return sec, nil
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
