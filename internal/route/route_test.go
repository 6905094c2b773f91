package route

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
)

const cfg = `
sipgate: {dry_run: true}
contacts:
  alice: {number: "+4915100000001"}
  bob: {number: "+4915100000002"}
  carol: {number: "+4915100000003"}
groups:
  db: [alice, bob]
routes:
  - name: db-critical
    matchers: ['severity="critical"', 'team=~"db|storage"']
    to: [db]
    continue: true
  - name: critical
    matchers: ['severity="critical"']
    to: [carol, alice]
  - name: ops-receiver
    receiver: ops.team
    to: [bob]
    bypass_limits: true
  - name: catch-all
    to: [carol]
`

func alert(name string, labels ...string) template.Alert {
	kv := template.KV{"alertname": name}
	for i := 0; i+1 < len(labels); i += 2 {
		kv[labels[i]] = labels[i+1]
	}
	return template.Alert{Status: "firing", Labels: kv, Fingerprint: name}
}

// summary renders pages as "route:contact=alert,alert" for comparison, with
// a "!" after the contact when the page bypasses limits.
func summary(pages []Page) string {
	var parts []string
	for _, p := range pages {
		var names []string
		for _, a := range p.Alerts {
			names = append(names, a.Labels["alertname"])
		}
		bypass := ""
		if p.BypassLimits {
			bypass = "!"
		}
		parts = append(parts, fmt.Sprintf("%s:%s%s=%s", p.Route.Name, p.Recipient.Label(), bypass, strings.Join(names, ",")))
	}
	return strings.Join(parts, " ")
}

func TestPages(t *testing.T) {
	c, err := config.Parse([]byte(cfg), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		receiver string
		pinned   string
		alerts   []template.Alert
		want     string
	}{
		{
			name:   "continue reaches later routes, each person once",
			alerts: []template.Alert{alert("DBDown", "severity", "critical", "team", "db")},
			want:   "db-critical:alice=DBDown db-critical:bob=DBDown critical:carol=DBDown",
		},
		{
			name:   "per alert: different people for different alerts of one group",
			alerts: []template.Alert{alert("A", "severity", "critical", "team", "web"), alert("B", "severity", "warning")},
			want:   "critical:carol=A,B critical:alice=A",
		},
		{
			name:     "receiver name unquoted as Alertmanager quotes it",
			receiver: `ops\.team`,
			alerts:   []template.Alert{alert("X", "severity", "info")},
			want:     "ops-receiver:bob!=X",
		},
		{
			name:     "other receiver falls through to catch-all",
			receiver: "opsxteam",
			alerts:   []template.Alert{alert("X")},
			want:     "catch-all:carol=X",
		},
		{
			name:   "pinned route ignores matchers",
			pinned: "ops-receiver",
			alerts: []template.Alert{alert("A", "severity", "critical", "team", "db"), alert("B")},
			want:   "ops-receiver:bob!=A,B",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pages, err := Pages(c, &template.Data{Receiver: tt.receiver, Alerts: tt.alerts}, tt.pinned)
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(pages); got != tt.want {
				t.Errorf("pages = %s\nwant    %s", got, tt.want)
			}
		})
	}
}

func TestPagesErrors(t *testing.T) {
	c, err := config.Parse([]byte(`
sipgate: {dry_run: true}
reject_unmatched: true
routes: [{name: crit, matchers: ['severity="critical"'], to: ["+4915100000001"]}]
`), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	data := &template.Data{Receiver: "r", Alerts: []template.Alert{alert("Crit", "severity", "critical"), alert("Warn")}}
	if _, err := Pages(c, data, ""); !errors.Is(err, notification.ErrUnmatched) || !strings.Contains(err.Error(), "Warn") {
		t.Errorf("unmatched: err = %v, want ErrUnmatched naming Warn", err)
	}
	if _, err := Pages(c, data, "nope"); !errors.Is(err, notification.ErrUnknownRoute) {
		t.Errorf("pinned to unknown route: err = %v, want ErrUnknownRoute", err)
	}
}

func TestDefaultRoute(t *testing.T) {
	c, err := config.Parse([]byte(`
sipgate: {dry_run: true}
default_route: fallback
routes:
  - {name: crit, matchers: ['severity="critical"'], to: ["+4915100000001"]}
  - {name: fallback, receiver: nobody, to: ["+4915100000002"]}
`), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	pages, err := Pages(c, &template.Data{Receiver: "r", Alerts: []template.Alert{alert("Warn")}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(pages); got != "fallback:number=Warn" {
		t.Errorf("pages = %s", got)
	}
}

func TestBypassOfALaterRoute(t *testing.T) {
	c, err := config.Parse([]byte(`
sipgate: {dry_run: true}
routes:
  - {name: all, to: ["+4915100000001"], continue: true}
  - {name: crit, matchers: ['severity="critical"'], to: ["+4915100000001"], bypass_limits: true}
`), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		severity string
		want     string
	}{{"critical", "all:number!=A"}, {"warning", "all:number=A"}} {
		pages, err := Pages(c, &template.Data{Alerts: []template.Alert{alert("A", "severity", tc.severity)}}, "")
		if err != nil {
			t.Fatal(err)
		}
		if got := summary(pages); got != tc.want {
			t.Errorf("%s: pages = %s, want %s", tc.severity, got, tc.want)
		}
	}
}
