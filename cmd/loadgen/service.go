package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate/sipgatetest"
	"github.com/prometheus/common/model"
)

// The credentials the fake sipgate takes and the webhook's basic auth, in
// the service config this tool writes. Nothing here is a secret: all of
// it lives on 127.0.0.1 for one run.
const (
	sipgateTokenID = "token-loadgen"
	sipgateToken   = "loadgen-sipgate-token"
	webhookUser    = "alertmanager"
	webhookPass    = "loadgen-webhook-password"
)

// Bounds on waiting for the service.
const (
	readyTimeout = 30 * time.Second
	stopTimeout  = 30 * time.Second
)

// fakeSipgate is the project's fake sipgate served over TLS on loopback, as
// the service reaches the real one.
type fakeSipgate struct {
	*sipgatetest.Server
	tls *httptest.Server
	// url is the base URL for the service config, ending in /v2.
	url string
	// certPEM is the certificate the service must trust. httptest serves
	// the same one in every process, so a config written by one run fits
	// the fake of the next.
	certPEM []byte
}

// startFakeSipgate serves the fake sipgate over TLS on addr, which must be
// on the loopback interface; HTTP/2 is offered when http2 is set.
func startFakeSipgate(addr string, http2 bool) (*fakeSipgate, error) {
	if err := checkLoopback(addr); err != nil {
		return nil, fmt.Errorf("fake sipgate: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fake sipgate: %w", err)
	}
	// The fake's own plain-HTTP listener stays unused: only its handler
	// and what it records are needed.
	fake := sipgatetest.NewServer(sipgateTokenID, sipgateToken)
	srv := httptest.NewUnstartedServer(fake.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.EnableHTTP2 = http2
	srv.StartTLS()
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return &fakeSipgate{Server: fake, tls: srv, url: srv.URL + "/v2", certPEM: cert}, nil
}

// Close stops both servers.
func (f *fakeSipgate) Close() {
	f.Server.Close()
	f.tls.Close()
}

// checkLoopback fails for an address that is not an IP of the loopback
// interface: the load never leaves the machine.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not a loopback IP address such as 127.0.0.1", addr)
	}
	return nil
}

// serviceConfig is a service config that sends every notification through
// one route to recipients contacts through sipgateURL, with room for
// concurrency notifications at once, and no limits, or with limits so high
// that they never hold an SMS back.
func serviceConfig(sipgateURL string, recipients, concurrency int, limits bool) string {
	var contacts, group strings.Builder
	for i := range recipients {
		name := fmt.Sprintf("r%d", i+1)
		fmt.Fprintf(&contacts, "  %s: {number: %q}\n", name, fmt.Sprintf("+49151%08d", i+1))
		if i > 0 {
			group.WriteString(", ")
		}
		group.WriteString(name)
	}
	limitsYAML, what := "", "no limits"
	if limits {
		perRecipient, budget := loadLimits()
		var b strings.Builder
		b.WriteString("limits:\n  per_recipient:\n")
		for _, w := range perRecipient {
			fmt.Fprintf(&b, "    - {max: %d, per: %s}\n", w.Max, model.Duration(w.Per))
		}
		fmt.Fprintf(&b, "  budget: {max: %d, per: %s}\n", budget.Max, model.Duration(budget.Per))
		limitsYAML = b.String()
		what = "limits that check every SMS and hold none back"
	}
	return fmt.Sprintf(`# Written by cmd/loadgen: a fake sipgate on loopback, %s.
sipgate:
  url: %s
  token_id: %s
  token: %s
  sms_id: s1
webhook:
  max_in_flight: %d
  max_alerts_in_flight: %d
  basic_auth: {username: %s, password: %s}
contacts:
%sgroups:
  loadgen: [%s]
routes:
  - name: loadgen
    to: [loadgen]
%s`, what, sipgateURL, sipgateTokenID, sipgateToken, max(64, concurrency), max(64, concurrency)*config.DefaultMaxAlerts, webhookUser, webhookPass, contacts.String(), group.String(), limitsYAML)
}

