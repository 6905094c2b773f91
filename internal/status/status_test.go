package status

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/account"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/delivery"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
)

const (
	alice   = "+4915100000001"
	bob     = "+4915100000002"
	carol   = "+4915100000003"
	direct  = "+4917600000009" // written in a route, no contact
	token   = "status-test-sipgate-token"
	hookPW  = "status-test-webhook-password"
	tokenID = "token-STATUS"
)

// testConfig has a route of each kind of target, a schedule, secrets
// inline and a template file.
const testConfig = `
sipgate:
  token_id: ` + tokenID + `
  token: ` + token + `
  sms_id: s0
  low_balance: 5
webhook:
  basic_auth: {username: am, password: ` + hookPW + `}
templates: ['*.tmpl']
contacts:
  alice: {number: "` + alice + `"}
  bob: {number: "` + bob + `"}
  carol: {number: "` + carol + `"}
groups:
  dba: [alice, bob]
schedules:
  ops:
    time_zone: Europe/Berlin
    layers: [{name: weekly, members: [carol, alice], start: "2024-01-01 09:00", shift: 1w}]
routes:
  - name: critical
    receiver: sms
    matchers: ['severity="critical"']
    to: [ops, "` + direct + `"]
    bypass_limits: true
  - name: databases
    matchers: ['team="db"']
    to: [dba]
  - name: default
    to: [carol]
`

// wednesday is Wednesday 6 March 2024, 12:00 in Berlin: alice's week.
var wednesday = time.Date(2024, 3, 6, 11, 0, 0, 0, time.UTC)

