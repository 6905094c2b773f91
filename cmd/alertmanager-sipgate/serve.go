package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/account"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/breaker"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/delivery"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/oncall"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/pager"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/status"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/receiver"
)

// app is the running service: the parts built once from the config it
// started with, and the HTTP routes and background loops that use them.
type app struct {
	// cfg is the config started with: the sections a reload cannot change
	// (sipgate, webhook, delivery, limits.digest_check) come from it.
	cfg       *config.Config
	logger    *slog.Logger
	reg       *prometheus.Registry
	metrics   *metrics.Metrics
	ledger    *ledger.Ledger
	deliverer *delivery.Deliverer
	pagers    *reloader
	// account checks the sipgate account in the background; its State is
	// what the checks found, or why there are none (a dry run).
	account *account.Checker
	// recent are the last deliveries, for the status page.
	recent *status.Recent
	// ready is false until the listener runs and again once shutdown began.
	ready atomic.Bool
}

// newApp opens the ledger and builds the parts; close releases them.
func newApp(cfg *config.Config, configFile, storagePath string, logger *slog.Logger) (*app, error) {
	reg := metrics.NewRegistry()
	m := metrics.New(reg)
	ledgerPath := filepath.Join(storagePath, ledger.FileName)
	led, err := ledger.Open(ledgerPath, ledger.Options{
		DedupWindow:    time.Duration(cfg.Delivery.DedupWindow),
		PagedRetention: pagedRetention,
		Committed:      m.LedgerCommitted,
	})
	if err != nil {
		return nil, err
	}
	if led.StoppedUncleanly() {
		logger.Warn("the ledger was not closed cleanly at the last stop (a crash, a kill or a power loss, say): its free list was rebuilt from every page", "path", ledgerPath)
	}
	metrics.RegisterLedgerEntries(reg, led.Len)
	metrics.RegisterDigestsOwed(reg, func() (int, time.Time) { return owedDigests(led, logger) })
	metrics.RegisterDeferredHeld(reg, func() int { return heldSMS(led, logger) })
	// Every notification in flight may send delivery.concurrency SMS at once.
	sender, history := newSender(cfg.Sipgate, cfg.Delivery.Concurrency*cfg.Webhook.MaxInFlight, m, logger)
	// One breaker for all sends: what one learns of sipgate holds for all.
	br := breaker.New(breaker.Options{
		ProbeTimeout: time.Duration(cfg.Sipgate.Timeout) + 5*time.Second,
		Logger:       logger,
	})
	metrics.RegisterBreaker(reg, br.Stats)
	recent := status.NewRecent(status.RecentDeliveries)
	// The digests tell times in the current config's zone; the reloader
	// is made below, before any digest goes out.
	var pagers *reloader
	deliverer := delivery.New(delivery.Options{
		Sender:        sender,
		History:       history,
		Breaker:       br,
		Ledger:        led,
		Metrics:       m,
		Logger:        logger,
		Concurrency:   cfg.Delivery.Concurrency,
		SettleAfter:   time.Duration(cfg.Delivery.SettleAfter),
		ResendUnknown: cfg.Delivery.ResendUnknown,
		Location:      func() *time.Location { return pagers.Config().Location },
		Observe:       recent.Observe,
	})
	pagers, err = newReloader(configFile, cfg, func(c *config.Config) (*pager.Pager, error) {
		return pager.New(c, deliverer, led, m, logger)
	}, m, logger)
	if err != nil {
		led.Close()
		return nil, err
	}
	// Who is on call, worked out at each scrape from the current config.
	reg.MustRegister(oncall.NewCollector(pagers.Config, time.Now))
	acct, err := newAccountChecker(cfg.Sipgate, reg, logger)
	if err != nil {
		led.Close()
		return nil, err
	}
	return &app{cfg: cfg, logger: logger, reg: reg, metrics: m, ledger: led, deliverer: deliverer, pagers: pagers, account: acct, recent: recent}, nil
}

