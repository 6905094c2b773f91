package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/oncall"
)

// TestOnCallFollowsReload: /api/v1/oncall and the oncall gauge show the
// schedules of the config in use, and a reload changes them at once.
func TestOnCallFollowsReload(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config.yml")
	write := func(member string) {
		t.Helper()
		cfg := `sipgate: {dry_run: true}
contacts:
  alice: {number: "+4915100000001"}
  bob: {number: "+4915100000002"}
schedules:
  ops:
    time_zone: Europe/Berlin
    layers: [{members: [` + member + `], start: "2024-01-01 09:00", shift: 1w}]
routes: [{name: default, to: [ops]}]
`
		if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("alice")
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(cfg, cfgFile, filepath.Join(dir, "data"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	handler, err := a.routes()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
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
	check := func(onCall, other string) {
		t.Helper()
		code, body := get("/api/v1/oncall")
		var l oncall.Listing
		if err := json.Unmarshal([]byte(body), &l); err != nil || code != http.StatusOK {
			t.Fatalf("GET /api/v1/oncall: %d %s (%v)", code, body, err)
		}
		if len(l.Schedules) != 1 || strings.Join(l.Schedules[0].OnCall.Contacts, ",") != onCall {
			t.Errorf("GET /api/v1/oncall: %s; want %s on call in ops", body, onCall)
		}
		_, metrics := get("/metrics")
		for _, want := range []string{
			`alertmanager_sipgate_oncall{contact="` + onCall + `",schedule="ops"} 1`,
		} {
			if !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		if strings.Contains(metrics, `contact="`+other+`"`) {
			t.Errorf("/metrics has a series of %s, who is in no schedule", other)
		}
	}
	check("alice", "bob")
	if code, body := get("/api/v1/oncall?at=soon"); code != http.StatusBadRequest || strings.Count(body, "\n") != 1 {
		t.Errorf("GET ?at=soon: %d %q; want 400 with one line", code, body)
	}
	if code, _ := get("/"); code != http.StatusOK {
		t.Errorf("landing page: %d", code)
	}

	write("bob")
	if err := a.pagers.Reload(); err != nil {
		t.Fatal(err)
	}
	check("bob", "alice")
}
