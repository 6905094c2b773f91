package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakePasswordHash is a bcrypt hash of "fakepassword" (exporter-toolkit's
// own), so the test needs no bcrypt of its own.
const fakePasswordHash = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"

// dryRunConfig is a config that sends nothing.
const dryRunConfig = "sipgate: {dry_run: true}\nroutes:\n  - {name: default, to: [\"+4915112345678\"]}\n"

// TestPprof: the profiles are on the web listener, behind the web
// config's basic auth when it has users.
func TestPprof(t *testing.T) {
	webConfig := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(webConfig, []byte("basic_auth_users:\n  admin: "+fakePasswordHash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	open := startService(t, dryRunConfig, "")
	guarded := startService(t, dryRunConfig, webConfig)

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
