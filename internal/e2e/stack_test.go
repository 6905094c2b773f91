// Package e2e drives a real Alertmanager against the real service binary
// and a fake sipgate, all on 127.0.0.1.
//
// This file holds what the tests share: the binaries, the processes, the
// stack of fake sipgate, service and Alertmanagers, posting to them,
// reading their metrics and waiting on them.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate/sipgatetest"
)

const (
	alice = "+4915100000001"
	bob   = "+4915100000002"
	carol = "+4915100000003"

	tokenID = "token-E2E"
	token   = "e2e-sipgate-token-secret"
	hookPW  = "e2e-webhook-password"

	// fixture is a webhook body a real Alertmanager sent: one group of two
	// alerts, receiver default.
	fixture = "../../receiver/testdata/webhook-firing-2-alerts.json"

	// waitLong bounds a wait for something that involves Alertmanager's
	// group_wait, group_interval and retries.
	waitLong = 30 * time.Second
)

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

// TestMain only makes and removes the directory the service binary is
// built into; nothing is built unless a test needs it.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "alertmanager-sipgate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	serviceBinDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// serviceBinDir is where serviceBuild puts the service binary; set once by
// TestMain before any test runs.
var serviceBinDir string

// The binaries are built at most once per run of the test binary, on first
// use, and a failed build is remembered: every test that needs the binary
// fails with the same error instead of building again.
var (
	alertmanagerBuild = sync.OnceValues(buildAlertmanager)
	serviceBuild      = sync.OnceValues(func() (string, error) { return buildService(serviceBinDir) })
)

// alertmanagerBinary returns a real Alertmanager of the version in go.mod.
// ALERTMANAGER_BIN overrides it.
func alertmanagerBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("ALERTMANAGER_BIN"); bin != "" {
		return bin
	}
	began := time.Now()
	bin, err := alertmanagerBuild()
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > time.Second {
		t.Logf("waited %v for the Alertmanager build (cached in %s)", took.Round(time.Second), filepath.Dir(bin))
	}
	return bin
}

// serviceBinary returns the service built from this working tree.
func serviceBinary(t *testing.T) string {
	t.Helper()
	bin, err := serviceBuild()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// buildService builds the service binary into dir. E2E_SERVICE_DIR names
// another checkout of the module to build it from, such as a worktree of
// the last commit while the working tree is mid-change.
func buildService(dir string) (string, error) {
	src := os.Getenv("E2E_SERVICE_DIR")
	if src == "" {
		var err error
		if src, err = moduleRoot(); err != nil {
			return "", err
		}
	}
	bin := filepath.Join(dir, "alertmanager-sipgate")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/alertmanager-sipgate")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build service in %s: %w\n%s", src, err, out)
	}
	return bin, nil
}

// buildAlertmanager builds Alertmanager of the version in go.mod from the
// module cache into the user cache directory, where later runs find it.
// The module lacks the built web UI, which the build needs, so it runs in a
// copy with a placeholder UI.
func buildAlertmanager() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}|{{.Version}}", "github.com/prometheus/alertmanager")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("find the alertmanager module: %w", err)
	}
	dir, version, _ := strings.Cut(strings.TrimSpace(string(out)), "|")
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("user cache dir: %w", err)
	}
	bin := filepath.Join(cache, "alertmanager-sipgate", "alertmanager-"+version, "alertmanager")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if dir == "" {
		return "", fmt.Errorf("alertmanager %s is not in the module cache: run go mod download", version)
	}
	tmp, err := os.MkdirTemp("", "alertmanager-src-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "alertmanager")
	if out, err := exec.Command("cp", "-r", dir, src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("copy alertmanager source: %w\n%s", err, out)
	}
	if out, err := exec.Command("chmod", "-R", "u+w", src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("chmod alertmanager source: %w\n%s", err, out)
	}
	dist := filepath.Join(src, "ui", "app", "dist")
	if err := os.MkdirAll(dist, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dist, "index.html"), []byte("<html></html>\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	// Built under a name of this process and renamed, so that a concurrent
	// run never finds or runs a half-written binary.
	part := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid())
	build := exec.Command("go", "build", "-o", part, "./cmd/alertmanager")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build alertmanager %s: %w\n%s", version, err, out)
	}
	if err := os.Rename(part, bin); err != nil {
		return "", err
	}
	return bin, nil
}

