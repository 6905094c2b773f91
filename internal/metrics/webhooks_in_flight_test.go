package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRegisterWebhooksInFlight(t *testing.T) {
	reg := prometheus.NewRegistry()
	RegisterWebhooksInFlight(reg, func() int { return 3 }, func() int { return 4000 })
	want := `# HELP alertmanager_sipgate_webhook_alerts_in_flight Alerts kept of the webhook notifications being handled now, in units of the smallest alert: one per alert, more for one of many or long labels, so it can exceed the alerts (bounded by webhook.max_alerts_in_flight).
# TYPE alertmanager_sipgate_webhook_alerts_in_flight gauge
alertmanager_sipgate_webhook_alerts_in_flight 4000
# HELP alertmanager_sipgate_webhooks_in_flight Webhook notifications being handled now, read or paged (bounded by webhook.max_in_flight).
# TYPE alertmanager_sipgate_webhooks_in_flight gauge
alertmanager_sipgate_webhooks_in_flight 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
