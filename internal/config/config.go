// Package config loads and checks the service's YAML configuration.
//
// A Config is data: Load builds a new one, with its defaults filled in,
// fully validated, with its secrets read from files, its matchers parsed
// and its templates test-rendered, so nothing later has to handle a
// half-valid config. Live objects built from it (the template engine, the
// sipgate client) are built by whoever uses them.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/templates"
)

// DefaultFile is the embedded configuration used when no --config.file is
// given: a dry run that logs the SMS it would send, so the service runs out
// of the box without a sipgate account.
//
//go:embed default.yml
var DefaultFile []byte

// Defaults that are not obvious from the field they fill.
const (
	DefaultSipgateURL   = "https://api.sipgate.com/v2"
	DefaultSMSID        = "s0"
	DefaultMaxBodyBytes = 4 << 20
	DefaultMaxSegments  = 1
	// DefaultMaxInFlight bounds the notifications handled at once: with
	// delivery.concurrency 8 that is at most 512 requests to sipgate at a
	// time, far more than a healthy Alertmanager needs, and it caps what a
	// flood of webhooks can make the service hold.
	DefaultMaxInFlight = 64
	// DefaultMaxAlerts is far above what a 4 MiB body of real alerts
	// holds (about 6,000), and keeps one of tiny alerts to about 10 MB.
	DefaultMaxAlerts = 20000
	// DefaultMaxAlertsInFlight is eight notifications of DefaultMaxAlerts
	// at once: about 120 MB of live heap for the smallest alerts while
	// they are paged (190 MB of the process's anonymous memory), near the
	// default soft memory limit (see the README's
	// Memory). Where max_alerts is raised past it, the default follows:
	// the bound on memory stays unless more is asked for by name.
	DefaultMaxAlertsInFlight = 8 * DefaultMaxAlerts
	// DefaultAccountCheckInterval checks the sipgate account often enough
	// to learn of a revoked token or an empty account long before the
	// next page, and costs sipgate two requests every ten minutes.
	DefaultAccountCheckInterval = 10 * time.Minute
	// MinAccountCheckInterval is the shortest account_check_interval:
	// each check is two requests, and sipgate's rate limits are not
	// documented.
	MinAccountCheckInterval = 10 * time.Second
)

// Encodings of the encoding setting.
const (
	// EncodingAuto sends GSM-7 when every character allows it, else UCS-2.
	EncodingAuto = "auto"
	// EncodingGSM7 transliterates what would force UCS-2, so that a stray
	// emoji does not cut the room of a message from 160 to 70 characters.
	EncodingGSM7 = "gsm7"
)

// Modes of a route.
const (
	ModeGrouped  = "grouped"
	ModePerAlert = "per_alert"
)

// Values of send_resolved.
const (
	ResolvedAlways = "always"
	ResolvedNever  = "never"
	// ResolvedIfPaged sends a resolved alert only to the people its firing
	// SMS reached.
	ResolvedIfPaged = "if_paged"
)

// Config is the whole configuration file.
type Config struct {
	Sipgate  Sipgate  `yaml:"sipgate"`
	Webhook  Webhook  `yaml:"webhook"`
	Delivery Delivery `yaml:"delivery"`
	// SMS holds the defaults of every route's SMS settings.
	SMS    SMS    `yaml:"sms"`
	Limits Limits `yaml:"limits"`
	// Templates are globs of Alertmanager-style .tmpl files, relative to the
	// config file's directory.
	Templates []string           `yaml:"templates,omitempty"`
	Contacts  map[string]Contact `yaml:"contacts" validate:"dive"`
	// Groups are teams: a name for a list of contacts.
	Groups map[string][]string `yaml:"groups,omitempty" validate:"dive,min=1"`
	// Schedules are on-call rotations, paged by name like a contact or a
	// group: whoever is on call when a notification arrives gets it.
	// Contacts, groups and schedules share one name space.
	Schedules map[string]*Schedule `yaml:"schedules,omitempty"`
	// TimeIntervals are named time intervals in alertmanager.yml's syntax,
	// for the layers of schedules.
	TimeIntervals []TimeInterval `yaml:"time_intervals,omitempty"`
	// Routes are tried in order for every alert.
	Routes []*Route `yaml:"routes" validate:"min=1,dive"`
	// DefaultRoute names the route for alerts that no route matches.
	DefaultRoute string `yaml:"default_route,omitempty"`
	// Unmatched, instead of DefaultRoute, reports the alerts that no
	// route matches, and may page someone about them.
	Unmatched *Unmatched `yaml:"unmatched,omitempty"`
	// RejectUnmatched is the old name of Unmatched.Report, read so that
	// a config written for it still loads.
	//
	// Deprecated: it answered a notification with such alerts 422, which
	// lost the pages of the alerts that did match; it now means
	// unmatched: {report: true}, with a warning.
	RejectUnmatched bool `yaml:"reject_unmatched,omitempty"`
	// TimeZone is the IANA name of the zone the times in texts (the
	// digest's "since") are told in, with the zone named: UTC unless set,
	// since the host's zone says nothing to whoever reads the SMS.
	TimeZone string `yaml:"time_zone"`
	// Location is TimeZone loaded, filled at load.
	Location *time.Location `yaml:"-"`

	// Warnings are what is allowed but likely wrong or deprecated in the
	// file, one line each, with the file and path, for the caller to log:
	// the config package has no logger.
	Warnings []string `yaml:"-"`
	// File is where the config was read from, for messages.
	File string `yaml:"-"`
	// load is how it was loaded (LoadOption).
	load loadOptions
	// loadedAt is when the config was loaded: the schedules' check for
	// times when nobody is on call starts there.
	loadedAt time.Time
}

