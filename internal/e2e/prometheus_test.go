package e2e

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/examples/mixin"
)

// mixinRoutes page alice for critical alerts (in GSM-7, so texts are
// transliterated), carol for warnings, and schedule ops, whose rotation
// starts in 2100, for pages: its fallback bob. Tickets go to bob in quiet
// hours that last today and tomorrow (UTC), so they are held. Everyone
// gets at most one SMS an hour, so that carol's digest stays owed; other
// alerts are unrouted and reported.
func mixinRoutes(now time.Time) string {
	today := strings.ToLower(now.UTC().Weekday().String())
	tomorrow := strings.ToLower(now.UTC().AddDate(0, 0, 1).Weekday().String())
	return fmt.Sprintf(mixinRoutesFormat, today, tomorrow)
}

const mixinRoutesFormat = `
time_intervals:
  - name: today
    time_intervals:
      - weekdays: [%s, %s]
delivery:
  settle_after: 300ms
limits:
  per_recipient:
    - {max: 1, per: 1h}
  digest_check: 500ms
routes:
  - name: critical
    matchers: ['severity="critical"']
    to: [alice]
    encoding: gsm7
    bypass_limits: true
  - name: limited
    matchers: ['severity="warning"']
    to: [carol]
  - name: scheduled
    matchers: ['severity="page"']
    to: [ops]
  - name: quiet
    matchers: ['severity="ticket"']
    to: [bob]
    quiet_hours:
      time_intervals: [today]
      severities: [ticket]
schedules:
  ops:
    time_zone: UTC
    layers:
      - {members: [alice], start: "2100-01-01 00:00", shift: 1w}
    fallback: [bob]
unmatched:
  report: true
`

// mayBeEmpty are the queries of the mixin that need not return data in
// TestMixinQueriesAgainstPrometheus, and why. Every other query must.
var mayBeEmpty = map[string]string{
	"rule AlertmanagerSipgateDigestsOwed":                              "a digest must be owed for over an hour",
	"rule AlertmanagerSipgateDigestFailing":                            "no digest is sent: the limit's window is an hour, so carol's digest stays owed",
	"rule AlertmanagerSipgateSummaryLost":                              "no digest is sent, and the quiet hours end after the test",
	"rule AlertmanagerSipgateTemplateFallback":                         "the templates here do not fail (TestFailingTemplatesSendTheFallback makes them)",
	"rule AlertmanagerSipgateLedgerSlow":                               "the ledger's commits take milliseconds here, not 250ms",
	`dashboard panel 31 "Digests" target A`:                            "no digest is sent: the limit's window is an hour, so carol's digest stays owed",
	`dashboard panel 37 "Template failures" target A`:                  "the templates here do not fail (TestFailingTemplatesSendTheFallback makes them)",
	`dashboard panel 37 "Template failures" target B`:                  "the templates here do not fail (TestFailingTemplatesSendTheFallback makes them)",
	`dashboard panel 45 "Held SMS at the end of quiet hours" target A`: "the quiet hours end tomorrow at midnight (UTC), after the test",
}

// checkedLast are the rules that TestMixinQueriesAgainstPrometheus runs
// after the others, once it made them true: with the credentials revoked,
// and with the service stopped.
var checkedLast = map[string]bool{
	"rule AlertmanagerSipgateAccountCheckFailing": true,
	"rule AlertmanagerSipgateDown":                true,
}

