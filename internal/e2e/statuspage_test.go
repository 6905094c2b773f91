package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// screenshot, when set, is where TestStatusPage saves a PNG of the whole
// page, as the README shows it:
//
//	go test ./internal/e2e -run TestStatusPage -args -screenshot=../../examples/status-page.png
var screenshot = flag.String("screenshot", "", "save a full-page PNG of the status page here (TestStatusPage)")

// chromiumPath is Debian's chromium; CHROMIUM_BIN overrides it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	bin := cmpOr(os.Getenv("CHROMIUM_BIN"), "/usr/bin/chromium")
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Chromium at %s: CI installs Debian's chromium (.ci/run): %v", bin, err)
		}
		t.Skipf("no Chromium at %s (apt-get install chromium): %v", bin, err)
	}
	return bin
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// browser starts a headless Chromium with a profile of its own that
// reaches nothing but what the test opens, and returns its context and
// the console of its tab.
func browser(t *testing.T) (context.Context, *console) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		// The machine has no network: nothing may try to reach Google.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("no-first-run", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Console starts the browser and subscribes before anything loads.
	return ctx, watchConsole(ctx)
}

// console collects what the tab's pages write to the console: calls of
// the console API, uncaught exceptions, and the browser's own entries,
// such as a resource that failed to load or a Content-Security-Policy
// violation.
type console struct {
	mu       sync.Mutex
	messages []chromedp.ConsoleMessage
	// marked is closed once the marker came, or the subscription ended.
	marked chan struct{}
	err    error
}

// consoleMarker is what drain writes to the console: once it is read,
// so is every message before it.
const consoleMarker = "alertmanager-sipgate e2e: console drained"

func watchConsole(ctx context.Context) *console {
	c := &console{marked: make(chan struct{})}
	messages := chromedp.Console(ctx)
	go func() {
		defer close(c.marked)
		for m, err := range messages {
			if err != nil {
				c.mu.Lock()
				c.err = err
				c.mu.Unlock()
				return
			}
			if m.Type == chromedp.ConsoleLog && m.Text == consoleMarker {
				return
			}
			c.mu.Lock()
			c.messages = append(c.messages, m)
			c.mu.Unlock()
		}
	}()
	return c
}

// drain writes the marker to the console and returns the errors and
// warnings written before it, once it came: the console keeps its order.
func (c *console) drain(t *testing.T, ctx context.Context) []string {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void]("console.log("+strconv.Quote(consoleMarker)+")")); err != nil {
		t.Fatalf("write to the console: %v", err)
	}
	select {
	case <-c.marked:
	case <-ctx.Done():
		t.Fatalf("the console marker did not come: %v", ctx.Err())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		t.Fatalf("read the console: %v", c.err)
	}
	var bad []string
	for _, m := range c.messages {
		switch m.Type {
		case chromedp.ConsoleError, chromedp.ConsoleWarning, chromedp.ConsoleException, "assert":
			bad = append(bad, fmt.Sprintf("%s (%s %s)", m, m.Source, m.URL))
		}
	}
	return bad
}

// statusRoutes page a schedule for critical alerts of receiver sms and
// carol, at most once an hour, for the rest: the second notification to
// her is held back and owed in a digest.
const statusRoutes = `
schedules:
  ops:
    time_zone: Europe/Berlin
    layers: [{name: weekly, members: [alice, bob], start: "2024-01-01 09:00", shift: 1w}]
limits:
  per_recipient: [{max: 1, per: 1h}]
routes:
  - name: critical
    receiver: sms
    matchers: ['severity="critical"']
    to: [ops]
  - name: default
    to: [carol]
`

// TestStatusPage loads the status page in a real headless Chromium: it
// shows the deliveries the test made, with masked numbers, and what is
// owed, without a console error, and its preview form, posted without
// JavaScript, shows the SMS of an example payload.
func TestStatusPage(t *testing.T) {
	chromiumPath(t) // skip before building anything
	s := startStackWith(t, stackOptions{routes: statusRoutes})
	fixture := readFixture(t)
	if code, answer := s.postWebhook(t, "/api/v1/alerts", "application/json", fixture, true); code != 200 {
		t.Fatalf("webhook: %d %s", code, answer)
	}
	other := strings.NewReplacer("HighErrorRate", "DiskFull", "f8d0d89aa46f68ba", "0000000000000001", "5123ebe051319d85", "0000000000000002").Replace(string(fixture))
	if code, answer := s.postWebhook(t, "/api/v1/alerts", "application/json", []byte(other), true); code != 200 {
		t.Fatalf("webhook: %d %s", code, answer)
	}
	if n := len(s.waitSMS(t, 1)); n != 1 {
		t.Fatalf("sipgate took %d SMS, want 1 (the second held back)", n)
	}
	// The account check runs at start, beside the listener.
	eventually(t, waitLong, "the account checked", func() bool {
		return strings.Contains(get(t, url(s.svcAddr, "/")), "credentials accepted")
	})

	ctx, console := browser(t)
	ctx, cancel := context.WithTimeout(ctx, waitLong)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(url(s.svcAddr, "/")),
		chromedp.WaitVisible(chromedp.ID("deliveries")),
	); err != nil {
		t.Fatalf("load the status page: %v", err)
	}
	carolMasked := "+49151******03"
	for id, want := range map[string][]string{
		"deliveries": {"default", "carol", carolMasked, "accepted", "suppressed"},
		"owed":       {"carol", carolMasked, "DiskFull"},
		"oncall":     {"ops", "layer weekly"},
		"account":    {"up", "credentials accepted", "100.00 EUR"},
	} {
		text := textOf(t, ctx, id)
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("section %s does not show %q:\n%s", id, w, text)
			}
		}
		if strings.Contains(text, carol) {
			t.Errorf("section %s shows carol's number unmasked", id)
		}
	}

	payload, err := os.ReadFile("../../examples/payloads/firing.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("payload"), string(payload)),
		chromedp.Click(chromedp.CSS(`#preview button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("preview-result")),
	); err != nil {
		t.Fatalf("post the preview form: %v", err)
	}
	result := textOf(t, ctx, "preview-result")
	for _, want := range []string{"SMS 1: route critical to ", "HighErrorRate", "+49151******0", "1 segment"} {
		if !strings.Contains(result, want) {
			t.Errorf("the preview does not show %q:\n%s", want, result)
		}
	}
	if n := len(s.fake.Messages()); n != 1 {
		t.Errorf("sipgate took %d SMS after the preview, want still 1: a preview never sends", n)
	}
	if *screenshot != "" {
		saveScreenshot(t, ctx, *screenshot)
	}
	if bad := console.drain(t, ctx); len(bad) > 0 {
		t.Errorf("the pages wrote errors to the console:\n%s", strings.Join(bad, "\n"))
	}
}

// textOf is the text of the element with that id.
func textOf(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("text of #%s: %v", id, err)
	}
	return text
}

// saveScreenshot saves a PNG of the whole page.
func saveScreenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("saved the status page to %s", path)
}
