package main

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate/sipgatetest"
)

// startService serves the routes of the service with the config on
// 127.0.0.1, behind the web config file webConfig ("" for none), as serve
// does, and returns the base URL.
func startService(t *testing.T, cfgYAML, webConfig string) string {
	t.Helper()
	dir := t.TempDir()
	cfgFile := writeFile(t, dir, "config.yml", cfgYAML)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	a, err := newApp(cfg, cfgFile, filepath.Join(dir, "data"), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	handler, err := a.routes()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(handler, serverTimeouts(time.Duration(cfg.Webhook.Timeout)))
	served := make(chan error, 1)
	go func() { served <- web.Serve(ln, srv, &web.FlagConfig{WebConfigFile: &webConfig}, logger) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// sipgateConfig is the sipgate section of a config that sends through
// fake, with the account not checked.
func sipgateConfig(fake *sipgatetest.Server) string {
	return "sipgate: {url: '" + fake.URL + "', token_id: token-1, token: s3cret, account_check_interval: 0s}\n"
}

// post sends body to url with the webhook's content type and basic auth
// user/password ("" for none), and returns the status and body.
func post(t *testing.T, url, body, user, password string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestRenderAPI: POST /api/v1/render answers the SMS of a payload as JSON
// and never sends; after the webhook paged, it knows from the ledger that
// the same payload would page nobody again.
func TestRenderAPI(t *testing.T) {
	fake := sipgatetest.NewServer("token-1", "s3cret")
	defer fake.Close()
	base := startService(t, sipgateConfig(fake)+
		"webhook: {max_body_bytes: 4000}\n"+
		"contacts: {alice: {number: '+4915112345678'}}\n"+
		"routes: [{name: web, to: [alice], max_segments: 2}]\n", "")
	payload, err := os.ReadFile("../../examples/payloads/firing-group.json")
	if err != nil {
		t.Fatal(err)
	}

	code, body := post(t, base+"/api/v1/render", string(payload), "", "")
	if code != http.StatusOK {
		t.Fatalf("render: %d %s", code, body)
	}
	var got rendered
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("render answer %q: %v", body, err)
	}
	if len(got.SMS) != 1 {
		t.Fatalf("render: %d SMS, want 1: %s", len(got.SMS), body)
	}
	s := got.SMS[0]
	if s.Route != "web" || s.Contact != "alice" || s.Number != "+49151******78" || s.MaxSegments != 2 ||
		!strings.HasPrefix(s.Text, "FIRING 2 HighErrorRate critical web-1:8080,web-2:8080") ||
		s.Encoding != "gsm7" || s.Characters != len(s.Text) || s.Segments != 1 || s.Alerts != 2 || s.Firing != 2 {
		t.Errorf("render SMS %+v", s)
	}
	if strings.Contains(body, "+4915112345678") {
		t.Error("the answer has the number unmasked")
	}
	if n := fake.Requests(); n != 0 {
		t.Errorf("render sent %d requests to sipgate", n)
	}

	// The webhook pages alice; a preview of the same payload now says
	// that nothing new would be sent, and why.
	if code, body := post(t, base+"/api/v1/alerts", string(payload), "", ""); code != http.StatusOK {
		t.Fatalf("webhook: %d %s", code, body)
	}
	code, body = post(t, base+"/api/v1/render", string(payload), "", "")
	if code != http.StatusOK || !strings.Contains(body, `"sms":[]`) || !strings.Contains(body, "sms not sent: the recipient was told all of it before") {
		t.Errorf("render after the page: %d %s", code, body)
	}
	if n := len(fake.Messages()); n != 1 {
		t.Errorf("sipgate took %d SMS, want the webhook's one", n)
	}

	code, body = post(t, base+"/api/v1/render?route=nope", string(payload), "", "")
	if code != http.StatusOK || !strings.Contains(body, `"message":"pinned route not followed, routing by matchers instead"`) {
		t.Errorf("render pinned to an unknown route: %d %s", code, body)
	}

	tests := []struct {
		name, body string
		want       int
		reason     string
	}{
		{"too large", string(payload) + strings.Repeat(" ", 4000), http.StatusRequestEntityTooLarge, "body larger than 4000 bytes"},
		{"not a payload", `{"version":"4"}`, http.StatusBadRequest, "no alerts in notification"},
		{"not JSON", "alerts: []", http.StatusBadRequest, "malformed JSON"},
		{"not a time", string(payload), http.StatusBadRequest, "at: want an RFC 3339 time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := base + "/api/v1/render"
			if tt.name == "not a time" {
				url += "?at=tomorrow"
			}
			code, body := post(t, url, tt.body, "", "")
			var e apiError
			if code != tt.want || json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e.Error, tt.reason) {
				t.Errorf("got %d %s, want %d and %q", code, body, tt.want, tt.reason)
			}
		})
	}

	req, err := http.NewRequest(http.MethodGet, base+"/api/v1/render", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK && resp.Header.Get("Content-Type") == "application/json" {
		t.Error("GET /api/v1/render answered as a render")
	}
}

// TestRenderAPIAuth: the endpoint is behind --web.config.file's auth.
func TestRenderAPIAuth(t *testing.T) {
	webConfig := writeFile(t, t.TempDir(), "web.yml", "basic_auth_users:\n  admin: "+fakePasswordHash+"\n")
	base := startService(t, "sipgate: {dry_run: true}\nroutes: [{name: r, to: ['+4915112345678']}]\n", webConfig)
	payload, err := os.ReadFile("../../examples/payloads/firing.json")
	if err != nil {
		t.Fatal(err)
	}
	if code, body := post(t, base+"/api/v1/render", string(payload), "", ""); code != http.StatusUnauthorized {
		t.Errorf("without credentials: %d %s, want 401", code, body)
	}
	if code, body := post(t, base+"/api/v1/render", string(payload), "admin", "fakepassword"); code != http.StatusOK || !strings.Contains(body, `"route":"r"`) {
		t.Errorf("with credentials: %d %s", code, body)
	}
}

// TestRenderAPIAt: ?at= previews as if the payload arrived then, so the
// schedule's person of that time is paged.
func TestRenderAPIAt(t *testing.T) {
	base := startService(t, "sipgate: {dry_run: true}\n"+
		"contacts: {alice: {number: '+4915112345678'}, bob: {number: '+4915187654321'}}\n"+
		"schedules: {ops: {time_zone: UTC, layers: [{members: [alice, bob], start: '2024-01-01 00:00', shift: 1d}]}}\n"+
		"routes: [{name: ops, to: [ops]}]\n", "")
	payload, err := os.ReadFile("../../examples/payloads/firing.json")
	if err != nil {
		t.Fatal(err)
	}
	for at, want := range map[string]string{"2024-01-01T12:00:00Z": `"contact":"alice"`, "2024-01-02T13:00:00%2B01:00": `"contact":"bob"`} {
		if code, body := post(t, base+"/api/v1/render?at="+at, string(payload), "", ""); code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("at %s: %d %s, want %s", at, code, body, want)
		}
	}
}
