package e2e

import (
	"bytes"
	"net/http"
	"os"
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
	fixture, err := os.ReadFile("../../receiver/testdata/webhook-firing-2-alerts.json")
	if err != nil {
		t.Fatal(err)
	}
	// post sends the fixture as a new group each time, so none is a
	// duplicate of the one before.
	post := func(group string) {
		t.Helper()
		body := bytes.Replace(fixture, []byte(`"groupKey":"`), []byte(`"groupKey":"`+group), 1)
		req, err := http.NewRequest(http.MethodPost, url(s.svcAddr, "/api/v1/alerts"), bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("am", hookPW)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook: %s", resp.Status)
		}
	}
	lastRecipient := func() string {
		msgs := s.fake.Messages()
		return msgs[len(msgs)-1].Recipient
	}
	reloads := func() float64 {
		return metricValue(getBody(t, url(s.svcAddr, "/metrics")), "alertmanager_sipgate_config_last_reload_success_timestamp_seconds")
	}

	post("before")
	if got := lastRecipient(); got != carol {
		t.Fatalf("before the reload the SMS went to %s, want carol", got)
	}

	before := reloads()
	time.Sleep(1100 * time.Millisecond) // the timestamp has a resolution of seconds
	writeFile(t, s.dir, "sipgate.yml", s.svcBase+"routes: [{name: all, to: [alice]}]\n")
	if err := s.service.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the reload", func() bool { return reloads() > before })
	post("after-sighup")
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
		return strings.Contains(s.service.output.String(), `routes[0].to[0]: unknown contact or group \"alcie\"`)
	})
	if got := metricValue(getBody(t, url(s.svcAddr, "/metrics")), "alertmanager_sipgate_config_last_reload_successful"); got != 0 {
		t.Errorf("config_last_reload_successful = %v after a failed reload, want 0", got)
	}
	post("after-broken")
	if got := lastRecipient(); got != alice {
		t.Errorf("after a failed reload the SMS went to %s, want alice as before", got)
	}
	if n := len(s.fake.Messages()); n != 3 {
		t.Errorf("%d SMS, want 3", n)
	}

	// A SIGHUP while shutting down must not end the process early.
	if err := s.service.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.service.cmd.Process.Signal(syscall.SIGHUP)
	select {
	case err := <-s.service.done:
		s.service.done <- err
		if err != nil {
			t.Errorf("service exited with %v after SIGTERM and SIGHUP, want a clean exit", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("service did not stop after SIGTERM")
	}
}