// owedDigests says how many people the ledger owes a digest and since when
// the longest owed one is owed. A failed read is logged and reported as
// nothing owed: a scrape cannot carry the error.
func owedDigests(led *ledger.Ledger, logger *slog.Logger) (int, time.Time) {
	owed, err := led.Outstanding()
	if err != nil {
		logger.Warn("read owed digests for /metrics", "err", err)
		return 0, time.Time{}
	}
	var oldest time.Time
	for _, s := range owed {
		if oldest.IsZero() || s.Since.Before(oldest) {
			oldest = s.Since
		}
	}
	return len(owed), oldest
}

// heldSMS says how many SMS quiet hours hold. A failed read is logged and
// reported as none: a scrape cannot carry the error.
func heldSMS(led *ledger.Ledger, logger *slog.Logger) int {
	n, _, err := led.HeldCount()
	if err != nil {
		logger.Warn("read held sms for /metrics", "err", err)
		return 0
	}
	return n
}

// newSender is the sipgate client, which also reads the history that
// settles sends of unknown outcome, or in a dry run a sender that logs and
// no history.
func newSender(s config.Sipgate, conns int, m *metrics.Metrics, logger *slog.Logger) (delivery.Sender, delivery.History) {
	if s.DryRun {
		return delivery.LogSender{Logger: logger}, nil
	}
	client := newSipgateClient(s, conns, m.SipgateDuration)
	return client, client
}

func (a *app) close() {
	if err := a.ledger.Close(); err != nil {
		a.logger.Error("close ledger", "err", err)
	}
}

// routes is the HTTP API: the webhook, the render preview, /metrics,
// health, reload, the profiles under /debug/pprof/ and the status page.
func (a *app) routes() (http.Handler, error) {
	opts := receiver.Options{
		MaxBodyBytes:      a.cfg.Webhook.MaxBodyBytes,
		Timeout:           time.Duration(a.cfg.Webhook.Timeout),
		MaxInFlight:       a.cfg.Webhook.MaxInFlight,
		MaxAlerts:         a.cfg.Webhook.MaxAlerts,
		MaxAlertsInFlight: a.cfg.Webhook.MaxAlertsInFlight,
		ReceiverName:      a.pagers.ReceiverName,
		BearerToken:       a.cfg.Webhook.BearerToken.Value(),
		Metrics:           a.metrics,
		Logger:            a.logger,
	}
	if ba := a.cfg.Webhook.BasicAuth; ba != nil {
		opts.BasicAuthUsername, opts.BasicAuthPassword = ba.Username, ba.Password.Value()
	}
	webhook := receiver.New(a.pagers, opts)
	metrics.RegisterWebhooksInFlight(a.reg, webhook.NotificationsInFlight, webhook.AlertsInFlight)
	page, err := a.statusPage()
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/alerts", webhook)
	mux.Handle("/api/v1/alerts/", webhook)
	mux.Handle("POST /api/v1/render", a.renderHandler())
	mux.Handle("GET /api/v1/oncall", oncall.Handler(a.pagers.Config, time.Now))
	mux.Handle("/metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg}))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Healthy")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !a.ready.Load() {
			http.Error(w, "Not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Ready")
	})
	mux.HandleFunc("POST /-/reload", a.pagers.serveReload)
	// Profiles, as Prometheus and Alertmanager serve them: behind the same
	// --web.config.file auth as the rest, which wraps this whole mux. A
	// CPU profile or trace must ask for fewer seconds than the server's
	// write timeout (webhook.timeout*2+5s), or pprof refuses it.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// The status page; its preview form posts to it. Other paths are 404.
	mux.Handle("/{$}", page)
	return mux, nil
}

