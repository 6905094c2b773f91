package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/templates"
)

const valid = `
sipgate:
  token_id: token-ABC123
  token: s3cr3t-token
  sms_id: s1
contacts:
  alice: {number: "+4915112345678"}
  bob: {number: "+4915187654321"}
groups:
  infra: [alice, bob]
routes:
  - name: critical
    matchers: ['severity="critical"', 'team=~"db|infra"']
    to: [infra, "+4930123456"]
    continue: true
  - name: default
    to: [alice]
`

func TestParseValid(t *testing.T) {
	c, err := Parse([]byte(valid), "config.yml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Sipgate.URL != DefaultSipgateURL || c.Sipgate.SMSID != "s1" || time.Duration(c.Delivery.DedupWindow) != 10*time.Minute {
		t.Errorf("defaults not applied: %+v %+v", c.Sipgate, c.Delivery)
	}
	if c.Webhook.MaxInFlight != DefaultMaxInFlight {
		t.Errorf("webhook.max_in_flight = %d, want the default %d", c.Webhook.MaxInFlight, DefaultMaxInFlight)
	}
	if c.Webhook.MaxAlertsInFlight != DefaultMaxAlertsInFlight {
		t.Errorf("webhook.max_alerts_in_flight = %d, want the default %d", c.Webhook.MaxAlertsInFlight, DefaultMaxAlertsInFlight)
	}
	// Unset, the bound of alerts in flight follows a larger max_alerts,
	// which loads alone; set, or 0, it is as given or the default.
	for _, tc := range []struct {
		webhook string
		want    int
	}{
		{"{max_alerts: 200000}", 200000},
		{"{max_alerts: 5000}", DefaultMaxAlertsInFlight},
		{"{max_alerts_in_flight: 0}", DefaultMaxAlertsInFlight},
		{"{max_alerts: 200000, max_alerts_in_flight: 300000}", 300000},
	} {
		c, err := Parse([]byte(valid+"webhook: "+tc.webhook+"\n"), "config.yml")
		if err != nil {
			t.Errorf("webhook %s: %v", tc.webhook, err)
			continue
		}
		if got := c.Webhook.MaxAlertsInFlight; got != tc.want {
			t.Errorf("webhook %s: max_alerts_in_flight = %d, want %d", tc.webhook, got, tc.want)
		}
	}
	if time.Duration(c.Delivery.SettleAfter) != 10*time.Second || c.Delivery.ResendUnknown != 1 {
		t.Errorf("delivery.settle_after = %v, resend_unknown = %d; want the defaults 10s, 1", c.Delivery.SettleAfter, c.Delivery.ResendUnknown)
	}
	r := c.Route("critical")
	if len(r.LabelMatchers) != 2 || r.MaxSegments != DefaultMaxSegments || r.Encoding != EncodingAuto || r.Mode != ModeGrouped || r.SendResolved != ResolvedAlways || r.Template == "" {
		t.Errorf("route not completed: %+v", r)
	}
	want := []Recipient{{"alice", "+4915112345678"}, {"bob", "+4915187654321"}, {"", "+4930123456"}}
	if fmt.Sprint(r.Recipients) != fmt.Sprint(want) {
		t.Errorf("recipients = %v, want %v", r.Recipients, want)
	}
	user, pass := c.Sipgate.Credentials()
	if user != "token-ABC123" || pass.Value() != "s3cr3t-token" {
		t.Errorf("credentials = %q, %q", user, pass.Value())
	}
	if r.Template != templates.DefaultTemplate {
		t.Errorf("template = %q, want the built-in one", r.Template)
	}
}

