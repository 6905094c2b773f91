package pager

import (
	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/route"
)

// alertBypass says, per recipient and alert, whether a route that brought
// the alert to them bypasses the limits (route.Page.Bypass). Keyed by
// number, NUL, alert id; nil when no route bypasses them.
type alertBypass map[string]bool

func (p *Pager) alertBypass(pages []route.Page) alertBypass {
	if !p.bypass {
		return nil
	}
	out := alertBypass{}
	for _, page := range pages {
		if !page.BypassLimits {
			continue
		}
		for i, a := range page.Alerts {
			if page.Bypass[i] {
				out[page.Recipient.Number+"\x00"+alertID(a)] = true
			}
		}
	}
	return out
}

// add notes that the route that paged number of the alert with id
// bypasses the limits, for its resolved SMS (Pager.recipients).
func (b alertBypass) add(number, id string) {
	if b != nil {
		b[number+"\x00"+id] = true
	}
}

// bypassOf reports whether alert a of d bypasses the limits.
func (d draft) bypassOf(a template.Alert) bool {
	if d.bypass == nil || !d.page.BypassLimits {
		return d.page.BypassLimits
	}
	return d.bypass[d.page.Recipient.Number+"\x00"+alertID(a)]
}

// bypassLimits reports whether d's SMS bypasses the limits: when a route
// that brought one of its alerts to the recipient does. An SMS of the
// alerts of one route (per_alert, say) is not freed by another's bypass.
func (d draft) bypassLimits() bool {
	if d.bypass == nil || !d.page.BypassLimits {
		return d.page.BypassLimits
	}
	for _, a := range d.alerts {
		if d.bypassOf(a) {
			return true
		}
	}
	return false
}
