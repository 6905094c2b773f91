package mixin_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/examples/mixin"
)

// promtool returns the path of Prometheus's promtool. Without it the test
// is skipped, except in CI (CI=true), where .ci/run installs it.
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("promtool is needed in CI (Debian package prometheus): %v", err)
		}
		t.Skipf("promtool not installed (apt-get install prometheus): %v", err)
	}
	return path
}

// runPromtool runs promtool with args in dir and returns its output and
// whether it succeeded.
func runPromtool(t *testing.T, dir string, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("run promtool %s: %v", strings.Join(args, " "), err)
		}
		return string(out), false
	}
	return string(out), true
}

func TestPromtoolChecksAndTestsTheRules(t *testing.T) {
	for _, args := range [][]string{
		{"check", "rules", "alerts.yml"},
		{"test", "rules", "alerts_test.yml"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, ok := runPromtool(t, ".", args...)
			if !ok {
				t.Errorf("promtool %s failed:\n%s", strings.Join(args, " "), out)
			}
		})
	}
}

// checkQueries has promtool parse each query, as the expression of a
// recording rule, and returns its complaints when there are any.
func checkQueries(t *testing.T, qs []mixin.Query) (string, bool) {
	t.Helper()
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	type group struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	}
	g := group{Name: "queries"}
	for i, q := range qs {
		g.Rules = append(g.Rules, rule{Record: fmt.Sprintf("query:%d", i), Expr: q.Expr})
	}
	b, err := yaml.Marshal(map[string][]group{"groups": {g}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "queries.yml"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return runPromtool(t, dir, "check", "rules", "queries.yml")
}

func TestDashboardQueriesParse(t *testing.T) {
	qs, err := mixin.DashboardQueries("5m")
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < 30 {
		t.Fatalf("%d dashboard queries, want every panel's (at least 30)", len(qs))
	}
	for _, q := range qs {
		if strings.Contains(q.Expr, "$") {
			t.Errorf("%s: a Grafana variable is left after replacing them: %s", q.Where, q.Expr)
		}
	}
	if out, ok := checkQueries(t, qs); !ok {
		t.Errorf("promtool rejects a dashboard query:\n%s", out)
	}
	// The same check rejects a query that does not parse.
	broken := []mixin.Query{{Where: "broken", Expr: `sum(rate(alertmanager_sipgate_sms_total[5m])`}}
	if out, ok := checkQueries(t, broken); ok {
		t.Errorf("promtool accepted an unbalanced query:\n%s", out)
	}
}

// unitTests is the part of alerts_test.yml that says which alerts are
// expected when.
type unitTests struct {
	Tests []struct {
		Name  string `yaml:"name"`
		Cases []struct {
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// TestEveryAlertIsTested checks that alerts_test.yml makes each alert
// fire and, in another case, not fire; promtool alone would pass a file
// that tests a misspelt alertname for silence.
func TestEveryAlertIsTested(t *testing.T) {
	rules, err := mixin.Rules()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("alerts_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	var tests unitTests
	if err := yaml.Unmarshal(b, &tests); err != nil {
		t.Fatalf("alerts_test.yml: %v", err)
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, c := range tc.Cases {
			if !slices.ContainsFunc(rules, func(r mixin.Rule) bool { return r.Alert == c.Alertname }) {
				t.Errorf("alerts_test.yml: test %q expects alert %q, which alerts.yml does not have", tc.Name, c.Alertname)
			}
			if len(c.ExpAlerts) > 0 {
				fires[c.Alertname] = true
			} else {
				silent[c.Alertname] = true
			}
		}
	}
	for _, r := range rules {
		if !fires[r.Alert] {
			t.Errorf("alerts_test.yml has no case in which %s fires", r.Alert)
		}
		if !silent[r.Alert] {
			t.Errorf("alerts_test.yml has no case in which %s stays silent", r.Alert)
		}
	}
}

func TestRulesSayHowBadAndWhatToDo(t *testing.T) {
	rules, err := mixin.Rules()
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) == 0 {
		t.Fatal("alerts.yml has no rules")
	}
	seen := map[string]bool{}
	for _, r := range rules {
		if !strings.HasPrefix(r.Alert, "AlertmanagerSipgate") {
			t.Errorf("%s: alertname does not start with AlertmanagerSipgate", r.Alert)
		}
		if seen[r.Alert] {
			t.Errorf("%s: two rules of that name", r.Alert)
		}
		seen[r.Alert] = true
		if s := r.Labels["severity"]; !slices.Contains([]string{"critical", "warning", "info"}, s) {
			t.Errorf("%s: severity %q, want critical, warning or info", r.Alert, s)
		}
		for _, a := range []string{"summary", "description"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("%s: no %s annotation", r.Alert, a)
			}
		}
	}
}

// selector is a metric name and its label matchers in a query.
var selector = regexp.MustCompile(`\b(alertmanager_sipgate_\w+|up|process_\w+|go_\w+)(\{[^}]*\})?`)

func TestDashboardShape(t *testing.T) {
	d, err := mixin.ReadDashboard()
	if err != nil {
		t.Fatal(err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid %q, title %q: want both", d.UID, d.Title)
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if ids[p.ID] {
			t.Errorf("%s: id used twice", where)
		}
		ids[p.ID] = true
		if g := p.GridPos; g.W < 1 || g.X < 0 || g.X+g.W > 24 || g.H < 1 {
			t.Errorf("%s: gridPos %+v is outside Grafana's 24 columns", where, g)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no query", where)
		}
		checkDatasource(t, where, p.Datasource)
		for _, tg := range p.Targets {
			checkDatasource(t, where+" target "+tg.RefID, tg.Datasource)
			checkSelectors(t, where+" target "+tg.RefID, tg.Expr)
		}
	}
}

// checkDatasource wants the dashboard's datasource variable, so that the
// dashboard works with whatever the Prometheus data source is called.
func checkDatasource(t *testing.T, where string, ds mixin.Datasource) {
	t.Helper()
	if ds.Type != "prometheus" || ds.UID != "${datasource}" {
		t.Errorf("%s: datasource %+v, want prometheus ${datasource}", where, ds)
	}
}

// checkSelectors wants every metric of expr selected by the dashboard's
// job and instance variables.
func checkSelectors(t *testing.T, where, expr string) {
	t.Helper()
	sels := selector.FindAllStringSubmatch(expr, -1)
	if len(sels) == 0 {
		t.Errorf("%s: no metric of alertmanager-sipgate in %s", where, expr)
	}
	for _, m := range sels {
		if !strings.Contains(m[2], `job=~"$job"`) || !strings.Contains(m[2], `instance=~"$instance"`) {
			t.Errorf("%s: %s%s is not selected by $job and $instance", where, m[1], m[2])
		}
	}
}

// documented are the metric names in README.md's metrics table.
func documented(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(alertmanager_sipgate_\\w+)`").FindAllStringSubmatch(string(b), -1) {
		names[m[1]] = true
	}
	if len(names) < 20 {
		t.Fatalf("README.md's metrics table lists %d metrics: is it still a table of `name` rows?", len(names))
	}
	return names
}

// TestQueriesUseDocumentedMetrics catches a misspelt metric name, which
// would leave a rule silent and a panel empty forever.
func TestQueriesUseDocumentedMetrics(t *testing.T) {
	names := documented(t)
	rqs, err := mixin.RuleQueries()
	if err != nil {
		t.Fatal(err)
	}
	dqs, err := mixin.DashboardQueries("5m")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append(rqs, dqs...) {
		for _, m := range selector.FindAllStringSubmatch(q.Expr, -1) {
			name := m[1]
			if !strings.HasPrefix(name, "alertmanager_sipgate_") {
				continue
			}
			base := name
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				if b, ok := strings.CutSuffix(name, suffix); ok && names[b] {
					base = b
				}
			}
			if !names[base] {
				t.Errorf("%s: %s is not in README.md's metrics table", q.Where, name)
			}
		}
	}
}
