package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
)

func TestRunRejectsCommandLine(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"unknown flag", []string{"--no-such-flag"}},
		{"no concurrency", []string{"--concurrency=0"}},
		{"unbounded", []string{"--notifications=0", "--duration=0"}},
		{"negative warm-up", []string{"--warmup=-1s"}},
		{"no alerts", []string{"--alerts-per-notification=0"}},
		{"no recipients", []string{"--recipients=0"}},
		{"target without a fixed fake", []string{"--target=http://127.0.0.1:9876"}},
		{"setup without a fixed fake", []string{"--write-setup=" + t.TempDir()}},
		{"target and binary", []string{"--target=http://127.0.0.1:9876", "--sipgate-listen=127.0.0.1:9443", "--service-binary=x"}},
		{"pid without target", []string{"--pid=1"}},
		{"negative ledger sends", []string{"--ledger-sends=-1"}},
		{"ledger sends for a running service", []string{"--target=http://127.0.0.1:9876", "--sipgate-listen=127.0.0.1:9443", "--ledger-sends=10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := run(tt.args, io.Discard, &stderr); code != 2 {
				t.Errorf("run(%q) = %d, want 2 (%s)", tt.args, code, stderr.String())
			}
		})
	}
}

// TestMain makes and removes the directory the service is built into;
// nothing is built unless a test needs it.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "loadgen-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildDir is where serviceBuild puts the service; set by TestMain.
var buildDir string

// serviceBuild builds the service at most once per test binary.
var serviceBuild = sync.OnceValues(func() (string, error) {
	return buildService(context.Background(), buildDir)
})

// serviceBinary is the service to load: LOADGEN_SERVICE_BINARY, or built
// from this module.
func serviceBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and loads the service")
	}
	if bin := os.Getenv("LOADGEN_SERVICE_BINARY"); bin != "" {
		return bin
	}
	bin, err := serviceBuild()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// runClean runs the command with args and --json, wants it to exit 0, and
// returns its report.
func runClean(t *testing.T, args ...string) *result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(append(args, "--json"), &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	var res result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("report: %v\n%s", err, stdout.String())
	}
	return &res
}

// TestRunManaged: a short run against a service the tool starts answers
// every notification 200, finds every SMS at the fake sipgate when the
// last answer came, reports the service's memory and CPU, and leaves no
// service running.
func TestRunManaged(t *testing.T) {
	bin := serviceBinary(t)
	res := runClean(t,
		"--notifications=200", "--concurrency=4", "--recipients=2", "--alerts-per-notification=3",
		"--warmup=300ms", "--service-binary="+bin)
	if res.Sent != 200 || res.OK != 200 || res.Failed != 0 || len(res.Other) != 0 || res.Stopped != stoppedCount {
		t.Errorf("sent %d, ok %d, failed %d (%s), other %v, stopped %q; want 200 answered 200", res.Sent, res.OK, res.Failed, res.FirstError, res.Other, res.Stopped)
	}
	// The warm-up's notifications are reported apart, and their SMS
	// arrive too.
	if res.WarmupSent == 0 || res.WarmupOK != res.WarmupSent || res.WarmupMaxMS <= 0 || res.WarmupSeconds < 0.3 {
		t.Errorf("warm-up: %d sent, %d answered 200, max %v ms, %v s; want some, all answered, for 300 ms", res.WarmupSent, res.WarmupOK, res.WarmupMaxMS, res.WarmupSeconds)
	}
	if want := (200 + res.WarmupOK) * 2; res.SMSExpected != want || res.SMSCounted != want {
		t.Errorf("SMS counted %d, expected %d; want %d and %d", res.SMSCounted, res.SMSExpected, want, want)
	}
	if res.IdleRSSBytes <= 0 || res.PeakRSSBytes < res.IdleRSSBytes || res.PeakAnonBytes <= 0 || res.PeakAnonBytes > res.PeakRSSBytes || res.CPUSeconds <= 0 || res.ServicePID == 0 {
		t.Errorf("idle RSS %d, peak RSS %d, peak anonymous %d, CPU %v s, pid %d: the service's figures are missing", res.IdleRSSBytes, res.PeakRSSBytes, res.PeakAnonBytes, res.CPUSeconds, res.ServicePID)
	}
	if res.LoadgenCPUPerNotificationMS <= 0 {
		t.Errorf("loadgen CPU per notification = %v, want some", res.LoadgenCPUPerNotificationMS)
	}
	checkLedger(t, res)
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(res.ServicePID))); !os.IsNotExist(err) {
		t.Errorf("the service (pid %d) is still running: %v", res.ServicePID, err)
	}
}