func TestDefaultFileIsValid(t *testing.T) {
	c, err := Parse(DefaultFile, "default.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Sipgate.DryRun {
		t.Error("embedded default is not a dry run")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		config string
		want   []string
	}{
		{
			name:   "unknown key",
			config: "sipgate:\n  dry_run: true\n  tokn: x\n",
			want:   []string{"config.yml: line 3: field tokn not found"},
		},
		{
			name: "bad number",
			config: `
sipgate: {dry_run: true}
contacts:
  alice: {number: "0151 123"}
routes: [{name: r, to: [alice]}]`,
			want: []string{`config.yml: contacts.alice.number: "0151 123" is not an E.164 number (+4915112345678)`},
		},
		{
			name: "unknown contact with suggestion",
			config: `
sipgate: {dry_run: true}
contacts:
  alice: {number: "+4915112345678"}
routes: [{name: r, to: [alcie]}]`,
			want: []string{`config.yml: routes[0].to[0]: unknown contact, group or schedule "alcie" and not an E.164 number (did you mean "alice"?)`},
		},
		{
			name: "every problem at once",
			config: `
sipgate: {sms_id: x1, url: "not a url"}
webhook: {max_body_bytes: -1}
routes:
  - name: r
    matchers: ['severity=~"(']
    template: '{{ nosuchfunc . }}'
    to: []
  - name: r
    receiver: x
    to: ["+4915112345678"]
default_route: nope`,
			want: []string{
				`sipgate.url: "not a url" is not an http(s) URL`,
				`sipgate.sms_id: "x1" is not a sipgate SMS extension id`,
				`webhook.max_body_bytes: must be greater than 0`,
				`routes[0].to: must not be empty`,
				`sipgate: needs credentials`,
				`routes[0].matchers[0]:`,
				`routes[0].template:`,
				`routes[1].name: "r" is used by an earlier route`,
				`default_route: unknown route "nope"`,
			},
		},
		{
			name: "no catch-all route",
			config: `
sipgate: {dry_run: true}
routes: [{name: r, matchers: ['a="b"'], to: ["+4915112345678"]}]`,
			want: []string{"routes: no route matches every alert"},
		},
		{
			name: "unmatched says nothing",
			config: `
sipgate: {dry_run: true}
unmatched: {report: false}
routes: [{name: r, matchers: ['a="b"'], to: ["+4915112345678"]}]`,
			want: []string{"unmatched: set report: true to have alerts no route matches logged and counted, or to: to have them paged as well"},
		},
		{
			name: "default_route and unmatched",
			config: `
sipgate: {dry_run: true}
default_route: r
unmatched: {report: true}
routes: [{name: r, matchers: ['a="b"'], to: ["+4915112345678"]}]`,
			want: []string{"default_route: set either default_route or unmatched, not both"},
		},
		{
			name: "reject_unmatched and unmatched",
			config: `
sipgate: {dry_run: true}
reject_unmatched: true
unmatched: {to: ["+4915112345678"]}
routes: [{name: r, matchers: ['a="b"'], to: ["+4915112345678"]}]`,
			want: []string{"reject_unmatched: is the deprecated form of unmatched: {report: true}: set only unmatched"},
		},
		{
			name: "unmatched.to checked like a route's",
			config: `
sipgate: {dry_run: true}
contacts: {lead: {number: "+4915112345678"}}
unmatched: {to: [laed]}
routes: [{name: unmatched, matchers: ['a="b"'], to: [lead]}]`,
			want: []string{
				`unmatched.to[0]: unknown contact, group or schedule "laed" and not an E.164 number (did you mean "lead"?)`,
				"unmatched.to: pages nobody",
				`unmatched.to: the route that pages it is named "unmatched", which a route of routes already is`,
			},
		},
		{
			name: "both credential kinds",
			config: `
sipgate: {token_id: t, token: x, username: u, password: p}
routes: [{name: r, to: ["+4915112345678"]}]`,
			want: []string{"sipgate: set either token_id and token or username and password"},
		},
		{
			name: "token without secret",
			config: `
sipgate: {token_id: t}
routes: [{name: r, to: ["+4915112345678"]}]`,
			want: []string{"sipgate.token: is required with token_id"},
		},
		{
			name: "sms and limit settings",
			config: `
sipgate: {dry_run: true}
sms: {max_segments: 0, encoding: utf8}
limits:
  per_recipient: [{max: 5}]
routes:
  - {name: r, to: ["+4915112345678"], mode: burst, send_resolved: sometimes, summary_above: 3}`,
			want: []string{
				"sms.max_segments: must be greater than 0",
				`sms.encoding: "utf8" is not one of auto, gsm7`,
				"limits.per_recipient[0].per: is required with max",
				`routes[0].mode: "burst" is not one of grouped, per_alert`,
				`routes[0].send_resolved: "sometimes" is not one of always, never, if_paged`,
				"routes[0].summary_above: needs mode: per_alert",
			},
		},
		{
			name: "webhook bounds",
			config: `
sipgate: {dry_run: true}
webhook: {max_in_flight: 0, timeout: 0s}
routes: [{name: r, to: ["+4915112345678"]}]`,
			want: []string{"webhook.max_in_flight: must be greater than 0", "webhook.timeout: must be greater than 0"},
		},
		{
			name: "alerts in flight below one notification's",
			config: `
sipgate: {dry_run: true}
webhook: {max_alerts: 5000, max_alerts_in_flight: 1000}
routes: [{name: r, to: ["+4915112345678"]}]`,
			want: []string{"webhook.max_alerts_in_flight: 1000 is below webhook.max_alerts (5000): a notification of that many alerts would never be taken"},
		},
		{
			name: "no alerts in flight",
			config: `
sipgate: {dry_run: true}
webhook: {max_alerts_in_flight: -1}
routes: [{name: r, to: ["+4915112345678"]}]`,
			want: []string{"webhook.max_alerts_in_flight: must be greater than 0"},
		},
		{
			name: "unknown outcomes",
			config: `
sipgate: {dry_run: true}
delivery: {settle_after: 0s, resend_unknown: 2}
routes: [{name: r, to: ["+4915112345678"]}]`,
			want: []string{"delivery.settle_after: must be greater than 0", "delivery.resend_unknown: must be at most 1"},
		},
		{
			name:   "a secret in the wrong place is not quoted",
			config: "webhook: {basic_auth: hunter2-secret}\n",
			want:   []string{"config.yml: line 1: webhook.basic_auth: cannot unmarshal !!str into config.BasicAuth"},
		},
		{
			// An unquoted value beginning with * is a YAML alias, whose
			// name the parser quotes.
			name:   "a secret taken for an alias is not quoted",
			config: "sipgate: {token_id: t, token: *hunter2-secret}\n",
			want:   []string{"config.yml: yaml: unknown anchor referenced (a value beginning with * must be quoted)"},
		},
		{
			name:   "a secret with a tag it cannot be read as is not quoted",
			config: "sipgate:\n  token_id: t\n  token: !!float |\n    hunter2-se`cret\n",
			want:   []string{"config.yml: yaml: cannot decode !!str as a !!float"},
		},
		{
			name:   "an unknown field beside a value of the wrong type is not named by it",
			config: "webhook: {foo: 1, max_body_bytes: 4MiB}\n",
			want:   []string{"config.yml: line 1: field foo not found in type config.Webhook"},
		},
		{
			name:   "a value of the wrong type names its field",
			config: "webhook:\n  max_body_bytes: 4MiB\n",
			want:   []string{"config.yml: line 2: webhook.max_body_bytes: cannot unmarshal !!str into int64"},
		},
		{
			name:   "a string for a list names its field",
			config: "sipgate: {dry_run: true}\nroutes:\n  - name: r\n    to: \"+4915112345678\"\n",
			want:   []string{"config.yml: line 4: routes[0].to: cannot unmarshal !!str into []string"},
		},
		{
			name:   "a route's sms settings are named as written",
			config: "sipgate: {dry_run: true}\nroutes: [{name: r, to: [\"+4915112345678\"], max_segments: 11, encoding: ucs2}]\n",
			want:   []string{"config.yml: routes[0].max_segments: must be at most 10", "config.yml: routes[0].encoding: \"ucs2\" is not one of auto, gsm7"},
		},
		{
			name:   "a value its own decoder refuses is found by line and field",
			config: "sipgate: {dry_run: true}\nwebhook:\n  timeout: 10 parsecs\nroutes: [{name: r, to: [\"+4915112345678\"]}]\n",
			want:   []string{"config.yml: line 3: webhook.timeout: unknown unit in duration"},
		},
		{
			name: "a time interval Alertmanager's package refuses is found by line and field",
			config: `
sipgate: {dry_run: true}
time_intervals:
  - name: office
    time_intervals:
      - times: [{start_time: "08:00", end_time: "18:00"}]
      - weekdays: ["monday:friday"]
        days_of_month: ["1:5"]
      - weekdays: ["friday:monday"]
routes: [{name: r, to: ["+4915112345678"]}]`,
			want: []string{"config.yml: line 9: time_intervals[0].time_intervals[2].weekdays[0]: start day cannot be before end day"},
		},
		{
			name:   "no routes",
			config: "sipgate: {dry_run: true}\nroutes: []\n",
			want:   []string{"routes: must not be empty"},
		},
		{
			name: "empty group pages nobody",
			config: `
sipgate: {dry_run: true}
groups: {dba: []}
routes: [{name: r, to: [dba]}]`,
			want: []string{"groups.dba: must not be empty", "routes[0].to: pages nobody"},
		},
		{
			name: "group with unknown member",
			config: `
sipgate: {dry_run: true}
contacts: {alice: {number: "+4915112345678"}}
groups: {ops: [alice, bobb]}
routes: [{name: r, to: [ops]}]`,
			want: []string{`groups.ops[1]: unknown contact "bobb"`},
		},
		{
			name: "missing token file",
			config: `
sipgate: {token_id: t, token_file: /nonexistent/token}
routes: [{name: r, to: ["+4915112345678"]}]`,
			want: []string{"sipgate.token_file: open /nonexistent/token"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.config), "config.yml")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the secret: %v", err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "config.yml: ") {
					t.Errorf("line does not name the file: %q", line)
				}
			}
		})
	}
}

