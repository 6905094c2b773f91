package receiver

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
)

// maxBody is the default webhook.max_body_bytes.
const maxBody = 4 << 20

// payload is a notification of as many alerts as fit in size bytes, at
// most count of them (0 for no bound but size).
func payload(size, count int, alert func(i int) string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"version":"4","groupKey":"{}:{alertname=\"HighErrorRate\"}","receiver":"sms-bridge","status":"firing","externalURL":"http://am:9093","alerts":[`)
	const end = `],"groupLabels":{"alertname":"HighErrorRate"},"commonLabels":{},"commonAnnotations":{},"truncatedAlerts":0}`
	for i := 0; count == 0 || i < count; i++ {
		a := alert(i)
		if b.Len()+len(a)+1+len(end) > size {
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(a)
	}
	b.WriteString(end)
	return b.Bytes()
}

// realisticAlert is an alert as Prometheus and Alertmanager send it.
func realisticAlert(i int) string {
	return fmt.Sprintf(`{"status":"firing","labels":{"alertname":"HighErrorRate","instance":"web-%d:8080","job":"checkout","service":"checkout","severity":"critical","team":"payments"},"annotations":{"description":"5xx ratio is 7.3%% over the last 5m on web-%d:8080","summary":"Checkout 5xx rate above 5%%"},"startsAt":"2026-11-24T22:12:02.020447644Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.example:9090/graph?g0.expr=job%%3Acheckout_5xx%%3Aratio5m+%%3E+0.05","fingerprint":"%016x"}`, i, i, i)
}

// hugeAlert is one alert of as many labels as fit in a body: the decoder
// reads each alert whole, so this is the most it buffers at once.
func hugeAlert(int) string {
	var b strings.Builder
	b.WriteString(`{"status":"firing","labels":{`)
	for i := 0; b.Len() < maxBody-1024; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"label_%06d":"%080d"`, i, i)
	}
	b.WriteString(`}}`)
	return b.String()
}

// smallestAlert is the shortest valid alert but for a digit, which
// ownAlerts makes each body's own: in JSON it is least of what it decodes
// to.
func smallestAlert(int) string { return `{"status":"firing","labels":{"a":"0"}}` }

// ownAlerts makes body number i (at most 15) of a group and of alerts of
// its own, at the same length: the service pages a group's notifications,
// and an alert's, one at a time. Alerts are told apart by their
// fingerprint, or by their labels when they have none.
func ownAlerts(i int, body []byte) []byte {
	for _, r := range [][2]string{
		{`"groupKey":"{}`, `"groupKey":"%x}`},
		{`"fingerprint":"0`, `"fingerprint":"%x`},
		{`"labels":{"a":"0"`, `"labels":{"a":"%x"`},
		{`"label_000000":"0`, `"label_000000":"%x`},
	} {
		body = bytes.ReplaceAll(body, []byte(r[0]), fmt.Appendf(nil, r[1], i))
	}
	return body
}

// holdingNotifier keeps every notification it is given until release is
// closed, as a pager busy sending would.
type holdingNotifier struct {
	entered chan *notification.Notification
	release chan struct{}
}

func (h *holdingNotifier) Notify(_ context.Context, n *notification.Notification, _ string) error {
	h.entered <- n
	<-h.release
	return nil
}

// BenchmarkEightMaxSizeWebhooks serves 8 webhooks of the maximum size at
// once and reports the heap they hold while all 8 are being paged
// (live-MB), what each allocated on the way (alloc-MB/webhook), and the
// memory the Go runtime took from the OS (sys-MB), which bounds its part
// of the RSS; sys-MB includes the 8 bodies the benchmark holds.
//
//	go test -run '^$' -bench EightMaxSizeWebhooks -benchtime 5x ./receiver/
func BenchmarkEightMaxSizeWebhooks(b *testing.B) {
	for _, bc := range []struct {
		name string
		body []byte
	}{
		{"realistic", payload(maxBody, 0, realisticAlert)},
		{"smallest-alerts", payload(maxBody, 0, smallestAlert)},
		{"one-alert", payload(maxBody, 1, hugeAlert)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const concurrent = 8
			// Each of a group and of alerts of its own: a group's
			// notifications, and an alert's, are paged one at a time.
			bodies := make([][]byte, concurrent)
			for i := range bodies {
				bodies[i] = ownAlerts(i, bc.body)
			}
			var live, allocated uint64
			var sys uint64
			for b.Loop() {
				n := &holdingNotifier{entered: make(chan *notification.Notification, concurrent), release: make(chan struct{})}
				h, _ := newHandler(n, Options{MaxBodyBytes: maxBody, MaxInFlight: concurrent, MaxAlerts: config.DefaultMaxAlerts, Timeout: time.Minute})
				var before, held runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				notifications, wait := postHeld(b, h, n, bodies, false)
				runtime.ReadMemStats(&held)
				allocated += held.TotalAlloc - before.TotalAlloc
				runtime.GC()
				runtime.ReadMemStats(&held)
				live += held.HeapAlloc - before.HeapAlloc
				sys = max(sys, held.Sys)
				runtime.KeepAlive(notifications)
				close(n.release)
				wait()
			}
			const mb = 1 << 20
			b.ReportMetric(float64(live)/float64(b.N)/mb, "live-MB")
			b.ReportMetric(float64(allocated)/float64(b.N*concurrent)/mb, "alloc-MB/webhook")
			b.ReportMetric(float64(sys)/mb, "sys-MB")
			b.ReportMetric(float64(len(bodies[0]))/mb, "body-MB")
		})
	}
}

