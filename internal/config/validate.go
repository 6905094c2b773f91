package config

import (
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/go-playground/validator/v10"
	"github.com/prometheus/alertmanager/matcher/compat"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/validation"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/templates"
)

// Error lists every problem of a config file at once, each with the path
// of the field it concerns, so that one run fixes them all.
type Error struct {
	File     string
	Problems []string
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = e.File + ": " + p
	}
	return strings.Join(lines, "\n")
}

type problems []string

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, oneLine(path+": "+fmt.Sprintf(format, args...)))
}

var (
	smsIDPattern = regexp.MustCompile(`^s[0-9]+$`)
	// E.164 with its plus: the country code never starts with 0.
	phonePattern = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
)

// checks are the config's own validator tags, with how to describe a
// value that fails them.
var (
	checks = map[string]validator.Func{
		"sms_id": func(fl validator.FieldLevel) bool { return smsIDPattern.MatchString(fl.Field().String()) },
		"phone":  func(fl validator.FieldLevel) bool { return phonePattern.MatchString(fl.Field().String()) },
	}
	checkMessages = map[string]func(validator.FieldError) string{
		"sms_id": func(fe validator.FieldError) string {
			return fmt.Sprintf("%q is not a sipgate SMS extension id (s0, s1, …)", fe.Value())
		},
		"phone": func(fe validator.FieldError) string {
			return fmt.Sprintf("%q is not an E.164 number (+4915112345678)", fe.Value())
		},
	}
)

// complete validates the decoded config and fills in what is derived from
// it: secrets from files, parsed matchers, resolved recipients, templates.
func (c *Config) complete(dir string) error {
	var p problems
	fields, err := validation.Problems(validation.New("yaml", checks).Struct(c), checkMessages)
	if err != nil {
		return fmt.Errorf("%s: validate: %w", c.File, err)
	}
	for _, f := range fields {
		p.add(f.Path, "%s", f.Message)
	}
	if w := c.Webhook; w.MaxAlertsInFlight > 0 && w.MaxAlertsInFlight < w.MaxAlerts {
		p.add("webhook.max_alerts_in_flight", "%d is below webhook.max_alerts (%d): a notification of that many alerts would never be taken", w.MaxAlertsInFlight, w.MaxAlerts)
	}
	c.readSecrets(dir, &p)
	c.checkCredentials(&p)
	c.checkAccount(&p)
	c.checkContacts(&p)
	c.checkSchedules(&p)
	c.checkRoutes(&p)
	if len(p) > 0 {
		return &Error{File: c.File, Problems: p}
	}
	return nil
}

func (c *Config) readSecrets(dir string, p *problems) {
	c.readSecret(dir, "sipgate.token", c.Sipgate.TokenFile, &c.Sipgate.Token, p)
	c.readSecret(dir, "sipgate.password", c.Sipgate.PasswordFile, &c.Sipgate.Password, p)
	c.readSecret(dir, "webhook.bearer_token", c.Webhook.BearerTokenFile, &c.Webhook.BearerToken, p)
	if ba := c.Webhook.BasicAuth; ba != nil {
		c.readSecret(dir, "webhook.basic_auth.password", ba.PasswordFile, &ba.Password, p)
		if !c.hasSecret("webhook.basic_auth.password", ba.Password) {
			p.add("webhook.basic_auth.password", "is required")
		}
	}
	if c.Webhook.BearerToken != "" && c.Webhook.BasicAuth != nil {
		p.add("webhook", "set either bearer_token or basic_auth, not both")
	}
}

func (c *Config) checkCredentials(p *problems) {
	s := c.Sipgate
	switch {
	case s.TokenID != "" && s.Username != "":
		p.add("sipgate", "set either token_id and token or username and password, not both")
	case s.TokenID != "":
		if !c.hasSecret("sipgate.token", s.Token) {
			p.add("sipgate.token", "is required with token_id")
		}
	case s.Username != "":
		if !c.hasSecret("sipgate.password", s.Password) {
			p.add("sipgate.password", "is required with username")
		}
	case !s.DryRun:
		p.add("sipgate", "needs credentials: token_id and token (or token_file), or username and password (or password_file); or dry_run: true")
	}
}

