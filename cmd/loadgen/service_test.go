package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
)

// TestServiceConfig: the config this tool writes is one the service
// loads, with every recipient on the one route, room for the concurrency,
// and no limits, or with --limits limits that no load reaches.
func TestServiceConfig(t *testing.T) {
	tests := []struct {
		recipients, concurrency, wantInFlight int
		limits                                bool
	}{
		{1, 10, 64, false},
		{3, 10, 64, false},
		{2, 200, 200, false},
		{1, 10, 64, true},
	}
	for _, tt := range tests {
		yml := serviceConfig("https://127.0.0.1:9443/v2", tt.recipients, tt.concurrency, tt.limits)
		cfg, err := config.Parse([]byte(yml), "loadgen.yml")
		if err != nil {
			t.Fatalf("recipients %d: %v\n%s", tt.recipients, err, yml)
		}
		if len(cfg.Routes) != 1 || len(cfg.Routes[0].Recipients) != tt.recipients {
			t.Errorf("recipients %d: routes %d, recipients of the first %d", tt.recipients, len(cfg.Routes), len(cfg.Routes[0].Recipients))
		}
		if cfg.Sipgate.DryRun || cfg.Sipgate.URL != "https://127.0.0.1:9443/v2" {
			t.Errorf("sipgate = %+v, want a real run through the fake", cfg.Sipgate)
		}
		if user, pw := cfg.Sipgate.Credentials(); user != sipgateTokenID || pw.Value() != sipgateToken {
			t.Errorf("sipgate credentials %q: not the fake's", user)
		}
		if ba := cfg.Webhook.BasicAuth; ba == nil || ba.Username != webhookUser || ba.Password.Value() != webhookPass {
			t.Errorf("webhook basic auth = %v, want the tool's", ba)
		}
		if cfg.Webhook.MaxInFlight != tt.wantInFlight {
			t.Errorf("concurrency %d: max_in_flight = %d, want %d", tt.concurrency, cfg.Webhook.MaxInFlight, tt.wantInFlight)
		}
		// No limits: as many notifications of max_alerts as are in flight.
		if want := tt.wantInFlight * cfg.Webhook.MaxAlerts; cfg.Webhook.MaxAlertsInFlight != want {
			t.Errorf("concurrency %d: max_alerts_in_flight = %d, want %d", tt.concurrency, cfg.Webhook.MaxAlertsInFlight, want)
		}
		l := cfg.Limits
		if !tt.limits && (len(l.PerRecipient) != 0 || l.Budget.Max != 0) {
			t.Errorf("limits = %+v, want none", l)
		}
		// --limits: the windows a full ledger fills, each checked, none
		// ever reached by a load.
		if tt.limits {
			var pers []time.Duration
			for _, w := range l.PerRecipient {
				pers = append(pers, time.Duration(w.Per))
				if w.Max < 1_000_000_000 {
					t.Errorf("per-recipient limit %+v: a load could reach it", w)
				}
			}
			if !slices.Equal(pers, []time.Duration{10 * time.Minute, fillDay}) || time.Duration(l.Budget.Per) != fillDay || l.Budget.Max < 1_000_000_000 {
				t.Errorf("limits = %+v, want 10m and %s per recipient and a budget of %[2]s, none within reach", l, fillDay)
			}
		}
	}
}

// TestFakeSipgateTLS: the fake answers over TLS a client that trusts only
// the certificate the tool writes for the service, and counts the SMS.
func TestFakeSipgateTLS(t *testing.T) {
	for _, http2 := range []bool{false, true} {
		fake, err := startFakeSipgate("127.0.0.1:0", http2)
		if err != nil {
			t.Fatal(err)
		}
		defer fake.Close()
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(fake.certPEM) {
			t.Fatal("no certificate in certPEM")
		}
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots},
			ForceAttemptHTTP2: true,
		}}
		req, err := http.NewRequest(http.MethodPost, fake.url+"/sessions/sms", bytes.NewBufferString(`{"smsId":"s1","recipient":"+4915100000001","message":"hi"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(sipgateTokenID, sipgateToken)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("http2 %v: %v", http2, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || len(fake.Messages()) != 1 {
			t.Errorf("http2 %v: status %d, %d SMS counted; want 204 and 1", http2, resp.StatusCode, len(fake.Messages()))
		}
		if want := map[bool]int{false: 1, true: 2}[http2]; resp.ProtoMajor != want {
			t.Errorf("http2 %v: answered over %s", http2, resp.Proto)
		}
	}
}

// TestFakeSipgateSameCertificate: every fake serves the same certificate,
// so the one --write-setup wrote is trusted by the service when --target
// starts the fake again.
func TestFakeSipgateSameCertificate(t *testing.T) {
	a, err := startFakeSipgate("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := startFakeSipgate("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !bytes.Equal(a.certPEM, b.certPEM) {
		t.Error("two fakes serve different certificates")
	}
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:9443", true},
		{"127.0.0.1:0", true},
		{"[::1]:9443", true},
		{"0.0.0.0:9443", false},
		{":9443", false},
		{"localhost:9443", false},
		{"192.0.2.1:9443", false},
		{"127.0.0.1", false},
	}
	for _, tt := range tests {
		if err := checkLoopback(tt.addr); (err == nil) != tt.ok {
			t.Errorf("checkLoopback(%q) = %v, want ok %v", tt.addr, err, tt.ok)
		}
	}
}
