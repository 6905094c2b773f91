package route

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
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
			name:     "pinned route ignores matchers",
			receiver: "ops.team",
			pinned:   "ops-receiver",
			alerts:   []template.Alert{alert("A", "severity", "critical", "team", "db"), alert("B")},
			want:     "ops-receiver:bob!=A,B",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Pages(c, &template.Data{Receiver: tt.receiver, Alerts: tt.alerts}, tt.pinned, time.Unix(0, 0))
			if got := summary(res.Pages); got != tt.want {
				t.Errorf("pages = %s\nwant    %s", got, tt.want)
			}
			if len(res.Unrouted) != 0 || res.PinIgnored != PinFollowed {
				t.Errorf("unrouted %v, pin ignored %q; want none", names(res.Unrouted), res.PinIgnored)
			}
		})
	}
}

func names(alerts template.Alerts) string {
	var out []string
	for _, a := range alerts {
		out = append(out, a.Labels["alertname"])
	}
	return strings.Join(out, ",")
}

// TestUnrouted: alerts no route takes never keep the others from being
// paged; they are returned to be reported, and paged with the route of
// unmatched.to when the config has one.
func TestUnrouted(t *testing.T) {
	const routes = `
sipgate: {dry_run: true}
contacts:
  alice: {number: "+4915100000001"}
  bob: {number: "+4915100000002"}
  lead: {number: "+4915100000009"}
routes:
  - {name: crit, matchers: ['severity="critical"'], to: [alice]}
  - {name: db, matchers: ['team="db"'], to: [bob]}
`
	group := []template.Alert{alert("Crit", "severity", "critical"), alert("Warn", "severity", "warning"), alert("Slow", "team", "db"), alert("Info")}
	tests := []struct {
		name     string
		config   string
		alerts   []template.Alert
		want     string
		unrouted string
	}{
		{
			name:     "report only: the routed alerts are paged",
			config:   "unmatched: {report: true}",
			alerts:   group,
			want:     "crit:alice=Crit db:bob=Slow",
			unrouted: "Warn,Info",
		},
		{
			name:     "deprecated reject_unmatched reports, never rejects",
			config:   "reject_unmatched: true",
			alerts:   group,
			want:     "crit:alice=Crit db:bob=Slow",
			unrouted: "Warn,Info",
		},
		{
			name:     "fallback contacts get the unrouted alerts only",
			config:   "unmatched: {to: [lead]}",
			alerts:   group,
			want:     "crit:alice=Crit unmatched:lead=Warn,Info db:bob=Slow",
			unrouted: "Warn,Info",
		},
		{
			name:     "a fallback contact also reached by a route gets one page",
			config:   "unmatched: {report: true, to: [bob, lead]}",
			alerts:   group,
			want:     "crit:alice=Crit unmatched:bob=Warn,Slow,Info unmatched:lead=Warn,Info",
			unrouted: "Warn,Info",
		},
		{
			name:     "nothing routed: nobody paged, all reported",
			config:   "unmatched: {report: true}",
			alerts:   []template.Alert{alert("Warn"), alert("Info")},
			want:     "",
			unrouted: "Warn,Info",
		},
		{
			name:   "all routed: nothing reported",
			config: "unmatched: {to: [lead]}",
			alerts: []template.Alert{alert("Crit", "severity", "critical")},
			want:   "crit:alice=Crit",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Parse([]byte(routes+tt.config+"\n"), "test.yml")
			if err != nil {
				t.Fatal(err)
			}
			res := Pages(c, &template.Data{Receiver: "r", Alerts: tt.alerts}, "", time.Unix(0, 0))
			if got := summary(res.Pages); got != tt.want {
				t.Errorf("pages = %s\nwant    %s", got, tt.want)
			}
			if got := names(res.Unrouted); got != tt.unrouted {
				t.Errorf("unrouted = %q, want %q", got, tt.unrouted)
			}
		})
	}
}

