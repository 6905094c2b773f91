package pager

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/delivery"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate"
)

// hourly is an hourly rotation of alice and bob from midnight UTC on
// 1 January 2024, paged by every alert.
const hourly = contacts + `
schedules:
  ops:
    time_zone: UTC
    layers: [{members: [alice, bob], start: "2024-01-01 00:00", shift: 1h}]
routes: [{name: all, to: [ops]}]
`

// smsRecorder is a sipgate that takes every SMS and notes its recipient.
type smsRecorder struct {
	mu   sync.Mutex
	sent []string
}

func (s *smsRecorder) SendSMS(_ context.Context, sms sipgate.SMS) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, sms.Recipient)
	return nil
}

// take returns the recipients of the SMS sent since the last take.
func (s *smsRecorder) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.sent
	s.sent = nil
	slices.Sort(out)
	return out
}

// TestRetryAfterHandoff: Alertmanager sends one notification again and
// again, as it does after a failed answer, while the schedule hands off
// every hour. Each time, whoever is on call then is paged, unless the
// ledger knows they already got it; nobody gets it twice.
func TestRetryAfterHandoff(t *testing.T) {
	led := openLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	c, err := config.Parse([]byte(hourly), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(prometheus.NewRegistry())
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	sms := &smsRecorder{}
	d := delivery.New(delivery.Options{Sender: sms, Ledger: led, Metrics: m, Logger: logger, MinSendTime: -1})
	p, err := New(c, d, led, m, logger)
	if err != nil {
		t.Fatal(err)
	}
	n := load(t, "webhook-firing-2-alerts.json")
	for _, step := range []struct {
		at   string
		want []string
	}{
		{"2024-01-01T00:30:00Z", []string{aliceNumber}},
		{"2024-01-01T00:59:59Z", nil},                 // alice still, already paged
		{"2024-01-01T01:00:00Z", []string{bobNumber}}, // the hand-off: bob
		{"2024-01-01T02:10:00Z", nil},                 // alice again, already paged
		{"2024-01-01T03:10:00Z", nil},                 // bob again, already paged
	} {
		at, err := time.Parse(time.RFC3339, step.at)
		if err != nil {
			t.Fatal(err)
		}
		n.Received = at
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = p.Notify(ctx, n, "")
		cancel()
		if err != nil {
			t.Fatalf("at %s: %v", step.at, err)
		}
		if got := sms.take(); !slices.Equal(got, step.want) {
			t.Errorf("at %s: SMS to %v, want %v", step.at, got, step.want)
		}
	}
}

// TestFallbackWarnsAndCounts: a schedule with nobody on call pages its
// fallback, with a warning and a count per notification.
func TestFallbackWarnsAndCounts(t *testing.T) {
	cfg := contacts + `
schedules:
  ops:
    time_zone: Europe/Berlin
    layers: [{members: [alice], start: "2099-01-01 00:00", shift: 1d}]
    fallback: [bob]
routes: [{name: all, to: [ops]}]
`
	p, rec, m := newPager(t, cfg)
	var logs bytes.Buffer
	p.logger = slog.New(slog.NewTextHandler(&logs, nil))
	n := load(t, "webhook-firing-2-alerts.json")
	n.Received = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := p.Notify(context.Background(), n, ""); err != nil {
		t.Fatal(err)
	}
	if got := sent(rec.msgs); len(got) != 1 || !strings.HasPrefix(got[0], "bob all "+bobNumber) {
		t.Errorf("sent %v, want one SMS to bob", got)
	}
	if got := testutil.ToFloat64(m.OnCallFallback.WithLabelValues("ops")); got != 1 {
		t.Errorf("oncall_fallback_total{schedule=ops} = %v, want 1", got)
	}
	if !strings.Contains(logs.String(), `level=WARN msg="nobody on call: paging the schedule's fallback"`) ||
		!strings.Contains(logs.String(), "schedule=ops fallback=[bob]") {
		t.Errorf("no warning naming the schedule and its fallback:\n%s", logs.String())
	}
}
