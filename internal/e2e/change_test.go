package e2e

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin on every machine, as the service embeds it

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate/sipgatetest"
)

// The tests of this file follow alerts through a real Alertmanager as they
// really evolve: groups grow, partly resolve, repeat, mix alertnames, and
// routing changes in between; each checks the exact SMS every person gets.

// alert is a firing alert of one instance that started at started.
func alert(name, instance, severity, summary string, started time.Time) amAlert {
	return amAlert{
		Labels:      map[string]string{"alertname": name, "instance": instance, "severity": severity},
		Annotations: map[string]string{"summary": summary},
		StartsAt:    started,
	}
}

// resolved is a copy of a that ended now.
func resolved(a amAlert) amAlert {
	a.EndsAt = time.Now().UTC()
	return a
}

var (
	web1 = "5xx rate 9% on web-1:8080"
	web2 = "5xx rate 7% on web-2:8080"
)

// step waits until the fake holds want SMS in all and every Alertmanager
// has ended its notifications, notifications of them successfully, and
// returns the SMS that came after the first `before`.
func (s *stack) step(t *testing.T, before, want, notifications int) []sipgatetest.Message {
	t.Helper()
	s.waitSMS(t, want)
	s.waitNotified(t, notifications)
	msgs := s.fake.Messages()
	if len(msgs) != want {
		t.Errorf("%d SMS in all, want %d: %q", len(msgs), want, s.received(msgs))
	}
	return msgs[min(before, len(msgs)):]
}

// alertmanagersFailed sums the webhook notifications that the
// Alertmanagers gave up on: a 4xx answer, or retries until the flush
// deadline.
func (s *stack) alertmanagersFailed(t *testing.T) float64 {
	t.Helper()
	var failed float64
	for _, addr := range s.amAddrs {
		failed += webhookCountsOf(scrape(t, url(addr, "/metrics"))).failed
	}
	return failed
}