func loadConfig(t *testing.T) *config.Config {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "extra.tmpl"), []byte(`{{ define "x" }}x{{ end }}`), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "sipgate.yml")
	if err := os.WriteFile(file, []byte(testConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fixture is a page with a state of every kind.
type fixture struct {
	opts    Options
	account account.State
	owed    map[string]ledger.Suppressed
	owedErr error
	// previewed are the payloads and routes the previewer was given.
	payload, route string
	preview        *Preview
	previewErr     error
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cfg := loadConfig(t)
	f := &fixture{
		account: account.State{
			Checked: wednesday.Add(-time.Minute), Up: true, LastSuccess: wednesday.Add(-time.Minute), User: "w0",
			HasBalance: true, Balance: 12.345, Currency: "EUR", BalanceAt: wednesday.Add(-time.Minute), LowBalance: 5,
		},
		owed: map[string]ledger.Suppressed{
			bob: {Contact: "bob", Alerts: 7, Resolved: 2, Names: []string{"DiskFull", "HighLoad"}, MoreNames: 3, Since: wednesday.Add(-20 * time.Minute)},
		},
		preview: &Preview{
			SMS: []PreviewSMS{{
				Route: "critical", Contact: "carol", Number: "+49151******03", Text: "FIRING 1 DiskFull on db1",
				Size: "gsm7, 24 characters (24 septets), 1 segment of at most 1", Alerts: 1, Firing: 1,
			}},
			Notes: []PreviewNote{{Level: "warn", Message: "alerts no route matches", Attrs: "alerts=1"}},
		},
	}
	recent := NewRecent(RecentDeliveries)
	recent.Observe(delivery.Event{At: wednesday.Add(-5 * time.Minute), Notification: "n-1", Route: "critical", Contact: "carol", Number: "+49151******03", Outcome: delivery.Accepted})
	recent.Observe(delivery.Event{At: wednesday.Add(-4 * time.Minute), Notification: "n-2", Route: "databases", Contact: "bob", Number: "+49151******02", Outcome: delivery.Suppressed})
	recent.Observe(delivery.Event{At: wednesday.Add(-3 * time.Minute), Notification: "n-3", Route: "databases", Contact: "alice", Number: "+49151******01", Outcome: delivery.FailedRetryable, Reason: "server"})
	f.opts = Options{
		Build:   Build{Version: "1.2.3", Revision: "abc123", Branch: "main", GoVersion: "go1.26.8"},
		Config:  func() *config.Config { return cfg },
		Account: func() account.State { return f.account },
		Recent:  recent,
		Owed:    func() (map[string]ledger.Suppressed, error) { return f.owed, f.owedErr },
		Preview: func(_ context.Context, payload io.Reader, route string) (*Preview, error) {
			b, err := io.ReadAll(payload)
			if err != nil {
				return nil, err
			}
			f.payload, f.route = string(b), route
			return f.preview, f.previewErr
		},
		MaxPayloadBytes: 1 << 10,
		Now:             func() time.Time { return wednesday },
	}
	return f
}

// do serves one request and returns the answer's status, header and body.
func (f *fixture) do(t *testing.T, r *http.Request) (int, http.Header, string) {
	t.Helper()
	h, err := New(f.opts)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Header(), w.Body.String()
}

func (f *fixture) get(t *testing.T) string {
	t.Helper()
	code, _, body := f.do(t, httptest.NewRequest(http.MethodGet, "/", nil))
	if code != http.StatusOK {
		t.Fatalf("GET / = %d, want 200:\n%s", code, body)
	}
	return body
}

func post(form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// section returns the page's section with that id.
func section(t *testing.T, body, id string) string {
	t.Helper()
	start := strings.Index(body, `<section id="`+id+`">`)
	if start < 0 {
		t.Fatalf("no section %q in the page:\n%s", id, body)
	}
	end := strings.Index(body[start:], "</section>")
	return body[start : start+end]
}

var (
	inlineTag = regexp.MustCompile(`</?(span|code|a)\b[^>]*>`)
	blockTag  = regexp.MustCompile(`<[^>]*>`)
)

// words is the text of a piece of the page as a reader sees it: markup
// gone, white space collapsed, entities unescaped.
func words(s string) string {
	s = blockTag.ReplaceAllString(inlineTag.ReplaceAllString(s, ""), " ")
	return html.UnescapeString(strings.Join(strings.Fields(s), " "))
}

func TestPageShows(t *testing.T) {
	body := newFixture(t).get(t)
	tests := []struct {
		name, section string
		want          []string
	}{
		{"version", "", []string{"version 1.2.3 · revision abc123 · branch main", "go1.26.8"}},
		{"account", "account", []string{"up credentials accepted (user w0)", "12.35 EUR", "2024-03-06 10:59:00 UTC (1m0s ago)"}},
		{"on call", "oncall", []string{"ops Europe/Berlin alice layer weekly 2024-03-04 09:00:00 CET 2024-03-11 09:00:00 CET"}},
		{"deliveries, newest first", "deliveries", []string{
			"2024-03-06 10:57:00 UTC databases alice +49151******01 failed_retryable server n-3 " +
				"2024-03-06 10:56:00 UTC databases bob +49151******02 suppressed n-2 " +
				"2024-03-06 10:55:00 UTC critical carol +49151******03 accepted n-1",
		}},
		{"owed digests", "owed", []string{"bob +49151******02 7 2 DiskFull, HighLoad +3 more 2024-03-06 10:40:00 UTC (20m0s ago)"}},
		{"config", "config", []string{
			"Contacts 3", "Groups dba (alice, bob)", "Schedules ops", "Templates extra.tmpl",
			`critical receiver sms severity="critical" ops, +49176******09`, "bypasses limits",
			`databases team="db" dba`, "default every alert carol",
		}},
		{"preview form", "preview", []string{"Preview a payload", "as the webhook routes it", "pinned to critical", "pinned to databases"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := body
			if tt.section != "" {
				text = section(t, body, tt.section)
			}
			text = words(text)
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("page does not say %q; it says:\n%s", w, text)
				}
			}
		})
	}
}

func TestPageMasksNumbersAndHidesSecrets(t *testing.T) {
	f := newFixture(t)
	f.preview.SMS[0].Number = "+49151******03"
	bodies := map[string]string{"GET": f.get(t)}
	_, _, bodies["POST"] = f.do(t, post(url.Values{"payload": {`{"alerts":[]}`}}))
	for method, body := range bodies {
		for _, secret := range []string{alice, bob, carol, direct, token, hookPW, "+491510000000"} {
			if strings.Contains(body, secret) {
				t.Errorf("%s: page shows %q", method, secret)
			}
		}
	}
}

func TestAccountStates(t *testing.T) {
	tests := []struct {
		name  string
		state account.State
		want  []string
	}{
		{"dry run", account.State{Skipped: "dry run: SMS are logged, not sent"}, []string{"not checked dry run: SMS are logged, not sent"}},
		{"before the first check", account.State{}, []string{"not checked yet"}},
		{"down, balance kept", account.State{
			Checked: wednesday, Err: "sipgate: credentials rejected (401)", LastSuccess: wednesday.Add(-time.Hour),
			HasBalance: true, Balance: 3, Currency: "EUR", BalanceAt: wednesday.Add(-time.Hour), LowBalance: 5, Low: true,
		}, []string{"down sipgate: credentials rejected (401)", "3.00 EUR below 5.00 EUR read 2024-03-06 10:00:00 UTC", "Last success 2024-03-06 10:00:00 UTC"}},
		{"up, no balance yet", account.State{Checked: wednesday, Up: true, LastSuccess: wednesday}, []string{"Balance unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.account = tt.state
			text := words(section(t, f.get(t), "account"))
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("account section does not say %q; it says:\n%s", w, text)
				}
			}
		})
	}
}

