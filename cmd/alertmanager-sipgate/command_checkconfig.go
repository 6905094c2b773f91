package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/alecthomas/kingpin/v2"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
)

// checkConfigCommand checks config files as amtool check-config does:
// each is loaded as the service loads it, templates test-rendered, and a
// short summary printed. Secret files that are missing are warnings, as
// they usually exist only where the service runs; serve still fails on
// them.
func checkConfigCommand(app *kingpin.Application) (*kingpin.CmdClause, action) {
	cmd := app.Command("check-config", "Validate config files and their templates, and summarize them. Secret files that are missing are warnings here: they usually exist only where the service runs.")
	files := cmd.Arg("config-file", "The config files to check.").Required().Strings()
	effective := cmd.Flag("effective", "Also print each config with its defaults filled in and secrets hidden.").Bool()
	return cmd, func(c *cli) int {
		code := 0
		for _, file := range *files {
			if !checkConfigFile(c.stdout, file, *effective) {
				code = 1
			}
		}
		return code
	}
}

// checkConfigFile checks one file and reports whether it passed.
func checkConfigFile(w io.Writer, file string, effective bool) bool {
	fmt.Fprintf(w, "Checking '%s'", file)
	cfg, err := config.Load(file, config.MissingSecretFilesOK())
	if err != nil {
		fmt.Fprintln(w, "  FAILED:")
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(w, "  "+line)
		}
		fmt.Fprintln(w)
		return false
	}
	fmt.Fprintln(w, "  SUCCESS")
	fmt.Fprintln(w, "Found:")
	for _, line := range summarize(cfg) {
		fmt.Fprintln(w, " - "+line)
	}
	for _, warning := range cfg.Warnings {
		fmt.Fprintln(w, "warning: "+warning)
	}
	if effective {
		fmt.Fprint(w, cfg)
	}
	fmt.Fprintln(w)
	return true
}

// summarize says in a few lines what a checked config holds.
func summarize(c *config.Config) []string {
	lines := []string{sipgateSummary(c.Sipgate), webhookSummary(c.Webhook)}
	routes := make([]string, len(c.Routes))
	for i, r := range c.Routes {
		routes[i] = r.Name
	}
	line := count(len(c.Routes), "route", "routes") + ": " + strings.Join(routes, ", ")
	switch {
	case c.DefaultRoute != "":
		line += "; unmatched alerts go to " + c.DefaultRoute
	case c.Unmatched != nil && c.Unmatched.Route != nil:
		line += "; unmatched alerts are reported and paged to " + strings.Join(c.Unmatched.To, ", ")
	case c.Unmatched != nil:
		line += "; unmatched alerts are reported"
	}
	lines = append(lines, line,
		count(len(c.Contacts), "contact", "contacts")+", "+count(len(c.Groups), "group", "groups"))
	if len(c.Schedules) > 0 {
		names := slices.Sorted(maps.Keys(c.Schedules))
		lines = append(lines, count(len(names), "schedule", "schedules")+": "+strings.Join(names, ", "))
	}
	return append(lines, templatesSummary(c))
}

func sipgateSummary(s config.Sipgate) string {
	if s.DryRun {
		return "sipgate: dry run, SMS are logged, not sent"
	}
	user, _ := s.Credentials()
	kind := "account"
	if s.TokenID != "" {
		kind = "token"
	}
	return fmt.Sprintf("sipgate: %s, %s %s, SMS extension %s", s.URL, kind, user, s.SMSID)
}

func webhookSummary(w config.Webhook) string {
	switch {
	case w.BasicAuth != nil:
		return "webhook: basic auth as " + w.BasicAuth.Username
	case w.BearerToken != "" || w.BearerTokenFile != "":
		return "webhook: bearer token"
	default:
		return "webhook: no credentials needed"
	}
}

// templatesSummary counts the template files the globs match.
func templatesSummary(c *config.Config) string {
	files := c.MatchedTemplateFiles()
	if len(files) == 0 {
		return "templates: the built-in ones only"
	}
	return count(len(files), "template file", "template files") + ": " + strings.Join(files, ", ")
}

// count is "1 route" or "3 routes".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
