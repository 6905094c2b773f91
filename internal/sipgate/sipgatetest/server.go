// Package sipgatetest is a fake sipgate REST API for tests: it checks
// requests the way sipgate does, records the SMS it accepts, lists them in
// its history, tells the account's balance and can be told to fail in the
// ways sipgate and the network between fail.
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

const (
	// smsPath is where sipgate takes SMS, below the host.
	smsPath = "/v2/sessions/sms"
	// historyPath is where sipgate lists the account's events.
	historyPath = "/v2/history"
)

// maxSendAhead is how far ahead sipgate schedules an SMS.
const maxSendAhead = 31 * 24 * time.Hour

// The history's page size when the request names none, and the largest it
// takes. sipgate documents neither; its own Node.js client expects a 400 for
// a limit of 100000.
const (
	defaultHistoryLimit = 50
	maxHistoryLimit     = 5000
)

var smsIDPattern = regexp.MustCompile(`^s[0-9]+$`)

// Message is one SMS the fake accepted.
type Message struct {
	ID        string // its id in the history
	SMSID     string
	Recipient string
	Message   string
	SendAt    int64 // Unix seconds, 0 when the request had no sendAt
	Received  time.Time
}

// record is an accepted SMS with what the history needs to know of it.
type record struct {
	Message
	visibleAt time.Time // when it appears in the history
}

// Server is a fake sipgate on 127.0.0.1. It is safe for concurrent use.
type Server struct {
	// URL is the base URL to configure clients with, ending in /v2 like
	// https://api.sipgate.com/v2.
	URL string

	srv                *httptest.Server
	username, password string
	// closing is closed by Close, to release requests held by AnswerLate
	// so that Close does not wait for them.
	closing   chan struct{}
	closeOnce sync.Once

	mu              sync.Mutex
	records         []record
	nextID          int
	requests        int
	historyRequests int
	failN           int
	failStatus      int
	failRetry       string
	failTo          map[string]int
	downStatus      int // 0 when up
	downRetry       string
	late            time.Duration
	held            int // requests holding their answer now
	reset           bool
	historyDenied   bool
	historyDelay    time.Duration
	historyTarget   func(recipient string) string
	account         account
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
		closing:  make(chan struct{}),
		failTo:   map[string]int{},
		accepted: make(chan struct{}),
		account:  account{amount: DefaultBalance, currency: "EUR"},
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

// Close shuts the server down, waiting for requests in flight. Requests
// held by AnswerLate are cut off without an answer.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.srv.Close()
}

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

// AnswerLate makes every SMS accepted from now on count as sent at once
// (it is in Messages and, after HistoryDelay, in the history) while its
// answer is held back for d: a client that gives up sooner sees a timeout
// for an SMS that was sent. A held request ends early, without an answer,
// when its client hangs up or the server closes. 0 answers at once again;
// requests already held keep their delay.
func (s *Server) AnswerLate(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.late = max(d, 0)
}

// ResetAfterAccept, when on, makes every SMS accepted from now on count as
// sent and then resets the TCP connection instead of answering, so the
// client sees "connection reset" for an SMS that was sent. With AnswerLate
// the reset comes after the delay.
func (s *Server) ResetAfterAccept(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reset = on
}

// Down makes every request, to any path and before any check, answer
// status (such as 503), with a Retry-After header when retryAfter is not
// empty, until Up. Requests to the SMS endpoint still count in Requests.
// Status 0 is the same as Up.
func (s *Server) Down(status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.downStatus, s.downRetry = status, retryAfter
}

// Up ends Down.
func (s *Server) Up() { s.Down(0, "") }

// HistoryForbidden, when on, makes the history answer 403, as sipgate does
// for a token without the history scope.
func (s *Server) HistoryForbidden(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.historyDenied = on
}

// HistoryDelay makes each SMS accepted from now on appear in the history
// only d after it was accepted: how soon sipgate lists a sent SMS is not
// documented.
func (s *Server) HistoryDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.historyDelay = max(d, 0)
}

// HistoryTarget sets how the history writes an SMS's recipient in the
// target field, such as 0049… for +49…: sipgate's format is not
// documented. nil, the default, writes it as the request gave it. f must
// be safe for concurrent use.
func (s *Server) HistoryTarget(f func(recipient string) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.historyTarget = f
}

// Messages returns the SMS the fake accepted, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	msgs := make([]Message, len(s.records))
	for i, r := range s.records {
		msgs[i] = r.Message
	}
	return msgs
}

// Requests returns how many POSTs reached the SMS endpoint, whatever their
// answer.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Held returns how many requests are holding their answer now, because of
// AnswerLate.
func (s *Server) Held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

func (s *Server) addHeld(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held += n
}

// HistoryRequests returns how many GETs reached the history endpoint,
// whatever their answer.
func (s *Server) HistoryRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.historyRequests
}

