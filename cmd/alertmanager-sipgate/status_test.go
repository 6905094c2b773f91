package main

import (
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate/sipgatetest"
)

// getPage fetches path with basic auth user/password ("" for none) and
// returns the status and the body.
func getPage(t *testing.T, u, user, password string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	return doPage(t, req)
}

func doPage(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// pageText is the page as a reader sees its text.
func pageText(body string) string {
	text := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(body, " ")
	return html.UnescapeString(strings.Join(strings.Fields(text), " "))
}

// TestStatusPage: GET / shows a delivery the webhook just made, with the
// number masked, and the page's preview form shows the SMS that
// POST /api/v1/render makes of the same payload.
func TestStatusPage(t *testing.T) {
	fake := sipgatetest.NewServer("token-1", "s3cret")
	defer fake.Close()
	base := startService(t, sipgateConfig(fake)+
		"contacts: {alice: {number: '+4915112345678'}}\n"+
		"routes: [{name: web, to: [alice]}]\n", "")
	payload, err := os.ReadFile("../../examples/payloads/firing.json")
	if err != nil {
		t.Fatal(err)
	}

	code, body := getPage(t, base+"/", "", "")
	if code != http.StatusOK || !strings.Contains(pageText(body), "No SMS since the service started.") {
		t.Fatalf("GET / before any delivery: %d\n%s", code, pageText(body))
	}
	if !strings.Contains(pageText(body), "not checked sipgate.account_check_interval is 0") {
		t.Errorf("the page does not say why the account is not checked:\n%s", pageText(body))
	}

	if code, body := post(t, base+"/api/v1/alerts", string(payload), "", ""); code != http.StatusOK {
		t.Fatalf("webhook: %d %s", code, body)
	}
	_, body = getPage(t, base+"/", "", "")
	text := pageText(body)
	if !regexp.MustCompile(`UTC web alice \+49151\*\*\*\*\*\*78 accepted `).MatchString(text) {
		t.Errorf("the page does not show the delivery:\n%s", text)
	}
	if strings.Contains(body, "+4915112345678") || strings.Contains(body, "s3cret") {
		t.Error("the page shows the number or the token")
	}

	// The form's preview says what the render API says.
	_, answer := post(t, base+"/api/v1/render", string(payload), "", "")
	var want rendered
	if err := json.Unmarshal([]byte(answer), &want); err != nil {
		t.Fatalf("render answer %q: %v", answer, err)
	}
	req, err := http.NewRequest(http.MethodPost, base+"/", strings.NewReader(url.Values{"payload": {string(payload)}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	code, body = doPage(t, req)
	text = pageText(body)
	if code != http.StatusOK {
		t.Fatalf("POST / = %d:\n%s", code, text)
	}
	// Paged already: the preview says nothing new would be sent, as the
	// render API does.
	if len(want.SMS) != 0 || len(want.Notes) == 0 {
		t.Fatalf("render answer after the page: %s", answer)
	}
	if !strings.Contains(text, "No SMS would be sent.") || !strings.Contains(text, want.Notes[0].Message) {
		t.Errorf("the form's preview does not say %q:\n%s", want.Notes[0].Message, text)
	}
	if n := len(fake.Messages()); n != 1 {
		t.Errorf("sipgate took %d SMS, want the webhook's one", n)
	}

	// A payload not yet paged: the form shows the SMS.
	fresh := strings.NewReplacer("HighErrorRate", "DiskFull", "f8d0d89aa46f68ba", "0123456789abcdef").Replace(string(payload))
	_, answer = post(t, base+"/api/v1/render?route=web", fresh, "", "")
	if err := json.Unmarshal([]byte(answer), &want); err != nil || len(want.SMS) != 1 {
		t.Fatalf("render answer %q: %v", answer, err)
	}
	req, err = http.NewRequest(http.MethodPost, base+"/", strings.NewReader(url.Values{"payload": {fresh}, "route": {"web"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	code, body = doPage(t, req)
	text = pageText(body)
	s := want.SMS[0]
	for _, w := range []string{"SMS 1: route web to alice +49151******78", strings.Join(strings.Fields(s.Text), " "), describeSize(s)} {
		if code != http.StatusOK || !strings.Contains(text, w) {
			t.Errorf("POST / = %d; the preview does not say %q:\n%s", code, w, text)
		}
	}

	// A payload the webhook would refuse is refused with its reason.
	req, err = http.NewRequest(http.MethodPost, base+"/", strings.NewReader(url.Values{"payload": {`{"version":"4"}`}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if code, body := doPage(t, req); code != http.StatusBadRequest || !strings.Contains(pageText(body), "no alerts in notification") {
		t.Errorf("POST / of a payload without alerts: %d\n%s", code, pageText(body))
	}

	if code, _ := getPage(t, base+"/nope", "", ""); code != http.StatusNotFound {
		t.Errorf("GET /nope = %d, want 404", code)
	}
}

// TestStatusPageAuth: the page is behind --web.config.file's auth, and
// says that a dry run does not check the account.
func TestStatusPageAuth(t *testing.T) {
	webConfig := writeFile(t, t.TempDir(), "web.yml", "basic_auth_users:\n  admin: "+fakePasswordHash+"\n")
	base := startService(t, "sipgate: {dry_run: true}\nroutes: [{name: r, to: ['+4915112345678']}]\n", webConfig)
	if code, _ := getPage(t, base+"/", "", ""); code != http.StatusUnauthorized {
		t.Errorf("without credentials: %d, want 401", code)
	}
	code, body := getPage(t, base+"/", "admin", "fakepassword")
	text := pageText(body)
	if code != http.StatusOK || !strings.Contains(text, "not checked dry run: SMS are logged, not sent") {
		t.Errorf("with credentials: %d\n%s", code, text)
	}
	if !strings.Contains(text, "r every alert +49151******78") {
		t.Errorf("the route's number is not masked in the config summary:\n%s", text)
	}
}

// TestStatusPageShowsTheSipgateInUse: a reload cannot change the sipgate
// section (it needs a restart), so the page goes on showing the one the
// service sends with, not the file's: a reload that turns on dry_run must
// not make the page say that SMS are only logged while they are sent, nor
// warn of the file's sipgate section instead of the one in use.
func TestStatusPageShowsTheSipgateInUse(t *testing.T) {
	dir := t.TempDir()
	routes := "contacts: {alice: {number: '+4915112345678'}}\nroutes: [{name: web, to: [alice]}]\n"
	file := writeFile(t, dir, "config.yml", "sipgate: {url: 'http://127.0.0.1:1', token_id: token-1, token: s3cret, account_check_interval: 0s, low_balance: 5}\n"+routes)
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(cfg, file, filepath.Join(dir, "data"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	page, err := a.statusPage()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "config.yml", "sipgate: {dry_run: true, low_balance: 5}\n"+routes)
	if err := a.pagers.Reload(); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	page.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	text := pageText(w.Body.String())
	if w.Code != http.StatusOK || strings.Contains(text, "dry run") || !strings.Contains(text, "http://127.0.0.1:1") {
		t.Errorf("after a reload to dry_run: %d; the page should show the sipgate the service sends with:\n%s", w.Code, text)
	}
	if !strings.Contains(text, "sipgate.low_balance: is never checked") {
		t.Errorf("after a reload the page lost the warning of the sipgate section in use:\n%s", text)
	}
}
