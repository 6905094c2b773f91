package examples_test

import (
	"os"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
)

// largeAlertBytes is a large alert in a webhook's body: one of Kubernetes'
// alerts, many labels and a long description, takes 1.5 to 2.5 KB.
const largeAlertBytes = 4096

// TestAlertmanagerExampleFitsTheBodyLimit holds each webhook of
// alertmanager.yml to a max_alerts that keeps a storm's body under
// config.yml's max_body_bytes: a larger body is answered 413, which
// Alertmanager does not retry, and pages nobody. (The Kubernetes example
// is held to its ConfigMap by TestAlertmanagerReceiverPostsToTheService.)
func TestAlertmanagerExampleFitsTheBodyLimit(t *testing.T) {
	var am struct {
		Receivers []struct {
			Name           string `yaml:"name"`
			WebhookConfigs []struct {
				MaxAlerts int64 `yaml:"max_alerts"`
			} `yaml:"webhook_configs"`
		} `yaml:"receivers"`
	}
	var service struct {
		Webhook struct {
			MaxBodyBytes int64 `yaml:"max_body_bytes"`
		} `yaml:"webhook"`
	}
	readYAML(t, "alertmanager.yml", &am)
	readYAML(t, "config.yml", &service)
	maxBody := service.Webhook.MaxBodyBytes
	if maxBody == 0 {
		maxBody = config.DefaultMaxBodyBytes
	}
	webhooks := 0
	for _, r := range am.Receivers {
		for _, w := range r.WebhookConfigs {
			webhooks++
			if w.MaxAlerts <= 0 || w.MaxAlerts*largeAlertBytes > maxBody {
				t.Errorf("receiver %s: max_alerts %d: want alerts of %d bytes to fit config.yml's max_body_bytes %d", r.Name, w.MaxAlerts, largeAlertBytes, maxBody)
			}
		}
	}
	if webhooks == 0 {
		t.Error("alertmanager.yml: no webhook_configs")
	}
}

func readYAML(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}