// reloadRoutes writes routes as the end of the service's config and has
// the service load it through POST /-/reload, failing unless it did.
func (s *stack) reloadRoutes(t *testing.T, routes string) {
	t.Helper()
	reloaded := func() float64 {
		return s.metrics(t).sum("alertmanager_sipgate_config_last_reload_success_timestamp_seconds", nil)
	}
	before := reloaded()
	writeFile(t, s.dir, "sipgate.yml", s.svcBase+routes)
	resp, err := http.Post(url(s.svcAddr, "/-/reload"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /-/reload: %s %q", resp.Status, answer)
	}
	if after := reloaded(); after <= before {
		t.Fatalf("POST /-/reload answered 200, but the last reload is still at %v", after)
	}
}

// TestChangeRejectUnmatchedPagesRouted: with the deprecated
// reject_unmatched: true, a group of one routed and one unrouted alert
// pages the routed one, Alertmanager gets 200, and the unrouted one is
// counted.
func TestChangeRejectUnmatchedPagesRouted(t *testing.T) {
	s := startStack(t, `
reject_unmatched: true
routes:
  - name: critical
    matchers: ['severity="critical"']
    to: [alice]
`, 1)
	if !strings.Contains(s.service.output.String(), "reject_unmatched") {
		t.Errorf("the service did not warn of the deprecated reject_unmatched")
	}
	started := time.Now().UTC()
	s.postAlerts(t,
		alert("HighErrorRate", "web-1:8080", "critical", web1, started),
		alert("HighErrorRate", "web-9:8080", "info", "5xx rate 1% on web-9:8080", started),
	)
	got := s.step(t, 0, 1, 1)
	assertLines(t, "SMS of a group with an unrouted alert", s.received(got), []string{
		alice + ": FIRING 1 HighErrorRate critical web-1:8080: " + web1 + amLink,
	})
	if failed := s.alertmanagersFailed(t); failed != 0 {
		t.Errorf("Alertmanager's failed webhook notifications = %v, want 0", failed)
	}
	m := s.metrics(t)
	if got := m.sum("alertmanager_sipgate_webhooks_received_total", labels{"code": "200"}); got != 1 {
		t.Errorf("webhooks answered 200 = %v, want 1", got)
	}
	if got := m.sum("alertmanager_sipgate_alerts_unrouted_total", nil); got != 1 {
		t.Errorf("alerts_unrouted_total = %v, want 1", got)
	}
	if logs := s.service.output.String(); !strings.Contains(logs, `instance=\"web-9:8080\"`) {
		t.Errorf("the log does not name the unrouted alert's labels")
	}
}

// TestChangePinnedRouteTypo: Alertmanager posts to a pinned route that
// does not exist; the notification is routed by matchers and paged, and a
// counter says why.
func TestChangePinnedRouteTypo(t *testing.T) {
	s := startStackWith(t, stackOptions{routes: defaultRoutes, alertmanagers: 1, webhookPath: "/api/v1/alerts/critcal"})
	s.postAlerts(t, alert("HighErrorRate", "web-1:8080", "critical", web1, time.Now().UTC()))
	got := s.step(t, 0, 2, 1)
	assertLines(t, "SMS of a notification to a mistyped pinned route", s.received(got), []string{
		alice + ": FIRING 1 HighErrorRate critical web-1:8080: " + web1 + amLink,
		bob + ": FIRING 1 HighErrorRate critical web-1:8080: " + web1 + amLink,
	})
	if failed := s.alertmanagersFailed(t); failed != 0 {
		t.Errorf("Alertmanager's failed webhook notifications = %v, want 0", failed)
	}
	m := s.metrics(t)
	if got := m.sum("alertmanager_sipgate_pinned_route_ignored_total", labels{"reason": "unknown_route"}); got != 1 {
		t.Errorf("pinned_route_ignored_total{reason=unknown_route} = %v, want 1", got)
	}
	if got := m.sum("alertmanager_sipgate_webhooks_received_total", labels{"code": "404"}); got != 0 {
		t.Errorf("%v webhooks answered 404, want none", got)
	}
}

// TestChangeGroupGrowsAndPartlyResolves: a firing group gains a second
// instance, then one of the two resolves, then the other: each person is
// told what changed, not the whole group again.
func TestChangeGroupGrowsAndPartlyResolves(t *testing.T) {
	s := startStack(t, `
routes:
  - name: web
    to: [oncall]
`, 1)
	first := alert("HighErrorRate", "web-1:8080", "critical", web1, time.Now().UTC())
	s.postAlerts(t, first)
	got := s.step(t, 0, 2, 1)
	assertLines(t, "first page", s.received(got), []string{
		alice + ": FIRING 1 HighErrorRate critical web-1:8080: " + web1 + amLink,
		bob + ": FIRING 1 HighErrorRate critical web-1:8080: " + web1 + amLink,
	})

	second := alert("HighErrorRate", "web-2:8080", "critical", web2, time.Now().UTC())
	s.postAlerts(t, second)
	got = s.step(t, 2, 4, 2)
	assertLines(t, "SMS of the group that grew", s.received(got), []string{
		alice + ": FIRING +1 HighErrorRate critical web-2:8080 (2 firing): " + web2 + amLink,
		bob + ": FIRING +1 HighErrorRate critical web-2:8080 (2 firing): " + web2 + amLink,
	})

	s.postAlerts(t, resolved(first))
	got = s.step(t, 4, 6, 3)
	assertLines(t, "SMS of the group that partly resolved", s.received(got), []string{
		alice + ": RESOLVED web-1:8080 HighErrorRate; still firing 1: web-2:8080",
		bob + ": RESOLVED web-1:8080 HighErrorRate; still firing 1: web-2:8080",
	})

	s.postAlerts(t, resolved(second))
	got = s.step(t, 6, 8, 4)
	assertLines(t, "SMS of the group that resolved", s.received(got), []string{
		alice + ": RESOLVED 1 HighErrorRate critical web-2:8080: " + web2,
		bob + ": RESOLVED 1 HighErrorRate critical web-2:8080: " + web2,
	})
	if got := s.metrics(t).sum("alertmanager_sipgate_sms_unchanged_total", nil); got != 0 {
		t.Errorf("sms_unchanged_total = %v, want 0: every notification told something new", got)
	}
}

// TestChangeRepeatBelowDedupWindow: Alertmanager repeats a group every
// repeat_interval, far below delivery.dedup_window; each repeat arrives as
// a reminder that says since when the group fires.
func TestChangeRepeatBelowDedupWindow(t *testing.T) {
	const repeat = 4 * time.Second
	s := startStackWith(t, stackOptions{alertmanagers: 1, repeatInterval: repeat, routes: `
delivery:
  dedup_window: 10m
routes:
  - name: all
    to: [alice]
`})
	started := time.Now().UTC()
	s.postAlerts(t, alert("HighErrorRate", "web-1:8080", "critical", web1, started))
	msgs := s.waitSMS(t, 3)
	lines := s.received(msgs)
	if want := alice + ": FIRING 1 HighErrorRate critical web-1:8080: " + web1 + amLink; lines[0] != want {
		t.Errorf("first SMS = %q, want %q", lines[0], want)
	}
	// received sorts: the first page sorts before the reminders.
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(alice) + `: STILL FIRING since (\d\d:\d\d) UTC \((\d+)s\) HighErrorRate critical web-1:8080: ` +
		regexp.QuoteMeta(web1+amLink) + `$`)
	for i, m := range msgs[1:3] {
		line := s.received([]sipgatetest.Message{m})[0]
		match := re.FindStringSubmatch(line)
		if match == nil {
			t.Errorf("repeat %d = %q, want it to match %s", i+1, line, re)
			continue
		}
		if clock := started.Format("15:04"); match[1] != clock {
			t.Errorf("repeat %d says since %s, want %s", i+1, match[1], clock)
		}
		// The age is told when the notification arrived, before the fake
		// got the SMS, and after Alertmanager's repeat_interval passed.
		age, _ := strconv.Atoi(match[2])
		if most := int(m.Received.Sub(started) / time.Second); age > most || age < int(repeat/time.Second) {
			t.Errorf("repeat %d says the group fires since %ds, want between %ds and %ds", i+1, age, int(repeat/time.Second), most)
		}
		if gap := m.Received.Sub(msgs[i].Received); gap < repeat-time.Second {
			t.Errorf("repeat %d came %v after the SMS before it, want about repeat_interval %v", i+1, gap, repeat)
		}
	}
	// The service counts an SMS once sipgate's answer is back, after the
	// fake has it.
	eventually(t, waitLong, "3 SMS counted as accepted", func() bool {
		return s.metrics(t).sum("alertmanager_sipgate_sms_total", labels{"result": "accepted"}) >= 3
	})
	m := s.metrics(t)
	for _, result := range []string{"deduplicated", "suppressed"} {
		if got := m.sum("alertmanager_sipgate_sms_total", labels{"result": result}); got != 0 {
			t.Errorf("sms_total{result=%s} = %v, want 0: a repeat is not a retry", result, got)
		}
	}
	if got := m.sum("alertmanager_sipgate_sms_unchanged_total", nil); got != 0 {
		t.Errorf("sms_unchanged_total = %v, want 0: no repeat is swallowed", got)
	}
}