// UnmatchedRoute is the name of the route that pages Unmatched.To: the
// route label of those SMS, and a name no route of the file may take.
const UnmatchedRoute = "unmatched"

// Unmatched says what happens to alerts that no route matches when no
// default_route takes them. They are always reported: logged at warn
// with their labels and counted, never a reason to lose the pages of
// the other alerts of their notification.
type Unmatched struct {
	// Report says that reporting them is enough: set it, or To.
	Report bool `yaml:"report,omitempty"`
	// To, when set, are paged about them as well, with the built-in
	// template and the sms section's settings. Contacts, groups or E.164
	// numbers.
	To []string `yaml:"to,omitempty"`

	// Route pages To, named UnmatchedRoute; built at load, nil without To.
	Route *Route `yaml:"-"`
}

// Sipgate holds how to reach the sipgate API.
type Sipgate struct {
	URL string `yaml:"url" validate:"required,http_url"`
	// TokenID and Token are a personal access token, which sipgate
	// recommends for integrations; Username and Password the account login.
	TokenID      string         `yaml:"token_id,omitempty"`
	Token        Secret         `yaml:"token,omitempty"`
	TokenFile    string         `yaml:"token_file,omitempty"`
	Username     string         `yaml:"username,omitempty"`
	Password     Secret         `yaml:"password,omitempty"`
	PasswordFile string         `yaml:"password_file,omitempty"`
	SMSID        string         `yaml:"sms_id" validate:"required,sms_id"`
	Timeout      model.Duration `yaml:"timeout" validate:"gt=0"`
	// DryRun logs every SMS instead of sending it.
	DryRun bool `yaml:"dry_run,omitempty"`
	// AccountCheckInterval is how often the credentials and the balance
	// are checked, the first time at start; 0 turns the check off.
	AccountCheckInterval model.Duration `yaml:"account_check_interval"`
	// LowBalance, in the currency's units (5 is 5.00 EUR), is the balance
	// below which a warning is logged and the balance_low metric is 1; 0
	// turns it off.
	LowBalance float64 `yaml:"low_balance,omitempty"`
}

// Credentials returns the HTTP Basic user and password for sipgate.
func (s Sipgate) Credentials() (user string, password Secret) {
	if s.TokenID != "" {
		return s.TokenID, s.Token
	}
	return s.Username, s.Password
}

// Webhook configures the endpoint Alertmanager posts to.
type Webhook struct {
	MaxBodyBytes int64 `yaml:"max_body_bytes" validate:"gt=0"`
	// Timeout bounds the handling of one notification, sends and retries
	// included. Keep it below Alertmanager's webhook timeout and
	// group_interval so that Alertmanager hears our answer. The HTTP
	// server's header, read and write timeouts are derived from it.
	Timeout model.Duration `yaml:"timeout" validate:"gt=0"`
	// MaxInFlight bounds the notifications handled at once; one more is
	// answered 503 with Retry-After before its body is read, so memory
	// stays below about MaxInFlight times what one MaxBodyBytes body
	// decodes to.
	MaxInFlight int `yaml:"max_in_flight" validate:"gt=0"`
	// MaxAlerts bounds the alerts of one notification that are routed;
	// the rest are counted, as Alertmanager's own max_alerts does, so
	// that a body of many tiny alerts cannot take memory without bound.
	MaxAlerts int `yaml:"max_alerts" validate:"gt=0"`
	// MaxAlertsInFlight bounds the alerts kept of all the notifications
	// handled at once, which is what a storm's memory grows with, each
	// weighed by its size (one, one more for each 768 bytes of its JSON
	// and each 16 labels and annotations; no notification more than
	// MaxAlerts in all): the
	// oldest notification in flight that runs out of room waits for it,
	// another is answered 503 with Retry-After, and Alertmanager retries
	// it. At least MaxAlerts, so that the largest notification passes
	// once it is the oldest. Unset or 0: DefaultMaxAlertsInFlight, or
	// MaxAlerts where that is larger.
	MaxAlertsInFlight int `yaml:"max_alerts_in_flight" validate:"gt=0"`
	// BearerToken or BasicAuth, when set, must match Alertmanager's
	// http_config of the webhook receiver.
	BearerToken     Secret     `yaml:"bearer_token,omitempty"`
	BearerTokenFile string     `yaml:"bearer_token_file,omitempty"`
	BasicAuth       *BasicAuth `yaml:"basic_auth,omitempty"`
}

