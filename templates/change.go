package templates

import (
	"fmt"
	"time"

	"github.com/prometheus/alertmanager/template"
)

// Change is what a recipient is told that is new to them: the pager fills it in from what
// the ledger says their earlier SMS about the group told them. A template that ignores it
// tells the whole group every time, as a template written for Alertmanager would. When all
// of it is empty (a preview, or a config check) the SMS is a first page.
type Change struct {
	// New are the firing alerts of this SMS that the recipient was not paged about before;
	// in a first page, all its firing alerts.
	New template.Alerts
	// StillFiring are the firing alerts of this SMS they were paged about before.
	StillFiring template.Alerts
	// Resolved are the resolved alerts of this SMS: alerts they are told resolved, as the
	// route's send_resolved asks.
	Resolved template.Alerts
	// Repeat is set when nothing changed for the recipient and Alertmanager sends the group
	// again because its repeat_interval elapsed: the SMS reminds them that it still fires.
	Repeat bool
	// FiringSince is when the earliest firing alert of this SMS started firing; zero when
	// none fires.
	FiringSince time.Time
	// Now is when the notification arrived, for how long alerts have fired.
	Now time.Time
	// TimeZone is the config's time_zone (nil means UTC), in which Clock tells times.
	TimeZone *time.Location
}

// FiringAlerts are the firing alerts of .Alerts, as .Alerts.Firing gives them, but .Alerts
// itself when all fire: a storm of thousands of alerts is not copied at every render.
func (d *Data) FiringAlerts() template.Alerts {
	for i, a := range d.Alerts {
		if a.Status != "firing" {
			return append(d.Alerts[:i:i], d.Alerts[i:].Firing()...)
		}
	}
	return d.Alerts
}

// FiringCount is how many alerts of this SMS fire: New and StillFiring.
func (c Change) FiringCount() int {
	return len(c.New) + len(c.StillFiring)
}

// Clock tells t as a person on call reads it, in the config's time_zone with the zone named:
// "12:19 UTC", or "Nov 24 12:19 UTC" when t is a day or more before Now.
func (c Change) Clock(t time.Time) string {
	zone := c.TimeZone
	if zone == nil {
		zone = time.UTC
	}
	if !c.Now.IsZero() && c.Now.Sub(t) >= 24*time.Hour {
		return t.In(zone).Format("Jan 2 15:04 MST")
	}
	return t.In(zone).Format("15:04 MST")
}

// Age is how long before Now t was, short: "45s", "12m", "2h", "2h5m", "3d4h".
func (c Change) Age(t time.Time) string {
	d := c.Now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(int(d/time.Second), 0))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	default:
		days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
		if h == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd%dh", days, h)
	}
}
