package sipgatetest

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// get asks the fake for path (below /v2) with these credentials and
// returns the status and, for 200, the decoded JSON object.
func get(t *testing.T, s *Server, path, username, password string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(username, password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, v
}

func TestServerAccount(t *testing.T) {
	s := NewServer(user, pass)
	defer s.Close()

	code, u := get(t, s, "/authorization/userinfo", user, pass)
	if code != http.StatusOK || u["sub"] != "w0" {
		t.Errorf("userinfo: %d %v, want 200 with sub w0", code, u)
	}
	code, b := get(t, s, "/balance", user, pass)
	if code != http.StatusOK || b["amount"] != float64(DefaultBalance) || b["currency"] != "EUR" {
		t.Errorf("balance: %d %v, want 200 with the default balance in EUR", code, b)
	}
	s.SetBalance(123400, "CHF")
	if _, b := get(t, s, "/balance", user, pass); b["amount"] != float64(123400) || b["currency"] != "CHF" {
		t.Errorf("balance after SetBalance = %v, want 123400 CHF", b)
	}

	for _, path := range []string{"/authorization/userinfo", "/balance"} {
		if code, _ := get(t, s, path, user, "wrong"); code != http.StatusUnauthorized {
			t.Errorf("%s with a wrong password: %d, want 401", path, code)
		}
		if code, _ := post(t, s.URL+path, http.MethodPost, "application/json", user, pass, "{}"); code != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %d, want 405", path, code)
		}
	}
	if got := s.AccountRequests(); got != 5 {
		t.Errorf("AccountRequests() = %d, want the 5 GETs", got)
	}
}

func TestServerAccountForbidden(t *testing.T) {
	s := NewServer(user, pass)
	defer s.Close()
	for _, tt := range []struct {
		userinfo, balance bool
	}{{true, false}, {false, true}, {false, false}} {
		s.AccountForbidden(tt.userinfo, tt.balance)
		for path, denied := range map[string]bool{"/authorization/userinfo": tt.userinfo, "/balance": tt.balance} {
			want := http.StatusOK
			if denied {
				want = http.StatusForbidden
			}
			if code, _ := get(t, s, path, user, pass); code != want {
				t.Errorf("AccountForbidden(%v, %v): %s answered %d, want %d", tt.userinfo, tt.balance, path, code, want)
			}
		}
	}
}

// TestServerRevokeCredentials: a revoked token fails every endpoint with
// 401, the SMS one too, until it is valid again.
func TestServerRevokeCredentials(t *testing.T) {
	s := NewServer(user, pass)
	defer s.Close()
	s.RevokeCredentials(true)
	for _, path := range []string{"/authorization/userinfo", "/balance", "/history"} {
		if code, _ := get(t, s, path, user, pass); code != http.StatusUnauthorized {
			t.Errorf("revoked: %s answered %d, want 401", path, code)
		}
	}
	if code, _ := post(t, s.URL+"/sessions/sms", http.MethodPost, "application/json", user, pass, sms("+49", "x")); code != http.StatusUnauthorized {
		t.Errorf("revoked: SMS answered %d, want 401", code)
	}
	s.RevokeCredentials(false)
	if code, _ := get(t, s, "/balance", user, pass); code != http.StatusOK {
		t.Errorf("after the revocation ended: %d, want 200", code)
	}
}

func TestServerBalanceBody(t *testing.T) {
	s := NewServer(user, pass)
	defer s.Close()
	s.BalanceBody(`{"amount": `)
	req, err := http.NewRequest(http.MethodGet, s.URL+"/balance", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != `{"amount": ` {
		t.Errorf("BalanceBody: %d %q, want 200 with the body as set", resp.StatusCode, body)
	}
	s.BalanceBody("")
	if code, b := get(t, s, "/balance", user, pass); code != http.StatusOK || b["currency"] != "EUR" {
		t.Errorf("after BalanceBody(\"\"): %d %v, want the JSON balance", code, b)
	}
}
