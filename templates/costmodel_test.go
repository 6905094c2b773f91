package templates

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sms"
)

// TestCostModel keeps the README's worked example true: a storm of 40
// alerts costs 50 UCS-2 segments when every alert is listed, and one GSM-7
// segment through the built-in template and the fitter.
func TestCostModel(t *testing.T) {
	e, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	var alerts template.Alerts
	var naive strings.Builder
	for i := 1; i <= 40; i++ {
		a := template.Alert{
			Status:      "firing",
			Labels:      template.KV{"alertname": "DiskFull", "instance": fmt.Sprintf("node-%d", i), "severity": "warning"},
			Annotations: template.KV{"summary": fmt.Sprintf("Disk /var on node-%d is 93%% full – predicted full in 2h ⚠️", i)},
			StartsAt:    time.Date(2026, 11, 25, 3, 12, 0, 0, time.UTC),
		}
		alerts = append(alerts, a)
		fmt.Fprintf(&naive, "FIRING DiskFull %s %s ", a.Labels["instance"], a.Annotations["summary"])
	}
	if got := sms.Measure(naive.String()); got.Encoding != sms.UCS2 || got.Units != 3302 || got.Segments != 50 {
		t.Errorf("naive text: %+v, want UCS-2, 3302 units, 50 segments", got)
	}

	data := &template.Data{Status: "firing", Alerts: alerts, CommonLabels: template.KV{"alertname": "DiskFull", "severity": "warning"}}
	got, err := e.RenderSMS(context.Background(), DefaultTemplate, &Data{Data: data}, sms.Budget{MaxSegments: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := "FIRING 40 DiskFull warning node-1,node-2,node-3,node-4,node-5,node-6,node-7,node-8,node-9,node-10,node-11,node-12,node-13,node-14,+26 more: Disk /var on node..."
	if got.Text != want || got.Size.Encoding != sms.GSM7 || got.Size.Segments != 1 || !got.Truncated {
		t.Errorf("built-in template:\n got %q %+v\nwant %q, one GSM-7 segment", got.Text, got.Size, want)
	}
}
