// Command loadgen measures alertmanager-sipgate under load: it posts real
// Alertmanager webhooks, each of a group of its own, at a given concurrency
// to the service, which sends its SMS over TLS to the project's fake
// sipgate on 127.0.0.1, and reports notifications per second, latency, the
// SMS the fake counted against those expected, and the service's memory
// and CPU time.
//
// By default it builds the service from the module in the working
// directory and runs it on a config of its own. With --write-setup and
// then --target it loads a service started by hand instead.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
)

// options are the command line.
type options struct {
	concurrency   int
	rate          float64
	notifications int
	duration      time.Duration
	// warmup is how long the same load runs before the measured one,
	// reported apart: a service just started, or with no connection to
	// sipgate yet, answers its first notifications late.
	warmup     time.Duration
	alerts     int
	recipients int
	// serviceBinary is the service to start; empty builds it.
	serviceBinary string
	// target is the URL of a service already running; pid its process,
	// 0 when unknown.
	target string
	pid    int
	// storage is the service's --storage.path; empty for a temporary one.
	storage string
	// sipgateListen is the fake sipgate's address.
	sipgateListen string
	sipgateHTTP2  bool
	// writeSetup is a directory to write the service config and the fake's
	// certificate into, for a service started by hand; then nothing runs.
	writeSetup      string
	serviceLogLevel string
	json            bool
	// limits gives the service limits that check every SMS but never
	// hold one back; ledgerSends fills its ledger with that many sends in
	// their windows before it starts.
	limits      bool
	ledgerSends int
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command; it returns the exit code: 0 for a clean run (every
// notification answered 200 and every expected SMS at the fake), 1 for
// anything else, 2 for a wrong command line.
func run(args []string, stdout, stderr io.Writer) int {
	app := kingpin.New("loadgen", "Load alertmanager-sipgate with Alertmanager webhooks; it sends through a fake sipgate over TLS on 127.0.0.1.")
	app.UsageWriter(stderr)
	app.ErrorWriter(stderr)
	var o options
	app.Flag("concurrency", "Notifications posted at once.").Default("10").IntVar(&o.concurrency)
	app.Flag("rate", "Notifications started per second, spread evenly, by up to --concurrency at once; 0 for each as soon as one is answered. Latency then counts from a notification's scheduled start.").Default("0").Float64Var(&o.rate)
	app.Flag("notifications", "Notifications to send in all; 0 for as many as --duration allows.").Default("10000").IntVar(&o.notifications)
	app.Flag("duration", "Longest time to send for, after the warm-up; 0 for no bound but --notifications.").Default("5m").DurationVar(&o.duration)
	app.Flag("warmup", "How long to load the service the same way before the measured run, whose latency, rate and CPU time leave it out; reported apart. 0 measures from the first notification.").Default("1s").DurationVar(&o.warmup)
	app.Flag("alerts-per-notification", "Alerts in each notification.").Default("2").IntVar(&o.alerts)
	app.Flag("recipients", "Contacts the config's one route pages: each notification is that many SMS.").Default("1").IntVar(&o.recipients)
	app.Flag("service-binary", "The service binary to run; by default ./cmd/alertmanager-sipgate is built into a temporary directory.").StringVar(&o.serviceBinary)
	app.Flag("target", "URL of a service already running on a config from --write-setup, such as http://127.0.0.1:9876; needs --sipgate-listen.").StringVar(&o.target)
	app.Flag("pid", "Process id of the --target service, to report its memory and CPU time.").IntVar(&o.pid)
	app.Flag("storage", "The service's --storage.path; a temporary directory by default.").StringVar(&o.storage)
	app.Flag("sipgate-listen", "Address of the fake sipgate, on loopback; a free port of 127.0.0.1 by default, a fixed one with --write-setup and --target.").StringVar(&o.sipgateListen)
	app.Flag("sipgate-http2", "The fake sipgate offers HTTP/2.").BoolVar(&o.sipgateHTTP2)
	app.Flag("write-setup", "Write a service config and the fake sipgate's certificate into this directory, print how to run the service on them, and exit.").StringVar(&o.writeSetup)
	app.Flag("service-log-level", "The service's --log.level.").Default("info").EnumVar(&o.serviceLogLevel, "debug", "info", "warn", "error")
	app.Flag("json", "Print the report as JSON.").BoolVar(&o.json)
	app.Flag("limits", "Give the service flood limits (10m and a day per recipient, a day's budget) so high that they never hold an SMS back: every SMS is checked against them.").BoolVar(&o.limits)
	app.Flag("ledger-sends", "Before the service starts, write this many sends to 1,000 other numbers into its ledger, spread over the day before (with --limits, each taken against them, so the ledger keeps their windows' counts): a full ledger for --limits to check against.").Default("0").IntVar(&o.ledgerSends)
	app.HelpFlag.Short('h')
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 2
	}
	if err := o.check(); err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	if o.writeSetup != "" {
		if err := setup(ctx, o, stdout, logger); err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return 1
		}
		return 0
	}
	res, err := measure(ctx, o, logger)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return 1
		}
	} else {
		res.print(stdout)
	}
	if problem := res.problem(); problem != "" {
		fmt.Fprintf(stderr, "loadgen: %s\n", problem)
		return 1
	}
	return 0
}

