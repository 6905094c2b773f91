package sipgatetest

import (
	"encoding/json"
	"net/http"
)

const (
	// userinfoPath is where sipgate tells who the credentials belong to.
	userinfoPath = "/v2/authorization/userinfo"
	// balancePath is where sipgate tells the account's balance.
	balancePath = "/v2/balance"
)

// DefaultBalance is the fake account's balance until SetBalance: 100.00
// EUR, in ten-thousandths as sipgate counts it.
const DefaultBalance = 1000000

// userinfo is what the fake answers GET /authorization/userinfo with.
func userinfo() map[string]string {
	return map[string]string{"sub": "w0", "domain": "sipgate.de", "masterSipId": "1234567", "locale": "de_DE"}
}

// account is what the fake's account endpoints answer; guarded by
// Server.mu.
type account struct {
	amount          int64
	currency        string
	balanceBody     string // raw 200 answer of GET /balance instead of the JSON, when set
	userinfoDenied  bool
	balanceDenied   bool
	revoked         bool // every endpoint answers 401
	accountRequests int
}

// SetBalance sets the balance GET /balance answers, amount in
// ten-thousandths of currency (123400 is 12.34 EUR).
func (s *Server) SetBalance(amount int64, currency string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.account.amount, s.account.currency = amount, currency
}

// BalanceBody makes GET /balance answer 200 with body as it is, such as
// malformed JSON; "" answers the balance of SetBalance again.
func (s *Server) BalanceBody(body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.account.balanceBody = body
}

// AccountForbidden makes GET /authorization/userinfo and GET /balance
// answer 403 when their flag is on, as sipgate does for a token without
// the scope to read them.
func (s *Server) AccountForbidden(userinfo, balance bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.account.userinfoDenied, s.account.balanceDenied = userinfo, balance
}

// RevokeCredentials, when on, makes every endpoint answer 401 whatever
// the credentials, as sipgate does once a token is deleted or a password
// changed.
func (s *Server) RevokeCredentials(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.account.revoked = on
}

// AccountRequests returns how many GETs reached the userinfo and balance
// endpoints, whatever their answer.
func (s *Server) AccountRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.account.accountRequests
}

func (s *Server) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	if !s.allowed(w, r, http.MethodGet) {
		return
	}
	s.mu.Lock()
	denied := s.account.userinfoDenied
	s.mu.Unlock()
	if denied {
		http.Error(w, "forbidden: the token may not read the account", http.StatusForbidden)
		return
	}
	writeJSON(w, userinfo())
}

func (s *Server) serveBalance(w http.ResponseWriter, r *http.Request) {
	if !s.allowed(w, r, http.MethodGet) {
		return
	}
	s.mu.Lock()
	a := s.account
	s.mu.Unlock()
	switch {
	case a.balanceDenied:
		http.Error(w, "forbidden: the token lacks the balance scope", http.StatusForbidden)
	case a.balanceBody != "":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(a.balanceBody))
	default:
		writeJSON(w, map[string]any{"amount": a.amount, "currency": a.currency})
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