// moduleRoot is the directory of this project's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// freeAddr returns a free 127.0.0.1 address.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func url(addr, path string) string { return fmt.Sprintf("http://%s%s", addr, path) }

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// syncBuffer collects a process's output for assertions.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is a started binary that is killed when the test ends, if it
// has not exited by then; its output is logged when the test failed.
type process struct {
	name   string
	cmd    *exec.Cmd
	output *syncBuffer
	// done holds the exit error once the process exited; whoever takes it
	// puts it back.
	done chan error
}

func start(t *testing.T, name, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: name, cmd: exec.Command(bin, args...), output: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.output
	// Memory is measured against the processes' own defaults (our soft
	// memory limit among them), whatever the shell that runs the tests
	// sets for the Go runtime.
	p.cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "GOMEMLIMIT=") || strings.HasPrefix(kv, "GOGC=")
	})
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.output)
		}
	})
	return p
}

// signal sends sig to the process.
func (p *process) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %s: %v", p.name, err)
	}
}

// wait returns the exit error once the process exited, failing after
// timeout.
func (p *process) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(timeout):
		t.Fatalf("%s did not exit within %v", p.name, timeout)
		return nil
	}
}

// stop sends SIGTERM and returns the exit error, failing after timeout.
func (p *process) stop(t *testing.T, timeout time.Duration) error {
	t.Helper()
	p.signal(t, syscall.SIGTERM)
	return p.wait(t, timeout)
}

