package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alecthomas/kingpin/v2"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/pager"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/receiver"
)

// renderCommand prints the SMS a webhook payload would produce, made by
// the pager's own Notify (routing, templates, fitting) with nothing sent.
// It has no ledger: the payload counts as the first notification of its
// alerts (pager.Previewer).
func renderCommand(app *kingpin.Application) (*kingpin.CmdClause, action) {
	cmd := app.Command("render", "Print the SMS each recipient would get for an Alertmanager webhook payload, made as the service makes them. Nothing is sent. Without the service's ledger, the payload counts as the first notification of its alerts.")
	configFile := cmd.Flag("config.file", "Configuration file; without it, the embedded default config.").String()
	routeName := cmd.Flag("route", "Pin the payload to this route, as the webhook URL /api/v1/alerts/NAME does.").String()
	at := cmd.Flag("at", "Render as if the payload arrived then, RFC 3339 (2024-12-24T03:00:00+01:00): whoever is on call then is paged; now unless set.").String()
	payload := cmd.Arg("payload", "Webhook payload (JSON) file, or - for standard input.").Required().String()
	return cmd, func(c *cli) int {
		when := time.Now()
		if *at != "" {
			t, err := time.Parse(time.RFC3339Nano, *at)
			if err != nil {
				fmt.Fprintf(c.stderr, "%s: --at: want an RFC 3339 time such as 2024-12-24T03:00:00+01:00\n", name)
				return 2
			}
			when = t
		}
		cfg, err := loadConfig(*configFile, config.MissingSecretFilesOK())
		if err != nil {
			fmt.Fprintln(c.stderr, err)
			return 1
		}
		for _, w := range cfg.Warnings {
			fmt.Fprintln(c.stderr, "warning:", w)
		}
		result, err := renderFile(cfg, *payload, *routeName, when, c.stdin)
		if err != nil {
			fmt.Fprintf(c.stderr, "render %s: %v\n", *payload, err)
			return 1
		}
		printRendered(c.stdout, result)
		return 0
	}
}

// renderFile previews the payload in file ("-": in stdin) with cfg, as if
// it arrived at when.
func renderFile(cfg *config.Config, file, route string, when time.Time, stdin io.Reader) (*rendered, error) {
	in := stdin
	// kingpin hands over a lone "-" as "": both mean standard input.
	if file != "-" && file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		in = f
	}
	n, err := receiver.NewReader(cfg.Webhook.MaxBodyBytes, cfg.Webhook.MaxAlerts).Read(nil, in)
	if err != nil {
		return nil, err
	}
	n.Received = when
	v, err := pager.NewPreviewer(cfg)
	if err != nil {
		return nil, err
	}
	// As long as the webhook gives a notification: templates that run
	// past half of it get the fallback text, as they would there.
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.Webhook.Timeout))
	defer cancel()
	p, err := v.Preview(ctx, n, route)
	if err != nil {
		return nil, err
	}
	return newRendered(p), nil
}

// rendered is a preview as the render command prints it and
// POST /api/v1/render answers it: numbers masked, the fit in words.
type rendered struct {
	SMS   []renderedSMS  `json:"sms"`
	Notes []renderedNote `json:"notes"`
}

// renderedSMS is one SMS of a preview.
type renderedSMS struct {
	Route string `json:"route"`
	// Contact is the contact's name, or "number" for a number written
	// in a route; Number is masked.
	Contact string `json:"contact"`
	Number  string `json:"number"`
	Text    string `json:"text"`
	// Encoding is gsm7 or ucs2; Units are septets or UTF-16 code units.
	Encoding   string `json:"encoding"`
	Characters int    `json:"characters"`
	Units      int    `json:"units"`
	Segments   int    `json:"segments"`
	// MaxSegments is the route's max_segments; 0 when the route is not
	// in the config (a resolved SMS of a route removed since).
	MaxSegments int `json:"max_segments,omitempty"`
	// Cut says in words what the fitter cut or left out, "" for nothing.
	Cut                    string `json:"cut,omitempty"`
	Transliterated         bool   `json:"transliterated,omitempty"`
	TransliterationSkipped bool   `json:"transliteration_skipped,omitempty"`
	Alerts                 int    `json:"alerts"`
	Firing                 int    `json:"firing"`
	Resolved               int    `json:"resolved"`
	BypassLimits           bool   `json:"bypass_limits,omitempty"`
}

