package sipgate

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate/sipgatetest"
)

// accountError asserts that err is an *Error of op that does not leak the
// password, and returns it.
func accountError(t *testing.T, err error, op string) *Error {
	t.Helper()
	var serr *Error
	if !errors.As(err, &serr) {
		t.Fatalf("err = %v (%T), want *sipgate.Error", err, err)
	}
	if serr.Op != op {
		t.Errorf("Op = %q, want %q", serr.Op, op)
	}
	if strings.Contains(err.Error(), password) {
		t.Fatalf("error leaks the password: %v", err)
	}
	return serr
}

func TestUserinfoAndBalance(t *testing.T) {
	fake, baseURL, requests := recordingFake(t)
	fake.SetBalance(123400, "EUR")
	c := newClient(baseURL, nil)

	u, err := c.Userinfo(context.Background())
	if err != nil {
		t.Fatalf("Userinfo: %v", err)
	}
	if u.Sub != "w0" || u.Domain == "" || u.MasterSipID == "" || u.Locale == "" {
		t.Errorf("Userinfo = %+v, want every field of the fake's answer", u)
	}
	b, err := c.Balance(context.Background())
	if err != nil {
		t.Fatalf("Balance: %v", err)
	}
	if b != (Balance{Amount: 123400, Currency: "EUR"}) || b.Units() != 12.34 {
		t.Errorf("Balance = %+v (%v units), want 123400 EUR (12.34)", b, b.Units())
	}

	reqs := requests()
	if len(reqs) != 2 {
		t.Fatalf("fake saw %d requests, want 2", len(reqs))
	}
	for _, rec := range reqs {
		if got := rec.header.Get("Accept"); got != "application/json" {
			t.Errorf("Accept = %q, want application/json", got)
		}
		if got := rec.header.Get("Content-Type"); got != "" {
			t.Errorf("Content-Type = %q on a GET without body", got)
		}
		r := http.Request{Header: rec.header}
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			t.Errorf("basic auth = %q, %q, %v; want the configured credentials", u, p, ok)
		}
		if len(rec.body) != 0 {
			t.Errorf("body = %q, want none", rec.body)
		}
	}
	if got := fake.AccountRequests(); got != 2 {
		t.Errorf("AccountRequests = %d, want 2", got)
	}
}

// TestAccountFailures: each way the account calls fail is an *Error of
// their operation, classified like a send's and worded for the operation.
func TestAccountFailures(t *testing.T) {
	tests := []struct {
		name       string
		op         string
		setup      func(*sipgatetest.Server)
		change     func(*Options)
		path       string // replaces /v2 in the base URL when set
		wantCode   int
		wantTemp   bool
		wantReason string
		wantMsg    string
	}{
		{name: "userinfo wrong password", op: OpUserinfo, change: func(o *Options) { o.Password = "wrong" },
			wantCode: 401, wantReason: "auth", wantMsg: "sipgate rejected the credentials (401)"},
		{name: "balance revoked token", op: OpBalance, setup: func(s *sipgatetest.Server) { s.RevokeCredentials(true) },
			wantCode: 401, wantReason: "auth", wantMsg: "sipgate rejected the credentials reading the balance (401)"},
		{name: "userinfo missing scope", op: OpUserinfo, setup: func(s *sipgatetest.Server) { s.AccountForbidden(true, false) },
			wantCode: 403, wantReason: "auth", wantMsg: "sipgate denied reading the account behind the credentials: check the token's scopes (403)"},
		{name: "balance missing scope", op: OpBalance, setup: func(s *sipgatetest.Server) { s.AccountForbidden(false, true) },
			wantCode: 403, wantReason: "auth", wantMsg: "sipgate denied reading the balance: the token needs the balance read scope (403)"},
		{name: "userinfo down", op: OpUserinfo, setup: func(s *sipgatetest.Server) { s.Down(503, "") },
			wantCode: 503, wantTemp: true, wantReason: "server", wantMsg: "sipgate server error checking the credentials (503)"},
		{name: "balance down", op: OpBalance, setup: func(s *sipgatetest.Server) { s.Down(500, "") },
			wantCode: 500, wantTemp: true, wantReason: "server", wantMsg: "sipgate server error reading the balance (500)"},
		{name: "balance behind a gateway that timed out", op: OpBalance, setup: func(s *sipgatetest.Server) { s.Down(504, "") },
			wantCode: 504, wantTemp: true, wantReason: "server", wantMsg: "a gateway before sipgate gave up waiting for the balance (504)"},
		{name: "balance rate limited", op: OpBalance, setup: func(s *sipgatetest.Server) { s.Down(429, "30") },
			wantCode: 429, wantTemp: true, wantReason: "rate_limited", wantMsg: "sipgate rate limit reached reading the balance (429), retry after 30s"},
		{name: "balance malformed JSON", op: OpBalance, setup: func(s *sipgatetest.Server) { s.BalanceBody(`{"amount": 12`) },
			wantCode: 200, wantReason: "server", wantMsg: "cannot read sipgate's balance answer: decode: unexpected EOF"},
		{name: "balance HTML", op: OpBalance, setup: func(s *sipgatetest.Server) { s.BalanceBody(`<html>maintenance</html>`) },
			wantCode: 200, wantReason: "server", wantMsg: "cannot read sipgate's balance answer: decode: invalid character '<'"},
		{name: "balance without amount", op: OpBalance, setup: func(s *sipgatetest.Server) { s.BalanceBody(`{"currency": "EUR"}`) },
			wantCode: 200, wantReason: "server", wantMsg: "cannot read sipgate's balance answer: the balance answer has no amount"},
		{name: "balance with an odd currency", op: OpBalance, setup: func(s *sipgatetest.Server) { s.SetBalance(1, "euro{x=\"y\"}") },
			wantCode: 200, wantReason: "server", wantMsg: `the balance answer has no ISO 4217 currency: "euro{x=\"y\""`},
		{name: "balance amount not a number", op: OpBalance, setup: func(s *sipgatetest.Server) { s.BalanceBody(`{"amount": "lots", "currency": "EUR"}`) },
			wantCode: 200, wantReason: "server", wantMsg: "cannot read sipgate's balance answer: decode:"},
		{name: "balance amount too big", op: OpBalance, setup: func(s *sipgatetest.Server) { s.BalanceBody(`{"amount": 1e300, "currency": "EUR"}`) },
			wantCode: 200, wantReason: "server", wantMsg: "amount 1e300 is not a number of ten-thousandths"},
		{name: "userinfo wrong base URL", op: OpUserinfo, path: "/v1",
			wantCode: 404, wantReason: "client", wantMsg: "sipgate answered status 404 to the credentials check: not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := sipgatetest.NewServer(user, password)
			defer fake.Close()
			if tt.setup != nil {
				tt.setup(fake)
			}
			baseURL := fake.URL
			if tt.path != "" {
				baseURL = strings.TrimSuffix(baseURL, "/v2") + tt.path
			}
			c := newClient(baseURL, tt.change)
			var err error
			if tt.op == OpUserinfo {
				_, err = c.Userinfo(context.Background())
			} else {
				_, err = c.Balance(context.Background())
			}
			serr := accountError(t, err, tt.op)
			if serr.StatusCode != tt.wantCode {
				t.Errorf("StatusCode = %d, want %d", serr.StatusCode, tt.wantCode)
			}
			if serr.Temporary() != tt.wantTemp {
				t.Errorf("Temporary() = %v, want %v", serr.Temporary(), tt.wantTemp)
			}
			if serr.Reason() != tt.wantReason {
				t.Errorf("Reason() = %q, want %q", serr.Reason(), tt.wantReason)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error = %q, want it to contain %q", err, tt.wantMsg)
			}
			if serr.Unknown() {
				t.Error("Unknown() = true for a call that sends nothing")
			}
		})
	}
}