// check reports a command line that cannot run.
func (o options) check() error {
	var errs []error
	if o.concurrency < 1 {
		errs = append(errs, fmt.Errorf("--concurrency %d: want at least 1", o.concurrency))
	}
	if o.rate < 0 {
		errs = append(errs, fmt.Errorf("--rate %g: must not be negative", o.rate))
	}
	if o.notifications < 0 || o.duration < 0 {
		errs = append(errs, errors.New("--notifications and --duration must not be negative"))
	}
	if o.warmup < 0 {
		errs = append(errs, fmt.Errorf("--warmup %s: must not be negative", o.warmup))
	}
	if o.notifications == 0 && o.duration == 0 {
		errs = append(errs, errors.New("--notifications 0 and --duration 0: nothing bounds the run"))
	}
	if o.alerts < 1 {
		errs = append(errs, fmt.Errorf("--alerts-per-notification %d: want at least 1", o.alerts))
	}
	if o.recipients < 1 {
		errs = append(errs, fmt.Errorf("--recipients %d: want at least 1", o.recipients))
	}
	if (o.target != "" || o.writeSetup != "") && o.sipgateListen == "" {
		errs = append(errs, errors.New("--target and --write-setup need a fixed --sipgate-listen, such as 127.0.0.1:9443, which the service's config names"))
	}
	if o.target != "" && o.serviceBinary != "" {
		errs = append(errs, errors.New("--target and --service-binary: a service runs already, or this tool starts one, not both"))
	}
	if o.ledgerSends < 0 {
		errs = append(errs, fmt.Errorf("--ledger-sends %d: must not be negative", o.ledgerSends))
	}
	if o.ledgerSends > 0 && o.target != "" {
		errs = append(errs, errors.New("--ledger-sends and --target: the ledger is filled before the service starts, and this one runs already"))
	}
	if o.pid != 0 && o.target == "" {
		errs = append(errs, errors.New("--pid is for --target: the service this tool starts is known"))
	}
	return errors.Join(errs...)
}

// setup writes the config and certificate of o.writeSetup, fills the
// ledger of its storage with --ledger-sends, and says how to use them.
func setup(ctx context.Context, o options, w io.Writer, logger *slog.Logger) error {
	if err := os.MkdirAll(o.writeSetup, 0o755); err != nil {
		return err
	}
	fake, err := startFakeSipgate(o.sipgateListen, o.sipgateHTTP2)
	if err != nil {
		return err
	}
	// Only its address and certificate are needed now.
	fake.Close()
	configFile, certFile, err := writeSetup(o.writeSetup, fake, o)
	if err != nil {
		return err
	}
	storage, err := prepareStorage(ctx, o, o.writeSetup, logger)
	if err != nil {
		return err
	}
	// The load command carries --limits, so that its report says that the
	// service checks them.
	limits := ""
	if o.limits {
		limits = " --limits"
	}
	fmt.Fprintf(w, `Wrote %s and %s. Start the service with
  SSL_CERT_FILE=%s alertmanager-sipgate --config.file=%s --web.listen-address=127.0.0.1:9876 --storage.path=%s
and load it with
  go run ./cmd/loadgen --target=http://127.0.0.1:9876 --sipgate-listen=%s --recipients=%d%s --pid=<its process id>
`, configFile, certFile, certFile, configFile, storage, o.sipgateListen, o.recipients, limits)
	return nil
}

