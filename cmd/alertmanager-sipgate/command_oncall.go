package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/oncall"
)

// oncallCommand prints who is on call in the schedules of a config and who
// comes next, as GET /api/v1/oncall lists them, as a table for a person,
// without starting the service. Secret files that are missing are
// warnings, as for check-config: the question is about people, not about
// sipgate.
func oncallCommand(app *kingpin.Application) (*kingpin.CmdClause, action) {
	cmd := app.Command("oncall", "Print who is on call in each schedule of the config, and the next hand-offs, as GET /api/v1/oncall lists them.")
	file := cmd.Flag("config.file", "Configuration file.").Required().String()
	at := cmd.Flag("at", "The time to ask about, RFC 3339 (2024-12-24T12:00:00+01:00); now unless set.").String()
	only := cmd.Flag("schedule", "Only this schedule.").String()
	return cmd, func(c *cli) int {
		when := time.Now()
		if *at != "" {
			t, err := time.Parse(time.RFC3339Nano, *at)
			if err != nil {
				fmt.Fprintf(c.stderr, "%s: --at: want an RFC 3339 time such as 2024-12-24T12:00:00+01:00\n", name)
				return 2
			}
			when = t
		}
		cfg, err := config.Load(*file, config.MissingSecretFilesOK())
		if err != nil {
			fmt.Fprintln(c.stderr, err)
			return 1
		}
		return printOnCall(c, cfg, when, *only)
	}
}

// printOnCall writes the table of cfg's schedules at when, or says why
// there is none.
func printOnCall(c *cli, cfg *config.Config, when time.Time, only string) int {
	if len(cfg.Schedules) == 0 {
		fmt.Fprintf(c.stderr, "%s: no schedules\n", cfg.File)
		return 1
	}
	l, err := oncall.List(cfg, when, only)
	var unknown *oncall.UnknownScheduleError
	if errors.As(err, &unknown) {
		fmt.Fprintf(c.stderr, "%s: %v%s\n", cfg.File, err, knownSchedules(cfg.ScheduleNames()))
		return 1
	}
	if err != nil {
		fmt.Fprintln(c.stderr, err)
		return 1
	}
	if err := oncall.WriteTable(c.stdout, l); err != nil {
		fmt.Fprintln(c.stderr, err)
		return 1
	}
	return 0
}

// knownSchedules lists the schedules there are, for a name that is none.
func knownSchedules(names []string) string {
	return " (schedules: " + strings.Join(names, ", ") + ")"
}
