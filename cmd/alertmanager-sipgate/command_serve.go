package main

import (
	"fmt"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"
	webflag "github.com/prometheus/exporter-toolkit/web/kingpinflag"
)

// serveCommand is the service itself, and the default command: the binary
// started with flags alone, as the Dockerfile and every deployment before
// the subcommands did, serves.
func serveCommand(app *kingpin.Application) (*kingpin.CmdClause, action) {
	cmd := app.Command("serve", "Run the service (the default command).").Default()
	configFile := cmd.Flag("config.file", "Configuration file; without it, an embedded dry-run config that logs the SMS it would send.").String()
	checkConfig := cmd.Flag("config.check", "Validate the configuration as the service would load it here (secret files included), print it with defaults filled in and secrets hidden, and exit. To check a config away from where it runs, use check-config.").Bool()
	storagePath := cmd.Flag("storage.path", "Directory of the delivery ledger.").Default("data/").String()
	webConfig := webflag.AddFlags(cmd, ":9876")
	return cmd, func(c *cli) int {
		cfg, err := loadConfig(*configFile)
		if err != nil {
			fmt.Fprintln(c.stderr, err)
			return 1
		}
		if *checkConfig {
			for _, w := range cfg.Warnings {
				fmt.Fprintln(c.stderr, "warning:", w)
			}
			fmt.Fprint(c.stdout, cfg)
			return 0
		}
		logger := c.logger
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
}