// TestChangeMixedGroup: a group of several alertnames and severities
// names each alertname with its instances, the most severe first.
func TestChangeMixedGroup(t *testing.T) {
	s := startStackWith(t, stackOptions{alertmanagers: 1, amGroupBy: []string{"cluster"}, routes: `
routes:
  - name: all
    to: [alice]
`})
	started := time.Now().UTC()
	alerts := []amAlert{
		alert("TargetDown", "api-3:9100", "critical", "api-3 unreachable", started),
		alert("HighCPU", "node-1", "critical", "CPU above 90%", started),
		alert("HighCPU", "node-2", "critical", "CPU above 90%", started),
		alert("DiskFull", "db-1", "warning", "Disk /var 95% full", started),
	}
	for _, a := range alerts {
		a.Labels["cluster"] = "prod"
	}
	s.postAlerts(t, alerts...)
	got := s.step(t, 0, 1, 1)
	assertLines(t, "SMS of a mixed group", s.received(got), []string{
		alice + ": FIRING 4 (3 critical) HighCPU node-1,node-2; TargetDown api-3:9100; DiskFull db-1" + amLink,
	})
}

// TestChangeResolvedAfterReload: the contact of a route changes by a
// reload between firing and resolved. The resolved SMS goes to the person
// who was paged; the new contact hears of it only with send_resolved:
// always.
func TestChangeResolvedAfterReload(t *testing.T) {
	routes := `
unmatched: {report: true}
routes:
  - name: critical
    matchers: ['severity="critical"']
    send_resolved: %s
    to: [%s]
`
	resolvedText := ": RESOLVED 1 HighErrorRate critical web-1:8080: " + web1
	for _, tc := range []struct {
		sendResolved string
		want         []string
	}{
		{"if_paged", []string{alice + resolvedText}},
		{"always", []string{alice + resolvedText, bob + resolvedText}},
	} {
		t.Run(tc.sendResolved, func(t *testing.T) {
			s := startStack(t, fmt.Sprintf(routes, tc.sendResolved, "alice"), 1)
			a := alert("HighErrorRate", "web-1:8080", "critical", web1, time.Now().UTC())
			s.postAlerts(t, a)
			got := s.step(t, 0, 1, 1)
			assertLines(t, "firing SMS", s.received(got), []string{
				alice + ": FIRING 1 HighErrorRate critical web-1:8080: " + web1 + amLink,
			})

			s.reloadRoutes(t, fmt.Sprintf(routes, tc.sendResolved, "bob"))
			s.postAlerts(t, resolved(a))
			got = s.step(t, 1, len(tc.want)+1, 2)
			assertLines(t, "resolved SMS after the contact changed", s.received(got), tc.want)
		})
	}
}

