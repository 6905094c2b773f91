package config

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/bounded"
)

// secretKeys are the keys whose values are Secrets.
var secretKeys = map[string]bool{"token": true, "password": true, "bearer_token": true}

// secretMark is what the seeds' secrets contain, and what no error about a
// value in the wrong place may show. Upper case: no message of ours has it.
const secretMark = "CRET"

// FuzzConfig parses arbitrary config files. Whatever the file, Parse returns
// a config that keeps the promises the rest of the service builds on, or an
// error that names each problem on a line of its own and never shows a
// secret, in bounded time.
//
// Run it longer with
//
//	go test -run '^$' -fuzz '^FuzzConfig$' -fuzztime 10m ./internal/config/
func FuzzConfig(f *testing.F) {
	for _, name := range []string{"default.yml", "../../examples/config.yml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		// The example's secret files, relative, so that it is not skipped.
		f.Add(bytes.ReplaceAll(b, []byte("/etc/alertmanager-sipgate/"), nil))
	}
	f.Add([]byte(valid))
	f.Add([]byte(schedulesBase + teamSchedule))
	for _, s := range []string{
		"sipgate: {token_id: t, token: SECRET-token-1}\nwebhook: {bearer_token: SECRET-bearer-2}\nroutes: [{name: r, to: [\"+4915112345678\"]}]\n",
		"sipgate: {username: u, password: SECRET-pass-3}\nwebhook: {basic_auth: {username: am, password: SECRET-pass-4}}\nroutes: [{name: r, to: [\"+4915112345678\"]}]\n",
		// Secrets in the wrong places: a duration, a number, a list, a
		// struct; with the quote yaml puts around a value.
		"sipgate: {dry_run: true, timeout: SECRET-abcdef}\nroutes: [{name: r, to: [\"+4915112345678\"]}]\n",
		"sipgate: {dry_run: true}\nwebhook: {max_body_bytes: \"SE`CRET-a\"}\nroutes: [{name: r, to: [\"+4915112345678\"]}]\n",
		"sipgate: {dry_run: true}\nlimits: {per_recipient: [{max: 1, per: \"SECRET\\n-x\"}]}\nroutes: [{name: r, to: [\"+4915112345678\"]}]\n",
		"sipgate: {dry_run: [SECRET-x]}\nwebhook: {basic_auth: SECRET-hunter2}\n",
		"SECRET-root\n",
		// Keys that would break a problem over two lines.
		"sipgate: {dry_run: true}\ncontacts: {\"a\\nb\": {number: x}}\ngroups: {\"g\\r\": [\"c\\nd\"]}\nroutes: [{name: \"r\\n\", to: [\"a\\nb\", \"x\\u2028y\"]}]\n",
		"sipgate: {dry_run: true}\nroutes: [{name: r, matchers: ['a=\"b', '{x=~\"(\"}', 'severity=\"critical\"'], to: [\"+4915112345678\"], mode: per_alert, summary_above: 2}]\ndefault_route: \"r\\n\"\n",
		"sipgate: {dry_run: true}\nroutes: [{name: r, to: [\"+4915112345678\"], template: '{{ .Nope }'}]\n",
		"a: &a [*a, *a]\n",
		"routes: [~]\n",
	} {
		f.Add([]byte(s))
	}

	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, doc []byte) {
		node, parsed := inspect(doc)
		if parsed && node.outside {
			// Parse reads the files and globs a config names; outside an
			// empty directory those could be anything, /dev/zero even.
			t.Skip("names a path outside the config's directory")
		}
		name := dir + "/fuzz.yml"
		var c *Config
		var err error
		bounded.Within(t, 10*time.Second, func() { c, err = Parse(doc, name) })
		if err == nil {
			checkValid(t, c)
			return
		}

		msg := err.Error()
		if msg == "" {
			t.Fatal("empty error")
		}
		for _, line := range strings.Split(msg, "\n") {
			problem, ok := strings.CutPrefix(line, name+": ")
			if !ok || strings.TrimSpace(problem) == "" {
				t.Errorf("line %q of the error does not name the file and a problem:\n%s", line, msg)
			}
			if i := strings.IndexFunc(line, breaksLine); i >= 0 {
				t.Errorf("line %q of the error has a line break %U", line, []rune(line[i:])[0])
			}
		}
		if !parsed || node.markOutsideValues {
			return
		}
		var problems *Error
		if !errors.As(err, &problems) {
			// The file did not decode: nothing in the message is a value.
			if strings.Contains(msg, secretMark) {
				t.Errorf("decode error shows a value: %s", msg)
			}
			return
		}
		for _, s := range node.secrets {
			if strings.Contains(s, secretMark) && strings.Contains(msg, s) && !node.plain[s] {
				t.Errorf("error shows the secret %q: %s", s, msg)
			}
		}
	})
}

// breaksLine reports whether r ends a line in a terminal or an editor.
func breaksLine(r rune) bool {
	return r == '\n' || r == '\r' || r == '\v' || r == '\f' || r == 0x85 || r == 0x2028 || r == 0x2029
}

