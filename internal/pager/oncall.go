package pager

import (
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/route"
)

// receivedAt is the instant the notification's schedules are resolved at:
// when the receiver took it, or now for one made by hand.
func receivedAt(n *notification.Notification) time.Time {
	if n.Received.IsZero() {
		return time.Now()
	}
	return n.Received
}

// reportFallbacks warns about and counts each schedule that routing paged
// while nobody was on call.
func (p *Pager) reportFallbacks(n *notification.Notification, r route.Result) {
	for _, name := range r.Fallbacks {
		p.metrics.OnCallFallback.WithLabelValues(name).Inc()
		var fallback []string
		if s := p.config.Schedules[name]; s != nil {
			fallback = s.Fallback
		}
		if len(fallback) == 0 {
			p.logger.Warn("nobody on call and the schedule has no fallback: nobody paged through it",
				"notification", n.ID, "schedule", name)
			continue
		}
		p.logger.Warn("nobody on call: paging the schedule's fallback",
			"notification", n.ID, "schedule", name, "fallback", fallback)
	}
}
