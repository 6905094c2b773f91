package route

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
)

// Separators of the alerts argument of FuzzRoute: alerts are records,
// labels are units, each "name=value" split at its first "=".
const (
	alertSep = "\x1e"
	labelSep = "\x1f"
)

// Bits of the flags argument of FuzzRoute.
const (
	continue0 = 1 << iota
	continue1
	continue2
	policyShift = iota // three bits: what happens to alerts no route matches
)

// Unmatched-alert policies of FuzzRoute's config.
const (
	policyCatchAll = iota
	policyDefaultRoute
	// policyRejectUnmatched is the deprecated reject_unmatched: true,
	// which now reports.
	policyRejectUnmatched
	policyDefaultAndCatchAll
	policyReport
	// policyReportTo pages recipients that routes reach too.
	policyReportTo
	// policyReportToAndCatchAll has an unmatched.to that is never used.
	policyReportToAndCatchAll
	// policyReportToOwn pages a recipient no route reaches.
	policyReportToOwn
)

// FuzzRoute routes fuzzed label sets through a config with fuzzed matchers
// and receiver names. Pages must never panic and must page exactly whom
// the routes say: an alert reaches every recipient of each route that
// takes it (routes tried in order, on past a match only with continue,
// else the default route, else unmatched.to), nobody else, and each
// recipient once. A pinned route is followed when it exists and is for the
// notification's receiver, else the alerts go by matchers. Every alert is
// paged to someone or returned as unrouted: none is lost.
//
// Run it longer with
//
//	go test -run '^$' -fuzz '^FuzzRoute$' -fuzztime 10m ./internal/route/
func FuzzRoute(f *testing.F) {
	for _, name := range []string{"webhook-firing-2-alerts.json", "webhook-resolved-2-alerts.json"} {
		b, err := os.ReadFile("../../receiver/testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		var n notification.Notification
		if err := json.Unmarshal(b, &n); err != nil {
			f.Fatal(err)
		}
		alerts := encodeAlerts(n.Alerts)
		f.Add(`severity="critical"`, `{team=~"pay.*", instance!="web-2:8080"}`, ``, n.Receiver, n.Receiver, alerts, "", uint8(continue0))
		f.Add(`team=~"db|storage"`, `severity!~"warn.*"`, `alertname="HighErrorRate"`, `sms.bridge`, `sms\.bridge`, alerts, "", uint8(continue0|continue1|policyDefaultRoute<<policyShift))
		f.Add(`{service="checkout",severity="critical"}`, `instance=~"web-1.*"`, `{}`, "", n.Receiver, alerts, "", uint8(continue1|policyRejectUnmatched<<policyShift))
		f.Add(`foo="bar"`, `instance="web-1:8080"`, `"quoted name"="x"`, n.Receiver, n.Receiver, alerts, "r1", uint8(policyDefaultAndCatchAll<<policyShift))
		f.Add(`severity="critical"`, ``, ``, "", "", alerts, "nope", uint8(0))
		f.Add(`instance="web-1:8080"`, `severity="critical"`, `foo="bar"`, n.Receiver, n.Receiver, alerts, "", uint8(policyReport<<policyShift))
		f.Add(`instance="web-2:8080"`, ``, `foo="bar"`, "other-receiver", n.Receiver, alerts, "", uint8(continue0|policyReportTo<<policyShift))
		f.Add(`instance="web-1:8080"`, `instance="web-2:8080"`, ``, n.Receiver, n.Receiver, alerts, "r1", uint8(policyReportToOwn<<policyShift))
		f.Add(`severity="critical"`, ``, ``, "other-receiver", n.Receiver, alerts, "r1", uint8(policyReportToOwn<<policyShift))
		f.Add(`foo="bar"`, ``, ``, "", n.Receiver, alerts, "r2", uint8(policyReportToAndCatchAll<<policyShift))
	}
	f.Add(`a=~".*"`, `a!~"\\x00"`, `a="\u2028"`, "r", "r", "a=\x00"+alertSep+"a=\u2028"+labelSep+"b="+alertSep, "", uint8(7|policyRejectUnmatched<<policyShift))

	f.Fuzz(func(t *testing.T, m0, m1, m2, routeReceiver, receiver, alertsBlob, pinned string, flags uint8) {
		doc := fuzzConfig([3]string{m0, m1, m2}, routeReceiver, flags)
		c, err := config.Parse([]byte(doc), "fuzz.yml")
		if err != nil {
			t.Skipf("invalid config: %v", err)
		}
		// Alertmanager sends the receiver name quoted; names in its config
		// are YAML, valid UTF-8.
		receiver = strings.ToValidUTF8(receiver, "\uFFFD")
		data := &template.Data{Receiver: regexp.QuoteMeta(receiver), Alerts: decodeAlerts(alertsBlob)}

		var res Result
		done := make(chan struct{})
		go func() {
			defer close(done)
			res = Pages(c, data, pinned, time.Unix(0, 0))
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("no pages within 10s")
		}

		want, wantUnrouted, wantIgnored := expectPages(c, receiver, data.Alerts, pinned)
		if res.Receiver != receiver {
			t.Errorf("receiver = %q, want %q", res.Receiver, receiver)
		}
		if res.PinIgnored != wantIgnored {
			t.Errorf("pinned %q: ignored = %q, want %q", pinned, res.PinIgnored, wantIgnored)
		}
		var gotUnrouted []string
		for _, a := range res.Unrouted {
			gotUnrouted = append(gotUnrouted, a.Fingerprint)
		}
		if fmt.Sprint(gotUnrouted) != fmt.Sprint(wantUnrouted) {
			t.Errorf("config:\n%s\nreceiver %q, alerts %q: unrouted %v, want %v", doc, receiver, labelSets(data.Alerts), gotUnrouted, wantUnrouted)
		}
		// None is lost: each alert is paged to someone or reported.
		accounted := map[string]bool{}
		for _, fp := range gotUnrouted {
			accounted[fp] = true
		}
		for _, p := range res.Pages {
			for _, a := range p.Alerts {
				accounted[a.Fingerprint] = true
			}
		}
		for _, a := range data.Alerts {
			if !accounted[a.Fingerprint] {
				t.Errorf("alert %s is neither paged nor reported", a.Fingerprint)
			}
		}
		got := map[string]expected{}
		for _, p := range res.Pages {
			if _, twice := got[p.Recipient.Number]; twice {
				t.Fatalf("%s has two pages", p.Recipient.Number)
			}
			var e expected
			e.route, e.bypass = p.Route.Name, p.BypassLimits
			for _, a := range p.Alerts {
				e.alerts = append(e.alerts, a.Fingerprint)
			}
			got[p.Recipient.Number] = e
		}
		if fmt.Sprint(sorted(got)) != fmt.Sprint(sorted(want)) {
			t.Errorf("config:\n%s\nreceiver %q, alerts %q, pinned %q:\n got %v\nwant %v", doc, receiver, labelSets(data.Alerts), pinned, sorted(got), sorted(want))
		}
	})
}

// expected is one recipient's page: the first route that reached them,
// whether any that did bypasses the limits, the alerts by fingerprint.
type expected struct {
	route  string
	bypass bool
	alerts []string
}

// expectPages routes the alerts as the config describes it, from its
// parsed fields, alert by alert and route by route: whom it pages, the
// fingerprints of the alerts no route takes, and why a pin was ignored.
func expectPages(c *config.Config, receiver string, alerts []template.Alert, pinned string) (map[string]expected, []string, PinIgnored) {
	want := map[string]expected{}
	reach := func(r *config.Route, a template.Alert) {
		for _, rcpt := range r.Recipients {
			e, ok := want[rcpt.Number]
			if !ok {
				e.route = r.Name
			}
			e.bypass = e.bypass || r.BypassLimits
			if len(e.alerts) == 0 || e.alerts[len(e.alerts)-1] != a.Fingerprint {
				e.alerts = append(e.alerts, a.Fingerprint)
			}
			want[rcpt.Number] = e
		}
	}
	var ignored PinIgnored
	if pinned != "" {
		r := c.Route(pinned)
		switch {
		case r == nil:
			ignored = PinUnknownRoute
		case r.Receiver != "" && r.Receiver != receiver:
			ignored = PinReceiverMismatch
		default:
			for _, a := range alerts {
				reach(r, a)
			}
			return want, nil, PinFollowed
		}
	}
	var unrouted []string
	for _, a := range alerts {
		matched := false
		for _, r := range c.Routes {
			if r.Receiver != "" && r.Receiver != receiver {
				continue
			}
			takes := true
			for _, m := range r.LabelMatchers {
				takes = takes && m.Matches(a.Labels[m.Name])
			}
			if !takes {
				continue
			}
			matched = true
			reach(r, a)
			if !r.Continue {
				break
			}
		}
		switch {
		case matched:
		case c.DefaultRoute != "":
			reach(c.Route(c.DefaultRoute), a)
		default:
			unrouted = append(unrouted, a.Fingerprint)
			if c.Unmatched != nil && c.Unmatched.Route != nil {
				reach(c.Unmatched.Route, a)
			}
		}
	}
	return want, unrouted, ignored
}

func sorted(m map[string]expected) []string {
	out := make([]string, 0, len(m))
	for number, e := range m {
		out = append(out, fmt.Sprintf("%s:%s bypass=%v %v", number, e.route, e.bypass, e.alerts))
	}
	sort.Strings(out)
	return out
}

// fuzzConfig is a config of three routes with the given matchers, the
// second for the given receiver, with recipients that overlap.
func fuzzConfig(matchers [3]string, receiver string, flags uint8) string {
	var b strings.Builder
	b.WriteString(`sipgate: {dry_run: true}
contacts:
  alice: {number: "+4915100000001"}
  bob: {number: "+4915100000002"}
  carol: {number: "+4915100000003"}
  dave: {number: "+4915100000004"}
groups:
  dba: [alice, bob]
routes:
`)
	route := func(name, matcher, receiver, to string, cont bool, extra string) {
		fmt.Fprintf(&b, "  - name: %s\n    to: %s\n    continue: %v\n", name, to, cont)
		if matcher != "" {
			fmt.Fprintf(&b, "    matchers: [%s]\n", yamlQuote(matcher))
		}
		if receiver != "" {
			fmt.Fprintf(&b, "    receiver: %s\n", yamlQuote(receiver))
		}
		b.WriteString(extra)
	}
	route("r0", matchers[0], "", "[dba, carol]", flags&continue0 != 0, "")
	route("r1", matchers[1], strings.ToValidUTF8(receiver, "\uFFFD"), `[bob, "+4930123456789"]`, flags&continue1 != 0, "    bypass_limits: true\n")
	route("r2", matchers[2], "", `["+4930123456789", alice]`, flags&continue2 != 0, "")
	switch flags >> policyShift & 7 {
	case policyCatchAll:
		route("catch-all", "", "", "[dave]", false, "")
	case policyDefaultRoute:
		b.WriteString("default_route: r1\n")
	case policyRejectUnmatched:
		b.WriteString("reject_unmatched: true\n")
	case policyDefaultAndCatchAll:
		route("catch-all", "", "", "[dave]", false, "")
		b.WriteString("default_route: catch-all\n")
	case policyReport:
		b.WriteString("unmatched: {report: true}\n")
	case policyReportTo:
		b.WriteString("unmatched: {to: [carol, \"+4930123456789\"]}\n")
	case policyReportToAndCatchAll:
		route("catch-all", "", "", "[dave]", false, "")
		b.WriteString("unmatched: {to: [bob]}\n")
	case policyReportToOwn:
		b.WriteString("unmatched: {report: true, to: [dave]}\n")
	}
	return b.String()
}

// yamlQuote writes s as a YAML double-quoted scalar that reads back as s,
// escaping everything YAML does not allow raw.
func yamlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r == unicode.ReplacementChar, unicode.IsPrint(r):
			b.WriteRune(r)
		case r > 0xffff:
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// encodeAlerts is the alerts argument of FuzzRoute for these alerts.
func encodeAlerts(alerts []template.Alert) string {
	records := make([]string, len(alerts))
	for i, a := range alerts {
		var units []string
		for _, p := range a.Labels.SortedPairs() {
			units = append(units, p.Name+"="+p.Value)
		}
		records[i] = strings.Join(units, labelSep)
	}
	return strings.Join(records, alertSep)
}

// decodeAlerts makes firing alerts of an alerts argument, each with its
// index as fingerprint.
func decodeAlerts(blob string) []template.Alert {
	var alerts []template.Alert
	for i, record := range strings.Split(blob, alertSep) {
		labels := template.KV{}
		for _, unit := range strings.Split(record, labelSep) {
			name, value, _ := strings.Cut(unit, "=")
			labels[name] = value
		}
		alerts = append(alerts, template.Alert{Status: "firing", Labels: labels, Fingerprint: strconv.Itoa(i)})
	}
	return alerts
}

func labelSets(alerts []template.Alert) []string {
	out := make([]string, len(alerts))
	for i, a := range alerts {
		set := model.LabelSet{}
		for k, v := range a.Labels {
			set[model.LabelName(k)] = model.LabelValue(v)
		}
		out[i] = set.String()
	}
	return out
}