// BasicAuth is a user name and password that clients must present.
type BasicAuth struct {
	Username     string `yaml:"username" validate:"required"`
	Password     Secret `yaml:"password,omitempty"`
	PasswordFile string `yaml:"password_file,omitempty"`
}

// Delivery configures sending and de-duplication.
type Delivery struct {
	// DedupWindow is how long the ledger remembers that a notification
	// reached a recipient, from the last time the notification came (a
	// notification retried for longer keeps its record). It must stay
	// below Alertmanager's repeat_interval, or deliberate repeats of an
	// Alertmanager before v0.32 are swallowed.
	DedupWindow model.Duration `yaml:"dedup_window" validate:"gt=0"`
	// Concurrency bounds the parallel sends of one notification.
	Concurrency int `yaml:"concurrency" validate:"gt=0"`
	// SettleAfter is how long after a send of unknown outcome (sipgate got
	// the request, then no answer came) sipgate's history is asked whether
	// it took the SMS: how soon sipgate lists a sent SMS is not documented.
	SettleAfter model.Duration `yaml:"settle_after" validate:"gt=0"`
	// ResendUnknown is how many times an SMS of unknown outcome that the
	// history does not show (or cannot be read) is sent again: 1, or 0 to
	// send each SMS at most once, at the risk of a page that never arrives.
	ResendUnknown int `yaml:"resend_unknown" validate:"gte=0,lte=1"`
}

// SMS shapes the text of a message; a route may override each field.
type SMS struct {
	// MaxSegments is the most SMS segments one message may cost.
	MaxSegments int    `yaml:"max_segments" validate:"gt=0,lte=10"`
	Encoding    string `yaml:"encoding" validate:"oneof=auto gsm7"`
}

// Limits keep an alert storm from flooding phones and the budget.
type Limits struct {
	// PerRecipient are sliding windows, each a most number of SMS one
	// person gets in that time; all must allow a send.
	PerRecipient []Window `yaml:"per_recipient,omitempty" validate:"dive"`
	// Budget is the most SMS of all recipients together in Period.
	Budget Window `yaml:"budget,omitempty"`
	// SeverityOrder ranks the severity label's values, most severe first:
	// when limits force a choice, those go first.
	SeverityOrder []string `yaml:"severity_order"`
	// DigestCheck is how often suppressed SMS are checked for a digest,
	// and SMS held for quiet hours whether the quiet hours ended.
	DigestCheck model.Duration `yaml:"digest_check" validate:"gt=0"`
}

// Window is a number of SMS per period; Max 0 means no limit.
type Window struct {
	Max int            `yaml:"max" validate:"gte=0"`
	Per model.Duration `yaml:"per" validate:"required_with=Max,gte=0"`
}

// Contact is a person who can be paged.
type Contact struct {
	Number string `yaml:"number" validate:"required,phone"`
}

// Route decides, per alert, whom to page and how.
type Route struct {
	Name string `yaml:"name" validate:"required"`
	// Receiver matches the Alertmanager receiver name; empty matches any.
	Receiver string `yaml:"receiver,omitempty"`
	// Matchers use Alertmanager's matcher syntax; all must match.
	Matchers []string `yaml:"matchers,omitempty"`
	// To lists contacts, groups or E.164 numbers.
	To       []string `yaml:"to" validate:"required,min=1"`
	Template string   `yaml:"template"`
	SMS      `yaml:",inline"`
	// Mode is grouped (one SMS per notification) or per_alert.
	Mode string `yaml:"mode" validate:"oneof=grouped per_alert"`
	// SummaryAbove, in per_alert mode, sends one grouped SMS instead when
	// a notification has more alerts than this; 0 never does.
	SummaryAbove int    `yaml:"summary_above,omitempty" validate:"gte=0"`
	SendResolved string `yaml:"send_resolved" validate:"oneof=always never if_paged"`
	// BypassLimits exempts the route from the flood limits.
	BypassLimits bool `yaml:"bypass_limits,omitempty"`
	// Continue goes on to later routes after this one matched.
	Continue bool `yaml:"continue,omitempty"`
	// QuietHours, when set, defer the SMS of the route's less urgent
	// alerts while named time intervals hold.
	QuietHours *QuietHours `yaml:"quiet_hours,omitempty"`

	// Parsed matchers, filled at load.
	LabelMatchers labels.Matchers `yaml:"-"`
	// Recipients are the resolved To entries, filled at load, but for
	// schedules.
	Recipients []Recipient `yaml:"-"`
	// Schedules are the To entries that name schedules, filled at load:
	// whom they page is decided per notification (Config.OnCallAt).
	Schedules []string `yaml:"-"`
}

