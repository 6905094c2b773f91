// Package mixin holds the alerting rules and the Grafana dashboard that
// watch alertmanager-sipgate, and lists the PromQL queries they run, so
// that tests can check each one against promtool and a real Prometheus.
package mixin

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	//go:embed alerts.yml
	alerts []byte
	//go:embed dashboard.json
	dashboard []byte
)

// Query is one PromQL query of the mixin.
type Query struct {
	// Where names it: the rule's alertname, or the dashboard panel or
	// variable and the target's refId.
	Where string
	// Expr is the query; in a dashboard query the Grafana variables are
	// replaced (see DashboardQueries).
	Expr string
}

// Rule is one alerting rule of alerts.yml.
type Rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// Rules returns the alerting rules of alerts.yml.
func Rules() ([]Rule, error) {
	var file struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []Rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(alerts)))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		return nil, fmt.Errorf("alerts.yml: %w", err)
	}
	var rules []Rule
	for _, g := range file.Groups {
		rules = append(rules, g.Rules...)
	}
	return rules, nil
}

// RuleQueries returns the expression of each alerting rule.
func RuleQueries() ([]Query, error) {
	rules, err := Rules()
	if err != nil {
		return nil, err
	}
	qs := make([]Query, len(rules))
	for i, r := range rules {
		qs[i] = Query{Where: "rule " + r.Alert, Expr: r.Expr}
	}
	return qs, nil
}

// Dashboard is the part of dashboard.json that the tests check.
type Dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []Panel `json:"panels"`
	Templating struct {
		List []Variable `json:"list"`
	} `json:"templating"`
}

// Panel is a panel of the dashboard; a row has no targets.
type Panel struct {
	ID         int        `json:"id"`
	Type       string     `json:"type"`
	Title      string     `json:"title"`
	Datasource Datasource `json:"datasource"`
	GridPos    struct {
		H int `json:"h"`
		W int `json:"w"`
		X int `json:"x"`
		Y int `json:"y"`
	} `json:"gridPos"`
	Targets []struct {
		RefID      string     `json:"refId"`
		Expr       string     `json:"expr"`
		Datasource Datasource `json:"datasource"`
	} `json:"targets"`
}

// Datasource is where a panel or target queries.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Variable is a dashboard variable; a query variable's Definition is
// Grafana's label_values(SELECTOR, LABEL).
type Variable struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Definition string `json:"definition"`
	AllValue   string `json:"allValue"`
}

// ReadDashboard decodes dashboard.json.
func ReadDashboard() (*Dashboard, error) {
	var d Dashboard
	if err := json.Unmarshal(dashboard, &d); err != nil {
		return nil, fmt.Errorf("dashboard.json: %w", err)
	}
	return &d, nil
}

// labelValues is Grafana's label_values(SELECTOR, LABEL) of a variable.
var labelValues = regexp.MustCompile(`^label_values\((.+), *([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

// DashboardQueries returns every target's query and every variable's
// selector, ready to run outside Grafana: $__rate_interval becomes
// rateInterval (such as "1m"), and $job and $instance match every value,
// as the variables' All (".+") does.
func DashboardQueries(rateInterval string) ([]Query, error) {
	d, err := ReadDashboard()
	if err != nil {
		return nil, err
	}
	vars := strings.NewReplacer("$__rate_interval", rateInterval, "$job", ".+", "$instance", ".+")
	var qs []Query
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			return nil, fmt.Errorf("dashboard.json: variable %s: definition %q is not label_values(SELECTOR, LABEL)", v.Name, v.Definition)
		}
		qs = append(qs, Query{Where: "dashboard variable " + v.Name, Expr: vars.Replace(m[1])})
	}
	for _, p := range d.Panels {
		for _, t := range p.Targets {
			qs = append(qs, Query{
				Where: fmt.Sprintf("dashboard panel %d %q target %s", p.ID, p.Title, t.RefID),
				Expr:  vars.Replace(t.Expr),
			})
		}
	}
	return qs, nil
}
