// Package notification is what one Alertmanager webhook tells us, shared by
// the layers that handle it: the receiver decodes it, the router, the
// templates and the pager read it. It knows nothing of HTTP or sipgate.
package notification

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/prometheus/alertmanager/template"
)

// Version is the webhook payload version this service understands.
const Version = "4"

// Notification is Alertmanager's webhook payload. It has the JSON shape of
// Alertmanager's notify/webhook.Message, declared here because importing
// that package would drag in Alertmanager's whole notify pipeline; the
// template data is embedded as there, so templates see the same fields.
type Notification struct {
	*template.Data
	Version  string `json:"version"`
	GroupKey string `json:"groupKey"`
	// TruncatedAlerts is how many alerts Alertmanager's max_alerts left out
	// of Alerts.
	TruncatedAlerts uint64 `json:"truncatedAlerts"`

	// ID names this notification on every log line written while it is
	// handled, from the webhook to the SMS. It is ours, not Alertmanager's.
	ID string `json:"-"`
	// Received is when the receiver took the notification: the instant
	// schedules are asked who is on call, so that every alert of it, and
	// every SMS, goes to the same people. Zero for a notification not
	// received over HTTP; the pager then takes the time it pages.
	Received time.Time `json:"-"`
}

// NewID returns a fresh notification id: 16 hex digits, unique enough to
// follow one notification through a day of logs.
func NewID() string {
	var b [8]byte
	// crypto/rand.Read never fails (it panics if the OS cannot give bytes).
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