// TestBalanceAmountForms: the amount is read in whatever number form JSON
// writes it, and kept exact.
func TestBalanceAmountForms(t *testing.T) {
	tests := []struct {
		body  string
		want  Balance
		units float64
	}{
		{`{"amount": 123400, "currency": "EUR"}`, Balance{123400, "EUR"}, 12.34},
		{`{"amount": 123400.0, "currency": "EUR"}`, Balance{123400, "EUR"}, 12.34},
		{`{"amount": "5", "currency": "CHF"}`, Balance{5, "CHF"}, 0.0005},
		{`{"amount": 0, "currency": "EUR", "more": [1, 2]}`, Balance{0, "EUR"}, 0},
		{`{"amount": -25000, "currency": "EUR"}`, Balance{-25000, "EUR"}, -2.5},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			fake := sipgatetest.NewServer(user, password)
			defer fake.Close()
			fake.BalanceBody(tt.body)
			b, err := newClient(fake.URL, nil).Balance(context.Background())
			if err != nil {
				t.Fatalf("Balance: %v", err)
			}
			if b != tt.want || b.Units() != tt.units {
				t.Errorf("Balance = %+v (%v units), want %+v (%v)", b, b.Units(), tt.want, tt.units)
			}
		})
	}
}

func TestUserinfoUnreadableAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"sub": `))
	}))
	defer srv.Close()
	_, err := newClient(srv.URL, nil).Userinfo(context.Background())
	serr := accountError(t, err, OpUserinfo)
	if serr.StatusCode != http.StatusOK || serr.Reason() != "server" {
		t.Errorf("error %v: StatusCode %d, Reason %q; want 200, server", err, serr.StatusCode, serr.Reason())
	}
	if want := "cannot read sipgate's account answer: decode: unexpected EOF"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestAccountInvalidBaseURL(t *testing.T) {
	c := newClient("ftp://example.com", nil)
	_, err := c.Userinfo(context.Background())
	if serr := accountError(t, err, OpUserinfo); serr.Temporary() || serr.Reason() != "client" {
		t.Errorf("error %v: Temporary %v, Reason %q; want permanent, client", err, serr.Temporary(), serr.Reason())
	}
	_, err = c.Balance(context.Background())
	if serr := accountError(t, err, OpBalance); serr.Temporary() {
		t.Errorf("error %v is temporary", err)
	}
}

// TestAccountContextEnds: when the caller gives up, the error wraps its
// context's and is no *Error, since sipgate did not fail.
func TestAccountContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := newClient(hanging(t), nil)
	for op, call := range map[string]func() error{
		OpUserinfo: func() error { _, err := c.Userinfo(ctx); return err },
		OpBalance:  func() error { _, err := c.Balance(ctx); return err },
	} {
		err := call()
		var serr *Error
		if !errors.Is(err, context.Canceled) || errors.As(err, &serr) {
			t.Errorf("%s: err = %v (%T), want context.Canceled and no *Error", op, err, err)
		}
		if !strings.Contains(err.Error(), op) {
			t.Errorf("%s: err = %q does not name the operation", op, err)
		}
	}
}