// measure runs the load o describes and reports what it found. The service
// it starts, the fake sipgate and the temporary files are gone when it
// returns, also when ctx ends early.
func measure(ctx context.Context, o options, logger *slog.Logger) (*result, error) {
	res := newResult(o)
	work, err := os.MkdirTemp("", "loadgen-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	listen := o.sipgateListen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	fake, err := startFakeSipgate(listen, o.sipgateHTTP2)
	if err != nil {
		return nil, err
	}
	defer fake.Close()

	url, pid, stop, err := serviceUnderLoad(ctx, o, work, fake, logger)
	if err != nil {
		return nil, err
	}
	defer stop()
	res.Target, res.ServicePID = url, pid

	var before usage
	if pid != 0 {
		if before, err = readUsage(pid); err != nil {
			return nil, err
		}
		res.IdleRSSBytes = before.mem.rss
	}
	client := loadClient(o.concurrency)
	defer client.CloseIdleConnections()
	stopWatch := func() int64 { return 0 }
	if pid != 0 {
		stopWatch = watchAnon(pid, 100*time.Millisecond)
	}
	var ledgerBefore ledgerCounts
	ledgerErr := errors.New("not read")
	stats, err := runLoad(ctx, o, url, client, fake, res, logger, func() error {
		// The service's CPU time and ledger count from the end of the
		// warm-up.
		ledgerBefore, ledgerErr = readLedgerCounts(ctx, client, url)
		if pid == 0 {
			return nil
		}
		u, err := readUsage(pid)
		before.cpu = u.cpu
		return err
	})
	peakAnon := stopWatch()
	if err != nil {
		return nil, err
	}
	if ledgerErr == nil {
		var ledgerAfter ledgerCounts
		// Also after Ctrl-C, which ended ctx: the report still comes.
		ledgerAfter, ledgerErr = readLedgerCounts(context.WithoutCancel(ctx), client, url)
		res.setLedger(ledgerBefore, ledgerAfter, stats.elapsed)
	}
	if ledgerErr != nil {
		logger.Warn("the service's ledger figures are left out", "err", ledgerErr)
	}
	if pid != 0 {
		after, err := readUsage(pid)
		if err != nil {
			return nil, err
		}
		res.PeakRSSBytes = after.mem.peak
		res.PeakAnonBytes = peakAnon
		res.CPUSeconds = (after.cpu - before.cpu).Seconds()
		if stats.sent > 0 {
			res.CPUPerNotificationMS = res.CPUSeconds * 1000 / float64(stats.sent)
		}
	}
	return res, nil
}

// newResult is the report of a run of o before it runs.
func newResult(o options) *result {
	res := &result{
		Concurrency:           o.concurrency,
		Rate:                  o.rate,
		AlertsPerNotification: o.alerts,
		Recipients:            o.recipients,
		CPUs:                  runtime.NumCPU(),
		LoadAverage:           loadAverage(),
		SipgateHTTP2:          o.sipgateHTTP2,
		Limits:                o.limits,
		LedgerSends:           o.ledgerSends,
	}
	if o.target == "" {
		res.ServiceBinary = o.serviceBinary
		if res.ServiceBinary == "" {
			res.ServiceBinary = "built from ./cmd/alertmanager-sipgate"
		}
	}
	return res
}

// serviceUnderLoad returns the URL of the service to load and its process
// id, 0 when unknown: a service it starts in work, which stop stops, or
// o.target once it is ready (stop does nothing then).
func serviceUnderLoad(ctx context.Context, o options, work string, fake *fakeSipgate, logger *slog.Logger) (url string, pid int, stop func(), err error) {
	if o.target != "" {
		if ready, err := isReady(ctx, &http.Client{Timeout: 5 * time.Second}, strings.TrimSuffix(o.target, "/")+"/-/ready"); !ready {
			return "", 0, nil, fmt.Errorf("the target is not ready: %w", err)
		}
		return o.target, o.pid, func() {}, nil
	}
	svc, err := startOwnService(ctx, o, work, fake, logger)
	if err != nil {
		return "", 0, nil, err
	}
	stop = func() {
		if err := svc.stop(); err != nil {
			logger.Warn("service stopped", "err", err, "log", svc.logTail())
		}
	}
	return "http://" + svc.addr, svc.pid(), stop, nil
}

// usage is what a process has used up to a moment.
type usage struct {
	mem memory
	cpu time.Duration
}

func readUsage(pid int) (usage, error) {
	mem, err := readMemory(pid)
	if err != nil {
		return usage{}, err
	}
	cpu, err := readCPU(pid)
	if err != nil {
		return usage{}, err
	}
	return usage{mem: mem, cpu: cpu}, nil
}

// loadClient is the HTTP client that posts the notifications.
func loadClient(concurrency int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			// Keep a connection per worker, as Alertmanager keeps its
			// connections to a webhook.
			MaxIdleConnsPerHost: concurrency,
			IdleConnTimeout:     time.Minute,
		},
		// Far above the service's webhook.timeout: a request still open
		// then is stuck.
		Timeout: time.Minute,
	}
}