// writeSetup writes the service config for o and the fake's certificate
// into dir and returns their paths.
func writeSetup(dir string, fake *fakeSipgate, o options) (configFile, certFile string, err error) {
	configFile = filepath.Join(dir, "sipgate.yml")
	certFile = filepath.Join(dir, "sipgate.pem")
	if err := os.WriteFile(configFile, []byte(serviceConfig(fake.url, o.recipients, o.concurrency, o.limits)), 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(certFile, fake.certPEM, 0o644); err != nil {
		return "", "", err
	}
	return configFile, certFile, nil
}

// buildService builds ./cmd/alertmanager-sipgate of the module in the
// working directory into dir, as the Dockerfile builds a release (static,
// without symbols), so that what is measured is what ships: a binary with
// cgo and symbols is a third larger, and more of it is resident.
func buildService(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the alertmanager-sipgate module: run from it, or pass --service-binary")
	}
	bin := filepath.Join(dir, "alertmanager-sipgate")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/alertmanager-sipgate")
	cmd.Dir = filepath.Dir(mod)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the service in %s: %w\n%s", cmd.Dir, err, out)
	}
	return bin, nil
}

// service is the service process this tool started.
type service struct {
	cmd     *exec.Cmd
	addr    string
	logFile string
	// exited is closed when the process has exited; err is then its exit
	// error.
	exited chan struct{}
	err    error
}

// startService starts bin with configFile and storage on a free port of
// 127.0.0.1, trusting the certificate in certFile, its output going to
// logFile, and waits until it is ready.
func startService(ctx context.Context, bin, configFile, certFile, storage, logLevel, logFile string) (*service, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	log, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child has its own copy
	cmd := exec.Command(bin,
		"--config.file="+configFile,
		"--web.listen-address="+addr,
		"--storage.path="+storage,
		"--log.level="+logLevel,
	)
	// The service has no setting for a CA file: Go's crypto/x509 reads
	// the roots from SSL_CERT_FILE on Linux instead of the system's.
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+certFile)
	cmd.Stdout, cmd.Stderr = log, log
	// A group of its own, so that Ctrl-C reaches only this tool, which
	// reads the service's figures before it stops it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the service: %w", err)
	}
	s := &service{cmd: cmd, addr: addr, logFile: logFile, exited: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w\n%s", err, s.logTail())
	}
	return s, nil
}

// pid is the service's process id.
func (s *service) pid() int { return s.cmd.Process.Pid }

// waitReady polls /-/ready until it answers 200, the process exits, or
// readyTimeout passes.
func (s *service) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	url := "http://" + s.addr + "/-/ready"
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last := errors.New("no answer yet")
	for {
		if ready, err := isReady(ctx, client, url); ready {
			return nil
		} else if err != nil {
			last = err
		}
		select {
		case <-s.exited:
			return fmt.Errorf("the service exited before it was ready: %v", s.err)
		case <-ctx.Done():
			return fmt.Errorf("the service was not ready at %s: %w (%v)", url, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// isReady asks url once whether the service is ready.
func isReady(ctx context.Context, client *http.Client, url string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("%s", resp.Status)
	}
	return true, nil
}

// stop ends the service with SIGTERM, and kills it if it has not exited
// within stopTimeout. It returns the exit error of a process that did not
// stop cleanly.
func (s *service) stop() error {
	select {
	case <-s.exited:
		return s.err
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	select {
	case <-s.exited:
		return s.err
	case <-t.C:
		_ = s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("the service did not stop within %v of SIGTERM and was killed", stopTimeout)
	}
}

// logTail is the end of the service's output, for error messages.
func (s *service) logTail() string {
	b, err := os.ReadFile(s.logFile)
	if err != nil {
		return fmt.Sprintf("(service log: %v)", err)
	}
	const keep = 4 << 10
	if len(b) > keep {
		b = b[len(b)-keep:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return "service log (end):\n" + string(b)
}

// freeAddr returns a 127.0.0.1 address with a port free right now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