// Recipient is one phone number a route pages.
type Recipient struct {
	// Name is the contact's name, or empty for a number written in a route.
	Name   string
	Number string
}

// Label is how logs and metrics name the recipient without its number.
func (r Recipient) Label() string {
	if r.Name == "" {
		return "number"
	}
	return r.Name
}

// Route returns the route with that name, or nil.
func (c *Config) Route(name string) *Route {
	for _, r := range c.Routes {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Load reads, decodes, validates and completes the config file at path.
func Load(path string, opts ...LoadOption) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return Parse(b, path, opts...)
}

// Parse is Load for a config already in memory; name is used in errors and
// as the base for relative paths.
func Parse(b []byte, name string, opts ...LoadOption) (*Config, error) {
	return parseAt(b, name, time.Now(), opts...)
}

// parseAt is Parse as if at the instant now, which the schedules' check
// for times when nobody is on call starts from.
func parseAt(b []byte, name string, now time.Time, opts ...LoadOption) (*Config, error) {
	c := defaults()
	c.File, c.loadedAt = name, now
	for _, o := range opts {
		o(&c.load)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %s", name, decodeError(err, b))
	}
	c.followingDefaults()
	for _, r := range c.Routes {
		if r == nil {
			return nil, fmt.Errorf("%s: routes: empty route", name)
		}
		c.routeDefaults(r)
	}
	err := c.complete(filepath.Dir(name))
	if zerr := c.loadLocation(); zerr != nil {
		var cerr *Error
		switch {
		case err == nil:
			err = &Error{File: c.File, Problems: []string{zerr.Error()}}
		case errors.As(err, &cerr):
			cerr.Problems = append(cerr.Problems, zerr.Error())
		}
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// loadLocation fills Location from TimeZone, or says what is wrong with it.
func (c *Config) loadLocation() error {
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil || c.TimeZone == "" {
		return fmt.Errorf("time_zone: %q is not a known IANA time zone (such as UTC or Europe/Berlin)", c.TimeZone)
	}
	c.Location = loc
	return nil
}

// decodeError says on one line what the decoder found wrong in document
// b, and where, without the values: a value in the wrong place may be a
// secret, so only its type is named.
func decodeError(err error, b []byte) string {
	var typeErr *yaml.TypeError
	if errors.As(err, &typeErr) {
		// "line 2: cannot unmarshal !!str into int64": the first names
		// its field too, which the decoder does not.
		where, located := locate(b, reflect.TypeFor[Config]())
		msgs := make([]string, len(typeErr.Errors))
		for i, e := range typeErr.Errors {
			e = quotedValue.ReplaceAllString(e, "$1$2")
			if line, rest, ok := strings.Cut(e, ": "); ok && i == 0 && located && strings.HasPrefix(where, line+": ") && strings.Contains(rest, "cannot unmarshal") {
				e = where + ": " + rest
			}
			msgs[i] = oneLine(e)
		}
		return strings.Join(msgs, "; ")
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "yaml: ") {
		// The parser's own: it may quote a value, such as the name of an
		// alias, which an unquoted secret beginning with * is taken for.
		if strings.Contains(msg, "unknown anchor") {
			msg += " (a value beginning with * must be quoted)"
		}
		msg = singleQuoted.ReplaceAllString(msg, "")
		// A value with a tag it cannot be read as (token: !!int x).
		msg = taggedValue.ReplaceAllString(msg, "${1}cannot decode $2 as a $3")
	} else {
		// Not the parser's but a value's own, such as a duration's, which
		// quotes the value and says neither line nor field.
		msg = goQuoted.ReplaceAllString(msg, "")
		if where, ok := locate(b, reflect.TypeFor[Config]()); ok {
			msg = where + ": " + msg
		}
	}
	return oneLine(msg)
}

var (
	// quotedValue is how yaml quotes a value it cannot decode, at most 10
	// bytes of it: "line 3: cannot unmarshal !!str `hunt...` into int". The
	// lazy prefix takes the value from its first possible start, so that
	// a value with a " `" of its own is hidden whole.
	quotedValue = regexp.MustCompile("(?s)^(.*?) `.{0,10}`( into [^ `]+)$")
	// goQuoted is a string quoted by %q, with the space or ": " before it.
	goQuoted = regexp.MustCompile(`:? "(?:[^"\\]|\\.)*"`)
	// singleQuoted is a value the YAML parser quotes in its errors, with
	// the space before it.
	singleQuoted = regexp.MustCompile(` '[^']*'`)
	// taggedValue is the parser's error for a value its tag does not fit,
	// which quotes the whole value, backticks of its own and all.
	taggedValue = regexp.MustCompile("(?s)^(yaml: (?:line \\d+: )?)cannot decode (\\S+) .* as a (\\S+)$")
)

// oneLine escapes the control characters and line separators in s, so
// that a message quoting a key with a line break in it stays one line.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, breaksOut) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if breaksOut(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func breaksOut(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
}

// defaults is the config before the file is decoded into it: every
// default but those that follow other fields, which routeDefaults and
// followingDefaults fill after decoding. These functions are the only
// place defaults live.
func defaults() *Config {
	return &Config{
		Sipgate: Sipgate{
			URL:                  DefaultSipgateURL,
			SMSID:                DefaultSMSID,
			Timeout:              model.Duration(10 * time.Second),
			AccountCheckInterval: model.Duration(DefaultAccountCheckInterval),
		},
		Webhook: Webhook{
			MaxBodyBytes: DefaultMaxBodyBytes,
			Timeout:      model.Duration(9 * time.Second),
			MaxInFlight:  DefaultMaxInFlight,
			MaxAlerts:    DefaultMaxAlerts,
		},
		Delivery: Delivery{
			DedupWindow:   model.Duration(10 * time.Minute),
			Concurrency:   8,
			SettleAfter:   model.Duration(10 * time.Second),
			ResendUnknown: 1,
		},
		SMS: SMS{
			MaxSegments: DefaultMaxSegments,
			Encoding:    EncodingAuto,
		},
		Limits: Limits{
			SeverityOrder: templates.DefaultSeverityOrder(),
			DigestCheck:   model.Duration(30 * time.Second),
		},
		TimeZone: "UTC",
	}
}

// followingDefaults fills the defaults that follow other fields.
func (c *Config) followingDefaults() {
	if w := &c.Webhook; w.MaxAlertsInFlight == 0 {
		w.MaxAlertsInFlight = max(DefaultMaxAlertsInFlight, w.MaxAlerts)
	}
}

func (c *Config) routeDefaults(r *Route) {
	if r.Template == "" {
		r.Template = templates.DefaultTemplate
	}
	if r.MaxSegments == 0 {
		r.MaxSegments = c.SMS.MaxSegments
	}
	if r.Encoding == "" {
		r.Encoding = c.SMS.Encoding
	}
	if r.Mode == "" {
		r.Mode = ModeGrouped
	}
	if r.SendResolved == "" {
		r.SendResolved = ResolvedAlways
	}
	if q := r.QuietHours; q != nil && q.Defer == "" {
		q.Defer = DeferHold
	}
}

// TemplateFiles are the globs of Templates, relative ones resolved against
// the config file's directory.
func (c *Config) TemplateFiles() []string {
	globs := make([]string, len(c.Templates))
	for i, g := range c.Templates {
		if !filepath.IsAbs(g) {
			g = filepath.Join(filepath.Dir(c.File), g)
		}
		globs[i] = g
	}
	return globs
}

// MatchedTemplateFiles are the template files the globs match now, sorted,
// relative to the config's directory where they lie below it: what a
// summary of the config shows.
func (c *Config) MatchedTemplateFiles() []string {
	var files []string
	for _, glob := range c.TemplateFiles() {
		// An invalid glob failed the load already.
		matches, _ := filepath.Glob(glob)
		for _, m := range matches {
			if rel, err := filepath.Rel(filepath.Dir(c.File), m); err == nil && !strings.HasPrefix(rel, "..") {
				m = rel
			}
			files = append(files, m)
		}
	}
	slices.Sort(files)
	return slices.Compact(files)
}

// String prints the effective config with secrets hidden.
func (c *Config) String() string {
	b, err := yaml.Marshal(c)
	if err != nil {
		return fmt.Sprintf("<config: %v>", err)
	}
	return string(b)
}