// TestPinned: a pinned route is followed when it exists and is for the
// notification's receiver; otherwise the alerts are routed by matchers and
// the result says why, never an error that Alertmanager could only repeat.
func TestPinned(t *testing.T) {
	c, err := config.Parse([]byte(`
sipgate: {dry_run: true}
contacts:
  alice: {number: "+4915100000001"}
  bob: {number: "+4915100000002"}
  carol: {number: "+4915100000003"}
unmatched: {to: [carol]}
routes:
  - {name: crit, matchers: ['severity="critical"'], to: [alice]}
  - {name: night, receiver: sms.night, to: [bob]}
  - {name: any-receiver, matchers: ['never="true"'], to: [bob]}
`), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	group := []template.Alert{alert("Crit", "severity", "critical"), alert("Warn")}
	tests := []struct {
		name     string
		receiver string
		pinned   string
		want     string
		unrouted string
		ignored  PinIgnored
	}{
		{name: "pinned route of the receiver, quoted by Alertmanager", receiver: `sms\.night`, pinned: "night", want: "night:bob=Crit,Warn"},
		{name: "pinned route without receiver", receiver: "sms-day", pinned: "any-receiver", want: "any-receiver:bob=Crit,Warn"},
		{name: "unknown route: routed by matchers", receiver: "sms-day", pinned: "nigth", want: "crit:alice=Crit unmatched:carol=Warn", unrouted: "Warn", ignored: PinUnknownRoute},
		{name: "route of another receiver: routed by matchers", receiver: "sms-day", pinned: "night", want: "crit:alice=Crit unmatched:carol=Warn", unrouted: "Warn", ignored: PinReceiverMismatch},
		{name: "pinned route of the receiver, unquoted", receiver: "sms.night", pinned: "night", want: "night:bob=Crit,Warn"},
		{name: "matchers reach the receiver's route", receiver: "sms.night", pinned: "nope", want: "crit:alice=Crit night:bob=Warn", ignored: PinUnknownRoute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Pages(c, &template.Data{Receiver: tt.receiver, Alerts: group}, tt.pinned, time.Unix(0, 0))
			if got := summary(res.Pages); got != tt.want {
				t.Errorf("pages = %s\nwant    %s", got, tt.want)
			}
			if got := names(res.Unrouted); got != tt.unrouted {
				t.Errorf("unrouted = %q, want %q", got, tt.unrouted)
			}
			if res.PinIgnored != tt.ignored {
				t.Errorf("pin ignored = %q, want %q", res.PinIgnored, tt.ignored)
			}
			if want := strings.ReplaceAll(tt.receiver, `\`, ""); res.Receiver != want {
				t.Errorf("receiver = %q, want %q", res.Receiver, want)
			}
		})
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
	res := Pages(c, &template.Data{Receiver: "r", Alerts: []template.Alert{alert("Warn")}}, "", time.Unix(0, 0))
	if got := summary(res.Pages); got != "fallback:number=Warn" || len(res.Unrouted) != 0 {
		t.Errorf("pages = %s, unrouted %s; want the default route's, none", got, names(res.Unrouted))
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
		res := Pages(c, &template.Data{Alerts: []template.Alert{alert("A", "severity", tc.severity)}}, "", time.Unix(0, 0))
		if got := summary(res.Pages); got != tc.want {
			t.Errorf("%s: pages = %s, want %s", tc.severity, got, tc.want)
		}
	}
}

// TestSendResolvedOfSeveralRoutes: where several routes bring one alert to
// one person, the most permissive send_resolved applies to it, whichever
// route came first (and gives its template); each alert keeps the first
// route that brought it, whose quiet hours apply to it.
func TestSendResolvedOfSeveralRoutes(t *testing.T) {
	c, err := config.Parse([]byte(`
sipgate: {dry_run: true}
contacts:
  alice: {number: "+4915100000001"}
routes:
  - {name: quiet, matchers: ['team="db"'], to: [alice], send_resolved: never, continue: true}
  - {name: paged, matchers: ['severity="critical"'], to: [alice], send_resolved: if_paged, continue: true}
  - {name: loud, matchers: ['env="prod"'], to: [alice], send_resolved: always}
unmatched: {report: true}
`), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	res := Pages(c, &template.Data{Alerts: []template.Alert{
		alert("A", "team", "db"),
		alert("B", "team", "db", "severity", "critical"),
		alert("C", "team", "db", "severity", "critical", "env", "prod"),
		alert("D", "env", "prod"),
	}}, "", time.Unix(0, 0))
	if len(res.Pages) != 1 {
		t.Fatalf("pages = %s; want one for alice", summary(res.Pages))
	}
	p := res.Pages[0]
	if want := []string{config.ResolvedNever, config.ResolvedIfPaged, config.ResolvedAlways, config.ResolvedAlways}; p.Route.Name != "quiet" || !slices.Equal(p.SendResolved, want) {
		t.Errorf("route %s, send_resolved %v; want quiet, %v", p.Route.Name, p.SendResolved, want)
	}
	var routes []string
	for _, r := range p.Routes {
		routes = append(routes, r.Name)
	}
	if want := []string{"quiet", "quiet", "quiet", "loud"}; !slices.Equal(routes, want) {
		t.Errorf("the alerts' routes %v, want %v", routes, want)
	}
}

func TestMostPermissive(t *testing.T) {
	order := []string{config.ResolvedNever, config.ResolvedIfPaged, config.ResolvedAlways}
	for i, a := range order {
		for j, b := range order {
			if got, want := MostPermissive(a, b), order[max(i, j)]; got != want {
				t.Errorf("MostPermissive(%s, %s) = %s, want %s", a, b, got, want)
			}
		}
	}
}