func TestEmptyStates(t *testing.T) {
	f := newFixture(t)
	f.opts.Recent = NewRecent(RecentDeliveries)
	f.owed = nil
	body := f.get(t)
	for id, want := range map[string]string{
		"deliveries": "No SMS since the service started.",
		"owed":       "Nothing suppressed, no digest owed.",
	} {
		if text := words(section(t, body, id)); !strings.Contains(text, want) {
			t.Errorf("section %s does not say %q: %s", id, want, text)
		}
	}
	f.owedErr = errors.New("bolt: disk on fire")
	text := words(section(t, f.get(t), "owed"))
	if !strings.Contains(text, "the ledger could not be read: see the log") || strings.Contains(text, "disk on fire") {
		t.Errorf("owed section with a ledger error says: %s", text)
	}
}

func TestNoSchedules(t *testing.T) {
	f := newFixture(t)
	cfg, err := config.Parse([]byte("sipgate: {dry_run: true}\ncontacts: {a: {number: \"+4915100000001\"}}\nroutes: [{name: r, to: [a]}]\n"), "plain.yml")
	if err != nil {
		t.Fatal(err)
	}
	f.opts.Config = func() *config.Config { return cfg }
	text := words(section(t, f.get(t), "oncall"))
	if !strings.Contains(text, "No schedules in the config") {
		t.Errorf("on-call section without schedules says: %s", text)
	}
	if text := words(section(t, f.get(t), "config")); !strings.Contains(text, "dry run SMS are logged, not sent") {
		t.Errorf("config section of a dry run says: %s", text)
	}
}

func TestPreviewForm(t *testing.T) {
	payload := `{"version":"4","status":"firing","alerts":[{"labels":{"alertname":"DiskFull"}}]}`
	f := newFixture(t)
	code, _, body := f.do(t, post(url.Values{"payload": {payload}, "route": {"databases"}}))
	if code != http.StatusOK {
		t.Fatalf("POST / = %d, want 200:\n%s", code, body)
	}
	if f.payload != payload || f.route != "databases" {
		t.Errorf("previewed %q pinned to %q, want %q pinned to databases", f.payload, f.route, payload)
	}
	text := words(section(t, body, "preview"))
	for _, want := range []string{
		"SMS 1: route critical to carol +49151******03", "FIRING 1 DiskFull on db1",
		"gsm7, 24 characters (24 septets), 1 segment of at most 1 · 1 alerts (1 firing, 0 resolved) · cut: nothing",
		"warn alerts no route matches alerts=1",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("preview does not say %q; it says:\n%s", want, text)
		}
	}
	// The form keeps what was posted, for the next try.
	if !strings.Contains(body, `<option value="databases" selected>`) {
		t.Error("the pinned route is not selected again")
	}
	if !strings.Contains(body, "&#34;alertname&#34;:&#34;DiskFull&#34;") {
		t.Error("the textarea does not hold the payload again")
	}
	// Every section is still there.
	for _, id := range []string{"account", "oncall", "deliveries", "owed", "config"} {
		section(t, body, id)
	}
}