func (c *Config) checkContacts(p *problems) {
	for _, name := range sortedKeys(c.Groups) {
		if _, ok := c.Contacts[name]; ok {
			p.add("groups."+name, "%q is already a contact's name", name)
		}
		for i, member := range c.Groups[name] {
			if _, ok := c.Contacts[member]; !ok {
				p.add(fmt.Sprintf("groups.%s[%d]", name, i), "unknown contact %q%s", member, suggest(member, sortedKeys(c.Contacts)))
			}
		}
	}
}

func (c *Config) checkRoutes(p *problems) {
	// The engine checks the templates here; whoever renders builds its own.
	engine, err := templates.New(c.TemplateFiles())
	if err != nil {
		p.add("templates", "%v", err)
	}

	// Like Alertmanager's default: the UTF-8 matcher syntax, falling back to
	// the classic one, so any matcher valid in alertmanager.yml is valid here.
	parseMatchers := compat.FallbackMatchersParser(slog.New(slog.DiscardHandler))
	seen := map[string]bool{}
	catchAll := false
	for i, r := range c.Routes {
		path := fmt.Sprintf("routes[%d]", i)
		if r.Name != "" {
			if seen[r.Name] {
				p.add(path+".name", "%q is used by an earlier route", r.Name)
			}
			seen[r.Name] = true
		}
		r.LabelMatchers = nil
		for j, m := range r.Matchers {
			ms, err := parseMatchers(m, path)
			if err != nil {
				p.add(fmt.Sprintf("%s.matchers[%d]", path, j), "%q: %v", m, err)
				continue
			}
			r.LabelMatchers = append(r.LabelMatchers, ms...)
		}
		if r.Receiver == "" && len(r.Matchers) == 0 {
			catchAll = true
		}
		if r.SummaryAbove > 0 && r.Mode != ModePerAlert {
			p.add(path+".summary_above", "needs mode: per_alert")
		}
		if r.Mode == ModePerAlert && r.SummaryAbove == 0 && (r.BypassLimits || len(c.Limits.PerRecipient) == 0) {
			c.warn(path+".mode", "per_alert without summary_above and with no limits.per_recipient that applies sends one SMS per alert to each person: a storm of %d alerts is %d SMS each; set summary_above", c.Webhook.MaxAlerts, c.Webhook.MaxAlerts)
		}
		c.checkQuietHours(path, r.QuietHours, p)
		r.Recipients, r.Schedules = c.resolve(path, r.To, p)
		if len(r.To) > 0 && len(r.Recipients) == 0 && len(r.Schedules) == 0 {
			p.add(path+".to", "pages nobody")
		}
		if engine != nil {
			if err := engine.Check(r.Template); err != nil {
				p.add(path+".template", "%v", err)
			}
		}
	}
	switch {
	case c.DefaultRoute != "" && !seen[c.DefaultRoute]:
		p.add("default_route", "unknown route %q%s", c.DefaultRoute, suggest(c.DefaultRoute, sortedKeys(seen)))
	case c.DefaultRoute != "" && c.RejectUnmatched:
		p.add("default_route", "set either default_route or reject_unmatched, not both")
	case c.DefaultRoute != "" && c.Unmatched != nil:
		p.add("default_route", "set either default_route or unmatched, not both")
	case c.RejectUnmatched && c.Unmatched != nil:
		p.add("reject_unmatched", "is the deprecated form of unmatched: {report: true}: set only unmatched")
	case c.DefaultRoute == "" && !c.RejectUnmatched && c.Unmatched == nil && !catchAll && len(c.Routes) > 0:
		p.add("routes", "no route matches every alert: add one without receiver and matchers, set default_route, "+
			"or say what happens to the others: unmatched: {report: true} (logged and counted) or unmatched: {to: [...]} (paged too)")
	}
	c.checkUnmatched(seen, catchAll, engine, p)
}