// TestChangeResolvedAfterAnUnseenRefire: the alert resolved and fired
// again, with a new start, between two notifications of its group, and
// then resolved again. Alertmanager sent neither the first RESOLVED nor
// the second FIRING (its group's firing alerts were the same), so its
// RESOLVED carries a start that no SMS paged anyone about: alice, whom the
// first firing paged on an if_paged route, still hears that it resolved.
func TestChangeResolvedAfterAnUnseenRefire(t *testing.T) {
	// A group_interval long enough for the steps between two flushes.
	s := startStackWith(t, stackOptions{alertmanagers: 1, groupInterval: 10 * time.Second, routes: `
routes:
  - name: oncall
    send_resolved: if_paged
    to: [alice]
`})
	a := alert("HighErrorRate", "web-1:8080", "critical", web1, time.Now().UTC().Add(-time.Minute))
	s.postAlerts(t, a)
	got := s.step(t, 0, 1, 1)
	assertLines(t, "firing SMS", s.received(got), []string{
		alice + ": FIRING 1 HighErrorRate critical web-1:8080: " + web1 + amLink,
	})

	// Before the group's next flush, each taken in before the next is
	// posted: the alert ends, fires again a second later (no overlap, so
	// Alertmanager keeps the new start), and ends again.
	ended := a
	ended.EndsAt = time.Now().UTC().Add(-3 * time.Second)
	s.postAlerts(t, ended)
	s.waitGrouped(t, 0, time.Time{})
	again := a
	again.StartsAt = ended.EndsAt.Add(time.Second)
	s.postAlerts(t, again)
	s.waitGrouped(t, 1, again.StartsAt)
	s.postAlerts(t, resolved(again))
	got = s.step(t, 1, 2, 2)
	assertLines(t, "resolved SMS", s.received(got), []string{
		alice + ": RESOLVED 1 HighErrorRate critical web-1:8080: " + web1,
	})
}

// TestChangeResolvedAnyRouteAsks: a person reached by a send_resolved:
// never route and, through continue, by an always route gets the resolved
// SMS; one reached only by the never route does not.
func TestChangeResolvedAnyRouteAsks(t *testing.T) {
	s := startStack(t, `
unmatched: {report: true}
routes:
  - name: quiet
    matchers: ['severity="critical"']
    send_resolved: never
    continue: true
    to: [alice, bob]
  - name: loud
    matchers: ['severity="critical"']
    send_resolved: always
    to: [alice]
`, 1)
	a := alert("HighErrorRate", "web-1:8080", "critical", web1, time.Now().UTC())
	s.postAlerts(t, a)
	got := s.step(t, 0, 2, 1)
	assertLines(t, "firing SMS", s.received(got), []string{
		alice + ": FIRING 1 HighErrorRate critical web-1:8080: " + web1 + amLink,
		bob + ": FIRING 1 HighErrorRate critical web-1:8080: " + web1 + amLink,
	})
	s.postAlerts(t, resolved(a))
	got = s.step(t, 2, 3, 2)
	assertLines(t, "resolved SMS", s.received(got), []string{
		alice + ": RESOLVED 1 HighErrorRate critical web-1:8080: " + web1,
	})
}