// checkValid fails unless c keeps the promises of a loaded config.
func checkValid(t *testing.T, c *Config) {
	t.Helper()
	if len(c.Routes) == 0 {
		t.Fatal("valid config without routes")
	}
	names := map[string]bool{}
	for i, r := range c.Routes {
		if r == nil {
			t.Fatalf("routes[%d] is nil", i)
		}
		if r.Name == "" || names[r.Name] {
			t.Errorf("routes[%d]: name %q empty or used twice", i, r.Name)
		}
		names[r.Name] = true
		if len(r.Recipients) == 0 && len(r.Schedules) == 0 {
			t.Errorf("routes[%d]: no recipients", i)
		}
		for _, name := range r.Schedules {
			if s := c.Schedules[name]; s == nil || s.Rotation == nil || s.Rotation.Validate() != nil {
				t.Errorf("routes[%d]: schedule %q not built or not valid", i, name)
			}
		}
		numbers := map[string]bool{}
		for _, rcpt := range r.Recipients {
			if !phonePattern.MatchString(rcpt.Number) || numbers[rcpt.Number] {
				t.Errorf("routes[%d]: recipient %+v not E.164 or twice", i, rcpt)
			}
			numbers[rcpt.Number] = true
		}
		if r.MaxSegments < 1 || r.MaxSegments > 10 {
			t.Errorf("routes[%d]: max_segments %d", i, r.MaxSegments)
		}
		if r.Template == "" {
			t.Errorf("routes[%d]: no template", i)
		}
		if r.Mode != ModeGrouped && r.Mode != ModePerAlert {
			t.Errorf("routes[%d]: mode %q", i, r.Mode)
		}
		if r.SendResolved != ResolvedAlways && r.SendResolved != ResolvedNever && r.SendResolved != ResolvedIfPaged {
			t.Errorf("routes[%d]: send_resolved %q", i, r.SendResolved)
		}
		if r.Encoding != EncodingAuto && r.Encoding != EncodingGSM7 {
			t.Errorf("routes[%d]: encoding %q", i, r.Encoding)
		}
	}
	switch {
	case c.DefaultRoute != "" && c.Route(c.DefaultRoute) == nil:
		t.Errorf("default_route %q is no route", c.DefaultRoute)
	case c.DefaultRoute != "" && c.RejectUnmatched:
		t.Error("default_route and reject_unmatched both set")
	}
	if c.Webhook.MaxBodyBytes <= 0 || c.Webhook.Timeout <= 0 || c.Sipgate.Timeout <= 0 || c.Delivery.Concurrency <= 0 || c.Delivery.DedupWindow <= 0 || c.Limits.DigestCheck <= 0 {
		t.Errorf("bounds not positive: %+v %+v %+v", c.Webhook, c.Delivery, c.Limits)
	}
	if !c.Sipgate.DryRun {
		if user, pass := c.Sipgate.Credentials(); user == "" || pass == "" {
			t.Error("sends without credentials")
		}
	}
	// The printed config hides every secret.
	out := c.String()
	for _, s := range []Secret{c.Sipgate.Token, c.Sipgate.Password, c.Webhook.BearerToken} {
		if len(s) >= 4 && strings.Contains(out, s.Value()) && !strings.Contains(hideSecrets(c).String(), s.Value()) {
			t.Errorf("printed config shows the secret %q", s.Value())
		}
	}
}

// hideSecrets is a copy of c with its secrets emptied.
func hideSecrets(c *Config) *Config {
	h := *c
	h.Sipgate.Token, h.Sipgate.Password, h.Webhook.BearerToken = "", "", ""
	if c.Webhook.BasicAuth != nil {
		ba := *c.Webhook.BasicAuth
		ba.Password = ""
		h.Webhook.BasicAuth = &ba
	}
	return &h
}

// yamlFacts is what FuzzConfig needs to know of a document to judge the
// error it gets.
type yamlFacts struct {
	// secrets are the scalar values of the secret keys.
	secrets []string
	// plain are the scalar values elsewhere: a secret written there too
	// may be quoted as that other value.
	plain map[string]bool
	// markOutsideValues is set when secretMark is in a key, tag or anchor:
	// those may be named in errors.
	markOutsideValues bool
	// outside is set when a value is an absolute path or climbs out of the
	// config's directory.
	outside bool
}

// inspect reads doc as Parse's decoder does, its first document only.
func inspect(doc []byte) (yamlFacts, bool) {
	var root yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(string(doc)))
	if err := dec.Decode(&root); err != nil {
		return yamlFacts{}, false
	}
	facts := yamlFacts{plain: map[string]bool{}}
	seen := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node, key string)
	walk = func(n *yaml.Node, key string) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		if strings.Contains(n.Tag, secretMark) || strings.Contains(n.Anchor, secretMark) {
			facts.markOutsideValues = true
		}
		if n.Kind == yaml.ScalarNode {
			if secretKeys[key] {
				facts.secrets = append(facts.secrets, n.Value)
			} else {
				facts.plain[n.Value] = true
			}
			if strings.HasPrefix(n.Value, "/") || strings.Contains(n.Value, "..") {
				facts.outside = true
			}
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if k.Kind != yaml.ScalarNode || strings.Contains(k.Value, secretMark) {
					facts.markOutsideValues = true
				}
				walk(k, "")
				walk(n.Content[i+1], k.Value)
			}
			return
		}
		for _, c := range n.Content {
			walk(c, "")
		}
		walk(n.Alias, key)
	}
	walk(&root, "")
	return facts, true
}
