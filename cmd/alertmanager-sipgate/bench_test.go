package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
)

// BenchmarkWebhook answers one Alertmanager webhook of 2, 1,000 and 10,000
// alerts (one group, one SMS) the whole way: decode, route, render, the
// ledger's two synced commits, and the answer. Each iteration's alerts are
// new, so none is deduplicated or old news. A dry run, so the send itself
// costs nothing: what is measured is the service.
func BenchmarkWebhook(b *testing.B) {
	dir := b.TempDir()
	cfgFile := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgFile, []byte("sipgate: {dry_run: true}\nwebhook: {max_body_bytes: 16777216}\nroutes:\n  - {name: default, to: [\"+4915112345678\"]}\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		b.Fatal(err)
	}
	a, err := newApp(cfg, cfgFile, filepath.Join(dir, "data"), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(a.close)
	handler, err := a.routes()
	if err != nil {
		b.Fatal(err)
	}
	// One count for all runs, so that -count and the runs of b.Loop do
	// not post a notification the ledger has seen.
	i := 0
	for _, n := range []int{2, 1000, 10000} {
		b.Run(fmt.Sprintf("alerts=%d", n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				i++
				req := httptest.NewRequest(http.MethodPost, "/api/v1/alerts", bytes.NewReader(webhookBody(n, i)))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				b.StartTimer()
				handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("answer %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// webhookBody is an Alertmanager webhook of n new firing alerts of a new
// group, the iter-th, shaped like the captured ones: a storm whose alerts
// began firing together, a second after the previous one's. Fingerprints
// are scattered over their whole range, as hashes are.
func webhookBody(n, iter int) []byte {
	startsAt := time.Date(2026, 11, 24, 22, 12, 2, 20447644, time.UTC).Add(time.Duration(iter) * time.Second).Format(time.RFC3339Nano)
	var alerts []string
	for i := range n {
		fp := sha256.Sum256(fmt.Appendf(nil, "%d/%d", iter, i))
		alerts = append(alerts, fmt.Sprintf(`{"status":"firing","labels":{"alertname":"HighErrorRate","instance":"web-%d:8080","service":"checkout","severity":"critical","team":"payments"},`+
			`"annotations":{"description":"5xx ratio is 7.3%% over the last 5m on web-%d:8080","summary":"Checkout 5xx rate above 5%%"},`+
			`"startsAt":"%s","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.example:9090/graph?g0.expr=job%%3Acheckout_5xx%%3Aratio5m+%%3E+0.05","fingerprint":"%.8x"}`, i, i, startsAt, fp))
	}
	return []byte(`{"receiver":"sms-bridge","status":"firing","alerts":[` + strings.Join(alerts, ",") +
		`],"notification_reason":"first notification","groupLabels":{"alertname":"HighErrorRate"},"commonLabels":{"alertname":"HighErrorRate","service":"checkout","severity":"critical","team":"payments"},` +
		`"commonAnnotations":{"summary":"Checkout 5xx rate above 5%"},"routeLabels":{},"externalURL":"http://vm:9093","version":"4","groupKey":"{}:{alertname=\"` + strconv.Itoa(iter) + `\"}","truncatedAlerts":0}`)
}
