// Command alertmanager-sipgate receives Alertmanager webhooks and pages the
// on-call people they concern by SMS through sipgate.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	webflag "github.com/prometheus/exporter-toolkit/web/kingpinflag"

	// The tz template function needs the zone database in scratch images.
	_ "time/tzdata"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
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
		for _, w := range cfg.Warnings {
			fmt.Fprintln(os.Stderr, "warning:", w)
		}
		fmt.Print(cfg)
		return 0
	}
	logger.Info("starting "+name, "version", version.Info(), "build_context", version.BuildContext(), "config", cfg.File)
	logWarnings(logger, cfg)
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

// logWarnings logs what in the config works but should change, such as a
// deprecated setting.
func logWarnings(logger *slog.Logger, cfg *config.Config) {
	for _, w := range cfg.Warnings {
		logger.Warn("config warning", "warning", w)
	}
}
