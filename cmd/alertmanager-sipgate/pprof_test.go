package main

import (
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
)

// fakePasswordHash is a bcrypt hash of "fakepassword" (exporter-toolkit's
// own), so the test needs no bcrypt of its own.
const fakePasswordHash = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"

// serveRoutes serves the service's routes as listen does, through
// exporter-toolkit with webConfigFile ("" for none), on 127.0.0.1, and
// returns the base URL.
func serveRoutes(t *testing.T, webConfigFile string) string {
	t.Helper()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgFile, []byte("sipgate: {dry_run: true}\nroutes:\n  - {name: default, to: [\"+4915112345678\"]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
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
	go func() { served <- web.Serve(ln, srv, &web.FlagConfig{WebConfigFile: &webConfigFile}, logger) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// TestPprof: the profiles are on the web listener, behind the web
// config's basic auth when it has users.
func TestPprof(t *testing.T) {
	webConfig := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(webConfig, []byte("basic_auth_users:\n  admin: "+fakePasswordHash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	open := serveRoutes(t, "")
	guarded := serveRoutes(t, webConfig)

	tests := []struct {
		name       string
		base, path string
		user, pass string
		wantCode   int
		wantBody   string // a part of the body, for 200
	}{
		{name: "index", base: open, path: "/debug/pprof/", wantCode: 200, wantBody: "goroutine"},
		{name: "named profile", base: open, path: "/debug/pprof/goroutine?debug=1", wantCode: 200, wantBody: "goroutine profile:"},
		{name: "cmdline", base: open, path: "/debug/pprof/cmdline", wantCode: 200},
		{name: "symbol", base: open, path: "/debug/pprof/symbol", wantCode: 200, wantBody: "num_symbols"},
		{name: "auth: none given", base: guarded, path: "/debug/pprof/", wantCode: 401},
		{name: "auth: wrong password", base: guarded, path: "/debug/pprof/", user: "admin", pass: "wrong", wantCode: 401},
		{name: "auth: named profile without", base: guarded, path: "/debug/pprof/heap", wantCode: 401},
		{name: "auth: right", base: guarded, path: "/debug/pprof/", user: "admin", pass: "fakepassword", wantCode: 200, wantBody: "goroutine"},
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, tt.base+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("GET %s: code = %d, want %d (%.200s)", tt.path, resp.StatusCode, tt.wantCode, body)
			}
			if tt.wantCode == http.StatusOK && !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("GET %s: body lacks %q: %.300s", tt.path, tt.wantBody, body)
			}
			if tt.wantCode == http.StatusUnauthorized && strings.Contains(string(body), "goroutine") {
				t.Errorf("GET %s: a 401 that shows profiles: %.300s", tt.path, body)
			}
		})
	}
}