// TestMixinQueriesAgainstPrometheus has a real Prometheus scrape the
// service while it pages, fails, holds back and rejects in every way the
// mixin watches, twice, so that counters rise between scrapes as the
// rules' increase() needs. Then every query of the dashboard and of the
// alerting rules must return data, unless mayBeEmpty says why not; and
// the account-check and down rules must fire once the credentials are
// revoked and the service is stopped.
func TestMixinQueriesAgainstPrometheus(t *testing.T) {
	bin := prometheusBinary(t)
	s := startStackWith(t, stackOptions{
		routes:         mixinRoutes(time.Now()),
		webhookTimeout: 2 * time.Second,
		sipgate:        []string{"low_balance: 200", "account_check_interval: 10s"},
	})
	prom := startPrometheus(t, bin, s.svcAddr)
	prom.waitScrapedAfter(t, time.Now())

	s.failReload(t)
	for round := 1; round <= 2; round++ {
		s.mixinScenario(t, round)
		prom.waitScrapedAfter(t, time.Now())
	}

	queries := checkMixinQueries(t, prom)
	s.fake.RevokeCredentials(true)
	prom.waitData(t, queries["rule AlertmanagerSipgateAccountCheckFailing"])
	s.service.stop(t, waitLong)
	prom.waitData(t, queries["rule AlertmanagerSipgateDown"])
}

// checkMixinQueries runs every query of the mixin but those checkedLast
// and wants data from each that mayBeEmpty does not name. It returns the
// queries by where they are.
func checkMixinQueries(t *testing.T, prom *promServer) map[string]mixin.Query {
	t.Helper()
	rules, err := mixin.RuleQueries()
	if err != nil {
		t.Fatal(err)
	}
	dashboard, err := mixin.DashboardQueries("1m")
	if err != nil {
		t.Fatal(err)
	}
	byWhere := map[string]mixin.Query{}
	for _, q := range append(rules, dashboard...) {
		byWhere[q.Where] = q
		if checkedLast[q.Where] {
			continue
		}
		n := len(prom.query(t, q.Expr))
		if why, ok := mayBeEmpty[q.Where]; ok {
			t.Logf("%s: %d series (may be empty: %s)", q.Where, n, why)
		} else if n == 0 {
			t.Errorf("%s returns no data: %s", q.Where, q.Expr)
		}
	}
	for where := range mayBeEmpty {
		if _, ok := byWhere[where]; !ok {
			t.Errorf("mayBeEmpty names %s, which is no query of the mixin", where)
		}
	}
	for where := range checkedLast {
		if _, ok := byWhere[where]; !ok {
			t.Errorf("checkedLast names %s, which is no query of the mixin", where)
		}
	}
	return byWhere
}

// prometheusBinary returns Debian's Prometheus server. Without it the
// test is skipped, except in CI (CI=true), where .ci/run installs it.
func prometheusBinary(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("prometheus is needed in CI (Debian package prometheus): %v", err)
		}
		t.Skipf("prometheus not installed (apt-get install prometheus): %v", err)
	}
	return bin
}

// promServer is a running Prometheus that scrapes the service.
type promServer struct {
	addr string
}

// startPrometheus starts Prometheus scraping target every second as job
// alertmanager-sipgate, the job name the mixin's rules expect, and waits
// until it is ready.
func startPrometheus(t *testing.T, bin, target string) *promServer {
	t.Helper()
	dir := t.TempDir()
	config := writeFile(t, dir, "prometheus.yml", fmt.Sprintf(`
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: alertmanager-sipgate
    static_configs:
      - targets: ['%s']
`, target))
	p := &promServer{addr: freeAddr(t)}
	proc := start(t, "prometheus", bin,
		"--config.file="+config,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+p.addr,
	)
	proc.waitReady(t, url(p.addr, "/-/ready"))
	return p
}

