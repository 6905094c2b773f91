// Package e2e drives a real Alertmanager against the real service binary
// and a fake sipgate, all on 127.0.0.1.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate/sipgatetest"
)

const (
	alice = "+4915100000001"
	bob   = "+4915100000002"
	carol = "+4915100000003"

	tokenID = "token-E2E"
	token   = "e2e-sipgate-token-secret"
	hookPW  = "e2e-webhook-password"
)

type stack struct {
	fake    *sipgatetest.Server
	service *process
	svcAddr string
	amAddr  string   // the first Alertmanager
	amAddrs []string // all of them
	amBin   string
	dir     string
	// svcConfig is the service's config file, svcBase its part before the
	// routes.
	svcConfig, svcBase string
}

// defaultRoutes page the on-call group for critical alerts of receiver
// sms and carol for everything else.
const defaultRoutes = `
routes:
  - name: critical
    receiver: sms
    matchers: ['severity="critical"']
    to: [oncall]
  - name: default
    to: [carol]
`

// startStack starts a fake sipgate, the service with routes (YAML of
// routes, limits and the like) and as many real Alertmanagers sending to
// it: one alone, or two as an HA pair.
func startStack(t *testing.T, routes string, alertmanagers int) *stack {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test builds and runs a real Alertmanager")
	}
	amBin := alertmanagerBinary(t)
	svcBin := buildService(t)
	dir := t.TempDir()

	fake := sipgatetest.NewServer(tokenID, token)
	t.Cleanup(fake.Close)

	svcAddr := freeAddr(t)
	base := fmt.Sprintf(`
sipgate:
  url: %s
  token_id: %s
  token_file: token
  sms_id: s1
webhook:
  timeout: 1s
  basic_auth: {username: am, password: %s}
contacts:
  alice: {number: "%s"}
  bob: {number: "%s"}
  carol: {number: "%s"}
groups:
  oncall: [alice, bob]
`, fake.URL, tokenID, hookPW, alice, bob, carol)
	svcConfig := writeFile(t, dir, "sipgate.yml", base+routes)
	writeFile(t, dir, "token", token+"\n")
	service := start(t, "alertmanager-sipgate", svcBin,
		"--config.file="+svcConfig,
		"--web.listen-address="+svcAddr,
		"--storage.path="+filepath.Join(dir, "data"),
		"--log.level=debug",
	)
	waitReady(t, service, url(svcAddr, "/-/ready"))

	s := &stack{fake: fake, service: service, svcAddr: svcAddr, amBin: amBin, dir: dir, svcConfig: svcConfig, svcBase: base}
	switch alertmanagers {
	case 1:
		s.startAlertmanager(t, "--cluster.listen-address=")
	case 2:
		// Gossip slowed down and no wait for the peer: both replicas send
		// each notification, as they do when gossip is late.
		peers := []string{freeAddr(t), freeAddr(t)}
		for i, own := range peers {
			s.startAlertmanager(t,
				"--cluster.listen-address="+own,
				"--cluster.advertise-address="+own,
				"--cluster.peer="+peers[1-i],
				"--cluster.peer-timeout=1ms",
				"--cluster.gossip-interval=30s",
				"--cluster.pushpull-interval=1m",
				"--cluster.settle-timeout=1s",
			)
		}
	}
	if len(s.amAddrs) > 0 {
		s.amAddr = s.amAddrs[0]
	}
	return s
}

// startAlertmanager starts one more Alertmanager that sends to the
// service, with the cluster flags given, and returns its address.
func (s *stack) startAlertmanager(t *testing.T, clusterArgs ...string) string {
	t.Helper()
	addr := freeAddr(t)
	name := fmt.Sprintf("alertmanager-%d", len(s.amAddrs)+1)
	config := writeFile(t, s.dir, name+".yml", fmt.Sprintf(`
route:
  receiver: sms
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: sms
    webhook_configs:
      - url: http://%s/api/v1/alerts
        send_resolved: true
        http_config:
          basic_auth: {username: am, password: %s}
`, s.svcAddr, hookPW))
	am := start(t, name, s.amBin, append([]string{
		"--config.file=" + config,
		"--storage.path=" + filepath.Join(s.dir, name),
		"--web.listen-address=" + addr,
		"--web.external-url=http://" + addr,
		"--log.level=debug",
	}, clusterArgs...)...)
	waitReady(t, am, url(addr, "/-/ready"))
	s.amAddrs = append(s.amAddrs, addr)
	return addr
}