// waitReady waits until url answers 200, failing at once if the process
// exits.
func (p *process) waitReady(t *testing.T, url string) {
	t.Helper()
	poll(t, waitLong, func() (bool, string) {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("%s exited before it was ready: %v", p.name, err)
		default:
		}
		resp, err := http.Get(url)
		if err != nil {
			return false, fmt.Sprintf("%s ready at %s: %v", p.name, url, err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Sprintf("%s ready at %s: %s", p.name, url, resp.Status)
	})
}

// stack is one end-to-end set-up: a fake sipgate, the service paging
// through it and the Alertmanagers sending to the service.
type stack struct {
	fake *sipgatetest.Server
	// front is what the service calls as sipgate: it passes each request
	// on to fake.
	front   *sipgateFront
	service *process
	svcAddr string
	amAddr  string   // the first Alertmanager
	amAddrs []string // all of them
	dir     string
	// svcConfig is the service's config file, svcBase its part before the
	// routes.
	svcConfig, svcBase string
	// svcArgs start the service, again after a crash too.
	svcArgs []string
	opts    stackOptions
}

// stackOptions set up a stack; the zero value is startStack's set-up
// without routes.
type stackOptions struct {
	// routes is the end of the service's config: routes and the sections
	// not in the stack's base, such as limits and delivery.
	routes string
	// alertmanagers is how many real Alertmanagers send to the service:
	// none, one alone, or two as an HA pair whose gossip has settled.
	alertmanagers int
	// webhookTimeout is the service's webhook.timeout; 1s when zero.
	webhookTimeout time.Duration
	// sipgate, webhook and contacts are more YAML lines of the service
	// config's sections of these names, such as "timeout: 500ms".
	sipgate, webhook, contacts []string
	// groupWait is the Alertmanagers' group_wait; 1s when zero.
	groupWait time.Duration
	// amWebhook are more YAML lines of the Alertmanagers' webhook config,
	// such as "max_alerts: 100".
	amWebhook []string
	// amGroupBy is the Alertmanagers' group_by; [alertname] when empty.
	amGroupBy []string
	// groupInterval is the Alertmanagers' group_interval; 2s when zero.
	groupInterval time.Duration
	// repeatInterval is the Alertmanagers' repeat_interval; 1h when zero.
	repeatInterval time.Duration
	// webhookPath is the path of the service the Alertmanagers post to,
	// such as a pinned /api/v1/alerts/{route}; /api/v1/alerts when empty.
	webhookPath string
}

// startStack starts a fake sipgate, the service with routes (YAML of
// routes, limits and the like) and as many real Alertmanagers sending to
// it: none, one alone, or two as an HA pair whose gossip has settled. It
// skips the test under -short, and builds Alertmanager only when it starts
// one.
func startStack(t *testing.T, routes string, alertmanagers int) *stack {
	t.Helper()
	return startStackWith(t, stackOptions{routes: routes, alertmanagers: alertmanagers})
}

// startStackWith is startStack with more of the set-up chosen by o.
func startStackWith(t *testing.T, o stackOptions) *stack {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test builds and runs the service and a real Alertmanager")
	}
	svcBin := serviceBinary(t)
	dir := t.TempDir()

	fake := sipgatetest.NewServer(tokenID, token)
	front := newSipgateFront(t, fake)
	// Cleanups run last first: the fake closes first and so releases the
	// requests it holds, which the front's Close waits for.
	t.Cleanup(fake.Close)

	svcAddr := freeAddr(t)
	webhookTimeout := o.webhookTimeout
	if webhookTimeout == 0 {
		webhookTimeout = time.Second
	}
	base := fmt.Sprintf(`
sipgate:
  url: %s
  token_id: %s
  token_file: token
  sms_id: s1
%swebhook:
  timeout: %s
  basic_auth: {username: am, password: %s}
%scontacts:
  alice: {number: "%s"}
  bob: {number: "%s"}
  carol: {number: "%s"}
%sgroups:
  oncall: [alice, bob]
`, front.URL, tokenID, indent(o.sipgate), model.Duration(webhookTimeout), hookPW, indent(o.webhook), alice, bob, carol, indent(o.contacts))
	svcConfig := writeFile(t, dir, "sipgate.yml", base+o.routes)
	writeFile(t, dir, "token", token+"\n")
	s := &stack{fake: fake, front: front, svcAddr: svcAddr, dir: dir, svcConfig: svcConfig, svcBase: base, opts: o,
		svcArgs: []string{svcBin,
			"--config.file=" + svcConfig,
			"--web.listen-address=" + svcAddr,
			"--storage.path=" + filepath.Join(dir, "data"),
			"--log.level=debug",
		},
	}
	s.startService(t)

	switch alertmanagers := o.alertmanagers; alertmanagers {
	case 0:
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
		s.waitClusterSettled(t)
	default:
		t.Fatalf("startStack: %d Alertmanagers, want 0, 1 or 2", alertmanagers)
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
	bin := alertmanagerBinary(t)
	addr := freeAddr(t)
	name := fmt.Sprintf("alertmanager-%d", len(s.amAddrs)+1)
	groupWait := s.opts.groupWait
	if groupWait == 0 {
		groupWait = time.Second
	}
	var webhook strings.Builder
	for _, line := range s.opts.amWebhook {
		webhook.WriteString("        " + line + "\n")
	}
	groupBy := s.opts.amGroupBy
	if len(groupBy) == 0 {
		groupBy = []string{"alertname"}
	}
	repeatInterval := s.opts.repeatInterval
	if repeatInterval == 0 {
		repeatInterval = time.Hour
	}
	groupInterval := s.opts.groupInterval
	if groupInterval == 0 {
		groupInterval = 2 * time.Second
	}
	path := s.opts.webhookPath
	if path == "" {
		path = "/api/v1/alerts"
	}
	config := writeFile(t, s.dir, name+".yml", fmt.Sprintf(`
route:
  receiver: sms
  group_by: [%s]
  group_wait: %s
  group_interval: %s
  repeat_interval: %s
receivers:
  - name: sms
    webhook_configs:
      - url: http://%s%s
        send_resolved: true
        http_config:
          basic_auth: {username: am, password: %s}
%s`, strings.Join(groupBy, ", "), model.Duration(groupWait), model.Duration(groupInterval), model.Duration(repeatInterval), s.svcAddr, path, hookPW, webhook.String()))
	am := start(t, name, bin, append([]string{
		"--config.file=" + config,
		"--storage.path=" + filepath.Join(s.dir, name),
		"--web.listen-address=" + addr,
		"--web.external-url=http://" + addr,
		"--log.level=debug",
	}, clusterArgs...)...)
	am.waitReady(t, url(addr, "/-/ready"))
	s.amAddrs = append(s.amAddrs, addr)
	return addr
}

// startService starts the service with the stack's arguments and waits
// until it is ready: at first, and again after it was killed, on the same
// address and storage.
func (s *stack) startService(t *testing.T) {
	t.Helper()
	s.service = start(t, "alertmanager-sipgate", s.svcArgs[0], s.svcArgs[1:]...)
	s.service.waitReady(t, url(s.svcAddr, "/-/ready"))
}

// indent makes lines the keys of a YAML section of the service config.
func indent(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

// sipgateFront stands between the service and the fake sipgate: it passes
// each request on to the fake, notes when each SMS request arrived, and
// can answer SMS requests in the fake's place, with what the fake cannot
// say.
type sipgateFront struct {
	// URL is the base URL the service is given, ending in /v2.
	URL string

	mu       sync.Mutex
	arrivals []time.Time
	answer   http.HandlerFunc
}

// smsPath is where sipgate takes SMS.
const smsPath = "/v2/sessions/sms"

func newSipgateFront(t *testing.T, fake *sipgatetest.Server) *sipgateFront {
	t.Helper()
	f := &sipgateFront{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	next := fake.Handler()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == smsPath && r.Method == http.MethodPost {
			f.mu.Lock()
			f.arrivals = append(f.arrivals, time.Now())
			answer := f.answer
			f.mu.Unlock()
			if answer != nil {
				answer(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	}))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	f.URL = srv.URL + "/v2"
	return f
}

// answerSMS makes h answer every SMS request instead of the fake, until
// called with nil.
func (f *sipgateFront) answerSMS(h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer = h
}

// smsArrivals returns when each SMS request arrived, in order, whoever
// answered it.
func (f *sipgateFront) smsArrivals() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.arrivals...)
}

// peakRSS returns the most memory the process ever had resident (VmHWM),
// in bytes.
func (p *process) peakRSS(t *testing.T) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("peak RSS of %s: %v", p.name, err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kB int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kB); err != nil {
				t.Fatalf("peak RSS of %s: %q: %v", p.name, line, err)
			}
			return kB << 10
		}
	}
	t.Fatalf("peak RSS of %s: no VmHWM in /proc/%d/status", p.name, p.cmd.Process.Pid)
	return 0
}

