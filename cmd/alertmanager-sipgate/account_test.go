package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate/sipgatetest"
)

const (
	fakeUser  = "token-ACCOUNT1"
	fakeToken = "account-S3cret-token"
)

// lockedBuffer is a log destination that tests may read while the service
// writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runAccountService runs the service of the sipgate section given, as
// serve does (app, routes, background loops) on 127.0.0.1, and returns its
// base URL and its log.
func runAccountService(t *testing.T, sipgateSection string) (string, *lockedBuffer) {
	t.Helper()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config.yml")
	cfgText := "sipgate: " + sipgateSection + "\nroutes:\n  - {name: default, to: [\"+4915112345678\"]}\n"
	if err := os.WriteFile(cfgFile, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := newApp(cfg, cfgFile, filepath.Join(dir, "data"), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	handler, err := a.routes()
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	loops := a.startLoops(ctx, make(chan os.Signal))
	t.Cleanup(func() { stop(); loops.Wait() }) // before the ledger closes

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(handler, serverTimeouts(time.Duration(cfg.Webhook.Timeout)))
	served := make(chan error, 1)
	noWebConfig := ""
	go func() { served <- web.Serve(ln, srv, &web.FlagConfig{WebConfigFile: &noWebConfig}, logger) }()
	a.ready.Store(true) // as listen does once it serves
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String(), logs
}

// fetchURL returns the status and body of GET url.
func fetchURL(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
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

// pollUntil checks cond every 10 ms until it holds; the test fails when
// 10 s pass first, with what it waited for.
func pollUntil(t *testing.T, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(what())
		}
		<-tick.C
	}
}

// scrapeUntil scrapes /metrics until it holds line, and returns that
// scrape.
func scrapeUntil(t *testing.T, base, line string) string {
	t.Helper()
	var body string
	pollUntil(t, func() bool {
		_, body = fetchURL(t, base+"/metrics")
		return strings.Contains(body, "\n"+line+"\n")
	}, func() string {
		return "/metrics never showed " + line + "; last scrape's account lines:\n" + accountLines(body)
	})
	return body
}

// accountLines are the lines of a scrape about the account.
func accountLines(body string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		for _, m := range []string{"sipgate_up", "sipgate_balance", "account_check"} {
			if strings.Contains(l, "alertmanager_sipgate_"+m) && !strings.HasPrefix(l, "#") {
				out = append(out, l)
			}
		}
	}
	return strings.Join(out, "\n")
}

// TestAccountMetricsOfTheRunningService: the running service checks the
// sipgate account at start and shows what it found on /metrics.
func TestAccountMetricsOfTheRunningService(t *testing.T) {
	fake := sipgatetest.NewServer(fakeUser, fakeToken)
	defer fake.Close()
	fake.SetBalance(123400, "EUR")
	base, logs := runAccountService(t, `{url: "`+fake.URL+`", token_id: `+fakeUser+`, token: `+fakeToken+`, low_balance: 20}`)

	body := scrapeUntil(t, base, "alertmanager_sipgate_sipgate_up 1")
	for _, want := range []string{
		`alertmanager_sipgate_balance{currency="EUR"} 12.34`,
		`alertmanager_sipgate_balance_low 1`,
		`alertmanager_sipgate_account_check_success_timestamp_seconds `,
	} {
		if !strings.Contains(body, "\n"+want) {
			t.Errorf("/metrics lacks %q; account lines:\n%s", want, accountLines(body))
		}
	}
	if fake.AccountRequests() != 2 || fake.Requests() != 0 {
		t.Errorf("sipgate saw %d account requests and %d SMS, want the 2 of one check and no SMS", fake.AccountRequests(), fake.Requests())
	}
	if !strings.Contains(logs.String(), `msg="sipgate balance below sipgate.low_balance: top up the account before SMS fail" balance=12.34 currency=EUR low_balance=20`) {
		t.Errorf("no low-balance warning in the log:\n%s", logs)
	}
	if strings.Contains(body, fakeToken) || strings.Contains(logs.String(), fakeToken) {
		t.Error("the token leaked into /metrics or the log")
	}
}

// TestSipgateDownLeavesTheServiceReady: with sipgate rejecting the
// credentials, the service says so on /metrics and in its log, and is
// still ready: readiness is about this service.
func TestSipgateDownLeavesTheServiceReady(t *testing.T) {
	fake := sipgatetest.NewServer(fakeUser, fakeToken)
	defer fake.Close()
	fake.RevokeCredentials(true)
	base, logs := runAccountService(t, `{url: "`+fake.URL+`", token_id: `+fakeUser+`, token: `+fakeToken+`}`)

	body := scrapeUntil(t, base, "alertmanager_sipgate_sipgate_up 0")
	for _, absent := range []string{"alertmanager_sipgate_balance{", "alertmanager_sipgate_account_check_success_timestamp_seconds "} {
		if strings.Contains(body, "\n"+absent) {
			t.Errorf("/metrics shows %q before any check succeeded:\n%s", absent, accountLines(body))
		}
	}
	if code, _ := fetchURL(t, base+"/-/ready"); code != http.StatusOK {
		t.Errorf("/-/ready = %d with sipgate rejecting the credentials, want 200", code)
	}
	if !strings.Contains(logs.String(), `msg="sipgate account check failed" err="sipgate rejected the credentials (401)" reason=auth`) {
		t.Errorf("the failure is not in the log:\n%s", logs)
	}
	if strings.Contains(logs.String(), fakeToken) {
		t.Error("the token leaked into the log")
	}
}

// TestDryRunSkipsTheAccountCheck: a dry run asks sipgate nothing, says
// so, and exposes no account metrics.
func TestDryRunSkipsTheAccountCheck(t *testing.T) {
	fake := sipgatetest.NewServer(fakeUser, fakeToken)
	defer fake.Close()
	base, logs := runAccountService(t, `{url: "`+fake.URL+`", dry_run: true}`)

	// The skip is logged as the loop starts; wait for that line.
	pollUntil(t, func() bool {
		return strings.Contains(logs.String(), `msg="sipgate account not checked" reason="dry run: SMS are logged, not sent"`)
	}, func() string { return "no log line says the account is not checked:\n" + logs.String() })
	if _, body := fetchURL(t, base+"/metrics"); accountLines(body) != "" {
		t.Errorf("a dry run exposes account metrics:\n%s", accountLines(body))
	}
	if n := fake.AccountRequests(); n != 0 {
		t.Errorf("a dry run asked sipgate %d times", n)
	}
}