func TestSecretsFromFilesAndHidden(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hook"), []byte("hook-pass"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.yml")
	cfg := `
sipgate: {token_id: token-1, token_file: token}
webhook:
  basic_auth: {username: am, password_file: hook}
routes: [{name: r, to: ["+4915112345678"]}]`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, pass := c.Sipgate.Credentials(); pass.Value() != "file-token" {
		t.Errorf("token from file = %q", pass.Value())
	}
	if c.Webhook.BasicAuth.Password.Value() != "hook-pass" {
		t.Errorf("basic auth password from file = %q", c.Webhook.BasicAuth.Password.Value())
	}
	for _, out := range []string{c.String(), fmt.Sprintf("%v %+v %#v", c.Sipgate, c.Sipgate, c.Sipgate)} {
		if strings.Contains(out, "file-token") || strings.Contains(out, "hook-pass") {
			t.Errorf("secret printed:\n%s", out)
		}
	}
	if !strings.Contains(c.String(), "<secret>") {
		t.Errorf("printed config does not mark the secret:\n%s", c.String())
	}
}

// TestEmptySecretFileIsAnError: an empty or blank secret file is an
// error, for every secret. An empty bearer_token_file loaded as no token
// at all, and left the webhook open to anyone.
func TestEmptySecretFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "empty"), []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ section, field string }{
		{"webhook: {bearer_token_file: empty}", "webhook.bearer_token_file"},
		{"webhook: {basic_auth: {username: am, password_file: empty}}", "webhook.basic_auth.password_file"},
		{"sipgate: {token_id: t, token_file: empty}", "sipgate.token_file"},
	} {
		path := filepath.Join(dir, "config.yml")
		cfg := tc.section + "\nroutes: [{name: r, to: [\"+4915112345678\"]}]\n"
		if !strings.HasPrefix(tc.section, "sipgate") {
			cfg = "sipgate: {dry_run: true}\n" + cfg
		}
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), tc.field+": "+filepath.Join(dir, "empty")+" is empty") {
			t.Errorf("%s: err = %v, want %s saying the file is empty", tc.section, err, tc.field)
		}
	}
}

func TestTemplatesRelativeToConfigFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "my.tmpl"), []byte(`{{ define "my.sms" }}ALERT {{ .Status }}{{ end }}`), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.yml")
	cfg := `
sipgate: {dry_run: true}
templates: ['*.tmpl']
routes: [{name: r, to: ["+4915112345678"], template: '{{ template "my.sms" . }}'}]`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Fatal(err)
	}
}

// TestExamples keeps examples/config.yml valid: its secret files are put
// into a temporary directory in place of /etc/alertmanager-sipgate.
func TestExamples(t *testing.T) {
	b, err := os.ReadFile("../../examples/config.yml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []string{"sipgate-token", "webhook-password"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b = []byte(strings.ReplaceAll(string(b), "/etc/alertmanager-sipgate", dir))
	c, err := Parse(b, "../../examples/config.yml")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(c.Route("database").Recipients); got != 2 {
		t.Errorf("database route has %d recipients, want 2", got)
	}
	if got := c.Route("critical").Schedules; len(got) != 1 || c.Schedules[got[0]].Rotation == nil {
		t.Errorf("critical route pages schedules %v, want the example's built schedule", got)
	}
}

// TestUnmatched: what a config says about alerts no route matches, the
// deprecated reject_unmatched included, and the route of unmatched.to.
func TestUnmatched(t *testing.T) {
	const routes = `
sipgate: {dry_run: true}
sms: {max_segments: 2, encoding: gsm7}
contacts: {lead: {number: "+4915112345678"}}
groups: {leads: [lead]}
`
	tests := []struct {
		name   string
		config string
		// routes, when empty, are one route that matches few alerts.
		routes    string
		want      Unmatched
		recipient []Recipient
		warnings  []string
	}{
		{
			name:   "report",
			config: "unmatched: {report: true}",
			want:   Unmatched{Report: true},
		},
		{
			name:     "deprecated reject_unmatched means report",
			config:   "reject_unmatched: true",
			want:     Unmatched{Report: true},
			warnings: []string{"config.yml: reject_unmatched: is deprecated: alerts no route matches are no longer rejected with 422"},
		},
		{
			name:      "to: a route of the sms defaults and the built-in template",
			config:    `unmatched: {to: [leads, "+4930123456789"]}`,
			want:      Unmatched{To: []string{"leads", "+4930123456789"}},
			recipient: []Recipient{{"lead", "+4915112345678"}, {"", "+4930123456789"}},
		},
		{
			name:     "never used beside a catch-all route",
			config:   "unmatched: {report: true}",
			routes:   "routes: [{name: all, to: [lead]}]",
			want:     Unmatched{Report: true},
			warnings: []string{"config.yml: unmatched: is never used: a route without receiver and matchers matches every alert"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.routes == "" {
				tt.routes = `routes: [{name: r, matchers: ['a="b"'], to: ["+4915100000001"]}]`
			}
			c, err := Parse([]byte(routes+tt.routes+"\n"+tt.config+"\n"), "config.yml")
			if err != nil {
				t.Fatal(err)
			}
			if c.Unmatched == nil || c.Unmatched.Report != tt.want.Report || fmt.Sprint(c.Unmatched.To) != fmt.Sprint(tt.want.To) {
				t.Fatalf("unmatched = %+v, want %+v", c.Unmatched, tt.want)
			}
			if c.RejectUnmatched {
				t.Error("reject_unmatched still set after it became unmatched")
			}
			if len(c.Warnings) != len(tt.warnings) {
				t.Errorf("warnings = %q, want %q", c.Warnings, tt.warnings)
			}
			for i, w := range tt.warnings {
				if i < len(c.Warnings) && !strings.HasPrefix(c.Warnings[i], w) {
					t.Errorf("warning %d = %q, want it to start with %q", i, c.Warnings[i], w)
				}
			}
			r := c.Unmatched.Route
			if tt.recipient == nil {
				if r != nil {
					t.Errorf("a route %+v pages nobody in particular", r)
				}
			} else if r == nil || r.Name != UnmatchedRoute || fmt.Sprint(r.Recipients) != fmt.Sprint(tt.recipient) ||
				r.Template != templates.DefaultTemplate || r.MaxSegments != 2 || r.Encoding != EncodingGSM7 || r.Mode != ModeGrouped || r.SendResolved != ResolvedAlways {
				t.Errorf("route of unmatched.to = %+v, want %q to %v with the defaults", r, UnmatchedRoute, tt.recipient)
			}
			// The effective config is written in the current form, and
			// loads again as it is, without warnings about itself.
			out := c.String()
			if strings.Contains(out, "reject_unmatched") || !strings.Contains(out, "unmatched:") {
				t.Errorf("effective config does not say unmatched: as such:\n%s", out)
			}
			again, err := Parse([]byte(out), "config.yml")
			if err != nil {
				t.Fatalf("effective config does not load: %v\n%s", err, out)
			}
			if fmt.Sprint(again.Unmatched.Report, again.Unmatched.To) != fmt.Sprint(c.Unmatched.Report, c.Unmatched.To) {
				t.Errorf("effective config loads as unmatched %+v, want %+v", again.Unmatched, c.Unmatched)
			}
		})
	}
}

func TestResendUnknownZeroOverridesTheDefault(t *testing.T) {
	c, err := Parse([]byte(valid+"delivery: {resend_unknown: 0, settle_after: 30s}\n"), "config.yml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Delivery.ResendUnknown != 0 || time.Duration(c.Delivery.SettleAfter) != 30*time.Second {
		t.Errorf("resend_unknown = %d, settle_after = %v; want 0 (at most once), 30s", c.Delivery.ResendUnknown, c.Delivery.SettleAfter)
	}
}

func TestTimeZone(t *testing.T) {
	base := "sipgate: {dry_run: true}\ncontacts: {alice: {number: \"+4915112345678\"}}\nroutes: [{name: r, to: [alice]}]\n"
	for _, tc := range []struct {
		name, config string
		want         string // the zone loaded, or the error
	}{
		{name: "default UTC", config: base, want: "UTC"},
		{name: "IANA name", config: base + "time_zone: Europe/Berlin\n", want: "Europe/Berlin"},
		{name: "unknown", config: base + "time_zone: Europe/Berln\n", want: `config.yml: time_zone: "Europe/Berln" is not a known IANA time zone (such as UTC or Europe/Berlin)`},
		{name: "empty", config: base + "time_zone: \"\"\n", want: `config.yml: time_zone: "" is not a known IANA time zone (such as UTC or Europe/Berlin)`},
		{
			name:   "reported with the other problems",
			config: "sipgate: {dry_run: true}\ncontacts: {alice: {number: \"0151\"}}\nroutes: [{name: r, to: [alice]}]\ntime_zone: Mars/Olympus\n",
			want:   "config.yml: contacts.alice.number: \"0151\" is not an E.164 number (+4915112345678)\nconfig.yml: time_zone: \"Mars/Olympus\" is not a known IANA time zone (such as UTC or Europe/Berlin)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.config), "config.yml")
			got := ""
			switch {
			case err != nil:
				got = err.Error()
			case c.Location == nil:
				got = "<nil location>"
			default:
				got = c.Location.String()
			}
			if got != tc.want {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestPerAlertWithoutBoundWarns: a per_alert route that nothing caps sends
// one SMS per alert of a storm to each person: a warning says so.
func TestPerAlertWithoutBoundWarns(t *testing.T) {
	for _, tt := range []struct {
		name, config string
		warn         bool
	}{
		{"unbounded", "routes: [{name: r, mode: per_alert, to: [\"+4915100000001\"]}]", true},
		{"bypassing the limits", "limits: {per_recipient: [{max: 5, per: 10m}]}\nroutes: [{name: r, mode: per_alert, bypass_limits: true, to: [\"+4915100000001\"]}]", true},
		{"with summary_above", "routes: [{name: r, mode: per_alert, summary_above: 5, to: [\"+4915100000001\"]}]", false},
		{"with a limit", "limits: {per_recipient: [{max: 5, per: 10m}]}\nroutes: [{name: r, mode: per_alert, to: [\"+4915100000001\"]}]", false},
		{"grouped", "routes: [{name: r, to: [\"+4915100000001\"]}]", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte("sipgate: {dry_run: true}\n"+tt.config+"\n"), "config.yml")
			if err != nil {
				t.Fatal(err)
			}
			warned := slices.ContainsFunc(c.Warnings, func(w string) bool {
				return strings.HasPrefix(w, "config.yml: routes[0].mode: per_alert without summary_above")
			})
			if warned != tt.warn {
				t.Errorf("warnings %q: per_alert warning %v, want %v", c.Warnings, warned, tt.warn)
			}
		})
	}
}
