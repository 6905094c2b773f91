package e2e

import (
	"bytes"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReload changes the routes of a running service with SIGHUP, then
// tries a broken config through POST /-/reload, which must keep the
// running config.
func TestReload(t *testing.T) {
	s := startStack(t, defaultRoutes, 0)
	fixture := readFixture(t)
	// notify sends the fixture as a new group of new alerts each time, so
	// none is a duplicate of the one before nor old news to its recipient.
	notify := func(group string) {
		t.Helper()
		body := bytes.Replace(fixture, []byte(`"groupKey":"`), []byte(`"groupKey":"`+group), 1)
		body = bytes.ReplaceAll(body, []byte(`"fingerprint":"`), []byte(`"fingerprint":"`+group))
		if code, answer := s.postWebhook(t, "/api/v1/alerts", "application/json", body, true); code != http.StatusOK {
			t.Fatalf("webhook: %d %q", code, answer)
		}
	}
	lastRecipient := func() string {
		msgs := s.fake.Messages()
		return msgs[len(msgs)-1].Recipient
	}
	// The gauge is set to the time of each successful load, with
	// sub-second resolution: it grows with every reload.
	reloaded := func() float64 {
		return s.metrics(t).sum("alertmanager_sipgate_config_last_reload_success_timestamp_seconds", nil)
	}

	notify("before")
	if got := lastRecipient(); got != carol {
		t.Fatalf("before the reload the SMS went to %s, want carol", got)
	}

	before := reloaded()
	writeFile(t, s.dir, "sipgate.yml", s.svcBase+"routes: [{name: all, to: [alice]}]\n")
	s.service.signal(t, syscall.SIGHUP)
	eventually(t, 10*time.Second, "the reload", func() bool { return reloaded() > before })
	notify("after-sighup")
	if got := lastRecipient(); got != alice {
		t.Fatalf("after SIGHUP the SMS went to %s, want alice", got)
	}

	writeFile(t, s.dir, "sipgate.yml", s.svcBase+"routes: [{name: all, to: [alcie]}]\n")
	resp, err := http.Post(url(s.svcAddr, "/-/reload"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var reason bytes.Buffer
	reason.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(reason.String(), "see the log") {
		t.Errorf("broken reload: %s %q, want 500 pointing to the log", resp.Status, reason.String())
	}
	eventually(t, 5*time.Second, "the reason in the log", func() bool {
		return strings.Contains(s.service.output.String(), `routes[0].to[0]: unknown contact, group or schedule \"alcie\"`)
	})
	if got := s.metrics(t).sum("alertmanager_sipgate_config_last_reload_successful", nil); got != 0 {
		t.Errorf("config_last_reload_successful = %v after a failed reload, want 0", got)
	}
	notify("after-broken")
	if got := lastRecipient(); got != alice {
		t.Errorf("after a failed reload the SMS went to %s, want alice as before", got)
	}
	if n := len(s.fake.Messages()); n != 3 {
		t.Errorf("%d SMS, want 3", n)
	}

	// A SIGHUP while shutting down must not end the process early.
	s.service.signal(t, syscall.SIGTERM)
	// The process may already be gone; then there is nothing to signal.
	s.service.cmd.Process.Signal(syscall.SIGHUP)
	if err := s.service.wait(t, 15*time.Second); err != nil {
		t.Errorf("service exited with %v after SIGTERM and SIGHUP, want a clean exit", err)
	}
}