// TestRunManagedOnAFullLedger: with --limits and --ledger-sends, the
// service checks every SMS against limits that hold none back, in the
// ledger that was filled: when the run ends, its day holds the fill's
// sends and the load's.
func TestRunManagedOnAFullLedger(t *testing.T) {
	bin := serviceBinary(t)
	storage := t.TempDir()
	// The oldest send of the fill lies 24h/fill after the day's start
	// when the fill began: the day still holds it when the run ends, as
	// long as the run takes less than that (173 s here).
	const fill = 500
	res := runClean(t,
		"--notifications=100", "--concurrency=4", "--warmup=0", "--limits",
		"--ledger-sends="+strconv.Itoa(fill), "--storage="+storage, "--service-binary="+bin)
	if !res.Limits || res.LedgerSends != fill || res.OK != 100 || res.SMSCounted != 100 {
		t.Fatalf("limits %v, ledger sends %d, %d answered 200, %d SMS; want true, %d, 100, 100", res.Limits, res.LedgerSends, res.OK, res.SMSCounted, fill)
	}
	l, err := ledger.Open(filepath.Join(storage, ledger.FileName), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sends := fill + res.SMSCounted
	for _, max := range []int{sends, sends + 1} {
		ok := allowsOneMore(t, l, "+4915100000001", nil, ledger.Window{Max: max, Per: fillDay})
		if want := max > sends; ok != want {
			t.Errorf("a day's budget of %d allows one more: %v, want %v (the day should hold the %d sends of the fill and the %d of the load)", max, ok, want, fill, res.SMSCounted)
		}
	}
}

// TestTarget: a config from --write-setup runs a service that --target
// then loads, through a fake sipgate started again at the same address,
// with --limits on a ledger that --ledger-sends filled.
func TestTarget(t *testing.T) {
	bin := serviceBinary(t)
	dir := t.TempDir()
	sipgateAddr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	var out, stderr bytes.Buffer
	const fill = 500
	if code := run([]string{"--write-setup=" + dir, "--sipgate-listen=" + sipgateAddr, "--recipients=2", "--limits", "--ledger-sends=" + strconv.Itoa(fill)}, &out, &stderr); code != 0 {
		t.Fatalf("--write-setup: exit code %d: %s", code, stderr.String())
	}
	if !strings.Contains(out.String(), "SSL_CERT_FILE="+filepath.Join(dir, "sipgate.pem")) || !strings.Contains(out.String(), " --limits ") {
		t.Errorf("--write-setup printed no way to start the service and load it with --limits:\n%s", out.String())
	}
	// The ledger the service is told to use holds the fill.
	l, err := ledger.Open(filepath.Join(dir, "data", ledger.FileName), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ok := allowsOneMore(t, l, "+4915100000001", nil, ledger.Window{Max: fill, Per: fillDay})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if ok {
		t.Fatalf("a day's budget of %d allows one more; want the %d sends of the fill in the service's ledger", fill, fill)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	svc, err := startService(ctx, bin, filepath.Join(dir, "sipgate.yml"), filepath.Join(dir, "sipgate.pem"), filepath.Join(dir, "data"), "info", filepath.Join(dir, "service.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := svc.stop(); err != nil {
			t.Errorf("stop the service: %v", err)
		}
		if t.Failed() {
			t.Log(svc.logTail())
		}
	}()
	res, err := measure(ctx, options{
		concurrency: 4, notifications: 50, alerts: 2, recipients: 2,
		target: "http://" + svc.addr, pid: svc.pid(), sipgateListen: sipgateAddr,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if p := res.problem(); p != "" || res.OK != 50 || res.SMSCounted != 100 {
		t.Errorf("%s: ok %d, SMS counted %d; want 50 and 100", p, res.OK, res.SMSCounted)
	}
	if res.PeakRSSBytes <= 0 || res.PeakAnonBytes <= 0 || res.CPUSeconds <= 0 {
		t.Errorf("peak RSS %d, peak anonymous %d, CPU %v s: the --pid figures are missing", res.PeakRSSBytes, res.PeakAnonBytes, res.CPUSeconds)
	}
	checkLedger(t, res)
}

// checkLedger wants the ledger's figures of a run that sent SMS: some
// commits, each holding writes, and a writer held part of the time.
func checkLedger(t *testing.T, res *result) {
	t.Helper()
	if !res.LedgerRead || res.LedgerCommits <= 0 || res.LedgerWritesPerCommit <= 0 || res.LedgerCommitMeanMS <= 0 || res.LedgerBusy <= 0 || res.LedgerBusy > 1 {
		t.Errorf("ledger: %d commits, %v writes and %v ms each, busy %v; want some of each, busy at most 1",
			res.LedgerCommits, res.LedgerWritesPerCommit, res.LedgerCommitMeanMS, res.LedgerBusy)
	}
}
