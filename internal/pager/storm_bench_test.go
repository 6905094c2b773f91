package pager

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
)

// BenchmarkNotifyStorm routes and renders one notification of 20,000
// alerts without fingerprints (webhook.max_alerts of the tiniest alerts a
// 4 MiB body holds) for one recipient: what TestConcurrentMaxSizeWebhooksMemory
// holds eight of at once, so its allocations are that test's peak memory.
func BenchmarkNotifyStorm(b *testing.B) {
	c, err := config.Parse([]byte("sipgate: {dry_run: true}\ncontacts: {alice: {number: \"+4915100000001\"}}\nroutes: [{name: sms, to: [alice]}]\n"), "b.yml")
	if err != nil {
		b.Fatal(err)
	}
	var alerts template.Alerts
	for i := range 20000 {
		alerts = append(alerts, template.Alert{Status: "firing", Labels: template.KV{"alertname": "BigBody", "i": fmt.Sprint(i)}, Annotations: template.KV{}})
	}
	n := &notification.Notification{Data: &template.Data{Receiver: "r", Status: "firing", Alerts: alerts, GroupLabels: template.KV{}, CommonLabels: template.KV{}, CommonAnnotations: template.KV{}}}
	p, err := New(c, discard{}, pagedSet{}, metrics.New(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Notify(context.Background(), n, ""); err != nil {
			b.Fatal(err)
		}
	}
}
