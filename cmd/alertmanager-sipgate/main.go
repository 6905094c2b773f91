// Command alertmanager-sipgate receives Alertmanager webhooks and pages the
// on-call people they concern by SMS through sipgate.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	webflag "github.com/prometheus/exporter-toolkit/web/kingpinflag"

	// The tz template function needs the zone database in scratch images.
	_ "time/tzdata"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/delivery"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/pager"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/receiver"
)

const name = "alertmanager-sipgate"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if version.Version == "" {
		// Not built with the release ldflags: say what the module knows.
		version.Version = "devel"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version.Version = bi.Main.Version
		}
	}
	app := kingpin.New(name, "Pages on-call staff by SMS through sipgate for Alertmanager notifications.")
	configFile := app.Flag("config.file", "Configuration file; without it, an embedded dry-run config that logs the SMS it would send.").String()
	checkConfig := app.Flag("config.check", "Validate the configuration, print it with defaults filled in and secrets hidden, and exit.").Bool()
	storagePath := app.Flag("storage.path", "Directory of the delivery ledger.").Default("data/").String()
	webConfig := webflag.AddFlags(app, ":9876")
	logConfig := &promslog.Config{}
	promslogflag.AddFlags(app, logConfig)
	app.Version(version.Print(name))
	app.HelpFlag.Short('h')
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 2
	}
	logger := promslog.New(logConfig)

	cfg, err := loadConfig(*configFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if *checkConfig {
		fmt.Print(cfg)
		return 0
	}
	logger.Info("starting "+name, "version", version.Info(), "build_context", version.BuildContext(), "config", cfg.File)
	if cfg.Sipgate.DryRun {
		logger.Warn("dry run: SMS are logged, not sent")
	} else if cfg.Webhook.BearerToken == "" && cfg.Webhook.BasicAuth == nil {
		logger.Warn("the webhook needs no credentials: anyone who reaches it can send paid SMS; set webhook.basic_auth or webhook.bearer_token")
	}
	if err := serve(cfg, *configFile, *storagePath, webConfig, logger); err != nil {
		logger.Error("stopped", "err", err)
		return 1
	}
	return 0
}

func loadConfig(file string) (*config.Config, error) {
	if file == "" {
		return config.Parse(config.DefaultFile, "<embedded default config>")
	}
	return config.Load(file)
}

// serve wires the service together and runs it until SIGTERM or SIGINT.
func serve(cfg *config.Config, configFile, storagePath string, webConfig *web.FlagConfig, logger *slog.Logger) error {
	// SIGHUP reloads; caught from the start so that one arriving early or
	// during shutdown cannot end the process, whose default it is.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector("alertmanager_sipgate"),
	)
	m := metrics.New(reg)

	led, err := ledger.Open(filepath.Join(storagePath, "ledger.db"), ledger.Options{
		DedupWindow:    time.Duration(cfg.Delivery.DedupWindow),
		PagedRetention: pagedRetention,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := led.Close(); err != nil {
			logger.Error("close ledger", "err", err)
		}
	}()
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "alertmanager_sipgate_ledger_entries",
		Help: "Entries in the delivery ledger, expired ones not yet purged included.",
	}, func() float64 { return float64(led.Len()) }))

	var sender delivery.Sender = delivery.LogSender{Logger: logger}
	if !cfg.Sipgate.DryRun {
		user, password := cfg.Sipgate.Credentials()
		sender = sipgate.New(sipgate.Options{
			BaseURL:    cfg.Sipgate.URL,
			SMSID:      cfg.Sipgate.SMSID,
			Username:   user,
			Password:   password.Value(),
			HTTPClient: &http.Client{Timeout: time.Duration(cfg.Sipgate.Timeout)},
			UserAgent:  name + "/" + version.Version,
			Duration:   m.SipgateDuration,
		})
	}
	deliverer := delivery.New(delivery.Options{
		Sender:      sender,
		Ledger:      led,
		Metrics:     m,
		Logger:      logger,
		Concurrency: cfg.Delivery.Concurrency,
	})
	opts := receiver.Options{
		MaxBodyBytes: cfg.Webhook.MaxBodyBytes,
		Timeout:      time.Duration(cfg.Webhook.Timeout),
		BearerToken:  cfg.Webhook.BearerToken.Value(),
		Metrics:      m,
		Logger:       logger,
	}
	if ba := cfg.Webhook.BasicAuth; ba != nil {
		opts.BasicAuthUsername, opts.BasicAuthPassword = ba.Username, ba.Password.Value()
	}
	pagers := newReloader(configFile, cfg, func(c *config.Config) *pager.Pager {
		return pager.New(c, deliverer, led, m, logger)
	}, reg, logger)
	webhook := receiver.New(pagers, opts)

	var ready atomic.Bool
	mux := http.NewServeMux()
	mux.Handle("/api/v1/alerts", webhook)
	mux.Handle("/api/v1/alerts/", webhook)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Healthy")
	})
	mux.HandleFunc("POST /-/reload", pagers.serveReload)
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "Not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Ready")
	})
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        name,
		Description: "Alertmanager webhook receiver that pages by SMS through sipgate",
		Version:     version.Info(),
		Links: []web.LandingLinks{
			{Address: "/metrics", Text: "Metrics"},
			{Address: "/-/healthy", Text: "Health"},
			{Address: "/-/ready", Text: "Readiness"},
		},
	})
	if err != nil {
		return fmt.Errorf("landing page: %w", err)
	}
	mux.Handle("/", landing)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var loops sync.WaitGroup
	loops.Go(func() {
		every(ctx, time.Minute, func() {
			if n, err := led.Purge(longestWindow(pagers.Limits())); err != nil {
				logger.Error("purge ledger", "err", err)
			} else if n > 0 {
				logger.Debug("purged ledger", "entries", n)
			}
		})
	})
	loops.Go(func() {
		every(ctx, time.Duration(cfg.Limits.DigestCheck), func() {
			if err := deliverer.SendDigests(ctx, time.Duration(cfg.Webhook.Timeout), pagers.Limits()); err != nil {
				logger.Error("send digests", "err", err)
			}
		})
	})
	loops.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				// Reload logs its own failure; the running config stays.
				_ = pagers.Reload()
			}
		}
	})
	// The loops must be gone before the deferred close of the ledger.
	defer func() { stop(); loops.Wait() }()

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- web.ListenAndServe(srv, webConfig, logger) }()
	ready.Store(true)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	ready.Store(false)
	logger.Info("shutting down: finishing in-flight notifications")
	// In-flight notifications end within the webhook timeout; allow that.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.Webhook.Timeout)+5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// pagedRetention is how long the ledger remembers which alerts reached
// whom, so that send_resolved: if_paged works for alerts that fire this long.
const pagedRetention = 30 * 24 * time.Hour

// every calls f every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}