// Alerts heavier than an alert as Prometheus sends it, each of about 1.6
// KB of JSON, as rules that carry runbooks, dashboards and long
// descriptions send them; their values repeat from alert to alert
// (which the decoder keeps once), or not, or they are many short labels.
func sharedHeavyAlert(i int) string {
	long := strings.Repeat("x", 100)
	return fmt.Sprintf(`{"status":"firing","labels":{"alertname":"HighErrorRate","instance":"web-%d:8080","job":"checkout","l1":"%s","l2":"%s","l3":"%s","l4":"%s","l5":"%s","l6":"%s"},"annotations":{"description":"%s","runbook_url":"https://runbooks.example/%s","dashboard":"https://grafana.example/d/%s"},"startsAt":"2026-11-24T22:12:02.020447644Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.example:9090/graph?g0.expr=x","fingerprint":"%016x"}`,
		i, long, long, long, long, long, long, strings.Repeat("y", 400), long, long, i)
}

func distinctHeavyAlert(i int) string {
	long := func(k int) string { return fmt.Sprintf("%d-%d-%s", i, k, strings.Repeat("x", 90)) }
	return fmt.Sprintf(`{"status":"firing","labels":{"alertname":"HighErrorRate","instance":"web-%d:8080","job":"checkout","l1":"%s","l2":"%s","l3":"%s","l4":"%s","l5":"%s","l6":"%s"},"annotations":{"description":"%d %s","runbook_url":"https://runbooks.example/%s","dashboard":"https://grafana.example/d/%s"},"startsAt":"2026-11-24T22:12:02.020447644Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.example:9090/graph?g0.expr=x","fingerprint":"%016x"}`,
		i, long(1), long(2), long(3), long(4), long(5), long(6), i, strings.Repeat("y", 400), long(7), long(8), i)
}

func manyLabelsAlert(i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"status":"firing","labels":{"alertname":"Dense","i":"%d"`, i)
	for k := range 110 {
		fmt.Fprintf(&b, `,"k%d":"%d"`, k, (i+k)%1000)
	}
	fmt.Fprintf(&b, `},"startsAt":"2026-11-24T22:12:02Z","fingerprint":"%016x"}`, i)
	return b.String()
}

// BenchmarkHeavyAlertsInFlight posts 60 webhooks of 4 MiB of heavy
// alerts at once, each of a group and alerts of its own, to a handler of
// the default bounds but max_in_flight 64, and reports how many it takes
// in (the rest are answered 503, which Alertmanager retries), their
// alerts, and the heap that those hold while paged (live-MB, measured
// after they are decoded, not at the peak of decoding). Counted as alerts
// alone, all 60 were taken in.
//
//	go test -run '^$' -bench HeavyAlertsInFlight -benchtime 3x ./receiver/
func BenchmarkHeavyAlertsInFlight(b *testing.B) {
	for _, bc := range []struct {
		name  string
		alert func(int) string
	}{
		{"shared-values", sharedHeavyAlert},
		{"distinct-values", distinctHeavyAlert},
		{"many-labels", manyLabelsAlert},
	} {
		b.Run(bc.name, func(b *testing.B) { heavyAlertsInFlight(b, bc.alert) })
	}
}

func heavyAlertsInFlight(b *testing.B, alert func(int) string) {
	const concurrent = 60
	// Room for ownAlerts to lengthen each fingerprint by a digit.
	body := payload(maxBody-8<<10, 0, alert)
	bodies := make([][]byte, concurrent)
	for i := range bodies {
		bodies[i] = ownAlerts(i, body)
	}
	var live uint64
	var admitted, alerts int
	for b.Loop() {
		n := &holdingNotifier{entered: make(chan *notification.Notification, concurrent), release: make(chan struct{})}
		// Timeout 2s: the oldest turned away waits a second for room.
		h, _ := newHandler(n, Options{MaxBodyBytes: maxBody, MaxInFlight: 64, MaxAlerts: config.DefaultMaxAlerts, MaxAlertsInFlight: config.DefaultMaxAlertsInFlight, Timeout: 2 * time.Second})
		var before, held runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		notifications, wait := postHeld(b, h, n, bodies, true)
		for _, got := range notifications {
			alerts += len(got.Alerts)
		}
		admitted += len(notifications)
		runtime.GC()
		runtime.ReadMemStats(&held)
		live += held.HeapAlloc - before.HeapAlloc
		runtime.KeepAlive(notifications)
		close(n.release)
		wait()
	}
	b.ReportMetric(float64(live)/float64(b.N)/(1<<20), "live-MB")
	b.ReportMetric(float64(admitted)/float64(b.N), "admitted")
	b.ReportMetric(float64(alerts)/float64(b.N), "alerts")
	b.ReportMetric(float64(len(alert(0))), "alert-bytes")
}

// postHeld posts the bodies to h at once and returns the notifications
// that n holds once each request is either held or answered, and a wait
// for the requests to end once n releases them. A request answered
// otherwise than 200 fails b, but for a 503 when busy503 is set.
func postHeld(b *testing.B, h *Handler, n *holdingNotifier, bodies [][]byte, busy503 bool) ([]*notification.Notification, func()) {
	var wg sync.WaitGroup
	for _, body := range bodies {
		wg.Go(func() {
			if w := post(h, bytes.NewReader(body)); w.Code != http.StatusOK {
				if !busy503 || w.Code != http.StatusServiceUnavailable {
					b.Errorf("code = %d (%s)", w.Code, w.Body)
				}
				n.entered <- nil // not to wait for it below
			}
		})
	}
	var held []*notification.Notification
	for range bodies {
		if got := <-n.entered; got != nil {
			held = append(held, got)
		}
	}
	return held, wg.Wait
}