// TestChangeNonLatinGSM7: with encoding: gsm7, Cyrillic is transliterated
// into a GSM-7 SMS, and a Chinese alertname goes as UCS-2 with its own
// characters rather than as question marks.
func TestChangeNonLatinGSM7(t *testing.T) {
	s := startStack(t, `
sms: {encoding: gsm7}
routes:
  - name: all
    to: [alice]
`, 1)
	started := time.Now().UTC()
	s.postAlerts(t,
		alert("ДискЗаполнен", "сервер-7", "critical", "Диск /var заполнен на 95%", started),
		alert("磁盘已满", "服务器-7", "critical", "磁盘 /var 使用率 95%", started),
	)
	// Two alertnames, two groups, two notifications.
	got := s.step(t, 0, 2, 2)
	assertLines(t, "SMS of Cyrillic and Chinese alerts", s.received(got), []string{
		alice + ": FIRING 1 DiskZapolnen critical server-7: Disk /var zapolnen na 95%" + amLink,
		alice + ": FIRING 1 磁盘已满 critical 服务器-7: 磁盘 /var 使用率 95%",
	})
	for _, m := range got {
		if strings.Contains(m.Message, "?") && !strings.Contains(m.Message, "/#/alerts?receiver=") {
			t.Errorf("SMS %q has a question mark", m.Message)
		}
	}
	m := s.metrics(t)
	all := labels{"route": "all"}
	for _, want := range []struct {
		name   string
		labels labels
		value  float64
	}{
		{"alertmanager_sipgate_sms_transliterated_total", all, 1},
		{"alertmanager_sipgate_sms_transliteration_skipped_total", all, 1},
		{"alertmanager_sipgate_sms_segments_total", labels{"route": "all", "encoding": "gsm7"}, 1},
		{"alertmanager_sipgate_sms_segments_total", labels{"route": "all", "encoding": "ucs2"}, 1},
	} {
		if got := m.sum(want.name, want.labels); got != want.value {
			t.Errorf("%s%v = %v, want %v", want.name, want.labels, got, want.value)
		}
	}
}

// TestChangeDigest: a limit of one SMS per window holds back a firing
// alert of another group and the resolution of the first; when the window
// opens, one digest counts them apart, names the firing one, and tells the
// time in the config's time_zone with the zone named.
func TestChangeDigest(t *testing.T) {
	const window = 8 * time.Second
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	s := startStack(t, fmt.Sprintf(`
time_zone: Europe/Berlin
limits:
  per_recipient: [{max: 1, per: %s}]
  digest_check: 500ms
routes:
  - name: all
    to: [alice]
`, window), 1)
	down := alert("TargetDown", "api-3:9100", "critical", "api-3 unreachable", time.Now().UTC())
	s.postAlerts(t, down)
	got := s.waitSMS(t, 1)
	assertLines(t, "first page", s.received(got), []string{
		alice + ": FIRING 1 TargetDown critical api-3:9100: api-3 unreachable" + amLink,
	})

	heldFrom := time.Now()
	s.postAlerts(t, alert("HighCPU", "node-1", "warning", "CPU above 90%", time.Now().UTC()), resolved(down))
	eventually(t, waitLong, "the firing HighCPU and the resolved TargetDown held back", func() bool {
		return s.metrics(t).sum("alertmanager_sipgate_sms_total", labels{"result": "suppressed", "route": "all"}) >= 2
	})
	msgs := s.waitSMS(t, 2)
	digest := msgs[1]
	heldTo := digest.Received
	re := regexp.MustCompile(`^Held back since (\d\d:\d\d) (\S+): 1 firing \(HighCPU\), 1 resolved\. http://` + regexp.QuoteMeta(s.amAddr) + `$`)
	match := re.FindStringSubmatch(digest.Message)
	if match == nil || digest.Recipient != alice {
		t.Fatalf("digest = %s: %q, want %s: %s", digest.Recipient, digest.Message, alice, re)
	}
	if from, to := heldFrom.In(berlin).Format("15:04"), heldTo.In(berlin).Format("15:04"); match[1] != from && match[1] != to {
		t.Errorf("digest says held back since %s, want the time in Europe/Berlin, %s or %s", match[1], from, to)
	}
	if zone := heldTo.In(berlin).Format("MST"); match[2] != zone {
		t.Errorf("digest names the zone %q, want Europe/Berlin's %q", match[2], zone)
	}
	if since := digest.Received.Sub(msgs[0].Received); since < window-time.Second {
		t.Errorf("digest came %v after the first SMS, before the %v window opened", since, window)
	}

	// Three notifications: TargetDown firing and resolved, HighCPU firing;
	// after them nothing more is sent.
	s.waitNotified(t, 3)
	m := s.metrics(t)
	if got := m.sum("alertmanager_sipgate_digests_total", labels{"result": "accepted"}); got != 1 {
		t.Errorf("digests_total{result=accepted} = %v, want 1", got)
	}
	if n := len(s.fake.Messages()); n != 2 {
		t.Errorf("%d SMS in all, want the page and the digest", n)
	}
}