// peakAnonymousRSS samples the process's anonymous resident memory (its
// heap and stacks, not the ledger's file pages it maps) every few
// milliseconds until stop is closed, and returns the largest sample: the
// kernel keeps a peak of the whole RSS only (VmHWM), in which a ledger
// grown by the test's own pages counts.
func (p *process) peakAnonymousRSS(t *testing.T, stop <-chan struct{}) int64 {
	t.Helper()
	path := fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var peak int64
	for {
		status, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("anonymous RSS of %s: %v", p.name, err)
			return peak
		}
		for line := range strings.SplitSeq(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
				var kB int64
				if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kB); err != nil {
					t.Errorf("anonymous RSS of %s: %q: %v", p.name, line, err)
					return peak
				}
				peak = max(peak, kB<<10)
			}
		}
		select {
		case <-stop:
			return peak
		case <-tick.C:
		}
	}
}

// waitClusterSettled waits until every Alertmanager says its gossip has
// settled (or that it runs alone): from then on it sends notifications
// without waiting for its peers.
func (s *stack) waitClusterSettled(t *testing.T) {
	t.Helper()
	for _, addr := range s.amAddrs {
		poll(t, waitLong, func() (bool, string) {
			var status struct {
				Cluster struct {
					Status string `json:"status"`
				} `json:"cluster"`
			}
			if err := json.Unmarshal([]byte(get(t, url(addr, "/api/v2/status"))), &status); err != nil {
				t.Fatalf("Alertmanager %s status: %v", addr, err)
			}
			return status.Cluster.Status != "settling", fmt.Sprintf("Alertmanager %s's cluster settled, status %q", addr, status.Cluster.Status)
		})
	}
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

// waitGrouped waits until the Alertmanagers' groups (which hold what
// their dispatchers took in, resolved alerts left out) hold as many
// alerts as want, each of them starting at starts: alerts posted apart
// reach the groups in turn, where alerts of one post may be taken in by
// several workers in any order.
func (s *stack) waitGrouped(t *testing.T, want int, starts time.Time) {
	t.Helper()
	for _, addr := range s.amAddrs {
		poll(t, 10*time.Second, func() (bool, string) {
			what := fmt.Sprintf("%d alerts starting at %s in the groups of Alertmanager %s", want, starts, addr)
			resp, err := http.Get(url(addr, "/api/v2/alerts/groups"))
			if err != nil {
				return false, what + ": " + err.Error()
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var groups []struct {
				Alerts []struct {
					StartsAt time.Time `json:"startsAt"`
				} `json:"alerts"`
			}
			if err := json.Unmarshal(body, &groups); err != nil {
				return false, what + ": " + err.Error()
			}
			n := 0
			for _, g := range groups {
				for _, a := range g.Alerts {
					// Alertmanager keeps milliseconds.
					if !a.StartsAt.Equal(starts.Truncate(time.Millisecond)) {
						return false, fmt.Sprintf("%s; got %s", what, body)
					}
					n++
				}
			}
			return n == want, fmt.Sprintf("%s; got %s", what, body)
		})
	}
}

// readFixture returns the webhook body of fixture.
func readFixture(t *testing.T) []byte {
	t.Helper()
	body, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// postWebhook posts body to the service's path as Alertmanager does, with
// its basic auth when auth is set, and returns the status code and the
// answer. The service answers once it is done with the notification.
func (s *stack) postWebhook(t *testing.T, path, contentType string, body []byte, auth bool) (int, string) {
	t.Helper()
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
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(answer)
}

// waitSMS waits until the fake accepted at least n SMS and returns them all.
func (s *stack) waitSMS(t *testing.T, n int) []sipgatetest.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLong)
	defer cancel()
	msgs, err := s.fake.WaitMessages(ctx, n)
	if err != nil {
		t.Fatalf("%v; got %q", err, received(msgs))
	}
	return msgs
}

// owedDigests opens the ledger of the stopped service and returns the
// digests it still owes, by number: what its digest loop would send next.
func (s *stack) owedDigests(t *testing.T) map[string]ledger.Suppressed {
	t.Helper()
	select {
	case err := <-s.service.done:
		s.service.done <- err
	default:
		t.Fatal("owedDigests: the service still runs and holds its ledger")
	}
	// The file name is the one cmd/alertmanager-sipgate gives the ledger in
	// --storage.path.
	led, err := ledger.Open(filepath.Join(s.dir, "data", "ledger.db"), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	owed, err := led.Pending()
	if err != nil {
		t.Fatal(err)
	}
	return owed
}

// metrics scrapes the service's /metrics.
func (s *stack) metrics(t *testing.T) metrics {
	t.Helper()
	return scrape(t, url(s.svcAddr, "/metrics"))
}

// webhookCounts are what Alertmanager's own counters say about its webhook
// notifications (notify/metrics.go). A notification is one flush of a
// group, tried by one or more requests until one succeeds or the flush
// deadline passes.
type webhookCounts struct {
	started, succeeded, failed float64
	requests                   float64
}

// done reports whether every notification started has ended.
func (c webhookCounts) done() bool { return c.started == c.succeeded+c.failed }

func webhookCountsOf(m metrics) webhookCounts {
	webhook := labels{"integration": "webhook"}
	requests := m.sum("alertmanager_notification_requests_total", webhook)
	return webhookCounts{
		started: m.sum("alertmanager_notifications_total", webhook),
		// A notification ends after its first successful request.
		succeeded: requests - m.sum("alertmanager_notification_requests_failed_total", webhook),
		failed:    m.sum("alertmanager_notifications_failed_total", webhook),
		requests:  requests,
	}
}

// waitNotified waits until every Alertmanager has ended each webhook
// notification it started, at least succeeded of them successfully, and
// the service has counted an answer to each of their requests. Then
// nothing is in flight: every SMS these notifications cause has reached
// the fake, and an Alertmanager sends again only when its alerts change,
// a notification failed, or repeat_interval (1h) passes.
func (s *stack) waitNotified(t *testing.T, succeeded int) {
	t.Helper()
	s.waitNotifiedWithin(t, succeeded, waitLong)
}

// waitNotifiedWithin is waitNotified failing after timeout, for faults
// that keep Alertmanager retrying longer than waitLong allows for.
func (s *stack) waitNotifiedWithin(t *testing.T, succeeded int, timeout time.Duration) {
	t.Helper()
	poll(t, timeout, func() (bool, string) {
		var requests, successes float64
		var state []string
		ok := true
		for _, addr := range s.amAddrs {
			c := webhookCountsOf(scrape(t, url(addr, "/metrics")))
			requests += c.requests
			successes += c.succeeded
			ok = ok && c.done() && c.succeeded >= float64(succeeded)
			state = append(state, fmt.Sprintf("%s: %+v", addr, c))
		}
		svc := s.metrics(t)
		answered := svc.sum("alertmanager_sipgate_webhooks_received_total", nil)
		answered200 := svc.sum("alertmanager_sipgate_webhooks_received_total", labels{"code": "200"})
		// More 200s than Alertmanager saw succeed are answers it no longer
		// waited for: its flush deadline ended the request while the
		// service finished the sends it had begun.
		ok = ok && answered == requests && answered200 >= successes
		return ok, fmt.Sprintf("each Alertmanager done with its webhook notifications, %d of them successful, and each request answered (%s; service answered %v, %v with 200)",
			succeeded, strings.Join(state, ", "), answered, answered200)
	})
}

// waitAlertmanagersDone waits until every Alertmanager has ended each
// webhook notification it started, at least succeeded of them
// successfully. Unlike waitNotified it does not compare with the service's
// counters, which a restart of the service resets. A notification succeeds
// only once the service answered 200, and the service answers once every
// send of that notification, and of any duplicate still in flight, is
// done: so then the SMS these notifications cause have reached the fake.
func (s *stack) waitAlertmanagersDone(t *testing.T, succeeded int) {
	t.Helper()
	poll(t, waitLong, func() (bool, string) {
		var state []string
		ok := true
		for _, addr := range s.amAddrs {
			c := webhookCountsOf(scrape(t, url(addr, "/metrics")))
			ok = ok && c.done() && c.succeeded >= float64(succeeded)
			state = append(state, fmt.Sprintf("%s: %+v", addr, c))
		}
		return ok, fmt.Sprintf("each Alertmanager done with its webhook notifications, %d of them successful (%s)", succeeded, strings.Join(state, ", "))
	})
}

// labels select samples by some of their labels.
type labels map[string]string

// metrics is one scrape of a /metrics endpoint, read with the Prometheus
// text parser.
type metrics struct {
	// text is the exposition as served, for checks that nothing secret
	// appears in it.
	text string
	// samples has each histogram as its _bucket, _sum and _count series.
	samples model.Vector
}

// scrape reads the metrics at url.
func scrape(t *testing.T, url string) metrics {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", string(expfmt.FmtText))
	body, header := fetch(t, req)
	m := metrics{text: string(body)}
	dec := expfmt.SampleDecoder{
		Dec:  expfmt.NewDecoder(bytes.NewReader(body), expfmt.ResponseFormat(header)),
		Opts: &expfmt.DecodeOptions{},
	}
	for {
		var v model.Vector
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return m
		}
		if err != nil {
			t.Fatalf("parse metrics of %s: %v", url, err)
		}
		m.samples = append(m.samples, v...)
	}
}

// sum adds up the samples named name that carry all of want's labels; 0
// when there are none.
func (m metrics) sum(name string, want labels) float64 {
	var total float64
	for _, s := range m.samples {
		if m.matches(s, name, want) {
			total += float64(s.Value)
		}
	}
	return total
}

// has reports whether a sample named name carries all of want's labels.
func (m metrics) has(name string, want labels) bool {
	for _, s := range m.samples {
		if m.matches(s, name, want) {
			return true
		}
	}
	return false
}

func (metrics) matches(s *model.Sample, name string, want labels) bool {
	if string(s.Metric[model.MetricNameLabel]) != name {
		return false
	}
	for k, v := range want {
		if string(s.Metric[model.LabelName(k)]) != v {
			return false
		}
	}
	return true
}

// get fetches url and returns its body, failing unless it answers 200.
func get(t *testing.T, url string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := fetch(t, req)
	return string(body)
}

// fetch does req and returns the answer's body and header, failing unless
// it answers 200.
func fetch(t *testing.T, req *http.Request) ([]byte, http.Header) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s: %s", req.Method, req.URL, resp.Status, body)
	}
	return body, resp.Header
}

// pollInterval is how often poll asks again.
const pollInterval = 100 * time.Millisecond

// poll asks cond until it holds, failing after timeout with cond's last
// description of what it waited for.
func poll(t *testing.T, timeout time.Duration, cond func() (ok bool, what string)) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		ok, what := cond()
		if ok {
			return
		}
		select {
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		case <-tick.C:
		}
	}
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	poll(t, timeout, func() (bool, string) { return cond(), what })
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

// amLink is the link to the Alertmanager that the built-in template ends
// a firing SMS with, where it fits; in the lines of s.received, the
// Alertmanager's address reads ALERTMANAGER, since either of an HA pair may
// be the one whose SMS went out.
const amLink = " Alerts: http://ALERTMANAGER/#/alerts?receiver=sms"

// received is received with the address of each of the stack's
// Alertmanagers written ALERTMANAGER.
func (s *stack) received(msgs []sipgatetest.Message) []string {
	out := received(msgs)
	for i := range out {
		for _, addr := range s.amAddrs {
			out[i] = strings.ReplaceAll(out[i], "http://"+addr+"/", "http://ALERTMANAGER/")
		}
	}
	return out
}

func assertLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}
