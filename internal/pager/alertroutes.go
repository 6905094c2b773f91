package pager

import (
	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/route"
)

// alertRoute is what the routes that brought an alert to a recipient say
// of it, where an SMS of only some of a page's alerts (per_alert mode,
// quiet hours) must not take what the page's other routes say.
type alertRoute struct {
	// route is the first of them (route.Page.Routes): its quiet hours
	// decide whether the alert waits, not those of the route whose
	// template the SMS has.
	route *config.Route
	// bypass is set when one of them bypasses the limits
	// (route.Page.Bypass).
	bypass bool
}

// alertRoutes are the alertRoutes of a notification, keyed by number,
// NUL, alert id; nil when no route has quiet hours or bypasses the
// limits.
type alertRoutes map[string]alertRoute

func (p *Pager) alertRoutes(pages []route.Page) alertRoutes {
	if !p.quiet && !p.bypass {
		return nil
	}
	out := alertRoutes{}
	for _, page := range pages {
		if !p.quiet && !page.BypassLimits {
			continue // nothing to tell apart
		}
		for i, a := range page.Alerts {
			out[page.Recipient.Number+"\x00"+alertID(a)] = alertRoute{route: page.Routes[i], bypass: page.Bypass[i]}
		}
	}
	return out
}

// route is the route that brought the alert with id to number, nil when
// none did.
func (r alertRoutes) route(number, id string) *config.Route {
	return r[number+"\x00"+id].route
}

// add notes the route that paged number of the alert with id, for its
// resolved SMS, which routing no longer sends there (Pager.recipients).
func (r alertRoutes) add(number, id string, rt *config.Route) {
	if r != nil {
		r[number+"\x00"+id] = alertRoute{route: rt, bypass: rt.BypassLimits}
	}
}

// quietRoute is the route whose quiet hours apply to alert a of d: the
// one that brought it to d's recipient, or that paged them of it, else
// d's.
func (d draft) quietRoute(a template.Alert) *config.Route {
	if rt := d.routes.route(d.page.Recipient.Number, alertID(a)); rt != nil {
		return rt
	}
	return d.page.Route
}

// bypassOf reports whether alert a of d bypasses the limits.
func (d draft) bypassOf(a template.Alert) bool {
	if d.routes == nil || !d.page.BypassLimits {
		return d.page.BypassLimits
	}
	return d.routes[d.page.Recipient.Number+"\x00"+alertID(a)].bypass
}

// bypassLimits reports whether d's SMS bypasses the limits: when a route
// that brought one of its alerts to the recipient does. An SMS of the
// alerts of one route (per_alert, say) is not freed by another's bypass.
func (d draft) bypassLimits() bool {
	if d.routes == nil || !d.page.BypassLimits {
		return d.page.BypassLimits
	}
	alerts, _ := d.shown()
	for _, a := range alerts {
		if d.bypassOf(a) {
			return true
		}
	}
	return false
}