// TestPreviewFormEchoIsBounded: the page shows a large payload's result
// but not the payload again, which escaped for HTML would grow the page
// fivefold.
func TestPreviewFormEchoIsBounded(t *testing.T) {
	f := newFixture(t)
	f.opts.MaxPayloadBytes = 1 << 20
	payload := `{"version":"4","x":"` + strings.Repeat(`"`, maxEcho) + `"}`
	code, _, body := f.do(t, post(url.Values{"payload": {payload}}))
	if code != http.StatusOK || f.payload != payload {
		t.Fatalf("POST / = %d, previewed %d bytes; want 200 and the payload previewed", code, len(f.payload))
	}
	if len(body) > maxEcho {
		t.Errorf("the page is %d bytes: it shows the payload again", len(body))
	}
}

// codedError is a preview error that names its status, as the webhook's
// reading of a payload does.
type codedError struct {
	code int
	msg  string
}

func (e codedError) Error() string   { return e.msg }
func (e codedError) StatusCode() int { return e.code }

func TestPreviewFormFailures(t *testing.T) {
	tests := []struct {
		name     string
		form     url.Values
		err      error
		wantCode int
		want     string
	}{
		{"empty payload", url.Values{"payload": {"  \n"}}, nil, 400, "paste an Alertmanager webhook payload (JSON) first"},
		{"not a notification", url.Values{"payload": {"{"}}, codedError{400, "invalid JSON: unexpected EOF"}, 400, "invalid JSON: unexpected EOF"},
		{"preview failed", url.Values{"payload": {"{}"}}, errors.New("render: template broke"), 500, "render: template broke"},
		{"too large", url.Values{"payload": {strings.Repeat("é", 64<<10)}}, nil, 413, "payload too large: more than 1024 bytes"},
		// The form passes the limit, as quotes need no encoding; the
		// payload does not.
		{"too large once decoded", url.Values{"payload": {strings.Repeat(`"`, 3<<10)}}, nil, 413, "payload too large: more than 1024 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.previewErr = tt.err
			r := post(tt.form)
			if strings.HasPrefix(tt.name, "too large once") {
				r = post(nil)
				r.Body = io.NopCloser(strings.NewReader("payload=" + tt.form.Get("payload")))
			}
			code, _, body := f.do(t, r)
			if code != tt.wantCode {
				t.Errorf("POST / = %d, want %d", code, tt.wantCode)
			}
			text := words(section(t, body, "preview"))
			if !strings.Contains(text, tt.want) {
				t.Errorf("preview section does not say %q; it says:\n%s", tt.want, text)
			}
			if strings.Contains(text, "SMS 1:") {
				t.Error("a failed preview shows an SMS")
			}
		})
	}
}

func TestHostileValuesAreEscaped(t *testing.T) {
	const hostile = `<script>alert("x")</script><img src=x onerror=alert(1)>`
	f := newFixture(t)
	f.preview.SMS[0].Text = "FIRING " + hostile
	f.preview.Notes[0].Attrs = "alertname=" + hostile
	f.opts.Recent.Observe(delivery.Event{At: wednesday, Route: hostile, Contact: hostile, Number: "+49151******01", Outcome: delivery.Accepted, Reason: hostile})
	f.owed[alice] = ledger.Suppressed{Contact: "alice", Alerts: 1, Names: []string{hostile}, Since: wednesday}
	f.account = account.State{Checked: wednesday, Err: hostile}
	code, _, body := f.do(t, post(url.Values{"payload": {hostile}, "route": {hostile}}))
	if code != http.StatusOK {
		t.Fatalf("POST / = %d", code)
	}
	for _, raw := range []string{"<script", "<img", "onerror=alert(1)>"} {
		if strings.Contains(body, raw) {
			t.Errorf("page holds %q unescaped", raw)
		}
	}
	if n := strings.Count(body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"); n < 6 {
		t.Errorf("the hostile value shows escaped %d times, want at least 6 (text, note, route, contact, reason, owed name, account, textarea)", n)
	}
}