// checkUnmatched checks the unmatched section, turns a deprecated
// reject_unmatched into it, and builds the route that pages its To.
func (c *Config) checkUnmatched(routeNames map[string]bool, catchAll bool, engine *templates.Engine, p *problems) {
	if c.RejectUnmatched && c.Unmatched == nil && c.DefaultRoute == "" {
		// A config written for the old meaning keeps loading: rejecting
		// lost the pages of the matched alerts of the same notification,
		// reporting loses none. The effective config shows the new form.
		c.warn("reject_unmatched", "is deprecated: alerts no route matches are no longer rejected with 422 "+
			"(which lost the pages of the other alerts of their notification) but reported: logged at warn "+
			"and counted in alertmanager_sipgate_alerts_unrouted_total; write unmatched: {report: true} instead, "+
			"or unmatched: {to: [...]} to page someone about them")
		c.Unmatched, c.RejectUnmatched = &Unmatched{Report: true}, false
	}
	u := c.Unmatched
	if u == nil {
		return
	}
	u.Route = nil
	if !u.Report && len(u.To) == 0 {
		p.add("unmatched", "set report: true to have alerts no route matches logged and counted, or to: to have them paged as well")
	}
	if catchAll {
		c.warn("unmatched", "is never used: a route without receiver and matchers matches every alert")
	}
	if len(u.To) == 0 {
		return
	}
	if routeNames[UnmatchedRoute] {
		p.add("unmatched.to", "the route that pages it is named %q, which a route of routes already is: rename that route", UnmatchedRoute)
	}
	r := &Route{Name: UnmatchedRoute, To: u.To}
	c.routeDefaults(r)
	r.Recipients, r.Schedules = c.resolve("unmatched", u.To, p)
	if len(r.Recipients) == 0 && len(r.Schedules) == 0 {
		p.add("unmatched.to", "pages nobody")
	}
	if engine != nil {
		if err := engine.Check(r.Template); err != nil {
			p.add("unmatched", "built-in template: %v", err)
		}
	}
	u.Route = r
}

// warn notes something allowed but likely wrong or deprecated.
func (c *Config) warn(path, format string, args ...any) {
	c.Warnings = append(c.Warnings, oneLine(c.File+": "+path+": "+fmt.Sprintf(format, args...)))
}

// resolve turns a route's To entries into phone numbers, each once, and
// the names of the schedules among them, each once.
func (c *Config) resolve(path string, to []string, p *problems) ([]Recipient, []string) {
	var schedules []string
	var out []Recipient
	seen := map[string]bool{}
	add := func(r Recipient) {
		if !seen[r.Number] {
			seen[r.Number] = true
			out = append(out, r)
		}
	}
	for i, name := range to {
		if contact, ok := c.Contacts[name]; ok {
			add(Recipient{Name: name, Number: contact.Number})
			continue
		}
		if members, ok := c.Groups[name]; ok {
			for _, m := range members {
				if contact, ok := c.Contacts[m]; ok {
					add(Recipient{Name: m, Number: contact.Number})
				}
			}
			continue
		}
		if _, ok := c.Schedules[name]; ok {
			if !slices.Contains(schedules, name) {
				schedules = append(schedules, name)
			}
			continue
		}
		if phonePattern.MatchString(name) {
			add(Recipient{Number: name})
			continue
		}
		names := append(append(sortedKeys(c.Contacts), sortedKeys(c.Groups)...), sortedKeys(c.Schedules)...)
		p.add(fmt.Sprintf("%s.to[%d]", path, i), "unknown contact, group or schedule %q and not an E.164 number%s", name, suggest(name, names))
	}
	return out, schedules
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// suggest names the closest known name when a typo is likely.
func suggest(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := distance(name, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// distance is the Levenshtein edit distance, with an adjacent swap
// counting as one edit, since "alcie" for "alice" is the common typo.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
