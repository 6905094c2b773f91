package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/pager"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate/sipgatetest"
)

// TestReceiverNamesFollowReload: the receiver label takes the receiver
// names of the routes of the config in use, and a reload changes them.
func TestReceiverNamesFollowReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yml")
	write := func(routes string) {
		t.Helper()
		cfg := "sipgate: {dry_run: true}\nroutes:\n" + routes
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`  - {name: night, receiver: sms.night, to: ["+4915112345678"]}
  - {name: default, to: ["+4915112345678"]}
`)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	build := func(*config.Config) (*pager.Pager, error) { return &pager.Pager{}, nil }
	r, err := newReloader(path, cfg, build, metrics.New(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	check := func(receiver, wantName string, wantKnown bool) {
		t.Helper()
		if name, known := r.ReceiverName(receiver); name != wantName || known != wantKnown {
			t.Errorf("ReceiverName(%q) = %q, %v; want %q, %v", receiver, name, known, wantName, wantKnown)
		}
	}
	check(`sms\.night`, "sms.night", true) // as Alertmanager quotes it
	check("sms-day", "", false)

	write(`  - {name: day, receiver: sms-day, to: ["+4915112345678"]}
  - {name: default, to: ["+4915112345678"]}
`)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	check("sms-day", "sms-day", true)
	check(`sms\.night`, "", false)

	write("not: [valid\n")
	if err := r.Reload(); err == nil {
		t.Fatal("reload of a broken config succeeded")
	}
	check("sms-day", "sms-day", true) // the running config stays
}

// TestReloadKeepsWhatNeedsARestart: delivery, which only a restart
// applies, stays as started in the config the pager decides by, as it
// does in the ledger and the deliverer.
func TestReloadKeepsWhatNeedsARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yml")
	write := func(delivery string) {
		t.Helper()
		cfg := "sipgate: {dry_run: true}\ndelivery: " + delivery + "\nroutes: [{name: default, to: [\"+4915112345678\"]}]\n"
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("{dedup_window: 10m}")
	started, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var built *config.Config
	build := func(c *config.Config) (*pager.Pager, error) { built = c; return &pager.Pager{}, nil }
	r, err := newReloader(path, started, build, metrics.New(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	write("{dedup_window: 1m}")
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if built.Delivery != started.Delivery || r.Config().Delivery != started.Delivery {
		t.Errorf("after a reload that changed delivery: the pager's %+v, the current config's %+v; want the started %+v", built.Delivery, r.Config().Delivery, started.Delivery)
	}
}

// TestReloadTellsWhoIsOnCallNow: a reload that changes who is on call
// under way, as a changed members list does, says so in the log.
func TestReloadTellsWhoIsOnCallNow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yml")
	write := func(members string) {
		t.Helper()
		cfg := "sipgate: {dry_run: true}\ncontacts: {alice: {number: '+4915100000001'}, bob: {number: '+4915100000002'}, carol: {number: '+4915100000003'}}\n" +
			"schedules: {ops: {time_zone: Europe/Berlin, layers: [{name: weekly, members: " + members + ", start: '2024-01-01 09:00', shift: 1w}]}}\n" +
			"routes: [{name: default, to: [ops]}]\n"
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("[alice, bob]")
	started, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	build := func(*config.Config) (*pager.Pager, error) { return &pager.Pager{}, nil }
	r, err := newReloader(path, started, build, metrics.New(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	write("[alice, bob]")
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "on call") {
		t.Errorf("a reload that changed nobody's shift says:\n%s", logs.String())
	}
	write("[carol]")
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`msg="config reload changed who is on call now" schedule=ops was=(alice|bob) is=carol`).MatchString(logs.String()) {
		t.Errorf("the reload that put carol on call says:\n%s", logs.String())
	}
}

// TestReloadAppliesTimeZoneToDigests: a new time_zone applies to the
// digests as it does to the SMS texts and quiet hours, not only after a
// restart.
func TestReloadAppliesTimeZoneToDigests(t *testing.T) {
	fake := sipgatetest.NewServer("token-1", "s3cret")
	defer fake.Close()
	dir := t.TempDir()
	write := func(zone string) string {
		return writeFile(t, dir, "config.yml", sipgateConfig(fake)+"time_zone: "+zone+"\nroutes: [{name: default, to: [\"+4915112345678\"]}]\n")
	}
	path := write("UTC")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(cfg, path, filepath.Join(dir, "data"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	write("Asia/Tokyo") // UTC+9 all year
	if err := a.pagers.Reload(); err != nil {
		t.Fatal(err)
	}
	// The ledger holds it back from now on.
	if err := a.ledger.RecordSuppressed("held-1", "+4915112345678", ledger.Suppressed{Alerts: 1, Names: []string{"TargetDown"}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.deliverer.SendDigests(ctx, 5*time.Second, a.pagers.Limits()); err != nil {
		t.Fatal(err)
	}
	if msgs := fake.Messages(); len(msgs) != 1 || !strings.HasPrefix(msgs[0].Message, "Held back since ") || !strings.Contains(msgs[0].Message, " JST: ") {
		t.Errorf("sipgate took %+v; want one digest telling the time in Asia/Tokyo (JST)", msgs)
	}
}
