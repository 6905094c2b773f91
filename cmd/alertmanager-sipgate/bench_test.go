package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
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
			bodies := newStormBodies(n)
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				i++
				req := httptest.NewRequest(http.MethodPost, "/api/v1/alerts", bytes.NewReader(bodies.next(i)))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				b.StartTimer()
				before := cpuTime(b)
				handler.ServeHTTP(rec, req)
				cpu += cpuTime(b) - before
				if rec.Code != http.StatusOK {
					b.Fatalf("answer %d: %s", rec.Code, rec.Body)
				}
			}
			// What the machine spent, on all threads, while webhooks were
			// answered: less noisy than the time, which waits on the disk.
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// stormBodies makes Alertmanager webhooks of n new firing alerts of a new
// group, shaped like the captured ones: a storm whose alerts began firing
// together, a second after the previous one's. Fingerprints are scattered
// over their whole range, as hashes are. The body is written once and
// only its start times, fingerprints and group key are rewritten in place
// for each webhook: making the next body allocates nothing, so that the
// garbage collector's work the benchmark measures is the service's.
type stormBodies struct {
	body     []byte
	starts   []int // where each alert's startsAt value begins
	prints   []int // where each alert's fingerprint begins
	groupKey int   // where the group key's number begins
}

// startsLayout is RFC 3339 in UTC of a fixed width, so a time overwrites
// the one before it.
const startsLayout = "2006-01-02T15:04:05.000000000Z"

func newStormBodies(n int) *stormBodies {
	s := &stormBodies{}
	b := []byte(`{"receiver":"sms-bridge","status":"firing","alerts":[`)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"status":"firing","labels":{"alertname":"HighErrorRate","instance":"web-%d:8080","service":"checkout","severity":"critical","team":"payments"},`+
			`"annotations":{"description":"5xx ratio is 7.3%% over the last 5m on web-%d:8080","summary":"Checkout 5xx rate above 5%%"},"startsAt":"`, i, i)
		s.starts = append(s.starts, len(b))
		b = time.Time{}.AppendFormat(b, startsLayout)
		b = append(b, `","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.example:9090/graph?g0.expr=job%3Acheckout_5xx%3Aratio5m+%3E+0.05","fingerprint":"`...)
		s.prints = append(s.prints, len(b))
		b = append(b, "0123456789abcdef\"}"...)
	}
	b = append(b, `],"notification_reason":"first notification","groupLabels":{"alertname":"HighErrorRate"},"commonLabels":{"alertname":"HighErrorRate","service":"checkout","severity":"critical","team":"payments"},`+
		`"commonAnnotations":{"summary":"Checkout 5xx rate above 5%"},"routeLabels":{},"externalURL":"http://vm:9093","version":"4","groupKey":"{}:{alertname=\"`...)
	s.groupKey = len(b)
	b = append(b, "000000000\\\"}\",\"truncatedAlerts\":0}"...)
	s.body = b
	return s
}

// next is the iter-th webhook, valid until the next call.
func (s *stormBodies) next(iter int) []byte {
	startsAt := time.Date(2026, 11, 24, 22, 12, 2, 20447644, time.UTC).Add(time.Duration(iter) * time.Second)
	var buf [64]byte
	starts := startsAt.AppendFormat(buf[:0], startsLayout)
	var seed [16]byte
	for i, at := range s.starts {
		copy(s.body[at:], starts)
		binary.BigEndian.PutUint64(seed[:8], uint64(iter))
		binary.BigEndian.PutUint64(seed[8:], uint64(i))
		fp := sha256.Sum256(seed[:])
		hex.Encode(s.body[s.prints[i]:], fp[:8])
	}
	key := strconv.AppendInt(buf[:0], int64(iter), 10)
	copy(s.body[s.groupKey+9-len(key):], key)
	return s.body
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		b.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
