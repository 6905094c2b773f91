// Command alertmanager-sipgate receives Alertmanager webhooks and pages the
// on-call people they concern by SMS through sipgate. Its subcommands
// check a config, preview the SMS a payload would produce, send a test
// SMS and tell who is on call; flags alone run the service (serve).
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"

	// The tz template function needs the zone database in scratch images.
	_ "time/tzdata"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
)

const name = "alertmanager-sipgate"

func main() {
	if limit, ok := memoryLimit(os.LookupEnv); ok {
		debug.SetMemoryLimit(limit)
	}
	os.Exit(run(os.Args[1:]))
}

// cli is what a command runs with: where it reads and writes, and the
// logger of the --log flags. Tests give it buffers.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	logger         *slog.Logger
}

// action runs a command once its flags are parsed and returns the exit
// code: 0 done, 1 failed, as the command says.
type action func(*cli) int

// commands are the subcommands of the binary. Each registers itself, its
// flags and arguments on the app and returns what to run when it is
// chosen; adding a command is adding its line here.
func commands() []func(*kingpin.Application) (*kingpin.CmdClause, action) {
	return []func(*kingpin.Application) (*kingpin.CmdClause, action){
		serveCommand, // the default: flags alone run the service
		checkConfigCommand,
		renderCommand,
		sendTestCommand,
		oncallCommand,
	}
}

func run(args []string) int {
	return runCLI(args, &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr})
}

// defaultMemoryLimit is the Go runtime's soft memory limit unless
// GOMEMLIMIT sets one. The live heap is a few MB, and the limit then does
// nothing; in a storm of large webhooks (8 of 4 MiB of the smallest alerts
// hold about 120 MB while they are paged) the collector's default of
// twice the live heap took the process to 249-292 MB, close to the 300 MB
// the service promises. Near the limit the collector runs more often
// instead, with at most half the CPU, and the heap may still pass it when
// more is live: a limit is no reason to fail.
const defaultMemoryLimit = 200 << 20

// memoryLimit is the soft memory limit to set: the default, unless the
// GOMEMLIMIT environment variable (which the runtime reads itself, "off"
// included) says otherwise. An empty one, as a template leaves a value
// not given, says nothing.
func memoryLimit(lookupEnv func(string) (string, bool)) (int64, bool) {
	if v, set := lookupEnv("GOMEMLIMIT"); set && v != "" {
		return 0, false
	}
	return defaultMemoryLimit, true
}

// runCLI parses args into a command and runs it. Exit codes: 2 for a
// command line that does not parse, else the command's.
func runCLI(args []string, c *cli) int {
	if version.Version == "" {
		// Not built with the release ldflags: say what the module knows.
		version.Version = "devel"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version.Version = bi.Main.Version
		}
	}
	app := kingpin.New(name, "Pages on-call staff by SMS through sipgate for Alertmanager notifications.")
	app.UsageWriter(c.stdout).ErrorWriter(c.stderr)
	logConfig := &promslog.Config{}
	promslogflag.AddFlags(app, logConfig)
	app.Version(version.Print(name))
	app.HelpFlag.Short('h')
	actions := map[string]action{}
	for _, register := range commands() {
		cmd, act := register(app)
		actions[cmd.FullCommand()] = act
	}
	chosen, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(c.stderr, "%s: %v\n", name, err)
		return 2
	}
	logConfig.Writer = c.stderr
	c.logger = promslog.New(logConfig)
	return actions[chosen](c)
}

// loadConfig loads the config file, or the embedded default without one.
func loadConfig(file string, opts ...config.LoadOption) (*config.Config, error) {
	if file == "" {
		return config.Parse(config.DefaultFile, embeddedConfig, opts...)
	}
	return config.Load(file, opts...)
}

// embeddedConfig names the embedded default config in messages.
const embeddedConfig = "<embedded default config>"

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
