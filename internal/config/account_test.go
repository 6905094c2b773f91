package config

import (
	"strings"
	"testing"
	"time"
)

func TestAccountCheckSettings(t *testing.T) {
	const routes = "contacts: {alice: {number: \"+4915112345678\"}}\nroutes: [{name: r, to: [alice]}]\n"
	const creds = "token_id: token-ABC123, token: s3cr3t-token"
	tests := []struct {
		name         string
		sipgate      string
		wantInterval time.Duration
		wantLow      float64
		wantErr      string // the whole error, "" when it loads
		wantWarning  string
	}{
		{name: "defaults", sipgate: creds, wantInterval: 10 * time.Minute},
		{name: "set", sipgate: creds + ", account_check_interval: 1h, low_balance: 12.5", wantInterval: time.Hour, wantLow: 12.5},
		{name: "off", sipgate: creds + ", account_check_interval: 0", wantInterval: 0},
		{name: "shortest", sipgate: creds + ", account_check_interval: 10s", wantInterval: 10 * time.Second},
		{name: "too often", sipgate: creds + ", account_check_interval: 5s",
			wantErr: "config.yml: sipgate.account_check_interval: 5s is too often: each check makes two requests to sipgate; use at least 10s, or 0 to turn the check off"},
		{name: "negative threshold", sipgate: creds + ", low_balance: -1",
			wantErr: "config.yml: sipgate.low_balance: must be 0 (off) or an amount in the currency's units, such as 5 for 5.00 EUR"},
		{name: "NaN threshold", sipgate: creds + ", low_balance: .nan",
			wantErr: "config.yml: sipgate.low_balance: must be 0 (off) or an amount in the currency's units, such as 5 for 5.00 EUR"},
		{name: "infinite threshold", sipgate: creds + ", low_balance: .inf",
			wantErr: "config.yml: sipgate.low_balance: must be 0 (off) or an amount in the currency's units, such as 5 for 5.00 EUR"},
		{name: "threshold not a number", sipgate: creds + ", low_balance: 5 EUR",
			wantErr: "config.yml: line 1: sipgate.low_balance: cannot unmarshal !!str into float64"},
		{name: "both wrong at once", sipgate: creds + ", account_check_interval: 1s, low_balance: -5",
			wantErr: "config.yml: sipgate.account_check_interval: 1s is too often: each check makes two requests to sipgate; use at least 10s, or 0 to turn the check off\n" +
				"config.yml: sipgate.low_balance: must be 0 (off) or an amount in the currency's units, such as 5 for 5.00 EUR"},
		{name: "threshold in a dry run", sipgate: "dry_run: true, low_balance: 5", wantInterval: 10 * time.Minute, wantLow: 5,
			wantWarning: "config.yml: sipgate.low_balance: is not used in a dry run: the account is not checked"},
		{name: "threshold without checks", sipgate: creds + ", account_check_interval: 0, low_balance: 5", wantLow: 5,
			wantWarning: "config.yml: sipgate.low_balance: is never checked: account_check_interval is 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte("sipgate: {"+tt.sipgate+"}\n"+routes), "config.yml")
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := time.Duration(c.Sipgate.AccountCheckInterval); got != tt.wantInterval || c.Sipgate.LowBalance != tt.wantLow {
				t.Errorf("account_check_interval %v, low_balance %v; want %v, %v", got, c.Sipgate.LowBalance, tt.wantInterval, tt.wantLow)
			}
			if got := strings.Join(c.Warnings, "\n"); got != tt.wantWarning {
				t.Errorf("warnings %q, want %q", got, tt.wantWarning)
			}
		})
	}
}

// TestAccountCheckInEffectiveConfig: --config.check shows the interval
// with its default, and what it prints loads to the same settings.
func TestAccountCheckInEffectiveConfig(t *testing.T) {
	c, err := Parse([]byte(valid+"\n"), "config.yml")
	if err != nil {
		t.Fatal(err)
	}
	out := c.String()
	if !strings.Contains(out, "account_check_interval: 10m") {
		t.Errorf("effective config lacks the default interval:\n%s", out)
	}
	c.Sipgate.LowBalance = 7.25
	if out = c.String(); !strings.Contains(out, "low_balance: 7.25") {
		t.Errorf("effective config lacks low_balance:\n%s", out)
	}
	again, err := Parse([]byte(out), "config.yml")
	if err != nil {
		t.Fatalf("effective config does not load: %v\n%s", err, out)
	}
	if again.Sipgate.AccountCheckInterval != c.Sipgate.AccountCheckInterval || again.Sipgate.LowBalance != 7.25 {
		t.Errorf("effective config loads as %v, %v; want 10m, 7.25", again.Sipgate.AccountCheckInterval, again.Sipgate.LowBalance)
	}
}
