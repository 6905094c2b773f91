package status

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/account"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/delivery"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/oncall"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/templates"
)

// maxOwed bounds the owed digests listed: one per number, which a storm
// over many routes' numbers could make many.
const maxOwed = 100

// view is what the page template shows.
type view struct {
	Build    Build
	Now      time.Time
	Location *time.Location
	Config   configView
	Account  account.State
	OnCall   oncall.Listing
	// OnCallErr says why OnCall is empty, "" when it is not.
	OnCallErr  string
	Deliveries []delivery.Event
	Owed       []owed
	// OwedMore counts the owed digests beyond maxOwed; OwedErr says why
	// none could be read.
	OwedMore int
	OwedErr  string
	// Preview is nil when the service has no preview; Form the form as
	// posted, nil on a GET.
	Preview bool
	Form    *previewForm
}

// configView is the config summed up: names and counts, no number but
// masked ones, no secret.
type configView struct {
	File      string
	DryRun    bool
	Sipgate   string
	Routes    []routeView
	Unmatched string
	Contacts  int
	Groups    []groupView
	Schedules []string
	Templates []string
	Warnings  []string
}

type routeView struct {
	Name, Receiver, Template, Mode, SendResolved string
	Matchers                                     []string
	To                                           []target
	MaxSegments                                  int
	Encoding                                     string
	BypassLimits, Continue                       bool
}

// target is one to: entry of a route, with its kind: contact, group,
// schedule or number (masked).
type target struct{ Name, Kind string }

type groupView struct {
	Name    string
	Members []string
}

// owed is one owed digest.
type owed struct {
	Contact, Number  string
	Firing, Resolved int
	Names            string
	Since            time.Time
}

func (h *Handler) view(form *previewForm) view {
	cfg := h.o.Config()
	now := h.o.Now()
	v := view{
		Build: h.o.Build, Now: now, Location: cmp.Or(cfg.Location, time.UTC),
		Config: summarize(cfg), Account: h.o.Account(), Deliveries: h.o.Recent.List(),
		Preview: h.o.Preview != nil, Form: form,
	}
	listing, err := oncall.List(cfg, now, "")
	if err != nil {
		v.OnCallErr = err.Error()
	}
	v.OnCall = listing
	v.Owed, v.OwedMore, v.OwedErr = h.owed()
	return v
}

// owed lists the owed digests, longest owed first, at most maxOwed.
func (h *Handler) owed() ([]owed, int, string) {
	pending, err := h.o.Owed()
	if err != nil {
		h.o.Logger.Warn("read owed digests for the status page", "err", err)
		return nil, 0, "the ledger could not be read: see the log"
	}
	list := make([]owed, 0, len(pending))
	for number, s := range pending {
		names := strings.Join(s.Names, ", ")
		if s.MoreNames > 0 {
			names += " +" + strconv.Itoa(s.MoreNames) + " more"
		}
		list = append(list, owed{
			Contact: s.Contact, Number: phone.Mask(number), Firing: s.Alerts, Resolved: s.Resolved,
			Names: names, Since: s.Since,
		})
	}
	slices.SortFunc(list, func(a, b owed) int {
		return cmp.Or(a.Since.Compare(b.Since), strings.Compare(a.Number, b.Number))
	})
	if len(list) > maxOwed {
		return list[:maxOwed], len(list) - maxOwed, ""
	}
	return list, 0, ""
}

// summarize sums up the config for the page.
func summarize(c *config.Config) configView {
	v := configView{
		File: c.File, DryRun: c.Sipgate.DryRun, Sipgate: c.Sipgate.URL,
		Contacts: len(c.Contacts), Schedules: c.ScheduleNames(), Templates: c.MatchedTemplateFiles(),
		Warnings: c.Warnings,
	}
	for _, r := range c.Routes {
		v.Routes = append(v.Routes, route(c, r))
	}
	switch {
	case c.DefaultRoute != "":
		v.Unmatched = "go to route " + c.DefaultRoute
	case c.Unmatched != nil && c.Unmatched.Route != nil:
		v.Unmatched = "are reported and paged to " + strings.Join(targetNames(c, c.Unmatched.To), ", ")
	case c.Unmatched != nil:
		v.Unmatched = "are reported"
	default:
		v.Unmatched = "are logged and counted"
	}
	for _, name := range slices.Sorted(maps.Keys(c.Groups)) {
		v.Groups = append(v.Groups, groupView{Name: name, Members: c.Groups[name]})
	}
	return v
}

func route(c *config.Config, r *config.Route) routeView {
	tmpl := r.Template
	if tmpl == templates.DefaultTemplate {
		tmpl = "" // the built-in text says nothing worth a column
	}
	return routeView{
		Name: r.Name, Receiver: r.Receiver, Template: tmpl, Mode: r.Mode, SendResolved: r.SendResolved,
		Matchers: r.Matchers, To: targets(c, r.To), MaxSegments: r.MaxSegments, Encoding: r.Encoding,
		BypassLimits: r.BypassLimits, Continue: r.Continue,
	}
}

// targets are a route's to: entries with their kinds; a number written
// in the route is masked.
func targets(c *config.Config, to []string) []target {
	out := make([]target, 0, len(to))
	for _, name := range to {
		t := target{Name: name}
		switch {
		case has(c.Contacts, name):
			t.Kind = "contact"
		case has(c.Groups, name):
			t.Kind = "group"
		case has(c.Schedules, name):
			t.Kind = "schedule"
		default:
			t.Name, t.Kind = phone.Mask(name), "number"
		}
		out = append(out, t)
	}
	return out
}

func targetNames(c *config.Config, to []string) []string {
	var out []string
	for _, t := range targets(c, to) {
		out = append(out, t.Name)
	}
	return out
}

func has[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}