// startLoops starts the background loops: purging the ledger, sending
// digests and what quiet hours held, checking the sipgate account, and
// reloading on SIGHUP. They stop when ctx ends; wait for them with the
// WaitGroup before closing what they use.
func (a *app) startLoops(ctx context.Context, hup <-chan os.Signal) *sync.WaitGroup {
	var loops sync.WaitGroup
	loops.Go(func() {
		every(ctx, time.Minute, func() {
			if n, err := a.ledger.Purge(longestWindow(a.pagers.Limits())); err != nil {
				a.logger.Error("purge ledger", "err", err)
			} else if n > 0 {
				a.logger.Debug("purged ledger", "entries", n)
			}
		})
	})
	loops.Go(func() {
		every(ctx, time.Duration(a.cfg.Limits.DigestCheck), func() {
			if err := a.deliverer.SendDigests(ctx, time.Duration(a.cfg.Webhook.Timeout), a.pagers.Limits()); err != nil {
				a.logger.Error("send digests", "err", err)
			}
		})
	})
	// What quiet hours held goes out once they ended, checked as often.
	loops.Go(func() {
		every(ctx, time.Duration(a.cfg.Limits.DigestCheck), func() {
			if err := a.deliverer.SendHeld(ctx, time.Duration(a.cfg.Webhook.Timeout), a.pagers.Limits()); err != nil {
				a.logger.Error("send sms held for quiet hours", "err", err)
			}
		})
	})
	// The account is checked at once and then every interval; a failure
	// is logged and shown in the metrics, and leaves /-/ready alone:
	// readiness is about this service, not sipgate.
	loops.Go(func() { a.account.Every(ctx, time.Duration(a.cfg.Sipgate.AccountCheckInterval)) })
	loops.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				// Reload logs its own failure; the running config stays.
				_ = a.pagers.Reload()
			}
		}
	})
	return &loops
}

// serve runs the service until SIGTERM or SIGINT.
func serve(cfg *config.Config, configFile, storagePath string, webConfig *web.FlagConfig, logger *slog.Logger) error {
	// SIGHUP reloads; caught from the start so that one arriving early or
	// during shutdown cannot end the process, whose default it is.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	a, err := newApp(cfg, configFile, storagePath, logger)
	if err != nil {
		return err
	}
	defer a.close()
	handler, err := a.routes()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	loops := a.startLoops(ctx, hup)
	// The loops must be gone before the deferred close of the ledger.
	defer func() { stop(); loops.Wait() }()
	return a.listen(ctx, handler, webConfig)
}

// serverTimeouts bound how long a client may hold a connection, derived
// from webhook.timeout (t), the longest the paging of one notification
// may take:
//
//   - ReadHeaderTimeout, min(t, 5s), for the request line and headers. A
//     silent client is gone after it; an unauthenticated one too, as its
//     401 goes out right after the headers and closes the connection
//     without reading the body.
//   - ReadTimeout, t, for the whole request, body included: a client
//     slower to send a notification than we may take to page it is cut
//     off (503, which Alertmanager retries, or just closed).
//   - WriteTimeout, ReadTimeout + t + 5s, from the end of the headers to
//     the end of the answer: reading the body, paging, and a grace for
//     writing the one-line answer, so that it never cuts off an answer
//     that paging has earned.
//   - IdleTimeout, 1m, for a kept-alive connection between requests:
//     long enough for Alertmanager to reuse it across a burst of
//     notifications; it is not tied to t.
func serverTimeouts(t time.Duration) timeouts {
	read := t
	return timeouts{
		readHeader: min(t, 5*time.Second),
		read:       read,
		write:      read + t + 5*time.Second,
		idle:       time.Minute,
	}
}

// timeouts are those of an http.Server.
type timeouts struct {
	readHeader, read, write, idle time.Duration
}

// newServer is the HTTP server of handler with these timeouts.
func newServer(handler http.Handler, t timeouts) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: t.readHeader,
		ReadTimeout:       t.read,
		WriteTimeout:      t.write,
		IdleTimeout:       t.idle,
	}
}

// listen serves HTTP until ctx ends, then lets in-flight notifications
// finish.
func (a *app) listen(ctx context.Context, handler http.Handler, webConfig *web.FlagConfig) error {
	t := serverTimeouts(time.Duration(a.cfg.Webhook.Timeout))
	srv := newServer(handler, t)
	served := make(chan error, 1)
	go func() { served <- web.ListenAndServe(srv, webConfig, a.logger) }()
	a.ready.Store(true)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.ready.Store(false)
	a.logger.Info("shutting down: finishing in-flight notifications")
	// Every answer is written within the write timeout; allow that.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), t.write)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	a.logger.Info("stopped")
	return nil
}