type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt,omitzero"`
}

// postAlerts posts the alerts to every Alertmanager, as Prometheus does to
// each replica of an HA pair.
func (s *stack) postAlerts(t *testing.T, alerts ...amAlert) {
	t.Helper()
	body, err := json.Marshal(alerts)
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range s.amAddrs {
		resp, err := http.Post(url(addr, "/api/v2/alerts"), "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("post alerts to Alertmanager %s: %s", addr, resp.Status)
		}
	}
}

// received returns the accepted SMS as sorted "recipient: text" lines.
func received(msgs []sipgatetest.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Recipient+": "+m.Message)
	}
	sort.Strings(out)
	return out
}

func waitFor(t *testing.T, fake *sipgatetest.Server, n int) []sipgatetest.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := fake.WaitMessages(ctx, n)
	if err != nil {
		t.Fatalf("%v; got %q", err, received(msgs))
	}
	return msgs
}

func assertLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func TestAlertmanagerToSMS(t *testing.T) {
	s := startStack(t, defaultRoutes, 1)
	started := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	alerts := []amAlert{
		{
			Labels:      map[string]string{"alertname": "HighLatency", "instance": "api-1", "severity": "critical"},
			Annotations: map[string]string{"summary": "p99 latency 2.3s"},
			StartsAt:    started,
		},
		{
			Labels:      map[string]string{"alertname": "HighLatency", "instance": "api-2", "severity": "warning"},
			Annotations: map[string]string{"summary": "p99 latency 0.9s"},
			StartsAt:    started,
		},
	}

	// bob's SMS fails until told otherwise: the service answers 503, and
	// Alertmanager retries the whole notification.
	s.fake.FailRecipient(bob, http.StatusInternalServerError)
	s.postAlerts(t, alerts...)
	waitFor(t, s.fake, 2)
	eventually(t, 30*time.Second, "a 503 answer to Alertmanager", func() bool {
		return strings.Contains(getBody(t, url(s.svcAddr, "/metrics")), `alertmanager_sipgate_webhooks_received_total{code="503",receiver="sms"}`)
	})
	s.fake.FailRecipient(bob, 0)
	firing := waitFor(t, s.fake, 3)
	// Time for any further retry of Alertmanager's to arrive.
	time.Sleep(3 * time.Second)
	firing = s.fake.Messages()
	assertLines(t, "firing SMS", received(firing), []string{
		alice + ": FIRING 1 HighLatency critical api-1: p99 latency 2.3s",
		bob + ": FIRING 1 HighLatency critical api-1: p99 latency 2.3s",
		carol + ": FIRING 1 HighLatency warning api-2: p99 latency 0.9s",
	})
	for _, m := range firing {
		if m.SMSID != "s1" {
			t.Errorf("smsId = %q, want s1", m.SMSID)
		}
	}

	// Resolve both: everyone who got the firing SMS gets a resolved one.
	for i := range alerts {
		alerts[i].EndsAt = time.Now().UTC()
	}
	s.postAlerts(t, alerts...)
	all := waitFor(t, s.fake, 6)
	time.Sleep(3 * time.Second)
	all = s.fake.Messages()
	assertLines(t, "resolved SMS", received(all[len(firing):]), []string{
		alice + ": RESOLVED 1 HighLatency critical api-1: p99 latency 2.3s",
		bob + ": RESOLVED 1 HighLatency critical api-1: p99 latency 2.3s",
		carol + ": RESOLVED 1 HighLatency warning api-2: p99 latency 0.9s",
	})

	metrics := getBody(t, url(s.svcAddr, "/metrics"))
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`alertmanager_sipgate_sms_total\{result="accepted",route="critical"\} 4`),
		regexp.MustCompile(`alertmanager_sipgate_sms_total\{result="accepted",route="default"\} 2`),
		regexp.MustCompile(`alertmanager_sipgate_sms_total\{result="deduplicated",route="(critical|default)"\} [1-9]`),
		regexp.MustCompile(`alertmanager_sipgate_sms_total\{result="failed_retryable",route="critical"\} [1-9]`),
		regexp.MustCompile(`alertmanager_sipgate_sipgate_request_duration_seconds_count\{code="204"\} 6`),
		regexp.MustCompile(`alertmanager_sipgate_sipgate_retries_total\{reason="500"\} [1-9]`),
		regexp.MustCompile(`alertmanager_sipgate_alerts_received_total\{status="resolved"\} [1-9]`),
		regexp.MustCompile(`alertmanager_sipgate_ledger_entries [1-9]`),
		regexp.MustCompile(`alertmanager_sipgate_build_info\{`),
	} {
		if !want.MatchString(metrics) {
			t.Errorf("metrics lack %s", want)
		}
	}
	logs := s.service.output.String()
	for _, secret := range []string{token, hookPW, alice, bob, carol} {
		if strings.Contains(metrics, secret) || strings.Contains(logs, secret) {
			t.Errorf("%q appears in metrics or logs", secret)
		}
	}
	if !strings.Contains(logs, "+49151******01") {
		t.Errorf("logs lack the masked number +49151******01")
	}

	if err := s.service.stop(t, 15*time.Second); err != nil {
		t.Errorf("service exited with %v after SIGTERM", err)
	}
}