func TestHeaders(t *testing.T) {
	f := newFixture(t)
	code, hdr, body := f.do(t, httptest.NewRequest(http.MethodGet, "/", nil))
	if code != http.StatusOK {
		t.Fatal(code)
	}
	style := regexp.MustCompile(`(?s)<style>(.*)</style>`).FindStringSubmatch(body)
	if style == nil {
		t.Fatal("no inline style")
	}
	sum := sha256.Sum256([]byte(style[1]))
	csp := hdr.Get("Content-Security-Policy")
	if want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) {
		t.Errorf("CSP %q does not allow the page's style (%s)", csp, want)
	}
	for _, want := range []string{"default-src 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(body, "<script") || regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).MatchString(body) {
		t.Error("the page loads a script or an outside asset")
	}
	for k, want := range map[string]string{"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if got := hdr.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestMethods(t *testing.T) {
	f := newFixture(t)
	code, _, body := f.do(t, httptest.NewRequest(http.MethodHead, "/", nil))
	if code != http.StatusOK || body != "" {
		t.Errorf("HEAD / = %d with %d bytes, want 200 and none", code, len(body))
	}
	code, hdr, _ := f.do(t, httptest.NewRequest(http.MethodPut, "/", nil))
	if code != http.StatusMethodNotAllowed || hdr.Get("Allow") != "GET, HEAD, POST" {
		t.Errorf("PUT / = %d, Allow %q; want 405 naming GET, HEAD, POST", code, hdr.Get("Allow"))
	}
	f.opts.Preview = nil
	body = f.get(t)
	if strings.Contains(body, `<section id="preview">`) {
		t.Error("the preview form shows without a previewer")
	}
	if code, _, _ := f.do(t, post(url.Values{"payload": {"{}"}})); code != http.StatusMethodNotAllowed {
		t.Errorf("POST / without a previewer = %d, want 405", code)
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestPreviewsAreBounded: a POST beyond MaxPreviews at once is answered
// 503 with Retry-After before its form is read, so that clients cannot
// make the page hold any number of payloads; once one ends, the next is
// served.
func TestPreviewsAreBounded(t *testing.T) {
	f := newFixture(t)
	f.opts.MaxPreviews = 2
	// The first two previews wait for release; any later one does not,
	// so that a missing bound shows as a 200, not as a hang.
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	f.opts.Preview = func(context.Context, io.Reader, string) (*Preview, error) {
		if calls.Add(1) <= 2 {
			entered <- struct{}{}
			<-release
		}
		return f.preview, nil
	}
	h, err := New(f.opts)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"payload": {`{"version":"4"}`}}
	codes := make(chan int, 2)
	for range 2 {
		go func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, post(form))
			codes <- w.Code
		}()
		<-entered
	}

	body := &countingReader{r: strings.NewReader(form.Encode())}
	r := post(form)
	r.Body = io.NopCloser(body)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("POST beyond the bound = %d (Retry-After %q), want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	if body.n != 0 {
		t.Errorf("the refused POST's form was read: %d bytes", body.n)
	}
	if text := words(section(t, w.Body.String(), "preview")); !strings.Contains(text, "too many previews at once") {
		t.Errorf("preview section does not say why:\n%s", text)
	}

	close(release)
	for range 2 {
		if code := <-codes; code != http.StatusOK {
			t.Errorf("a preview within the bound = %d, want 200", code)
		}
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, post(form))
	if w.Code != http.StatusOK {
		t.Errorf("POST after the others ended = %d, want 200", w.Code)
	}
}