// runLoad posts o's notifications to the service at url with client,
// after o.warmup of the same load (then warmedUp is called), and puts into
// res what came of them: the answers and their latency, the SMS the fake
// counted against those expected, and this tool's own CPU time.
func runLoad(ctx context.Context, o options, url string, client *http.Client, fake *fakeSipgate, res *result, logger *slog.Logger, warmedUp func() error) (loadStats, error) {
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	lo := loadOptions{
		url:           strings.TrimSuffix(url, "/") + "/api/v1/alerts",
		username:      webhookUser,
		password:      webhookPass,
		concurrency:   o.concurrency,
		rate:          o.rate,
		notifications: o.notifications,
		duration:      o.duration,
		client:        client,
	}
	var warm loadStats
	if o.warmup > 0 {
		// Groups of their own, so that the measured run pages anew.
		wo := lo
		wo.notifications, wo.duration = 0, o.warmup
		var err error
		if wo.payloads, err = newPayloads(run+"-warmup", o.alerts); err != nil {
			return loadStats{}, err
		}
		logger.Info("warming up", "target", url, "duration", o.warmup, "concurrency", o.concurrency, "rate", o.rate)
		warm = load(ctx, wo)
		res.setWarmup(warm)
		if warm.stopped == stoppedInterrupted {
			// Nothing measured: the report says so, with the warm-up's
			// figures.
			stats := loadStats{other: map[int]int{}, stopped: stoppedInterrupted}
			res.SMSCounted = len(fake.Messages())
			res.SMSExpected = warm.ok * o.recipients
			res.setLoad(stats)
			return stats, nil
		}
	}
	if err := warmedUp(); err != nil {
		return loadStats{}, err
	}
	var err error
	if lo.payloads, err = newPayloads(run, o.alerts); err != nil {
		return loadStats{}, err
	}
	ownBefore, ownErr := readCPU(os.Getpid())
	logger.Info("loading", "target", url, "notifications", o.notifications, "duration", o.duration, "concurrency", o.concurrency, "rate", o.rate, "run", run)
	stats := load(ctx, lo)
	// Counted as the last answer came: the service answers 200 only once
	// sipgate took the SMS, so nothing may be missing now.
	res.SMSCounted = len(fake.Messages())
	res.SMSExpected = (warm.ok + stats.ok) * o.recipients
	res.setLoad(stats)
	// This tool and the fake sipgate share the machine with the service:
	// what they take is not the service's, but it is not free either.
	if ownAfter, err := readCPU(os.Getpid()); err == nil && ownErr == nil && stats.sent > 0 {
		res.LoadgenCPUPerNotificationMS = (ownAfter - ownBefore).Seconds() * 1000 / float64(stats.sent)
	}
	return stats, nil
}

// prepareStorage returns the service's storage directory, --storage or
// "data" in dir, the directory of its config, with its ledger filled with
// --ledger-sends.
func prepareStorage(ctx context.Context, o options, dir string, logger *slog.Logger) (string, error) {
	storage := o.storage
	if storage == "" {
		storage = filepath.Join(dir, "data")
	}
	if o.ledgerSends > 0 {
		logger.Info("filling the ledger", "sends", o.ledgerSends)
		began := time.Now()
		if err := fillLedger(ctx, filepath.Join(storage, ledger.FileName), o.ledgerSends, began, o.limits); err != nil {
			return "", err
		}
		logger.Info("ledger filled", "took", time.Since(began).Round(time.Millisecond))
	}
	return storage, nil
}

// startOwnService writes the config and certificate into work and starts
// the service on them, built unless o names a binary.
func startOwnService(ctx context.Context, o options, work string, fake *fakeSipgate, logger *slog.Logger) (*service, error) {
	bin := o.serviceBinary
	if bin == "" {
		logger.Info("building the service")
		var err error
		if bin, err = buildService(ctx, work); err != nil {
			return nil, err
		}
	}
	configFile, certFile, err := writeSetup(work, fake, o)
	if err != nil {
		return nil, err
	}
	storage, err := prepareStorage(ctx, o, work, logger)
	if err != nil {
		return nil, err
	}
	svc, err := startService(ctx, bin, configFile, certFile, storage, o.serviceLogLevel, filepath.Join(work, "service.log"))
	if err != nil {
		return nil, err
	}
	logger.Info("service ready", "addr", svc.addr, "pid", svc.pid())
	return svc, nil
}