// TestHADuplicateAndBadInput posts to the service directly what the two
// replicas of an HA pair send: the same notification with a different
// externalURL. Only the first pages.
func TestHADuplicateAndBadInput(t *testing.T) {
	s := startStack(t, defaultRoutes, 0)
	body, err := os.ReadFile("../../receiver/testdata/webhook-firing-2-alerts.json")
	if err != nil {
		t.Fatal(err)
	}
	post := func(path, contentType string, body []byte, auth bool) (int, string) {
		req, err := http.NewRequest(http.MethodPost, url(s.svcAddr, path), bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", contentType)
		if auth {
			req.SetBasicAuth("am", hookPW)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}

	replica2 := bytes.ReplaceAll(body, []byte(`"externalURL":"http://vm:9093"`), []byte(`"externalURL":"http://vm2:9093"`))
	for i, b := range [][]byte{body, replica2} {
		if code, reason := post("/api/v1/alerts/default", "application/json", b, true); code != http.StatusOK {
			t.Fatalf("replica %d: %d %s", i+1, code, reason)
		}
	}
	msgs := s.fake.Messages()
	assertLines(t, "SMS for an HA pair's notification", received(msgs), []string{
		carol + ": FIRING 2 HighErrorRate critical web-1:8080,web-2:8080: Checkout 5xx rate above 5%",
	})

	for _, tc := range []struct {
		name, path, contentType string
		body                    []byte
		auth                    bool
		want                    int
	}{
		{"no auth", "/api/v1/alerts", "application/json", body, false, 401},
		{"unknown route", "/api/v1/alerts/nope", "application/json", body, true, 404},
		{"malformed", "/api/v1/alerts", "application/json", []byte("{"), true, 400},
		{"not JSON", "/api/v1/alerts", "text/plain", body, true, 415},
	} {
		if code, reason := post(tc.path, tc.contentType, tc.body, tc.auth); code != tc.want {
			t.Errorf("%s: %d %q, want %d", tc.name, code, reason, tc.want)
		}
	}
}

// TestHAPair runs two clustered Alertmanagers that both send every
// notification, with different external URLs: each person still gets one
// SMS.
func TestHAPair(t *testing.T) {
	s := startStack(t, defaultRoutes, 2)
	// Once gossip settled (--cluster.settle-timeout), a new alert: both
	// replicas flush it after group_wait at the same moment, before either
	// hears of the other's notification.
	time.Sleep(2 * time.Second)
	s.postAlerts(t, amAlert{
		Labels:      map[string]string{"alertname": "HAPair", "instance": "db-1", "severity": "critical"},
		Annotations: map[string]string{"summary": "replicated"},
		StartsAt:    time.Now().UTC(),
	})
	eventually(t, 30*time.Second, "a webhook from each replica", func() bool {
		return metricValue(getBody(t, url(s.svcAddr, "/metrics")), `alertmanager_sipgate_webhooks_received_total{code="200",receiver="sms"}`) >= 2
	})
	time.Sleep(2 * time.Second)
	assertLines(t, "SMS from an HA pair", received(s.fake.Messages()), []string{
		alice + ": FIRING 1 HAPair critical db-1: replicated",
		bob + ": FIRING 1 HAPair critical db-1: replicated",
	})
	if got := metricValue(getBody(t, url(s.svcAddr, "/metrics")), `alertmanager_sipgate_sms_total{result="deduplicated",route="critical"}`); got < 2 {
		t.Errorf("deduplicated = %v, want the second replica's 2", got)
	}
}