// renderedNote is one log record of a preview.
type renderedNote struct {
	Level   string            `json:"level"`
	Message string            `json:"message"`
	Attrs   map[string]string `json:"attrs,omitempty"`
}

func newRendered(p *pager.Preview) *rendered {
	out := &rendered{SMS: []renderedSMS{}, Notes: []renderedNote{}}
	for _, m := range p.SMS {
		s := renderedSMS{
			Route: m.Route, Contact: m.Contact, Number: phone.Mask(m.Number), Text: m.Text,
			Encoding: m.Fit.Size.Encoding.String(), Characters: utf8.RuneCountInString(m.Text),
			Units: m.Fit.Size.Units, Segments: m.Fit.Size.Segments,
			Cut: m.Fit.Cut.String(), Transliterated: m.Fit.Transliterated, TransliterationSkipped: m.Fit.TransliterationSkipped,
			Alerts: m.Alerts, Firing: m.Firing, Resolved: m.Resolved, BypassLimits: m.BypassLimits,
		}
		if r := routeNamed(p.Config, m.Route); r != nil {
			s.MaxSegments = r.MaxSegments
		}
		out.SMS = append(out.SMS, s)
	}
	for _, n := range p.Notes {
		note := renderedNote{Level: strings.ToLower(n.Level.String()), Message: n.Message}
		if len(n.Attrs) > 0 {
			note.Attrs = map[string]string{}
			for _, a := range n.Attrs {
				note.Attrs[a.Key] = a.Value
			}
		}
		out.Notes = append(out.Notes, note)
	}
	return out
}

// routeNamed is the route of the config by name, the unmatched one too.
func routeNamed(cfg *config.Config, name string) *config.Route {
	if u := cfg.Unmatched; u != nil && u.Route != nil && name == config.UnmatchedRoute {
		return u.Route
	}
	return cfg.Route(name)
}

// printRendered writes a preview for people to read.
func printRendered(w io.Writer, r *rendered) {
	if len(r.SMS) == 0 {
		fmt.Fprintln(w, "No SMS would be sent.")
	}
	for i, s := range r.SMS {
		fmt.Fprintf(w, "SMS %d of %d: route %s to %s (%s)\n", i+1, len(r.SMS), s.Route, s.Contact, s.Number)
		fmt.Fprintf(w, "  %s\n", describeSize(s))
		fmt.Fprintf(w, "  alerts: %d (%d firing, %d resolved)", s.Alerts, s.Firing, s.Resolved)
		if s.BypassLimits {
			fmt.Fprint(w, ", bypasses the flood limits")
		}
		fmt.Fprintln(w)
		cut := s.Cut
		if cut == "" {
			cut = "nothing"
		}
		fmt.Fprintf(w, "  cut: %s\n", cut)
		switch {
		case s.Transliterated:
			fmt.Fprintln(w, "  transliterated to GSM-7 (encoding: gsm7)")
		case s.TransliterationSkipped:
			fmt.Fprintln(w, "  not transliterated: too much would become '?' (encoding: gsm7)")
		}
		for _, line := range strings.Split(s.Text, "\n") {
			fmt.Fprintf(w, "  | %s\n", line)
		}
		fmt.Fprintln(w)
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w, "Notes:")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  %s: %s%s\n", n.Level, n.Message, describeAttrs(n.Attrs))
	}
}

// describeSize is "gsm7, 97 characters (97 septets), 1 segment of at most 1".
func describeSize(s renderedSMS) string {
	units := "septets"
	if s.Encoding != "gsm7" {
		units = "UTF-16 code units"
	}
	size := fmt.Sprintf("%s, %s (%d %s), %s", s.Encoding, count(s.Characters, "character", "characters"), s.Units, units,
		count(s.Segments, "segment", "segments"))
	if s.MaxSegments > 0 {
		size += fmt.Sprintf(" of at most %d", s.MaxSegments)
	}
	return size
}

// describeAttrs is " (key=value, ...)" in key order, "" for none.
func describeAttrs(attrs map[string]string) string {
	if len(attrs) == 0 {
		return ""
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = k + "=" + attrs[k]
	}
	return " (" + strings.Join(pairs, ", ") + ")"
}