// waitScrapedAfter waits until Prometheus began a successful scrape of
// the service after after: then the samples hold everything the service
// counted before it.
func (p *promServer) waitScrapedAfter(t *testing.T, after time.Time) {
	t.Helper()
	poll(t, waitLong, func() (bool, string) {
		var targets struct {
			Data struct {
				ActiveTargets []struct {
					Health     string    `json:"health"`
					LastScrape time.Time `json:"lastScrape"`
					LastError  string    `json:"lastError"`
				} `json:"activeTargets"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(get(t, url(p.addr, "/api/v1/targets"))), &targets); err != nil {
			t.Fatalf("Prometheus targets: %v", err)
		}
		if len(targets.Data.ActiveTargets) != 1 {
			return false, fmt.Sprintf("one target in Prometheus, got %d", len(targets.Data.ActiveTargets))
		}
		tg := targets.Data.ActiveTargets[0]
		return tg.Health == "up" && tg.LastScrape.After(after),
			fmt.Sprintf("a successful scrape after %s (last %s: %s %s)", after.Format(time.StampMilli), tg.LastScrape.Format(time.StampMilli), tg.Health, tg.LastError)
	})
}

// query runs expr now and returns its result's series.
func (p *promServer) query(t *testing.T, expr string) []json.RawMessage {
	t.Helper()
	var answer struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string            `json:"resultType"`
			Result     []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	body := get(t, url(p.addr, "/api/v1/query?query="+neturl.QueryEscape(expr)))
	if err := json.Unmarshal([]byte(body), &answer); err != nil || answer.Status != "success" {
		t.Fatalf("query %s: %v: %s", expr, err, body)
	}
	if answer.Data.ResultType != "vector" {
		t.Fatalf("query %s: result type %s, want vector", expr, answer.Data.ResultType)
	}
	return answer.Data.Result
}

// waitData waits until q returns data.
func (p *promServer) waitData(t *testing.T, q mixin.Query) {
	t.Helper()
	if q.Expr == "" {
		t.Fatalf("no query %q in the mixin", q.Where)
	}
	poll(t, waitLong, func() (bool, string) {
		return len(p.query(t, q.Expr)) > 0, fmt.Sprintf("data from %s: %s", q.Where, q.Expr)
	})
}

// failReload breaks the config file and has the service reload it, which
// must fail and leave the running config in place.
func (s *stack) failReload(t *testing.T) {
	t.Helper()
	writeFile(t, s.dir, filepath.Base(s.svcConfig), s.svcBase+"routes: [\n")
	resp, err := http.Post(url(s.svcAddr, "/-/reload"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("reload of a broken config: %s, want 500", resp.Status)
	}
}

// mixinAlert is one alert of a webhook of the scenario.
type mixinAlert struct {
	name, severity, summary string
}

// mixinWebhook is a notification of one alert in round, which makes its
// group key and fingerprint new to the service; truncated is how many
// alerts Alertmanager's max_alerts left out.
func mixinWebhook(t *testing.T, round int, a mixinAlert, truncated int) []byte {
	t.Helper()
	name := fmt.Sprintf("%s%d", a.name, round)
	labels := map[string]string{"alertname": name, "severity": a.severity, "instance": "host-1:9100"}
	h := fnv.New64a()
	h.Write([]byte(name))
	body, err := json.Marshal(map[string]any{
		"version":           "4",
		"groupKey":          fmt.Sprintf(`{}:{alertname=%q}`, name),
		"truncatedAlerts":   truncated,
		"status":            "firing",
		"receiver":          "sms",
		"groupLabels":       map[string]string{"alertname": name},
		"commonLabels":      labels,
		"commonAnnotations": map[string]string{"summary": a.summary},
		"externalURL":       "http://alertmanager:9093",
		"alerts": []map[string]any{{
			"status":       "firing",
			"labels":       labels,
			"annotations":  map[string]string{"summary": a.summary},
			"startsAt":     time.Now().UTC().Format(time.RFC3339Nano),
			"endsAt":       "0001-01-01T00:00:00Z",
			"generatorURL": "http://prometheus:9090/graph",
			"fingerprint":  fmt.Sprintf("%016x", h.Sum64()),
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// post posts body to path and fails unless the service answers want.
func (s *stack) post(t *testing.T, path string, body []byte, auth bool, want int) {
	t.Helper()
	if code, answer := s.postWebhook(t, path, "application/json", body, auth); code != want {
		t.Fatalf("POST %s: %d %q, want %d", path, code, answer, want)
	}
}

// postUntilOK posts body as Alertmanager does: again after each 503,
// until the service answers 200.
func (s *stack) postUntilOK(t *testing.T, body []byte) {
	t.Helper()
	poll(t, waitLong, func() (bool, string) {
		code, answer := s.postWebhook(t, "/api/v1/alerts", "application/json", body, true)
		if code != http.StatusOK && code != http.StatusServiceUnavailable {
			t.Fatalf("webhook answered %d %q, want 200 or 503", code, answer)
		}
		return code == http.StatusOK, fmt.Sprintf("200 for the webhook (last %d %q)", code, answer)
	})
}

// mixinScenario does, in round, everything the mixin watches that the
// service can be made to do in a test.
func (s *stack) mixinScenario(t *testing.T, round int) {
	t.Helper()
	critical := func(name, summary string) []byte {
		return mixinWebhook(t, round, mixinAlert{name, "critical", summary}, 0)
	}
	// Accepted, shortened to fit, transliterated, sent as UCS-2 rather
	// than lose an alertname, and one with alerts left out by max_alerts.
	s.postUntilOK(t, critical("MixinDiskFull", "Disk /var full"))
	s.postUntilOK(t, critical("MixinLong", strings.Repeat("a very long summary ", 20)))
	s.postUntilOK(t, critical("MixinCyrillic", "Диск заполнен"))
	s.postUntilOK(t, critical("MixinChinese磁盘", "磁盘已满"))
	s.postUntilOK(t, mixinWebhook(t, round, mixinAlert{"MixinTruncated", "critical", "many alerts"}, 3))
	// A page to a schedule with nobody on call goes to its fallback.
	s.post(t, "/api/v1/alerts", mixinWebhook(t, round, mixinAlert{"MixinScheduled", "page", "nobody on call"}, 0), true, http.StatusOK)
	// A pinned route that does not exist, and an alert no route takes.
	s.post(t, "/api/v1/alerts/nosuchroute", critical("MixinPinned", "pinned"), true, http.StatusOK)
	s.post(t, "/api/v1/alerts", mixinWebhook(t, round, mixinAlert{"MixinUnrouted", "info", "nobody"}, 0), true, http.StatusOK)
	// Carol's limit lets one SMS an hour through: the rest is held back.
	s.post(t, "/api/v1/alerts", mixinWebhook(t, round, mixinAlert{"MixinWarningA", "warning", "first"}, 0), true, http.StatusOK)
	s.post(t, "/api/v1/alerts", mixinWebhook(t, round, mixinAlert{"MixinWarningB", "warning", "second"}, 0), true, http.StatusOK)
	// A ticket waits for the end of quiet hours.
	s.post(t, "/api/v1/alerts", mixinWebhook(t, round, mixinAlert{"MixinTicket", "ticket", "held"}, 0), true, http.StatusOK)
	// A webhook without credentials.
	s.post(t, "/api/v1/alerts", critical("MixinNoAuth", "unauthenticated"), false, http.StatusUnauthorized)
	// sipgate refuses: balance too low, credentials rejected.
	for _, status := range []int{http.StatusPaymentRequired, http.StatusUnauthorized} {
		s.front.answerSMS(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"message":"refused"}`, status)
		})
		s.post(t, "/api/v1/alerts", critical(fmt.Sprintf("MixinRefused%d", status), "refused"), true, http.StatusOK)
	}
	// sipgate takes an SMS and its answer is lost; the retry finds it in
	// the history.
	s.front.answerSMS(nil)
	s.fake.ResetAfterAccept(true)
	lost := critical("MixinAnswerLost", "lost")
	s.post(t, "/api/v1/alerts", lost, true, http.StatusServiceUnavailable)
	s.fake.ResetAfterAccept(false)
	s.postUntilOK(t, lost)
	// sipgate is down and asks to wait: the circuit opens, the send is
	// retried after the wait, then answered 503. Nothing sends after it,
	// so the circuit stays open until the next round's first send.
	s.front.answerSMS(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"message":"down"}`, http.StatusServiceUnavailable)
	})
	s.post(t, "/api/v1/alerts", critical("MixinSipgateDown", "down"), true, http.StatusServiceUnavailable)
	s.front.answerSMS(nil)
}
