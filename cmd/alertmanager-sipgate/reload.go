package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/delivery"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/pager"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/receiver"
)

// reloader serves notifications with the pager of the current config and
// builds a new one on reload. A config is never changed in place: a reload
// swaps one immutable pager for another, and a config that fails to load
// leaves the running one as it was.
type reloader struct {
	file    string
	build   func(*config.Config) (*pager.Pager, error)
	metrics *metrics.Metrics
	logger  *slog.Logger
	// started is the config the service started with: the sections a
	// reload cannot change stay as they are in it.
	started *config.Config

	mu      sync.Mutex // one reload at a time
	current atomic.Pointer[serving]
}

// serving is what one config serves with, swapped whole on reload so that
// no reader sees the pager of one config with the routes of another.
type serving struct {
	pager  *pager.Pager
	config *config.Config
	// receivers are the receiver names of the config's routes.
	receivers receiver.Receivers
}

func newReloader(file string, cfg *config.Config, build func(*config.Config) (*pager.Pager, error), m *metrics.Metrics, logger *slog.Logger) (*reloader, error) {
	r := &reloader{file: file, build: build, metrics: m, logger: logger, started: cfg}
	if err := r.swap(cfg); err != nil {
		return nil, err
	}
	return r, nil
}

// swap builds the pager of cfg and serves with it from now on.
func (r *reloader) swap(cfg *config.Config) error {
	p, err := r.build(cfg)
	if err != nil {
		return err
	}
	var names []string
	for _, route := range cfg.Routes {
		names = append(names, route.Receiver)
	}
	r.current.Store(&serving{pager: p, config: cfg, receivers: receiver.NewReceivers(names...)})
	r.metrics.ReloadSuccessful.Set(1)
	r.metrics.ReloadSuccessSeconds.SetToCurrentTime()
	return nil
}

// Notify implements receiver.Notifier with the current config.
func (r *reloader) Notify(ctx context.Context, n *notification.Notification, route string) error {
	return r.current.Load().pager.Notify(ctx, n, route)
}

// Config is the current config: what /api/v1/oncall and the oncall gauge
// list, so that a reload shows at once.
func (r *reloader) Config() *config.Config {
	return r.current.Load().config
}

// ReceiverName is receiver.Options.ReceiverName with the current config:
// the receivers its routes name are the values of the receiver label.
func (r *reloader) ReceiverName(name string) (string, bool) {
	return r.current.Load().receivers.Name(name)
}

// Limits are the flood limits of the current config.
func (r *reloader) Limits() delivery.Limits {
	return r.current.Load().pager.Limits()
}

// Reload reads the config file again, and logs why when it fails. Routes,
// contacts, groups, templates, SMS settings, limits and time_zone take
// effect at once;
// changes to the sipgate, webhook and delivery sections and to
// limits.digest_check need a restart and are logged as such: the new
// config keeps those as started. The embedded config has nothing to
// reload.
func (r *reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.file == "" {
		r.logger.Info("config reload: the embedded config has no file to read again")
		return nil
	}
	cfg, err := config.Load(r.file)
	if err != nil {
		return r.failed(err)
	}
	logWarnings(r.logger, cfg)
	for name, same := range map[string]bool{
		"sipgate":             reflect.DeepEqual(r.started.Sipgate, cfg.Sipgate),
		"webhook":             reflect.DeepEqual(r.started.Webhook, cfg.Webhook),
		"delivery":            reflect.DeepEqual(r.started.Delivery, cfg.Delivery),
		"limits.digest_check": r.started.Limits.DigestCheck == cfg.Limits.DigestCheck,
	} {
		if !same {
			r.logger.Warn("config differs from the one started with where only a restart applies it", "section", name)
		}
	}
	// Those stay as started in the config the pager decides by, as in the
	// ledger and the deliverer: a pager on a lowered dedup_window took a
	// retry that the ledger still caught for a repeat, and paged again.
	cfg.Sipgate, cfg.Webhook, cfg.Delivery = r.started.Sipgate, r.started.Webhook, r.started.Delivery
	cfg.Limits.DigestCheck = r.started.Limits.DigestCheck
	// And so do their warnings, which the status page shows: not the
	// file's, of a dry run, say, that is not in use.
	cfg.Warnings = append(slices.DeleteFunc(cfg.Warnings, func(w string) bool { return restartOnly(cfg.File, w) }),
		slices.DeleteFunc(slices.Clone(r.started.Warnings), func(w string) bool { return !restartOnly(r.started.File, w) })...)
	old := r.Config()
	if err := r.swap(cfg); err != nil {
		return r.failed(err)
	}
	r.logger.Info("config reloaded", "file", r.file)
	logOnCallChanges(r.logger, old, cfg, time.Now())
	return nil
}

// logOnCallChanges warns of each schedule whose people on call at now a
// reload changed. A layer's shifts are dealt from its start, so adding or
// removing a member re-deals them all, the one under way included: the
// person who was on call and the one who now is should hear of it.
func logOnCallChanges(logger *slog.Logger, old, cfg *config.Config, now time.Time) {
	for _, name := range cfg.ScheduleNames() {
		was, ok := old.OnCallAt(name, now)
		if !ok {
			continue
		}
		if is, _ := cfg.OnCallAt(name, now); !slices.Equal(was.Contacts, is.Contacts) {
			logger.Warn("config reload changed who is on call now", "schedule", name,
				"was", strings.Join(was.Contacts, ","), "is", strings.Join(is.Contacts, ","))
		}
	}
}

// restartOnly says whether a warning of the config loaded from file is
// about a part that only a restart applies (see Reload).
func restartOnly(file, warning string) bool {
	path := strings.TrimPrefix(warning, file+": ")
	for _, part := range []string{"sipgate", "webhook", "delivery", "limits.digest_check"} {
		if strings.HasPrefix(path, part+".") || strings.HasPrefix(path, part+":") {
			return true
		}
	}
	return false
}

func (r *reloader) failed(err error) error {
	r.metrics.ReloadSuccessful.Set(0)
	r.logger.Error("config reload failed, the running config stays", "err", err)
	return fmt.Errorf("reload: %w", err)
}

// serveReload is POST /-/reload, as in Alertmanager and Prometheus.
func (r *reloader) serveReload(w http.ResponseWriter, _ *http.Request) {
	if err := r.Reload(); err != nil {
		// The reason stays in the log: the endpoint may be open to more
		// people than the config is.
		http.Error(w, "config reload failed, the running config stays: see the log", http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "config reloaded")
}

// longestWindow is how long sends must be remembered for the limits.
func longestWindow(l delivery.Limits) time.Duration {
	longest := max(24*time.Hour, l.Budget.Per)
	for _, w := range l.PerRecipient {
		longest = max(longest, w.Per)
	}
	return longest
}
