package templates

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sms"
)

// TestHardCutKeepsNamesBeforeLocations: when the alertnames alone do not fit, the last resort
// cut the text with every location still in it, so the pods of the first alertname pushed the
// other alertnames out of the SMS, which read as 48 alerts of one name. The locations are what
// gives way first ("+N more"), also before a hard cut.
func TestHardCutKeepsNamesBeforeLocations(t *testing.T) {
	e := newEngine(t)
	names := []string{"KubePodCrashLooping", "KubeDeploymentReplicasMismatch", "KubeContainerWaiting",
		"KubePodNotReady", "KubeJobFailed", "CPUThrottlingHigh", "KubeHpaMaxedOut", "KubeStatefulSetDown"}
	var alerts template.Alerts
	for _, n := range names {
		for i := range 6 {
			alerts = append(alerts, alert("firing", template.KV{"alertname": n, "severity": "critical",
				"pod": fmt.Sprintf("checkout-7d9f8c6b5-%05d", i)}, nil))
		}
	}
	data := &template.Data{Status: "firing", Alerts: alerts, CommonLabels: template.KV{"severity": "critical"}}
	got, err := e.RenderSMS(context.Background(), DefaultTemplate, &Data{Data: data}, sms.Budget{MaxSegments: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%q", got.Text)
	shown := 0
	for _, n := range names {
		if strings.Contains(got.Text, n) {
			shown++
		}
	}
	// With every location list at "+6 more", 4 names fit in 160 characters (6 without lists):
	// "FIRING 48 (48 critical) CPUThrottlingHigh +6 more; KubeContainerWaiting +6 more; ..."
	if shown < 4 {
		t.Fatalf("%q (cut: %s) shows %d of %d alertnames; the pods of the first took the room", got.Text, got.Cut, shown, len(names))
	}
}