// WaitMessages blocks until at least n messages were accepted and returns
// them all. When ctx ends first it returns those accepted so far and an
// error wrapping ctx.Err().
func (s *Server) WaitMessages(ctx context.Context, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		got, accepted := len(s.records), s.accepted
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

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	switch {
	case r.URL.Path == smsPath && r.Method == http.MethodPost:
		s.requests++
	case r.URL.Path == historyPath && r.Method == http.MethodGet:
		s.historyRequests++
	case (r.URL.Path == userinfoPath || r.URL.Path == balancePath) && r.Method == http.MethodGet:
		s.account.accountRequests++
	}
	down, downRetry := s.downStatus, s.downRetry
	s.mu.Unlock()

	if down != 0 {
		if downRetry != "" {
			w.Header().Set("Retry-After", downRetry)
		}
		http.Error(w, http.StatusText(down), down)
		return
	}
	switch r.URL.Path {
	case smsPath:
		s.serveSMS(w, r)
	case historyPath:
		s.serveHistory(w, r)
	case userinfoPath:
		s.serveUserinfo(w, r)
	case balancePath:
		s.serveBalance(w, r)
	default:
		http.Error(w, "not found", http.StatusNotFound)
	}
}

// allowed checks what every endpoint checks first, the method and then
// basic auth (always refused after RevokeCredentials), and answers 405 or
// 401 when one fails.
func (s *Server) allowed(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method != method {
		w.Header().Set("Allow", method)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return false
	}
	s.mu.Lock()
	revoked := s.account.revoked
	s.mu.Unlock()
	if u, p, ok := r.BasicAuth(); ok && !revoked && equal(u, s.username) && equal(p, s.password) {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="sipgate"`)
	http.Error(w, "unauthorized", http.StatusUnauthorized)
	return false
}

// request is the body sipgate takes. Pointers tell a missing smsId (which
// sipgate answers with 500) from an invalid one (400).
type request struct {
	SMSID     *string         `json:"smsId"`
	Recipient string          `json:"recipient"`
	Message   string          `json:"message"`
	SendAt    json.RawMessage `json:"sendAt"`
}

func (s *Server) serveSMS(w http.ResponseWriter, r *http.Request) {
	if !s.allowed(w, r, http.MethodPost) {
		return
	}
	msg, ok := readSMS(w, r)
	if !ok {
		return
	}
	ans := s.answer(msg)
	if ans.retryAfter != "" {
		w.Header().Set("Retry-After", ans.retryAfter)
	}
	if ans.status != http.StatusNoContent {
		http.Error(w, http.StatusText(ans.status), ans.status)
		return
	}
	if ans.late > 0 {
		s.hold(r, ans.late)
	}
	if ans.reset {
		resetConn(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// readSMS decodes and checks the body of a send as sipgate does, and
// answers it with what sipgate answers a bad one (415, 400 or 500) when it
// does not pass.
func readSMS(w http.ResponseWriter, r *http.Request) (Message, bool) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		http.Error(w, "unsupported media type", http.StatusUnsupportedMediaType)
		return Message{}, false
	}
	var req request
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, "invalid JSON: "+err.Error(), http.StatusBadRequest)
		return Message{}, false
	}
	if req.SMSID == nil {
		// sipgate does not validate a missing smsId and fails internally.
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return Message{}, false
	}
	sendAt, err := parseSendAt(req.SendAt, time.Now())
	switch {
	case !smsIDPattern.MatchString(*req.SMSID):
		http.Error(w, "smsId must be s followed by a number", http.StatusBadRequest)
		return Message{}, false
	case strings.TrimSpace(req.Recipient) == "":
		http.Error(w, "recipient must not be empty", http.StatusBadRequest)
		return Message{}, false
	case strings.TrimSpace(req.Message) == "":
		http.Error(w, "message must not be empty", http.StatusBadRequest)
		return Message{}, false
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadRequest)
		return Message{}, false
	}
	return Message{
		SMSID:     *req.SMSID,
		Recipient: req.Recipient,
		Message:   req.Message,
		SendAt:    sendAt,
		Received:  time.Now(),
	}, true
}

// hold holds the answer to r for d (AnswerLate), counted by Held. When the
// client hangs up or the server closes first, nobody is left to answer:
// it aborts the handler.
func (s *Server) hold(r *http.Request, d time.Duration) {
	s.addHeld(1)
	defer s.addHeld(-1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		panic(http.ErrAbortHandler)
	case <-s.closing:
		panic(http.ErrAbortHandler)
	}
}

// answer is what serveSMS does with a valid request.
type answer struct {
	status     int
	retryAfter string
	late       time.Duration // hold the answer this long
	reset      bool          // reset the connection instead of answering
}

// answer decides the answer for a valid request, applying FailRecipient
// and FailNext, and records m when it is accepted, before any fault that
// follows the acceptance.
func (s *Server) answer(m Message) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status, ok := s.failTo[m.Recipient]; ok {
		return answer{status: status}
	}
	if s.failN > 0 {
		s.failN--
		return answer{status: s.failStatus, retryAfter: s.failRetry}
	}
	s.nextID++
	m.ID = strconv.Itoa(s.nextID)
	s.records = append(s.records, record{Message: m, visibleAt: m.Received.Add(s.historyDelay)})
	close(s.accepted)
	s.accepted = make(chan struct{})
	return answer{status: http.StatusNoContent, late: s.late, reset: s.reset}
}

// resetConn drops the connection with a TCP reset: SO_LINGER 0 makes
// Close send RST instead of FIN, so the client reads "connection reset by
// peer" rather than a clean end of stream.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): abort, which also leaves no answer.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
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
